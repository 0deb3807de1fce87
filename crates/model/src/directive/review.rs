//! 审核与催办 — the issuer's review of a unit's 完成 (审核通过 / 退回) and its reminders (催办), and the
//! fold that gives each unit its state from the unit's own updates and the issuer's reviews.
//!
//! Both are logs the issuer appends to (`core.reviews`, `core.reminders` in the document); nothing in
//! them is rewritten. A review names the unit and **which completion** it reviews (the unit's 1st, 2nd,
//! … 完成 update), so the fold does not depend on the order in which the two logs interleave:
//!
//! - no 完成 yet: 办理中 ([`ReviewState::Open`]);
//! - the unit's last 完成 is the `n`th: a 退回 of completion `n` → 已退回 ([`ReviewState::Returned`],
//!   back in progress: not done, its due days apply again, it may report 完成 again — the `n+1`th,
//!   which needs a review of its own); else an 审核通过 of completion `n` → 已办结
//!   ([`ReviewState::Approved`]); else 待审核 ([`ReviewState::Pending`]) — or, in a directive issued
//!   before reviews existed (no `core.review` flag), 已办结 as it was then.
//!
//! Two reviews of one completion (the issuer is one office, so only from two installs at once): 退回
//! wins, so every replica folds the same set of reviews to the same state whatever their order.
//! A review of a completion the unit has not made is kept and ignored (the fold is total).

use serde::{Deserialize, Serialize};

use super::{ResponseAction, ResponseUpdate};
use crate::Error;

/// 审核结论 — the issuer's decision on one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// 审核通过
    Approve,
    /// 退回 (a reason is required)
    Return,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approve => "approve",
            ReviewDecision::Return => "return",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "approve" | "审核通过" | "通过" => Ok(ReviewDecision::Approve),
            "return" | "退回" => Ok(ReviewDecision::Return),
            _ => Err(Error::invalid(
                "decision",
                "应为 approve（审核通过）或 return（退回）/ must be approve or return",
            )),
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReviewDecision::Approve => "审核通过",
            ReviewDecision::Return => "退回",
        }
    }
}

/// 审核 — one review, as stored in `core.reviews`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The unit reviewed: a node's code or a department's name.
    pub unit: String,
    /// Which of the unit's 完成 updates it reviews: 1 for the first.
    pub completion: u32,
    pub decision: ReviewDecision,
    /// 退回原因 (required for a return), or the reviewer's remark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
    #[serde(default)]
    pub user: String,
}

/// 催办 — one reminder, as stored in `core.reminders`: to the units named, with a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub units: Vec<String>,
    pub note: String,
    pub at: String,
    #[serde(default)]
    pub user: String,
}

/// 审核状态 — a unit's state as folded from its updates and the issuer's reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// 办理中 — no completion yet.
    Open,
    /// 待审核 — completed, awaiting the issuer's review.
    Pending,
    /// 已办结 — completed and approved (or completed before reviews existed).
    Approved,
    /// 已退回 — the last completion was returned: in progress again.
    Returned,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Open => "open",
            ReviewState::Pending => "pending",
            ReviewState::Approved => "approved",
            ReviewState::Returned => "returned",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReviewState::Open => "办理中",
            ReviewState::Pending => "待审核",
            ReviewState::Approved => "已办结",
            ReviewState::Returned => "已退回",
        }
    }

    /// Done for the deadline rule: the unit has completed and the completion stands (待审核 or 已办结).
    /// A returned unit is not done: its due days apply again.
    pub fn done(self) -> bool {
        matches!(self, ReviewState::Pending | ReviewState::Approved)
    }
}

/// One unit's folded position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub state: ReviewState,
    /// How many 完成 the unit has reported.
    pub completions: u32,
    /// When the standing completion was reported (none unless done).
    pub completed_at: Option<String>,
    /// The review that decided the state (the return or the approval of the last completion).
    pub decided_by: Option<Review>,
}

/// The fold: the unit's state from its updates (in their log order) and every review of it (any
/// order). `reviewed` says whether the directive requires review (`core.review`); without it an
/// unreviewed completion stands as 已办结, the rule before reviews existed. `legacy_completed_at` is
/// the response's write-once `completed_at`, used only when no 完成 update is in the log.
pub fn fold(
    updates: &[ResponseUpdate],
    reviews: &[&Review],
    reviewed: bool,
    legacy_completed_at: Option<&str>,
) -> Folded {
    let completes: Vec<&ResponseUpdate> = updates
        .iter()
        .filter(|u| u.action == ResponseAction::Complete)
        .collect();
    let (n, last_at) = match (completes.last(), legacy_completed_at) {
        (Some(u), _) => (completes.len() as u32, Some(u.at.clone())),
        (None, Some(at)) => (1, Some(at.to_string())),
        (None, None) => (0, None),
    };
    if n == 0 {
        return Folded {
            state: ReviewState::Open,
            completions: 0,
            completed_at: None,
            decided_by: None,
        };
    }
    let of_last = |d: ReviewDecision| {
        reviews
            .iter()
            .filter(|r| r.completion == n && r.decision == d)
            // One per decision whatever the order: the earliest, then the smallest by content.
            .min_by(|a, b| (&a.at, &a.user, &a.reason).cmp(&(&b.at, &b.user, &b.reason)))
            .map(|r| (*r).clone())
    };
    let (state, decided_by) = if let Some(r) = of_last(ReviewDecision::Return) {
        (ReviewState::Returned, Some(r))
    } else if let Some(r) = of_last(ReviewDecision::Approve) {
        (ReviewState::Approved, Some(r))
    } else if reviewed {
        (ReviewState::Pending, None)
    } else {
        (ReviewState::Approved, None)
    };
    Folded {
        completed_at: state.done().then_some(last_at).flatten(),
        state,
        completions: n,
        decided_by,
    }
}

/// Checks a review before it is written: the unit's state must be 待审核 (or, in a directive without
/// review, 已办结 — the issuer may still return it); a return needs a reason. Returns the completion
/// number the review is for.
pub fn check_review(
    folded: &Folded,
    decision: ReviewDecision,
    reason: Option<&str>,
) -> Result<u32, Error> {
    match folded.state {
        ReviewState::Pending => {}
        ReviewState::Approved if folded.decided_by.is_none() => {}
        ReviewState::Approved => {
            return Err(Error::invalid(
                "unit",
                "该单位已审核通过 / this unit's completion is already approved",
            ));
        }
        ReviewState::Open | ReviewState::Returned => {
            return Err(Error::invalid(
                "unit",
                "该单位尚未报告完成，无可审核 / this unit has no completion to review",
            ));
        }
    }
    if decision == ReviewDecision::Return && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::invalid(
            "reason",
            "退回须说明原因 / a return needs a reason",
        ));
    }
    Ok(folded.completions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(action: ResponseAction, at: &str) -> ResponseUpdate {
        ResponseUpdate {
            action,
            at: at.into(),
            percent: None,
            note: None,
            user: "u".into(),
            attachments: Vec::new(),
        }
    }

    fn review(completion: u32, decision: ReviewDecision, at: &str) -> Review {
        Review {
            unit: "530181006".into(),
            completion,
            decision,
            reason: (decision == ReviewDecision::Return).then(|| "材料不全".to_string()),
            at: at.into(),
            user: "issuer".into(),
        }
    }

    use ResponseAction::{Complete, Progress, Receive};
    use ReviewDecision::{Approve, Return};

    #[test]
    fn complete_return_complete_approve_runs_through_every_state() {
        let mut ups = vec![up(Receive, "2026-03-01T01:00:00Z")];
        let mut revs: Vec<Review> = Vec::new();
        let state = |ups: &[ResponseUpdate], revs: &[Review]| {
            fold(ups, &revs.iter().collect::<Vec<_>>(), true, None).state
        };
        assert_eq!(state(&ups, &revs), ReviewState::Open);
        ups.push(up(Complete, "2026-03-05T01:00:00Z"));
        assert_eq!(state(&ups, &revs), ReviewState::Pending);
        revs.push(review(1, Return, "2026-03-06T01:00:00Z"));
        assert_eq!(state(&ups, &revs), ReviewState::Returned);
        assert!(!ReviewState::Returned.done(), "returned is not done");
        ups.push(up(Progress, "2026-03-07T01:00:00Z"));
        assert_eq!(state(&ups, &revs), ReviewState::Returned);
        ups.push(up(Complete, "2026-03-08T01:00:00Z"));
        assert_eq!(
            state(&ups, &revs),
            ReviewState::Pending,
            "a second completion needs a review of its own"
        );
        revs.push(review(2, Approve, "2026-03-09T01:00:00Z"));
        let f = fold(&ups, &revs.iter().collect::<Vec<_>>(), true, None);
        assert_eq!(f.state, ReviewState::Approved);
        assert_eq!(f.completions, 2);
        assert_eq!(f.completed_at.as_deref(), Some("2026-03-08T01:00:00Z"));
    }

    #[test]
    fn a_directive_issued_before_reviews_counts_a_completion_as_approved() {
        let ups = vec![up(Complete, "2026-03-05T01:00:00Z")];
        assert_eq!(fold(&ups, &[], false, None).state, ReviewState::Approved);
        assert_eq!(fold(&ups, &[], true, None).state, ReviewState::Pending);
        // Only the write-once field, no update in the log: one completion.
        let f = fold(&[], &[], false, Some("2026-03-05T01:00:00Z"));
        assert_eq!((f.state, f.completions), (ReviewState::Approved, 1));
        // The issuer may still return it.
        let r = review(1, Return, "2026-03-06T01:00:00Z");
        assert_eq!(fold(&ups, &[&r], false, None).state, ReviewState::Returned);
    }

    #[test]
    fn a_review_of_a_completion_not_made_is_ignored() {
        let ups = vec![up(Complete, "2026-03-05T01:00:00Z")];
        let r = review(2, Approve, "2026-03-06T01:00:00Z");
        assert_eq!(fold(&ups, &[&r], true, None).state, ReviewState::Pending);
        assert_eq!(fold(&[], &[&r], true, None).state, ReviewState::Open);
    }

    #[test]
    fn reviews_are_checked_against_the_state() {
        let ups = vec![up(Complete, "2026-03-05T01:00:00Z")];
        let f = fold(&ups, &[], true, None);
        assert_eq!(check_review(&f, Approve, None).unwrap(), 1);
        assert_eq!(
            check_review(&f, Return, Some("  ")).unwrap_err().field(),
            "reason"
        );
        let open = fold(&[], &[], true, None);
        assert_eq!(
            check_review(&open, Approve, None).unwrap_err().field(),
            "unit"
        );
        let r = review(1, Approve, "2026-03-06T01:00:00Z");
        let approved = fold(&ups, &[&r], true, None);
        assert!(check_review(&approved, Return, Some("x")).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn action() -> impl Strategy<Value = ResponseAction> {
            prop_oneof![Just(Receive), Just(Progress), Just(Complete)]
        }

        fn decision() -> impl Strategy<Value = ReviewDecision> {
            prop_oneof![Just(Approve), Just(Return)]
        }

        proptest! {
            /// Whatever order the issuer's reviews merge in, the fold gives one state: reviews are
            /// matched to completions by number, and two of one completion resolve by content.
            #[test]
            fn any_interleaving_of_reviews_folds_to_the_same_state(
                actions in proptest::collection::vec(action(), 0..8),
                revs in proptest::collection::vec((1u32..4, decision(), 0u8..5), 0..6),
                perm in any::<proptest::sample::Index>(),
                reviewed in any::<bool>(),
            ) {
                let ups: Vec<ResponseUpdate> = actions
                    .iter()
                    .enumerate()
                    .map(|(i, a)| up(*a, &format!("2026-03-0{}T01:00:00Z", i + 1)))
                    .collect();
                let revs: Vec<Review> = revs
                    .iter()
                    .map(|(n, d, t)| review(*n, *d, &format!("2026-04-0{}T01:00:00Z", t + 1)))
                    .collect();
                let refs: Vec<&Review> = revs.iter().collect();
                let base = fold(&ups, &refs, reviewed, None);
                // Every rotation and the reversal of the review log.
                let k = if refs.is_empty() { 0 } else { perm.index(refs.len()) };
                let mut rotated = refs.clone();
                rotated.rotate_left(k);
                prop_assert_eq!(&fold(&ups, &rotated, reviewed, None), &base);
                let mut reversed = refs.clone();
                reversed.reverse();
                prop_assert_eq!(&fold(&ups, &reversed, reviewed, None), &base);
                // Done exactly when the last completion stands.
                prop_assert_eq!(base.state.done(), base.completed_at.is_some());
            }
        }
    }
}
