//! 汇总 — the node's roll-up: its own projections plus its children's latest summaries, published to
//! every ancestor whenever the data changes (debounced), and the drill-down view of any descendant.
//!
//! An office's direct children are its division-table children and the functional zones it runs
//! (功能区, configured `extra_children`; a zone's summary names its configured parent,
//! `owner_parent`). A zone counts in the roll-up of the office it names only — a row of its own there,
//! never also under its code's prefix parent (`Store::child_summaries`), so nothing is counted twice.

use std::time::Duration;

use safemesh_model::period::Month;
use safemesh_model::summary::{AccidentCounts, DirectiveCounts, HazardCounts, SummaryBody};
use safemesh_model::{AdminCode, division};
use safemesh_store::Store;
use serde_json::{Value, json};
use tokio::sync::watch;
use tracing::{Instrument, debug, warn};

use crate::clock::{now_rfc3339, today};

/// Computes this node's summary body from its own records and its direct children's summaries;
/// hazards due within `due_soon_days` (the node's `hazards.due_soon_days`) count as 临期.
pub async fn compute(
    store: &Store,
    me: &AdminCode,
    due_soon_days: u32,
) -> Result<SummaryBody, safemesh_store::Error> {
    let children = store.child_summaries(me).await?;
    compute_from(store, me, &children, due_soon_days).await
}

/// [`compute`] over children's summaries already read (a view shows the totals and the children from
/// the same read, so they always add up).
async fn compute_from(
    store: &Store,
    me: &AdminCode,
    children: &[safemesh_store::SummaryRow],
    due_soon_days: u32,
) -> Result<SummaryBody, safemesh_store::Error> {
    let today = today();
    let day = safemesh_model::hazard::format_date(today);
    let own_hazards = own_hazards(store, me, today, due_soon_days).await?;
    let until = safemesh_model::hazard::format_date(safemesh_model::hazard::due_soon_until(
        today,
        due_soon_days,
    ));
    let own_directives = store
        .own_directive_counts(me.as_str(), &day, &until)
        .await?;
    let accidents = store.own_accident_counts(me.as_str(), &day).await?;
    let now = Month::of_date(today);
    let periods = store.own_period_stats(me.as_str(), now).await?;
    let mut body = SummaryBody {
        hazards: own_hazards.clone(),
        directives: own_directives,
        own_hazards,
        reporting_descendants: 0,
        accidents,
        periods,
        // Named by `publish` (this office's configured parent and name, for a zone).
        owner_parent: None,
        office_name: String::new(),
    };
    for child in child_bodies(children) {
        body.add_child(&child);
    }
    body.periods.retain_window(now);
    Ok(body)
}

/// The hazards this office registered, counted as of `today` (临期 within `due_soon_days`).
async fn own_hazards(
    store: &Store,
    me: &AdminCode,
    today: time::Date,
    due_soon_days: u32,
) -> Result<HazardCounts, safemesh_store::Error> {
    let day = safemesh_model::hazard::format_date(today);
    let soon = safemesh_model::hazard::format_date(safemesh_model::hazard::due_soon_until(
        today,
        due_soon_days,
    ));
    store.own_hazard_counts(me.as_str(), &day, &soon).await
}

/// The bodies of the summaries of direct children (as `Store::child_summaries` finds them).
fn child_bodies(children: &[safemesh_store::SummaryRow]) -> impl Iterator<Item = SummaryBody> + '_ {
    children
        .iter()
        .filter_map(|s| serde_json::from_str::<SummaryBody>(&s.body).ok())
}

/// The roll-up's hazard counts alone, as [`compute`] makes them — over the jurisdiction (this office's
/// own plus its direct children's summaries: `/rollup`'s `hazards`) and this office's own
/// (`own_hazards`) — without the other kinds' queries: `/metrics` reads them at every scrape.
pub async fn hazard_counts(
    store: &Store,
    me: &AdminCode,
    due_soon_days: u32,
) -> Result<(HazardCounts, HazardCounts), safemesh_store::Error> {
    let children = store.child_summaries(me).await?;
    let own = own_hazards(store, me, today(), due_soon_days).await?;
    let mut all = own.clone();
    for child in child_bodies(&children) {
        all.add(&child.hazards);
    }
    Ok((all, own))
}

/// Every direct child office of `scope`: those of the division tree (but a code whose summary names
/// another office as its configured parent: a zone run elsewhere), the functional zones configured
/// here (`zones`: this node's `extra_children`, when `scope` is this node), and the owners of
/// `reported` (the summaries `Store::child_summaries` found for `scope`: zones that name it).
pub async fn direct_children(
    store: &Store,
    scope: &AdminCode,
    reported: &[safemesh_store::SummaryRow],
    zones: &[AdminCode],
) -> Result<Vec<AdminCode>, safemesh_store::Error> {
    let mut codes = Vec::new();
    for c in division::children_of(scope) {
        if !reported.iter().any(|s| s.owner == c.as_str())
            && let Some(s) = store.summary(c.as_str()).await?
            && s.parent.as_deref().is_some_and(|p| p != scope.as_str())
        {
            continue;
        }
        codes.push(c);
    }
    let named = reported
        .iter()
        .filter_map(|s| AdminCode::parse(&s.owner).ok());
    for c in zones.iter().cloned().chain(named) {
        if c != *scope && !codes.contains(&c) {
            codes.push(c);
        }
    }
    Ok(codes)
}

/// How often an unchanged summary is published again, so ancestors can tell a quiet office from one
/// that has stopped reporting (the UI flags a summary older than a day as 未上报).
pub const HEARTBEAT: time::Duration = time::Duration::hours(6);

fn older_than(rfc3339: &str, age: time::Duration) -> bool {
    match time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339) {
        Ok(t) => time::OffsetDateTime::now_utc() - t > age,
        Err(_) => true,
    }
}

/// Stores this node's summary if it differs (or the last one is older than [`HEARTBEAT`]) from the last one published. Returns whether it did.
///
/// `zone`: this office's configured parent and its name when it is a functional zone (see
/// [`safemesh_model::Chain`]), both in the body: the summary travels up the zone's chain and counts
/// under that parent, whose drill-down shows the name (the division table has none for a zone).
pub async fn publish(
    store: &Store,
    me: &AdminCode,
    zone: Option<(&AdminCode, &str)>,
    due_soon_days: u32,
) -> Result<bool, safemesh_store::Error> {
    let mut body = compute(store, me, due_soon_days).await?;
    if let Some((parent, name)) = zone {
        body.owner_parent = Some(parent.clone());
        body.office_name = name.chars().take(100).collect();
    }
    let text = serde_json::to_string(&body).unwrap_or_default();
    let cur = store.summary(me.as_str()).await?;
    if let Some(cur) = &cur
        && cur.body == text
        && !older_than(&cur.as_of, HEARTBEAT)
    {
        return Ok(false);
    }
    let now = time::OffsetDateTime::now_utc();
    // The clock in µs, but always after the last version published: a clock set back (or one that
    // ran ahead and was corrected) never stops this office publishing.
    let version = ((now.unix_timestamp_nanos() / 1_000) as i64)
        .max(cur.map_or(0, |c| c.version.saturating_add(1)));
    // The summary's month is China's calendar month, wherever the node's clock zone is.
    let cst = now + time::Duration::hours(8);
    let period = format!("{:04}-{:02}", cst.year(), cst.month() as u8);
    let span = tracing::info_span!("rollup.publish", node = %me, %period, version);
    async {
        let mut w = store.writer().await?;
        let stored = w
            .put_summary(me, version, &period, &now_rfc3339(), &text)
            .await?;
        w.commit().await?;
        Ok(stored)
    }
    .instrument(span)
    .await
}

/// Republishes the summary after data changes (debounced by `debounce`) and every `refresh` (overdue
/// counts move with the calendar). Runs until shutdown.
pub async fn run(
    store: Store,
    me: AdminCode,
    zone: Option<(AdminCode, String)>,
    due_soon_days: u32,
    debounce: Duration,
    refresh: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut seq = store.subscribe();
    let mut last_seen = -1i64;
    loop {
        seq.borrow_and_update();
        let before = store.current_seq();
        if before != last_seen {
            let zone_ref = zone.as_ref().map(|(p, n)| (p, n.as_str()));
            let published = match publish(&store, &me, zone_ref, due_soon_days).await {
                Ok(p) => p,
                Err(e) => {
                    warn!("summary failed: {e}");
                    false
                }
            };
            debug!(published, "summary recomputed");
            // Our own publish bumps the sequence by one; anything else that committed meanwhile may
            // not be in this summary, so look again.
            let after = store.current_seq();
            last_seen = if after == before + published as i64 {
                after
            } else {
                before
            };
            if last_seen != after {
                continue;
            }
        }
        let woke = tokio::select! {
            r = seq.changed() => if r.is_err() { return } else { true },
            _ = tokio::time::sleep(refresh) => { last_seen = -1; false }
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if woke {
            tokio::select! {
                _ = tokio::time::sleep(debounce) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}

fn name_of(code: &AdminCode) -> String {
    division::name_of(code).unwrap_or("").to_string()
}

/// The roll-up over `scope` (this node or any descendant whose summary it holds), with its children
/// (`zones`: this node's configured `extra_children`, listed as its children even before they report).
pub async fn view(
    store: &Store,
    me: &AdminCode,
    my_name: &str,
    scope: &AdminCode,
    zones: &[AdminCode],
    due_soon_days: u32,
) -> Result<Option<Value>, safemesh_store::Error> {
    // The scope's own summary and its direct children's: nothing else is read.
    let children_rows = store.child_summaries(scope).await?;
    let mut summaries = children_rows.clone();
    if scope != me
        && let Some(s) = store.summary(scope.as_str()).await?
    {
        summaries.push(s);
    }
    let (body, as_of, name) = if scope == me {
        (
            compute_from(store, me, &children_rows, due_soon_days).await?,
            now_rfc3339(),
            my_name.to_string(),
        )
    } else {
        let Some(s) = summaries.iter().find(|s| s.owner == scope.as_str()) else {
            return Ok(None);
        };
        (
            serde_json::from_str::<SummaryBody>(&s.body).unwrap_or_default(),
            s.as_of.clone(),
            name_of(scope),
        )
    };
    let zones = if scope == me { zones } else { &[] };
    let child_codes = direct_children(store, scope, &children_rows, zones).await?;
    let summaries = children_rows;
    let children: Vec<Value> = child_codes
        .iter()
        .map(|c| {
            let s = summaries.iter().find(|s| s.owner == c.as_str());
            let b = s.and_then(|s| serde_json::from_str::<SummaryBody>(&s.body).ok());
            json!({
                "code": c.as_str(),
                "name": b.as_ref().map(|b| b.office_name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| name_of(c)),
                "reported": s.is_some(),
                "hazards": b.as_ref().map(|b| serde_json::to_value(&b.hazards).unwrap_or_default()).unwrap_or_else(|| serde_json::to_value(HazardCounts::default()).unwrap_or_default()),
                "directives": b.as_ref().map(|b| serde_json::to_value(&b.directives).unwrap_or_default()).unwrap_or_else(|| serde_json::to_value(DirectiveCounts::default()).unwrap_or_default()),
                "accidents": b.as_ref().map(|b| serde_json::to_value(&b.accidents).unwrap_or_default()).unwrap_or_else(|| serde_json::to_value(AccidentCounts::default()).unwrap_or_default()),
                "as_of": s.map(|s| s.as_of.clone()),
                "last_seen": s.map(|s| s.received_at.clone()),
            })
        })
        .collect();
    let not_reported: Vec<&str> = child_codes
        .iter()
        .filter(|c| !summaries.iter().any(|s| s.owner == c.as_str()))
        .map(|c| c.as_str())
        .collect();
    Ok(Some(json!({
        "scope": scope.as_str(),
        "name": name,
        "level": scope.level().as_str(),
        "as_of": as_of,
        "hazards": body.hazards,
        "own_hazards": body.own_hazards,
        "directives": body.directives,
        "reporting_descendants": body.reporting_descendants,
        "accidents": body.accidents,
        "double_decline": body.accidents.double_decline(),
        "children": children,
        "not_reported": not_reported,
    })))
}
