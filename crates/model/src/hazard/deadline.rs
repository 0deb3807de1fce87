//! 期限 — a hazard's calendar rules, all on days of China's calendar: 逾期 (and the 口径 for a hazard
//! awaiting acceptance), 临期, the acceptor's 验收超期, who should consider escalating, and the
//! `YYYY-MM-DD` dates they are written in.

use time::Date;

use super::{Derived, Grade, Status};
use crate::{AdminCode, Chain, Error};

/// 临期 — not closed, not awaiting acceptance (the owner's part is done), not overdue, and due within
/// `days` days (due today counts: 0 days left).
pub fn is_due_soon(status: Status, deadline: Date, today: Date, days: u32) -> bool {
    !matches!(status, Status::Closed | Status::PendingAcceptance)
        && deadline >= today
        && (deadline - today).whole_days() <= i64::from(days)
}

/// The last day a deadline may fall on to be 临期 as of `today`.
pub fn due_soon_until(today: Date, days: u32) -> Date {
    today
        .checked_add(time::Duration::days(i64::from(days)))
        .unwrap_or(today)
}

/// The one overdue rule: not closed and past its deadline's day (due today is not overdue).
pub fn is_overdue(status: Status, deadline: Date, today: Date) -> bool {
    status != Status::Closed && today > deadline
}

/// 逾期天数 — whole days past the deadline's day, if overdue.
pub fn days_overdue(status: Status, deadline: Date, today: Date) -> Option<i64> {
    is_overdue(status, deadline, today).then(|| (today - deadline).whole_days())
}

/// 逾期 as counted against the owner — the 口径 (docs/DOMAIN.md, 待验收与逾期): not closed and past its
/// deadline's day, except a hazard awaiting acceptance that the owner reported rectified on or before
/// that day: it is 待验收, not 逾期, however long the acceptance takes (that delay is the acceptor's:
/// [`acceptance_days_overdue`]). Reported late, it stays 逾期, its days counted to the day of the
/// report (the owner's delay ended there). A hazard awaiting acceptance whose report day is unknown
/// counts as before, to today.
pub fn overdue_days(
    status: Status,
    deadline: Date,
    rectified_on: Option<Date>,
    today: Date,
) -> Option<i64> {
    match (status, rectified_on) {
        (Status::PendingAcceptance, Some(r)) if r <= deadline => None,
        (Status::PendingAcceptance, Some(r)) => {
            (today > deadline).then(|| (r.min(today) - deadline).whole_days())
        }
        _ => days_overdue(status, deadline, today),
    }
}

/// The days an acceptor has to accept (复查验收) a hazard reported rectified, unless its node says
/// otherwise: 10, after 《安全生产事故隐患排查治理暂行规定》（原国家安监总局令第16号）第二十三条 — the
/// supervising department reviews on site within 10 days of the enterprise's report.
pub const DEFAULT_ACCEPTANCE_DAYS: u32 = 10;

/// The last day to accept a hazard the owner reported rectified on `rectified_on`.
pub fn acceptance_due(rectified_on: Date, days: u32) -> Date {
    rectified_on
        .checked_add(time::Duration::days(i64::from(days)))
        .unwrap_or(rectified_on)
}

/// 验收超期 — the acceptor's delay: a hazard awaiting acceptance past `days` days after the owner's
/// report; the whole days past [`acceptance_due`]. Shown to the acceptor's level (the supervising level
/// of a listed hazard, else the owner), never counted as the owner's 逾期.
pub fn acceptance_days_overdue(
    status: Status,
    rectified_on: Option<Date>,
    days: u32,
    today: Date,
) -> Option<i64> {
    let r = rectified_on.filter(|_| status == Status::PendingAcceptance)?;
    let due = acceptance_due(r, days);
    (today > due).then(|| (today - due).whole_days())
}

/// 升级督办候选 — whether `office` should consider escalating this hazard: a major hazard in its
/// jurisdiction below it (in the owner's chain: a functional zone's superiors are its configured
/// parent's), overdue, that `office` has not escalated yet. Returns the days overdue.
pub fn escalation_candidate(
    d: &Derived,
    owner: &Chain,
    deadline: Date,
    office: &AdminCode,
    today: Date,
) -> Option<i64> {
    if d.grade != Grade::Major || !owner.has_superior(office) || d.escalated_by(office) {
        return None;
    }
    overdue_days(d.status, deadline, d.rectified_on(), today)
}

/// Parses a `YYYY-MM-DD` date, naming `field` on error.
pub fn parse_date(field: &str, s: &str) -> Result<Date, Error> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &fmt)
        .map_err(|_| Error::invalid(field, "日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD"))
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    d.format(&fmt).unwrap_or_default()
}
