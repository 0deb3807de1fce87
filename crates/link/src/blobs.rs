//! 佐证材料 on a stream: the store side of the blob flow ([`safemesh_sync::blob::BlobFlow`]) — which
//! blobs this node lacks that the peer may hold (referenced by a document whose audience names the
//! peer, within the node's byte limit), whether a blob the peer asks for is in its scope and held,
//! reading the next chunk, storing a received one (verified by the store on the last chunk). The
//! run loop calls these; the decisions are the flow's.

use safemesh_model::AdminCode;
use safemesh_store::{ChunkOutcome, Store};
use safemesh_sync::blob::{BlobFlow, BlobRef, Stored};
use safemesh_sync::{ErrorFrame, Frame};
use tracing::{debug, warn};

use crate::config::LinkConfig;

/// Why a blob frame ended in something other than frames to send.
pub(crate) enum BlobFail {
    /// The peer's frame is refused: send this error and close the stream.
    Refused(ErrorFrame),
    /// The store failed.
    Store(safemesh_store::Error),
}

impl From<safemesh_store::Error> for BlobFail {
    fn from(e: safemesh_store::Error) -> Self {
        BlobFail::Store(e)
    }
}

/// The wants to send now: blobs referenced in the peer's scope that this node does not hold whole,
/// as many as the flow has room for, each from the bytes already held (a cut transfer resumes).
/// A blob that would take the node over its byte limit is left out, with a warning.
pub(crate) async fn wants(
    cfg: &LinkConfig,
    peer: &AdminCode,
    flow: &mut BlobFlow,
) -> Result<Vec<Frame>, safemesh_store::Error> {
    let room = flow.want_room();
    if room == 0 {
        return Ok(Vec::new());
    }
    // Known ones (asked for, or lacking at the peer) come back too: ask for a page beyond them.
    let page = (room + flow.wanted().count() + 64) as i64;
    let refs = cfg.store.blobs_wanted_from(peer, page).await?;
    let mut held = cfg.store.blob_bytes().await?.max(0) as u64;
    let mut out = Vec::new();
    for r in refs {
        if out.len() >= room || flow.known(&r.sha256) {
            continue;
        }
        let size = r.size.max(0) as u64;
        if held.saturating_add(size) > cfg.blob_store_max {
            warn!(peer = %peer, sha256 = %r.sha256, size, "佐证材料超出本节点总量上限，暂不接收 / blob would exceed this node's limit: not asked for");
            continue;
        }
        let have = cfg.store.blob_received(&r.sha256).await?.max(0) as u64;
        let want = BlobRef {
            sha256: r.sha256,
            size,
            media_type: r.media_type,
        };
        if let Some(f) = flow.want(want, have) {
            held += size - have.min(size);
            out.push(f);
        }
    }
    if !out.is_empty() {
        debug!(peer = %peer, wants = out.len(), "blobs asked for");
    }
    Ok(out)
}

/// A blob frame from the peer: the frames to send back, or why it is refused.
pub(crate) async fn on_frame(
    cfg: &LinkConfig,
    peer: &AdminCode,
    flow: &mut BlobFlow,
    frame: Frame,
) -> Result<Vec<Frame>, BlobFail> {
    let store = &cfg.store;
    match frame {
        Frame::BlobWant { sha256, offset } => {
            let in_scope = store.blob_in_scope(peer, &sha256).await?;
            let held = store.blob_meta(&sha256).await?.map(|m| BlobRef {
                sha256: m.sha256,
                size: m.size.max(0) as u64,
                media_type: m.media_type,
            });
            flow.on_want(&sha256, offset, in_scope.is_some(), held)
                .map(|f| f.into_iter().collect())
                .map_err(BlobFail::Refused)
        }
        Frame::BlobChunk(c) => {
            flow.on_chunk(&c).map_err(BlobFail::Refused)?;
            let outcome = store
                .put_blob_chunk(
                    &c.sha256,
                    c.size as i64,
                    &c.media_type,
                    c.offset as i64,
                    &c.data,
                )
                .await?;
            let stored = stored(store, &c.sha256, outcome).await?;
            if stored == Stored::Complete {
                debug!(peer = %peer, sha256 = %c.sha256, size = c.size, "blob received and verified");
            }
            flow.on_stored(&c.sha256, stored)
                .map(|f| f.into_iter().collect())
                .map_err(BlobFail::Refused)
        }
        Frame::BlobHeld { sha256, held } => {
            flow.on_held(&sha256, held);
            Ok(Vec::new())
        }
        _ => Ok(Vec::new()),
    }
}

/// The store's outcome as the flow takes it.
async fn stored(
    store: &Store,
    sha256: &str,
    outcome: ChunkOutcome,
) -> Result<Stored, safemesh_store::Error> {
    Ok(match outcome {
        ChunkOutcome::Partial { received } => Stored::Partial(received.max(0) as u64),
        ChunkOutcome::Complete | ChunkOutcome::AlreadyHeld => Stored::Complete,
        ChunkOutcome::HashMismatch => Stored::HashMismatch,
        ChunkOutcome::OutOfOrder { expected } => Stored::OutOfOrder(expected.max(0) as u64),
        ChunkOutcome::TooLong => {
            Stored::OutOfOrder(store.blob_received(sha256).await?.max(0) as u64)
        }
    })
}

/// The next chunk to send, read from the store; `None` when the window is full or nothing is
/// being served.
pub(crate) async fn next_chunk(
    cfg: &LinkConfig,
    flow: &mut BlobFlow,
) -> Result<Option<Frame>, safemesh_store::Error> {
    let Some(read) = flow.next_chunk() else {
        return Ok(None);
    };
    let bytes = cfg
        .store
        .read_blob_range(&read.sha256, read.offset as i64, read.len as i64)
        .await?;
    Ok(bytes.and_then(|b| flow.chunk_frame(&read, b)))
}

/// Blobs completed in the store since: tells the peer those it asked for and this node lacked.
pub(crate) async fn on_local_blobs(
    cfg: &LinkConfig,
    flow: &mut BlobFlow,
) -> Result<Vec<Frame>, safemesh_store::Error> {
    let missing: Vec<String> = flow.missing().map(str::to_string).collect();
    let mut held = Vec::new();
    for sha in missing {
        if cfg.store.blob_meta(&sha).await?.is_some() {
            held.push(sha);
        }
    }
    Ok(flow.on_local_blobs(&held))
}
