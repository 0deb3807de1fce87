//! 汇总校验 — what a received summary may claim (issue 19: summaries taken on trust). A summary is
//! the sender's word about a whole subtree, so before it is stored the receiver bounds every claim:
//!
//! - whose it is: the peer's own or one of its subtree's (summaries travel up only), or a functional
//!   zone's along the zone's chain (its body's `owner_parent`: from the zone to the office it names,
//!   or relayed from below that office);
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
#[allow(clippy::too_many_arguments)]
pub fn accept(
    role: Role,
    peer: &AdminCode,
    me: &AdminCode,
    owner: &str,
    version: i64,
    period: &str,
    body: &str,
    now_us: i64,
) -> Result<Accepted, ErrorFrame> {
    // Whose it is, first by the owner alone (a zone's claim is checked with the body, below).
    let Some(owner) = AdminCode::parse(owner).ok().filter(|_| role == Role::Child) else {
        return Err(crate::link::summary_refused(peer, owner));
    };
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
    let owner = summary_owner(role, peer, me, owner.as_str(), parsed.owner_parent.as_ref())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    const NOW: i64 = 1_800_000_000_000_000;

    fn zone_body(parent: &str) -> String {
        format!(r#"{{"owner_parent":"{parent}","hazards":{{"total":2,"unclosed":2}}}}"#)
    }

    /// 功能区: a zone's summary (530171, by its prefix under the city, run by the county 530181) is
    /// taken from the zone by the county it names, and relayed by the county to the city; not from the
    /// zone by any other office, nor relayed by another county.
    #[test]
    fn a_zones_summary_travels_along_its_configured_chain() {
        let ok = |peer: &str, me: &str, parent: &str| {
            accept(
                Role::Child,
                &code(peer),
                &code(me),
                "530171",
                NOW,
                "2026-12",
                &zone_body(parent),
                NOW,
            )
        };
        assert_eq!(
            ok("530171", "530181", "530181").unwrap().owner,
            code("530171")
        );
        assert!(ok("530181", "5301", "530181").is_ok());
        assert!(ok("5301", "53", "530181").is_ok());
        let e = ok("530171", "5301", "530181").unwrap_err();
        assert_eq!(e.rule.as_deref(), Some("summary_from_own_subtree"), "{e:?}");
        let e = ok("530102", "5301", "530181").unwrap_err();
        assert_eq!(e.rule.as_deref(), Some("summary_from_own_subtree"), "{e:?}");
        // Without the claim, the prefix: the county may not relay a summary of 530171.
        let e = accept(
            Role::Child,
            &code("530181"),
            &code("5301"),
            "530171",
            NOW,
            "2026-12",
            "{}",
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.rule.as_deref(), Some("summary_from_own_subtree"), "{e:?}");
    }
}
