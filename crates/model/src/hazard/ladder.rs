//! 督办阶梯 — the graded ladder 提醒 → 督办 → 函告 → 通报 → 约谈 → 曝光 (STANDARDS §6.6, §8 item 8;
//! 《安全生产约谈实施办法（试行）》: a graded ladder, each step with a written-reply obligation), and the
//! written replies (书面回复) an escalating office is owed.
//!
//! Rungs as the history records them: 提醒 — a `comment` from a level above the owner; 督办 — a
//! `supervise` (挂牌督办); 函告, 通报, 约谈, 曝光 — an `escalate` with that method. The next step
//! suggested is the rung after the highest one the history reached, whoever took it.

use serde::Serialize;
use time::Date;

use super::{Derived, ESCALATION_METHODS, EventKind, HazardEvent, parse_date};
use crate::{AdminCode, Chain};

/// The ladder, lowest rung first.
pub const LADDER: [&str; 6] = ["提醒", "督办", "函告", "通报", "约谈", "曝光"];

/// The next step suggested for a hazard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The rung suggested (one of [`LADDER`]).
    pub step: &'static str,
    /// The event that takes it: `comment` (提醒), `supervise` (督办) or `escalate`.
    pub kind: &'static str,
    /// For `escalate`: the method.
    pub method: Option<&'static str>,
    /// The highest rung reached so far, if any.
    pub reached: Option<&'static str>,
    /// Escalations whose written reply is past its day and not recorded.
    pub late_replies: usize,
}

/// The highest rung `events` (folded to `d`) reached for a hazard owned by `owner`: its index in
/// [`LADDER`].
pub fn reached(owner: &Chain, events: &[HazardEvent], d: &Derived) -> Option<usize> {
    let reminded = events
        .iter()
        .any(|e| e.kind == EventKind::Comment && owner.has_superior(&e.by));
    let escalated = d
        .escalated
        .iter()
        .filter_map(|e| ESCALATION_METHODS.iter().position(|m| *m == e.method))
        .max()
        .map(|i| i + 2);
    escalated
        .or(d.supervising.as_ref().map(|_| 1))
        .or(reminded.then_some(0))
}

/// The next rung for a hazard: the one after the highest reached (提醒 when none was), 曝光 at the top.
pub fn suggest(owner: &Chain, events: &[HazardEvent], d: &Derived, today: Date) -> Suggestion {
    let top = reached(owner, events, d);
    let next = top.map_or(0, |r| (r + 1).min(LADDER.len() - 1));
    let step = LADDER[next];
    Suggestion {
        step,
        kind: match next {
            0 => EventKind::Comment.as_str(),
            1 => EventKind::Supervise.as_str(),
            _ => EventKind::Escalate.as_str(),
        },
        method: (next >= 2).then_some(step),
        reached: top.map(|r| LADDER[r]),
        late_replies: d
            .escalated
            .iter()
            .filter(|e| {
                e.replied_at.is_none() && reply_late_days(e.reply_by.as_deref(), today).is_some()
            })
            .count(),
    }
}

/// Days a reply due by `reply_by` is late as of `today` (`None` if not late or no day was set).
pub fn reply_late_days(reply_by: Option<&str>, today: Date) -> Option<i64> {
    let day = parse_date("reply_by", reply_by?).ok()?;
    (today > day).then(|| (today - day).whole_days())
}

/// One written reply `office` is owed and has not received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyDue {
    /// The escalation's place among the hazard's escalations (`Derived::escalated`).
    pub index: usize,
    pub method: String,
    /// When the escalation was made.
    pub escalated_at: String,
    pub reply_by: Option<String>,
    /// Past `reply_by` with no reply recorded.
    pub late: bool,
    /// Days past `reply_by` (0 when not late).
    pub days_late: i64,
}

/// The escalations `office` made on this hazard that have no reply yet, late or not yet due.
pub fn replies_due(d: &Derived, office: &AdminCode, today: Date) -> Vec<ReplyDue> {
    d.escalated
        .iter()
        .enumerate()
        .filter(|(_, e)| &e.by == office && e.replied_at.is_none())
        .map(|(index, e)| {
            let late = reply_late_days(e.reply_by.as_deref(), today);
            ReplyDue {
                index,
                method: e.method.clone(),
                escalated_at: e.at.clone(),
                reply_by: e.reply_by.clone(),
                late: late.is_some(),
                days_late: late.unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazard::{Grade, fold};

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    fn ev(kind: EventKind, by: &str) -> HazardEvent {
        HazardEvent::new(kind, code(by), "2026-11-01T00:00:00Z")
    }

    fn esc(by: &str, m: &str, reply_by: &str) -> HazardEvent {
        HazardEvent {
            method: Some(m.into()),
            reply_by: Some(reply_by.into()),
            ..ev(EventKind::Escalate, by)
        }
    }

    fn reply(to: &str, m: &str) -> HazardEvent {
        HazardEvent {
            method: Some(m.into()),
            to: Some(code(to)),
            ..ev(EventKind::Reply, "530181006")
        }
    }

    #[test]
    fn the_ladder_climbs_from_the_highest_rung_reached() {
        let owner = code("530181006");
        let today = parse_date("t", "2026-12-01").unwrap();
        let at =
            |log: &[HazardEvent]| suggest(&Chain::of(&owner), log, &fold(Grade::Major, log), today);
        let s = at(&[ev(EventKind::Registered, "530181006")]);
        assert_eq!((s.step, s.kind, s.reached), ("提醒", "comment", None));
        // The owner's own comment is no 提醒.
        assert_eq!(at(&[ev(EventKind::Comment, "530181006")]).step, "提醒");
        let log = vec![ev(EventKind::Comment, "530181")];
        assert_eq!(at(&log).step, "督办");
        let log = vec![HazardEvent {
            level: Some(code("5301")),
            ..ev(EventKind::Supervise, "5301")
        }];
        let s = at(&log);
        assert_eq!(
            (s.step, s.kind, s.method),
            ("函告", "escalate", Some("函告"))
        );
        let log = vec![esc("530181", "约谈", "2026-11-20")];
        let s = at(&log);
        assert_eq!(
            (s.step, s.reached, s.late_replies),
            ("曝光", Some("约谈"), 1)
        );
        let log = vec![esc("530181", "曝光", "2026-12-20")];
        assert_eq!(at(&log).step, "曝光");
    }

    #[test]
    fn a_reply_answers_the_earliest_open_escalation_of_that_office_and_method() {
        let county = code("530181");
        let today = parse_date("t", "2026-11-25").unwrap();
        let log = vec![
            esc("530181", "函告", "2026-11-20"),
            esc("530181", "通报", "2026-11-30"),
            esc("5301", "函告", "2026-11-20"),
            reply("530181", "函告"),
        ];
        let d = fold(Grade::Major, &log);
        assert_eq!(d.ignored, 0);
        assert!(d.escalated[0].replied_at.is_some());
        assert!(d.escalated[2].replied_at.is_none());
        let due = replies_due(&d, &county, today);
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].method.as_str(), due[0].late), ("通报", false));
        let city = replies_due(&d, &code("5301"), today);
        assert_eq!((city[0].late, city[0].days_late), (true, 5));
        // A second reply to the county's 函告 answers nothing.
        let mut log2 = log.clone();
        log2.push(reply("530181", "函告"));
        assert_eq!(fold(Grade::Major, &log2).ignored, 1);
    }
}
