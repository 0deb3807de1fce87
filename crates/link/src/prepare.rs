//! The store side of sending: reads the rows and documents a batch is built from, as the pure
//! [`Plan`] asks (`safemesh_sync::batch` decides what goes and how far the cursor moves).

use std::collections::{BTreeSet, HashMap};

use safemesh_doc::heads_to_hex;
use safemesh_model::AdminCode;
use safemesh_sync::Role;
use safemesh_sync::batch::{
    Built, DocRow, Estimate, Plan, Rows, Sized, Step, SummaryRow, doc_item_within, snapshot_item,
};
use safemesh_sync::frame::{Batch, Item};

use crate::config::LinkConfig;
use crate::trace;

/// Pages of candidates one prepare may skip over (all already held by the peer) before it returns an
/// empty batch that only moves the cursor on: after a digest repair most of the scope is held.
const MAX_SKIPPED_PAGES: usize = 64;

/// Documents whose stored bytes are read at once (see [`Plan::fresh_from`]).
const RAW_CHUNK: usize = 32;

/// Documents sent in part on this stream, with the heads the peer holds once it has applied the
/// parts sent so far (acknowledged or not: batches apply in order). The next part starts there,
/// not from what the store knows the peer holds (that moves only with acks).
pub(crate) type Parts = HashMap<String, Vec<String>>;

/// What a stream's sending side keeps between batches: the estimate of what is left to send, and the
/// documents sent in part.
pub(crate) struct Sending {
    pub(crate) estimate: Estimate,
    pub(crate) parts: Parts,
}

/// What one prepare built: the batch, the (document, heads) it carries, and the requested documents
/// it did not finish (for [`safemesh_sync::Link::defer`]).
pub(crate) struct Prepared {
    pub(crate) batch: Batch,
    pub(crate) docs: Vec<(String, Vec<String>)>,
    pub(crate) deferred: Vec<String>,
}

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
    sending: &mut Sending,
) -> Result<Prepared, safemesh_store::Error> {
    let Sending { estimate, parts } = sending;
    let mut built = prepare_page(cfg, peer, role, after, force, exclude, parts).await?;
    let mut from = after;
    for _ in 1..MAX_SKIPPED_PAGES {
        if !built.only_moves_cursor(from) {
            break;
        }
        from = built.upto;
        built = prepare_page(cfg, peer, role, from, &[], exclude, parts).await?;
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
        deferred,
    } = built;
    let traces = send_span(cfg, peer, &items, upto);
    Ok(Prepared {
        batch: Batch {
            items,
            upto,
            // Declared by the link machine as it sends the batch (`Link::on_prepared`).
            seq: upto,
            caught_up,
            remaining,
            traces,
        },
        docs,
        deferred,
    })
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
    parts: &mut Parts,
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
                seq: r.seq,
                heads: r.heads,
                // A document sent in part on this stream goes on from its last part.
                peer_heads: parts.get(&r.id).cloned().or(r.peer_heads),
                id: r.id,
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
        // Held to the byte budget like the rows: what does not fit goes in the next batch.
        if plan.full() {
            plan.defer(id);
            continue;
        }
        if let Some(mut doc) = cfg.store.load(&id).await? {
            let seq = cfg.store.doc_row(&id).await?.map_or(0, |r| r.seq);
            let heads = heads_to_hex(&doc.get_heads());
            // Whole, unless parts of it went on this stream already (then from the last part).
            let from = parts.get(&id).cloned().unwrap_or_default();
            let room = plan.room();
            sized(
                &mut plan, parts, &id, seq, &heads, &from, &mut doc, room, true,
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
                // not found by that read), unless larger than the room left: then in parts.
                let room = plan.room();
                match raw.remove(&id) {
                    Some(bytes) if bytes.len() + id.len() + heads.len() * 34 <= room => {
                        parts.remove(&id);
                        plan.push(snapshot_item(&id, seq, bytes, &heads), Some((id, heads)));
                    }
                    _ => {
                        let Some(mut doc) = cfg.store.load(&id).await? else {
                            continue;
                        };
                        sized(
                            &mut plan,
                            parts,
                            &id,
                            seq,
                            &heads,
                            &[],
                            &mut doc,
                            room,
                            false,
                        );
                    }
                }
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
                let room = plan.room();
                sized(
                    &mut plan,
                    parts,
                    &id,
                    seq,
                    &heads,
                    &peer_heads,
                    &mut doc,
                    room,
                    false,
                );
            }
        }
    }
    Ok(plan.finish(current))
}

/// Adds document `id` to the plan within `room` bytes: complete, or its next part (noted in
/// `parts`, so the next batch goes on from there). `requested`: the peer asked for it whole.
#[allow(clippy::too_many_arguments)]
fn sized(
    plan: &mut Plan,
    parts: &mut Parts,
    id: &str,
    seq: i64,
    heads: &[String],
    peer_heads: &[String],
    doc: &mut safemesh_doc::AutoCommit,
    room: usize,
    requested: bool,
) {
    match doc_item_within(id, seq, heads, peer_heads, doc, room) {
        Some(Sized::Complete(item)) => {
            parts.remove(id);
            plan.push(item, Some((id.to_string(), heads.to_vec())));
        }
        Some(Sized::Part { item, holds }) => {
            parts.insert(id.to_string(), holds.clone());
            plan.push_part(item, holds, requested);
        }
        None => {
            parts.remove(id);
        }
    }
}
