//! 任务输入 — the input of issuing, forwarding and answering a directive, recording its event date and
//! filtering the list, validated with the field path named (`assignments[2].unit`,
//! `deadline.milestones[0].date`): units resolved at this node, the deadline's kind, the reporting
//! cadence. The rules are `safemesh_model::directive`'s.

use std::collections::BTreeMap;

use safemesh_doc::directive::{DirectiveCore, DirectiveDetails};
use safemesh_model::AdminCode;
use safemesh_model::directive::{Assignment, Cadence, Deadline, Group, Unit, UnitRole};
use safemesh_model::hazard::format_date;
use serde::Deserialize;
use serde_json::Value;

use crate::records::{RecordError, bounded, required};

/// What group references resolve to at this node.
#[derive(Debug, Clone, Copy)]
pub struct Here<'a> {
    /// Codes accepted as direct children besides the code's own (config `extra_children`).
    pub extra_children: &'a [AdminCode],
    /// Department groups (config `unit_groups`).
    pub unit_groups: &'a BTreeMap<String, Vec<String>>,
}

/// Input of `POST /api/v1/directives`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewDirective {
    pub title: Option<String>,
    #[serde(default)]
    pub body: String,
    /// 文号
    pub doc_number: Option<String>,
    /// 来源文件
    pub source_document: Option<String>,
    /// 类别
    pub category: Option<String>,
    /// Shorthand: node codes, each a 责任 (responsible) unit.
    pub targets: Option<Vec<String>>,
    /// 分工: `[{role, unit}]`.
    pub assignments: Option<Vec<NewAssignment>>,
    /// 完成时限: `"YYYY-MM-DD"` or `{kind: date|milestones|after_event|ongoing, …}`.
    pub deadline: Option<Value>,
    /// 报送周期: `{every: monthly|quarterly|half_yearly|yearly, day?, month?}`.
    pub reporting: Option<Value>,
    /// 紧急通知: reaches every node below this one.
    #[serde(default)]
    pub cascade: bool,
}

/// One assignment as given.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewAssignment {
    pub role: Option<String>,
    pub unit: Option<String>,
}

fn optional(field: &str, v: Option<String>, max: usize) -> Result<String, RecordError> {
    let s = v.map(|s| s.trim().to_string()).unwrap_or_default();
    bounded(field, &s, max)?;
    Ok(s)
}

/// Parses and validates the deadline: a date string, or one of the four kinds.
pub fn parse_deadline(v: Value) -> Result<Deadline, RecordError> {
    let d = match v {
        Value::String(s) => Deadline::Date { date: s.trim().to_string() },
        v @ Value::Object(_) => serde_json::from_value(v).map_err(|e| {
            RecordError::bad(
                "deadline",
                format!("完成时限应为日期，或 指定日期、分阶段节点、事件发生后若干天、长期 之一的对象 / deadline must be a date or an object of kind date, milestones, after_event or ongoing: {e}"),
            )
        })?,
        _ => {
            return Err(RecordError::bad(
                "deadline",
                "完成时限应为日期或对象 / deadline must be a date or an object",
            ));
        }
    };
    d.validate("deadline")?;
    Ok(d)
}

fn parse_cadence(v: Value) -> Result<Cadence, RecordError> {
    let c: Cadence = serde_json::from_value(v).map_err(|e| {
        RecordError::bad(
            "reporting",
            format!("报送周期应为 每月、每季度、每半年 或 每年（可指定日、月） / reporting must be {{every, day?, month?}}: {e}"),
        )
    })?;
    c.validate("reporting")?;
    Ok(c)
}

/// Resolves the assignments at this node: node codes become targets (direct children, or any node
/// below for a cascade notice), groups resolve here, departments stand for themselves.
fn resolve(
    me: &AdminCode,
    here: Here<'_>,
    cascade: bool,
    given: Vec<(String, Option<String>, Option<String>)>,
) -> Result<(Vec<AdminCode>, Vec<Assignment>), RecordError> {
    if given.len() > 200 {
        return Err(RecordError::bad(
            "assignments",
            "分工不能超过 200 项 / at most 200 assignments",
        ));
    }
    let mut targets: Vec<AdminCode> = Vec::new();
    let mut out: Vec<Assignment> = Vec::new();
    for (field, role, unit) in given {
        let role = UnitRole::parse(
            &format!("{field}.role"),
            &required(&format!("{field}.role"), role)?,
        )?;
        let ufield = format!("{field}.unit");
        let unit = Unit::parse(&ufield, unit.as_deref().unwrap_or(""))?;
        let mut resolved = Vec::new();
        match &unit {
            Unit::Node(code) => {
                let ok = if cascade {
                    me.is_ancestor_of(code) || here.extra_children.contains(code)
                } else {
                    code.is_direct_child_of(me) || here.extra_children.contains(code)
                };
                if !ok {
                    let why = if cascade {
                        "不在本级辖区内"
                    } else {
                        "不是本级的直接下级"
                    };
                    let en = if cascade {
                        "is not below"
                    } else {
                        "is not a direct child of"
                    };
                    return Err(RecordError::bad(
                        &ufield,
                        format!("{code} {why} / {code} {en} {me}"),
                    ));
                }
                if !targets.contains(code) {
                    targets.push(code.clone());
                }
            }
            Unit::Department(_) => {}
            Unit::Group(g) => {
                let r = g.resolve(me, here.extra_children, here.unit_groups);
                if *g == Group::Children && r.nodes.is_empty() {
                    return Err(RecordError::bad(
                        &ufield,
                        format!("本级（{me}）没有下级节点 / {me} has no child nodes"),
                    ));
                }
                for n in r.nodes {
                    if !targets.contains(&n) {
                        targets.push(n.clone());
                    }
                    resolved.push(n.to_string());
                }
                resolved.extend(r.departments);
            }
        }
        let name = unit.name();
        if out.iter().any(|a| a.unit == name && a.role == role) {
            return Err(RecordError::bad(
                &ufield,
                format!("重复的分工：{name} / duplicate assignment of {name}"),
            ));
        }
        out.push(Assignment {
            role,
            unit: name,
            kind: unit.kind(),
            resolved,
        });
    }
    Ok((targets, out))
}

/// Validated fields of a new directive (issued or forwarded).
pub(crate) struct Draft {
    pub(crate) core: DirectiveCore,
    pub(crate) details: DirectiveDetails,
}

pub(crate) fn draft(
    me: &AdminCode,
    here: Here<'_>,
    input: NewDirective,
) -> Result<Draft, RecordError> {
    let title = required("title", input.title)?;
    bounded("title", &title, 200)?;
    bounded("body", &input.body, 20000)?;
    let doc_number = optional("doc_number", input.doc_number, 60)?;
    let source_document = optional("source_document", input.source_document, 300)?;
    let category = optional("category", input.category, 60)?;
    let deadline =
        parse_deadline(input.deadline.ok_or_else(|| {
            RecordError::bad("deadline", "deadline 必填 / deadline is required")
        })?)?;
    let reporting = input
        .reporting
        .filter(|v| !v.is_null())
        .map(parse_cadence)
        .transpose()?;
    if matches!(deadline, Deadline::Ongoing { .. }) && reporting.is_none() {
        return Err(RecordError::bad(
            "reporting",
            "常态化任务须给出报送周期 / an ongoing directive needs a reporting cadence",
        ));
    }
    let mut given = Vec::new();
    for (i, t) in input.targets.unwrap_or_default().into_iter().enumerate() {
        given.push((
            format!("targets[{i}]"),
            Some("responsible".to_string()),
            Some(t),
        ));
    }
    for (i, a) in input
        .assignments
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        given.push((format!("assignments[{i}]"), a.role, a.unit));
    }
    if given.is_empty() && !input.cascade {
        return Err(RecordError::bad(
            "assignments",
            "至少一个承办单位 / at least one unit (assignments or targets) is required",
        ));
    }
    // Errors of the `targets` shorthand name the entry itself.
    let (targets, assignments) = resolve(me, here, input.cascade, given).map_err(|mut e| {
        if let Some(f) = &e.field
            && f.starts_with("targets[")
        {
            e.field = Some(f.trim_end_matches(".unit").to_string());
        }
        e
    })?;
    Ok(Draft {
        core: DirectiveCore {
            title,
            body: input.body,
            targets,
            deadline: deadline.final_day().map(format_date).unwrap_or_default(),
        },
        details: DirectiveDetails {
            doc_number,
            source_document,
            category,
            assignments,
            deadline_spec: Some(deadline),
            reporting,
            cascade: input.cascade,
            parent: None,
            review: true,
        },
    })
}

/// Input of `POST /api/v1/directives/{id}/responses`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewResponse {
    pub action: Option<String>,
    pub percent: Option<i64>,
    pub note: Option<String>,
    /// The milestone this report meets (its label).
    pub milestone: Option<String>,
    /// A department of the issuer's (the issuer records its progress); absent: this node's own.
    pub unit: Option<String>,
    /// 报送材料 — files uploaded first (`POST /api/v1/files`), by their SHA-256, that this update
    /// carries (a plan, a summary report); written with it, never replaced.
    pub attachments: Option<Vec<crate::evidence::AttachmentInput>>,
}

/// Input of `POST /api/v1/directives/{id}/reviews` — 审核: the issuer approves (审核通过) or returns
/// (退回, with a reason) a unit's completion.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewReview {
    /// The unit: a target node's code or a department's name.
    pub unit: Option<String>,
    /// `approve` (审核通过) or `return` (退回).
    pub decision: Option<String>,
    /// 退回原因 — required for a return (at most 1000 characters).
    pub reason: Option<String>,
}

/// Input of `POST /api/v1/directives/{id}/reminders` — 催办: the issuer reminds the units named.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NewReminder {
    /// The units reminded: target nodes' codes or departments' names (at least one).
    pub units: Option<Vec<String>>,
    /// 催办要求 — required, at most 1000 characters.
    pub note: Option<String>,
}

/// Input of `POST /api/v1/directives/{id}/event`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewEventDate {
    pub event_date: Option<String>,
}

pub(crate) fn percent(p: Option<i64>) -> Result<Option<u8>, RecordError> {
    match p {
        None => Ok(None),
        Some(p) if (0..=100).contains(&p) => Ok(Some(p as u8)),
        Some(_) => Err(RecordError::bad(
            "percent",
            "应在 0 到 100 之间 / must be between 0 and 100",
        )),
    }
}

/// Filters of `GET /directives`. Empty fields do not filter.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFilter {
    /// Issued by this office.
    pub issuer: Option<String>,
    /// Sent to this node (a target node).
    pub target: Option<String>,
    /// 类别, exactly.
    pub category: Option<String>,
    /// Only directives with at least one overdue unit (`true`) or none (`false`).
    pub overdue: Option<bool>,
    /// 临期: only directives with at least one unit due within the node's `hazards.due_soon_days`
    /// (`true`) or none (`false`); with `target`, that target's own unit.
    pub due_soon: Option<bool>,
}
