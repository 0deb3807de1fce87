//! The async adapter of the link state machine: executes its effects against the store and a
//! transport, and feeds the results back in. One call of [`run_link`] serves one stream.
//!
//! Hostile input: the per-frame bounds live in the state machine ([`crate::link::RecvLimits`]); the
//! per-link rate limit lives here ([`RateLimit`]: a token bucket on frames and bytes that delays
//! reading the next frame, so the transport's buffers fill and the peer is slowed down, nothing is
//! dropped); Automerge bytes are decoded and checked with panics caught, so a snapshot or change that
//! makes Automerge panic rejects its batch (`Malformed`, naming the document) instead of killing the
//! task. A rejected batch is rolled back whole (one store transaction, never committed), logged at
//! WARN and counted in the link's status.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use safemesh_doc::authority::{Checked, Origin, check_and_apply, check_snapshot};
use safemesh_doc::{AutoCommit, Change, heads_from_hex, heads_to_hex};
use safemesh_model::AdminCode;
use safemesh_store::{Store, now_rfc3339};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::docsync;
use crate::frame::{Batch, ErrorCode, ErrorFrame, Frame, Item, Remaining};
use crate::link::{Effect, Link, RecvLimits, Role};
use crate::status::Registry;

/// Bounds and identity of a node's links.
#[derive(Clone)]
pub struct LinkConfig {
    pub store: Store,
    pub me: AdminCode,
    pub registry: Registry,
    /// Items per batch frame.
    pub max_batch_items: usize,
    /// Payload bytes per batch frame (a single larger document still goes alone).
    pub max_batch_bytes: usize,
    /// Batches sent and not yet acknowledged.
    pub max_inflight: usize,
    /// Bounds on what this node accepts from a peer, whatever the peer claims.
    pub recv: RecvLimits,
    /// How fast this node reads a peer's frames.
    pub rate: RateLimit,
}

/// A per-link token bucket on incoming frames and bytes. Over the limit, the driver stops reading
/// until the bucket refills: the transport's buffers fill and the peer is slowed down (HTTP/2 flow
/// control on gRPC). Nothing is dropped. A frame larger than the burst still passes, after a wait.
/// A rate of 0 turns that bucket off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub frames_per_sec: f64,
    pub frame_burst: f64,
    pub bytes_per_sec: f64,
    pub byte_burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            frames_per_sec: 200.0,
            frame_burst: 400.0,
            bytes_per_sec: (32u64 << 20) as f64,
            byte_burst: (32u64 << 20) as f64,
        }
    }
}

impl RateLimit {
    /// No limit.
    pub fn unlimited() -> RateLimit {
        RateLimit {
            frames_per_sec: 0.0,
            frame_burst: 0.0,
            bytes_per_sec: 0.0,
            byte_burst: 0.0,
        }
    }
}

/// One token bucket; tokens may go negative (debt), which is paid back by waiting.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64, now: Instant) -> Bucket {
        let burst = burst.max(1.0);
        Bucket {
            rate,
            burst,
            tokens: burst,
            at: now,
        }
    }

    /// Takes `n` tokens; returns how long to wait before the next take.
    fn take(&mut self, n: f64, now: Instant) -> Duration {
        if self.rate.is_nan() || self.rate <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst) - n;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((-self.tokens / self.rate).min(3600.0))
        }
    }
}

/// The two buckets of one stream.
#[derive(Debug)]
struct Limiter {
    frames: Bucket,
    bytes: Bucket,
}

impl Limiter {
    fn new(r: &RateLimit) -> Limiter {
        let now = Instant::now();
        Limiter {
            frames: Bucket::new(r.frames_per_sec, r.frame_burst, now),
            bytes: Bucket::new(r.bytes_per_sec, r.byte_burst, now),
        }
    }

    fn take(&mut self, bytes: usize) -> Duration {
        let now = Instant::now();
        let a = self.frames.take(1.0, now);
        let b = self.bytes.take(bytes as f64, now);
        a.max(b)
    }
}

impl LinkConfig {
    pub fn new(store: Store, me: AdminCode, registry: Registry) -> LinkConfig {
        LinkConfig {
            store,
            me,
            registry,
            max_batch_items: 256,
            max_batch_bytes: 1 << 20,
            max_inflight: 4,
            recv: RecvLimits::default(),
            rate: RateLimit::default(),
        }
    }

    /// A fresh state machine for a link to `peer`.
    pub fn new_link(&self, peer: AdminCode, role: Role) -> Link {
        Link::new(
            self.me.clone(),
            self.store.install_id().to_string(),
            peer,
            role,
            self.max_inflight,
        )
        .with_limits(self.recv)
    }
}

/// One stream's two directions, as channels. The gateway adapts gRPC to this; tests wire two together.
pub struct Transport {
    pub tx: mpsc::Sender<Frame>,
    /// Frames received with their size on the wire.
    pub rx: mpsc::Receiver<(Frame, usize)>,
    /// Bytes the transport has written (maintained by the transport).
    pub bytes_out: Arc<AtomicU64>,
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
    let row = match cfg.store.link(&peer).await {
        Ok(r) => r,
        Err(e) => return format!("store: {e}"),
    };
    let mut seq_rx = cfg.store.subscribe();
    match cfg.store.repair_pending(&peer).await {
        Ok(p) => link.set_repair_pending(p),
        Err(e) => return format!("store: {e}"),
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
    let mut limiter = Limiter::new(&cfg.rate);
    // What is left to send, counted now and then and estimated in between (see `prepare`).
    let mut estimate = Estimate::default();
    // While set, the next frame is not read before then (rate limit).
    let mut resume_at: Option<Instant> = None;
    // Documents in an Automerge sync exchange on this stream (DESIGN §5.6), and for each the heads of
    // the last delta that could not apply (the exchange is complete once they are held too).
    let mut sessions: HashMap<String, docsync::Session> = HashMap::new();
    let mut wanted: HashMap<String, Vec<String>> = HashMap::new();
    let reason = 'stream: loop {
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Send(frame) => {
                    if let Frame::Batch(b) = &frame {
                        debug!(peer = %peer, items = b.items.len(), upto = b.upto, "send batch");
                    }
                    if let Frame::Error(e) = &frame {
                        note_rejection(&reg, &peer, e);
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
                } => match prepare(
                    cfg,
                    &peer,
                    link.role,
                    after,
                    &force,
                    &exclude,
                    &mut estimate,
                )
                .await
                {
                    Ok((batch, docs)) => queue.extend(link.on_prepared(batch, docs)),
                    Err(e) => break 'stream format!("prepare: {e}"),
                },
                Effect::Apply(batch) => {
                    let mut awaiting = link.awaiting().clone();
                    let items = batch.items.len();
                    // A panic anywhere in checking or storing rejects the batch (its transaction is
                    // dropped, so rolled back) instead of ending the task.
                    let applied = AssertUnwindSafe(apply(
                        cfg,
                        &peer,
                        link.role,
                        &peer_install,
                        batch,
                        &mut awaiting,
                        &mut wanted,
                    ))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|p| {
                        Err(ErrorFrame {
                            code: ErrorCode::Malformed,
                            doc_id: None,
                            path: None,
                            rule: Some("no_panic".into()),
                            message: format!("panic while applying the batch: {}", panic_text(&p)),
                        })
                    });
                    match applied {
                        Ok(Applied {
                            acked,
                            caught_up,
                            need_snapshot,
                            need_sync,
                        }) => {
                            reg.update(peer.as_str(), |s| s.received_docs += items as u64);
                            link.set_awaiting(awaiting);
                            queue.extend(link.on_applied(
                                acked,
                                caught_up,
                                need_snapshot,
                                need_sync,
                            ))
                        }
                        Err(err) => queue.extend(link.on_apply_rejected(err)),
                    }
                }
                Effect::DocSync { steps } => {
                    match doc_sync(cfg, link, &peer_install, &mut sessions, &mut wanted, steps)
                        .await
                    {
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
                    match crate::repair::make(cfg, &peer, peer_seq).await {
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
                Effect::AnswerDigest(d) => match crate::repair::answer(cfg, &peer, &d).await {
                    Ok(frames) => {
                        let differ: usize = frames.iter().map(|f| f.differ.len()).sum();
                        debug!(peer = %peer, asked = d.slots.len(), differ, "digest answered");
                        // Sent beside this loop, not from it: both sides of a restored link answer
                        // at once, and a reply larger than the transport's buffers would block
                        // each side's send while neither reads.
                        let tx = t.tx.clone();
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
                    if let Err(e) = crate::repair::peer_holds(cfg, &peer, &docs).await {
                        break 'stream format!("store: {e}");
                    }
                }
                Effect::DigestSettled { digest, differ } => {
                    let settled = match crate::repair::settle(cfg, &peer, &digest, &differ).await {
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
            if link.state() == crate::State::InSync {
                s.last_sync_at = Some(now_rfc3339());
            }
            s.bytes_in += bytes_in;
            s.bytes_out += out - out_reported;
        });
        bytes_in = 0;
        out_reported = out;
        tokio::select! {
            _ = tokio::time::sleep_until(resume_at.unwrap_or_else(Instant::now)), if resume_at.is_some() => {
                resume_at = None;
            }
            f = t.rx.recv(), if resume_at.is_none() => match f {
                Some((frame, n)) => {
                    bytes_in += n as u64;
                    let wait = limiter.take(n.max(frame.weight()));
                    if !wait.is_zero() {
                        debug!(peer = %peer, wait_ms = wait.as_millis() as u64, "rate limit: reading paused");
                        resume_at = Some(Instant::now() + wait);
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
                    queue.extend(link.on_frame(frame));
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
                None => break 'stream "stream closed by peer".to_string(),
            },
            r = seq_rx.changed() => {
                if r.is_err() { break 'stream "store closed".to_string(); }
                let seq = *seq_rx.borrow_and_update();
                queue.extend(link.on_local_commit(seq));
            }
            _ = shutdown.changed() => break 'stream "shutting down".to_string(),
        }
    };
    // The peer's last words: an error frame it sent just before closing (e.g. refusing a document)
    // may still be buffered when this side stops for another reason (its own send failed, or a new
    // stream replaced this one). Read it, so the document is quarantined and the error shown. When
    // our send failed the peer has hung up; give its reader a moment to deliver.
    let mut peer_error = None;
    if reason == "stream closed while sending" {
        let deadline = Instant::now() + Duration::from_millis(500);
        while let Ok(Some((frame, _))) = tokio::time::timeout_at(deadline, t.rx.recv()).await {
            if let Frame::Error(e) = frame {
                peer_error = Some(e);
            }
        }
    } else {
        while let Ok((frame, _)) = t.rx.try_recv() {
            if let Frame::Error(e) = frame {
                peer_error = Some(e);
            }
        }
    }
    let reason = match peer_error {
        Some(e) if e.rule.as_deref() != Some(crate::link::RULE_FRAME_DECODES) => {
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
        reg.update(peer.as_str(), |s| {
            s.rejected_batches += 1;
            s.last_rejection = Some(text);
        });
    }
}

/// The message of a caught panic, if it has one.
pub(crate) fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
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

/// Pages of candidates one prepare may skip over (all already held by the peer) before it returns an
/// empty batch that only moves the cursor on: after a digest repair most of the scope is held.
const MAX_SKIPPED_PAGES: usize = 64;

/// [`prepare_page`], going on to the next page while a whole page was already held by the peer (after
/// a digest repair, a scan from 0 finds most documents held): one empty batch per 64 pages, not one
/// per page.
async fn prepare(
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
            let item = Item::Doc {
                id: id.clone(),
                seq,
                snapshot: Some(doc.save()),
                changes: Vec::new(),
                heads: heads.clone(),
            };
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
                    Item::Doc {
                        id: id.clone(),
                        seq,
                        snapshot: Some(bytes),
                        changes: Vec::new(),
                        heads: heads.clone(),
                    }
                } else {
                    let Some(mut doc) = cfg.store.load(&id).await? else {
                        continue;
                    };
                    let known: Vec<_> = heads_from_hex(&peer_heads.unwrap_or_default())
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|h| doc.get_change_by_hash(h).is_some())
                        .collect();
                    if known.is_empty() {
                        Item::Doc {
                            id: id.clone(),
                            seq,
                            snapshot: Some(doc.save()),
                            changes: Vec::new(),
                            heads: heads.clone(),
                        }
                    } else {
                        let delta = doc.get_changes(&known);
                        if delta.is_empty() {
                            continue;
                        }
                        // The usual case — our heads are the newest of the changes sent — goes
                        // without heads: the receiver derives them (see `tips`), 34 bytes saved.
                        let implied = {
                            let mut t = tips_of(&delta);
                            t.sort();
                            let mut h = heads.clone();
                            h.sort();
                            t == h
                        };
                        Item::Doc {
                            id: id.clone(),
                            seq,
                            snapshot: None,
                            changes: delta.into_iter().map(|c| c.raw_bytes().to_vec()).collect(),
                            heads: if implied { Vec::new() } else { heads.clone() },
                        }
                    }
                };
                bytes += item.payload_len();
                items.push(item);
                docs.push((id, heads));
            }
        }
    }
    let upto = if truncated {
        last_seq
    } else {
        current.max(last_seq)
    };
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

/// What applying a batch came to.
struct Applied {
    /// The cursor acknowledged (it stops before the first document that could not apply).
    acked: i64,
    caught_up: bool,
    /// Documents whose delta could not apply and that this node holds nothing of: asked whole.
    need_snapshot: Vec<String>,
    /// Documents whose delta could not apply and that this node holds: Automerge's sync protocol.
    need_sync: Vec<String>,
}

/// Checks and applies a batch in one transaction. Returns what it came to, or the error frame that
/// rejects the whole batch.
async fn apply(
    cfg: &LinkConfig,
    peer: &AdminCode,
    role: Role,
    peer_install: &str,
    batch: Batch,
    awaiting: &mut std::collections::BTreeMap<String, i64>,
    wanted: &mut HashMap<String, Vec<String>>,
) -> Result<Applied, ErrorFrame> {
    let internal = internal_error;
    let origin = match role {
        Role::Child => Origin::Child(peer.clone()),
        Role::Parent => Origin::Parent(peer.clone()),
    };
    let t0 = std::time::Instant::now();
    let items = batch.items.len();
    let mut w = cfg.store.writer().await.map_err(internal)?;
    let mut need = Vec::new();
    let mut need_sync = Vec::new();
    let mut first_needed = i64::MAX;
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
                    // Omitted by the sender: the newest of the changes it sent. (Hostile bytes may
                    // make Automerge panic: caught, as in `decode_and_check`.)
                    let decoded = std::panic::catch_unwind(|| {
                        changes
                            .iter()
                            .map(|c| Change::from_bytes(c.clone()).map_err(|e| e.to_string()))
                            .collect::<Result<Vec<Change>, String>>()
                            .map(|d| tips_of(&d))
                    })
                    .unwrap_or_else(|p| {
                        Err(format!("Automerge panicked on it: {}", panic_text(&p)))
                    });
                    match decoded {
                        Ok(tips) => heads = tips,
                        Err(e) => {
                            return Err(ErrorFrame {
                                code: ErrorCode::Malformed,
                                doc_id: Some(id.clone()),
                                path: None,
                                rule: Some("automerge_decodes".into()),
                                message: format!("document {id}: bad change: {e}"),
                            });
                        }
                    }
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
        check_all(&mut jobs, &origin)
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
                let malformed = |msg: String| ErrorFrame {
                    code: ErrorCode::Malformed,
                    doc_id: Some(id.clone()),
                    path: None,
                    rule: Some("automerge_decodes".into()),
                    message: format!("document {id}: {msg}"),
                };
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
                let (checked, fresh_bytes) = result.map_err(&malformed)?;
                match checked {
                    Ok(mut checked) => {
                        match fresh_bytes {
                            Some(bytes) if checked.applied > 0 => {
                                let projection =
                                    projection.transpose().map_err(|e| store_failed(&id, e))?;
                                new_docs.push(safemesh_store::NewDoc {
                                    id: id.clone(),
                                    doc: checked.doc,
                                    bytes,
                                    projection,
                                });
                            }
                            _ if checked.applied > 0 => {
                                w.put_doc(&id, &mut checked.doc, &old_heads)
                                    .await
                                    .map_err(|e| store_failed(&id, e))?;
                            }
                            _ => {}
                        }
                        awaiting.remove(&id);
                        wanted.remove(&id);
                        held.push((id, heads));
                    }
                    Err(safemesh_doc::Error::MissingDeps { missing }) if had_snapshot => {
                        // A snapshot that lacks history would be asked for again and again.
                        return Err(malformed(format!(
                            "snapshot depends on {missing} change(s) it does not hold"
                        )));
                    }
                    Err(safemesh_doc::Error::MissingDeps { .. }) => {
                        first_needed = first_needed.min(seq);
                        awaiting.insert(id.clone(), seq);
                        // A document this node holds is reconciled change by change (DESIGN §5.6);
                        // one it holds nothing of comes whole.
                        let holds = !old_heads.is_empty();
                        if holds && cfg.store.in_audience(peer, &id).await.map_err(internal)? {
                            wanted.insert(id.clone(), heads);
                            need_sync.push(id);
                        } else {
                            need.push(id);
                        }
                    }
                    Err(e) => return Err(refusal(&id, e)),
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
                    let owner_code = AdminCode::parse(&owner).ok();
                    let allowed = role == Role::Child
                        && owner_code.as_ref().is_some_and(|o| o.is_within(peer));
                    let Some(owner_code) = owner_code.filter(|_| allowed) else {
                        return Err(ErrorFrame {
                            code: ErrorCode::Forbidden,
                            doc_id: Some(format!("summary:{owner}")),
                            path: Some("summary".into()),
                            rule: Some("summary_from_own_subtree".into()),
                            message: format!("summary of {owner} may not come from {peer}"),
                        });
                    };
                    w.put_summary(&owner_code, version, &period, &as_of, &body)
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
    let acked = if first_needed == i64::MAX {
        batch.upto
    } else {
        batch.upto.min(first_needed - 1)
    };
    let acked = acked.max(current);
    // The durable cursor stays below every document still waiting for its snapshot, so a stream
    // that drops before the snapshot arrives cannot skip it.
    let durable = Link::durable_cursor(awaiting, acked);
    w.set_recv_cursor(peer, durable, peer_install)
        .await
        .map_err(internal)?;
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
        acked,
        caught_up: batch.caught_up,
        need_snapshot: need,
        need_sync,
    })
}

/// The error frame refusing document `id` for what the checks found in it: forbidden changes, or
/// content that does not decode or read.
fn refusal(id: &str, e: safemesh_doc::Error) -> ErrorFrame {
    match e {
        safemesh_doc::Error::Forbidden {
            doc,
            path,
            actor,
            rule,
        } => ErrorFrame {
            code: ErrorCode::Forbidden,
            message: format!("document {doc}: actor {actor} may not write {path} (rule {rule})"),
            doc_id: Some(doc),
            path: Some(path),
            rule: Some(rule.to_string()),
        },
        e => ErrorFrame {
            code: ErrorCode::Malformed,
            doc_id: Some(id.to_string()),
            path: None,
            rule: Some("automerge_decodes".into()),
            message: format!("document {id}: {e}"),
        },
    }
}

/// Bytes of the peer's sync changes one stream keeps in memory while they wait for a dependency.
const MAX_STREAM_PENDING_BYTES: usize = 64 << 20;

/// Why a step of a document's sync exchange failed.
enum SyncFail {
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
async fn doc_sync(
    cfg: &LinkConfig,
    link: &Link,
    peer_install: &str,
    sessions: &mut HashMap<String, docsync::Session>,
    wanted: &mut HashMap<String, Vec<String>>,
    steps: Vec<crate::DocSyncStep>,
) -> Result<Vec<crate::Synced>, SyncFail> {
    let peer = &link.peer;
    let origin = match link.role {
        Role::Child => Origin::Child(peer.clone()),
        Role::Parent => Origin::Parent(peer.clone()),
    };
    let t0 = std::time::Instant::now();
    let mut w = cfg.store.writer().await.map_err(SyncFail::Store)?;
    let mut results = Vec::with_capacity(steps.len());
    // (id, stored version, its heads, session, message, heads wanted) of each document to step.
    let mut work = Vec::with_capacity(steps.len());
    for s in steps.iter().filter(|s| s.fresh) {
        sessions.remove(&s.doc_id);
    }
    let ids: Vec<&str> = steps.iter().map(|s| s.doc_id.as_str()).collect();
    let in_scope = cfg
        .store
        .in_audience_of(peer, &ids)
        .await
        .map_err(SyncFail::Store)?;
    let new_here: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| !sessions.contains_key(*id))
        .collect();
    let mut kept = cfg
        .store
        .sync_states(peer, &new_here)
        .await
        .map_err(SyncFail::Store)?;
    for crate::DocSyncStep {
        doc_id: id,
        message,
        fresh,
    } in steps
    {
        let stored = if in_scope.contains(&id) {
            w.load(&id).await.map_err(SyncFail::Store)?
        } else {
            None
        };
        let Some(mut stored) = stored else {
            debug!(peer = %peer, doc = %id, "sync exchange for a document not held or not in scope: ended");
            sessions.remove(&id);
            results.push(crate::Synced {
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
        let (session, live) = match sessions.remove(&id) {
            Some(s) => (s, true),
            None => (
                docsync::Session::new(kept.remove(&id).as_deref()),
                fresh || message.is_none(),
            ),
        };
        let heads = stored.get_heads();
        let want = wanted
            .get(&id)
            .and_then(|h| safemesh_doc::heads_from_hex(h).ok())
            .unwrap_or_default();
        work.push((id, stored, heads, session, message, want, live));
    }
    let t1 = std::time::Instant::now();
    // The Automerge work, off the reactor under one of the process-wide permits.
    let permit = automerge_permits().clone().acquire_owned().await;
    let stepped = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work.into_iter()
            .map(|(id, stored, heads, mut session, message, want, live)| {
                let r = docsync::step(
                    &id,
                    stored,
                    &mut session,
                    message.as_deref(),
                    &want,
                    &origin,
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
        results.push(crate::Synced {
            doc_id: id,
            reply: step.reply,
            complete: step.complete,
            last: step.last,
        });
    }
    // Exchanges the link gave up on (or set aside) end here too; so do the heads they wanted.
    sessions.retain(|id, _| link.is_syncing(id));
    wanted.retain(|id, _| link.awaiting().contains_key(id));
    // What the peer's changes waiting for a dependency hold in memory on this stream, at most.
    let pending: usize = sessions
        .values()
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
    sessions.extend(kept_sessions);
    for r in results.iter().filter(|r| r.complete) {
        wanted.remove(&r.doc_id);
    }
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
    Ok(results)
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
fn store_failed(id: &str, e: safemesh_store::Error) -> ErrorFrame {
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

/// The hashes (hex) of the changes in `changes` that no other of them depends on: the heads a peer
/// holding their dependencies has after applying them.
fn tips_of(changes: &[Change]) -> Vec<String> {
    let deps: BTreeSet<automerge::ChangeHash> = changes
        .iter()
        .flat_map(|c| c.deps().iter().copied())
        .collect();
    let tips: Vec<automerge::ChangeHash> = changes
        .iter()
        .map(|c| c.hash())
        .filter(|h| !deps.contains(h))
        .collect();
    heads_to_hex(&tips)
}

/// What is left to send is counted again after this many batches and this much time, whichever comes
/// later: counting scans everything after the cursor in the peer's scope (a second for a million
/// documents), so a bootstrap must not count per batch.
const RECOUNT_EVERY: u32 = 16;
const RECOUNT_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The last count of what is left to send on a stream, when it was made, and the batches since.
#[derive(Debug)]
struct Estimate {
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

/// One item of a batch on its way through [`apply`].
enum Job {
    Doc(Box<DocJob>),
    Summary(Item),
}

struct DocJob {
    id: String,
    seq: i64,
    snapshot: Option<Vec<u8>>,
    changes: Vec<Vec<u8>>,
    heads: Vec<String>,
    /// The stored version, if this node holds the document.
    base: Option<AutoCommit>,
}

/// Automerge work running at once in this process, whatever the number of links: one per core.
fn automerge_permits() -> &'static Arc<tokio::sync::Semaphore> {
    static PERMITS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(tokio::sync::Semaphore::new(n))
    })
}

/// Decodes and checks every document job on blocking threads, split in up to one chunk per core,
/// each chunk holding a permit of [`automerge_permits`]. Returns, in job order, each document's
/// verdict and the heads its stored version had. Jobs give up their bytes and base.
async fn check_all(jobs: &mut [Job], origin: &Origin) -> Result<Vec<Verdict>, String> {
    let mut work: Vec<CheckWork> = Vec::new();
    for job in jobs.iter_mut() {
        if let Job::Doc(d) = job {
            work.push((
                d.id.clone(),
                d.snapshot.take(),
                std::mem::take(&mut d.changes),
                d.base.take(),
            ));
        }
    }
    if work.is_empty() {
        return Ok(Vec::new());
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = work.len().div_ceil(cores).max(8);
    let mut handles = Vec::new();
    while !work.is_empty() {
        let rest = work.split_off(per.min(work.len()));
        let chunk = std::mem::replace(&mut work, rest);
        let origin = origin.clone();
        let permits = automerge_permits().clone();
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            tokio::task::spawn_blocking(move || {
                chunk
                    .into_iter()
                    .map(|(id, snapshot, changes, mut base)| {
                        let old = base.as_mut().map(|b| b.get_heads()).unwrap_or_default();
                        let decoded =
                            decode_and_check(&id, snapshot, changes, base.as_mut(), &origin);
                        // A document new here is projected on this thread too, so the writer
                        // only executes its rows.
                        let projection = match &decoded {
                            Ok((Ok(checked), Some(_))) if checked.applied > 0 => {
                                Some(project(&id, checked))
                            }
                            _ => None,
                        };
                        (decoded, old, projection)
                    })
                    .collect::<Vec<_>>()
            })
            .await
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        match h.await {
            Ok(Ok(results)) => out.extend(results),
            // decode_and_check catches Automerge's panics itself, so this is a bug of ours or a
            // runtime going down; run_link's guard turns a panic into a rejected batch.
            Ok(Err(e)) | Err(e) => match e.try_into_panic() {
                Ok(p) => std::panic::resume_unwind(p),
                Err(e) => return Err(format!("check task ended: {e}")),
            },
        }
    }
    Ok(out)
}

/// One document to check: id, snapshot, changes, stored version.
type CheckWork = (String, Option<Vec<u8>>, Vec<Vec<u8>>, Option<AutoCommit>);

/// A document's verdict, the heads its stored version had, and (new documents) its projection.
type Verdict = (
    Result<Decoded, String>,
    Vec<automerge::ChangeHash>,
    Option<Result<safemesh_store::Projection, safemesh_store::Error>>,
);

/// The projection of a checked document, with a panic while reading it taken as unreadable.
fn project(
    id: &str,
    checked: &Checked,
) -> Result<safemesh_store::Projection, safemesh_store::Error> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        safemesh_store::compute_projection(id, &checked.header, &checked.doc)
    }))
    .unwrap_or_else(|p| {
        Err(safemesh_store::Error::Invalid {
            field: id.to_string(),
            reason: format!("reading it panicked: {}", panic_text(&p)),
        })
    })
}

/// What [`decode_and_check`] found: the check's verdict, and a received snapshot's bytes when the
/// document is new here (stored as they are).
type Decoded = (Result<Checked, safemesh_doc::Error>, Option<Vec<u8>>);

/// Decodes one item's Automerge bytes (a snapshot or raw changes) and checks them against the stored
/// document, if any. Bytes that do not decode, and any panic inside Automerge or the check, come back
/// as `Err(message)`; the caller turns it into a `Malformed` error frame naming the document. `base`
/// is a copy loaded for this batch and is dropped if this fails.
pub(crate) fn decode_and_check(
    id: &str,
    snapshot: Option<Vec<u8>>,
    changes: Vec<Vec<u8>>,
    base: Option<&mut AutoCommit>,
    origin: &Origin,
) -> Result<Decoded, String> {
    let run = AssertUnwindSafe(move || -> Result<Decoded, String> {
        Ok(match (snapshot, base) {
            // New to this node: the snapshot is the document; check its history in place.
            (Some(bytes), None) => {
                let d = AutoCommit::load(&bytes).map_err(|e| format!("bad snapshot: {e}"))?;
                (check_snapshot(id, d, origin), Some(bytes))
            }
            (Some(bytes), Some(b)) => {
                let mut d = AutoCommit::load(&bytes).map_err(|e| format!("bad snapshot: {e}"))?;
                (
                    check_and_apply(id, Some(b), d.get_changes(&[]), origin),
                    None,
                )
            }
            (None, b) => {
                let incoming: Vec<Change> = changes
                    .into_iter()
                    .map(Change::from_bytes)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("bad change: {e}"))?;
                (check_and_apply(id, b, incoming, origin), None)
            }
        })
    });
    std::panic::catch_unwind(run)
        .unwrap_or_else(|p| Err(format!("Automerge panicked on it: {}", panic_text(&p))))
}
