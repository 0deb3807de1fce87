//! 佐证材料 on the link, sans-IO: which evidence files (blobs) move, in what pieces, and what a side
//! refuses. One [`BlobFlow`] per stream, beside the document [`crate::Link`]; the runner routes the
//! blob frames to it and does the reading and storing.
//!
//! **Pulled, never pushed.** A side asks for a blob it lacks that a document in the link's scope
//! references ([`Frame::BlobWant`] with the offset it holds: a transfer cut mid-way resumes from the
//! last chunk received). The holder answers with [`Frame::BlobChunk`]s, or [`Frame::BlobHeld`]
//! `held = false` when it does not hold the blob yet (and `held = true` once it does). A chunk for a
//! blob this side did not ask for on this stream is refused with a typed error frame
//! (`blob_not_wanted`), and so is a want for a blob no document in the asker's scope references
//! (`blob_out_of_scope`): a peer can neither push a file nor pull one it may not see.
//!
//! **Bounded.** A chunk is at most [`BlobLimits::chunk`] bytes; at most
//! [`BlobLimits::blobs_in_flight`] blobs are asked for at once; the holder keeps at most
//! [`BlobLimits::window`] bytes of chunks unacknowledged per link (each stored chunk is acknowledged
//! by the next want, carrying the new offset), so the chunks queued ahead of a document frame are
//! bounded too. The runner sends a chunk only when no document frame is waiting
//! (docs/PROTOCOL.md §10): documents always go first.
//!
//! **Verified.** The store completes a blob only if the SHA-256 of its bytes is its name, and drops
//! everything of it otherwise; the flow then refuses the stream (`blob_hash`).

use std::collections::{BTreeMap, BTreeSet};

pub use crate::frame::BlobChunk;
use crate::frame::{ErrorCode, ErrorFrame, Frame};

/// The bounds of blob transfer on one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLimits {
    /// Bytes of data in one chunk, at most.
    pub chunk: usize,
    /// Blobs asked for at once on a link (and served at once for the peer), at most.
    pub blobs_in_flight: usize,
    /// Bytes of chunks the holder sends ahead of the receiver's acknowledgement, at most.
    pub window: usize,
    /// The largest blob a side asks for.
    pub max_blob: u64,
}

/// The default chunk: 64 KiB (the store's chunk, `safemesh_store::BLOB_CHUNK`).
pub const DEFAULT_CHUNK: usize = 64 * 1024;

impl Default for BlobLimits {
    fn default() -> Self {
        BlobLimits {
            chunk: DEFAULT_CHUNK,
            blobs_in_flight: 2,
            window: 2 * DEFAULT_CHUNK,
            max_blob: 1 << 30,
        }
    }
}

/// A blob a document references, as the runner finds it in its store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
}

/// What storing a received chunk did (the store's answer, as the flow needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Kept; this many bytes of the blob are held.
    Partial(u64),
    /// The last chunk: the blob is complete and verified.
    Complete,
    /// Every byte arrived and their SHA-256 is not the blob's name: nothing of it was kept.
    HashMismatch,
    /// The chunk does not continue what is held (held: this many bytes).
    OutOfOrder(u64),
}

/// A blob being received on this stream.
#[derive(Debug, Clone)]
struct Want {
    r: BlobRef,
    /// The offset the next chunk must start at.
    next: u64,
    /// Bytes received since the last acknowledgement.
    unacked: usize,
}

/// A blob being served to the peer.
#[derive(Debug, Clone)]
struct Serve {
    r: BlobRef,
    /// The next offset to send.
    next: u64,
    /// What the peer acknowledged holding.
    acked: u64,
}

/// The next chunk to send: read `len` bytes of `sha256` at `offset`, then [`BlobFlow::chunk_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRead {
    pub sha256: String,
    pub offset: u64,
    pub len: usize,
}

/// The blob side of one stream.
#[derive(Debug, Default)]
pub struct BlobFlow {
    limits: BlobLimits,
    /// Asked for on this stream, by hash.
    wanted: BTreeMap<String, Want>,
    /// The peer said it does not hold these yet.
    lacking: BTreeSet<String>,
    /// Being served to the peer, in the order asked.
    serving: Vec<Serve>,
    /// Asked for by the peer, not held here yet: told when they are.
    missing: BTreeSet<String>,
    /// Something changed that may make a blob worth asking for.
    dirty: bool,
}

/// Blobs the peer may say this side lacks (or that wait for the peer to hold them), at most.
pub const MAX_LACKING: usize = 1024;

impl BlobFlow {
    pub fn new(limits: BlobLimits) -> BlobFlow {
        BlobFlow {
            limits,
            dirty: true,
            ..BlobFlow::default()
        }
    }

    pub fn limits(&self) -> &BlobLimits {
        &self.limits
    }

    /// Notes that documents arrived, a blob completed or the peer now holds one: look again for
    /// blobs to ask for.
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// How many more blobs to ask for now (0 unless something changed since the last look).
    pub fn want_room(&mut self) -> usize {
        if !std::mem::take(&mut self.dirty) {
            return 0;
        }
        self.limits
            .blobs_in_flight
            .saturating_sub(self.wanted.len())
    }

    /// Whether the blob is already asked for, or the peer said it lacks it.
    pub fn known(&self, sha256: &str) -> bool {
        self.wanted.contains_key(sha256) || self.lacking.contains(sha256)
    }

    /// Blobs asked for and not complete, by hash.
    pub fn wanted(&self) -> impl Iterator<Item = &str> {
        self.wanted.keys().map(String::as_str)
    }

    /// Asks for `r`, of which `held` bytes are already here (a transfer resumed). `None` when the
    /// blob is too large for this side, or no room is left.
    pub fn want(&mut self, r: BlobRef, held: u64) -> Option<Frame> {
        if r.size > self.limits.max_blob
            || self.wanted.len() >= self.limits.blobs_in_flight
            || self.known(&r.sha256)
        {
            return None;
        }
        let frame = Frame::BlobWant {
            sha256: r.sha256.clone(),
            offset: held,
        };
        self.wanted.insert(
            r.sha256.clone(),
            Want {
                r,
                next: held,
                unacked: 0,
            },
        );
        Some(frame)
    }

    /// A chunk arrived: `Ok` when it is to be stored, else the error frame that refuses it (and
    /// the stream). Nothing of a refused chunk is stored.
    pub fn on_chunk(&mut self, c: &BlobChunk) -> Result<(), ErrorFrame> {
        let Some(w) = self.wanted.get_mut(&c.sha256) else {
            return Err(refusal(
                ErrorCode::Forbidden,
                "blob_not_wanted",
                format!(
                    "未请求的文件 / a chunk of blob {} this side did not ask for",
                    short(&c.sha256)
                ),
            ));
        };
        if c.data.is_empty() || c.data.len() > self.limits.chunk {
            return Err(refusal(
                ErrorCode::Malformed,
                "blob_chunk_bound",
                format!(
                    "chunk of {} bytes (1 to {} allowed)",
                    c.data.len(),
                    self.limits.chunk
                ),
            ));
        }
        if c.size != w.r.size || c.offset != w.next || c.offset + c.data.len() as u64 > c.size {
            return Err(refusal(
                ErrorCode::Malformed,
                "blob_chunk_order",
                format!(
                    "chunk at {} of a {}-byte blob; expected offset {} of {} bytes",
                    c.offset, c.size, w.next, w.r.size
                ),
            ));
        }
        if w.unacked + c.data.len() > self.limits.window {
            return Err(refusal(
                ErrorCode::Malformed,
                "blob_window",
                format!(
                    "more than {} bytes of chunks ahead of the acknowledgement",
                    self.limits.window
                ),
            ));
        }
        w.unacked += c.data.len();
        w.next += c.data.len() as u64;
        Ok(())
    }

    /// What storing a chunk of `sha256` did: the acknowledgement (a want at the new offset), or
    /// nothing when the blob is complete, or the error that refuses the stream.
    pub fn on_stored(&mut self, sha256: &str, stored: Stored) -> Result<Option<Frame>, ErrorFrame> {
        match stored {
            // Part stored — or another link stored the same bytes meanwhile: continue from where
            // the store is.
            Stored::Partial(held) | Stored::OutOfOrder(held) => {
                let Some(w) = self.wanted.get_mut(sha256) else {
                    return Ok(None);
                };
                w.unacked = 0;
                w.next = held;
                Ok(Some(Frame::BlobWant {
                    sha256: sha256.to_string(),
                    offset: held,
                }))
            }
            // The last acknowledgement: the holder stops serving it.
            Stored::Complete => {
                self.dirty = true;
                Ok(self.wanted.remove(sha256).map(|w| Frame::BlobWant {
                    sha256: sha256.to_string(),
                    offset: w.r.size,
                }))
            }
            Stored::HashMismatch => {
                self.wanted.remove(sha256);
                Err(refusal(
                    ErrorCode::Malformed,
                    "blob_hash",
                    format!(
                        "文件内容与其 SHA-256 不符，未保存 / the bytes of blob {} do not hash to its name: nothing kept",
                        short(sha256)
                    ),
                ))
            }
        }
    }

    /// The peer says whether it holds a blob this side asked for (or was waiting on).
    pub fn on_held(&mut self, sha256: &str, held: bool) {
        if held {
            if self.lacking.remove(sha256) {
                self.dirty = true;
            }
        } else if self.wanted.remove(sha256).is_some() {
            if self.lacking.len() < MAX_LACKING {
                self.lacking.insert(sha256.to_string());
            }
            self.dirty = true;
        }
    }

    /// The peer asks for a blob from `offset`. The runner looks it up: `in_scope` (a document whose
    /// audience names the peer references it) and `held` (complete here). Held and out of scope is
    /// refused; not held is answered `BlobHeld { held: false }`, and `true` once it is.
    /// Answers the frame to send now, if any, or the error that refuses the want.
    pub fn on_want(
        &mut self,
        sha256: &str,
        offset: u64,
        in_scope: bool,
        held: Option<BlobRef>,
    ) -> Result<Option<Frame>, ErrorFrame> {
        // A blob held here that no document in the asker's scope references is one it may not
        // see. One not held here may simply not have arrived yet (the asker's document came by
        // another link): the answer is only that this side lacks it.
        if !in_scope && held.is_some() {
            return Err(refusal(
                ErrorCode::Forbidden,
                "blob_out_of_scope",
                format!(
                    "no document in this link's scope references blob {}",
                    short(sha256)
                ),
            ));
        }
        let Some(r) = held.filter(|_| in_scope) else {
            if self.missing.len() < MAX_LACKING {
                self.missing.insert(sha256.to_string());
            }
            return Ok(Some(Frame::BlobHeld {
                sha256: sha256.to_string(),
                held: false,
            }));
        };
        if let Some(i) = self.serving.iter().position(|s| s.r.sha256 == sha256) {
            // An acknowledgement: the peer holds `offset` bytes; all of them ends the serving.
            let s = &mut self.serving[i];
            s.acked = s.acked.max(offset.min(s.r.size));
            s.next = s.next.max(s.acked);
            if s.acked >= s.r.size {
                self.serving.remove(i);
            }
            return Ok(None);
        }
        if self.serving.len() >= self.limits.blobs_in_flight {
            return Err(refusal(
                ErrorCode::Malformed,
                "blob_wants_bound",
                format!(
                    "more than {} blobs asked for at once",
                    self.limits.blobs_in_flight
                ),
            ));
        }
        if offset >= r.size {
            return Ok(None);
        }
        self.serving.push(Serve {
            next: offset,
            acked: offset,
            r,
        });
        Ok(None)
    }

    /// Blobs the peer asked for that this side did not hold, now held (`held`): tells the peer.
    pub fn on_local_blobs(&mut self, held: &[String]) -> Vec<Frame> {
        held.iter()
            .filter(|s| self.missing.remove(*s))
            .map(|s| Frame::BlobHeld {
                sha256: s.clone(),
                held: true,
            })
            .collect()
    }

    /// Blobs the peer waits for that this side does not hold yet.
    pub fn missing(&self) -> impl Iterator<Item = &str> {
        self.missing.iter().map(String::as_str)
    }

    /// The next chunk to send, if the window leaves room: the runner reads it and sends
    /// [`BlobFlow::chunk_frame`]. The caller asks only when no document frame is waiting.
    pub fn next_chunk(&mut self) -> Option<ChunkRead> {
        let window = self.limits.window as u64;
        let chunk = self.limits.chunk as u64;
        let s = self
            .serving
            .iter_mut()
            .find(|s| s.next < s.r.size && s.next - s.acked < window)?;
        let len = chunk
            .min(s.r.size - s.next)
            .min(window - (s.next - s.acked));
        let read = ChunkRead {
            sha256: s.r.sha256.clone(),
            offset: s.next,
            len: len as usize,
        };
        s.next += len;
        Some(read)
    }

    /// Whether a chunk could go now (see [`BlobFlow::next_chunk`]).
    pub fn has_chunk(&self) -> bool {
        let window = self.limits.window as u64;
        self.serving
            .iter()
            .any(|s| s.next < s.r.size && s.next - s.acked < window)
    }

    /// The frame carrying the bytes read for `read`; `None` if the blob is no longer served.
    pub fn chunk_frame(&self, read: &ChunkRead, data: Vec<u8>) -> Option<Frame> {
        let s = self.serving.iter().find(|s| s.r.sha256 == read.sha256);
        let r = match s {
            Some(s) => &s.r,
            None => return None,
        };
        Some(Frame::BlobChunk(BlobChunk {
            sha256: read.sha256.clone(),
            offset: read.offset,
            size: r.size,
            media_type: r.media_type.clone(),
            data,
        }))
    }
}

fn refusal(code: ErrorCode, rule: &str, message: String) -> ErrorFrame {
    ErrorFrame {
        code,
        doc_id: None,
        path: None,
        rule: Some(rule.to_string()),
        message,
    }
}

/// The start of a hash, for messages (a peer's word: never more than that).
fn short(sha256: &str) -> String {
    sha256.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(size: u64) -> BlobRef {
        BlobRef {
            sha256: "ab".repeat(32),
            size,
            media_type: "image/jpeg".into(),
        }
    }

    fn chunk(offset: u64, len: usize, size: u64) -> BlobChunk {
        BlobChunk {
            sha256: "ab".repeat(32),
            offset,
            size,
            media_type: "image/jpeg".into(),
            data: vec![7; len],
        }
    }

    #[test]
    fn a_chunk_nobody_asked_for_is_refused_before_it_is_stored() {
        let mut f = BlobFlow::new(BlobLimits::default());
        let e = f.on_chunk(&chunk(0, 10, 10)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(e.rule.as_deref(), Some("blob_not_wanted"));
    }

    #[test]
    fn the_holder_never_sends_more_than_the_window_ahead_of_the_acknowledgement() {
        let limits = BlobLimits {
            chunk: 100,
            window: 250,
            ..BlobLimits::default()
        };
        let mut f = BlobFlow::new(limits);
        assert_eq!(f.on_want(&r(1000).sha256, 0, true, Some(r(1000))), Ok(None));
        let sent: Vec<u64> = std::iter::from_fn(|| f.next_chunk())
            .map(|c| c.len as u64)
            .collect();
        assert_eq!(sent, [100, 100, 50], "250 bytes ahead at most");
        // The acknowledgement of 200 bytes opens 200 more.
        f.on_want(&r(1000).sha256, 200, true, Some(r(1000)))
            .unwrap();
        let more: u64 = std::iter::from_fn(|| f.next_chunk())
            .map(|c| c.len as u64)
            .sum();
        assert_eq!(more, 200);
    }

    #[test]
    fn a_want_resumes_from_the_offset_the_asker_holds() {
        let mut f = BlobFlow::new(BlobLimits::default());
        f.on_want(&r(300_000).sha256, 131_072, true, Some(r(300_000)))
            .unwrap();
        assert_eq!(f.next_chunk().unwrap().offset, 131_072);
    }

    #[test]
    fn a_want_out_of_scope_is_refused_and_a_blob_not_held_is_answered_later() {
        let mut f = BlobFlow::new(BlobLimits::default());
        let held = BlobRef {
            sha256: "cd".repeat(32),
            ..r(10)
        };
        let e = f
            .on_want(&"cd".repeat(32), 0, false, Some(held))
            .unwrap_err();
        assert_eq!(e.rule.as_deref(), Some("blob_out_of_scope"));
        assert_eq!(
            f.on_want(&"cd".repeat(32), 0, true, None),
            Ok(Some(Frame::BlobHeld {
                sha256: "cd".repeat(32),
                held: false
            }))
        );
        assert_eq!(
            f.on_local_blobs(&["cd".repeat(32)]),
            [Frame::BlobHeld {
                sha256: "cd".repeat(32),
                held: true
            }]
        );
    }

    #[test]
    fn the_receiver_checks_order_size_and_window_of_each_chunk() {
        let limits = BlobLimits {
            chunk: 100,
            window: 150,
            ..BlobLimits::default()
        };
        let mut f = BlobFlow::new(limits);
        assert!(f.want(r(1000), 0).is_some());
        assert_eq!(
            f.on_chunk(&chunk(100, 100, 1000))
                .unwrap_err()
                .rule
                .as_deref(),
            Some("blob_chunk_order")
        );
        assert_eq!(
            f.on_chunk(&chunk(0, 101, 1000))
                .unwrap_err()
                .rule
                .as_deref(),
            Some("blob_chunk_bound")
        );
        assert_eq!(
            f.on_chunk(&chunk(0, 100, 999)).unwrap_err().rule.as_deref(),
            Some("blob_chunk_order")
        );
        f.on_chunk(&chunk(0, 100, 1000)).unwrap();
        assert_eq!(
            f.on_chunk(&chunk(100, 100, 1000))
                .unwrap_err()
                .rule
                .as_deref(),
            Some("blob_window")
        );
        // Stored, acknowledged: the next may come.
        let ack = f.on_stored(&r(1000).sha256, Stored::Partial(100)).unwrap();
        assert_eq!(
            ack,
            Some(Frame::BlobWant {
                sha256: r(1000).sha256,
                offset: 100
            })
        );
        f.on_chunk(&chunk(100, 100, 1000)).unwrap();
        // Bytes that do not hash to the name end the transfer with a typed error.
        let e = f
            .on_stored(&r(1000).sha256, Stored::HashMismatch)
            .unwrap_err();
        assert_eq!(e.rule.as_deref(), Some("blob_hash"));
        assert_eq!(f.wanted().count(), 0);
    }
}
