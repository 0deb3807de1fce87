//! 承办情况 — each unit's state on a directive, with its due days by the rule of
//! `safemesh_model::directive::deadline`.

use serde::Serialize;

use super::DirectiveView;
use safemesh_model::directive::review::{Folded, fold};
use safemesh_model::directive::{Reminder, Response, ResponseUpdate, Review, ReviewState};

/// 承办情况 — one unit's position on a directive: a target node, a named department the issuer tracks,
/// or (cascade notices) any node below the issuer that signed for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetState {
    /// The node's code or the department's name.
    pub unit: String,
    pub kind: safemesh_model::directive::UnitKind,
    /// The unit's roles in the directive (牵头, 责任, …), strongest first.
    pub roles: Vec<safemesh_model::directive::UnitRole>,
    pub received: bool,
    pub received_at: Option<String>,
    pub percent: Option<u8>,
    /// The completion stands (待审核 or 已办结): not overdue, nothing due. A returned unit is not done.
    pub done: bool,
    /// When the standing completion was reported.
    pub completed_at: Option<String>,
    /// 审核状态 — 办理中, 待审核, 已办结 (only this counts as 办结), 已退回.
    pub review: ReviewState,
    /// How many times the unit reported 完成.
    pub completions: u32,
    /// The review that decided the state: the return (with its reason) or the approval.
    pub last_review: Option<Review>,
    /// 催办 — the issuer's reminders naming this unit, in order.
    pub reminders: Vec<Reminder>,
    /// The next deadline day, next report day and the day after which it is overdue.
    #[serde(skip)]
    pub due: safemesh_model::directive::TargetDue,
    /// The last update (签收, 进展 or 完成).
    pub last_update: Option<ResponseUpdate>,
    pub milestones_met: Vec<String>,
    /// Directives this unit forwarded from this one.
    pub forwarded: Vec<String>,
}

impl DirectiveView {
    /// Every unit the directive is assigned to, with its state, in assignment order: nodes (targets,
    /// then nodes below a cascade notice's issuer that answered), then departments.
    pub fn target_states(&self) -> Vec<TargetState> {
        use safemesh_model::directive::{UnitKind, UnitRole};
        let start = safemesh_model::directive::day_of(&self.created);
        let deadline = self.deadline();
        let roles_of = |name: &str| -> Vec<UnitRole> {
            let mut roles: Vec<UnitRole> = self
                .details
                .assignments
                .iter()
                .filter(|a| a.unit == name || a.resolved.iter().any(|r| r == name))
                .map(|a| a.role)
                .collect();
            roles.sort();
            roles.dedup();
            if roles.is_empty() {
                roles.push(UnitRole::Responsible);
            }
            roles
        };
        let state = |unit: String, kind: UnitKind, r: Option<&Response>| {
            let empty = Response::default();
            let r = r.unwrap_or(&empty);
            let folded = self.fold_unit(&unit, kind, r);
            TargetState {
                roles: roles_of(&unit),
                kind,
                received: r.received_at.is_some(),
                received_at: r.received_at.clone(),
                percent: r.percent,
                done: folded.state.done(),
                completed_at: folded.completed_at.clone(),
                review: folded.state,
                completions: folded.completions,
                last_review: folded.decided_by,
                reminders: self.reminders_for(&unit),
                due: deadline.due_for(
                    self.details.reporting.as_ref(),
                    &r.progress(start, folded.state.done()),
                ),
                last_update: r.updates.last().cloned(),
                milestones_met: r.milestones_met.clone(),
                forwarded: r.forwarded.clone(),
                unit,
            }
        };
        let mut out: Vec<TargetState> = self
            .core
            .targets
            .iter()
            .map(|t| {
                state(
                    t.to_string(),
                    UnitKind::Node,
                    self.responses.get(t.as_str()),
                )
            })
            .collect();
        if self.details.cascade {
            for (code, r) in &self.responses {
                if !self.core.targets.iter().any(|t| t.as_str() == code) {
                    out.push(state(code.clone(), UnitKind::Node, Some(r)));
                }
            }
        }
        for d in self.department_units() {
            let r = self.unit_responses.get(&d);
            out.push(state(d, UnitKind::Department, r));
        }
        out
    }
}

impl DirectiveView {
    /// One unit's state folded from its updates and the issuer's reviews of it
    /// ([`safemesh_model::directive::review::fold`]). A node's completion waits for review in a
    /// directive issued with review; a department's, recorded by the issuer itself, stands at once.
    pub fn fold_unit(
        &self,
        unit: &str,
        kind: safemesh_model::directive::UnitKind,
        r: &Response,
    ) -> Folded {
        let reviews: Vec<&Review> = self.reviews.iter().filter(|x| x.unit == unit).collect();
        let reviewed = self.details.review && kind == safemesh_model::directive::UnitKind::Node;
        fold(&r.updates, &reviews, reviewed, r.completed_at.as_deref())
    }

    /// The issuer's reminders (催办) that name `unit`, in order.
    pub fn reminders_for(&self, unit: &str) -> Vec<Reminder> {
        self.reminders
            .iter()
            .filter(|m| m.units.iter().any(|u| u == unit))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;
    use safemesh_model::AdminCode;
    use safemesh_model::directive::{
        Reminder, ResponseAction, ResponseUpdate, Review, ReviewDecision, ReviewState,
    };

    use crate::directive::{self, DirectiveCore, DirectiveDetails};

    const COUNTY: &str = "530181";
    const TWP: &str = "530181006";
    const TWP_B: &str = "530181007";

    fn code(s: &str) -> AdminCode {
        AdminCode::parse(s).unwrap()
    }

    fn complete(at: &str) -> ResponseUpdate {
        ResponseUpdate {
            action: ResponseAction::Complete,
            at: at.into(),
            percent: None,
            note: None,
            user: "u".into(),
            attachments: Vec::new(),
        }
    }

    fn review(decision: ReviewDecision, completion: u32, at: &str) -> Review {
        Review {
            unit: TWP.into(),
            completion,
            decision,
            reason: Some("材料不全".into()),
            at: at.into(),
            user: "v".into(),
        }
    }

    fn issued() -> AutoCommit {
        let mut doc = AutoCommit::new().with_actor(crate::actor::actor_id(&code(COUNTY), b"a"));
        let core = DirectiveCore {
            title: "t".into(),
            body: String::new(),
            targets: vec![code(TWP), code(TWP_B)],
            deadline: "2026-12-31".into(),
        };
        let details = DirectiveDetails {
            review: true,
            ..Default::default()
        };
        directive::create_with(
            &mut doc,
            &code(COUNTY),
            "2026-03-01T00:00:00Z",
            &core,
            &details,
        )
        .unwrap();
        doc.commit();
        doc
    }

    /// One replica per writer, each writing from what it has seen; merged in every order, every
    /// replica folds the same state for each unit.
    #[test]
    fn concurrent_reviews_and_responses_merge_to_one_state_in_any_order() {
        let mut base = issued();
        let mut twp = base
            .fork()
            .with_actor(crate::actor::actor_id(&code(TWP), b"t"));
        directive::respond(&mut twp, &code(TWP), &complete("2026-03-05T00:00:00Z")).unwrap();
        twp.commit();
        // Two installs of the issuer, each having seen the completion, decide differently at once;
        // meanwhile the other township completes and the issuer reminds it.
        let mut seen = base.fork();
        seen.merge(&mut twp).unwrap();
        let mut a = seen
            .fork()
            .with_actor(crate::actor::actor_id(&code(COUNTY), b"a"));
        directive::add_review(
            &mut a,
            &review(ReviewDecision::Approve, 1, "2026-03-06T00:00:00Z"),
        )
        .unwrap();
        directive::add_reminder(
            &mut a,
            &Reminder {
                units: vec![TWP_B.into()],
                note: "请报送".into(),
                at: "2026-03-06T00:00:00Z".into(),
                user: "v".into(),
            },
        )
        .unwrap();
        a.commit();
        let mut b = seen
            .fork()
            .with_actor(crate::actor::actor_id(&code(COUNTY), b"b"));
        directive::add_review(
            &mut b,
            &review(ReviewDecision::Return, 1, "2026-03-06T01:00:00Z"),
        )
        .unwrap();
        b.commit();
        let mut twp_b = base
            .fork()
            .with_actor(crate::actor::actor_id(&code(TWP_B), b"t"));
        directive::respond(&mut twp_b, &code(TWP_B), &complete("2026-03-06T00:00:00Z")).unwrap();
        twp_b.commit();
        let replicas = [&a, &b, &twp, &twp_b];
        let orders: [[usize; 4]; 4] = [[0, 1, 2, 3], [1, 0, 3, 2], [3, 2, 1, 0], [2, 3, 0, 1]];
        let mut states = Vec::new();
        for order in orders {
            let mut doc = base.fork();
            for i in order {
                doc.merge(&mut replicas[i].clone()).unwrap();
            }
            let view = directive::read(&doc).unwrap();
            let s: Vec<(String, ReviewState, bool, usize)> = view
                .target_states()
                .into_iter()
                .map(|t| (t.unit, t.review, t.done, t.reminders.len()))
                .collect();
            states.push(s);
        }
        assert!(states.windows(2).all(|w| w[0] == w[1]), "{states:?}");
        assert_eq!(
            states[0],
            vec![
                (TWP.to_string(), ReviewState::Returned, false, 0),
                (TWP_B.to_string(), ReviewState::Pending, true, 1),
            ],
            "退回 wins over a concurrent approval; the other township awaits review"
        );
    }
}
