//! The store side of digest repair (DESIGN §5.8; the pure part is [`safemesh_sync::digest`]): making
//! a digest of the link set, answering a peer's, and recording what the answers say the peer holds.
//!
//! Memory: making a digest keeps only its buckets (24 bytes each, at most 2^16); answering or settling
//! one keeps the (document, heads) of the buckets asked about until they are compared — at most the
//! link set, about 110 bytes a document.

use std::collections::{BTreeSet, HashMap};

use safemesh_model::AdminCode;
use safemesh_store::Error;
use safemesh_sync::digest::{self, Builder, Digest, REPLY_CHUNK, Slot};
use safemesh_sync::frame::DigestReply;

use crate::config::LinkConfig;

/// Documents of the link set read per query.
const PAGE: i64 = 2000;

type Entry = (String, Vec<String>);

/// Feeds every document of the link set with `peer` to `f`, a page at a time.
async fn scan(cfg: &LinkConfig, peer: &AdminCode, mut f: impl FnMut(Entry)) -> Result<(), Error> {
    let mut after = String::new();
    loop {
        let page = cfg.store.link_set_page(&cfg.me, peer, &after, PAGE).await?;
        let full = page.len() as i64 == PAGE;
        if let Some((last, _)) = page.last() {
            after = last.clone();
        }
        page.into_iter().for_each(&mut f);
        if !full {
            return Ok(());
        }
    }
}

/// The link set's documents in the buckets `want` accepts, grouped by bucket.
async fn groups(
    cfg: &LinkConfig,
    peer: &AdminCode,
    buckets: u32,
    want: impl Fn(u32) -> bool,
) -> Result<HashMap<u32, Vec<Entry>>, Error> {
    let mut out: HashMap<u32, Vec<Entry>> = HashMap::new();
    scan(cfg, peer, |(id, heads)| {
        let b = digest::bucket_of(&id, buckets);
        if want(b) {
            out.entry(b).or_default().push((id, heads));
        }
    })
    .await?;
    Ok(out)
}

/// This side's digest of the link set with `peer`, sized for a peer at `peer_seq`.
pub(crate) async fn make(
    cfg: &LinkConfig,
    peer: &AdminCode,
    peer_seq: i64,
) -> Result<Digest, Error> {
    let buckets = digest::bucket_count(cfg.store.current_seq().max(0) as u64, peer_seq);
    let mut b = Builder::new(buckets);
    scan(cfg, peer, |(id, heads)| b.add(&id, &heads)).await?;
    Ok(b.finish())
}

/// Answers the peer's digest: the frames to send (the last has `last` set). Where a bucket matches,
/// the peer holds exactly what this side holds there, recorded as the peer's heads before returning.
pub(crate) async fn answer(
    cfg: &LinkConfig,
    peer: &AdminCode,
    theirs: &Digest,
) -> Result<Vec<DigestReply>, Error> {
    let mut mine = if theirs.slots.is_empty() {
        HashMap::new()
    } else {
        groups(cfg, peer, theirs.buckets, |b| theirs.slot(b).is_some()).await?
    };
    let mut held = Vec::new();
    let mut frames = Vec::new();
    let mut cur = DigestReply::default();
    for s in &theirs.slots {
        let entries = mine.remove(&s.bucket).unwrap_or_default();
        if Slot::of(s.bucket, &entries) == *s {
            held.extend(entries);
            continue;
        }
        cur.differ.push(s.bucket);
        cur.entries.extend(entries);
        if cur.entries.len() >= REPLY_CHUNK {
            frames.push(std::mem::take(&mut cur));
        }
    }
    cur.last = true;
    frames.push(cur);
    record(cfg, peer, &held).await?;
    Ok(frames)
}

/// The peer holds these (document, heads), from its digest reply: recorded for the documents this
/// side holds (anything else it names is ignored).
pub(crate) async fn peer_holds(
    cfg: &LinkConfig,
    peer: &AdminCode,
    docs: &[Entry],
) -> Result<(), Error> {
    let mut w = cfg.store.writer().await?;
    let ids: Vec<&str> = docs.iter().map(|(id, _)| id.as_str()).collect();
    let have = w.existing(&ids).await?;
    let docs: Vec<Entry> = docs
        .iter()
        .filter(|(id, _)| have.contains(id))
        .cloned()
        .collect();
    record_with(w, peer, &docs).await
}

/// The reply to our digest is complete: in the buckets it did not name, the peer held what this side
/// held when the digest was made. A bucket still hashing the same now is recorded as held; one that
/// changed since (a local write in between) is left to be sent.
pub(crate) async fn settle(
    cfg: &LinkConfig,
    peer: &AdminCode,
    sent: &Digest,
    differ: &BTreeSet<u32>,
) -> Result<usize, Error> {
    let matched: BTreeSet<u32> = sent
        .slots
        .iter()
        .map(|s| s.bucket)
        .filter(|b| !differ.contains(b))
        .collect();
    if matched.is_empty() {
        return Ok(0);
    }
    let mine = groups(cfg, peer, sent.buckets, |b| matched.contains(&b)).await?;
    let mut held = Vec::new();
    for (bucket, entries) in mine {
        if sent.slot(bucket) == Some(&Slot::of(bucket, &entries)) {
            held.extend(entries);
        }
    }
    record(cfg, peer, &held).await?;
    Ok(held.len())
}

/// Records `held` as what the peer holds.
async fn record(cfg: &LinkConfig, peer: &AdminCode, held: &[Entry]) -> Result<(), Error> {
    if held.is_empty() {
        return Ok(());
    }
    record_with(cfg.store.writer().await?, peer, held).await
}

async fn record_with(
    mut w: safemesh_store::Writer,
    peer: &AdminCode,
    held: &[Entry],
) -> Result<(), Error> {
    w.set_peer_heads_many(peer, held).await?;
    w.commit().await?;
    Ok(())
}
