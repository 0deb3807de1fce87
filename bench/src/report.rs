//! `report_province_ms`: the monthly report for the real Yunnan tree (1 + 16 + 129 + 1,461 offices) at
//! the province, from summaries. Every township's period figures come from synthetic hazard histories
//! (found over the current and last year, rectified, closed, planned and listed at later months);
//! they are added up the tree through JSON as nodes do, and every descendant's summary is stored at the
//! province, as the mesh leaves it. The clock then runs over what the API does: read the summaries,
//! assemble the form (1月至本月累计) and write the workbook.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, ensure};
use safemesh_model::hazard::{EventKind, Grade, HazardEvent, Plan};
use safemesh_model::period::{HazardFacts, Month, PeriodKind, PeriodStats};
use safemesh_model::summary::SummaryBody;
use safemesh_model::{AdminCode, Level};
use safemesh_node::reports::{ReportRequest, monthly, xlsx};
use safemesh_store::Store;
use serde_json::{Value, json};

const ROWS: [&str; 10] = [
    "危险化学品",
    "消防",
    "城镇燃气",
    "建筑施工",
    "城市建设",
    "冶金工贸",
    "金属非金属矿山",
    "尾矿库",
    "道路交通",
    "自建房",
];

fn at(m: Month, day: u32) -> String {
    format!("{}-{:02}T03:00:00Z", m, day.clamp(1, 28))
}

/// Hazard `i` of a township as of `now`: found in one of the last 18 months, most rectified a month
/// or two later, a quarter closed, every 20th major with a plan, listed by the city or the province.
fn synthetic(owner: &AdminCode, i: usize, now: Month) -> HazardFacts {
    let mut found = now;
    for _ in 0..(i * 7) % 18 {
        found = prev(found);
    }
    let major = i % 20 == 7;
    let later = |k: usize| {
        let mut m = found;
        for _ in 0..k {
            if m < now {
                m = m.next();
            }
        }
        m
    };
    let ev = |kind, m: Month| HazardEvent::new(kind, owner.clone(), at(m, 3 + (i % 20) as u32));
    let mut events = vec![ev(EventKind::Registered, found)];
    if major {
        events.push(HazardEvent {
            recipients: vec!["主要负责人".into(), "实际控制人".into()],
            ..ev(EventKind::Notify, found)
        });
        events.push(HazardEvent {
            plan: Some(Plan {
                responsible_unit: "某公司".into(),
                responsible_person: "李四".into(),
                measures: "整改".into(),
                funds_wan: (i % 50) as f64 + 0.5,
                deadline: "2099-12-31".into(),
                contingency_plan: if i.is_multiple_of(3) {
                    String::new()
                } else {
                    "预案".into()
                },
            }),
            ..ev(EventKind::Plan, later(1))
        });
        events.push(HazardEvent {
            level: Some(if i % 40 == 7 {
                AdminCode::parse("53").unwrap()
            } else {
                owner.parent().unwrap()
            }),
            ..ev(EventKind::Supervise, later(1))
        });
    }
    if !i.is_multiple_of(4) && !major {
        events.push(ev(EventKind::Rectified, later(1)));
        if i % 4 == 3 {
            events.push(ev(EventKind::Accept, later(2)));
            events.push(ev(EventKind::Close, later(2)));
        }
    }
    HazardFacts {
        found,
        row: ROWS[i % ROWS.len()].to_string(),
        grade: if major { Grade::Major } else { Grade::General },
        stock: false,
        credit_code: format!("E{}-{}", owner, i % 13),
        events,
    }
}

fn prev(m: Month) -> Month {
    if m.month == 1 {
        Month::new(m.year - 1, 12).unwrap()
    } else {
        Month::new(m.year, m.month - 1).unwrap()
    }
}

/// Runs the scenario with `per_township` hazards at each township; `runs` timed reports.
pub async fn run(
    dir: &std::path::Path,
    per_township: usize,
    runs: usize,
) -> anyhow::Result<serde_json::Map<String, Value>> {
    let root = AdminCode::parse("53")?;
    let codes = crate::province::tree(&root, None);
    let now = Month::of_date(safemesh_node::clock::today());
    let setup = Instant::now();
    // Bottom-up: every office's summary body as its parent receives it (JSON).
    let mut bodies: BTreeMap<AdminCode, String> = BTreeMap::new();
    let mut found_this_year = 0u64;
    for c in codes.iter().rev() {
        let own: Vec<HazardFacts> = if c.level() == Level::Township {
            (0..per_township).map(|i| synthetic(c, i, now)).collect()
        } else {
            Vec::new()
        };
        found_this_year += own.iter().filter(|h| h.found.year == now.year).count() as u64;
        let mut periods = PeriodStats::own(&own, &[], now);
        for k in codes.iter().filter(|k| k.parent().as_ref() == Some(c)) {
            let b: SummaryBody = serde_json::from_str(&bodies[k])?;
            periods.add(&b.periods);
        }
        periods.retain_window(now);
        let body = SummaryBody {
            periods,
            ..SummaryBody::default()
        };
        bodies.insert(c.clone(), serde_json::to_string(&body)?);
    }
    let store = Store::open_sqlite(&dir.join("province.db")).await?;
    let mut w = store.writer().await?;
    let as_of = safemesh_node::clock::now_rfc3339();
    for (c, body) in bodies.iter().filter(|(c, _)| **c != root) {
        w.put_summary(c, 1, &now.key(), &as_of, body).await?;
    }
    w.commit().await?;
    let setup_s = setup.elapsed().as_secs_f64();
    let city_bytes = bodies
        .iter()
        .filter(|(c, _)| c.level() == Level::City)
        .map(|(_, b)| b.len())
        .max()
        .unwrap_or(0);

    let req = ReportRequest {
        scope: root.clone(),
        month: now,
        period: PeriodKind::Cumulative,
        xlsx: true,
    };
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let r = monthly::monthly(&store, &root, "云南省", &req)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let wb = xlsx::monthly_workbook(&r).map_err(|e| anyhow::anyhow!("{}", e.message))?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        bytes = wb.len();
        let t = r.total();
        ensure!(
            t.general.found + t.major.found == found_this_year,
            "the province's 合计 ({} + {}) is not every hazard found this year ({found_this_year})",
            t.general.found,
            t.major.found
        );
    }
    store.close().await;
    times.sort_by(|a, b| a.total_cmp(b));
    let median = *times.get(times.len() / 2).context("no runs")?;
    let mut m = serde_json::Map::new();
    m.insert(
        "report_province_ms".into(),
        json!((median * 10.0).round() / 10.0),
    );
    m.insert(
        "report_province_max_ms".into(),
        json!((times[times.len() - 1] * 10.0).round() / 10.0),
    );
    m.insert("report_offices".into(), json!(codes.len()));
    m.insert(
        "report_hazards".into(),
        json!(
            per_township
                * codes
                    .iter()
                    .filter(|c| c.level() == Level::Township)
                    .count()
        ),
    );
    m.insert(
        "report_setup_s".into(),
        json!((setup_s * 10.0).round() / 10.0),
    );
    m.insert("report_city_summary_bytes".into(), json!(city_bytes));
    m.insert("report_xlsx_bytes".into(), json!(bytes));
    Ok(m)
}
