//! 整改方案（五落实）— the rectification plan a `plan` event sets: responsible unit and person,
//! measures, funds, deadline and contingency plan (责任、措施、资金、时限、预案).

use serde::{Deserialize, Serialize};
use time::Date;

use super::{Grade, format_date, parse_date};
use crate::Error;

/// 整改方案 — the plan as stored in a `plan` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// 责任单位
    pub responsible_unit: String,
    /// 责任人
    pub responsible_person: String,
    /// 整改措施
    pub measures: String,
    /// 整改资金（万元）
    pub funds_wan: f64,
    /// 整改时限 `YYYY-MM-DD`
    pub deadline: String,
    /// 应急预案 / 整改期间的安全防范措施
    #[serde(default)]
    pub contingency_plan: String,
}

impl Plan {
    /// 五落实到位: every one of the five is in place (funds may be zero, a management fix costs nothing).
    pub fn complete(&self) -> bool {
        !(self.responsible_unit.is_empty()
            || self.responsible_person.is_empty()
            || self.measures.is_empty()
            || self.deadline.is_empty()
            || self.contingency_plan.is_empty())
    }
}

/// Funds as a client sends them: a number, or a number in a string (`"48.5"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Funds {
    Number(f64),
    Text(String),
}

/// A plan as it comes in; [`PlanInput::validate`] checks it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlanInput {
    pub responsible_unit: Option<String>,
    pub responsible_person: Option<String>,
    pub measures: Option<String>,
    pub funds_wan: Option<Funds>,
    pub deadline: Option<String>,
    pub contingency_plan: Option<String>,
}

/// The most a single plan may budget: 1000 亿元.
const MAX_FUNDS_WAN: f64 = 10_000_000.0;

fn text(field: &str, v: Option<String>, max: usize) -> Result<String, Error> {
    let s = v.map(|s| s.trim().to_string()).unwrap_or_default();
    if s.is_empty() {
        return Err(Error::invalid(
            format!("plan.{field}"),
            format!("整改方案须写明 {field}（五落实） / plan.{field} is required"),
        ));
    }
    if s.chars().count() > max {
        return Err(Error::invalid(
            format!("plan.{field}"),
            format!("不能超过 {max} 字 / longer than {max} characters"),
        ));
    }
    Ok(s)
}

impl PlanInput {
    /// Checks the plan of a hazard of `grade` found on `found_on` and registered with `registered`
    /// as its deadline. The plan's deadline may be earlier, never later: extending a deadline is not
    /// a plan's to decide. A major hazard's plan needs a contingency plan (治理方案须含应急预案).
    pub fn validate(self, grade: Grade, found_on: Date, registered: Date) -> Result<Plan, Error> {
        let responsible_unit = text("responsible_unit", self.responsible_unit, 200)?;
        let responsible_person = text("responsible_person", self.responsible_person, 50)?;
        let measures = text("measures", self.measures, 5000)?;
        let funds_wan = match self.funds_wan {
            None => {
                return Err(Error::invalid(
                    "plan.funds_wan",
                    "整改资金（万元）必填，无需资金填 0 / plan.funds_wan is required (0 if none)",
                ));
            }
            Some(Funds::Number(n)) => n,
            Some(Funds::Text(t)) => t.trim().parse::<f64>().map_err(|_| {
                Error::invalid(
                    "plan.funds_wan",
                    "整改资金应为数字（万元） / plan.funds_wan must be a number of 万元",
                )
            })?,
        };
        if !funds_wan.is_finite() || funds_wan < 0.0 {
            return Err(Error::invalid(
                "plan.funds_wan",
                "整改资金不能为负数 / plan.funds_wan cannot be negative",
            ));
        }
        if funds_wan > MAX_FUNDS_WAN {
            return Err(Error::invalid(
                "plan.funds_wan",
                "整改资金超出合理范围（单位为万元） / plan.funds_wan is implausibly large (unit: 万元)",
            ));
        }
        let deadline_s = text("deadline", self.deadline, 10)?;
        let deadline = parse_date("plan.deadline", &deadline_s)?;
        if deadline < found_on {
            return Err(Error::invalid(
                "plan.deadline",
                format!(
                    "整改时限不能早于发现日期 {} / plan.deadline is before the hazard was found",
                    format_date(found_on)
                ),
            ));
        }
        if deadline > registered {
            return Err(Error::invalid(
                "plan.deadline",
                format!(
                    "整改时限不能晚于登记的整改期限 {} / plan.deadline is after the registered deadline",
                    format_date(registered)
                ),
            ));
        }
        let contingency_plan = match grade {
            Grade::Major => text("contingency_plan", self.contingency_plan, 5000)?,
            Grade::General => self
                .contingency_plan
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        };
        Ok(Plan {
            responsible_unit,
            responsible_person,
            measures,
            funds_wan,
            deadline: format_date(deadline),
            contingency_plan,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date("d", s).unwrap()
    }

    fn input() -> PlanInput {
        PlanInput {
            responsible_unit: Some("安宁某某化工有限公司".into()),
            responsible_person: Some("李四（总经理）".into()),
            measures: Some("增设紧急切断阀并与报警联锁".into()),
            funds_wan: Some(Funds::Number(48.0)),
            deadline: Some("2026-12-20".into()),
            contingency_plan: Some("限量储存，专人巡检".into()),
        }
    }

    #[test]
    fn a_full_plan_is_complete() {
        let p = input()
            .validate(Grade::Major, d("2026-11-01"), d("2026-12-31"))
            .unwrap();
        assert!(p.complete());
        assert_eq!(p.funds_wan, 48.0);
    }

    #[test]
    fn each_missing_or_bad_part_names_its_field() {
        let cases: Vec<(&str, PlanInput)> = vec![
            (
                "plan.responsible_unit",
                PlanInput {
                    responsible_unit: None,
                    ..input()
                },
            ),
            (
                "plan.responsible_person",
                PlanInput {
                    responsible_person: Some(" ".into()),
                    ..input()
                },
            ),
            (
                "plan.measures",
                PlanInput {
                    measures: None,
                    ..input()
                },
            ),
            (
                "plan.funds_wan",
                PlanInput {
                    funds_wan: None,
                    ..input()
                },
            ),
            (
                "plan.funds_wan",
                PlanInput {
                    funds_wan: Some(Funds::Number(-1.0)),
                    ..input()
                },
            ),
            (
                "plan.funds_wan",
                PlanInput {
                    funds_wan: Some(Funds::Text("四十万".into())),
                    ..input()
                },
            ),
            (
                "plan.deadline",
                PlanInput {
                    deadline: Some("2027-01-01".into()),
                    ..input()
                },
            ),
            (
                "plan.deadline",
                PlanInput {
                    deadline: Some("2026-10-01".into()),
                    ..input()
                },
            ),
            (
                "plan.deadline",
                PlanInput {
                    deadline: Some("20261220".into()),
                    ..input()
                },
            ),
            (
                "plan.contingency_plan",
                PlanInput {
                    contingency_plan: None,
                    ..input()
                },
            ),
        ];
        for (field, p) in cases {
            let e = p
                .validate(Grade::Major, d("2026-11-01"), d("2026-12-31"))
                .unwrap_err();
            assert_eq!(e.field(), field);
        }
    }

    #[test]
    fn general_hazard_plan_may_omit_contingency_and_take_funds_as_text() {
        let p = PlanInput {
            contingency_plan: None,
            funds_wan: Some(Funds::Text("0.5".into())),
            ..input()
        }
        .validate(Grade::General, d("2026-11-01"), d("2026-12-31"))
        .unwrap();
        assert_eq!(p.funds_wan, 0.5);
        assert!(!p.complete());
    }
}
