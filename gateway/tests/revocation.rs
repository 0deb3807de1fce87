//! Revocation, rotation and expiry at the TLS level, over loopback: what a handshake refuses, what
//! the refused side learns from the alert, and what the refusal sink ([`Rejections`]) hears.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt as _;
use rustls::AlertDescription;
use safemesh_gateway::ca::{
    CRL_FILE, Ca, Crl, REVOKED_FILE, Revoked, canonical_serial, copy_revocation_list,
    parse_revocation_list, revoke, write_node_files,
};
use safemesh_gateway::tls::{
    self, NodeIdentity, PeerKind, Policy, RejectReason, Rejection, Rejections, RevocationList,
};
use safemesh_model::AdminCode;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// fixtures

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "safemesh-revocation-{tag}-{}-{nanos}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).expect("valid code")
}

/// A CA in `dir/ca` and an identity for `c` issued by it.
fn node(ca: &Ca, c: &str) -> NodeIdentity {
    let issued = ca.issue(&code(c), 30).expect("issue");
    NodeIdentity::from_pem(&issued.cert_pem, &issued.key_pem, ca.ca_cert_pem()).expect("identity")
}

/// A policy whose refusals are kept for inspection.
fn capturing(revocations: Option<RevocationList>) -> (Policy, Arc<Mutex<Vec<Rejection>>>) {
    let seen: Arc<Mutex<Vec<Rejection>>> = Arc::default();
    let sink = seen.clone();
    let policy = Policy {
        revocations,
        rejections: Rejections::new(move |r: &Rejection| {
            sink.lock().expect("lock").push(r.clone())
        }),
    };
    (policy, seen)
}

fn taken(seen: &Arc<Mutex<Vec<Rejection>>>) -> Vec<Rejection> {
    std::mem::take(&mut *seen.lock().expect("lock"))
}

/// A parent serving `tls::incoming_with`: every accepted connection gets two bytes; the serial
/// of each accepted client certificate is recorded.
struct Server {
    addr: SocketAddr,
    accepted: Arc<Mutex<Vec<Option<String>>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(id: &NodeIdentity, policy: &Policy) -> Server {
    let parent = id.code.clone();
    let accept: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync> =
        Arc::new(move |c: &AdminCode| c.is_direct_child_of(&parent));
    let config = tls::server_config_with(id, accept, policy).expect("server config");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut incoming = Box::pin(tls::incoming_with(
        listener,
        config,
        Duration::from_secs(5),
        policy.rejections.clone(),
    ));
    let accepted: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = accepted.clone();
    let task = tokio::spawn(async move {
        while let Some(conn) = incoming.next().await {
            let Ok(mut stream) = conn else { continue };
            let serial = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(tls::serial_of);
            seen.lock().expect("lock").push(serial);
            tokio::spawn(async move {
                let _ = stream.write_all(b"ok").await;
                let mut buf = [0u8; 64];
                let _ = stream.read(&mut buf).await;
            });
        }
    });
    Server {
        addr,
        accepted,
        task,
    }
}

/// Dials `addr` with `config` and expects this side to refuse the server's certificate as revoked.
async fn refused_as_revoked(addr: SocketAddr, config: Arc<rustls::ClientConfig>) {
    let err = tls::connect(addr, config).await.expect_err("refused");
    assert!(
        matches!(
            tls::rustls_error(&err),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Revoked
            ))
        ),
        "{err}"
    );
}

/// The alert inside a failed probe or connect.
fn alert_of(e: &std::io::Error) -> Option<AlertDescription> {
    match tls::rustls_error(e) {
        Some(rustls::Error::AlertReceived(a)) => Some(*a),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// expiry

#[tokio::test]
async fn expired_and_not_yet_valid_client_certificates_are_refused_and_named() {
    let dir = TempDir::new("expired");
    let ca = Ca::init(&dir.path().join("ca"), "test").expect("CA");
    let n53 = node(&ca, "53");
    let (policy, seen) = capturing(None);
    let server = serve(&n53, &policy).await;
    let now = OffsetDateTime::now_utc();

    // 1. A certificate whose validity lies in the past: a node refuses to start with it ...
    let old = ca
        .issue_with_validity(
            &code("5301"),
            now - time::Duration::days(10),
            now - time::Duration::days(1),
        )
        .expect("issue in the past");
    let err = NodeIdentity::from_pem(&old.cert_pem, &old.key_pem, ca.ca_cert_pem())
        .expect_err("an expired identity does not load");
    assert!(err.to_string().contains("certificate expired"), "{err}");
    // ... but it can be presented, and the parent refuses it with certificate_expired.
    let expired = NodeIdentity::from_pem_unverified(&old.cert_pem, &old.key_pem, ca.ca_cert_pem())
        .expect("load");
    let config = tls::client_config(&expired, code("53")).expect("client config");
    let err = tls::probe(server.addr, config).await.expect_err("refused");
    assert_eq!(
        alert_of(&err),
        Some(AlertDescription::CertificateExpired),
        "{err}"
    );

    // 2. The refusal names the reason, and the code: the CA issued it, only its time is over.
    let r = taken(&seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].reason, RejectReason::Expired);
    assert_eq!(r[0].peer_kind, PeerKind::Child);
    assert_eq!(r[0].code, Some(code("5301")));
    assert_eq!(r[0].serial.as_deref(), Some(old.serial_hex.as_str()));
    assert!(
        r[0].message.contains("certificate expired at"),
        "{}",
        r[0].message
    );

    // 3. A certificate valid only from tomorrow is refused as not yet valid.
    let later = ca
        .issue_with_validity(
            &code("5301"),
            now + time::Duration::days(1),
            now + time::Duration::days(9),
        )
        .expect("issue for later");
    let early =
        NodeIdentity::from_pem_unverified(&later.cert_pem, &later.key_pem, ca.ca_cert_pem())
            .expect("load");
    let config = tls::client_config(&early, code("53")).expect("client config");
    let err = tls::probe(server.addr, config).await.expect_err("refused");
    assert_eq!(
        alert_of(&err),
        Some(AlertDescription::CertificateExpired),
        "{err}"
    );
    let r = taken(&seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].reason, RejectReason::NotYetValid);

    // 4. Nothing was accepted; a valid child still is.
    assert!(server.accepted.lock().expect("lock").is_empty());
    let good = tls::client_config(&node(&ca, "5301"), code("53")).expect("client config");
    assert_eq!(
        tls::probe(server.addr, good).await.expect("accepted"),
        Some(code("53"))
    );
    assert!(taken(&seen).is_empty());

    // 5. Validity must be a real interval.
    assert!(ca.issue_with_validity(&code("5301"), now, now).is_err());
}

// ---------------------------------------------------------------------------------------------
// revocation

#[tokio::test]
async fn revocation_list_is_honoured_in_the_handshake_without_restart() {
    let dir = TempDir::new("revoke");
    let ca_dir = dir.path().join("ca");
    let ca = Ca::init(&ca_dir, "test").expect("CA");
    let node_tls = dir.path().join("53-tls");
    let n53 = node(&ca, "53");
    let issued = ca.issue(&code("5301"), 30).expect("issue");
    let n5301 =
        NodeIdentity::from_pem(&issued.cert_pem, &issued.key_pem, ca.ca_cert_pem()).expect("id");
    let n5302 = node(&ca, "5302");

    // 1. The parent honours D/tls/revoked.txt, which does not exist yet: nothing is revoked.
    let list = RevocationList::open(node_tls.join(REVOKED_FILE));
    let mut changes = list.subscribe();
    let (policy, seen) = capturing(Some(list.clone()));
    let server = serve(&n53, &policy).await;
    let c5301 = tls::client_config(&n5301, code("53")).expect("client config");
    assert!(tls::probe(server.addr, c5301.clone()).await.is_ok());

    // 2. The CA revokes 5301's serial and the list is copied to the parent, which keeps running.
    let added = revoke(
        &ca_dir,
        &issued.serial_hex,
        Some("笔记本丢失 / laptop lost"),
    )
    .expect("revoke");
    assert!(matches!(added, Revoked::Added { .. }), "{added:?}");
    assert!(copy_revocation_list(&ca_dir, &node_tls).expect("copy"));

    // 3. The next handshake re-reads the list and refuses with certificate_revoked.
    let err = tls::probe(server.addr, c5301.clone())
        .await
        .expect_err("revoked");
    assert_eq!(
        alert_of(&err),
        Some(AlertDescription::CertificateRevoked),
        "{err}"
    );
    let r = taken(&seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].reason, RejectReason::Revoked);
    assert_eq!(r[0].code, Some(code("5301")));
    assert_eq!(r[0].serial.as_deref(), Some(issued.serial_hex.as_str()));
    assert!(
        changes.has_changed().expect("sender alive"),
        "subscribers are told"
    );
    changes.mark_unchanged();

    // 4. Other children are untouched.
    let c5302 = tls::client_config(&n5302, code("53")).expect("client config");
    assert!(tls::probe(server.addr, c5302).await.is_ok());

    // 5. Taking the line out again (a mistaken revocation) is honoured the same way.
    std::fs::write(node_tls.join(REVOKED_FILE), "# nothing revoked\n").expect("write");
    assert!(tls::probe(server.addr, c5301).await.is_ok());
    assert!(changes.has_changed().expect("sender alive"));
    assert!(taken(&seen).is_empty());
    assert_eq!(server.accepted.lock().expect("lock").len(), 3);
}

#[tokio::test]
async fn child_refuses_a_revoked_parent() {
    let dir = TempDir::new("revoked-parent");
    let ca = Ca::init(&dir.path().join("ca"), "test").expect("CA");
    let issued = ca.issue(&code("53"), 30).expect("issue");
    let n53 =
        NodeIdentity::from_pem(&issued.cert_pem, &issued.key_pem, ca.ca_cert_pem()).expect("id");
    let n5301 = node(&ca, "5301");
    let server = serve(&n53, &Policy::default()).await;

    // 1. The child's list names the parent's serial (as openssl prints it: upper case, colons).
    let list_path = dir.path().join("5301-revoked.txt");
    let openssl_style = issued
        .serial_hex
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    std::fs::write(&list_path, format!("{openssl_style} parent key leaked\n")).expect("write");
    let (policy, seen) = capturing(Some(RevocationList::open(&list_path)));

    // 2. The handshake fails on the child's side, before anything is sent.
    let config = tls::client_config_with(&n5301, code("53"), &policy).expect("client config");
    refused_as_revoked(server.addr, config).await;
    let r = taken(&seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].reason, RejectReason::Revoked);
    assert_eq!(r[0].peer_kind, PeerKind::Parent);
    assert_eq!(r[0].code, Some(code("53")));
    assert!(server.accepted.lock().expect("lock").is_empty());
}

#[test]
fn revocation_list_format_and_ca_revoke() {
    // Serials: any case, colons allowed, leading zeros insignificant, at most 20 bytes.
    assert_eq!(canonical_serial("0A:1b:FF").as_deref(), Some("a1bff"));
    assert_eq!(canonical_serial("00a1bff").as_deref(), Some("a1bff"));
    assert_eq!(canonical_serial("0"), None);
    assert_eq!(canonical_serial("xyz"), None);
    assert_eq!(canonical_serial(""), None);
    assert_eq!(canonical_serial(&"1".repeat(41)), None);

    let (serials, bad) = parse_revocation_list(
        "# header\n\n  5a0b  # 2026-03-01T08:00:00Z laptop lost\nAB:CD free text\nnot-a-serial\n#0c\n",
    );
    assert_eq!(
        serials.into_iter().collect::<Vec<_>>(),
        vec!["5a0b".to_string(), "abcd".to_string()]
    );
    assert_eq!(bad, vec![(5, "not-a-serial".to_string())]);

    // `ca revoke` needs a CA directory, validates the serial, appends once, keeps the file parseable.
    let dir = TempDir::new("format");
    let ca_dir = dir.path().join("ca");
    assert!(revoke(&ca_dir, "01ab", None).is_err(), "no CA there");
    Ca::init(&ca_dir, "test").expect("CA");
    assert!(revoke(&ca_dir, "zz", None).is_err(), "not hex");
    let path = ca_dir.join(REVOKED_FILE);
    assert_eq!(
        revoke(&ca_dir, "01AB", Some("two\nlines")).expect("revoke"),
        Revoked::Added {
            path: path.clone(),
            crl_number: 1
        }
    );
    assert_eq!(
        revoke(&ca_dir, "1ab", None).expect("revoke"),
        Revoked::AlreadyListed { path: path.clone() },
        "same serial without the leading zero"
    );
    revoke(&ca_dir, "7f00", None).expect("revoke");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.starts_with("# safemesh"), "{text}");
    assert!(text.contains("01ab  # "), "{text}");
    assert!(
        text.contains("two lines"),
        "a reason stays on its line: {text}"
    );
    let (serials, bad) = parse_revocation_list(&text);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(serials.len(), 2);

    // A node's copy; a CA without a list copies nothing.
    let node_tls = dir.path().join("node-tls");
    assert!(copy_revocation_list(&ca_dir, &node_tls).expect("copy"));
    let list = RevocationList::open(node_tls.join(REVOKED_FILE));
    assert!(list.contains("01:ab") && list.contains("7F00") && !list.contains("7f01"));
    let empty_ca = dir.path().join("ca2");
    Ca::init(&empty_ca, "test").expect("CA");
    assert!(!copy_revocation_list(&empty_ca, &dir.path().join("x")).expect("copy"));
}

// ---------------------------------------------------------------------------------------------
// rotation

#[tokio::test]
async fn replaced_certificate_is_presented_without_restart_and_the_old_one_stays_valid() {
    let dir = TempDir::new("rotate");
    let ca = Ca::init(&dir.path().join("ca"), "test").expect("CA");
    let parent_dir = dir.path().join("53");
    let child_dir = dir.path().join("5301");
    let p1 = ca.issue(&code("53"), 30).expect("issue");
    let c1 = ca.issue(&code("5301"), 30).expect("issue");
    write_node_files(&p1, ca.ca_cert_pem(), &parent_dir).expect("write");
    write_node_files(&c1, ca.ca_cert_pem(), &child_dir).expect("write");

    // 1. Both sides load their identity from disk, so they watch their files.
    let n53 = NodeIdentity::load(&parent_dir).expect("load");
    let n5301 = NodeIdentity::load(&child_dir).expect("load");
    let (policy, seen) = capturing(None);
    let server = serve(&n53, &policy).await;
    let client = tls::client_config(&n5301, code("53")).expect("client config");
    let peer_serial = |stream: &tokio_rustls::client::TlsStream<TcpStream>| {
        stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(tls::serial_of)
    };
    let s = tls::connect(server.addr, client.clone())
        .await
        .expect("connect");
    assert_eq!(peer_serial(&s), Some(p1.serial_hex.clone()));
    drop(s);

    // 2. New certificates are written over the running ones (as `ca issue --out D/tls` does).
    let p2 = ca.issue(&code("53"), 30).expect("issue");
    let c2 = ca.issue(&code("5301"), 30).expect("issue");
    write_node_files(&p2, ca.ca_cert_pem(), &parent_dir).expect("write");
    write_node_files(&c2, ca.ca_cert_pem(), &child_dir).expect("write");

    // 3. The same configs present the new certificates from the next connection on.
    let s = tls::connect(server.addr, client.clone())
        .await
        .expect("connect");
    assert_eq!(
        peer_serial(&s),
        Some(p2.serial_hex.clone()),
        "server rotated"
    );
    drop(s);
    assert_eq!(n5301.current_serial(), Some(c2.serial_hex.clone()));
    assert_eq!(
        n5301.cert_chain().len(),
        1,
        "the identity as loaded is still there"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let accepted = server.accepted.lock().expect("lock").clone();
    assert_eq!(
        accepted,
        vec![Some(c1.serial_hex.clone()), Some(c2.serial_hex.clone())],
        "client rotated"
    );

    // 4. The old certificate is still accepted: it chains to the CA and has not expired.
    let old = NodeIdentity::from_pem(&c1.cert_pem, &c1.key_pem, ca.ca_cert_pem()).expect("old");
    let old_client = tls::client_config(&old, code("53")).expect("client config");
    assert_eq!(
        tls::probe(server.addr, old_client).await.expect("accepted"),
        Some(code("53"))
    );

    // 5. A replacement for another code (or half written) is not taken: the current one stays.
    let wrong = ca.issue(&code("5302"), 30).expect("issue");
    write_node_files(&wrong, ca.ca_cert_pem(), &child_dir).expect("write");
    assert!(tls::probe(server.addr, client.clone()).await.is_ok());
    assert_eq!(n5301.current_serial(), Some(c2.serial_hex.clone()));
    std::fs::write(child_dir.join("node.key"), "not a key").expect("write");
    assert!(tls::probe(server.addr, client).await.is_ok());
    assert_eq!(n5301.current_serial(), Some(c2.serial_hex));
    assert!(taken(&seen).is_empty());
}

// ---------------------------------------------------------------------------------------------
// the accept loop and the observed connector

#[tokio::test]
async fn incoming_reports_handshakes_that_are_not_tls() {
    let dir = TempDir::new("plain");
    let ca = Ca::init(&dir.path().join("ca"), "test").expect("CA");
    let (policy, seen) = capturing(None);
    let server = serve(&node(&ca, "53"), &policy).await;

    // A plaintext client (no plaintext listener exists): refused and reported with its address.
    let mut tcp = TcpStream::connect(server.addr).await.expect("tcp");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let r = loop {
        let r = taken(&seen);
        if !r.is_empty() || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].reason, RejectReason::HandshakeFailed);
    assert_eq!(
        r[0].remote.map(|a| a.ip()),
        Some(Ipv4Addr::LOCALHOST.into())
    );
    assert!(server.accepted.lock().expect("lock").is_empty());
}

/// A bare gRPC-shaped service answering every call with an empty OK.
#[derive(Clone)]
struct Ok200;

impl tonic::server::NamedService for Ok200 {
    const NAME: &'static str = "safemesh.test.Ok";
}

impl tower::Service<http::Request<tonic::body::Body>> for Ok200 {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<tonic::body::Body>) -> Self::Future {
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .header("grpc-status", "0")
            .body(tonic::body::Body::empty())
            .expect("response");
        std::future::ready(Ok(response))
    }
}

#[tokio::test]
async fn observed_connector_learns_why_the_parent_refused() {
    use tower::ServiceExt as _;

    let dir = TempDir::new("observed");
    let ca_dir = dir.path().join("ca");
    let ca = Ca::init(&ca_dir, "test").expect("CA");
    let issued = ca.issue(&code("5301"), 30).expect("issue");
    let n5301 =
        NodeIdentity::from_pem(&issued.cert_pem, &issued.key_pem, ca.ca_cert_pem()).expect("id");
    let n53 = node(&ca, "53");
    let list_path = dir.path().join(REVOKED_FILE);
    std::fs::write(&list_path, format!("{}\n", issued.serial_hex)).expect("write");
    let (policy, _seen) = capturing(Some(RevocationList::open(&list_path)));
    let accept: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync> = Arc::new(|_: &AdminCode| true);
    let server_config = tls::server_config_with(&n53, accept, &policy).expect("config");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = tls::incoming_with(
        listener,
        server_config,
        Duration::from_secs(5),
        policy.rejections.clone(),
    );
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(Ok200)
            .serve_with_incoming(incoming),
    );

    // 1. With TLS 1.3 the connection opens: the child's handshake is done before the parent judges.
    let observer = tls::Observer::default();
    let client = tls::client_config(&n5301, code("53")).expect("client config");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_with_connector(tls::connector_observed(client, observer.clone()))
        .await;
    let seen = observer.info();
    assert_eq!(seen.code, Some(code("53")));
    assert!(seen.serial.is_some() && seen.not_after.is_some());

    // 2. The first call fails; the alert that ended the connection says why.
    if let Ok(channel) = channel {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/safemesh.test.Ok/Get"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(tonic::body::Body::empty())
            .expect("request");
        let res = tokio::time::timeout(Duration::from_secs(10), channel.oneshot(request))
            .await
            .expect("call finishes");
        assert!(res.is_err(), "a revoked child must not be served");
    }
    assert_eq!(
        observer.info().alert,
        Some(AlertDescription::CertificateRevoked)
    );
    assert_eq!(
        RejectReason::from_alert(AlertDescription::CertificateRevoked),
        Some(RejectReason::Revoked)
    );
    server.abort();
}

// ---------------------------------------------------------------------------------------------
// the CA's CRL (issue 19 #12)

/// The CRL `ca revoke` signed in `ca_dir`, as bytes.
fn crl_bytes(ca_dir: &Path) -> Vec<u8> {
    std::fs::read(ca_dir.join(CRL_FILE)).expect("CA/crl.pem")
}

#[test]
fn ca_revoke_signs_a_crl_with_an_increasing_number() {
    let dir = TempDir::new("crl-number");
    let ca_dir = dir.path().join("ca");
    let ca = Ca::init(&ca_dir, "test").expect("CA");
    let ca_der = tls::parse_certs(ca.ca_cert_pem(), "ca.pem").expect("ca.pem");

    // 1. Each revocation signs the whole list again, one number up.
    assert_eq!(
        revoke(&ca_dir, "0a1b", Some("丢失 / lost")).expect("revoke"),
        Revoked::Added {
            path: ca_dir.join(REVOKED_FILE),
            crl_number: 1
        }
    );
    let first = Crl::verify(&crl_bytes(&ca_dir), &ca_der).expect("signed by the CA");
    assert_eq!(first.number(), 1);
    assert_eq!(first.serials().iter().collect::<Vec<_>>(), vec!["a1b"]);
    revoke(&ca_dir, "7f:00", None).expect("revoke");
    let second = Crl::verify(&crl_bytes(&ca_dir), &ca_der).expect("signed by the CA");
    assert_eq!(second.number(), 2);
    assert_eq!(
        second.serials().iter().collect::<Vec<_>>(),
        vec!["7f00", "a1b"]
    );

    // 2. A serial already listed changes nothing.
    assert!(matches!(
        revoke(&ca_dir, "A1B", None).expect("revoke"),
        Revoked::AlreadyListed { .. }
    ));
    assert_eq!(
        Crl::verify(&crl_bytes(&ca_dir), &ca_der)
            .expect("crl")
            .number(),
        2
    );
}

#[test]
fn a_forged_older_or_garbled_crl_is_refused_and_changes_nothing_and_a_restart_keeps_the_crl() {
    let dir = TempDir::new("crl-offer");
    let ca_dir = dir.path().join("ca");
    let ca = Ca::init(&ca_dir, "test").expect("CA");
    let ca_der = tls::parse_certs(ca.ca_cert_pem(), "ca.pem").expect("ca.pem");
    let node_tls = dir.path().join("5301-tls");
    std::fs::create_dir_all(&node_tls).expect("dir");
    let open = || {
        RevocationList::open_with_crl(
            node_tls.join(REVOKED_FILE),
            node_tls.join(CRL_FILE),
            &ca_der,
        )
    };
    let list = open();

    // 1. CRL 1 and 2 from the CA; the node takes 2 (offered by its parent).
    revoke(&ca_dir, "0a1b", None).expect("revoke");
    let crl1 = crl_bytes(&ca_dir);
    revoke(&ca_dir, "0c2d", None).expect("revoke");
    let crl2 = crl_bytes(&ca_dir);
    let mut changes = list.subscribe();
    assert_eq!(list.offer(&crl2).expect("taken").number(), 2);
    assert!(changes.has_changed().expect("alive"), "subscribers told");
    changes.mark_unchanged();
    assert!(list.contains("a1b") && list.contains("c2d"));
    let kept = std::fs::read(node_tls.join(CRL_FILE)).expect("kept on disk");

    // 2. Another CA with the same name (same issuer name, another key) signs CRL 99: forged.
    let other_dir = dir.path().join("other-ca");
    Ca::init(&other_dir, "test").expect("other CA");
    revoke(&other_dir, "5301", None).expect("revoke");
    let forged = crl_bytes(&other_dir);
    let err = list.offer(&forged).expect_err("forged");
    assert!(matches!(err, tls::CrlError::NotSignedByCa(_)), "{err}");
    assert_eq!(err.rule(), "crl_signed_by_ca");

    // 3. The older CRL, and the same one again: not newer.
    let err = list.offer(&crl1).expect_err("older");
    assert_eq!(
        err,
        tls::CrlError::NotNewer {
            offered: 1,
            held: 2
        }
    );
    assert!(matches!(
        list.offer(&crl2).expect_err("same"),
        tls::CrlError::NotNewer { .. }
    ));

    // 4. Garbage, and a CRL cut short.
    for bytes in [b"not a crl".to_vec(), crl2[..crl2.len() / 2].to_vec()] {
        let err = list.offer(&bytes).expect_err("garbage");
        assert_eq!(err.rule(), "crl_decodes", "{err}");
    }

    // 5. None of it changed anything: the CRL held, its serials, the file, no notification.
    assert_eq!(list.crl().expect("held").number(), 2);
    assert!(!list.contains("5301"));
    assert_eq!(std::fs::read(node_tls.join(CRL_FILE)).expect("file"), kept);
    assert!(!changes.has_changed().expect("alive"));

    // 6. A forged file put in place by hand is not taken either.
    std::fs::write(node_tls.join(CRL_FILE), &forged).expect("write");
    list.refresh();
    assert_eq!(list.crl().expect("held").number(), 2);
    std::fs::write(node_tls.join(CRL_FILE), &kept).expect("write back");

    // 7. After a restart the node holds CRL 2 from its disk.
    drop(list);
    let reopened = open();
    assert_eq!(reopened.crl().expect("held after restart").number(), 2);
    assert!(reopened.contains("c2d"));
}

#[tokio::test]
async fn a_certificate_in_the_crl_is_refused_by_rustls_on_both_sides() {
    let dir = TempDir::new("crl-handshake");
    let ca_dir = dir.path().join("ca");
    let ca = Ca::init(&ca_dir, "test").expect("CA");
    let ca_der = tls::parse_certs(ca.ca_cert_pem(), "ca.pem").expect("ca.pem");
    let p53 = ca.issue(&code("53"), 30).expect("issue");
    let n53 = NodeIdentity::from_pem(&p53.cert_pem, &p53.key_pem, ca.ca_cert_pem()).expect("id");
    let c5301 = ca.issue(&code("5301"), 30).expect("issue");
    let n5301 =
        NodeIdentity::from_pem(&c5301.cert_pem, &c5301.key_pem, ca.ca_cert_pem()).expect("id");
    let crl_list = |name: &str| {
        RevocationList::open_with_crl(
            dir.path().join(format!("{name}-revoked.txt")),
            dir.path().join(format!("{name}-crl.pem")),
            &ca_der,
        )
    };

    // 1. The parent holds a CRL (no plain list) revoking the child's serial.
    let parent_list = crl_list("53");
    let (policy, seen) = capturing(Some(parent_list.clone()));
    let server = serve(&n53, &policy).await;
    let config = tls::client_config(&n5301, code("53")).expect("client config");
    assert!(tls::probe(server.addr, config.clone()).await.is_ok());
    revoke(&ca_dir, &c5301.serial_hex, None).expect("revoke");
    parent_list.offer(&crl_bytes(&ca_dir)).expect("taken");

    // 2. The next handshake is refused by rustls' own CRL check (the message says so), naming the
    //    child.
    let err = tls::probe(server.addr, config).await.expect_err("revoked");
    assert_eq!(
        alert_of(&err),
        Some(AlertDescription::CertificateRevoked),
        "{err}"
    );
    let r = taken(&seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].reason, RejectReason::Revoked);
    assert_eq!(r[0].code, Some(code("5301")));
    assert!(r[0].message.contains("(CRL)"), "{}", r[0].message);

    // 3. A child holding a CRL that revokes its parent refuses the parent.
    revoke(&ca_dir, &p53.serial_hex, None).expect("revoke");
    let child_list = crl_list("5301");
    child_list.offer(&crl_bytes(&ca_dir)).expect("taken");
    let (policy, seen) = capturing(Some(child_list));
    let n5302 = node(&ca, "5302");
    let config = tls::client_config_with(&n5302, code("53"), &policy).expect("client config");
    refused_as_revoked(server.addr, config).await;
    let r = taken(&seen);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].reason, r[0].peer_kind, r[0].code.clone()),
        (RejectReason::Revoked, PeerKind::Parent, Some(code("53")))
    );
    assert!(r[0].message.contains("(CRL)"), "{}", r[0].message);
}
