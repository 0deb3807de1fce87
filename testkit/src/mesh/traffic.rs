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
) {
    while let Some(frame) = rx.recv().await {
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
