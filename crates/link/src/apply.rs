//! The store side of receiving: a batch checked (on the CPU pool) and written in one transaction.

use std::collections::{BTreeSet, HashMap};

use safemesh_doc::authority::Origin;
use std::sync::Arc;

use safemesh_doc::heads_to_hex;
use safemesh_sync::check::{Verdict, decode_and_check, implied_heads, verdict, zone_chain};
use safemesh_sync::frame::{Batch, ErrorCode, ErrorFrame, Item};
use safemesh_sync::{Link, Received, Role};
use tracing::{Instrument, debug};

use crate::config::LinkConfig;
use crate::hook;
use crate::pool::{DocJob, Job, check_all};
use crate::quota::Tally;
use crate::trace;

/// What applying a batch came to, for [`Link::on_received`].
pub(crate) struct Applied {
    pub(crate) received: Received,
    /// The cursor acknowledged (it stops before the first document that could not apply).
    pub(crate) acked: i64,
    pub(crate) caught_up: bool,
}

/// Checks and applies a batch in one transaction. Returns what it came to, or the error frame that
/// rejects the whole batch.
///
/// The checks (decoding, the authority check: the CPU-heavy part) run before the store's one writer
/// is taken, on the stored documents as committed, so an expensive batch does not stall the node's
/// other links, its API and its CLI (issue 19 #3). Under the writer, the stored heads the checks used
/// are compared with what is stored now: if a document moved meanwhile (another link or a local
/// write stored a change of it), the batch is checked again with the writer held throughout, as
/// before — what is stored is always what was checked against.
pub(crate) async fn apply(
    cfg: &LinkConfig,
    link: &Link,
    peer_install: &str,
    batch: Batch,
) -> Result<Applied, ErrorFrame> {
    match apply_once(cfg, link, peer_install, &batch, Lock::AfterChecks).await? {
        Some(applied) => Ok(applied),
        None => {
            debug!(peer = %link.peer, "a document moved while the batch was checked: checking again under the writer");
            apply_once(cfg, link, peer_install, &batch, Lock::Throughout)
                .await?
                .ok_or_else(|| internal_error(moved()))
        }
    }
}

/// When a batch's application takes the store's writer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// After the checks; the result is dropped if a document the checks used has moved since.
    AfterChecks,
    /// Before reading anything: nothing can move.
    Throughout,
}

/// One attempt of [`apply`]; `None` if a document the checks used moved before the writer was taken.
async fn apply_once(
    cfg: &LinkConfig,
    link: &Link,
    peer_install: &str,
    batch: &Batch,
    lock: Lock,
) -> Result<Option<Applied>, ErrorFrame> {
    let (peer, role) = (&link.peer, link.role);
    let internal = internal_error;
    let origin = match role {
        Role::Child => Origin::Child(peer.clone()),
        Role::Parent => Origin::Parent(peer.clone()),
    };
    let t0 = std::time::Instant::now();
    let items = batch.items.len();
    let mut early = match lock {
        Lock::Throughout => Some(cfg.store.writer().await.map_err(internal)?),
        Lock::AfterChecks => None,
    };
    // What the batch's compressed Automerge data may inflate to, all its items together.
    let budget = Arc::new(link.limits().inflate_budget());
    let mut received = Received::default();
    // Phase 1 (store, read): the stored version of each document the batch touches. Documents new
    // to this node are found with one query, so a bootstrap does not look each one up.
    let doc_ids: Vec<&str> = batch
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Doc { id, .. } => Some(id.as_str()),
            Item::Summary { .. } => None,
        })
        .collect();
    let distinct = doc_ids.iter().collect::<BTreeSet<_>>().len() == doc_ids.len();
    let existing = match &mut early {
        Some(w) => w.stored_heads(&doc_ids).await,
        None => cfg.store.stored_heads(&doc_ids).await,
    }
    .map_err(internal)?;
    let mut jobs = Vec::with_capacity(batch.items.len());
    for item in &batch.items {
        match item {
            Item::Doc {
                id,
                seq,
                snapshot,
                changes,
                heads,
            } => {
                let mut heads = heads.clone();
                if heads.is_empty() && snapshot.is_none() && !changes.is_empty() {
                    // Omitted by the sender: the newest of the changes it sent.
                    heads = implied_heads(id, changes, &budget)?;
                }
                // A batch naming a document twice loads it in phase 3, in order, instead.
                let base = if distinct && existing.contains_key(id) {
                    match &mut early {
                        Some(w) => w.load(id).await,
                        None => cfg.store.load(id).await,
                    }
                    .map_err(internal)?
                } else {
                    None
                };
                let payload = snapshot.as_ref().map_or(0, Vec::len)
                    + changes.iter().map(Vec::len).sum::<usize>();
                jobs.push(Job::Doc(Box::new(DocJob {
                    id: id.clone(),
                    seq: *seq,
                    payload: payload as u64,
                    snapshot: snapshot.clone(),
                    changes: changes.clone(),
                    heads,
                    base,
                })));
            }
            summary => jobs.push(Job::Summary(summary.clone())),
        }
    }
    let t1 = std::time::Instant::now();
    // Phase 2 (CPU): decode and check every document off the reactor, in parallel when the batch
    // names each document once (a repeated document must see the first one's result: in order).
    if let Some(gate) = &cfg.checking {
        gate().await;
    }
    let checked = if distinct {
        let docs = jobs.len();
        check_all(&mut jobs, &origin, &budget)
            .instrument(tracing::info_span!("link.check", docs))
            .await
            .map_err(|m| ErrorFrame {
                code: ErrorCode::Internal,
                doc_id: None,
                path: None,
                rule: None,
                message: m,
            })?
    } else {
        Vec::new()
    };
    let t2 = std::time::Instant::now();
    let mut w = match early {
        Some(w) => w,
        None => cfg.store.writer().await.map_err(internal)?,
    };
    // What the checks ran on must still be what is stored (a local write or another link may have
    // stored one of these documents while they ran).
    if lock == Lock::AfterChecks && distinct {
        let now = w.stored_heads(&doc_ids).await.map_err(internal)?;
        let docs = jobs.iter().filter_map(|j| match j {
            Job::Doc(d) => Some(d.id.as_str()),
            Job::Summary(_) => None,
        });
        if any_moved(
            &now,
            docs.zip(checked.iter().map(|(_, old, _)| old.as_slice())),
        ) {
            return Ok(None);
        }
    }
    let mut checked = checked.into_iter();
    // What the batch brings, held to the child's quotas as it is written (issue 19 #4).
    let row = cfg.store.link(peer).await.map_err(internal)?;
    let child = (role == Role::Child).then_some(peer);
    let mut tally = Tally::new(
        &cfg.quotas,
        &cfg.summary_rate,
        child,
        row.held_docs,
        row.held_bytes,
    );
    // (document, heads) the sender holds, written together after the batch's documents.
    let mut held: Vec<(String, Vec<String>)> = Vec::new();
    // Documents new to this node, stored together after the loop (multi-row statements).
    let mut new_docs: Vec<safemesh_store::NewDoc> = Vec::new();
    // Documents this batch changed here (their trace goes on with this node's apply span).
    let mut stored: Vec<String> = Vec::new();
    // Phase 3 (store): write in batch order (documents new to this node are gathered and stored
    // together after the loop, in their order, in multi-row statements); the first rejection
    // rejects the whole batch.
    for job in jobs {
        match job {
            Job::Doc(job) => {
                let DocJob {
                    id,
                    seq,
                    snapshot,
                    changes,
                    heads,
                    payload,
                    base: _,
                } = *job;
                let had_snapshot = snapshot.is_some();
                let (result, old_heads, projection) = match checked.next() {
                    Some(r) => r,
                    None => {
                        // In order: this document's stored version may have changed earlier in the batch.
                        // (Only a batch naming a document twice gets here.)
                        store_new(&mut w, &mut new_docs).await?;
                        let mut base = w.load(&id).await.map_err(internal)?;
                        let old = base.as_mut().map(|b| b.get_heads()).unwrap_or_default();
                        (
                            decode_and_check(
                                &id,
                                snapshot,
                                changes,
                                base.as_mut(),
                                &origin,
                                &budget,
                            ),
                            old,
                            None,
                        )
                    }
                };
                let (checked, fresh_bytes) = result?;
                match verdict(&id, had_snapshot, checked) {
                    Verdict::Store(mut checked) => {
                        zone_chain(&id, &checked.header, &origin, &cfg.me)?;
                        // A part of a document too large for one batch: the heads it names are
                        // not all here yet. What the sender surely holds is what this side holds.
                        let reached = safemesh_doc::heads_from_hex(&heads).is_ok_and(|hs| {
                            hs.iter()
                                .all(|h| checked.doc.get_change_by_hash(h).is_some())
                        });
                        let heads = if reached {
                            heads
                        } else {
                            safemesh_doc::heads_to_hex(&checked.doc.get_heads())
                        };
                        tally.document(&id, old_heads.is_empty(), payload)?;
                        match fresh_bytes {
                            Some(bytes) => {
                                let projection =
                                    projection.transpose().map_err(|e| store_failed(&id, e))?;
                                new_docs.push(safemesh_store::NewDoc {
                                    id: id.clone(),
                                    doc: checked.doc,
                                    bytes,
                                    projection,
                                });
                            }
                            None => {
                                w.put_doc(&id, &mut checked.doc, &old_heads)
                                    .await
                                    .map_err(|e| store_failed(&id, e))?;
                            }
                        }
                        if reached {
                            received.held(id.clone());
                        } else {
                            received.partial(id.clone(), seq);
                        }
                        stored.push(id.clone());
                        held.push((id, heads));
                    }
                    Verdict::Held => {
                        received.held(id.clone());
                        held.push((id, heads));
                    }
                    Verdict::Missing => {
                        let holds = !old_heads.is_empty();
                        let sync =
                            holds && cfg.store.in_audience(peer, &id).await.map_err(internal)?;
                        received.missing(id, seq, heads, sync);
                    }
                    Verdict::Refuse(e) => return Err(e),
                }
            }
            Job::Summary(item) => match item {
                Item::Summary {
                    owner,
                    version,
                    period,
                    as_of,
                    body,
                    ..
                } => {
                    // Versions are the publishers' wall clocks; bounded by this node's.
                    let now_us = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_micros() as i64);
                    let ok = safemesh_sync::summary::accept(
                        role, peer, &cfg.me, &owner, version, &period, &body, now_us,
                    )?;
                    tally.summary(&owner, body.len(), hook::now(cfg.hook.as_deref()))?;
                    w.put_summary(&ok.owner, ok.version, &period, &as_of, &body)
                        .await
                        .map_err(internal)?;
                }
                Item::Doc { .. } => unreachable!("documents are jobs of their own"),
            },
        }
    }
    store_new(&mut w, &mut new_docs).await?;
    let t3 = std::time::Instant::now();
    w.set_peer_heads_many(peer, &held).await.map_err(internal)?;
    if let Some((docs, bytes)) = tally.added() {
        w.add_held(peer, docs, bytes).await.map_err(internal)?;
    }
    let current = row.recv_cursor;
    let (acked, durable) = link.batch_cursors(&received, batch.upto, current);
    w.set_recv_cursor(peer, durable, peer_install)
        .await
        .map_err(internal)?;
    // Noted before the commit wakes the links that send these documents on (a note of a batch that
    // then fails to commit is harmless: the documents' next change notes its own).
    trace::note(&cfg.store, &tracing::Span::current(), &stored);
    w.commit().await.map_err(internal)?;
    let ms = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64() * 1000.0;
    let t4 = std::time::Instant::now();
    debug!(
        peer = %peer,
        items,
        load_ms = ms(t0, t1),
        check_ms = ms(t1, t2),
        write_ms = ms(t2, t3),
        commit_ms = ms(t3, t4),
        "batch applied"
    );
    Ok(Some(Applied {
        received,
        acked,
        caught_up: batch.caught_up,
    }))
}

/// Whether any document of `used` (id, the stored heads a check started from) is stored with other
/// heads `now` (as [`safemesh_store::Writer::stored_heads`] reads them; absent: not held).
pub(crate) fn any_moved<'a>(
    now: &HashMap<String, Vec<String>>,
    used: impl IntoIterator<Item = (&'a str, &'a [automerge::ChangeHash])>,
) -> bool {
    let sorted = |mut heads: Vec<String>| {
        heads.sort();
        heads
    };
    used.into_iter().any(|(id, old)| {
        sorted(now.get(id).cloned().unwrap_or_default()) != sorted(heads_to_hex(old))
    })
}

/// A batch (or sync frame) found its documents moved even under the writer: a bug of ours.
pub(crate) fn moved() -> safemesh_store::Error {
    safemesh_store::Error::Corrupt {
        id: "(batch)".into(),
        reason: "stored documents moved while the writer was held".into(),
    }
}

/// Stores the documents new to this node gathered so far (see [`apply`]), in their batch order.
async fn store_new(
    w: &mut safemesh_store::Writer,
    docs: &mut Vec<safemesh_store::NewDoc>,
) -> Result<(), ErrorFrame> {
    w.put_new_docs_bytes(std::mem::take(docs))
        .await
        .map_err(|(id, e)| store_failed(&id, e))
}

/// A document this node cannot read into its records (a core it cannot parse: another build's, or
/// damaged) is the document's fault, not the store's: named, so the sender sets it aside and the rest
/// of the link goes on. Anything else is the store's own failure (`INTERNAL`, retried).
pub(crate) fn store_failed(id: &str, e: safemesh_store::Error) -> ErrorFrame {
    match e {
        safemesh_store::Error::Doc(_) | safemesh_store::Error::Invalid { .. } => ErrorFrame {
            code: ErrorCode::Malformed,
            doc_id: Some(id.to_string()),
            path: None,
            rule: Some("projection_reads".into()),
            message: format!("document {id}: this node cannot read it into its records: {e}"),
        },
        e => internal_error(e),
    }
}

/// The receiver's own store failed (`INTERNAL`: nothing of the batch is kept; the sender retries).
fn internal_error(e: safemesh_store::Error) -> ErrorFrame {
    ErrorFrame {
        code: ErrorCode::Internal,
        doc_id: None,
        path: None,
        rule: None,
        message: format!("receiver store error: {e}"),
    }
}
