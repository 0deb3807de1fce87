//! The async adapter of the link state machine: executes its effects against the store and a
//! transport, and feeds the results back in. One call of [`run_link`] serves one stream.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use safemesh_doc::authority::{Origin, check_and_apply, check_snapshot};
use safemesh_doc::{AutoCommit, Change, heads_from_hex, heads_to_hex};
use safemesh_model::AdminCode;
use safemesh_store::{Store, store_now};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::frame::{Batch, ErrorCode, ErrorFrame, Frame, Item};
use crate::link::{Effect, Link, Role};
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
    reg.update(peer.as_str(), |s| s.role = link.role.as_str().to_string());
    let row = match cfg.store.link(&peer).await {
        Ok(r) => r,
        Err(e) => return format!("store: {e}"),
    };
    let mut seq_rx = cfg.store.subscribe();
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
    let reason = 'stream: loop {
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Send(frame) => {
                    if let Frame::Batch(b) = &frame {
                        debug!(peer = %peer, items = b.items.len(), upto = b.upto, "send batch");
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
                } => match prepare(cfg, &peer, link.role, after, &force, &exclude).await {
                    Ok((batch, docs)) => queue.extend(link.on_prepared(batch, docs)),
                    Err(e) => break 'stream format!("prepare: {e}"),
                },
                Effect::Apply(batch) => {
                    let mut awaiting = link.awaiting().clone();
                    match apply(cfg, &peer, link.role, &peer_install, batch, &mut awaiting).await {
                        Ok((acked, caught_up, need)) => {
                            link.set_awaiting(awaiting);
                            queue.extend(link.on_applied(acked, caught_up, need))
                        }
                        Err(err) => {
                            warn!(peer = %peer, doc = ?err.doc_id, path = ?err.path, rule = ?err.rule, "batch rejected: {}", err.message);
                            queue.extend(link.on_apply_rejected(err));
                        }
                    }
                }
                Effect::PersistAck { upto, docs } => {
                    if let Err(e) = persist_ack(cfg, &peer, upto, &docs).await {
                        break 'stream format!("store: {e}");
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
            if link.state() == crate::State::InSync {
                s.last_sync_at = Some(store_now());
            }
            s.bytes_in += bytes_in;
            s.bytes_out += out - out_reported;
        });
        bytes_in = 0;
        out_reported = out;
        tokio::select! {
            f = t.rx.recv() => match f {
                Some((frame, n)) => {
                    bytes_in += n as u64;
                    let hello = match &frame {
                        Frame::Hello(h) => Some(h.clone()),
                        _ => None,
                    };
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
    link.on_disconnected(Some(reason.clone()));
    let out = t.bytes_out.load(Ordering::Relaxed) - out_base;
    reg.update(peer.as_str(), |s| {
        s.state = link.state().as_str().to_string();
        s.inflight = 0;
        s.last_error = link.last_error().map(str::to_string);
        s.quarantined = link.quarantined().iter().cloned().collect();
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
    for (id, heads) in docs {
        w.set_peer_heads(peer, id, heads).await?;
    }
    w.commit().await?;
    Ok(())
}

/// Builds the next batch for `peer`: documents in its audience and (to a parent) summaries, written after
/// `after`, bounded in items and bytes; a document goes as the changes since the heads the peer is known
/// to hold, or whole if it holds none of them.
async fn prepare(
    cfg: &LinkConfig,
    peer: &AdminCode,
    role: Role,
    after: i64,
    force: &[String],
    exclude: &BTreeSet<String>,
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
    let mut cands: Vec<(i64, Cand)> = rows
        .into_iter()
        .map(|r| (r.seq, Cand::Doc(r)))
        .collect();
    cands.extend(sums.into_iter().map(|s| (s.seq, Cand::Sum(s))));
    cands.sort_by_key(|(seq, _)| *seq);
    cands.retain(|(seq, _)| *seq <= bound);

    let mut items = Vec::new();
    let mut docs = Vec::new();
    let mut bytes = 0usize;
    for id in force {
        // A snapshot request is served only for documents in the peer's scope.
        if exclude.contains(id) || !cfg.store.in_audience(peer, id).await? {
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
                let safemesh_store::ChangedDoc { id, seq, heads, peer_heads } = row;
                if exclude.contains(&id) || force.contains(&id) {
                    continue;
                }
                if peer_heads.as_ref() == Some(&heads) {
                    continue; // the peer already holds exactly this (e.g. it sent it to us)
                }
                // A peer that holds nothing of the document gets the stored bytes as they are: no
                // decoding, no re-encoding.
                let raw = match &peer_heads {
                    None => cfg.store.raw_doc(&id).await?,
                    Some(_) => None,
                };
                let item = if let Some(bytes) = raw {
                    Item::Doc { id: id.clone(), seq, snapshot: Some(bytes), changes: Vec::new(), heads: heads.clone() }
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
                        Item::Doc { id: id.clone(), seq, snapshot: Some(doc.save()), changes: Vec::new(), heads: heads.clone() }
                    } else {
                        let changes: Vec<Vec<u8>> = doc.get_changes(&known).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
                        if changes.is_empty() {
                            continue;
                        }
                        Item::Doc { id: id.clone(), seq, snapshot: None, changes, heads: heads.clone() }
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
    Ok((
        Batch {
            items,
            upto,
            caught_up: !truncated,
        },
        docs,
    ))
}

/// Checks and applies a batch in one transaction. Returns (durable cursor, caught up, documents that need
/// a snapshot), or the error frame that rejects the whole batch.
async fn apply(
    cfg: &LinkConfig,
    peer: &AdminCode,
    role: Role,
    peer_install: &str,
    batch: Batch,
    awaiting: &mut std::collections::BTreeMap<String, i64>,
) -> Result<(i64, bool, Vec<String>), ErrorFrame> {
    let internal = |e: safemesh_store::Error| ErrorFrame {
        code: ErrorCode::Internal,
        doc_id: None,
        path: None,
        rule: None,
        message: format!("receiver store error: {e}"),
    };
    let origin = match role {
        Role::Child => Origin::Child(peer.clone()),
        Role::Parent => Origin::Parent(peer.clone()),
    };
    let mut w = cfg.store.writer().await.map_err(internal)?;
    let mut need = Vec::new();
    let mut first_needed = i64::MAX;
    for item in batch.items {
        match item {
            Item::Doc {
                id,
                seq,
                snapshot,
                changes,
                heads,
            } => {
                let malformed = |msg: String| ErrorFrame {
                    code: ErrorCode::Malformed,
                    doc_id: Some(id.clone()),
                    path: None,
                    rule: None,
                    message: msg,
                };
                let mut base = w.load(&id).await.map_err(internal)?;
                let old_heads = base.as_mut().map(|b| b.get_heads()).unwrap_or_default();
                let mut fresh_bytes = None;
                let checked = match (snapshot, base.as_mut()) {
                    // New to this node: the snapshot is the document; check its history in place.
                    (Some(bytes), None) => {
                        let d = AutoCommit::load(&bytes).map_err(|e| malformed(format!("bad snapshot: {e}")))?;
                        fresh_bytes = Some(bytes);
                        check_snapshot(&id, d, &origin)
                    }
                    (Some(bytes), Some(b)) => {
                        let mut d = AutoCommit::load(&bytes).map_err(|e| malformed(format!("bad snapshot: {e}")))?;
                        check_and_apply(&id, Some(b), d.get_changes(&[]), &origin)
                    }
                    (None, b) => {
                        let incoming: Vec<Change> = changes
                            .into_iter()
                            .map(Change::from_bytes)
                            .collect::<Result<_, _>>()
                            .map_err(|e| malformed(format!("bad change: {e}")))?;
                        check_and_apply(&id, b, incoming, &origin)
                    }
                };
                match checked {
                    Ok(mut checked) => {
                        match fresh_bytes {
                            Some(bytes) if checked.applied > 0 => {
                                w.put_new_doc_bytes(&id, &mut checked.doc, bytes).await.map_err(internal)?;
                            }
                            _ if checked.applied > 0 => {
                                w.put_doc(&id, &mut checked.doc, &old_heads).await.map_err(internal)?;
                            }
                            _ => {}
                        }
                        w.set_peer_heads(peer, &id, &heads)
                            .await
                            .map_err(internal)?;
                        awaiting.remove(&id);
                    }
                    Err(safemesh_doc::Error::MissingDeps { .. }) => {
                        first_needed = first_needed.min(seq);
                        awaiting.insert(id.clone(), seq);
                        need.push(id);
                    }
                    Err(safemesh_doc::Error::Forbidden {
                        doc,
                        path,
                        actor,
                        rule,
                    }) => {
                        return Err(ErrorFrame {
                            code: ErrorCode::Forbidden,
                            doc_id: Some(doc.clone()),
                            path: Some(path.clone()),
                            rule: Some(rule.to_string()),
                            message: format!(
                                "document {doc}: actor {actor} may not write {path} (rule {rule})"
                            ),
                        });
                    }
                    Err(e) => return Err(malformed(e.to_string())),
                }
            }
            Item::Summary {
                owner,
                version,
                period,
                as_of,
                body,
                ..
            } => {
                let owner_code = AdminCode::parse(&owner).ok();
                let allowed =
                    role == Role::Child && owner_code.as_ref().is_some_and(|o| o.is_within(peer));
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
        }
    }
    let current = cfg.store.link(peer).await.map_err(internal)?.recv_cursor;
    let acked = if need.is_empty() {
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
    Ok((acked, batch.caught_up, need))
}
