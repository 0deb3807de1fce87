//! 北京时间 — the calendar day of an instant in China Standard Time (UTC+8): every calendar rule
//! (overdue, cadences, months, an accident's day) counts days in it, whatever the node's clock zone.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

/// China Standard Time.
pub const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+8 is an offset"),
};

/// The day in China of an RFC 3339 instant (`2026-11-30T17:30:00Z` → 2026-12-01); `None` if it is
/// not one.
pub fn day_of_instant(at: &str) -> Option<Date> {
    OffsetDateTime::parse(at, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(CST).date())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_late_in_the_utc_day_is_the_next_day_in_china() {
        let d = day_of_instant("2026-11-30T17:30:00Z").unwrap();
        assert_eq!((d.month() as u8, d.day()), (12, 1));
        let d = day_of_instant("2026-11-30T15:59:59Z").unwrap();
        assert_eq!((d.month() as u8, d.day()), (11, 30));
        assert_eq!(day_of_instant("2026-11-30"), None);
    }
}
