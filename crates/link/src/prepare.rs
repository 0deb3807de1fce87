//! The store side of sending: reads the rows a batch is built from.

use std::collections::BTreeSet;

use safemesh_doc::heads_to_hex;
use safemesh_model::AdminCode;
use safemesh_sync::Role;
use safemesh_sync::batch::{batch_upto, doc_item, snapshot_item};
use safemesh_sync::frame::{Batch, Item, Remaining};

use crate::config::LinkConfig;

/// Pages of candidates one prepare may skip over (all already held by the peer) before it returns an
/// empty batch that only moves the cursor on: after a digest repair most of the scope is held.
const MAX_SKIPPED_PAGES: usize = 64;

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
    let mut out = prepare_page(cfg, peer, role, after, force, exclude, estimate).await?;
    let mut from = after;
    for _ in 1..MAX_SKIPPED_PAGES {
        let (batch, _) = &out;
        if !batch.items.is_empty() || batch.caught_up || batch.upto <= from {
            break;
        }
        from = batch.upto;
        out = prepare_page(cfg, peer, role, from, &[], exclude, estimate).await?;
    }
    Ok(out)
}

/// Builds the next batch for `peer`: documents in its audience and (to a parent) summaries, written after
/// `after`, bounded in items and bytes; a document goes as the changes since the heads the peer is known
/// to hold, or whole if it holds none of them.
async fn prepare_page(
    cfg: &LinkConfig,
    peer: &AdminCode,
    role: Role,
    after: i64,
    force: &[String],
    exclude: &BTreeSet<String>,
    estimate: &mut Estimate,
) -> Result<(Batch, Vec<(String, Vec<String>)>), safemesh_store::Error> {
    let limit = cfg.max_batch_items as i64;
    let current = cfg.store.current_seq();
    let rows = cfg.store.changed_for(peer, after, limit).await?;
    let sums = if role == Role::Parent {
        cfg.store.summaries_after(after, limit).await?
    } else {
        Vec::new()
    };
    let mut bound = i64::MAX;
    if rows.len() as i64 == limit {
        bound = bound.min(rows.last().map_or(i64::MAX, |r| r.seq));
    }
    if sums.len() as i64 == limit {
        bound = bound.min(sums.last().map_or(i64::MAX, |r| r.seq));
    }
    let mut truncated = bound != i64::MAX;
    enum Cand {
        Doc(safemesh_store::ChangedDoc),
        Sum(safemesh_store::SummaryRow),
    }
    let mut cands: Vec<(i64, Cand)> = rows.into_iter().map(|r| (r.seq, Cand::Doc(r))).collect();
    cands.extend(sums.into_iter().map(|s| (s.seq, Cand::Sum(s))));
    cands.sort_by_key(|(seq, _)| *seq);
    cands.retain(|(seq, _)| *seq <= bound);

    let mut items = Vec::new();
    let mut docs = Vec::new();
    let mut bytes = 0usize;
    let mut forced = BTreeSet::new();
    for id in force {
        // A snapshot request is served only for documents in the peer's scope, once per batch.
        if !forced.insert(id) || exclude.contains(id) || !cfg.store.in_audience(peer, id).await? {
            continue;
        }
        if let Some(mut doc) = cfg.store.load(id).await? {
            let seq = cfg.store.doc_row(id).await?.map_or(0, |r| r.seq);
            let heads = heads_to_hex(&doc.get_heads());
            let item = snapshot_item(id, seq, doc.save(), &heads);
            bytes += item.payload_len();
            items.push(item);
            docs.push((id.clone(), heads));
        }
    }
    // Documents the peer holds nothing of go as their stored bytes.
    let fresh: Vec<String> = cands
        .iter()
        .filter_map(|(_, c)| match c {
            Cand::Doc(r)
                if r.peer_heads.is_none() && !exclude.contains(&r.id) && !force.contains(&r.id) =>
            {
                Some(r.id.clone())
            }
            _ => None,
        })
        .collect();
    // Fetched a few at a time as the byte budget allows, so a batch of large documents does not read
    // far more than it sends.
    const RAW_CHUNK: usize = 32;
    let mut raw_docs = std::collections::HashMap::new();
    let mut fetched = 0usize;
    let mut last_seq = after;
    for (seq, cand) in cands {
        if bytes >= cfg.max_batch_bytes && !items.is_empty() {
            truncated = true;
            break;
        }
        last_seq = seq;
        match cand {
            Cand::Sum(s) => {
                if exclude.contains(&format!("summary:{}", s.owner)) {
                    continue;
                }
                let item = Item::Summary {
                    owner: s.owner,
                    version: s.version,
                    period: s.period,
                    as_of: s.as_of,
                    body: s.body,
                    seq,
                };
                bytes += item.payload_len();
                items.push(item);
            }
            Cand::Doc(row) => {
                let safemesh_store::ChangedDoc {
                    id,
                    seq,
                    heads,
                    peer_heads,
                } = row;
                if exclude.contains(&id) || force.contains(&id) {
                    continue;
                }
                if peer_heads.as_ref() == Some(&heads) {
                    continue; // the peer already holds exactly this (e.g. it sent it to us)
                }
                // A peer that holds nothing of the document gets the stored bytes as they are: no
                // decoding, no re-encoding.
                let raw = match &peer_heads {
                    None => {
                        if !raw_docs.contains_key(&id) && fetched < fresh.len() {
                            let from = fresh.iter().position(|f| *f == id).unwrap_or(fetched);
                            let upto = (from + RAW_CHUNK).min(fresh.len());
                            let ids: Vec<&str> =
                                fresh[from..upto].iter().map(String::as_str).collect();
                            raw_docs.extend(cfg.store.raw_docs(&ids).await?);
                            fetched = upto;
                        }
                        raw_docs.remove(&id)
                    }
                    Some(_) => None,
                };
                let item = if let Some(bytes) = raw {
                    snapshot_item(&id, seq, bytes, &heads)
                } else {
                    let Some(mut doc) = cfg.store.load(&id).await? else {
                        continue;
                    };
                    let peer_heads = peer_heads.unwrap_or_default();
                    match doc_item(&id, seq, &heads, &peer_heads, &mut doc) {
                        Some(item) => item,
                        None => continue,
                    }
                };
                bytes += item.payload_len();
                items.push(item);
                docs.push((id, heads));
            }
        }
    }
    let upto = batch_upto(truncated, last_seq, current);
    // Receivers require items in seq order; requested snapshots were put first.
    items.sort_by_key(Item::seq);
    let remaining = if !truncated {
        *estimate = Estimate::default();
        Remaining::default()
    } else if let Some(prev) = estimate
        .last
        .filter(|_| estimate.since < RECOUNT_EVERY || estimate.at.elapsed() < RECOUNT_AFTER)
    {
        // Counting means scanning everything after `upto` in the peer's scope; in between, the last
        // count less what this batch carries.
        estimate.since += 1;
        let sent: u64 = items.iter().map(|i| i.payload_len() as u64).sum();
        let r = Remaining {
            docs: prev.docs.saturating_sub(items.len() as u64),
            bytes: prev.bytes.saturating_sub(sent),
        };
        estimate.last = Some(r);
        r
    } else {
        let (docs, bytes) = cfg
            .store
            .pending_size_for(peer, upto, role == Role::Parent)
            .await?;
        let r = Remaining {
            docs: docs.max(0) as u64,
            bytes: bytes.max(0) as u64,
        };
        *estimate = Estimate {
            last: Some(r),
            since: 0,
            at: std::time::Instant::now(),
        };
        r
    };
    Ok((
        Batch {
            items,
            upto,
            caught_up: !truncated,
            remaining,
        },
        docs,
    ))
}

/// What is left to send is counted again after this many batches and this much time, whichever comes
/// later: counting scans everything after the cursor in the peer's scope (a second for a million
/// documents), so a bootstrap must not count per batch.
const RECOUNT_EVERY: u32 = 16;
const RECOUNT_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The last count of what is left to send on a stream, when it was made, and the batches since.
#[derive(Debug)]
pub(crate) struct Estimate {
    last: Option<Remaining>,
    since: u32,
    at: std::time::Instant,
}

impl Default for Estimate {
    fn default() -> Self {
        Estimate {
            last: None,
            since: 0,
            at: std::time::Instant::now(),
        }
    }
}
