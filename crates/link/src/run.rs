//! The run loop of one stream ([`run_link`]): executes the link machine's effects against the store
//! and the transport, and feeds the results back in.
//!
//! Hostile input: the per-frame bounds live in the state machine ([`safemesh_sync::RecvLimits`]); the
//! per-link rate limit lives here ([`crate::RateLimit`]: a token bucket on frames and bytes that delays
//! reading the next frame, so the transport's buffers fill and the peer is slowed down, nothing is
//! dropped); Automerge bytes are decoded and checked with panics caught, so a snapshot or change that
//! makes Automerge panic rejects its batch (`Malformed`, naming the document) instead of killing the
//! task. A rejected batch is rolled back whole (one store transaction, never committed), logged at
//! WARN and counted in the link's status.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use safemesh_model::AdminCode;
use safemesh_store::now_rfc3339;
use safemesh_sync::batch::Estimate;
use safemesh_sync::blob::BlobFlow;
use safemesh_sync::check::panic_text;
use safemesh_sync::docsync;
use safemesh_sync::{Effect, ErrorCode, ErrorFrame, Frame, Link, RULE_FRAME_DECODES, State};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, warn};

use crate::apply::{Applied, apply};
use crate::config::LinkConfig;
use crate::doc_sync::{SyncFail, doc_sync};
use crate::hook::{self, Hook};
use crate::limiter::Limiter;
use crate::prepare::prepare;
use crate::repair;
use crate::status::Registry;

/// One stream's two directions, as channels. The gateway adapts gRPC to this; tests wire two together.
pub struct Transport {
    pub tx: mpsc::Sender<Frame>,
    /// Frames received with their size on the wire.
    pub rx: mpsc::Receiver<(Frame, usize)>,
    /// Bytes the transport has written (maintained by the transport).
    pub bytes_out: Arc<AtomicU64>,
    /// The serial of the certificate the peer authenticated this stream with (`None` when the
    /// transport has none, e.g. in-memory tests): the link's stored state is bound to it.
    pub peer_serial: Option<String>,
}

/// Serves one stream of `link` until it closes. Returns the reason it closed.
pub async fn run_link(
    cfg: &LinkConfig,
    link: &mut Link,
    mut t: Transport,
    mut shutdown: watch::Receiver<bool>,
) -> String {
    let peer = link.peer.clone();
    let reg = cfg.registry.clone();
    reg.update(peer.as_str(), |s| {
        s.role = link.role.as_str().to_string();
        // Progress counts are per stream.
        s.received_docs = 0;
        s.sent_docs = 0;
        s.to_receive_docs = 0;
        s.to_receive_bytes = 0;
    });
    let row = match bind_serial(cfg, &peer, t.peer_serial.as_deref()).await {
        Ok(r) => r,
        Err(e) => return format!("store: {e}"),
    };
    let mut seq_rx = cfg.store.subscribe();
    let hook: Option<&dyn Hook> = cfg.hook.as_deref();
    // The store's seq this runner has taken in (told to the hook when it waits).
    let mut seen_seq = *seq_rx.borrow();
    match cfg.store.repair_pending(&peer).await {
        Ok(p) => link.set_repair_pending(p),
        Err(e) => return format!("store: {e}"),
    }
    // The revocation list this node holds: its number goes into the hello, and a child holding an
    // older one is offered it, now and whenever it changes (`crate::crl`).
    let mut crl_rx = cfg.crl.as_ref().map(|c| c.subscribe());
    if let Some(c) = &cfg.crl {
        let _ = link.set_crl(c.current());
    }
    let mut queue: VecDeque<Effect> = link
        .on_connected(
            row.recv_cursor,
            row.peer_install.clone(),
            cfg.store.current_seq(),
        )
        .into();
    let mut peer_install = row.peer_install.unwrap_or_default();
    let mut bytes_in = 0u64;
    let out_base = t.bytes_out.load(Ordering::Relaxed);
    let mut out_reported = 0u64;
    let in_at_start = reg.get(peer.as_str()).map_or(0, |s| s.bytes_in);
    let mut limiter = Limiter::new(&cfg.rate, hook::now(hook));
    // What is left to send, counted now and then and estimated in between (see `prepare`),
    // and the documents too large for one batch, sent in part on this stream.
    let mut sending = crate::prepare::Sending {
        estimate: Estimate::new(std::time::Instant::now()),
        parts: crate::prepare::Parts::new(),
    };
    // While set, the next frame is not read before then (rate limit).
    let mut resume_at: Option<Instant> = None;
    // The Automerge sync state of each document in an exchange on this stream (DESIGN §5.6); the link
    // knows which documents those are, and the heads each must reach.
    let mut sessions: HashMap<String, docsync::Session> = HashMap::new();
    // 佐证材料 on this stream (`blobs`): asked for once the peer's hello is in, sent only when no
    // document frame waits.
    let mut blobs = BlobFlow::new(cfg.blobs);
    let mut blob_rx = cfg.store.subscribe_blobs();
    let reason = 'stream: loop {
        link.set_now(unix_secs());
        if matches!(link.state(), State::CatchingUp | State::InSync) {
            match crate::blobs::wants(cfg, &peer, &mut blobs).await {
                Ok(frames) => queue.extend(frames.into_iter().map(Effect::Send)),
                Err(e) => break 'stream format!("store: {e}"),
            }
        }
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Send(frame) => {
                    if let Frame::Batch(b) = &frame {
                        debug!(peer = %peer, items = b.items.len(), upto = b.upto, "send batch");
                        reg.update(peer.as_str(), |s| s.batches_sent += 1);
                    }
                    if let Frame::Error(e) = &frame {
                        note_rejection(&reg, &peer, e);
                    }
                    if let Some(h) = hook {
                        h.sent(1);
                    }
                    if t.tx.send(frame).await.is_err() {
                        break 'stream "stream closed while sending".to_string();
                    }
                }
                Effect::ResetPeer { install_id } => {
                    info!(peer = %peer, install = %install_id, "peer is a new install; resetting what it was known to hold");
                    peer_install = install_id.clone();
                    if let Err(e) = reset_peer(cfg, &peer, &install_id).await {
                        break 'stream format!("store: {e}");
                    }
                }
                Effect::ForgetPeerHeads { doc_ids } => {
                    if let Err(e) = forget_heads(cfg, &peer, &doc_ids).await {
                        break 'stream format!("store: {e}");
                    }
                }
                Effect::Prepare {
                    after,
                    force,
                    exclude,
                } => match prepare(cfg, &peer, link.role, after, &force, &exclude, &mut sending)
                    .await
                {
                    Ok(p) => {
                        link.defer(p.deferred);
                        queue.extend(link.on_prepared(p.batch, p.docs))
                    }
                    Err(e) => break 'stream format!("prepare: {e}"),
                },
                Effect::Apply(batch) => {
                    let items = batch.items.len();
                    // The batch's span continues the trace its sender carried (`trace`).
                    let span = tracing::info_span!("link.apply", node = %cfg.me, peer = %peer, items, upto = batch.upto);
                    crate::trace::continue_from(&span, &batch.traces);
                    // A panic anywhere in checking or storing rejects the batch (its transaction is
                    // dropped, so rolled back) instead of ending the task.
                    let applied =
                        AssertUnwindSafe(apply(cfg, link, &peer_install, batch).instrument(span))
                            .catch_unwind()
                            .await
                            .unwrap_or_else(|p| {
                                Err(ErrorFrame {
                                    code: ErrorCode::Malformed,
                                    doc_id: None,
                                    path: None,
                                    rule: Some("no_panic".into()),
                                    message: format!(
                                        "panic while applying the batch: {}",
                                        panic_text(&p)
                                    ),
                                })
                            });
                    match applied {
                        Ok(Applied {
                            received,
                            acked,
                            caught_up,
                        }) => {
                            reg.update(peer.as_str(), |s| {
                                s.received_docs += items as u64;
                                s.batches_received += 1;
                            });
                            // Documents arrived: they may reference files to ask for.
                            blobs.touch();
                            queue.extend(link.on_received(received, acked, caught_up))
                        }
                        Err(err) => queue.extend(link.on_apply_rejected(err)),
                    }
                }
                Effect::DocSync { steps } => {
                    match doc_sync(cfg, link, &peer_install, &mut sessions, steps).await {
                        Ok(results) => queue.extend(link.on_doc_synced(results)),
                        Err(SyncFail::Refused(err)) => queue.extend(link.on_apply_rejected(err)),
                        Err(SyncFail::Store(e)) => break 'stream format!("store: {e}"),
                    }
                }
                Effect::PersistAck { upto, docs } => {
                    if let Err(e) = persist_ack(cfg, &peer, upto, &docs).await {
                        break 'stream format!("store: {e}");
                    }
                    reg.update(peer.as_str(), |s| s.sent_docs += docs.len() as u64);
                }
                Effect::MakeDigest { peer_seq } => {
                    // Marked first, so a stream cut before the reply is in starts it again.
                    if let Err(e) = mark_repair(cfg, &peer, true).await {
                        break 'stream format!("store: {e}");
                    }
                    match repair::make(cfg, &peer, peer_seq).await {
                        Ok(d) => {
                            info!(peer = %peer, buckets = d.buckets, filled = d.slots.len(), "peer's holdings unknown: digest sent");
                            queue.extend(link.on_digest_made(d));
                        }
                        Err(e) => break 'stream format!("store: {e}"),
                    }
                    if !link.repairing()
                        && let Err(e) = mark_repair(cfg, &peer, false).await
                    {
                        break 'stream format!("store: {e}");
                    }
                }
                Effect::AnswerDigest(d) => match repair::answer(cfg, &peer, &d).await {
                    Ok(frames) => {
                        let differ: usize = frames.iter().map(|f| f.differ.len()).sum();
                        debug!(peer = %peer, asked = d.slots.len(), differ, "digest answered");
                        // Sent beside this loop, not from it: both sides of a restored link answer
                        // at once, and a reply larger than the transport's buffers would block
                        // each side's send while neither reads.
                        let tx = t.tx.clone();
                        if let Some(h) = hook {
                            h.sent(frames.len());
                        }
                        tokio::spawn(async move {
                            for f in frames {
                                if tx.send(Frame::DigestReply(f)).await.is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    Err(e) => break 'stream format!("store: {e}"),
                },
                Effect::PeerHolds { docs } => {
                    if let Err(e) = repair::peer_holds(cfg, &peer, &docs).await {
                        break 'stream format!("store: {e}");
                    }
                }
                Effect::DigestSettled { digest, differ } => {
                    let settled = match repair::settle(cfg, &peer, &digest, &differ).await {
                        Ok(held) => mark_repair(cfg, &peer, false).await.map(|()| held),
                        Err(e) => Err(e),
                    };
                    match settled {
                        Ok(held) => {
                            info!(peer = %peer, held, differ = differ.len(), "digest repair: peer's holdings known")
                        }
                        Err(e) => break 'stream format!("store: {e}"),
                    }
                }
                Effect::TakeCrl { der } => {
                    let taken = take_crl(cfg, der).await;
                    if let Ok(n) = &taken {
                        info!(peer = %peer, crl_number = n, "revocation list taken from the parent");
                    }
                    queue.extend(link.on_crl_taken(taken));
                }
                Effect::Close { reason } => break 'stream reason,
            }
        }
        let out = t.bytes_out.load(Ordering::Relaxed) - out_base;
        reg.update(peer.as_str(), |s| {
            s.state = link.state().as_str().to_string();
            s.inflight = link.inflight();
            s.recv_cursor = link.recv_cursor();
            s.last_error = link.last_error().map(str::to_string);
            s.quarantined = link.quarantined().iter().cloned().collect();
            s.refused = link.refused();
            s.doc_syncs = link.syncing().count();
            if link.state() == State::InSync {
                s.last_sync_at = Some(now_rfc3339());
            }
            s.bytes_in += bytes_in;
            s.bytes_out += out - out_reported;
        });
        bytes_in = 0;
        out_reported = out;
        // A chunk may go only when no document frame waits: none queued, no commit unseen.
        let commit_waiting = seq_rx.has_changed().unwrap_or(false);
        let chunk_ready = blobs.has_chunk() && !commit_waiting;
        if let Some(h) = hook
            && !chunk_ready
        {
            h.idle(seen_seq);
        }
        tokio::select! {
            permit = t.tx.reserve(), if chunk_ready => {
                mark_busy(hook);
                let Ok(permit) = permit else {
                    break 'stream "stream closed while sending".to_string();
                };
                match crate::blobs::next_chunk(cfg, &mut blobs).await {
                    Ok(Some(frame)) => {
                        if let Some(h) = hook {
                            h.sent(1);
                        }
                        permit.send(frame);
                    }
                    Ok(None) => {}
                    Err(e) => break 'stream format!("store: {e}"),
                }
            }
            r = blob_rx.changed() => {
                mark_busy(hook);
                if r.is_err() { break 'stream "store closed".to_string(); }
                blob_rx.borrow_and_update();
                match crate::blobs::on_local_blobs(cfg, &mut blobs).await {
                    Ok(frames) => queue.extend(frames.into_iter().map(Effect::Send)),
                    Err(e) => break 'stream format!("store: {e}"),
                }
            }
            _ = hook::sleep_until(hook, resume_at.unwrap_or_else(|| hook::now(hook))), if resume_at.is_some() => {
                mark_busy(hook);
                resume_at = None;
            }
            f = t.rx.recv(), if resume_at.is_none() => match f {
                Some((frame, n)) => {
                    mark_busy(hook);
                    if let Some(h) = hook {
                        h.received();
                    }
                    bytes_in += n as u64;
                    let now = hook::now(hook);
                    let wait = limiter.take(n.max(frame.weight()), now);
                    if !wait.is_zero() {
                        debug!(peer = %peer, wait_ms = wait.as_millis() as u64, "rate limit: reading paused");
                        resume_at = Some(now + wait);
                    }
                    let hello = match &frame {
                        Frame::Hello(h) => Some(h.clone()),
                        _ => None,
                    };
                    if let Frame::Batch(b) = &frame {
                        let r = b.remaining;
                        reg.update(peer.as_str(), |s| {
                            s.to_receive_docs = r.docs;
                            s.to_receive_bytes = r.bytes;
                        });
                    }
                    if is_blob(&frame) {
                        match on_blob_frame(cfg, link, &peer, &mut blobs, frame).await {
                            Ok(effects) => queue.extend(effects),
                            Err(e) => break 'stream format!("store: {e}"),
                        }
                    } else {
                        queue.extend(link.on_frame(frame));
                    }
                    if let Some(h) = hello {
                        reg.update(peer.as_str(), |s| s.peer_seq = h.seq);
                        // Remember which install of the peer this is, so the next hello can tell a
                        // reconnect from a restored peer.
                        if h.code == peer.as_str() && peer_install != h.install_id {
                            let reset = queue.iter().any(|e| matches!(e, Effect::ResetPeer { .. }));
                            peer_install = h.install_id.clone();
                            if !reset
                                && let Err(e) = remember_install(cfg, &peer, &peer_install).await {
                                    break 'stream format!("store: {e}");
                                }
                        }
                    }
                }
                None => {
                    if let Some(h) = hook {
                        h.received();
                    }
                    break 'stream "stream closed by peer".to_string();
                }
            },
            r = seq_rx.changed() => {
                mark_busy(hook);
                if r.is_err() { break 'stream "store closed".to_string(); }
                let seq = *seq_rx.borrow_and_update();
                seen_seq = seq;
                queue.extend(link.on_local_commit(seq));
            }
            Some(()) = crl_changed(&mut crl_rx) => {
                mark_busy(hook);
                if let Some(c) = &cfg.crl {
                    queue.extend(link.set_crl(c.current()));
                }
            }
            _ = shutdown.changed() => break 'stream "shutting down".to_string(),
        }
    };
    // The peer's last words: an error frame it sent just before closing (e.g. refusing a document)
    // may still be buffered when this side stops for another reason (its own send failed, or a new
    // stream replaced this one). Read it, so the document is quarantined and the error shown. When
    // our send failed the peer has hung up; give its reader a moment to deliver.
    mark_busy(hook);
    let mut peer_error = None;
    if reason == "stream closed while sending" {
        let deadline = hook::after(hook, Duration::from_millis(500));
        // Waiting on the peer (and the clock): idle to a harness, so its time may pass.
        if let Some(h) = hook {
            h.idle(seen_seq);
        }
        while let Some(Some((frame, _))) = hook::timeout_at(hook, deadline, t.rx.recv()).await {
            if let Some(h) = hook {
                h.received();
            }
            if let Frame::Error(e) = frame {
                peer_error = Some(e);
            }
        }
        mark_busy(hook);
    } else {
        while let Ok((frame, _)) = t.rx.try_recv() {
            if let Some(h) = hook {
                h.received();
            }
            if let Frame::Error(e) = frame {
                peer_error = Some(e);
            }
        }
    }
    let reason = match peer_error {
        Some(e) if e.rule.as_deref() != Some(RULE_FRAME_DECODES) => {
            let _ = link.on_frame(Frame::Error(e.clone()));
            format!("{reason} (after the peer's error: {})", e.message)
        }
        _ => reason,
    };
    link.on_disconnected(Some(reason.clone()));
    let out = t.bytes_out.load(Ordering::Relaxed) - out_base;
    reg.update(peer.as_str(), |s| {
        s.state = link.state().as_str().to_string();
        s.inflight = 0;
        s.doc_syncs = 0;
        s.last_error = link.last_error().map(str::to_string);
        s.quarantined = link.quarantined().iter().cloned().collect();
        s.refused = link.refused();
        s.bytes_in += bytes_in;
        s.bytes_out += out - out_reported;
    });
    // Keep the stream's traffic and last error in the store, across restarts.
    let stream_in = reg.get(peer.as_str()).map_or(0, |s| s.bytes_in);
    let _ = cfg
        .store
        .add_traffic(
            &peer,
            (stream_in - in_at_start) as i64,
            out as i64,
            link.last_error(),
        )
        .await;
    reason
}

/// Waits for the node's revocation list to change; `None` (never ready in `select!`) without one,
/// or once its source is gone.
async fn crl_changed(rx: &mut Option<watch::Receiver<u64>>) -> Option<()> {
    match rx {
        Some(r) => match r.changed().await {
            Ok(()) => Some(()),
            Err(_) => {
                *rx = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}

/// Hands a CRL the parent offered to the node's source (which verifies it and writes it to disk:
/// off the reactor). A node without one refuses it.
async fn take_crl(cfg: &LinkConfig, der: Vec<u8>) -> Result<u64, ErrorFrame> {
    let refused = |message: String| ErrorFrame {
        code: ErrorCode::Internal,
        doc_id: None,
        path: None,
        rule: Some("crl_taken".into()),
        message,
    };
    let Some(source) = cfg.crl.clone() else {
        return Err(refused("this node keeps no revocation list".into()));
    };
    tokio::task::spawn_blocking(move || source.offer(&der))
        .await
        .unwrap_or_else(|e| Err(refused(format!("taking the revocation list failed: {e}"))))
}

/// Whether a frame is the blob flow's (`blobs`), not the document machine's.
fn is_blob(frame: &Frame) -> bool {
    matches!(
        frame,
        Frame::BlobWant { .. } | Frame::BlobChunk(_) | Frame::BlobHeld { .. }
    )
}

/// A blob frame from the peer, through the flow: the frames to send, or a typed refusal and the
/// end of the stream (nothing of a refused frame is stored). Only after the peer's hello.
async fn on_blob_frame(
    cfg: &LinkConfig,
    link: &Link,
    peer: &AdminCode,
    blobs: &mut BlobFlow,
    frame: Frame,
) -> Result<Vec<Effect>, safemesh_store::Error> {
    let refused = |e: ErrorFrame| {
        let reason = format!(
            "blob refused ({}): {}",
            e.rule.as_deref().unwrap_or("-"),
            e.message
        );
        vec![Effect::Send(Frame::Error(e)), Effect::Close { reason }]
    };
    if !matches!(link.state(), State::CatchingUp | State::InSync) {
        return Ok(refused(ErrorFrame {
            code: ErrorCode::Malformed,
            doc_id: None,
            path: None,
            rule: Some("hello_first".into()),
            message: "blob frame before hello".into(),
        }));
    }
    match crate::blobs::on_frame(cfg, peer, blobs, frame).await {
        Ok(frames) => Ok(frames.into_iter().map(Effect::Send).collect()),
        Err(crate::blobs::BlobFail::Refused(e)) => Ok(refused(e)),
        Err(crate::blobs::BlobFail::Store(e)) => Err(e),
    }
}

/// The wall clock in seconds: the link's quarantine expires on it ([`Link::set_now`]).
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Tells a harness the runner took up an input.
fn mark_busy(hook: Option<&dyn Hook>) {
    if let Some(h) = hook {
        h.busy();
    }
}

/// Logs and counts an error frame this side sends: a refusal of the peer's input (or our own failure).
fn note_rejection(reg: &Registry, peer: &AdminCode, e: &ErrorFrame) {
    warn!(
        peer = %peer,
        code = e.code.as_str(),
        doc = e.doc_id.as_deref().unwrap_or("-"),
        path = e.path.as_deref().unwrap_or("-"),
        rule = e.rule.as_deref().unwrap_or("-"),
        "batch rejected: {}",
        e.message
    );
    if matches!(e.code, ErrorCode::Forbidden | ErrorCode::Malformed) {
        let text = format!(
            "{}: doc {} path {} rule {}: {}",
            e.code.as_str(),
            e.doc_id.as_deref().unwrap_or("-"),
            e.path.as_deref().unwrap_or("-"),
            e.rule.as_deref().unwrap_or("-"),
            e.message
        );
        let rule = e.rule.as_deref().unwrap_or(e.code.as_str()).to_string();
        reg.update(peer.as_str(), |s| {
            s.rejected_batches += 1;
            *s.rejections.entry(rule).or_default() += 1;
            s.last_rejection = Some(text);
        });
    }
}

/// The peer's stored link state, bound to the certificate serial of this stream (issue 19 #1): what
/// a stream under another certificate of the same code established — its cursor, the heads it was
/// known to hold, its sync states — is void (a stolen certificate, since revoked and re-issued, may
/// have planted it), so it is reset and repaired by digests (`link::repair`), as for a restored peer.
/// A state bound to no serial yet (first contact, or stored before the binding) is bound now.
async fn bind_serial(
    cfg: &LinkConfig,
    peer: &AdminCode,
    serial: Option<&str>,
) -> Result<safemesh_store::LinkRow, safemesh_store::Error> {
    let row = cfg.store.link(peer).await?;
    let Some(serial) = serial else {
        return Ok(row);
    };
    if row.peer_serial.as_deref() == Some(serial) {
        return Ok(row);
    }
    let mut w = cfg.store.writer().await?;
    if let Some(old) = &row.peer_serial {
        info!(peer = %peer, old = %old, new = %serial, "peer's certificate changed; its link state is void, repaired by digests");
        w.reset_peer(peer).await?;
        w.set_repair_pending(peer, true).await?;
    }
    w.set_peer_serial(peer, serial).await?;
    w.commit().await?;
    cfg.store.link(peer).await
}

async fn mark_repair(
    cfg: &LinkConfig,
    peer: &AdminCode,
    pending: bool,
) -> Result<(), safemesh_store::Error> {
    let mut w = cfg.store.writer().await?;
    w.set_repair_pending(peer, pending).await?;
    w.commit().await?;
    debug!(peer = %peer, pending, "digest repair marked");
    Ok(())
}

async fn remember_install(
    cfg: &LinkConfig,
    peer: &AdminCode,
    install: &str,
) -> Result<(), safemesh_store::Error> {
    let mut w = cfg.store.writer().await?;
    w.set_peer_install(peer, install).await?;
    w.commit().await?;
    Ok(())
}

async fn reset_peer(
    cfg: &LinkConfig,
    peer: &AdminCode,
    install: &str,
) -> Result<(), safemesh_store::Error> {
    let mut w = cfg.store.writer().await?;
    w.reset_peer(peer).await?;
    w.set_recv_cursor(peer, 0, install).await?;
    w.commit().await?;
    Ok(())
}

async fn forget_heads(
    cfg: &LinkConfig,
    peer: &AdminCode,
    ids: &[String],
) -> Result<(), safemesh_store::Error> {
    let mut w = cfg.store.writer().await?;
    for id in ids {
        w.forget_peer_heads(peer, id).await?;
    }
    w.commit().await?;
    Ok(())
}

async fn persist_ack(
    cfg: &LinkConfig,
    peer: &AdminCode,
    upto: i64,
    docs: &[(String, Vec<String>)],
) -> Result<(), safemesh_store::Error> {
    let mut w = cfg.store.writer().await?;
    w.set_acked(peer, upto).await?;
    w.set_peer_heads_many(peer, docs).await?;
    w.commit().await?;
    Ok(())
}
