//! 汇总 — the roll-up summary a node publishes to every ancestor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Hazard counts over some scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardCounts {
    pub total: u64,
    pub open: u64,
    pub closed: u64,
    pub major: u64,
    pub overdue: u64,
    pub by_sector: BTreeMap<String, u64>,
    #[serde(default)]
    pub by_status: BTreeMap<String, u64>,
}

impl HazardCounts {
    pub fn add(&mut self, o: &HazardCounts) {
        self.total += o.total;
        self.open += o.open;
        self.closed += o.closed;
        self.major += o.major;
        self.overdue += o.overdue;
        for (k, v) in &o.by_sector {
            *self.by_sector.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.by_status {
            *self.by_status.entry(k.clone()).or_default() += v;
        }
    }
}

/// Directive counts over some scope: issued by offices in scope, and responses owed by them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectiveCounts {
    /// Directives issued.
    pub issued: u64,
    /// (directive, target) pairs assigned.
    pub assignments: u64,
    /// 已签收
    pub received: u64,
    /// 已完成
    pub completed: u64,
    /// Assignments past deadline and not completed.
    pub overdue: u64,
}

impl DirectiveCounts {
    pub fn add(&mut self, o: &DirectiveCounts) {
        self.issued += o.issued;
        self.assignments += o.assignments;
        self.received += o.received;
        self.completed += o.completed;
        self.overdue += o.overdue;
    }
}

/// A node's published summary: its own records plus its children's latest summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryBody {
    /// Counts over the node and its whole subtree.
    pub hazards: HazardCounts,
    pub directives: DirectiveCounts,
    /// Counts of the node's own records only.
    pub own_hazards: HazardCounts,
    /// Number of descendants whose summary is included.
    pub reporting_descendants: u64,
}
