//! What crossed a mesh's links: each frame's kind and size, in order, per connection; and the
//! forwarders that carry and count them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use safemesh_sync::Frame;
use tokio::sync::mpsc;

/// One frame as it crossed a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub from: String,
    pub to: String,
    pub kind: &'static str,
    pub bytes: usize,
    /// A batch's `remaining.docs` (what its sender still had to send).
    pub remaining: Option<u64>,
    /// Document items of a batch.
    pub docs: usize,
}

/// Everything that crossed one connection (both directions), in order.
#[derive(Debug, Default)]
pub struct Traffic {
    frames: Mutex<Vec<Seen>>,
}

impl Traffic {
    pub fn all(&self) -> Vec<Seen> {
        self.frames.lock().unwrap().clone()
    }

    pub fn from(&self, from: &str) -> Vec<Seen> {
        self.all().into_iter().filter(|s| s.from == from).collect()
    }

    pub fn kinds_from(&self, from: &str) -> Vec<&'static str> {
        self.from(from).into_iter().map(|s| s.kind).collect()
    }

    pub fn bytes_from(&self, from: &str) -> usize {
        self.from(from).iter().map(|s| s.bytes).sum()
    }

    /// Document items in the batches `from` sent.
    pub fn docs_from(&self, from: &str) -> usize {
        self.from(from).iter().map(|s| s.docs).sum()
    }

    /// `remaining.docs` of every batch `from` sent, in order.
    pub fn remaining_from(&self, from: &str) -> Vec<u64> {
        self.from(from).iter().filter_map(|s| s.remaining).collect()
    }

    pub fn len(&self) -> usize {
        self.frames.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn frame_kind(f: &Frame) -> &'static str {
    match f {
        Frame::Hello(_) => "hello",
        Frame::Batch(_) => "batch",
        Frame::Ack { .. } => "ack",
        Frame::NeedSnapshot { .. } => "need_snapshot",
        Frame::DocSync { .. } => "doc_sync",
        Frame::Error(_) => "error",
        Frame::DigestRequest(_) => "digest_request",
        Frame::DigestReply(_) => "digest_reply",
        Frame::Crl { .. } => "crl",
        Frame::BlobWant { .. } => "blob_want",
        Frame::BlobChunk(_) => "blob_chunk",
        Frame::BlobHeld { .. } => "blob_held",
    }
}

/// A stand-in for the encoded size of a frame (the gateway counts protobuf bytes).
pub fn frame_len(f: &Frame) -> usize {
    match f {
        Frame::Hello(h) => 4 + h.code.len() + h.install_id.len() + h.peer_install_seen.len() + 16,
        Frame::Batch(b) => 9 + b.items.iter().map(|i| i.payload_len() + 8).sum::<usize>(),
        Frame::Ack { .. } => 8,
        Frame::NeedSnapshot { doc_ids } => doc_ids.iter().map(|d| d.len() + 2).sum(),
        Frame::DocSync { messages } => messages
            .iter()
            .map(|m| m.doc_id.len() + m.message.len() + 8)
            .sum(),
        Frame::Error(e) => 2 + e.message.len(),
        Frame::DigestRequest(d) => d.weight(),
        Frame::DigestReply(r) => r.payload_len() + 4,
        Frame::Crl { der } => der.len() + 4,
        Frame::BlobWant { sha256, .. } => 2 + sha256.len() + 10,
        Frame::BlobHeld { sha256, .. } => 2 + sha256.len() + 2,
        Frame::BlobChunk(c) => {
            2 + c.sha256.len() + 2 * 10 + 2 + c.media_type.len() + 4 + c.data.len()
        }
    }
}

/// A fault at a seam: once `after` frames of `kind` have crossed a stream (either direction), the
/// next one is dropped and both directions close (a cut), or held until released (a pause: what
/// the sender does meanwhile queues behind it, in order).
pub struct Trip {
    pub kind: &'static str,
    pub after: usize,
    hold: bool,
    crossed: AtomicU64,
    holding: std::sync::atomic::AtomicBool,
    release: tokio::sync::watch::Sender<bool>,
    act: Arc<super::activity::Activity>,
}

impl Trip {
    pub(crate) fn new(
        kind: &'static str,
        after: usize,
        hold: bool,
        act: Arc<super::activity::Activity>,
    ) -> Trip {
        Trip {
            kind,
            after,
            hold,
            crossed: AtomicU64::new(0),
            holding: Default::default(),
            release: tokio::sync::watch::channel(false).0,
            act,
        }
    }

    /// Whether `frame` may cross now.
    fn pass(&self, frame: &Frame) -> bool {
        *self.release.borrow()
            || frame_kind(frame) != self.kind
            || self.crossed.fetch_add(1, Ordering::Relaxed) < self.after as u64
    }

    /// Whether a frame is held.
    pub fn holding(&self) -> bool {
        self.holding.load(Ordering::Relaxed)
    }

    /// Lets the held frame, and everything after it, cross.
    pub fn release(&self) {
        self.release.send_replace(true);
    }

    /// Holds until released (false: a cut, the stream ends).
    async fn held(&self) -> bool {
        if !self.hold {
            return false;
        }
        self.holding.store(true, Ordering::Relaxed);
        self.act.poke();
        let mut rx = self.release.subscribe();
        let released = rx.wait_for(|r| *r).await.is_ok();
        self.holding.store(false, Ordering::Relaxed);
        released
    }
}

/// Carries one direction: the driver's outgoing frames become the other driver's incoming
/// `(frame, size)`, counted on the way. Ends when either side goes away.
pub(crate) async fn forward(
    from: String,
    to: String,
    mut rx: mpsc::Receiver<Frame>,
    tx: mpsc::Sender<(Frame, usize)>,
    bytes_out: Arc<AtomicU64>,
    traffic: Option<Arc<Traffic>>,
    trip: Option<Arc<Trip>>,
) {
    while let Some(frame) = rx.recv().await {
        if let Some(t) = &trip
            && !t.pass(&frame)
            && !t.held().await
        {
            break;
        }
        let n = frame_len(&frame);
        bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(traffic) = &traffic {
            traffic.frames.lock().unwrap().push(Seen {
                from: from.clone(),
                to: to.clone(),
                kind: frame_kind(&frame),
                bytes: n,
                remaining: match &frame {
                    Frame::Batch(b) => Some(b.remaining.docs),
                    _ => None,
                },
                docs: match &frame {
                    Frame::Batch(b) => b
                        .items
                        .iter()
                        .filter(|i| matches!(i, safemesh_sync::Item::Doc { .. }))
                        .count(),
                    _ => 0,
                },
            });
        }
        if tx.send((frame, n)).await.is_err() {
            break;
        }
    }
}
