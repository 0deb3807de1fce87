//! Period figures add up: for random trees and random hazard histories, every office's period figures —
//! its own cohorts plus its children's summaries, through JSON as they travel — equal a direct recount
//! over every record in its subtree, for every month, quarter, year to date and year.

use std::collections::BTreeMap;

use proptest::prelude::*;
use safemesh_model::AdminCode;
use safemesh_model::hazard::{EventKind, Grade, HazardEvent, Plan};
use safemesh_model::period::{
    AccidentFacts, HazardFacts, Month, MonthRange, PeriodKind, PeriodStats, recount,
};
use safemesh_model::summary::CountDeaths;

const NOW: Month = Month {
    year: 2026,
    month: 6,
};

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

/// Province 53, up to 2 cities, 2 counties each, 2 townships each: parents first.
fn tree(cities: u8, counties: u8, towns: u8) -> Vec<AdminCode> {
    let mut out = vec![code("53")];
    for c in 1..=cities {
        let city = format!("53{c:02}");
        out.push(code(&city));
        for d in 1..=counties {
            let county = format!("{city}{:02}", 10 + d);
            out.push(code(&county));
            for t in 1..=towns {
                out.push(code(&format!("{county}{:03}", 100 + t as u16)));
            }
        }
    }
    out
}

fn month_of(i: u32) -> Month {
    // 0 → 2025-01 … 17 → 2026-06 (NOW)
    Month::new(2025 + (i / 12) as i32, (i % 12) as u8 + 1).unwrap()
}

fn at(found: Month, day_offset: u32) -> String {
    // A time `day_offset` days into the found month, capped at NOW's last day (China time at noon).
    let start =
        time::Date::from_calendar_date(found.year, time::Month::try_from(found.month).unwrap(), 1)
            .unwrap();
    let last = time::Date::from_calendar_date(2026, time::Month::June, 30).unwrap();
    let d = (start + time::Duration::days(day_offset as i64)).min(last);
    format!("{}T04:00:00Z", safemesh_model::hazard::format_date(d))
}

#[derive(Debug, Clone)]
struct Gen {
    owner: usize,
    found: u32,
    row: usize,
    major: bool,
    stock: bool,
    credit: usize,
    steps: Vec<(u8, u32, bool, u16, bool)>,
}

const ROWS: &[&str] = &["煤矿", "金属非金属矿山", "尾矿库", "危险化学品", "城市建设"];
const CREDITS: &[&str] = &["", "91530100A", "91530100B", "91530100C"];

fn facts(g: &Gen, owners: &[AdminCode]) -> (AdminCode, HazardFacts) {
    let owner = owners[g.owner % owners.len()].clone();
    let found = month_of(g.found);
    let mut day = 0;
    let events = g
        .steps
        .iter()
        .map(|&(k, advance, complete, funds, province)| {
            day += advance;
            let kind = [
                EventKind::Notify,
                EventKind::Plan,
                EventKind::Progress,
                EventKind::Rectified,
                EventKind::Accept,
                EventKind::Close,
                EventKind::Return,
                EventKind::Reopen,
                EventKind::Supervise,
            ][k as usize % 9];
            let mut e = HazardEvent::new(kind, owner.clone(), at(found, day));
            match kind {
                EventKind::Notify => {
                    e.recipients = vec!["主要负责人".into(), "实际控制人".into()];
                }
                EventKind::Plan => {
                    e.plan = Some(Plan {
                        responsible_unit: "某公司".into(),
                        responsible_person: "李四".into(),
                        measures: "更换".into(),
                        funds_wan: funds as f64 / 10.0,
                        deadline: "2026-12-31".into(),
                        contingency_plan: if complete {
                            "预案".into()
                        } else {
                            String::new()
                        },
                    });
                }
                EventKind::Supervise => {
                    e.level = Some(if province { code("53") } else { code("5301") });
                }
                _ => {}
            }
            e
        })
        .collect();
    (
        owner,
        HazardFacts {
            found,
            row: ROWS[g.row % ROWS.len()].to_string(),
            grade: if g.major {
                Grade::Major
            } else {
                Grade::General
            },
            stock: g.stock,
            credit_code: CREDITS[g.credit % CREDITS.len()].to_string(),
            events,
        },
    )
}

fn gen_hazard() -> impl Strategy<Value = Gen> {
    (
        0usize..64,
        0u32..18,
        0usize..5,
        any::<bool>(),
        any::<bool>(),
        0usize..4,
        prop::collection::vec(
            (0u8..9, 0u32..45, any::<bool>(), 0u16..500, any::<bool>()),
            0..8,
        ),
    )
        .prop_map(|(owner, found, row, major, stock, credit, steps)| Gen {
            owner,
            found,
            row,
            major,
            stock,
            credit,
            steps,
        })
}

/// Every office's summary, computed bottom-up as nodes do: own figures plus the children's summaries
/// as received (through JSON).
fn summaries(
    nodes: &[AdminCode],
    records: &[(AdminCode, HazardFacts)],
    accidents: &[(AdminCode, AccidentFacts)],
) -> BTreeMap<AdminCode, PeriodStats> {
    let mut out: BTreeMap<AdminCode, PeriodStats> = BTreeMap::new();
    for n in nodes.iter().rev() {
        let own: Vec<HazardFacts> = records
            .iter()
            .filter(|(o, _)| o == n)
            .map(|(_, h)| h.clone())
            .collect();
        let acc: Vec<AccidentFacts> = accidents
            .iter()
            .filter(|(o, _)| o == n)
            .map(|(_, a)| a.clone())
            .collect();
        let mut s = PeriodStats::own(&own, &acc, NOW);
        for c in nodes.iter().filter(|c| c.parent().as_ref() == Some(n)) {
            let text = serde_json::to_string(&out[c]).unwrap();
            s.add(&serde_json::from_str(&text).unwrap());
        }
        s.retain_window(NOW);
        out.insert(n.clone(), s);
    }
    out
}

fn ranges() -> Vec<MonthRange> {
    let mut out = Vec::new();
    for i in 0..18 {
        for k in [
            PeriodKind::Cumulative,
            PeriodKind::Month,
            PeriodKind::Quarter,
            PeriodKind::Year,
        ] {
            let r = k.range(month_of(i));
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_ancestors_period_figures_equal_a_recount_of_its_subtree(
        shape in (1u8..=2, 1u8..=2, 1u8..=2),
        gens in prop::collection::vec(gen_hazard(), 0..60),
        accs in prop::collection::vec((0usize..64, 0u32..18, 0usize..4, 0u64..5), 0..10),
    ) {
        let nodes = tree(shape.0, shape.1, shape.2);
        let records: Vec<(AdminCode, HazardFacts)> = gens.iter().map(|g| facts(g, &nodes)).collect();
        let accidents: Vec<(AdminCode, AccidentFacts)> = accs
            .iter()
            .map(|&(o, m, g, d)| {
                (
                    nodes[o % nodes.len()].clone(),
                    AccidentFacts {
                        month: month_of(m),
                        grade: ["general", "larger", "major", "especially_major"][g].to_string(),
                        deaths: d,
                    },
                )
            })
            .collect();
        let sums = summaries(&nodes, &records, &accidents);
        for n in &nodes {
            let sub: Vec<(AdminCode, HazardFacts)> = records
                .iter()
                .filter(|(o, _)| o.is_within(n))
                .cloned()
                .collect();
            for r in ranges() {
                let (rows, units) = recount(&sub, &r);
                prop_assert_eq!(&sums[n].rows(&r), &rows, "{} over {}", n, r.key());
                prop_assert_eq!(sums[n].total_units(&r), units, "units of {} over {}", n, r.key());
                let mut acc: BTreeMap<String, CountDeaths> = BTreeMap::new();
                for (_, a) in accidents.iter().filter(|(o, a)| o.is_within(n) && r.contains(a.month)) {
                    let e = acc.entry(a.grade.clone()).or_default();
                    e.count += 1;
                    e.deaths += a.deaths;
                }
                prop_assert_eq!(sums[n].accidents_in(&r), acc);
            }
        }
    }
}

#[test]
fn rectified_is_counted_as_at_the_end_of_the_period() {
    let owner = code("530181006");
    let ev = |kind, at: &str| HazardEvent::new(kind, owner.clone(), at);
    let h = HazardFacts {
        found: Month::parse("2026-02").unwrap(),
        row: "危险化学品".into(),
        grade: Grade::General,
        stock: false,
        credit_code: "X".into(),
        events: vec![
            ev(EventKind::Registered, "2026-02-03T01:00:00Z"),
            ev(EventKind::Rectified, "2026-03-31T17:00:00Z"), // 1 April in Beijing
        ],
    };
    let s = PeriodStats::own(std::slice::from_ref(&h), &[], NOW);
    let q1 = PeriodKind::Quarter.range(Month::parse("2026-02").unwrap());
    let ytd_apr = PeriodKind::Cumulative.range(Month::parse("2026-04").unwrap());
    assert_eq!(s.rows(&q1)["危险化学品"].general.found, 1);
    assert_eq!(s.rows(&q1)["危险化学品"].general.rectified, 0);
    assert_eq!(s.rows(&ytd_apr)["危险化学品"].general.rectified, 1);
    assert_eq!(s.rows(&ytd_apr)["危险化学品"].units, 1);
    // An old summary without period figures still parses.
    let old: safemesh_model::summary::SummaryBody = serde_json::from_str(
        r#"{"hazards":{"total":0,"open":0,"closed":0,"major":0,"overdue":0,"by_sector":{}},
            "directives":{"issued":0,"assignments":0,"received":0,"completed":0,"overdue":0},
            "own_hazards":{"total":0,"open":0,"closed":0,"major":0,"overdue":0,"by_sector":{}},
            "reporting_descendants":0}"#,
    )
    .unwrap();
    assert!(old.periods.is_empty());
}
