//! The store side of a document's Automerge sync exchange ([`safemesh_sync::docsync`]).

use std::collections::HashMap;

use safemesh_doc::authority::Origin;
use safemesh_sync::check::refusal;
use safemesh_sync::docsync;
use safemesh_sync::frame::{ErrorCode, ErrorFrame};
use safemesh_sync::{DocSyncStep, Link, Role, Synced};
use tracing::debug;

use crate::apply::{any_moved, moved, store_failed};
use crate::config::LinkConfig;
use crate::pool::automerge_permits;

/// Bytes of the peer's sync changes one stream keeps in memory while they wait for a dependency.
const MAX_STREAM_PENDING_BYTES: usize = 64 << 20;

/// Why a step of a document's sync exchange failed.
pub(crate) enum SyncFail {
    /// The peer's message or changes are refused: tell it and close, as for a batch.
    Refused(ErrorFrame),
    /// This node's own store failed.
    Store(safemesh_store::Error),
}

/// Runs one step of the Automerge sync exchange for each document of `messages`
/// ([`Effect::DocSync`]), all in one store transaction: the peer's changes checked and stored, the
/// peer's heads and the sync states kept, and — for each document this side was waiting for and now
/// holds whole — the durable cursor moved past it. A document this node does not hold, or whose
/// audience leaves the peer out, ends its exchange on this side at once. The first refusal refuses
/// the frame: nothing of it is stored, and the exchanges it named are dropped.
///
/// As for a batch ([`crate::apply`]), the steps (the Automerge work and the checks) run before the
/// store's writer is taken; under it, the stored heads they started from are compared with what is
/// stored now, and if a document moved meanwhile the frame is stepped again with the writer held
/// throughout (from the sessions as they were: a step works on copies).
pub(crate) async fn doc_sync(
    cfg: &LinkConfig,
    link: &Link,
    peer_install: &str,
    sessions: &mut HashMap<String, docsync::Session>,
    steps: Vec<DocSyncStep>,
) -> Result<Vec<Synced>, SyncFail> {
    match doc_sync_once(cfg, link, peer_install, sessions, &steps, false).await? {
        Some(results) => Ok(results),
        None => doc_sync_once(cfg, link, peer_install, sessions, &steps, true)
            .await?
            .ok_or_else(|| SyncFail::Store(moved())),
    }
}

/// One attempt of [`doc_sync`]: with the writer taken before reading (`locked`) or after the steps;
/// `None` if a document the steps started from moved before the writer was taken. `sessions` is
/// changed only when the frame's steps are committed.
async fn doc_sync_once(
    cfg: &LinkConfig,
    link: &Link,
    peer_install: &str,
    sessions: &mut HashMap<String, docsync::Session>,
    steps: &[DocSyncStep],
    locked: bool,
) -> Result<Option<Vec<Synced>>, SyncFail> {
    let peer = &link.peer;
    let origin = match link.role {
        Role::Child => Origin::Child(peer.clone()),
        Role::Parent => Origin::Parent(peer.clone()),
    };
    let t0 = std::time::Instant::now();
    let mut early = if locked {
        Some(cfg.store.writer().await.map_err(SyncFail::Store)?)
    } else {
        None
    };
    let mut results = Vec::with_capacity(steps.len());
    // (id, stored version, its heads, session, message, heads wanted) of each document to step.
    let mut work = Vec::with_capacity(steps.len());
    // The frame's exchanges as they stand (a fresh one starts over), as copies.
    let mut mine: HashMap<String, docsync::Session> = steps
        .iter()
        .filter(|s| !s.fresh)
        .filter_map(|s| Some((s.doc_id.clone(), sessions.get(&s.doc_id)?.clone())))
        .collect();
    let ids: Vec<&str> = steps.iter().map(|s| s.doc_id.as_str()).collect();
    let in_scope = cfg
        .store
        .in_audience_of(peer, &ids)
        .await
        .map_err(SyncFail::Store)?;
    let new_here: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| !mine.contains_key(*id))
        .collect();
    let mut kept = cfg
        .store
        .sync_states(peer, &new_here)
        .await
        .map_err(SyncFail::Store)?;
    for DocSyncStep {
        doc_id: id,
        message,
        fresh,
    } in steps.iter().cloned()
    {
        let stored = if in_scope.contains(&id) {
            match &mut early {
                Some(w) => w.load(&id).await,
                None => cfg.store.load(&id).await,
            }
            .map_err(SyncFail::Store)?
        } else {
            None
        };
        let Some(mut stored) = stored else {
            debug!(peer = %peer, doc = %id, "sync exchange for a document not held or not in scope: ended");
            results.push(Synced {
                doc_id: id,
                reply: None,
                complete: false,
                last: true,
            });
            continue;
        };
        // A message for an exchange this side has ended (not an opening): answered only if this
        // side has something to say — two sides each answering the other's closing message from a
        // new session would never stop.
        let (session, live) = match mine.remove(&id) {
            Some(s) => (s, true),
            None => (
                docsync::Session::new(kept.remove(&id).as_deref()),
                fresh || message.is_none(),
            ),
        };
        let heads = stored.get_heads();
        let want = link
            .wanted(&id)
            .and_then(|h| safemesh_doc::heads_from_hex(h).ok())
            .unwrap_or_default();
        work.push((id, stored, heads, session, message, want, live));
    }
    let t1 = std::time::Instant::now();
    // The Automerge work, off the reactor under one of the process-wide permits.
    // What the frame's changes may inflate to, together (issue 19 #3).
    let budget = link.limits().inflate_budget();
    let permit = automerge_permits().clone().acquire_owned().await;
    let stepped = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work.into_iter()
            .map(|(id, stored, heads, mut session, message, want, live)| {
                let r = docsync::step_within(
                    &id,
                    stored,
                    &mut session,
                    message.as_deref(),
                    &want,
                    &origin,
                    &budget,
                );
                (id, heads, session, r, live)
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| {
        SyncFail::Refused(ErrorFrame {
            code: ErrorCode::Internal,
            doc_id: None,
            path: None,
            rule: None,
            message: format!("sync step ended: {e}"),
        })
    })?;
    let t2 = std::time::Instant::now();
    let mut w = match early {
        Some(w) => w,
        None => cfg.store.writer().await.map_err(SyncFail::Store)?,
    };
    // What the steps started from must still be what is stored.
    if !locked {
        let stepped_ids: Vec<&str> = stepped.iter().map(|(id, ..)| id.as_str()).collect();
        let now = w
            .stored_heads(&stepped_ids)
            .await
            .map_err(SyncFail::Store)?;
        let used = stepped
            .iter()
            .map(|(id, old, ..)| (id.as_str(), old.as_slice()));
        if any_moved(&now, used) {
            return Ok(None);
        }
    }
    let mut kept_sessions = Vec::new();
    let mut heads_held = Vec::new();
    let mut states = Vec::new();
    for (id, old_heads, session, result, live) in stepped {
        let mut step = match result {
            Ok(step) => step,
            Err(e) => {
                // Nothing of the frame is stored (the writer is dropped), and its exchanges end.
                let e = match e {
                    docsync::StepError::Refused(e) => e,
                    docsync::StepError::Malformed(m) => safemesh_doc::Error::Corrupt(m),
                    // A bound: the frame's fault, not the document's (no quarantine).
                    docsync::StepError::Bound { rule, message } => {
                        return Err(SyncFail::Refused(ErrorFrame {
                            code: ErrorCode::Malformed,
                            doc_id: Some(id),
                            path: None,
                            rule: Some(rule.into()),
                            message,
                        }));
                    }
                };
                return Err(SyncFail::Refused(refusal(&id, e)));
            }
        };
        if let Some(mut checked) = step.store {
            w.put_doc(&id, &mut checked.doc, &old_heads)
                .await
                .map_err(|e| SyncFail::Refused(store_failed(&id, e)))?;
        }
        if let Some(heads) = step.peer_heads {
            heads_held.push((id.clone(), heads));
        }
        if let Some(state) = step.keep {
            states.push((id.clone(), state));
        }
        if step.closing && !live {
            step.reply = None;
        }
        if !step.last {
            kept_sessions.push((id.clone(), session));
        }
        results.push(Synced {
            doc_id: id,
            reply: step.reply,
            complete: step.complete,
            last: step.last,
        });
    }
    // What the peer's changes waiting for a dependency hold in memory on this stream, at most: the
    // other exchanges still on (those the link gave up on, or set aside, end here) and these.
    let others = sessions
        .iter()
        .filter(|(id, _)| !ids.contains(&id.as_str()) && link.is_syncing(id));
    let pending: usize = others
        .map(|(_, s)| s)
        .chain(kept_sessions.iter().map(|(_, s)| s))
        .map(docsync::Session::pending_bytes)
        .sum();
    if pending > MAX_STREAM_PENDING_BYTES {
        return Err(SyncFail::Refused(ErrorFrame {
            code: ErrorCode::Malformed,
            doc_id: None,
            path: None,
            rule: Some("max_pending_sync_bytes".into()),
            message: format!(
                "more than {MAX_STREAM_PENDING_BYTES} bytes of sync changes wait for missing history"
            ),
        }));
    }
    w.set_peer_heads_many(peer, &heads_held)
        .await
        .map_err(SyncFail::Store)?;
    w.set_sync_states(peer, &states)
        .await
        .map_err(SyncFail::Store)?;
    // The cursor may pass every document now complete that this side was waiting for.
    let complete: Vec<&str> = results
        .iter()
        .filter(|r| r.complete && link.awaiting().contains_key(&r.doc_id))
        .map(|r| r.doc_id.as_str())
        .collect();
    let completed = complete.len();
    if !complete.is_empty() {
        let cursor = link.durable_without_all(&complete);
        w.set_recv_cursor(peer, cursor, peer_install)
            .await
            .map_err(SyncFail::Store)?;
    }
    w.commit().await.map_err(SyncFail::Store)?;
    // The frame's exchanges go on from their sessions as stepped; those the link gave up on (or set
    // aside) end here too (the link drops the heads they wanted in `on_doc_synced`).
    for id in &ids {
        sessions.remove(*id);
    }
    sessions.retain(|id, _| link.is_syncing(id));
    sessions.extend(kept_sessions);
    let ms = |a: std::time::Instant, b: std::time::Instant| (b - a).as_secs_f64() * 1000.0;
    debug!(
        peer = %peer,
        docs = results.len(),
        completed,
        load_ms = ms(t0, t1),
        step_ms = ms(t1, t2),
        write_ms = ms(t2, std::time::Instant::now()),
        "sync exchange step"
    );
    Ok(Some(results))
}
