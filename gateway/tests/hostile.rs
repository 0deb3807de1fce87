//! Bytes a hostile or broken peer may put on the wire, at the gateway's edge: protobuf decode and
//! `convert::from_proto` must give a clean error (never a panic) for anything that is not a valid
//! `LinkFrame`; a stream error that means "undecodable" must become the frame the driver answers with
//! a `MALFORMED` error frame. (The fuzz target `frame_decode` runs the same path on arbitrary bytes.)

use prost::Message;
use safemesh_gateway::convert::{from_proto, is_decode_failure, to_proto, undecodable};
use safemesh_proto::v1 as pb;
use safemesh_sync::frame::Batch;
use safemesh_sync::{ErrorCode, Frame, Hello, Item, RULE_FRAME_DECODES};

fn good_batch() -> Frame {
    Frame::Batch(Batch {
        items: vec![
            Item::Doc {
                id: "h-1".into(),
                seq: 3,
                snapshot: Some(vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]),
                changes: Vec::new(),
                heads: vec!["ab".repeat(32)],
            },
            Item::Summary {
                owner: "530181006".into(),
                version: 2,
                period: "2025-06".into(),
                as_of: "2025-06-30T00:00:00Z".into(),
                body: "{}".into(),
                seq: 4,
            },
        ],
        upto: 4,
        seq: 9,
        caught_up: true,
        remaining: Default::default(),
        traces: vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()],
    })
}

fn decode(bytes: &[u8]) -> Result<Frame, String> {
    let raw = pb::LinkFrame::decode(bytes).map_err(|e| format!("protobuf: {e}"))?;
    from_proto(raw).map_err(|e| e.to_string())
}

#[test]
fn valid_frames_round_trip() {
    let hello = Frame::Hello(Hello {
        protocol: safemesh_sync::PROTOCOL_VERSION,
        code: "530181006".into(),
        install_id: "abc".into(),
        recv_cursor: 7,
        peer_install_seen: String::new(),
        seq: 9,
        crl_number: 0,
    });
    for f in [good_batch(), hello, Frame::Ack { upto: 4 }] {
        let bytes = to_proto(f.clone()).encode_to_vec();
        assert_eq!(decode(&bytes), Ok(f));
    }
}

/// A batch's trace contexts travel in the frame's `traceparent` field, comma-separated; whatever is
/// not a well-formed W3C traceparent is dropped (a trace is a hint, never a reason to refuse), and
/// no more than `MAX_BATCH_TRACES` are taken.
#[test]
fn trace_contexts_are_hints_bounded_and_checked() {
    let Frame::Batch(mut b) = good_batch() else {
        unreachable!()
    };
    let ok = |i: usize| format!("00-{:032x}-{:016x}-01", i + 1, i + 1);
    let mut raw = to_proto(Frame::Batch(b.clone()));
    raw.traceparent = [
        ok(0),
        "garbage".into(),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01".into(),
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".into(),
        ok(1),
    ]
    .join(",");
    let Ok(Frame::Batch(got)) = from_proto(raw.clone()) else {
        panic!("a batch with bad trace contexts still decodes")
    };
    assert_eq!(got.traces, vec![ok(0), ok(1)]);
    raw.traceparent = (0..20).map(ok).collect::<Vec<_>>().join(",");
    let Ok(Frame::Batch(got)) = from_proto(raw) else {
        panic!()
    };
    assert_eq!(got.traces.len(), safemesh_sync::frame::MAX_BATCH_TRACES);
    b.traces.clear();
    assert_eq!(to_proto(Frame::Batch(b)).traceparent, "");
}

#[test]
fn bytes_that_are_not_protobuf_are_a_clean_error() {
    // A field tag of 0, a length running past the end, a varint that never ends, wrong wire types.
    for bytes in [
        &[0x00][..],
        &[0x12, 0x7f, 0x01],
        &[
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
        &[0x12, 0x05, 0x0a, 0x03, 0x12, 0x01],
        &[0x0f],
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        assert!(decode(bytes).is_err(), "{bytes:?} decoded");
    }
}

#[test]
fn truncated_frames_are_a_clean_error() {
    let bytes = to_proto(good_batch()).encode_to_vec();
    // Every proper prefix either fails to decode or decodes to something other than the frame
    // (protobuf cannot tell a frame cut between two fields); none panics.
    for n in 0..bytes.len() {
        assert_ne!(decode(&bytes[..n]), Ok(good_batch()), "prefix of {n} bytes");
    }
}

#[test]
fn valid_protobuf_that_is_not_a_frame_is_malformed() {
    // An empty frame, an item with no kind, heads that are not 32-byte hashes, a string that is not
    // UTF-8.
    let empty = pb::LinkFrame {
        kind: None,
        traceparent: String::new(),
    };
    assert!(
        decode(&empty.encode_to_vec())
            .unwrap_err()
            .contains("empty frame")
    );

    let mut no_kind = to_proto(good_batch());
    if let Some(pb::link_frame::Kind::Batch(b)) = &mut no_kind.kind {
        b.items.push(pb::Item { kind: None });
    }
    assert!(
        decode(&no_kind.encode_to_vec())
            .unwrap_err()
            .contains("empty item")
    );

    let mut short_heads = to_proto(good_batch());
    if let Some(pb::link_frame::Kind::Batch(b)) = &mut short_heads.kind
        && let Some(pb::item::Kind::Doc(d)) = &mut b.items[0].kind
    {
        d.heads = vec![vec![1, 2, 3]];
    }
    assert!(
        decode(&short_heads.encode_to_vec())
            .unwrap_err()
            .contains("32-byte")
    );

    // A Hello (field 1) whose code (field 2) is not UTF-8.
    let bad_utf8 = [0x0a, 0x04, 0x12, 0x02, 0xff, 0xfe];
    assert!(decode(&bad_utf8).is_err());
}

#[test]
fn unknown_error_codes_decode_as_internal() {
    let f = pb::LinkFrame {
        kind: Some(pb::link_frame::Kind::Error(pb::Error {
            code: 99,
            doc_id: String::new(),
            path: String::new(),
            rule: String::new(),
            message: "?".into(),
        })),
        traceparent: String::new(),
    };
    match decode(&f.encode_to_vec()) {
        Ok(Frame::Error(e)) => assert_eq!(e.code, ErrorCode::Internal),
        other => panic!("{other:?}"),
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    // A deterministic sweep (the fuzz target does this at length): random bytes, and a valid frame
    // with one byte changed at each position.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = decode(&bytes);
    }
    let good = to_proto(good_batch()).encode_to_vec();
    for i in 0..good.len() {
        for v in [0x00, 0x7f, 0x80, 0xff, good[i] ^ 0x01] {
            let mut b = good.clone();
            b[i] = v;
            if let Ok(f) = decode(&b) {
                // Whatever decodes, re-encodes to itself.
                assert_eq!(decode(&to_proto(f.clone()).encode_to_vec()), Ok(f));
            }
        }
    }
}

#[test]
fn stream_errors_that_mean_undecodable_are_told_apart() {
    use tonic::{Code, Status};
    // What tonic reports for bytes that are not a frame, over the size limit, or cut off.
    for s in [
        Status::internal("failed to decode Protobuf message: LinkFrame.kind: invalid wire type"),
        Status::out_of_range(
            "Error, decoded message length too large: found 20000000 bytes, the limit is: 16777216 bytes",
        ),
        Status::internal("Unexpected EOF decoding stream."),
        Status::internal(
            "protocol error: received message with invalid compression flag: 7 (valid flags are 0 and 1), while sending request",
        ),
        Status::resource_exhausted("Error decompressing: size limit exceeded"),
    ] {
        assert!(is_decode_failure(&s), "{s:?}");
    }
    // The peer going away is not.
    for s in [
        Status::cancelled("stream cancelled"),
        Status::new(
            Code::Unknown,
            "h2 protocol error: error reading a body from connection",
        ),
        Status::unavailable("connection reset"),
        Status::unauthenticated("no certificate"),
    ] {
        assert!(!is_decode_failure(&s), "{s:?}");
    }
    match undecodable("x") {
        Frame::Error(e) => {
            assert_eq!(e.code, ErrorCode::Malformed);
            assert_eq!(e.rule.as_deref(), Some(RULE_FRAME_DECODES));
        }
        other => panic!("{other:?}"),
    }
}
