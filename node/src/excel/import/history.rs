//! 历史 — the events after registration that lead to a row's status (告知, the 五落实 plan, progress,
//! rectified, accepted, closed), dated from the sheet and noted 导入.

use safemesh_model::hazard::plan::PlanInput;
use safemesh_model::hazard::{self as mh, EventKind, Grade, HazardEvent, Status, notify};
use time::Date;

use crate::records::Actor;

use super::IMPORTED;
use super::row::RowInput;

/// An imported event's time: noon of its day in China time, so it reads as that day in any zone.
fn at_noon(d: Date) -> String {
    format!("{}T04:00:00Z", mh::format_date(d))
}

/// The column of a plan error (`plan.measures`), as the columns table names it.
fn plan_field(field: &str) -> &'static str {
    crate::excel::columns::column_for_field(field).map_or("plan.responsible_unit", |c| c.field)
}

/// A refusal of a row's history: the field (a date column, or `status`) and why.
pub(super) type Refusal = (&'static str, String);

/// An event of the history and the field (column) its date came from.
pub(super) type Dated = (HazardEvent, &'static str);

/// The events after registration that lead to the row's status, with the sheet's dates, each noted
/// 导入. Errors name the date column at fault.
pub(super) fn history(
    r: &RowInput,
    grade: Grade,
    found_on: Date,
    today: Date,
    actor: &Actor,
) -> Result<(Status, Vec<Dated>), Refusal> {
    // A date without a status says the status: 销号日期 → closed, 整改完成日期 → rectified.
    let status = r.status.unwrap_or(if r.closed_on.is_some() {
        Status::Closed
    } else if r.rectified_on.is_some() {
        Status::PendingAcceptance
    } else {
        Status::Open
    });
    let ev = |kind: EventKind, day: Date, note: &str| HazardEvent {
        user: actor.user.clone(),
        note: Some(note.to_string()),
        ..HazardEvent::new(kind, actor.code.clone(), at_noon(day))
    };
    let check = |field: &'static str, label: &str, d: Date, not_before: Date, what: &str| {
        if d > today {
            return Err((
                field,
                format!("{label}不能晚于今天 / {field} is in the future"),
            ));
        }
        if d < not_before {
            return Err((
                field,
                format!("{label}不能早于{what} / {field} is before {what}"),
            ));
        }
        Ok(())
    };
    let mut out = Vec::new();
    if grade == Grade::Major && status != Status::Open {
        // The lifecycle wants 主要负责人 and 实际控制人 told before anything is done about a major
        // hazard; a ledger that records it rectified records that they were.
        let mut n = ev(
            EventKind::Notify,
            found_on,
            "导入：原台账记录为已整改或整改中，按已告知企业主要负责人和实际控制人补录",
        );
        n.method = Some("导入补录".into());
        n.recipients = notify::REQUIRED_RECIPIENTS
            .iter()
            .map(|s| s.to_string())
            .collect();
        out.push((n, "status"));
    }
    // The 五落实 plan, when the sheet gives one (a major hazard rectified or closed needs it: the
    // lifecycle accepts its rectification only with a complete plan). Its deadline is the row's.
    if status != Status::Open {
        match (&r.plan, grade) {
            (Some(p), _) => {
                let registered = r
                    .hazard
                    .deadline
                    .as_deref()
                    .and_then(|d| mh::parse_date("deadline", d).ok())
                    .unwrap_or(today);
                let input = PlanInput {
                    deadline: Some(mh::format_date(registered)),
                    ..p.clone()
                };
                let plan = input
                    .validate(grade, found_on, registered)
                    .map_err(|e| (plan_field(e.field()), e.reason()))?;
                let mut e = ev(EventKind::Plan, found_on, IMPORTED);
                e.plan = Some(plan);
                out.push((e, "plan.responsible_unit"));
            }
            (None, Grade::Major) if status != Status::Rectifying => {
                return Err((
                    "plan.responsible_unit",
                    "已整改或已销号的重大事故隐患须填写整改方案（五落实）：整改责任单位、整改责任人、整改措施、整改资金、应急预案 / a rectified or closed major hazard needs its plan columns".into(),
                ));
            }
            (None, _) => {}
        }
    }
    match status {
        Status::Open => {}
        Status::Rectifying => {
            out.push((
                ev(EventKind::Progress, today, "导入：原台账状态为整改中"),
                "status",
            ));
        }
        Status::PendingAcceptance | Status::Closed => {
            let closed = status == Status::Closed;
            let (rect_field, rect_day) = match (r.rectified_on, closed) {
                (Some(d), _) => ("rectified_on", d),
                (None, true) => match r.accepted_on.or(r.closed_on) {
                    Some(d) => ("closed_on", d),
                    None => {
                        return Err((
                            "closed_on",
                            "已销号的隐患须填写销号日期 / closed_on is required for a closed hazard"
                                .into(),
                        ));
                    }
                },
                (None, false) => {
                    return Err((
                        "rectified_on",
                        "已整改的隐患须填写整改完成日期 / rectified_on is required for a rectified hazard"
                            .into(),
                    ));
                }
            };
            check(rect_field, "整改完成日期", rect_day, found_on, "发现日期")?;
            out.push((ev(EventKind::Rectified, rect_day, IMPORTED), rect_field));
            if closed {
                let Some(close_day) = r.closed_on else {
                    return Err((
                        "closed_on",
                        "已销号的隐患须填写销号日期 / closed_on is required for a closed hazard"
                            .into(),
                    ));
                };
                let accept_day = r.accepted_on.unwrap_or(close_day);
                check(
                    "accepted_on",
                    "验收日期",
                    accept_day,
                    rect_day,
                    "整改完成日期",
                )?;
                check("closed_on", "销号日期", close_day, accept_day, "验收日期")?;
                out.push((ev(EventKind::Accept, accept_day, IMPORTED), "accepted_on"));
                out.push((ev(EventKind::Close, close_day, IMPORTED), "closed_on"));
            } else if r.accepted_on.is_some() || r.closed_on.is_some() {
                return Err((
                    "status",
                    "填写了验收或销号日期，整改状态应为已销号 / accepted_on or closed_on given, status should be closed"
                        .into(),
                ));
            }
        }
    }
    if status != Status::PendingAcceptance && status != Status::Closed && r.rectified_on.is_some() {
        return Err((
            "status",
            "填写了整改完成日期，整改状态应为已整改或已销号 / rectified_on given, status should be rectified or closed"
                .into(),
        ));
    }
    Ok((status, out))
}

pub(super) fn status_word(s: Status) -> &'static str {
    crate::format::status_label(s.as_str())
}
