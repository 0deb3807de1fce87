//! Arbitrary bytes as a link frame: protobuf decode, the domain conversion, the round trip back, and
//! the receiving state machine's bounds. Nothing may panic; a frame that converts must re-encode to
//! itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use safemesh_gateway::convert::{from_proto, to_proto};
use safemesh_model::AdminCode;
use safemesh_proto::v1 as pb;
use safemesh_sync::{Frame, Hello, Link, PROTOCOL_VERSION, Role};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = pb::LinkFrame::decode(data) else {
        return;
    };
    let Ok(frame) = from_proto(raw) else {
        return;
    };
    let again = from_proto(to_proto(frame.clone())).expect("a converted frame converts back");
    assert_eq!(again, frame, "round trip changed the frame");

    // The receiving side: a link that has exchanged hellos takes the frame (bounds, seq checks,
    // error handling). Only the state machine runs here; no store.
    let me = AdminCode::parse("530181").expect("code");
    let peer = AdminCode::parse("530181006").expect("code");
    let mut link = Link::new(me, "me".into(), peer.clone(), Role::Child, 4);
    let _ = link.on_connected(0, None, 0);
    let _ = link.on_frame(Frame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        code: peer.to_string(),
        install_id: "peer".into(),
        recv_cursor: 0,
        peer_install_seen: "me".into(),
        seq: 0,
        crl_number: 0,
    }));
    let _ = link.on_frame(frame.clone());
    let _ = link.on_frame(frame);
});
