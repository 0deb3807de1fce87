//! 生产安全事故 — accidents and their grade under State Council Order 493 (《生产安全事故报告和调查处理条例》).

use serde::{Deserialize, Serialize};

use crate::Error;

/// 事故等级.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccidentGrade {
    /// 一般事故
    General,
    /// 较大事故
    Larger,
    /// 重大事故
    Major,
    /// 特别重大事故
    EspeciallyMajor,
}

impl AccidentGrade {
    pub const ALL: [AccidentGrade; 4] = [
        AccidentGrade::General,
        AccidentGrade::Larger,
        AccidentGrade::Major,
        AccidentGrade::EspeciallyMajor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccidentGrade::General => "general",
            AccidentGrade::Larger => "larger",
            AccidentGrade::Major => "major",
            AccidentGrade::EspeciallyMajor => "especially_major",
        }
    }

    /// 中文名称.
    pub fn label(self) -> &'static str {
        match self {
            AccidentGrade::General => "一般",
            AccidentGrade::Larger => "较大",
            AccidentGrade::Major => "重大",
            AccidentGrade::EspeciallyMajor => "特别重大",
        }
    }

    /// The grade of an accident: the highest that any of deaths (3/10/30), serious injuries (10/50/100,
    /// including acute industrial poisoning) or direct economic loss (1000/5000/10000 万元) reaches, the
    /// lower bound included (Order 493, art. 3).
    pub fn of(deaths: u32, serious_injuries: u32, direct_loss_wan: f64) -> AccidentGrade {
        let by_deaths = match deaths {
            30.. => AccidentGrade::EspeciallyMajor,
            10..=29 => AccidentGrade::Major,
            3..=9 => AccidentGrade::Larger,
            _ => AccidentGrade::General,
        };
        let by_injuries = match serious_injuries {
            100.. => AccidentGrade::EspeciallyMajor,
            50..=99 => AccidentGrade::Major,
            10..=49 => AccidentGrade::Larger,
            _ => AccidentGrade::General,
        };
        let by_loss = if direct_loss_wan >= 10000.0 {
            AccidentGrade::EspeciallyMajor
        } else if direct_loss_wan >= 5000.0 {
            AccidentGrade::Major
        } else if direct_loss_wan >= 1000.0 {
            AccidentGrade::Larger
        } else {
            AccidentGrade::General
        };
        by_deaths.max(by_injuries).max(by_loss)
    }
}

/// Validates an accident's figures, naming the field.
pub fn validate_figures(
    deaths: i64,
    serious_injuries: i64,
    direct_loss_wan: f64,
) -> Result<(u32, u32, f64), Error> {
    let count = |field: &str, v: i64| -> Result<u32, Error> {
        u32::try_from(v)
            .map_err(|_| Error::invalid(field, "应为不小于 0 的整数 / must be a whole number ≥ 0"))
    };
    if !direct_loss_wan.is_finite() || direct_loss_wan < 0.0 {
        return Err(Error::invalid(
            "direct_loss_wan",
            "应为不小于 0 的数（万元）/ must be a number ≥ 0 (10,000 yuan)",
        ));
    }
    Ok((
        count("deaths", deaths)?,
        count("serious_injuries", serious_injuries)?,
        direct_loss_wan,
    ))
}

/// 补报期限 — how many days after the day of an accident its casualty figures may still be corrected
/// (补报): 7 for fire (消防) and road traffic (道路交通) accidents, 30 for the others (STANDARDS §3.1:
/// casualty changes within 30 days, fire and road within 7 days, must be reported).
pub fn supplement_days(sector: &str) -> i64 {
    match sector {
        "消防" | "道路交通" => 7,
        _ => 30,
    }
}

/// Whether a 补报 made on `today` (China time) of an accident of `sector` that happened on `day` is
/// within its window — the day of the accident plus [`supplement_days`], that last day included.
/// Refused with the field `occurred_at` and the last day it was open.
pub fn supplement_open(sector: &str, day: time::Date, today: time::Date) -> Result<(), Error> {
    let days = supplement_days(sector);
    let last = day.saturating_add(time::Duration::days(days));
    if today > last {
        return Err(Error::invalid(
            "occurred_at",
            format!(
                "事故发生已超过 {days} 日，补报期限已于 {last} 届满 / the {days}-day window for correcting the figures closed on {last}"
            ),
        ));
    }
    Ok(())
}

/// A count of accidents and the deaths they carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountDeaths {
    pub count: u64,
    pub deaths: u64,
}

impl CountDeaths {
    pub fn add(&mut self, o: &CountDeaths) {
        self.count = self.count.saturating_add(o.count);
        self.deaths = self.deaths.saturating_add(o.deaths);
    }
}

#[cfg(test)]
mod tests {
    use super::AccidentGrade::*;
    use super::*;

    #[test]
    fn lower_bounds_are_included_and_the_highest_criterion_wins() {
        assert_eq!(AccidentGrade::of(0, 0, 0.0), General);
        assert_eq!(AccidentGrade::of(2, 9, 999.99), General);
        assert_eq!(AccidentGrade::of(3, 0, 0.0), Larger);
        assert_eq!(AccidentGrade::of(0, 10, 0.0), Larger);
        assert_eq!(AccidentGrade::of(0, 0, 1000.0), Larger);
        assert_eq!(AccidentGrade::of(9, 49, 4999.0), Larger);
        assert_eq!(AccidentGrade::of(10, 0, 0.0), Major);
        assert_eq!(AccidentGrade::of(0, 50, 0.0), Major);
        assert_eq!(AccidentGrade::of(0, 0, 5000.0), Major);
        assert_eq!(AccidentGrade::of(30, 0, 0.0), EspeciallyMajor);
        assert_eq!(AccidentGrade::of(0, 100, 0.0), EspeciallyMajor);
        assert_eq!(AccidentGrade::of(0, 0, 10000.0), EspeciallyMajor);
        assert_eq!(AccidentGrade::of(1, 60, 200.0), Major, "injuries decide");
        assert_eq!(Major.label(), "重大");
    }

    #[test]
    fn figures_are_validated_with_their_field() {
        assert_eq!(validate_figures(-1, 0, 0.0).unwrap_err().field(), "deaths");
        assert_eq!(
            validate_figures(0, -2, 0.0).unwrap_err().field(),
            "serious_injuries"
        );
        assert_eq!(
            validate_figures(0, 0, -5.0).unwrap_err().field(),
            "direct_loss_wan"
        );
        assert_eq!(
            validate_figures(0, 0, f64::NAN).unwrap_err().field(),
            "direct_loss_wan"
        );
        assert!(validate_figures(3, 1, 12.5).is_ok());
    }

    #[test]
    fn figures_may_be_corrected_within_30_days_or_7_for_fire_and_road() {
        let day = time::macros::date!(2026 - 03 - 01);
        let on = |d: i64| day + time::Duration::days(d);
        assert!(
            supplement_open("危险化学品", day, on(30)).is_ok(),
            "day 30 included"
        );
        let e = supplement_open("危险化学品", day, on(31)).unwrap_err();
        assert_eq!(e.field(), "occurred_at");
        assert!(e.to_string().contains("2026-03-31"), "{e}");
        assert!(supplement_open("消防", day, on(7)).is_ok());
        assert!(supplement_open("消防", day, on(8)).is_err());
        assert!(supplement_open("道路交通", day, on(8)).is_err());
        assert!(supplement_open("建筑施工", day, on(8)).is_ok());
    }
}
