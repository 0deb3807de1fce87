//! 任务 — directives (重点任务) issued to direct children, and each target's response.

use serde::{Deserialize, Serialize};

use crate::Error;

pub mod deadline;
pub mod review;
pub mod unit;

pub use deadline::{
    Cadence, Deadline, DueFor, Milestone, TargetDue, TargetProgress, day_of, is_due_soon,
    is_overdue,
};
pub use review::{Folded, Reminder, Review, ReviewDecision, ReviewState};
pub use unit::{Assignment, Group, Unit, UnitKind, UnitRole};

/// A target's response action: 签收, progress, done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseAction {
    /// 签收
    Receive,
    /// 进展
    Progress,
    /// 完成
    Complete,
}

impl ResponseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseAction::Receive => "receive",
            ResponseAction::Progress => "progress",
            ResponseAction::Complete => "complete",
        }
    }

    /// 中文名称: 签收, 进展, 完成.
    pub fn label_zh(self) -> &'static str {
        match self {
            ResponseAction::Receive => "签收",
            ResponseAction::Progress => "进展",
            ResponseAction::Complete => "完成",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "receive" => Ok(ResponseAction::Receive),
            "progress" => Ok(ResponseAction::Progress),
            "complete" => Ok(ResponseAction::Complete),
            _ => Err(Error::invalid(
                "action",
                "应为 receive、progress 或 complete / must be receive, progress or complete",
            )),
        }
    }
}

/// One target's response to a directive as read back from the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// 签收时间
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// 完成时间 — the first 完成, written once. Whether the unit is done now is folded from `updates`
    /// and the issuer's reviews ([`review::fold`]), not read from here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Progress reports in order.
    #[serde(default)]
    pub updates: Vec<ResponseUpdate>,
    /// 已完成的阶段节点 — labels of the milestones this target reported met.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestones_met: Vec<String>,
    /// 转发/分解 — ids of the directives this target issued to its own children from this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarded: Vec<String>,
}

impl Response {
    /// The day of the last progress report (进展 or 完成; 签收 is not a report), in CST.
    pub fn last_report_day(&self) -> Option<time::Date> {
        self.updates
            .iter()
            .filter(|u| u.action != ResponseAction::Receive)
            .filter_map(|u| day_of(&u.at))
            .max()
    }

    /// The days of every progress report, in order, in CST.
    pub fn report_days(&self) -> Vec<time::Date> {
        let mut days: Vec<time::Date> = self
            .updates
            .iter()
            .filter(|u| u.action != ResponseAction::Receive)
            .filter_map(|u| day_of(&u.at))
            .collect();
        days.sort();
        days
    }

    /// The rule's input for this response; `done` is the folded state's (see [`review::fold`]): a
    /// returned completion is not done, whatever the write-once `completed_at` says.
    pub fn progress(&self, start: Option<time::Date>, done: bool) -> TargetProgress<'_> {
        TargetProgress {
            start,
            done,
            last_report: self.last_report_day(),
            reports: self.report_days(),
            milestones_met: &self.milestones_met,
        }
    }
}

/// One response update (签收, 进展, 完成), kept as history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseUpdate {
    pub action: ResponseAction,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default)]
    pub user: String,
    /// 报送材料 — the files this update attaches (a plan, a summary report), written with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::evidence::Attachment>,
}
