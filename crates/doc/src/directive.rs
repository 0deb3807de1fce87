//! 任务文档 — the directive document: `header`, `core` (the issuer's), `responses[code]` (each target
//! node's own), `unit_responses[name]` (the issuer's record of its named departments).
//!
//! `core` holds the title, body, 文号, category, the role-typed assignments and what they resolved to, the
//! deadline (`deadline`: the final day as text, for readers of schema 1; `deadline_spec`: the kind), the
//! reporting cadence, `cascade` (紧急通知: the whole subtree) and `parent` (a forwarded directive's link
//! to the one it came from). `targets`, `assignments`, `cascade` and `parent` are fixed at issue.

use std::collections::BTreeMap;

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable};
use safemesh_model::AdminCode;
use safemesh_model::directive::{
    Assignment, Cadence, Deadline, Reminder, Response, ResponseAction, ResponseUpdate, Review,
};
use serde::{Deserialize, Serialize};

mod authority;
mod state;

pub use authority::Responders;
pub use state::TargetState;

use crate::authority::op::{OpCheck, Seg};
use crate::json::{append_json, get_typed, json, put_json, typed_items};
use crate::kind::RecordKind;
use crate::read::tree;
use crate::{Audience, Error, Header, Kind, SCHEMA_VERSION, read};

/// 任务 — the directive kind. Its targets, assignments, cascade flag and parent link are fixed at
/// issue; only the issuer writes it, but for each target's own response.
pub struct Directives;

impl RecordKind for Directives {
    const KIND: Kind = Kind::Directive;
    const NAME: &'static str = "directive";
    const OWNER_RULE: &'static str = "issuer_only";
    type View = DirectiveView;
    type Facts = Responders;

    fn read(doc: &AutoCommit) -> Result<DirectiveView, Error> {
        read(doc)
    }

    fn audience(header: &Header, view: &DirectiveView) -> Audience {
        audience_of(&header.chain(), &view.core.targets, &view.details)
    }

    fn facts(doc: &AutoCommit, _: &Header) -> Result<Responders, Error> {
        authority::responders(doc)
    }

    fn fixed(path: &[Seg]) -> bool {
        matches!((path.first(), path.get(1)), (Some(Seg::Key(a)), Some(Seg::Key(b)))
            if a == "core" && authority::FIXED.contains(&b.as_str()))
    }

    fn check_op(responders: &Responders, op: &OpCheck<'_>) -> Result<(), Error> {
        authority::check_op(responders, op)
    }
}

/// The issuer's fields of a directive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectiveCore {
    pub title: String,
    pub body: String,
    /// Direct children the directive is sent to.
    pub targets: Vec<AdminCode>,
    /// `YYYY-MM-DD` 完成时限.
    pub deadline: String,
}

/// The issuer's further fields of a directive (schema 1 documents have none of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectiveDetails {
    /// 文号 — document number, e.g. `禄安委办〔2024〕3号`.
    #[serde(default)]
    pub doc_number: String,
    /// 来源文件 — the document the task comes from.
    #[serde(default)]
    pub source_document: String,
    /// 类别 — one of the 八大行动, a 专项整治 name, or free text.
    #[serde(default)]
    pub category: String,
    /// 分工 — role-typed units and what each resolved to at the issuing node.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// 完成时限 — the deadline's kind; `None` for a schema 1 document (its `deadline` is a date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_spec: Option<Deadline>,
    /// 报送周期
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting: Option<Cadence>,
    /// 紧急通知 — reaches every node of the issuer's subtree; each may sign for it.
    #[serde(default)]
    pub cascade: bool,
    /// 上级任务 — set on a directive forwarded (转发/分解) from another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
    /// 审核 — completions are reviewed by the issuer (待审核 until 审核通过). Set at issue on every
    /// directive issued since reviews exist; a directive without it counts a completion as 办结, as
    /// it did when it was issued.
    #[serde(default)]
    pub review: bool,
}

/// The link of a forwarded directive to the directive it was forwarded from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    /// The id of the directive forwarded.
    pub directive: String,
    /// Its issuer.
    pub issuer: AdminCode,
    /// The issuer at the top of the forwarding chain: every office from this directive's issuer up to
    /// it holds the directive, so the first issuer sees the whole chain.
    pub chain_top: AdminCode,
}

/// A directive as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectiveView {
    pub issuer: AdminCode,
    pub created: String,
    #[serde(flatten)]
    pub core: DirectiveCore,
    #[serde(flatten)]
    pub details: DirectiveDetails,
    pub responses: BTreeMap<String, Response>,
    /// 部门进展 — the issuer's record of each named department's 签收 and progress.
    pub unit_responses: BTreeMap<String, Response>,
    /// 审核 — the issuer's reviews of the units' completions, in log order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<Review>,
    /// 催办 — the issuer's reminders, in log order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<Reminder>,
}

impl DirectiveView {
    /// The deadline's kind: the stored one, or the date of a schema 1 document.
    pub fn deadline(&self) -> Deadline {
        self.details
            .deadline_spec
            .clone()
            .unwrap_or(Deadline::Date {
                date: self.core.deadline.clone(),
            })
    }

    /// Whether `code` may write `responses[code]`: a target, or any node below the issuer of a cascade
    /// notice.
    pub fn may_respond(&self, code: &AdminCode) -> bool {
        self.core.targets.contains(code)
            || (self.details.cascade && self.issuer.is_ancestor_of(code))
    }

    /// The named departments (and groups nothing was configured for) the issuer tracks itself.
    pub fn department_units(&self) -> Vec<String> {
        use safemesh_model::directive::UnitKind;
        let mut out: Vec<String> = Vec::new();
        for a in &self.details.assignments {
            let names: Vec<String> = match a.kind {
                UnitKind::Node => Vec::new(),
                UnitKind::Department => vec![a.unit.clone()],
                UnitKind::Group if a.resolved.is_empty() => vec![a.unit.clone()],
                UnitKind::Group => a
                    .resolved
                    .iter()
                    .filter(|r| AdminCode::parse(r).is_err())
                    .cloned()
                    .collect(),
            };
            for n in names {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }
}

/// The issuer and each target (schema 1).
pub fn audience(issuer: &AdminCode, targets: &[AdminCode]) -> Audience {
    audience_of(
        &safemesh_model::Chain::of(issuer),
        targets,
        &DirectiveDetails::default(),
    )
}

/// The issuer and each target; a cascade notice the issuer's whole subtree; a forwarded directive also
/// every office from its issuer up to the top of its chain (they are ancestors, so the audience stays
/// path-connected and relays hold what they pass on) — along the issuer's chain (a zone's
/// configured parent and that parent's ancestors).
pub fn audience_of(
    issuer_chain: &safemesh_model::Chain,
    targets: &[AdminCode],
    d: &DirectiveDetails,
) -> Audience {
    let issuer = &issuer_chain.code;
    let mut a = Audience::default();
    a.add(issuer.clone(), false);
    if d.cascade {
        a.add(issuer.clone(), true);
    }
    for t in targets {
        a.add(t.clone(), false);
    }
    if let Some(p) = &d.parent {
        let mut reached = false;
        for anc in issuer_chain.ancestors() {
            reached = anc == p.chain_top;
            a.add(anc, false);
            if reached {
                break;
            }
        }
        if !reached {
            // A functional zone's parent is configured, not its code prefix.
            a.add(p.issuer.clone(), false);
            a.add(p.chain_top.clone(), false);
        }
    }
    a
}

/// Creates a directive document issued by `issuer`. The caller commits.
pub fn create(
    doc: &mut AutoCommit,
    issuer: &AdminCode,
    now: &str,
    core: &DirectiveCore,
) -> Result<(), Error> {
    create_with(doc, issuer, now, core, &DirectiveDetails::default())
}

/// Creates a directive document with its further fields. The caller validates and commits.
pub fn create_with(
    doc: &mut AutoCommit,
    issuer: &AdminCode,
    now: &str,
    core: &DirectiveCore,
    details: &DirectiveDetails,
) -> Result<(), Error> {
    Header {
        kind: Kind::Directive,
        schema: SCHEMA_VERSION,
        owner: issuer.clone(),
        created: now.to_string(),
        owner_parent: None,
    }
    .write(doc)?;
    let c = doc.put_object(ROOT, "core", ObjType::Map)?;
    doc.put(&c, "title", core.title.as_str())?;
    doc.put(&c, "body", core.body.as_str())?;
    doc.put(&c, "deadline", core.deadline.as_str())?;
    let t = doc.put_object(&c, "targets", ObjType::List)?;
    for (i, code) in core.targets.iter().enumerate() {
        doc.insert(&t, i, code.as_str())?;
    }
    if !details.doc_number.is_empty() {
        doc.put(&c, "doc_number", details.doc_number.as_str())?;
    }
    if !details.source_document.is_empty() {
        doc.put(&c, "source_document", details.source_document.as_str())?;
    }
    if !details.category.is_empty() {
        doc.put(&c, "category", details.category.as_str())?;
    }
    if !details.assignments.is_empty() {
        put_json(doc, &c, "assignments", &json(&details.assignments))?;
    }
    if let Some(d) = &details.deadline_spec {
        put_json(doc, &c, "deadline_spec", &json(d))?;
    }
    if let Some(r) = &details.reporting {
        put_json(doc, &c, "reporting", &json(r))?;
    }
    if details.cascade {
        doc.put(&c, "cascade", true)?;
    }
    if let Some(p) = &details.parent {
        put_json(doc, &c, "parent", &json(p))?;
    }
    if details.review {
        doc.put(&c, "review", true)?;
    }
    doc.put_object(&c, "reviews", ObjType::List)?;
    doc.put_object(&c, "reminders", ObjType::List)?;
    doc.put_object(ROOT, "responses", ObjType::Map)?;
    doc.put_object(ROOT, "unit_responses", ObjType::Map)?;
    Ok(())
}

/// 登记事件日期 — the issuer records the date of the event an after-event deadline counts from; the
/// final day (`deadline`) follows.
pub fn set_event_date(doc: &mut AutoCommit, date: &str, final_day: &str) -> Result<(), Error> {
    let core = read::obj(doc, &ROOT, "core", "core")?;
    let spec = read::obj(doc, &core, "deadline_spec", "core.deadline_spec")?;
    doc.put(&spec, "event_date", date)?;
    doc.put(&core, "deadline", final_day)?;
    Ok(())
}

/// The issuer's log `core.<key>` (`reviews`, `reminders`), made on first use in a directive issued
/// before the logs existed.
fn issuer_log(doc: &mut AutoCommit, key: &str) -> Result<automerge::ObjId, Error> {
    let core = read::obj(doc, &ROOT, "core", "core")?;
    Ok(match read::opt_obj(doc, &core, key)? {
        Some(l) => l,
        None => doc.put_object(&core, key, ObjType::List)?,
    })
}

/// 审核 — appends the issuer's review of a unit's completion. The caller checks it
/// ([`safemesh_model::directive::review::check_review`]) and that the actor is the issuer.
pub fn add_review(doc: &mut AutoCommit, review: &Review) -> Result<(), Error> {
    let l = issuer_log(doc, "reviews")?;
    append_json(doc, &l, &json(review))
}

/// 催办 — appends the issuer's reminder to the units it names. The caller validates it.
pub fn add_reminder(doc: &mut AutoCommit, reminder: &Reminder) -> Result<(), Error> {
    let l = issuer_log(doc, "reminders")?;
    append_json(doc, &l, &json(reminder))
}

/// Where a response is written: a target node's own entry, or the issuer's record of a department.
#[derive(Debug, Clone, Copy)]
pub enum Responder<'a> {
    Node(&'a AdminCode),
    Department(&'a str),
}

/// Records a milestone met (进展 naming it) in a response, after [`respond_as`] wrote the update.
pub fn mark_milestone(doc: &mut AutoCommit, who: Responder<'_>, label: &str) -> Result<(), Error> {
    let r = response_obj(doc, who)?;
    append_str(doc, &r, "milestones_met", label)
}

/// 转发 — records in the target's own response that it forwarded the directive as `sub_id`.
pub fn record_forward(doc: &mut AutoCommit, target: &AdminCode, sub_id: &str) -> Result<(), Error> {
    let r = response_obj(doc, Responder::Node(target))?;
    append_str(doc, &r, "forwarded", sub_id)
}

fn append_str(
    doc: &mut AutoCommit,
    r: &automerge::ObjId,
    key: &str,
    value: &str,
) -> Result<(), Error> {
    let list = match read::opt_obj(doc, r, key)? {
        Some(l) => l,
        None => doc.put_object(r, key, ObjType::List)?,
    };
    let at = doc.length(&list);
    doc.insert(&list, at, value)?;
    Ok(())
}

fn response_obj(doc: &mut AutoCommit, who: Responder<'_>) -> Result<automerge::ObjId, Error> {
    let (root_key, key) = match who {
        Responder::Node(c) => ("responses", c.as_str()),
        Responder::Department(d) => ("unit_responses", d),
    };
    let responses = read::obj(doc, &ROOT, root_key, root_key)?;
    Ok(match read::opt_obj(doc, &responses, key)? {
        Some(r) => r,
        None => {
            let r = doc.put_object(&responses, key, ObjType::Map)?;
            doc.put_object(&r, "updates", ObjType::List)?;
            r
        }
    })
}

/// Records `target`'s own response. The caller checks that `target` is a target.
pub fn respond(
    doc: &mut AutoCommit,
    target: &AdminCode,
    update: &ResponseUpdate,
) -> Result<(), Error> {
    respond_as(doc, Responder::Node(target), update)
}

/// Records a response: a target node's own, or the issuer's record of one of its departments.
pub fn respond_as(
    doc: &mut AutoCommit,
    who: Responder<'_>,
    update: &ResponseUpdate,
) -> Result<(), Error> {
    let r = response_obj(doc, who)?;
    match update.action {
        ResponseAction::Receive => {
            if read::opt_str(doc, &r, "received_at")?.is_none() {
                doc.put(&r, "received_at", update.at.as_str())?;
            }
        }
        ResponseAction::Progress => {
            if read::opt_str(doc, &r, "received_at")?.is_none() {
                doc.put(&r, "received_at", update.at.as_str())?;
            }
        }
        ResponseAction::Complete => {
            if read::opt_str(doc, &r, "received_at")?.is_none() {
                doc.put(&r, "received_at", update.at.as_str())?;
            }
            // Written once: a completion after a return (退回) is one more update in the log.
            if read::opt_str(doc, &r, "completed_at")?.is_none() {
                doc.put(&r, "completed_at", update.at.as_str())?;
            }
            doc.put(&r, "percent", ScalarValue::Int(100))?;
        }
    }
    if let Some(p) = update.percent
        && update.action != ResponseAction::Complete
    {
        doc.put(&r, "percent", ScalarValue::Int(p as i64))?;
    }
    if let Some(n) = &update.note {
        doc.put(&r, "note", n.as_str())?;
    }
    doc.put(&r, "updated_at", update.at.as_str())?;
    let updates = match read::opt_obj(doc, &r, "updates")? {
        Some(u) => u,
        None => doc.put_object(&r, "updates", ObjType::List)?,
    };
    let at = doc.length(&updates);
    let u = doc.insert_object(&updates, at, ObjType::Map)?;
    doc.put(&u, "action", update.action.as_str())?;
    doc.put(&u, "at", update.at.as_str())?;
    doc.put(&u, "user", update.user.as_str())?;
    if let Some(p) = update.percent {
        doc.put(&u, "percent", ScalarValue::Int(p as i64))?;
    }
    if let Some(n) = &update.note {
        doc.put(&u, "note", n.as_str())?;
    }
    crate::evidence::put_attachments(doc, &u, &update.attachments)?;
    Ok(())
}

pub fn read(doc: &AutoCommit) -> Result<DirectiveView, Error> {
    let root = doc.hydrate(ROOT, None)?;
    let root = tree::as_map(&root).ok_or(Error::Malformed {
        path: "(root)".into(),
    })?;
    let header = Header::from_tree(root)?;
    if header.kind != Kind::Directive {
        return Err(Error::Malformed {
            path: "header.kind".into(),
        });
    }
    let c = tree::map(root, "core", "core")?;
    let targets = tree::list(c, "targets")
        .map(tree::str_items)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| AdminCode::parse(&s).ok())
        .collect();
    let core = DirectiveCore {
        title: tree::string(c, "title", "core.title")?,
        body: tree::opt_str(c, "body").unwrap_or_default(),
        targets,
        deadline: tree::string(c, "deadline", "core.deadline")?,
    };
    let details = DirectiveDetails {
        doc_number: tree::opt_str(c, "doc_number").unwrap_or_default(),
        source_document: tree::opt_str(c, "source_document").unwrap_or_default(),
        category: tree::opt_str(c, "category").unwrap_or_default(),
        assignments: get_typed(c, "assignments").unwrap_or_default(),
        deadline_spec: get_typed(c, "deadline_spec"),
        reporting: get_typed(c, "reporting"),
        cascade: matches!(
            c.get("cascade"),
            Some(automerge::hydrate::Value::Scalar(ScalarValue::Boolean(
                true
            )))
        ),
        parent: get_typed(c, "parent"),
        review: matches!(
            c.get("review"),
            Some(automerge::hydrate::Value::Scalar(ScalarValue::Boolean(
                true
            )))
        ),
    };
    let responses_in = |key: &str| {
        let mut out = BTreeMap::new();
        if let Some(rs) = tree::opt_map(root, key) {
            for (k, v) in rs.iter() {
                if let Some(r) = tree::as_map(&v.value) {
                    out.insert(k.clone(), read_response(r));
                }
            }
        }
        out
    };
    Ok(DirectiveView {
        issuer: header.owner,
        created: header.created,
        core,
        details,
        responses: responses_in("responses"),
        unit_responses: responses_in("unit_responses"),
        reviews: typed_items(c, "reviews"),
        reminders: typed_items(c, "reminders"),
    })
}

fn read_response(r: &automerge::hydrate::Map) -> Response {
    let updates = tree::list(r, "updates")
        .map(|l| {
            tree::map_items(l)
                .filter_map(|u| {
                    Some(ResponseUpdate {
                        action: ResponseAction::parse(&tree::opt_str(u, "action")?).ok()?,
                        at: tree::opt_str(u, "at").unwrap_or_default(),
                        percent: tree::opt_i64(u, "percent").map(|p| p.clamp(0, 100) as u8),
                        note: tree::opt_str(u, "note"),
                        user: tree::opt_str(u, "user").unwrap_or_default(),
                        attachments: crate::evidence::read_attachments(u),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Response {
        received_at: tree::opt_str(r, "received_at"),
        percent: tree::opt_i64(r, "percent").map(|p| p.clamp(0, 100) as u8),
        note: tree::opt_str(r, "note"),
        completed_at: tree::opt_str(r, "completed_at"),
        updated_at: tree::opt_str(r, "updated_at"),
        updates,
        milestones_met: tree::list(r, "milestones_met")
            .map(tree::str_items)
            .unwrap_or_default(),
        forwarded: tree::list(r, "forwarded")
            .map(tree::str_items)
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    #[test]
    fn a_forwarded_directive_reaches_every_office_up_to_the_top_of_its_chain() {
        let details = DirectiveDetails {
            parent: Some(ParentLink {
                directive: "d-city".into(),
                issuer: code("5301"),
                chain_top: code("53"),
            }),
            ..Default::default()
        };
        let a = audience_of(
            &safemesh_model::Chain::of(&code("530181")),
            &[code("530181006")],
            &details,
        );
        for c in ["530181", "530181006", "5301", "53"] {
            assert!(a.contains(&code(c)), "{c} holds it");
        }
        assert!(
            !a.contains(&code("530181007")),
            "a township it was not sent to"
        );
        assert!(!a.contains(&code("5302")), "another city");
    }

    #[test]
    fn a_cascade_notice_reaches_the_whole_subtree_and_nothing_beside_it() {
        let details = DirectiveDetails {
            cascade: true,
            ..Default::default()
        };
        let a = audience_of(&safemesh_model::Chain::of(&code("5301")), &[], &details);
        assert!(a.contains(&code("530181006")));
        assert!(a.contains(&code("530102")));
        assert!(!a.contains(&code("53")), "not the issuer's parent");
        assert!(
            !a.contains(&code("530221001")),
            "not another city's township"
        );
    }

    #[test]
    fn details_round_trip_through_the_document() {
        use safemesh_model::directive::{Milestone, UnitKind, UnitRole};
        let mut doc = AutoCommit::new();
        let details = DirectiveDetails {
            doc_number: "禄街发〔2024〕18号".into(),
            source_document: "《实施方案》三、(二)8".into(),
            category: "深化重点行业领域专项治理行动".into(),
            assignments: vec![Assignment {
                role: UnitRole::Lead,
                unit: "各成员单位".into(),
                kind: UnitKind::Group,
                resolved: vec!["应急管理综合服务中心".into()],
            }],
            deadline_spec: Some(Deadline::Milestones {
                milestones: vec![Milestone {
                    label: "6月底前".into(),
                    date: "2024-06-30".into(),
                }],
            }),
            reporting: Some(Cadence::Monthly { day: Some(25) }),
            cascade: true,
            parent: None,
            review: true,
        };
        let core = DirectiveCore {
            title: "t".into(),
            body: String::new(),
            targets: vec![],
            deadline: "2024-06-30".into(),
        };
        create_with(
            &mut doc,
            &code("530181006"),
            "2024-04-12T00:00:00Z",
            &core,
            &details,
        )
        .unwrap();
        doc.commit();
        let v = read(&doc).unwrap();
        assert_eq!(v.details, details);
        assert_eq!(v.department_units(), vec!["应急管理综合服务中心"]);
    }
}
