//! 月通报 — the companion of the monthly report: the scope's direct subordinates ranked by 整改率 (1月至
//! 本月累计, both grades) and by overdue hazards (逾期未整改, as of their latest summary), and which have
//! not reported (no summary, or one older than [`STALE_AFTER`](super::STALE_AFTER)).

use safemesh_model::period::{GradeFigures, PeriodKind};
use safemesh_model::summary::SummaryBody;
use safemesh_model::{AdminCode, division};
use safemesh_store::Store;
use serde::Serialize;

use super::{ReportRequest, STALE_AFTER, scope_name};
use crate::records::RecordError;

/// One subordinate office.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BulletinRow {
    /// 整改率排名 (1 = best); `null` for offices that have not reported.
    pub rank: Option<usize>,
    /// 逾期排名 (1 = most overdue hazards); `null` for offices that have not reported.
    pub overdue_rank: Option<usize>,
    pub code: String,
    pub name: String,
    /// A summary is held.
    pub reported: bool,
    /// The summary held is older than 24 h.
    pub stale: bool,
    pub as_of: Option<String>,
    /// 排查 over the period (both grades).
    pub found: u64,
    /// 已整改 (一般) plus 已整改销号 (重大).
    pub rectified: u64,
    /// 整改率 (%); `null` when nothing was found.
    pub rate: Option<f64>,
    pub major_found: u64,
    pub major_rectified: u64,
    /// 逾期未整改 — overdue now, as of the office's summary.
    pub overdue: u64,
}

/// An office that has not reported, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NotReported {
    pub code: String,
    pub name: String,
    /// 未上报 (no summary) or 汇总过期 (older than 24 h).
    pub reason: String,
    pub as_of: Option<String>,
}

/// The bulletin.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Bulletin {
    pub title: String,
    pub scope: String,
    pub scope_name: String,
    pub month: String,
    pub period_label: String,
    /// When this bulletin was made.
    pub made_at: String,
    /// Every direct subordinate: reported ones by rank, then those that have not.
    pub rows: Vec<BulletinRow>,
    pub not_reported: Vec<NotReported>,
}

fn is_stale(as_of: &str, now: time::OffsetDateTime) -> bool {
    match time::OffsetDateTime::parse(as_of, &time::format_description::well_known::Rfc3339) {
        Ok(t) => now - t > STALE_AFTER,
        Err(_) => true,
    }
}

/// The bulletin of `req.scope`'s direct subordinates at this office `me`.
pub async fn bulletin(
    store: &Store,
    me: &AdminCode,
    my_name: &str,
    req: &ReportRequest,
) -> Result<Bulletin, RecordError> {
    let summaries = store.child_summaries(&req.scope).await?;
    // The division table's children and the zones that reported to this scope (`owner_parent`).
    let codes = crate::rollup::direct_children(store, &req.scope, &summaries, &[]).await?;
    let range = PeriodKind::Cumulative.range(req.month);
    let now = time::OffsetDateTime::now_utc();
    let mut rows = Vec::with_capacity(codes.len());
    let mut not_reported = Vec::new();
    for c in &codes {
        let name = division::name_of(c)
            .map(str::to_string)
            .unwrap_or_else(|| c.to_string());
        let held = summaries.iter().find(|s| s.owner == c.as_str());
        let body: Option<SummaryBody> = held.and_then(|s| serde_json::from_str(&s.body).ok());
        let stale = held.is_some_and(|s| is_stale(&s.as_of, now));
        if held.is_none() || stale {
            not_reported.push(NotReported {
                code: c.to_string(),
                name: name.clone(),
                reason: if held.is_none() {
                    "未上报"
                } else {
                    "汇总过期"
                }
                .to_string(),
                as_of: held.map(|s| s.as_of.clone()),
            });
        }
        let mut all = GradeFigures::default();
        let mut major = GradeFigures::default();
        if let Some(b) = &body {
            for f in b.periods.rows(&range).values() {
                all.add(&f.general);
                all.add(&f.major);
                major.add(&f.major);
            }
        }
        rows.push(BulletinRow {
            rank: None,
            overdue_rank: None,
            code: c.to_string(),
            name,
            reported: held.is_some(),
            stale,
            as_of: held.map(|s| s.as_of.clone()),
            found: all.found,
            rectified: all.rectified,
            rate: all.rate(),
            major_found: major.found,
            major_rectified: major.rectified,
            overdue: body.as_ref().map_or(0, |b| b.hazards.overdue),
        });
    }
    // Reported first; best rate first (nothing found ranks after any rate), fewer overdue first, code.
    rows.sort_by(|a, b| {
        b.reported
            .cmp(&a.reported)
            .then(b.rate.is_some().cmp(&a.rate.is_some()))
            .then(b.rate.unwrap_or(0.0).total_cmp(&a.rate.unwrap_or(0.0)))
            .then(a.overdue.cmp(&b.overdue))
            .then(a.code.cmp(&b.code))
    });
    let mut by_overdue: Vec<(u64, String)> = rows
        .iter()
        .filter(|r| r.reported)
        .map(|r| (r.overdue, r.code.clone()))
        .collect();
    by_overdue.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut rank = 0;
    for r in rows.iter_mut().filter(|r| r.reported) {
        rank += 1;
        r.rank = Some(rank);
        r.overdue_rank = by_overdue
            .iter()
            .position(|(_, c)| *c == r.code)
            .map(|p| p + 1);
    }
    Ok(Bulletin {
        title: "安全生产事故隐患排查治理情况通报".to_string(),
        scope: req.scope.to_string(),
        scope_name: scope_name(me, my_name, &req.scope),
        month: req.month.key(),
        period_label: range.label(),
        made_at: crate::clock::now_rfc3339(),
        rows,
        not_reported,
    })
}
