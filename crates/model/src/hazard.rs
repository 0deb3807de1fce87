//! 隐患 — hazards and their lifecycle as an append-only event log.
//!
//! Status is never stored: it is folded from the events in their (deterministic) document order, so
//! concurrent actions from two levels merge into one history that every replica reads the same way.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{AdminCode, Error};

pub mod deadline;
pub mod facts;
pub mod ladder;
pub mod notify;
pub mod plan;
pub mod supervision;

pub use deadline::{
    DEFAULT_ACCEPTANCE_DAYS, acceptance_days_overdue, acceptance_due, days_overdue, due_soon_until,
    escalation_candidate, format_date, is_due_soon, is_overdue, overdue_days, parse_date,
};
pub use plan::Plan;
pub use supervision::Listing;

/// 隐患等级 — 重大事故隐患 or 一般隐患.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 重大事故隐患
    Major,
    /// 一般隐患
    General,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Major => "major",
            Grade::General => "general",
        }
    }
    pub fn parse(s: &str) -> Result<Grade, Error> {
        match s {
            "major" | "重大" | "重大事故隐患" => Ok(Grade::Major),
            "general" | "一般" | "一般隐患" | "一般事故隐患" => Ok(Grade::General),
            _ => Err(Error::invalid(
                "grade",
                "应为 major 或 general / must be major or general",
            )),
        }
    }
}

/// 发现渠道 — how the hazard was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 企业自查上报
    EnterpriseSelfReport,
    /// 督导检查发现
    Inspection,
    /// 群众举报查实
    PublicReport,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::EnterpriseSelfReport => "enterprise_self_report",
            Channel::Inspection => "inspection",
            Channel::PublicReport => "public_report",
        }
    }
    /// 中文名称.
    pub fn label_zh(self) -> &'static str {
        match self {
            Channel::EnterpriseSelfReport => "企业自查上报",
            Channel::Inspection => "督导检查发现",
            Channel::PublicReport => "群众举报查实",
        }
    }

    /// Parses a channel by its code or Chinese name (企业自查上报 / 督导检查发现 / 群众举报查实, and
    /// their short forms).
    pub fn parse(s: &str) -> Result<Channel, Error> {
        match s.trim() {
            "enterprise_self_report" | "企业自查上报" | "企业自查" | "自查自报" => {
                Ok(Channel::EnterpriseSelfReport)
            }
            "inspection" | "督导检查发现" | "检查发现" | "督导检查" | "执法检查" => {
                Ok(Channel::Inspection)
            }
            "public_report" | "群众举报查实" | "群众举报" | "举报" => {
                Ok(Channel::PublicReport)
            }
            _ => Err(Error::invalid(
                "channel",
                "应为 企业自查上报（enterprise_self_report）、督导检查发现（inspection）或 群众举报查实（public_report） / must be one of enterprise_self_report, inspection, public_report",
            )),
        }
    }
}

/// 隐患状态 — derived, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 未整改 (registered, no plan yet)
    Open,
    /// 整改中
    Rectifying,
    /// 待验收 (rectification reported, awaiting review/acceptance)
    PendingAcceptance,
    /// 已销号
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Rectifying => "rectifying",
            Status::PendingAcceptance => "pending_acceptance",
            Status::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Result<Status, Error> {
        match s {
            "open" => Ok(Status::Open),
            "rectifying" => Ok(Status::Rectifying),
            "pending_acceptance" => Ok(Status::PendingAcceptance),
            "closed" => Ok(Status::Closed),
            _ => Err(Error::invalid(
                "status",
                "应为 open、rectifying、pending_acceptance 或 closed / unknown status",
            )),
        }
    }
}

/// 生命周期事件种类 — the kinds of lifecycle events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// 登记
    Registered,
    /// 制定整改方案 (五落实)
    Plan,
    /// 整改进展
    Progress,
    /// 整改完成，申请验收
    Rectified,
    /// 复查/验收通过
    Accept,
    /// 验收退回
    Return,
    /// 销号
    Close,
    /// 反弹重开
    Reopen,
    /// 挂牌督办
    Supervise,
    /// 督办升级：函告、通报、约谈、曝光
    Escalate,
    /// 告知 — telling the enterprise's people (法定代表人, 主要负责人, 实际控制人, 实际负责人)
    Notify,
    /// 批注
    Comment,
    /// 申请延期 — the owner asks for a new deadline, with its reason.
    ExtendRequest,
    /// 延期审批 — the level that accepts the hazard approves or refuses the pending request.
    ExtendDecision,
    /// 书面回复 — the owner's written reply to an escalation.
    Reply,
    /// 摘牌 — the listing office lifts its 挂牌督办 once the hazard is accepted.
    Lift,
}

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::Registered,
        EventKind::Plan,
        EventKind::Progress,
        EventKind::Rectified,
        EventKind::Accept,
        EventKind::Return,
        EventKind::Close,
        EventKind::Reopen,
        EventKind::Supervise,
        EventKind::Escalate,
        EventKind::Notify,
        EventKind::Comment,
        EventKind::ExtendRequest,
        EventKind::ExtendDecision,
        EventKind::Reply,
        EventKind::Lift,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Registered => "registered",
            EventKind::Plan => "plan",
            EventKind::Progress => "progress",
            EventKind::Rectified => "rectified",
            EventKind::Accept => "accept",
            EventKind::Return => "return",
            EventKind::Close => "close",
            EventKind::Reopen => "reopen",
            EventKind::Supervise => "supervise",
            EventKind::Escalate => "escalate",
            EventKind::Notify => "notify",
            EventKind::Comment => "comment",
            EventKind::ExtendRequest => "extend_request",
            EventKind::ExtendDecision => "extend_decision",
            EventKind::Reply => "reply",
            EventKind::Lift => "lift",
        }
    }

    /// The event's name as a clerk reads it (登记, 挂牌督办, …).
    pub fn label_zh(self) -> &'static str {
        match self {
            EventKind::Registered => "登记",
            EventKind::Plan => "制定整改方案",
            EventKind::Progress => "整改进展",
            EventKind::Rectified => "整改完成",
            EventKind::Accept => "验收通过",
            EventKind::Return => "验收退回",
            EventKind::Close => "销号",
            EventKind::Reopen => "反弹重开",
            EventKind::Supervise => "挂牌督办",
            EventKind::Escalate => "督办升级",
            EventKind::Notify => "告知",
            EventKind::Comment => "批注",
            EventKind::ExtendRequest => "申请延期",
            EventKind::ExtendDecision => "延期审批",
            EventKind::Reply => "书面回复",
            EventKind::Lift => "摘牌",
        }
    }

    pub fn parse(s: &str) -> Result<EventKind, Error> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!(
                        "未知的事件种类 {s:?}，可选: {} / unknown event kind",
                        EventKind::ALL
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// Events only a level above the owner may add (挂牌督办 — but for the owner's own major hazard —,
    /// 督办升级、延期审批).
    pub fn is_superior_only(self) -> bool {
        matches!(
            self,
            EventKind::Supervise | EventKind::Escalate | EventKind::ExtendDecision
        )
    }
}

/// 督办升级方式.
pub const ESCALATION_METHODS: [&str; 4] = ["函告", "通报", "约谈", "曝光"];

/// One lifecycle event as stored in the document's `events` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HazardEvent {
    pub kind: EventKind,
    /// RFC 3339 time the event was recorded.
    pub at: String,
    /// The office (node code) that recorded it.
    pub by: AdminCode,
    /// The person (token name) who recorded it.
    #[serde(default)]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For `escalate`: 函告|通报|约谈|曝光. For `notify`: how the recipients were told (告知方式).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// For `supervise`: the supervising level's code (挂牌督办单位).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<AdminCode>,
    /// For `supervise`: 督办编号, e.g. 昆安办督〔2026〕3号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// For `supervise`: 督办要求.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<String>,
    /// For `supervise`: 督办期限 `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// For `progress`: percent done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    /// For `plan`: the rectification plan (五落实).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// For `notify`: who was told — posts, canonical names of [`notify::ROLES`] (法定代表人, 主要负责人,
    /// 实际控制人, 实际负责人), each told apart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// For `notify`: the names of the people told, by post (a post of `recipients` → the person);
    /// absent in older records and where no name was given.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub recipient_names: std::collections::BTreeMap<String, String>,
    /// For `escalate`: 书面回复期限 `YYYY-MM-DD`, the day the escalated party must reply by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_by: Option<String>,
    /// For `extend_request`: the deadline asked for, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_deadline: Option<String>,
    /// For `extend_decision`: 同意 (`true`) or 不同意 (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    /// For `reply`: the escalating office the reply answers (with `method`, the escalation's method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<AdminCode>,
    /// 佐证材料 — files this event carries (整改前/整改后照片, 验收单), by content; written with the
    /// event, never replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::evidence::Attachment>,
}

impl HazardEvent {
    /// An event with no parameters; set the ones its kind needs.
    pub fn new(kind: EventKind, by: AdminCode, at: impl Into<String>) -> HazardEvent {
        HazardEvent {
            kind,
            at: at.into(),
            by,
            user: String::new(),
            note: None,
            method: None,
            level: None,
            number: None,
            requirements: None,
            due: None,
            percent: None,
            plan: None,
            recipients: Vec::new(),
            recipient_names: Default::default(),
            reply_by: None,
            new_deadline: None,
            approved: None,
            to: None,
            attachments: Vec::new(),
        }
    }
}

/// 督办升级记录 — one escalation that applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    /// The escalating office.
    pub by: AdminCode,
    /// 函告|通报|约谈|曝光
    pub method: String,
    /// 书面回复期限, if given.
    pub reply_by: Option<String>,
    pub at: String,
    /// When the owner's written reply (书面回复) to it was recorded; `None` while none is.
    pub replied_at: Option<String>,
}

/// 延期申请 — an extension request waiting for its decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtensionRequest {
    /// The deadline asked for.
    pub new_deadline: String,
    pub at: String,
    pub note: Option<String>,
}

/// What the event log folds to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    /// The hazard's grade (the rules differ for major hazards); not folded, given.
    pub grade: Grade,
    pub status: Status,
    /// Set by `accept`, cleared by `return` and `reopen`.
    pub accepted: bool,
    /// 挂牌督办单位 — the level supervising this hazard, if listed: the highest office whose listing
    /// stands.
    pub supervising: Option<AdminCode>,
    /// 挂牌督办 — the listings standing, highest office first ([`supervision`]).
    pub listings: Vec<Listing>,
    /// Escalation methods applied, in order.
    pub escalations: Vec<String>,
    /// The escalations applied, in order, with who made them and the reply deadline.
    pub escalated: Vec<Escalation>,
    /// 已告知 — the posts told so far (canonical names, in [`notify::ROLES`] order), each on its own:
    /// telling the 法定代表人 does not tell the 主要负责人.
    pub notified: Vec<String>,
    /// The names of the people told, by post (the latest name given for each).
    pub notified_names: std::collections::BTreeMap<String, String>,
    /// When the owner reported it rectified (the `at` of the `rectified` event that put it in
    /// 待验收), while it waits for acceptance; `None` in any other state.
    pub rectified_at: Option<String>,
    /// 整改方案 — the latest plan that applied.
    pub plan: Option<Plan>,
    /// The deadline the events set, if any: the latest plan's 时限 or the latest approved extension's
    /// new deadline, whichever applied last (the registered deadline otherwise).
    pub deadline: Option<String>,
    /// 延期申请 waiting for a decision (at most one at a time).
    pub extension_pending: Option<ExtensionRequest>,
    /// 已延期次数 — extension requests approved.
    pub extended: u32,
    /// The latest approved extension's deadline (the latest day a later plan may set).
    pub extended_deadline: Option<String>,
    /// Events that did not apply in the state they arrived in (kept in history, ignored by the fold).
    pub ignored: usize,
}

impl Derived {
    /// The state before any event.
    pub fn new(grade: Grade) -> Derived {
        Derived {
            grade,
            status: Status::Open,
            accepted: false,
            supervising: None,
            listings: Vec::new(),
            escalations: Vec::new(),
            escalated: Vec::new(),
            notified: Vec::new(),
            notified_names: Default::default(),
            rectified_at: None,
            plan: None,
            deadline: None,
            extension_pending: None,
            extended: 0,
            extended_deadline: None,
            ignored: 0,
        }
    }

    /// True once every required recipient (主要负责人, 实际控制人) has been told.
    pub fn fully_notified(&self) -> bool {
        notify::REQUIRED_RECIPIENTS
            .iter()
            .all(|r| self.notified.iter().any(|n| n == r))
    }

    /// The day (China time) the owner reported it rectified, while it waits for acceptance.
    pub fn rectified_on(&self) -> Option<Date> {
        self.rectified_at
            .as_deref()
            .and_then(crate::china::day_of_instant)
    }

    /// 验收单位 — who accepts it: the supervising level of a listed hazard, else the owner.
    pub fn acceptor<'a>(&'a self, owner: &'a AdminCode) -> &'a AdminCode {
        self.supervising.as_ref().unwrap_or(owner)
    }

    /// True if `office` has escalated this hazard.
    pub fn escalated_by(&self, office: &AdminCode) -> bool {
        self.escalated.iter().any(|e| &e.by == office)
    }

    /// The escalation a reply to `to` by `method` answers: the earliest of that office's escalations
    /// by that method still without a reply.
    pub fn unanswered(&self, to: &AdminCode, method: &str) -> Option<usize> {
        self.escalated
            .iter()
            .position(|e| &e.by == to && e.method == method && e.replied_at.is_none())
    }
}

/// Folds an event log (in document order) to the derived state of a hazard of `grade`. Total: an event
/// that does not apply in the current state (e.g. a concurrent `close` and `return`) is counted as
/// ignored.
pub fn fold(grade: Grade, events: &[HazardEvent]) -> Derived {
    let mut d = Derived::new(grade);
    for e in events {
        if apply(&mut d, e).is_err() {
            d.ignored += 1;
        }
    }
    d
}

/// Checks that `e` may follow the state `d`, and applies it.
pub fn apply(d: &mut Derived, e: &HazardEvent) -> Result<(), Error> {
    use EventKind::*;
    use Status::*;
    let bad = |reason: &str| Err(Error::invalid("kind", reason.to_string()));
    // A major hazard's 主要负责人 and 实际控制人 are told before anything is done about it.
    if d.grade == Grade::Major
        && d.status == Open
        && matches!(e.kind, Plan | Progress | Rectified)
        && !d.fully_notified()
    {
        return Err(Error::invalid(
            "kind",
            format!(
                "重大事故隐患须先告知企业主要负责人和实际控制人（notify），尚未告知: {} / a major hazard needs a notify of 主要负责人 and 实际控制人 first",
                notify::REQUIRED_RECIPIENTS
                    .iter()
                    .filter(|r| !d.notified.iter().any(|n| n == *r))
                    .copied()
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ));
    }
    match e.kind {
        Registered | Comment => {}
        Notify => {
            if e.recipients.is_empty() {
                return Err(Error::invalid(
                    "recipients",
                    "告知须列出对象 / notify needs recipients",
                ));
            }
            // Each post as itself: only the posts this build knows count, none for another.
            for (r, _) in notify::ROLES {
                if e.recipients.iter().any(|x| x == r) && !d.notified.iter().any(|n| n == r) {
                    d.notified.push(r.to_string());
                }
            }
            d.notified.sort_by_key(|n| notify::order(n));
            for (post, person) in &e.recipient_names {
                if notify::order(post) != usize::MAX && e.recipients.iter().any(|x| x == post) {
                    d.notified_names.insert(post.clone(), person.clone());
                }
            }
        }
        Plan | Progress => match d.status {
            Open | Rectifying => {
                d.status = Rectifying;
                if e.kind == Plan
                    && let Some(p) = &e.plan
                {
                    d.plan = Some(p.clone());
                    d.deadline = Some(p.deadline.clone());
                }
            }
            PendingAcceptance => {
                return bad("已申请验收，不能再报进展 / already awaiting acceptance");
            }
            Closed => return bad("隐患已销号 / hazard is closed"),
        },
        Rectified => match d.status {
            // A major hazard is rectified by its 治理方案: the five in place, its contingency plan
            // included, before it can be reported done (重大事故隐患治理方案, seed 002; STANDARDS §3.1).
            Open | Rectifying
                if d.grade == Grade::Major && !d.plan.as_ref().is_some_and(|p| p.complete()) =>
            {
                return bad(
                    "重大事故隐患须先制定治理方案（五落实：责任单位、责任人、措施、资金、时限，以及应急预案）才能申请验收 / a major hazard needs its complete plan (the five in place, with its contingency plan) before it is reported rectified",
                );
            }
            Open | Rectifying => {
                d.status = PendingAcceptance;
                d.rectified_at = Some(e.at.clone());
            }
            PendingAcceptance => return bad("已申请验收 / already awaiting acceptance"),
            Closed => return bad("隐患已销号 / hazard is closed"),
        },
        Accept => {
            if d.status != PendingAcceptance || d.accepted {
                return bad(
                    "整改完成（rectified）后才能验收 / accept needs a rectified hazard not yet accepted",
                );
            }
            d.accepted = true;
            supervision::accepted(d);
        }
        Return => {
            if d.status != PendingAcceptance {
                return bad(
                    "只有待验收的隐患可以退回 / only a hazard awaiting acceptance can be returned",
                );
            }
            d.status = Rectifying;
            d.accepted = false;
            d.rectified_at = None;
        }
        Close => {
            if d.status == Closed {
                return bad("隐患已销号 / hazard is already closed");
            }
            if d.status != PendingAcceptance || !d.accepted {
                return bad("验收通过（accept）后才能销号 / close needs an accepted hazard");
            }
            d.status = Closed;
            d.rectified_at = None;
            // A request still pending when the hazard is closed is moot: nothing is left to extend.
            d.extension_pending = None;
        }
        Reopen => {
            if d.status != Closed {
                return bad("只有已销号的隐患可以重开 / only a closed hazard can be reopened");
            }
            d.status = Rectifying;
            d.accepted = false;
        }
        Supervise => supervision::list(d, e)?,
        Lift => supervision::lift(d, e)?,
        Escalate => {
            let Some(m) = &e.method else {
                return Err(Error::invalid(
                    "method",
                    "督办升级须指明方式：函告、通报、约谈、曝光 / escalate needs a method",
                ));
            };
            if !ESCALATION_METHODS.contains(&m.as_str()) {
                return Err(Error::invalid(
                    "method",
                    "应为 函告、通报、约谈 或 曝光 / must be one of 函告 通报 约谈 曝光",
                ));
            }
            if d.status == Closed {
                return bad("隐患已销号 / hazard is closed");
            }
            d.escalations.push(m.clone());
            d.escalated.push(Escalation {
                by: e.by.clone(),
                method: m.clone(),
                reply_by: e.reply_by.clone(),
                at: e.at.clone(),
                replied_at: None,
            });
        }
        ExtendRequest => {
            let Some(day) = &e.new_deadline else {
                return Err(Error::invalid(
                    "new_deadline",
                    "申请延期须写明新的整改期限 / extend_request needs new_deadline",
                ));
            };
            if d.status == Closed {
                return bad("隐患已销号 / hazard is closed");
            }
            if d.extension_pending.is_some() {
                return bad(
                    "已有延期申请待审批 / an extension request is already waiting for its decision",
                );
            }
            d.extension_pending = Some(ExtensionRequest {
                new_deadline: day.clone(),
                at: e.at.clone(),
                note: e.note.clone(),
            });
        }
        ExtendDecision => {
            let Some(approved) = e.approved else {
                return Err(Error::invalid(
                    "approved",
                    "延期审批须写明同意或不同意 / extend_decision needs approved",
                ));
            };
            let Some(req) = d.extension_pending.take() else {
                return bad(
                    "没有待审批的延期申请 / no extension request is waiting for a decision",
                );
            };
            if approved {
                d.extended += 1;
                d.extended_deadline = Some(req.new_deadline.clone());
                d.deadline = Some(req.new_deadline);
            }
        }
        Reply => {
            let (Some(to), Some(m)) = (&e.to, &e.method) else {
                return Err(Error::invalid(
                    "to",
                    "书面回复须写明回复哪一级的哪次督办（to、method） / reply needs to and method",
                ));
            };
            let Some(i) = d.unanswered(to, m) else {
                return bad(
                    "没有待回复的该项督办升级 / no escalation by that office and method is waiting for a reply",
                );
            };
            d.escalated[i].replied_at = Some(e.at.clone());
        }
    }
    Ok(())
}

/// Who may add an event of `kind` to a hazard owned by `owner` (with its chain: a zone's superiors are
/// its configured parent's, see [`crate::Chain`]), as `actor`, given the state `d` the actor saw — the
/// rule's name on refusal.
///
/// Owner: everything but supervise/escalate/extend_decision — and it may list (挂牌督办) its own
/// **major** hazard (a county listing its own finding). Ancestors: supervise, escalate, comment,
/// return, and accept/close when they are the supervising level. 摘牌 (`lift`) belongs to an office
/// whose listing stands. 延期审批 (`extend_decision`) belongs to the level that accepts for the owner:
/// the supervising level of a listed hazard, else the owner's parent — never the owner itself (it
/// asked), never a sibling. A general hazard only reaches the owner's parent, a major one every
/// ancestor; this rule does not repeat that scope check.
pub fn may_add_event(
    kind: EventKind,
    owner: &crate::Chain,
    actor: &AdminCode,
    d: &Derived,
) -> Result<(), &'static str> {
    let is_owner = *actor == owner.code;
    let is_superior = owner.has_superior(actor);
    let supervising = d.supervising.as_ref();
    match kind {
        EventKind::Supervise => {
            if is_superior || (is_owner && d.grade == Grade::Major) {
                Ok(())
            } else {
                Err("superior_only")
            }
        }
        EventKind::Escalate => {
            if is_superior {
                Ok(())
            } else {
                Err("superior_only")
            }
        }
        EventKind::Lift => {
            if d.listing_of(actor).is_some() {
                Ok(())
            } else {
                Err("listing_office_lifts")
            }
        }
        EventKind::Accept | EventKind::Close => match supervising {
            Some(level) if level == actor => Ok(()),
            Some(_) => Err("supervising_level_accepts"),
            None if is_owner => Ok(()),
            None => Err("owner_accepts"),
        },
        EventKind::ExtendDecision => match supervising {
            Some(level) if level == actor => Ok(()),
            Some(_) => Err("supervising_level_decides"),
            None if owner.is_parent(actor) => Ok(()),
            None => Err("parent_decides"),
        },
        EventKind::Return | EventKind::Comment => {
            if is_owner || is_superior {
                Ok(())
            } else {
                Err("owner_or_superior")
            }
        }
        _ => {
            if is_owner {
                Ok(())
            } else {
                Err("owner_only")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, by: &str) -> HazardEvent {
        HazardEvent::new(kind, AdminCode::parse(by).unwrap(), "2026-11-01T00:00:00Z")
    }

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    /// A general hazard's state with `level` supervising it.
    fn st(level: Option<&AdminCode>) -> Derived {
        let mut d = Derived::new(Grade::General);
        d.supervising = level.cloned();
        d
    }

    fn notify(recipients: &[&str]) -> HazardEvent {
        HazardEvent {
            method: Some("书面告知".into()),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            ..ev(EventKind::Notify, "530181006")
        }
    }

    #[test]
    fn lifecycle_reaches_closed_only_through_accept() {
        use EventKind::*;
        let log = vec![
            ev(Registered, "530181006"),
            ev(Progress, "530181006"),
            ev(Rectified, "530181006"),
        ];
        assert_eq!(fold(Grade::General, &log).status, Status::PendingAcceptance);
        let mut d = fold(Grade::General, &log);
        assert!(apply(&mut d.clone(), &ev(Close, "530181006")).is_err());
        apply(&mut d, &ev(Accept, "530181006")).unwrap();
        apply(&mut d, &ev(Close, "530181006")).unwrap();
        assert_eq!(d.status, Status::Closed);
        apply(&mut d, &ev(Reopen, "530181006")).unwrap();
        assert_eq!(d.status, Status::Rectifying);
    }

    #[test]
    fn a_hazard_reported_rectified_on_time_waits_for_acceptance_without_being_overdue() {
        let day = |s: &str| parse_date("d", s).unwrap();
        let (deadline, today) = (day("2026-11-30"), day("2026-12-20"));
        // Reported on the deadline's day: 待验收, not 逾期, however long acceptance takes.
        let on_time = Some(day("2026-11-30"));
        assert_eq!(
            overdue_days(Status::PendingAcceptance, deadline, on_time, today),
            None
        );
        // The acceptor has 10 days from the report: to 12-10; on 12-20 it is 10 days late.
        assert_eq!(acceptance_due(day("2026-11-30"), 10), day("2026-12-10"));
        assert_eq!(
            acceptance_days_overdue(Status::PendingAcceptance, on_time, 10, today),
            Some(10)
        );
        assert_eq!(
            acceptance_days_overdue(Status::PendingAcceptance, on_time, 10, day("2026-12-10")),
            None,
            "due on the last day is not late"
        );
        // Reported 5 days late: 逾期 by those 5 days, not more while it waits.
        let late = Some(day("2026-12-05"));
        assert_eq!(
            overdue_days(Status::PendingAcceptance, deadline, late, today),
            Some(5)
        );
        // Not awaiting acceptance: the plain rule.
        assert_eq!(
            overdue_days(Status::Rectifying, deadline, None, today),
            Some(20)
        );
        assert_eq!(overdue_days(Status::Closed, deadline, on_time, today), None);
        assert_eq!(
            acceptance_days_overdue(Status::Rectifying, on_time, 10, today),
            None
        );
        // Awaiting acceptance is not 临期 either: the owner's part is done.
        assert!(!is_due_soon(
            Status::PendingAcceptance,
            deadline,
            day("2026-11-29"),
            3
        ));
    }

    #[test]
    fn the_report_day_follows_the_lifecycle_and_the_acceptor_is_the_supervising_level() {
        use EventKind::*;
        let owner = AdminCode::parse("530181006").unwrap();
        let mut d = Derived::new(Grade::General);
        let mut r = ev(Rectified, "530181006");
        r.at = "2026-11-30T17:00:00Z".into(); // 12-01 01:00 in China
        apply(&mut d, &r).unwrap();
        assert_eq!(
            d.rectified_on(),
            Some(parse_date("d", "2026-12-01").unwrap())
        );
        assert_eq!(d.acceptor(&owner), &owner);
        let mut listed = d.clone();
        let mut s = ev(Supervise, "530181");
        s.level = Some(AdminCode::parse("530181").unwrap());
        apply(&mut listed, &s).unwrap();
        assert_eq!(listed.acceptor(&owner).as_str(), "530181");
        apply(&mut d, &ev(Return, "530181006")).unwrap();
        assert_eq!(
            d.rectified_on(),
            None,
            "returned: no longer awaiting acceptance"
        );
    }

    #[test]
    fn overdue_is_strictly_after_deadline_day() {
        let dl = parse_date("deadline", "2026-11-22").unwrap();
        assert!(!is_overdue(Status::Open, dl, dl));
        assert!(is_overdue(Status::Open, dl, dl.next_day().unwrap()));
        assert!(!is_overdue(Status::Closed, dl, dl.next_day().unwrap()));
    }

    #[test]
    fn supervise_is_for_superiors_and_moves_acceptance() {
        let owner = AdminCode::parse("530181006").unwrap();
        let prov = AdminCode::parse("53").unwrap();
        assert!(
            may_add_event(
                EventKind::Supervise,
                &crate::Chain::of(&owner),
                &owner,
                &st(None)
            )
            .is_err()
        );
        assert!(
            may_add_event(
                EventKind::Supervise,
                &crate::Chain::of(&owner),
                &prov,
                &st(None)
            )
            .is_ok()
        );
        assert!(
            may_add_event(
                EventKind::Accept,
                &crate::Chain::of(&owner),
                &owner,
                &st(None)
            )
            .is_ok()
        );
        assert_eq!(
            may_add_event(
                EventKind::Accept,
                &crate::Chain::of(&owner),
                &owner,
                &st(Some(&prov))
            ),
            Err("supervising_level_accepts")
        );
        assert!(
            may_add_event(
                EventKind::Close,
                &crate::Chain::of(&owner),
                &prov,
                &st(Some(&prov))
            )
            .is_ok()
        );
    }

    #[test]
    fn major_hazard_cannot_leave_open_before_notify() {
        use EventKind::*;
        let mut d = Derived::new(Grade::Major);
        for k in [Plan, Progress, Rectified] {
            let e = apply(&mut d.clone(), &ev(k, "530181006")).unwrap_err();
            assert!(e.to_string().contains("主要负责人"), "{e}");
        }
        apply(&mut d, &notify(&["主要负责人"])).unwrap();
        let e = apply(&mut d.clone(), &ev(Plan, "530181006")).unwrap_err();
        assert!(
            e.to_string().contains("实际控制人") && !e.to_string().contains("尚未告知: 主要"),
            "{e}"
        );
        apply(&mut d, &notify(&["实际控制人"])).unwrap();
        assert!(d.fully_notified());
        apply(&mut d, &ev(Plan, "530181006")).unwrap();
        assert_eq!(d.status, Status::Rectifying);
        // A general hazard needs no notify.
        let mut g = Derived::new(Grade::General);
        apply(&mut g, &ev(Plan, "530181006")).unwrap();
        // A notify without recipients does not apply.
        assert!(apply(&mut g, &notify(&[])).is_err());
    }

    #[test]
    fn telling_the_legal_representative_does_not_tell_the_principal() {
        use EventKind::*;
        // seed 002 #6: 法定代表人, 主要负责人, 实际控制人 and 实际负责人 are four posts.
        let mut d = Derived::new(Grade::Major);
        let mut told = notify(&["法定代表人", "实际负责人"]);
        told.recipient_names =
            std::collections::BTreeMap::from([("法定代表人".into(), "赵某".into())]);
        apply(&mut d, &told).unwrap();
        assert_eq!(d.notified, ["法定代表人", "实际负责人"]);
        assert!(!d.fully_notified(), "neither required post was told");
        let e = apply(&mut d.clone(), &ev(Plan, "530181006")).unwrap_err();
        assert!(
            e.to_string().contains("尚未告知: 主要负责人、实际控制人"),
            "{e}"
        );
        let mut both = notify(&["实际控制人", "主要负责人"]);
        both.recipient_names = std::collections::BTreeMap::from([
            ("主要负责人".into(), "王某".into()),
            ("实际控制人".into(), "李某".into()),
        ]);
        apply(&mut d, &both).unwrap();
        assert!(d.fully_notified());
        assert_eq!(
            d.notified,
            ["法定代表人", "主要负责人", "实际控制人", "实际负责人"],
            "each post once, in the order of the four"
        );
        assert_eq!(d.notified_names.len(), 3);
        assert_eq!(d.notified_names["主要负责人"], "王某");
        // A name for a post the event did not tell is not taken.
        let mut stray = notify(&["主要负责人"]);
        stray.recipient_names =
            std::collections::BTreeMap::from([("实际负责人".into(), "孙某".into())]);
        apply(&mut d, &stray).unwrap();
        assert!(!d.notified_names.contains_key("实际负责人"));
    }

    #[test]
    fn plan_event_sets_the_plan_and_a_later_plan_replaces_it() {
        let plan = |dl: &str| plan::Plan {
            responsible_unit: "某公司".into(),
            responsible_person: "李四".into(),
            measures: "更换".into(),
            funds_wan: 1.5,
            deadline: dl.into(),
            contingency_plan: String::new(),
        };
        let log = vec![
            HazardEvent {
                plan: Some(plan("2026-12-01")),
                ..ev(EventKind::Plan, "530181006")
            },
            HazardEvent {
                plan: Some(plan("2026-11-25")),
                ..ev(EventKind::Plan, "530181006")
            },
        ];
        let d = fold(Grade::General, &log);
        assert_eq!(d.plan.unwrap().deadline, "2026-11-25");
    }

    #[test]
    fn escalation_candidates_are_overdue_major_hazards_not_escalated_by_this_office() {
        let owner = code("530181006");
        let county = code("530181");
        let dl = parse_date("deadline", "2026-11-01").unwrap();
        let today = parse_date("today", "2026-11-22").unwrap();
        let mut d = Derived::new(Grade::Major);
        assert_eq!(
            escalation_candidate(&d, &crate::Chain::of(&owner), dl, &county, today),
            Some(21)
        );
        assert_eq!(
            escalation_candidate(&d, &crate::Chain::of(&owner), dl, &county, dl),
            None,
            "due today"
        );
        assert_eq!(
            escalation_candidate(&d, &crate::Chain::of(&owner), dl, &owner, today),
            None,
            "owner"
        );
        let esc = HazardEvent {
            method: Some("函告".into()),
            reply_by: Some("2026-12-01".into()),
            ..ev(EventKind::Escalate, "530181")
        };
        apply(&mut d, &esc).unwrap();
        assert_eq!(
            escalation_candidate(&d, &crate::Chain::of(&owner), dl, &county, today),
            None
        );
        // The city has not escalated yet: still its candidate.
        assert_eq!(
            escalation_candidate(&d, &crate::Chain::of(&owner), dl, &code("5301"), today),
            Some(21)
        );
        let g = Derived::new(Grade::General);
        assert_eq!(
            escalation_candidate(&g, &crate::Chain::of(&owner), dl, &county, today),
            None
        );
    }

    #[test]
    fn escalating_a_closed_hazard_does_not_apply() {
        use EventKind::*;
        let mut d = fold(
            Grade::General,
            &[
                ev(Rectified, "530181006"),
                ev(Accept, "530181006"),
                ev(Close, "530181006"),
            ],
        );
        let esc = HazardEvent {
            method: Some("通报".into()),
            ..ev(Escalate, "530181")
        };
        assert!(apply(&mut d, &esc).is_err());
    }
    #[test]
    fn an_extension_is_decided_once_and_moves_the_deadline() {
        use EventKind::*;
        let req = |day: &str| HazardEvent {
            new_deadline: Some(day.into()),
            note: Some("设备到货延迟".into()),
            ..ev(ExtendRequest, "530181006")
        };
        let dec = |ok: bool| HazardEvent {
            approved: Some(ok),
            ..ev(ExtendDecision, "530181")
        };
        // A decision with nothing pending does not apply.
        assert_eq!(fold(Grade::General, &[dec(true)]).ignored, 1);
        let d = fold(Grade::General, &[req("2026-12-31"), req("2027-01-31")]);
        assert_eq!(
            (
                d.ignored,
                d.extension_pending.as_ref().unwrap().new_deadline.as_str()
            ),
            (1, "2026-12-31")
        );
        let d = fold(Grade::General, &[req("2026-12-31"), dec(false)]);
        assert_eq!(
            (
                d.extended,
                d.deadline.clone(),
                d.extension_pending.is_none()
            ),
            (0, None, true)
        );
        let d = fold(Grade::General, &[req("2026-12-31"), dec(true), dec(true)]);
        assert_eq!(
            (d.extended, d.deadline.as_deref(), d.ignored),
            (1, Some("2026-12-31"), 1)
        );
        // Closing makes a pending request moot.
        let d = fold(
            Grade::General,
            &[
                ev(Rectified, "530181006"),
                req("2026-12-31"),
                ev(Accept, "530181006"),
                ev(Close, "530181006"),
                dec(true),
            ],
        );
        assert_eq!((d.extended, d.ignored), (0, 1));
    }

    #[test]
    fn the_extension_is_decided_by_the_level_that_accepts_for_the_owner() {
        let owner = code("530181006");
        let k = EventKind::ExtendDecision;
        assert_eq!(
            may_add_event(k, &crate::Chain::of(&owner), &owner, &st(None)),
            Err("parent_decides")
        );
        assert_eq!(
            may_add_event(k, &crate::Chain::of(&owner), &code("530181007"), &st(None)),
            Err("parent_decides")
        );
        assert!(may_add_event(k, &crate::Chain::of(&owner), &code("530181"), &st(None)).is_ok());
        assert_eq!(
            may_add_event(k, &crate::Chain::of(&owner), &code("5301"), &st(None)),
            Err("parent_decides")
        );
        let city = code("5301");
        assert!(may_add_event(k, &crate::Chain::of(&owner), &city, &st(Some(&city))).is_ok());
        assert_eq!(
            may_add_event(
                k,
                &crate::Chain::of(&owner),
                &code("530181"),
                &st(Some(&city))
            ),
            Err("supervising_level_decides")
        );
        assert!(
            may_add_event(
                EventKind::ExtendRequest,
                &crate::Chain::of(&owner),
                &owner,
                &st(None)
            )
            .is_ok()
        );
        assert_eq!(
            may_add_event(
                EventKind::Reply,
                &crate::Chain::of(&owner),
                &code("530181"),
                &st(None)
            ),
            Err("owner_only")
        );
    }

    #[test]
    fn due_soon_is_within_n_days_and_not_overdue() {
        let dl = parse_date("deadline", "2026-11-22").unwrap();
        let day = |s| parse_date("d", s).unwrap();
        assert!(is_due_soon(Status::Open, dl, day("2026-11-19"), 3));
        assert!(!is_due_soon(Status::Open, dl, day("2026-11-18"), 3));
        assert!(is_due_soon(Status::Open, dl, dl, 3));
        assert!(!is_due_soon(Status::Open, dl, day("2026-11-23"), 3));
        assert!(!is_due_soon(Status::Closed, dl, dl, 3));
        assert_eq!(
            format_date(due_soon_until(day("2026-11-19"), 3)),
            "2026-11-22"
        );
    }
}
