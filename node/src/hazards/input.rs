//! 输入校验 — what `POST /api/v1/hazards`, `POST …/events` and the ledger's query accept, checked into
//! domain values. Every refusal names the field (`plan.funds_wan`, `location.division`, `stock`).

use safemesh_doc::hazard::{Enterprise, HazardCore};
use safemesh_model::AdminCode;
use safemesh_model::hazard::facts::{self, Basis, Location, Stock, Subject};
use safemesh_model::hazard::plan::PlanInput;
use safemesh_model::hazard::{self as mh, Channel, EventKind, Grade, Status};
use safemesh_store::{HazardFilter, HazardOrder};
use serde::Deserialize;
use time::Date;
use utoipa::{IntoParams, ToSchema};

use super::HazardSettings;
use crate::enterprises::EnterpriseRef;
use crate::records::{Paging, RecordError, bounded, required};

/// Input of `POST /api/v1/hazards`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewHazard {
    /// 编号; assigned by the node when absent.
    pub number: Option<String>,
    pub title: Option<String>,
    pub sector: Option<String>,
    pub grade: Option<String>,
    pub channel: Option<String>,
    /// 检查方式: required for 督导检查发现, refused for 企业自查上报.
    pub inspection_mode: Option<String>,
    /// 发现层级: a code or a level at or above this office; defaults to this office.
    pub found_by_level: Option<String>,
    /// 发现日期; defaults to today.
    pub found_on: Option<String>,
    /// 存量/增量; derived from `found_on` and the node's cut-off when absent.
    pub stock: Option<String>,
    /// 隐患所在: `enterprise` (default), `road`, `self_built_house`, `public_place`, `other` (or
    /// 生产经营单位, 道路, 自建房, 公共场所, 其他). Anything but an enterprise needs no enterprise, and
    /// needs a responsible unit and an address instead.
    pub subject: Option<String>,
    /// 责任单位: required when the hazard has no enterprise.
    pub responsible_unit: Option<String>,
    pub enterprise: Option<EnterpriseRef>,
    pub location: Option<NewLocation>,
    /// 判定依据: required (standard and clause) for a major hazard.
    pub basis: Option<NewBasis>,
    pub deadline: Option<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewLocation {
    pub division: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewBasis {
    pub standard: Option<String>,
    pub clause: Option<String>,
}

/// Input of `POST /api/v1/hazards/{id}/events`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct NewEvent {
    pub kind: Option<String>,
    pub note: Option<String>,
    /// `escalate`: 函告|通报|约谈|曝光; `notify`: how the recipients were told.
    pub method: Option<String>,
    pub percent: Option<i64>,
    /// `plan`: the 五落实 `{responsible_unit, responsible_person, measures, funds_wan, deadline,
    /// contingency_plan}`.
    #[schema(value_type = Option<Object>)]
    pub plan: Option<PlanInput>,
    /// `notify`: the posts told — 法定代表人, 主要负责人, 实际控制人, 实际负责人 (four posts, each on its
    /// own; a major hazard needs 主要负责人 and 实际控制人).
    pub recipients: Option<Vec<String>>,
    /// `notify`: the names of the people told, by post (`{"主要负责人": "王某"}`); each post one of
    /// `recipients`.
    pub recipient_names: Option<std::collections::BTreeMap<String, String>>,
    /// `escalate`: the reply deadline.
    pub reply_by: Option<String>,
    /// `extend_request`: the deadline asked for (`YYYY-MM-DD`, after the deadline in force).
    pub new_deadline: Option<String>,
    /// `extend_decision`: 同意 (`true`) or 不同意 (`false`, with the reason in `note`).
    pub approved: Option<bool>,
    /// `reply`: the escalating office whose escalation (by `method`) this written reply answers.
    pub to: Option<String>,
    /// `supervise`: 督办编号, e.g. 昆安办督〔2026〕3号 (required).
    pub number: Option<String>,
    /// `supervise`: 督办要求 (required).
    pub requirements: Option<String>,
    /// `supervise`: 督办期限 `YYYY-MM-DD` (optional; not in the past).
    pub due: Option<String>,
    /// 佐证材料 — files uploaded first (`POST /api/v1/files`), by their SHA-256, that this event
    /// carries (整改前/整改后照片, 验收单); written with the event, never replaced.
    pub attachments: Option<Vec<crate::evidence::AttachmentInput>>,
}

fn opt_text(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A hazard's registration facts, checked; `number` is left for the caller when not given.
pub(crate) fn core(
    s: &HazardSettings,
    chain: &safemesh_model::Chain,
    today: Date,
    input: NewHazard,
) -> Result<(HazardCore, Option<String>), RecordError> {
    let owner = &chain.code;
    let title = required("title", input.title)?;
    bounded("title", &title, 200)?;
    bounded("description", &input.description, 5000)?;
    let entered = required("sector", input.sector)?;
    let sector = s.sectors.canonical(&entered)?;
    // The form reports 尾矿库 and 城市建设 on rows of their own: keep the finer name.
    let sector_detail = safemesh_model::period::form::sub_row(&entered).map(str::to_string);
    let grade = Grade::parse(&required("grade", input.grade)?)?;
    let channel = Channel::parse(&required("channel", input.channel)?)?;
    let inspection_mode = match (channel, opt_text(input.inspection_mode)) {
        (Channel::EnterpriseSelfReport, Some(_)) => {
            return Err(RecordError::bad(
                "inspection_mode",
                "企业自查上报的隐患不填检查方式 / a self-reported hazard has no inspection mode",
            ));
        }
        (Channel::Inspection, None) => {
            return Err(RecordError::bad(
                "inspection_mode",
                format!(
                    "督导检查发现的隐患须注明检查方式，可选: {} / inspection_mode is required for an inspection finding",
                    facts::inspection_modes().join("、")
                ),
            ));
        }
        (_, Some(m)) => Some(facts::inspection_mode(&m)?.to_string()),
        (_, None) => None,
    };
    let found_by_level = match opt_text(input.found_by_level) {
        Some(f) => facts::found_by_level(chain, &f)?,
        None => owner.clone(),
    };
    let found_on = match opt_text(input.found_on) {
        Some(f) => mh::parse_date("found_on", &f)?,
        None => today,
    };
    if found_on > today {
        return Err(RecordError::bad(
            "found_on",
            "发现日期不能晚于今天 / found_on is in the future",
        ));
    }
    let stock = match opt_text(input.stock) {
        Some(v) => Stock::parse_as("stock", &v)?,
        None => Stock::derive(found_on, s.stock_cutoff),
    };
    let deadline_s = required("deadline", input.deadline)?;
    let deadline = mh::parse_date("deadline", &deadline_s)?;
    if deadline < found_on {
        return Err(RecordError::bad(
            "deadline",
            "整改期限不能早于发现日期 / deadline is before found_on",
        ));
    }
    let subject = match opt_text(input.subject) {
        Some(v) => Subject::parse_as("subject", &v)?,
        None => Subject::Enterprise,
    };
    let responsible_unit = opt_text(input.responsible_unit).unwrap_or_default();
    bounded("responsible_unit", &responsible_unit, 200)?;
    if !subject.is_enterprise() && responsible_unit.is_empty() {
        return Err(RecordError::bad(
            "responsible_unit",
            format!(
                "{}的隐患没有企业，须写明责任单位（如 县交通运输局、某村委会、房屋产权人） / responsible_unit is required for a hazard without an enterprise",
                subject.label_zh()
            ),
        ));
    }
    let ent = match input.enterprise {
        Some(e) => e,
        None if !subject.is_enterprise() => EnterpriseRef {
            name: None,
            credit_code: None,
            credit_code_override: None,
        },
        None => {
            return Err(RecordError::bad(
                "enterprise",
                "enterprise 必填（道路、自建房、公共场所等没有企业的隐患，请选择隐患所在并写明责任单位） / enterprise is required (for a hazard without one, give subject and responsible_unit)",
            ));
        }
    };
    let (credit_code, credit_code_override) =
        match opt_text(ent.credit_code).map(|c| c.to_uppercase()) {
            Some(c) => {
                let flag = crate::enterprises::credit_code(
                    "enterprise.credit_code",
                    &c,
                    ent.credit_code_override.as_deref(),
                )?;
                (c, flag)
            }
            None => (String::new(), None),
        };
    let name = opt_text(ent.name).unwrap_or_default();
    bounded("enterprise.name", &name, 200)?;
    let loc = input.location.unwrap_or_default();
    let division = match opt_text(loc.division) {
        Some(d) => facts::location_division(owner, &d)?,
        None => owner.to_string(),
    };
    let address = opt_text(loc.address).unwrap_or_default();
    bounded("location.address", &address, 200)?;
    if !subject.is_enterprise() && address.is_empty() {
        return Err(RecordError::bad(
            "location.address",
            format!(
                "{}的隐患须写明地点（路段、门牌、场所名称） / location.address is required for a hazard without an enterprise",
                subject.label_zh()
            ),
        ));
    }
    let basis = input.basis.unwrap_or_default();
    let basis = Basis {
        standard: opt_text(basis.standard).unwrap_or_default(),
        clause: opt_text(basis.clause).unwrap_or_default(),
    };
    bounded("basis.standard", &basis.standard, 200)?;
    bounded("basis.clause", &basis.clause, 200)?;
    if grade == Grade::Major {
        for (field, v) in [
            ("basis.standard", &basis.standard),
            ("basis.clause", &basis.clause),
        ] {
            if v.is_empty() {
                return Err(RecordError::bad(
                    field,
                    format!(
                        "重大事故隐患须写明判定依据（标准和条款） / {field} is required for a major hazard"
                    ),
                ));
            }
        }
    }
    let number = match opt_text(input.number) {
        Some(n) => {
            facts::parse_number(owner, &n)?;
            Some(n)
        }
        None => None,
    };
    Ok((
        HazardCore {
            number: String::new(),
            title,
            sector,
            sector_detail,
            grade,
            channel,
            inspection_mode,
            found_by_level,
            found_on: mh::format_date(found_on),
            stock,
            subject,
            responsible_unit,
            enterprise: Enterprise {
                name,
                credit_code,
                credit_code_override,
            },
            location: Location { division, address },
            basis,
            deadline: mh::format_date(deadline),
            description: input.description,
        },
        number,
    ))
}

/// Refuses a parameter the event's kind does not take.
fn only_for(
    kind: EventKind,
    wanted: EventKind,
    field: &str,
    present: bool,
) -> Result<(), RecordError> {
    if present && kind != wanted {
        return Err(RecordError::bad(
            field,
            format!(
                "该参数只用于“{}”事件 / {field} belongs to {} events only",
                wanted.label_zh(),
                wanted.as_str()
            ),
        ));
    }
    Ok(())
}

/// Checks an event's parameters against its kind, returning the event's values (kind-independent
/// fields are set by the caller).
pub(crate) fn event(
    view: &safemesh_doc::hazard::HazardView,
    today: Date,
    input: NewEvent,
) -> Result<mh::HazardEvent, RecordError> {
    let kind = EventKind::parse(&required("kind", input.kind)?)?;
    if kind == EventKind::Registered {
        return Err(RecordError::bad(
            "kind",
            "登记事件由登记隐患时自动产生 / registered is recorded on creation",
        ));
    }
    let note = opt_text(input.note);
    if let Some(n) = &note {
        bounded("note", n, 5000)?;
    }
    only_for(kind, EventKind::Plan, "plan", input.plan.is_some())?;
    only_for(
        kind,
        EventKind::Notify,
        "recipients",
        input.recipients.is_some(),
    )?;
    only_for(
        kind,
        EventKind::Notify,
        "recipient_names",
        input.recipient_names.is_some(),
    )?;
    only_for(
        kind,
        EventKind::Escalate,
        "reply_by",
        input.reply_by.is_some(),
    )?;
    only_for(
        kind,
        EventKind::Progress,
        "percent",
        input.percent.is_some(),
    )?;
    only_for(
        kind,
        EventKind::ExtendRequest,
        "new_deadline",
        input.new_deadline.is_some(),
    )?;
    only_for(
        kind,
        EventKind::ExtendDecision,
        "approved",
        input.approved.is_some(),
    )?;
    only_for(kind, EventKind::Reply, "to", input.to.is_some())?;
    only_for(kind, EventKind::Supervise, "number", input.number.is_some())?;
    only_for(
        kind,
        EventKind::Supervise,
        "requirements",
        input.requirements.is_some(),
    )?;
    only_for(kind, EventKind::Supervise, "due", input.due.is_some())?;
    let mut e = mh::HazardEvent::new(kind, view.owner.clone(), String::new());
    e.note = note;
    e.percent = match input.percent {
        None => None,
        Some(p) if (0..=100).contains(&p) => Some(p as u8),
        Some(_) => {
            return Err(RecordError::bad(
                "percent",
                "应在 0 到 100 之间 / must be between 0 and 100",
            ));
        }
    };
    let method = opt_text(input.method);
    match kind {
        EventKind::Plan => {
            let p = input.plan.ok_or_else(|| {
                RecordError::bad(
                    "plan",
                    "整改方案须写明五落实：责任单位、责任人、措施、资金、时限、预案 / plan is required",
                )
            })?;
            let found_on = mh::parse_date("found_on", &view.core.found_on).unwrap_or(today);
            // A plan's 时限 lies within the registered deadline, or within an approved extension.
            let granted = view
                .derived()
                .extended_deadline
                .unwrap_or_else(|| view.core.deadline.clone());
            let registered = mh::parse_date("deadline", &granted)?;
            e.plan = Some(p.validate(view.core.grade, found_on, registered)?);
        }
        EventKind::Notify => {
            e.recipients = mh::notify::recipients(&input.recipients.unwrap_or_default())?;
            e.recipient_names =
                mh::notify::names(&e.recipients, &input.recipient_names.unwrap_or_default())?;
            let m = method.ok_or_else(|| {
                RecordError::bad(
                    "method",
                    "须写明告知方式（如 书面告知、当面告知） / method (how they were told) is required",
                )
            })?;
            bounded("method", &m, 50)?;
            e.method = Some(m);
        }
        EventKind::Escalate => {
            let m = method.unwrap_or_default();
            if !mh::ESCALATION_METHODS.contains(&m.as_str()) {
                return Err(RecordError::bad(
                    "method",
                    "督办升级方式应为 函告、通报、约谈 或 曝光 / method must be one of 函告 通报 约谈 曝光",
                ));
            }
            let r = required("reply_by", input.reply_by)?;
            let reply_by = mh::parse_date("reply_by", &r)?;
            if reply_by < today {
                return Err(RecordError::bad(
                    "reply_by",
                    "回复期限不能早于今天 / reply_by is in the past",
                ));
            }
            e.method = Some(m);
            e.reply_by = Some(mh::format_date(reply_by));
        }
        EventKind::ExtendRequest => {
            if e.note.is_none() {
                return Err(RecordError::bad(
                    "note",
                    "申请延期须写明理由 / note (the reason for the extension) is required",
                ));
            }
            let d = mh::parse_date(
                "new_deadline",
                &required("new_deadline", input.new_deadline)?,
            )?;
            let current = view.effective_deadline(&view.derived());
            if let Ok(cur) = mh::parse_date("deadline", &current)
                && d <= cur
            {
                return Err(RecordError::bad(
                    "new_deadline",
                    format!(
                        "新的整改期限须晚于现行整改期限 {current} / new_deadline must be after the deadline in force {current}"
                    ),
                ));
            }
            if d < today {
                return Err(RecordError::bad(
                    "new_deadline",
                    "新的整改期限不能早于今天 / new_deadline is in the past",
                ));
            }
            e.new_deadline = Some(mh::format_date(d));
        }
        EventKind::Supervise => {
            e.number = opt_text(input.number);
            e.requirements = opt_text(input.requirements);
            e.due = opt_text(input.due);
            mh::supervision::validate_listing(&e)?;
            if let Some(d) = &e.due
                && mh::parse_date("due", d)? < today
            {
                return Err(RecordError::bad(
                    "due",
                    "督办期限不能早于今天 / due is in the past",
                ));
            }
        }
        EventKind::ExtendDecision => {
            let approved = input.approved.ok_or_else(|| {
                RecordError::bad(
                    "approved",
                    "须写明同意（true）或不同意（false） / approved (true or false) is required",
                )
            })?;
            if !approved && e.note.is_none() {
                return Err(RecordError::bad(
                    "note",
                    "不同意延期须写明理由 / a refusal needs its reason in note",
                ));
            }
            e.approved = Some(approved);
        }
        EventKind::Reply => {
            let to = required("to", input.to)?;
            let to =
                AdminCode::parse(&to).map_err(|err| RecordError::bad("to", err.to_string()))?;
            let m = method.unwrap_or_default();
            if !mh::ESCALATION_METHODS.contains(&m.as_str()) {
                return Err(RecordError::bad(
                    "method",
                    "须写明回复的是哪种督办：函告、通报、约谈 或 曝光 / method must be the escalation's: 函告 通报 约谈 曝光",
                ));
            }
            if e.note.is_none() {
                return Err(RecordError::bad(
                    "note",
                    "书面回复须写明回复内容 / note (the reply) is required",
                ));
            }
            e.to = Some(to);
            e.method = Some(m);
        }
        _ => {
            if method.is_some() {
                return Err(RecordError::bad(
                    "method",
                    "方式只用于“督办升级”“告知”和“书面回复”事件 / method belongs to escalate, notify and reply events",
                ));
            }
        }
    }
    Ok(e)
}

/// The ledger's query string. Every parameter is optional; an empty value does not filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HazardQuery {
    /// `general` | `major` (also 一般, 重大).
    pub grade: Option<String>,
    /// `open` | `rectifying` | `pending_acceptance` | `closed`.
    pub status: Option<String>,
    /// A code: exactly this owner.
    pub owner: Option<String>,
    /// A sector name or alias.
    pub sector: Option<String>,
    /// A channel code or its Chinese name.
    pub channel: Option<String>,
    /// `stock` | `new` (also 存量, 增量).
    pub stock: Option<String>,
    /// 隐患所在: `enterprise` | `road` | `self_built_house` | `public_place` | `other` (or the Chinese
    /// names).
    pub subject: Option<String>,
    /// `true` | `false`: overdue as of today (UTC+8).
    #[param(value_type = Option<bool>)]
    pub overdue: Option<String>,
    /// `true` | `false`: listed for 挂牌督办.
    #[param(value_type = Option<bool>)]
    pub supervised: Option<String>,
    /// `true` | `false`: 临期 — not closed and due from today to today + the node's
    /// `hazards.due_soon_days` (default 3), China time.
    #[param(value_type = Option<bool>)]
    pub due_soon: Option<String>,
    /// Text in the title or the number.
    pub q: Option<String>,
    /// Only hazards of offices within this code (the office and its subtree).
    pub within: Option<String>,
    /// Found on or after (`YYYY-MM-DD`).
    pub found_from: Option<String>,
    /// Found on or before (`YYYY-MM-DD`).
    pub found_to: Option<String>,
    /// An enterprise: its credit code, or a piece of its name.
    pub enterprise: Option<String>,
    /// `new` (newest first, the default), `overdue` (overdue first), `deadline`, `found`.
    pub sort: Option<String>,
    /// Rows per page: default [`crate::records::DEFAULT_LIMIT`] (50), at most
    /// [`crate::records::MAX_LIMIT`] (500).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Rows to skip, 0–[`crate::records::MAX_OFFSET`] (1,000,000,000); default 0.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1_000_000_000)]
    pub offset: Option<String>,
}

fn flag(param: &str, v: &str) -> Result<bool, RecordError> {
    match v {
        "true" | "1" | "是" => Ok(true),
        "false" | "0" | "否" => Ok(false),
        _ => Err(RecordError::bad(
            param,
            format!("{param} 应为 true 或 false / {param} must be true or false"),
        )),
    }
}

/// Filters accept what the inputs accept (重大, 燃气, 督导检查发现, 存量) and compare canonical values.
pub(crate) fn filter(
    s: &HazardSettings,
    today: Date,
    q: HazardQuery,
) -> Result<HazardFilter, RecordError> {
    let mut f = HazardFilter::default();
    if let Some(g) = opt_text(q.grade) {
        f.grade = Some(Grade::parse(&g)?.as_str().to_string());
    }
    if let Some(v) = opt_text(q.status) {
        f.status = Some(Status::parse(&v)?.as_str().to_string());
    }
    if let Some(o) = opt_text(q.owner) {
        let code = AdminCode::parse(&o).map_err(|e| RecordError::bad("owner", e.to_string()))?;
        f.owner = Some(code.to_string());
    }
    if let Some(v) = opt_text(q.sector) {
        f.sector = Some(s.sectors.canonical(&v)?);
    }
    if let Some(v) = opt_text(q.channel) {
        f.channel = Some(Channel::parse(&v)?.as_str().to_string());
    }
    if let Some(v) = opt_text(q.stock) {
        f.stock = Some(Stock::parse_as("stock", &v)?.as_str().to_string());
    }
    if let Some(v) = opt_text(q.subject) {
        f.subject = Some(Subject::parse_as("subject", &v)?.as_str().to_string());
    }
    if let Some(v) = opt_text(q.overdue) {
        f.overdue = Some(flag("overdue", &v)?);
        f.today = Some(mh::format_date(today));
    }
    if let Some(v) = opt_text(q.supervised) {
        f.supervised = Some(flag("supervised", &v)?);
    }
    if let Some(v) = opt_text(q.due_soon) {
        f.due_soon = Some(flag("due_soon", &v)?);
        f.today = Some(mh::format_date(today));
        f.due_soon_until = Some(mh::format_date(mh::due_soon_until(today, s.due_soon_days)));
    }
    if let Some(v) = opt_text(q.q) {
        bounded("q", &v, 100)?;
        f.q = Some(v);
    }
    if let Some(w) = opt_text(q.within) {
        let code = AdminCode::parse(&w).map_err(|e| RecordError::bad("within", e.to_string()))?;
        f.within = Some(code.to_string());
    }
    for (field, v, slot) in [
        ("found_from", q.found_from, &mut f.found_from),
        ("found_to", q.found_to, &mut f.found_to),
    ] {
        if let Some(d) = opt_text(v) {
            *slot = Some(mh::format_date(mh::parse_date(field, &d)?));
        }
    }
    if let Some(e) = opt_text(q.enterprise) {
        bounded("enterprise", &e, 100)?;
        // A credit code is matched exactly (upper case); anything else as a piece of the name.
        let is_code = e.len() == 18 && e.chars().all(|c| c.is_ascii_alphanumeric());
        f.enterprise = Some(if is_code { e.to_uppercase() } else { e });
    }
    Ok(f)
}

/// A whole ledger query: the filter, the order, the page size and the rows to skip.
pub(crate) fn ledger_query(
    s: &HazardSettings,
    today: Date,
    mut q: HazardQuery,
) -> Result<(HazardFilter, HazardOrder, u32, u64), RecordError> {
    let order = match opt_text(q.sort.take()).as_deref() {
        None | Some("new") => HazardOrder::Newest,
        Some("overdue") => HazardOrder::OverdueFirst,
        Some("deadline") => HazardOrder::Deadline,
        Some("found") => HazardOrder::Found,
        Some(other) => {
            return Err(RecordError::bad(
                "sort",
                format!(
                    "排序方式应为 最新登记、逾期优先、整改期限 或 发现日期 / sort must be new, overdue, deadline or found, got {other:?}"
                ),
            ));
        }
    };
    let paging = Paging::parse(q.limit.take().as_deref(), q.offset.take().as_deref())?;
    let mut f = filter(s, today, q)?;
    if order == HazardOrder::OverdueFirst && f.today.is_none() {
        f.today = Some(mh::format_date(today));
    }
    Ok((f, order, paging.limit, paging.offset))
}
