//! The store side of sending: reads the rows and documents a batch is built from, as the pure
//! [`Plan`] asks (`safemesh_sync::batch` decides what goes and how far the cursor moves).

use std::collections::{BTreeSet, HashMap};

use safemesh_doc::heads_to_hex;
use safemesh_model::AdminCode;
use safemesh_sync::Role;
use safemesh_sync::batch::{
    Built, DocRow, Estimate, Plan, Rows, Step, SummaryRow, doc_item, snapshot_item,
};
use safemesh_sync::frame::{Batch, Item};

use crate::config::LinkConfig;
use crate::trace;

/// Pages of candidates one prepare may skip over (all already held by the peer) before it returns an
/// empty batch that only moves the cursor on: after a digest repair most of the scope is held.
const MAX_SKIPPED_PAGES: usize = 64;

/// Documents whose stored bytes are read at once (see [`Plan::fresh_from`]).
const RAW_CHUNK: usize = 32;

/// [`prepare_page`], going on to the next page while a whole page was already held by the peer (after
/// a digest repair, a scan from 0 finds most documents held): one empty batch per 64 pages, not one
/// per page.
pub(crate) async fn prepare(
    cfg: &LinkConfig,
    peer: &AdminCode,
    role: Role,
    after: i64,
    force: &[String],
    exclude: &BTreeSet<String>,
    estimate: &mut Estimate,
) -> Result<(Batch, Vec<(String, Vec<String>)>), safemesh_store::Error> {
    let mut built = prepare_page(cfg, peer, role, after, force, exclude).await?;
    let mut from = after;
    for _ in 1..MAX_SKIPPED_PAGES {
        if !built.only_moves_cursor(from) {
            break;
        }
        from = built.upto;
        built = prepare_page(cfg, peer, role, from, &[], exclude).await?;
    }
    let now = std::time::Instant::now();
    let remaining = match estimate.after(&built.items, built.caught_up, now) {
        Some(r) => r,
        None => {
            let (docs, bytes) = cfg
                .store
                .pending_size_for(peer, built.upto, role == Role::Parent)
                .await?;
            estimate.counted(docs, bytes, now)
        }
    };
    let Built {
        items,
        upto,
        caught_up,
        docs,
    } = built;
    let traces = send_span(cfg, peer, &items, upto);
    Ok((
        Batch {
            items,
            upto,
            caught_up,
            remaining,
            traces,
        },
        docs,
    ))
}

/// The batch's send span (`link.send`): it continues the trace of the first document whose change
/// was traced here and links to the others; the batch carries its context to the peer. Nothing when
/// traces are not exported.
fn send_span(cfg: &LinkConfig, peer: &AdminCode, items: &[Item], upto: i64) -> Vec<String> {
    if items.is_empty() {
        return Vec::new();
    }
    let ids = items.iter().filter_map(|i| match i {
        Item::Doc { id, .. } => Some(id.as_str()),
        Item::Summary { .. } => None,
    });
    let noted = trace::noted(&cfg.store, ids);
    let span =
        tracing::info_span!("link.send", node = %cfg.me, peer = %peer, items = items.len(), upto);
    trace::continue_from(&span, &noted);
    trace::traceparent(&span).into_iter().collect()
}

/// Builds the next batch for `peer`: reads one page of rows after `after` (documents in its audience
/// and, to a parent, summaries) and the documents the plan asks for.
async fn prepare_page(
    cfg: &LinkConfig,
    peer: &AdminCode,
    role: Role,
    after: i64,
    force: &[String],
    exclude: &BTreeSet<String>,
) -> Result<Built, safemesh_store::Error> {
    let limit = cfg.max_batch_items as i64;
    let current = cfg.store.current_seq();
    let docs = cfg.store.changed_for(peer, after, limit).await?;
    let summaries = if role == Role::Parent {
        cfg.store.summaries_after(after, limit).await?
    } else {
        Vec::new()
    };
    let rows = Rows {
        after,
        limit: cfg.max_batch_items,
        docs: docs
            .into_iter()
            .map(|r| DocRow {
                id: r.id,
                seq: r.seq,
                heads: r.heads,
                peer_heads: r.peer_heads,
            })
            .collect(),
        summaries: summaries
            .into_iter()
            .map(|s| SummaryRow {
                owner: s.owner,
                version: s.version,
                period: s.period,
                as_of: s.as_of,
                body: s.body,
                seq: s.seq,
            })
            .collect(),
    };
    let mut plan = Plan::new(rows, force, exclude, cfg.max_batch_bytes);
    for id in plan.forced().to_vec() {
        // A snapshot request is served only for documents in the peer's scope.
        if !cfg.store.in_audience(peer, &id).await? {
            continue;
        }
        if let Some(mut doc) = cfg.store.load(&id).await? {
            let seq = cfg.store.doc_row(&id).await?.map_or(0, |r| r.seq);
            let heads = heads_to_hex(&doc.get_heads());
            plan.push(
                snapshot_item(&id, seq, doc.save(), &heads),
                Some((id, heads)),
            );
        }
    }
    // Stored bytes of documents the peer holds nothing of, read a few at a time.
    let mut raw: HashMap<String, Vec<u8>> = HashMap::new();
    while let Some(step) = plan.next_step() {
        match step {
            Step::Whole { id, seq, heads } => {
                if !raw.contains_key(&id) {
                    let ids: Vec<&str> = plan
                        .fresh_from(&id, RAW_CHUNK)
                        .iter()
                        .map(String::as_str)
                        .collect();
                    raw.extend(cfg.store.raw_docs(&ids).await?);
                }
                // Sent as stored: no decoding, no re-encoding (saved again only if the bytes were
                // not found by that read).
                let bytes = match raw.remove(&id) {
                    Some(bytes) => bytes,
                    None => match cfg.store.load(&id).await? {
                        Some(mut doc) => doc.save(),
                        None => continue,
                    },
                };
                plan.push(snapshot_item(&id, seq, bytes, &heads), Some((id, heads)));
            }
            Step::Delta {
                id,
                seq,
                heads,
                peer_heads,
            } => {
                let Some(mut doc) = cfg.store.load(&id).await? else {
                    continue;
                };
                if let Some(item) = doc_item(&id, seq, &heads, &peer_heads, &mut doc) {
                    plan.push(item, Some((id, heads)));
                }
            }
        }
    }
    Ok(plan.finish(current))
}
