//! 汇总校验 — what a received summary may claim (issue 19: summaries taken on trust). A summary is
//! the sender's word about a whole subtree, so before it is stored the receiver bounds every claim:
//!
//! - whose it is: the peer's own or one of its subtree's (summaries travel up only);
//! - its period a calendar month (`YYYY-MM`), its body at most [`MAX_SUMMARY_BODY`] bytes of a
//!   summary body whose counts are consistent ([`SummaryBody::check`]);
//! - its version (the publisher's clock, in µs; the larger wins) no further ahead of the receiver's
//!   clock than [`MAX_VERSION_AHEAD_US`]: a version beyond that is stored as that bound, so a forged
//!   `i64::MAX` holds an office's roll-up for a day at most instead of forever, and the publisher's
//!   next honest versions win again once the receiver's clock passes it.
//!
//! Pure: the receiver's clock is passed in.

use safemesh_model::AdminCode;
use safemesh_model::summary::SummaryBody;

use crate::frame::{ErrorCode, ErrorFrame};
use crate::link::{Role, summary_owner};

/// Bytes a summary body may have (a province's is a few KiB).
pub const MAX_SUMMARY_BODY: usize = 256 * 1024;

/// How far ahead of the receiver's clock a summary's version may be (a day, in µs).
pub const MAX_VERSION_AHEAD_US: i64 = 24 * 3600 * 1_000_000;

/// A summary as the receiver stores it: whose, and the version it is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub owner: AdminCode,
    pub version: i64,
}

/// Checks a received summary against what the peer could know; `now_us` is the receiver's clock
/// (µs since the epoch). Returns where and under which version to store it, or the frame that refuses
/// the batch.
pub fn accept(
    role: Role,
    peer: &AdminCode,
    owner: &str,
    version: i64,
    period: &str,
    body: &str,
    now_us: i64,
) -> Result<Accepted, ErrorFrame> {
    let owner = summary_owner(role, peer, owner)?;
    let refuse = |why: String| ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: Some(format!("summary:{owner}")),
        path: Some("summary".into()),
        rule: Some("summary_bounds".into()),
        message: format!("summary of {owner}: {why}"),
    };
    if version <= 0 {
        return Err(refuse(format!("version {version} is not a time")));
    }
    if !is_month(period) {
        return Err(refuse(format!("period {period:?} is not YYYY-MM")));
    }
    if body.len() > MAX_SUMMARY_BODY {
        return Err(refuse(format!(
            "body of {} bytes > {MAX_SUMMARY_BODY}",
            body.len()
        )));
    }
    let parsed: SummaryBody =
        serde_json::from_str(body).map_err(|e| refuse(format!("body: {e}")))?;
    parsed.check(&owner).map_err(refuse)?;
    Ok(Accepted {
        owner,
        version: version.min(now_us.saturating_add(MAX_VERSION_AHEAD_US)),
    })
}

fn is_month(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(p[5..].parse::<u8>(), Ok(1..=12))
}
