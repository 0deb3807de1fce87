//! The revocation list on the link, in the sans-IO machine (issue 19 #12): a parent offers its CRL
//! to a child holding an older one, at the hello and when its own changes; a child hands what its
//! parent offers to the runner and answers a refusal with the typed error; a child never offers one.

use safemesh_model::AdminCode;
use safemesh_sync::{
    Effect, ErrorCode, ErrorFrame, Frame, Hello, Link, MAX_CRL_BYTES, PROTOCOL_VERSION,
    RULE_CRL_FROM_PARENT, Role,
};

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap()
}

/// This node is the county `530181`; `role` is the peer's place (its parent the city `5301`, its
/// child the township `530181006`).
fn link(role: Role) -> (Link, &'static str) {
    let peer = match role {
        Role::Parent => "5301",
        Role::Child => "530181006",
    };
    (
        Link::new(code("530181"), "me".into(), code(peer), role, 4),
        peer,
    )
}

fn hello(peer: &str, crl_number: u64) -> Frame {
    Frame::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        code: peer.into(),
        install_id: "peer".into(),
        recv_cursor: 0,
        peer_install_seen: "me".into(),
        seq: 0,
        crl_number,
    })
}

fn crls_sent(fx: &[Effect]) -> Vec<Vec<u8>> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send(Frame::Crl { der }) => Some(der.clone()),
            _ => None,
        })
        .collect()
}

fn error_sent(fx: &[Effect]) -> Option<&ErrorFrame> {
    fx.iter().find_map(|e| match e {
        Effect::Send(Frame::Error(e)) => Some(e),
        _ => None,
    })
}

#[test]
fn a_parent_offers_its_crl_to_a_child_holding_an_older_one_and_again_when_it_changes() {
    // 1. The county holds CRL 3; its hello says so.
    let (mut l, child) = link(Role::Child);
    assert!(
        l.set_crl(Some((3, b"crl-3".to_vec()))).is_empty(),
        "no stream yet"
    );
    let fx = l.on_connected(0, None, 0);
    assert!(
        matches!(&fx[0], Effect::Send(Frame::Hello(h)) if h.crl_number == 3),
        "{fx:?}"
    );

    // 2. The township holds CRL 2: it is offered CRL 3 at once.
    let fx = l.on_frame(hello(child, 2));
    assert_eq!(crls_sent(&fx), vec![b"crl-3".to_vec()]);

    // 3. The same CRL is not offered twice on the stream; a newer one the county takes is.
    assert!(crls_sent(&l.set_crl(Some((3, b"crl-3".to_vec())))).is_empty());
    let fx = l.set_crl(Some((4, b"crl-4".to_vec())));
    assert_eq!(crls_sent(&fx), vec![b"crl-4".to_vec()]);

    // 4. A child whose hello names the same number is offered nothing.
    let (mut l, child) = link(Role::Child);
    let _ = l.set_crl(Some((4, b"crl-4".to_vec())));
    let _ = l.on_connected(0, None, 0);
    assert!(crls_sent(&l.on_frame(hello(child, 4))).is_empty());

    // 5. The county never offers its CRL to its parent.
    let (mut l, parent) = link(Role::Parent);
    let _ = l.set_crl(Some((4, b"crl-4".to_vec())));
    let _ = l.on_connected(0, None, 0);
    assert!(crls_sent(&l.on_frame(hello(parent, 0))).is_empty());
    assert!(crls_sent(&l.set_crl(Some((5, b"crl-5".to_vec())))).is_empty());
}

#[test]
fn a_crl_from_the_parent_goes_to_the_runner_and_a_refusal_is_a_typed_error() {
    let (mut l, parent) = link(Role::Parent);
    let _ = l.on_connected(0, None, 0);
    let _ = l.on_frame(hello(parent, 7));

    // 1. The parent's CRL is handed to the runner as it came.
    let fx = l.on_frame(Frame::Crl {
        der: b"offered".to_vec(),
    });
    assert_eq!(
        fx,
        vec![Effect::TakeCrl {
            der: b"offered".to_vec()
        }]
    );

    // 2. Taken: nothing to say.
    assert!(l.on_crl_taken(Ok(8)).is_empty());

    // 3. Refused by the runner (forged, older, garbage): the typed error goes to the parent and
    //    the stream closes.
    let refusal = ErrorFrame {
        code: ErrorCode::Forbidden,
        doc_id: None,
        path: None,
        rule: Some("crl_signed_by_ca".into()),
        message: "not signed by the mesh CA".into(),
    };
    let fx = l.on_crl_taken(Err(refusal.clone()));
    assert_eq!(error_sent(&fx), Some(&refusal));
    assert!(matches!(fx.last(), Some(Effect::Close { .. })), "{fx:?}");
}

#[test]
fn a_crl_from_a_child_or_before_hello_or_too_large_is_refused_without_reaching_the_runner() {
    // 1. From a child.
    let (mut l, child) = link(Role::Child);
    let _ = l.on_connected(0, None, 0);
    let _ = l.on_frame(hello(child, 0));
    let fx = l.on_frame(Frame::Crl { der: vec![1] });
    let e = error_sent(&fx).expect("error frame");
    assert_eq!(
        (e.code, e.rule.as_deref()),
        (ErrorCode::Malformed, Some(RULE_CRL_FROM_PARENT))
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::TakeCrl { .. })));

    // 2. Before the parent's hello.
    let (mut l, _) = link(Role::Parent);
    let _ = l.on_connected(0, None, 0);
    let fx = l.on_frame(Frame::Crl { der: vec![1] });
    assert_eq!(
        error_sent(&fx).and_then(|e| e.rule.as_deref()),
        Some("hello_first")
    );

    // 3. Over the bound.
    let (mut l, parent) = link(Role::Parent);
    let _ = l.on_connected(0, None, 0);
    let _ = l.on_frame(hello(parent, 0));
    let fx = l.on_frame(Frame::Crl {
        der: vec![0; MAX_CRL_BYTES + 1],
    });
    assert_eq!(
        error_sent(&fx).and_then(|e| e.rule.as_deref()),
        Some("max_crl_bytes")
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::TakeCrl { .. })));
}
