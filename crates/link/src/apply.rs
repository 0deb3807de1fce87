//! The store side of receiving: a batch checked (on the CPU pool) and written in one transaction.

use std::collections::BTreeSet;

use safemesh_doc::authority::Origin;
use safemesh_sync::check::{
    Verdict, decode_and_check, implied_heads, undecodable, verdict, zone_chain,
};
use safemesh_sync::frame::{Batch, ErrorCode, ErrorFrame, Item};
use safemesh_sync::{Link, Received, Role};
use tracing::{Instrument, debug};

use crate::config::LinkConfig;
use crate::pool::{DocJob, Job, check_all};
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
pub(crate) async fn apply(
    cfg: &LinkConfig,
    link: &Link,
    peer_install: &str,
    batch: Batch,
) -> Result<Applied, ErrorFrame> {
    let (peer, role) = (&link.peer, link.role);
    let internal = internal_error;
    let origin = match role {
        Role::Child => Origin::Child(peer.clone()),
        Role::Parent => Origin::Parent(peer.clone()),
    };
    let t0 = std::time::Instant::now();
    let items = batch.items.len();
    let mut w = cfg.store.writer().await.map_err(internal)?;
    let mut received = Received::default();
    // Phase 1 (store): the stored version of each document the batch touches. Documents new to this
    // node are found with one query, so a bootstrap does not look each one up.
    let doc_ids: Vec<&str> = batch
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Doc { id, .. } => Some(id.as_str()),
            Item::Summary { .. } => None,
        })
        .collect();
    let distinct = doc_ids.iter().collect::<BTreeSet<_>>().len() == doc_ids.len();
    let existing = w.existing(&doc_ids).await.map_err(internal)?;
    let mut jobs = Vec::with_capacity(batch.items.len());
    for item in batch.items {
        match item {
            Item::Doc {
                id,
                seq,
                snapshot,
                changes,
                mut heads,
            } => {
                if heads.is_empty() && snapshot.is_none() && !changes.is_empty() {
                    // Omitted by the sender: the newest of the changes it sent.
                    heads = implied_heads(&id, &changes)?;
                }
                // A batch naming a document twice loads it in phase 3, in order, instead.
                let base = if distinct && existing.contains(&id) {
                    w.load(&id).await.map_err(internal)?
                } else {
                    None
                };
                jobs.push(Job::Doc(Box::new(DocJob {
                    id,
                    seq,
                    snapshot,
                    changes,
                    heads,
                    base,
                })));
            }
            summary => jobs.push(Job::Summary(summary)),
        }
    }
    let t1 = std::time::Instant::now();
    // Phase 2 (CPU): decode and check every document off the reactor, in parallel when the batch
    // names each document once (a repeated document must see the first one's result: in order).
    let checked = if distinct {
        let docs = jobs.len();
        check_all(&mut jobs, &origin)
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
    let mut checked = checked.into_iter();
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
                            decode_and_check(&id, snapshot, changes, base.as_mut(), &origin),
                            old,
                            None,
                        )
                    }
                };
                let (checked, fresh_bytes) = result.map_err(|e| undecodable(&id, &e))?;
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
    let current = cfg.store.link(peer).await.map_err(internal)?.recv_cursor;
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
    Ok(Applied {
        received,
        acked,
        caught_up: batch.caught_up,
    })
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
