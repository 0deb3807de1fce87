//! Domain frames ⇄ protobuf frames, at the edge.
//!
//! Decoding is total: any `LinkFrame` prost accepts either converts or gives [`Malformed`]; nothing
//! here panics (fuzzed by `fuzz/fuzz_targets/frame_decode.rs`). Bounds on what a frame may hold are
//! the receiver's (`safemesh_sync::RecvLimits`), checked after conversion.

use safemesh_proto::v1 as pb;
use safemesh_sync::digest::{Digest, Slot};
use safemesh_sync::frame::{
    Batch, DigestReply, ErrorCode, ErrorFrame, Frame, Hello, Item, MAX_BATCH_TRACES, Remaining,
    SyncMessage, is_traceparent,
};
use safemesh_sync::link::RULE_FRAME_DECODES;

/// A frame that does not decode into the domain.
#[derive(Debug, thiserror::Error)]
#[error("帧格式错误 / malformed frame: {0}")]
pub struct Malformed(pub String);

/// The frame a transport hands its runner when the peer's bytes do not decode: the runner answers the
/// peer with its own `Malformed` error frame (rule `frame_decodes`) and closes the stream.
pub fn undecodable(message: &str) -> Frame {
    Frame::Error(ErrorFrame {
        code: ErrorCode::Malformed,
        doc_id: None,
        path: None,
        rule: Some(RULE_FRAME_DECODES.to_string()),
        message: format!("帧无法解码 / undecodable frame: {message}"),
    })
}

/// Whether a gRPC stream error means the peer's bytes did not decode into a frame: not protobuf, over
/// the size limit, cut off mid-message, or a bad compression flag (tonic reports these as `INTERNAL`,
/// `OUT_OF_RANGE` and `RESOURCE_EXHAUSTED`). Cancellation and transport errors are not.
pub fn is_decode_failure(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::OutOfRange | tonic::Code::ResourceExhausted => true,
        tonic::Code::Internal => {
            let m = status.message();
            m.contains("decode")
                || m.contains("Unexpected EOF")
                || m.contains("compress")
                || m.contains("protocol error: received message")
        }
        _ => false,
    }
}

/// The trace contexts a batch frame names: well-formed W3C `traceparent` values only, at most
/// [`MAX_BATCH_TRACES`]. Anything else is dropped, never an error: a trace is a hint.
fn batch_traces(field: &str) -> Vec<String> {
    field
        .split(',')
        .map(str::trim)
        .filter(|t| is_traceparent(t))
        .take(MAX_BATCH_TRACES)
        .map(str::to_string)
        .collect()
}

fn heads_to_bytes(heads: &[String]) -> Vec<Vec<u8>> {
    heads.iter().map(|h| hex_decode(h)).collect()
}

fn hex_decode(h: &str) -> Vec<u8> {
    (0..h.len() / 2)
        .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn to_proto(f: Frame) -> pb::LinkFrame {
    use pb::link_frame::Kind;
    // The frame's `traceparent`: a batch's trace contexts, comma-separated (docs/PROTOCOL.md).
    let traceparent = match &f {
        Frame::Batch(b) => b.traces.join(","),
        _ => String::new(),
    };
    let kind = match f {
        Frame::Hello(h) => Kind::Hello(pb::Hello {
            protocol: h.protocol,
            code: h.code,
            install_id: h.install_id,
            recv_cursor: h.recv_cursor,
            peer_install_seen: h.peer_install_seen,
            seq: h.seq,
            crl_number: h.crl_number,
        }),
        Frame::Batch(b) => Kind::Batch(pb::Batch {
            items: b
                .items
                .into_iter()
                .map(|i| pb::Item {
                    kind: Some(match i {
                        Item::Doc {
                            id,
                            seq,
                            snapshot,
                            changes,
                            heads,
                        } => pb::item::Kind::Doc(pb::DocItem {
                            id,
                            seq,
                            snapshot,
                            changes,
                            heads: heads_to_bytes(&heads),
                        }),
                        Item::Summary {
                            owner,
                            version,
                            period,
                            as_of,
                            body,
                            seq,
                        } => pb::item::Kind::Summary(pb::SummaryItem {
                            owner,
                            version,
                            period,
                            as_of,
                            body,
                            seq,
                        }),
                    }),
                })
                .collect(),
            upto: b.upto,
            caught_up: b.caught_up,
            remaining_docs: b.remaining.docs,
            remaining_bytes: b.remaining.bytes,
            seq: b.seq,
        }),
        Frame::Ack { upto } => Kind::Ack(pb::Ack { upto }),
        Frame::NeedSnapshot { doc_ids } => Kind::NeedSnapshot(pb::NeedSnapshot { doc_ids }),
        Frame::DocSync { messages } => Kind::DocSync(pb::DocSync {
            messages: messages
                .into_iter()
                .map(|m| pb::DocSyncMessage {
                    doc_id: m.doc_id,
                    message: m.message,
                    opening: m.opening,
                })
                .collect(),
        }),
        Frame::DigestRequest(d) => Kind::DigestRequest(pb::DigestRequest {
            buckets: d.buckets,
            slot_bucket: d.slots.iter().map(|s| s.bucket).collect(),
            slot_count: d.slots.iter().map(|s| s.count).collect(),
            slot_hashes: d.slots.iter().flat_map(|s| s.hash).collect(),
        }),
        Frame::DigestReply(r) => Kind::DigestReply(pb::DigestReply {
            differ: r.differ,
            entries: r
                .entries
                .into_iter()
                .map(|(id, heads)| pb::DigestEntry {
                    id,
                    heads: heads_to_bytes(&heads),
                })
                .collect(),
            last: r.last,
        }),
        Frame::Crl { der } => Kind::Crl(pb::Crl { der }),
        Frame::BlobWant { sha256, offset } => Kind::BlobWant(pb::BlobWant { sha256, offset }),
        Frame::BlobChunk(c) => Kind::BlobChunk(pb::BlobChunk {
            sha256: c.sha256,
            offset: c.offset,
            size: c.size,
            media_type: c.media_type,
            data: c.data,
        }),
        Frame::BlobHeld { sha256, held } => Kind::BlobHeld(pb::BlobHeld { sha256, held }),
        Frame::Error(e) => Kind::Error(pb::Error {
            code: match e.code {
                ErrorCode::Forbidden => pb::ErrorCode::Forbidden,
                ErrorCode::Malformed => pb::ErrorCode::Malformed,
                ErrorCode::BadHello => pb::ErrorCode::BadHello,
                ErrorCode::Internal => pb::ErrorCode::Internal,
            } as i32,
            doc_id: e.doc_id.unwrap_or_default(),
            path: e.path.unwrap_or_default(),
            rule: e.rule.unwrap_or_default(),
            message: e.message,
        }),
    };
    pb::LinkFrame {
        kind: Some(kind),
        traceparent,
    }
}

pub fn from_proto(f: pb::LinkFrame) -> Result<Frame, Malformed> {
    use pb::link_frame::Kind;
    let traces = batch_traces(&f.traceparent);
    let opt = |s: String| if s.is_empty() { None } else { Some(s) };
    Ok(
        match f.kind.ok_or_else(|| Malformed("empty frame".into()))? {
            Kind::Hello(h) => Frame::Hello(Hello {
                protocol: h.protocol,
                code: h.code,
                install_id: h.install_id,
                recv_cursor: h.recv_cursor,
                peer_install_seen: h.peer_install_seen,
                seq: h.seq,
                crl_number: h.crl_number,
            }),
            Kind::Batch(b) => {
                let mut items = Vec::with_capacity(b.items.len());
                for i in b.items {
                    items.push(
                        match i.kind.ok_or_else(|| Malformed("empty item".into()))? {
                            pb::item::Kind::Doc(d) => {
                                if d.heads.iter().any(|h| h.len() != 32) {
                                    return Err(Malformed(format!(
                                        "document {}: heads must be 32-byte hashes",
                                        d.id
                                    )));
                                }
                                Item::Doc {
                                    id: d.id,
                                    seq: d.seq,
                                    snapshot: d.snapshot,
                                    changes: d.changes,
                                    heads: d.heads.iter().map(|h| hex_encode(h)).collect(),
                                }
                            }
                            pb::item::Kind::Summary(s) => Item::Summary {
                                owner: s.owner,
                                version: s.version,
                                period: s.period,
                                as_of: s.as_of,
                                body: s.body,
                                seq: s.seq,
                            },
                        },
                    );
                }
                Frame::Batch(Batch {
                    items,
                    upto: b.upto,
                    seq: b.seq,
                    caught_up: b.caught_up,
                    remaining: Remaining {
                        docs: b.remaining_docs,
                        bytes: b.remaining_bytes,
                    },
                    traces,
                })
            }
            Kind::Ack(a) => Frame::Ack { upto: a.upto },
            Kind::NeedSnapshot(n) => Frame::NeedSnapshot { doc_ids: n.doc_ids },
            Kind::DocSync(d) => Frame::DocSync {
                messages: d
                    .messages
                    .into_iter()
                    .map(|m| SyncMessage {
                        doc_id: m.doc_id,
                        message: m.message,
                        opening: m.opening,
                    })
                    .collect(),
            },
            Kind::DigestRequest(d) => {
                let n = d.slot_bucket.len();
                if d.slot_count.len() != n || d.slot_hashes.len() != n * 16 {
                    return Err(Malformed(format!(
                        "digest: {n} buckets, {} counts, {} hash bytes (16 per bucket expected)",
                        d.slot_count.len(),
                        d.slot_hashes.len()
                    )));
                }
                Frame::DigestRequest(Digest {
                    buckets: d.buckets,
                    slots: d
                        .slot_bucket
                        .iter()
                        .zip(&d.slot_count)
                        .zip(d.slot_hashes.chunks_exact(16))
                        .map(|((bucket, count), hash)| Slot {
                            bucket: *bucket,
                            count: *count,
                            hash: hash.try_into().unwrap_or([0; 16]),
                        })
                        .collect(),
                })
            }
            Kind::DigestReply(r) => {
                let mut entries = Vec::with_capacity(r.entries.len());
                for e in r.entries {
                    if e.heads.iter().any(|h| h.len() != 32) {
                        return Err(Malformed(format!(
                            "digest entry {}: heads must be 32-byte hashes",
                            e.id
                        )));
                    }
                    entries.push((e.id, e.heads.iter().map(|h| hex_encode(h)).collect()));
                }
                Frame::DigestReply(DigestReply {
                    differ: r.differ,
                    entries,
                    last: r.last,
                })
            }
            Kind::Crl(c) => Frame::Crl { der: c.der },
            Kind::BlobWant(w) => Frame::BlobWant {
                sha256: blob_hash(w.sha256)?,
                offset: w.offset,
            },
            Kind::BlobChunk(c) => Frame::BlobChunk(safemesh_sync::blob::BlobChunk {
                sha256: blob_hash(c.sha256)?,
                offset: c.offset,
                size: c.size,
                media_type: c.media_type,
                data: c.data,
            }),
            Kind::BlobHeld(h) => Frame::BlobHeld {
                sha256: blob_hash(h.sha256)?,
                held: h.held,
            },
            Kind::Error(e) => Frame::Error(ErrorFrame {
                code: match pb::ErrorCode::try_from(e.code).unwrap_or(pb::ErrorCode::Unspecified) {
                    pb::ErrorCode::Forbidden => ErrorCode::Forbidden,
                    pb::ErrorCode::Malformed => ErrorCode::Malformed,
                    pb::ErrorCode::BadHello => ErrorCode::BadHello,
                    _ => ErrorCode::Internal,
                },
                doc_id: opt(e.doc_id),
                path: opt(e.path),
                rule: opt(e.rule),
                message: e.message,
            }),
        },
    )
}

/// A blob's name as sent: a SHA-256 in lower-case hex, else the frame is malformed.
fn blob_hash(s: String) -> Result<String, Malformed> {
    let hex = s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex {
        Ok(s)
    } else {
        Err(Malformed(format!(
            "blob: {:?} is not a lower-case hex SHA-256",
            s.chars().take(70).collect::<String>()
        )))
    }
}
