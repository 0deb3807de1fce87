//! SECURITY weakness 10, connection floods: a parent bounds the TLS handshakes in progress (in all and
//! per remote address) and the connections it holds (in all and per certificate code). A host that
//! opens connections and never finishes a handshake cannot keep honest children out; a stolen
//! certificate cannot open connection after connection. Each refusal is reported.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use safemesh_gateway::ca::Ca;
use safemesh_gateway::tls::{
    self, ConnLimits, NodeIdentity, Policy, RejectReason, Rejection, Rejections,
};
use safemesh_model::AdminCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).expect("valid code")
}

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let p = std::env::temp_dir().join(format!(
        "safemesh-connlimits-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn node(ca: &Ca, c: &str) -> NodeIdentity {
    let issued = ca.issue(&code(c), 30).expect("issue");
    NodeIdentity::from_pem(&issued.cert_pem, &issued.key_pem, ca.ca_cert_pem()).expect("identity")
}

const LIMITS: ConnLimits = ConnLimits {
    handshakes: 8,
    handshakes_per_ip: 3,
    connections: 16,
    connections_per_peer: 2,
};

/// A parent `53` on loopback with [`LIMITS`]: each admitted connection is sent `ok` and kept until the
/// client closes it. Returns its address, the refusals it reports, and a client config for `5301`.
async fn parent(
    tag: &str,
) -> (
    SocketAddr,
    Arc<Mutex<Vec<Rejection>>>,
    Arc<rustls::ClientConfig>,
    tokio::task::JoinHandle<()>,
) {
    let dir = temp_dir(tag);
    let ca = Ca::init(&dir.join("ca"), "test").expect("CA");
    let (p, c) = (node(&ca, "53"), node(&ca, "5301"));
    let seen: Arc<Mutex<Vec<Rejection>>> = Arc::default();
    let sink = seen.clone();
    let policy = Policy {
        revocations: None,
        rejections: Rejections::new(move |r: &Rejection| sink.lock().unwrap().push(r.clone())),
    };
    let parent_code = p.code.clone();
    let accept: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync> =
        Arc::new(move |c: &AdminCode| c.is_direct_child_of(&parent_code));
    let config = tls::server_config_with(&p, accept, &policy).expect("server config");
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
        .await
        .expect("bind");
    let port = listener.local_addr().unwrap().port();
    let mut incoming = Box::pin(tls::incoming_limited(
        listener,
        config,
        Duration::from_secs(20),
        policy.rejections.clone(),
        LIMITS,
    ));
    let task = tokio::spawn(async move {
        while let Some(conn) = incoming.next().await {
            let Ok(mut stream) = conn else { continue };
            tokio::spawn(async move {
                let _ = stream.write_all(b"ok").await;
                let mut buf = [0u8; 64];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    let client = tls::client_config(&c, code("53")).expect("client config");
    (
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        seen,
        client,
        task,
    )
}

/// A TCP connection from the loopback address `from` (127.0.0.x) that sends nothing.
async fn tcp_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((from, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// Whether the server closed `s` within a second (a read ends, or fails).
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// The first bytes the server sends on a TLS connection, or `None` if it closes it.
async fn greeting<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2];
    match tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf)).await {
        Ok(Ok(_)) => Some(buf.to_vec()),
        _ => None,
    }
}

fn refusals(seen: &Arc<Mutex<Vec<Rejection>>>) -> Vec<Rejection> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|r| r.reason == RejectReason::TooManyConnections)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_host_that_never_finishes_its_handshakes_is_capped_and_keeps_no_child_out() {
    let (addr, seen, client, task) = parent("flood").await;
    let flooder = Ipv4Addr::new(127, 0, 0, 2);
    // Three silent connections from one host take its three handshake slots…
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tcp_from(flooder, addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for s in &mut held {
        assert!(
            !closed_by_server(s).await,
            "within the limit, a slow handshake may wait"
        );
    }
    // …the fourth is closed at once and reported with its address.
    let mut fourth = tcp_from(flooder, addr).await;
    assert!(
        closed_by_server(&mut fourth).await,
        "over the limit per address"
    );
    let r = refusals(&seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].remote.map(|a| a.ip()), Some(flooder.into()));
    // An honest child from another address still gets in while the flood holds its slots.
    let mut child = tls::connect(addr, client).await.expect("child connects");
    assert_eq!(greeting(&mut child).await.as_deref(), Some(&b"ok"[..]));
    task.abort();
}

#[tokio::test]
async fn one_certificate_holds_a_bounded_number_of_connections() {
    let (addr, seen, client, task) = parent("per-cert").await;
    let mut first = tls::connect(addr, client.clone()).await.expect("1");
    let mut second = tls::connect(addr, client.clone()).await.expect("2");
    assert_eq!(greeting(&mut first).await.as_deref(), Some(&b"ok"[..]));
    assert_eq!(greeting(&mut second).await.as_deref(), Some(&b"ok"[..]));
    // The third with the same certificate is closed by the parent (TLS 1.3: after the client's side
    // of the handshake is done) and reported with the certificate's code.
    let mut third = tls::connect(addr, client.clone())
        .await
        .expect("3: handshake");
    assert_eq!(
        greeting(&mut third).await,
        None,
        "over the limit per certificate"
    );
    let r = refusals(&seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].code, Some(code("5301")));
    // When one closes, the certificate may connect again.
    first.shutdown().await.unwrap();
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut s = tls::connect(addr, client.clone()).await.expect("redial");
        if greeting(&mut s).await.is_some() {
            again = Some(s);
            break;
        }
    }
    assert!(again.is_some(), "a closed connection gives its place back");
    task.abort();
}
