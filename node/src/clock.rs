//! 时钟 — the two readings of the clock the node's records take: the instant a change is made, as the
//! store writes it, and the day deadlines are counted in.

/// Now as RFC 3339 (UTC, seconds): when an event, a response or a summary was made.
pub use safemesh_store::now_rfc3339;

/// Today in UTC+8 (China Standard Time), the day deadlines are counted in.
pub fn today() -> time::Date {
    (time::OffsetDateTime::now_utc() + time::Duration::hours(8)).date()
}
