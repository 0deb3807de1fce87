//! 承办情况 — each unit's state on a directive, with its due days by the rule of
//! `safemesh_model::directive::deadline`.

use serde::Serialize;

use super::DirectiveView;
use safemesh_model::directive::{Response, ResponseUpdate};

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
    pub done: bool,
    pub completed_at: Option<String>,
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
            TargetState {
                roles: roles_of(&unit),
                unit,
                kind,
                received: r.received_at.is_some(),
                received_at: r.received_at.clone(),
                percent: r.percent,
                done: r.completed_at.is_some(),
                completed_at: r.completed_at.clone(),
                due: deadline.due_for(self.details.reporting.as_ref(), &r.progress(start)),
                last_update: r.updates.last().cloned(),
                milestones_met: r.milestones_met.clone(),
                forwarded: r.forwarded.clone(),
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
