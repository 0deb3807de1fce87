//! Mutual TLS between nodes, for real, over loopback: CA and certificate issuance, the parent's
//! accept rule, the child's expected-parent check, and the tonic wiring (`incoming` + `connector`).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use safemesh_gateway::ca::{Ca, IssuedCert, write_node_files};
use safemesh_gateway::tls::{self, NodeIdentity, Policy, RejectReason, Rejection, Rejections};
use safemesh_model::AdminCode;
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
            "safemesh-tls-{tag}-{}-{nanos}-{n}",
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

fn identity(issued: &IssuedCert, ca_pem: &str) -> NodeIdentity {
    NodeIdentity::from_pem(&issued.cert_pem, &issued.key_pem, ca_pem).expect("identity")
}

/// One mesh CA with nodes 53, 5301, 530181, and a rogue 5301 certified by another CA.
struct Pki {
    _dir: TempDir,
    ca: Ca,
    n53: NodeIdentity,
    n5301: NodeIdentity,
    n530181: NodeIdentity,
    /// 5301 with a certificate from another CA. It trusts both CAs, so that it can verify the
    /// real parent and only the parent's check can fail.
    rogue5301: NodeIdentity,
}

fn pki() -> Pki {
    let dir = TempDir::new("pki");
    let ca = Ca::init(&dir.path().join("ca"), "test").expect("init CA");
    let other = Ca::init(&dir.path().join("other-ca"), "other").expect("init other CA");
    let issue = |ca: &Ca, c: &str| ca.issue(&code(c), 30).expect("issue");
    let n53 = identity(&issue(&ca, "53"), ca.ca_cert_pem());
    let n5301 = identity(&issue(&ca, "5301"), ca.ca_cert_pem());
    let n530181 = identity(&issue(&ca, "530181"), ca.ca_cert_pem());
    let both = format!("{}{}", other.ca_cert_pem(), ca.ca_cert_pem());
    let rogue5301 = identity(&issue(&other, "5301"), &both);
    Pki {
        _dir: dir,
        ca,
        n53,
        n5301,
        n530181,
        rogue5301,
    }
}

type Accept = Arc<dyn Fn(&AdminCode) -> bool + Send + Sync>;

fn direct_children_of(parent: &AdminCode) -> Accept {
    let parent = parent.clone();
    Arc::new(move |c: &AdminCode| c.is_direct_child_of(&parent))
}

/// A policy whose refusals are kept for inspection.
fn capturing() -> (Policy, Arc<Mutex<Vec<Rejection>>>) {
    let seen: Arc<Mutex<Vec<Rejection>>> = Arc::default();
    let sink = seen.clone();
    let policy = Policy {
        revocations: None,
        rejections: Rejections::new(move |r: &Rejection| {
            sink.lock().expect("lock").push(r.clone())
        }),
    };
    (policy, seen)
}

/// Serves one TLS connection: on success, returns the client's code and writes `hello`.
async fn serve_once(
    id: &NodeIdentity,
    accept: Accept,
) -> (SocketAddr, JoinHandle<Result<Option<AdminCode>, String>>) {
    serve_once_with(id, accept, &Policy::default()).await
}

/// [`serve_once`] with a policy (revocation list, refusal sink).
async fn serve_once_with(
    id: &NodeIdentity,
    accept: Accept,
    policy: &Policy,
) -> (SocketAddr, JoinHandle<Result<Option<AdminCode>, String>>) {
    let config = tls::server_config_with(id, accept, policy).expect("server config");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut conn = tokio_rustls::TlsAcceptor::from(config)
            .accept(tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (_, session) = conn.get_ref();
        assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
        let peer = session.peer_certificates().and_then(tls::peer_code);
        conn.write_all(b"hello").await.map_err(|e| e.to_string())?;
        conn.shutdown().await.map_err(|e| e.to_string())?;
        Ok(peer)
    });
    (addr, task)
}

async fn server_result(
    task: JoinHandle<Result<Option<AdminCode>, String>>,
) -> Result<Option<AdminCode>, String> {
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("server finished in time")
        .expect("server task did not panic")
}

/// True if the client side ends up rejected: either the handshake fails or, with TLS 1.3 where
/// the server judges the client certificate after the client has finished, the first read fails.
async fn client_rejected(
    connected: std::io::Result<tokio_rustls::client::TlsStream<TcpStream>>,
) -> bool {
    let Ok(mut stream) = connected else {
        return true;
    };
    let mut buf = Vec::new();
    match tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await {
        Ok(Ok(_)) => buf != b"hello",
        Ok(Err(_)) => true,
        Err(_) => panic!("client read timed out"),
    }
}

// ---------------------------------------------------------------------------------------------
// handshakes

#[tokio::test]
async fn child_with_ca_cert_is_accepted_and_sees_parent_code() {
    let pki = pki();
    let (addr, server) = serve_once(&pki.n53, direct_children_of(&pki.n53.code)).await;

    let config = tls::client_config(&pki.n5301, code("53")).expect("client config");
    let mut stream = tls::connect(addr, config).await.expect("handshake");
    let (_, session) = stream.get_ref();
    assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
    let parent = session.peer_certificates().and_then(tls::peer_code);
    assert_eq!(parent, Some(code("53")), "child sees the parent's code");

    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    assert_eq!(buf, b"hello");

    let seen = server_result(server)
        .await
        .expect("server accepted the child");
    assert_eq!(seen, Some(code("5301")), "parent sees the child's code");
}

#[tokio::test]
async fn grandchild_is_rejected_by_parent_accept_rule() {
    let pki = pki();
    let (policy, seen) = capturing();
    let (addr, server) =
        serve_once_with(&pki.n53, direct_children_of(&pki.n53.code), &policy).await;

    let config = tls::client_config(&pki.n530181, code("53")).expect("client config");
    assert!(
        client_rejected(tls::connect(addr, config).await).await,
        "client must not get through"
    );

    let err = server_result(server)
        .await
        .expect_err("parent must reject 530181");
    // The alert sent is access_denied; the reason is reported with the code, which the CA vouches for.
    assert!(
        err.contains("ApplicationVerificationFailure"),
        "unexpected error: {err}"
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].reason, RejectReason::NotDirectChild);
    assert_eq!(seen[0].code, Some(code("530181")));
    assert!(
        seen[0]
            .message
            .contains("certificate code 530181 is not a direct child of 53"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn accept_rule_can_refuse_a_direct_child() {
    let pki = pki();
    let (policy, seen) = capturing();
    let (addr, server) = serve_once_with(&pki.n53, Arc::new(|_: &AdminCode| false), &policy).await;

    let config = tls::client_config(&pki.n5301, code("53")).expect("client config");
    assert!(client_rejected(tls::connect(addr, config).await).await);

    let err = server_result(server).await.expect_err("parent must reject");
    assert!(
        err.contains("ApplicationVerificationFailure"),
        "unexpected error: {err}"
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].reason, RejectReason::NotDirectChild);
    assert!(
        seen[0]
            .message
            .contains("certificate code 5301 is not accepted by 53"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn cert_from_another_ca_is_rejected() {
    let pki = pki();
    let consulted = Arc::new(AtomicBool::new(false));
    let flag = consulted.clone();
    let accept: Accept = Arc::new(move |_: &AdminCode| {
        flag.store(true, Ordering::SeqCst);
        true
    });
    let (policy, seen) = capturing();
    let (addr, server) = serve_once_with(&pki.n53, accept, &policy).await;

    let config = tls::client_config(&pki.rogue5301, code("53")).expect("client config");
    assert!(client_rejected(tls::connect(addr, config).await).await);

    let err = server_result(server)
        .await
        .expect_err("parent must reject a foreign CA");
    assert!(err.contains("UnknownIssuer"), "unexpected error: {err}");
    assert!(
        !consulted.load(Ordering::SeqCst),
        "accept rule must not see unverified codes"
    );
    // Reported, but the claimed code is not believed.
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].reason, RejectReason::UnknownCa);
    assert_eq!(seen[0].code, None);
    assert_eq!(seen[0].claimed.as_deref(), Some("5301"));
}

#[tokio::test]
async fn client_rejects_server_with_wrong_code_despite_valid_chain() {
    let pki = pki();
    // 5301 poses as the parent of 530181's expected parent 53; its chain is perfectly valid.
    let (addr, server) = serve_once(&pki.n5301, Arc::new(|_: &AdminCode| true)).await;

    let config = tls::client_config(&pki.n530181, code("53")).expect("client config");
    let err = tls::connect(addr, config)
        .await
        .expect_err("client must reject 5301 posing as 53");
    let msg = err.to_string();
    assert!(
        msg.contains("server certificate code 5301 is not the expected peer 53"),
        "unexpected error: {msg}"
    );
    assert!(
        server_result(server).await.is_err(),
        "server sees the client's alert"
    );
}

#[tokio::test]
async fn client_rejects_server_from_another_ca() {
    let pki = pki();
    // The rogue node trusts both CAs, but the child trusts only the mesh CA.
    let (addr, server) = serve_once(&pki.rogue5301, Arc::new(|_: &AdminCode| true)).await;

    let config = tls::client_config(&pki.n530181, code("5301")).expect("client config");
    let err = tls::connect(addr, config)
        .await
        .expect_err("client must reject a foreign CA");
    assert!(
        err.to_string().contains("UnknownIssuer"),
        "unexpected error: {err}"
    );
    let _ = server_result(server).await;
}

#[tokio::test]
async fn ip_addressing_works_with_any_server_name() {
    let pki = pki();
    let names = [
        ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into()),
        ServerName::try_from("unrelated.example").expect("dns name"),
        ServerName::try_from("localhost").expect("dns name"),
    ];
    for name in names {
        let (addr, server) = serve_once(&pki.n53, direct_children_of(&pki.n53.code)).await;
        let config = tls::client_config(&pki.n5301, code("53")).expect("client config");
        let tcp = TcpStream::connect(addr).await.expect("tcp");
        let mut stream = tokio_rustls::TlsConnector::from(config)
            .connect(name.clone(), tcp)
            .await
            .unwrap_or_else(|e| panic!("handshake with server name {name:?}: {e}"));
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await.expect("read");
        assert_eq!(buf, b"hello");
        assert_eq!(server_result(server).await, Ok(Some(code("5301"))));
    }
}

#[tokio::test]
async fn refused_child_cannot_resume_an_old_session() {
    let pki = pki();
    let allowed = Arc::new(AtomicBool::new(true));
    let flag = allowed.clone();
    let accept: Accept = Arc::new(move |_: &AdminCode| flag.load(Ordering::SeqCst));
    let config = tls::server_config(&pki.n53, accept).expect("server config");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let mut results = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.expect("accept");
            let result = match acceptor.accept(tcp).await {
                Ok(mut conn) => {
                    let _ = conn.write_all(b"hello").await;
                    let _ = conn.shutdown().await;
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            };
            results.push(result);
        }
        results
    });

    // The same client config both times: a resumable session would skip the accept rule.
    let client = tls::client_config(&pki.n5301, code("53")).expect("client config");
    assert!(!client_rejected(tls::connect(addr, client.clone()).await).await);
    allowed.store(false, Ordering::SeqCst);
    assert!(client_rejected(tls::connect(addr, client).await).await);

    let results = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server in time")
        .expect("server task");
    assert_eq!(results[0], Ok(()));
    let err = results[1].as_ref().expect_err("second connection refused");
    assert!(err.contains("ApplicationVerificationFailure"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// CA and files

#[test]
fn ca_files_are_written_and_never_overwritten() {
    let dir = TempDir::new("ca");
    let ca_dir = dir.path().join("ca");
    let ca = Ca::init(&ca_dir, "yunnan").expect("init");
    assert!(ca_dir.join("ca.pem").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(ca_dir.join("ca.key"))
            .expect("ca.key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "ca.key must be private");
    }
    let pem_before = std::fs::read_to_string(ca_dir.join("ca.pem")).expect("read ca.pem");
    assert_eq!(pem_before, ca.ca_cert_pem());

    let err = Ca::init(&ca_dir, "yunnan").expect_err("second init must fail");
    assert!(matches!(err, tls::Error::CaExists { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(ca_dir.join("ca.pem")).expect("read"),
        pem_before
    );

    // The CA certificate says what it is.
    let der = rustls_pemfile::certs(&mut ca.ca_cert_pem().as_bytes())
        .next()
        .expect("one cert")
        .expect("pem");
    let (_, x509) = x509_parser::parse_x509_certificate(&der).expect("x509");
    assert!(x509.is_ca());
    assert!(x509.subject().to_string().contains("safemesh CA yunnan"));
    let ku = x509
        .key_usage()
        .expect("ku")
        .expect("key usage present")
        .value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    let years = (x509.validity().not_after.timestamp() - x509.validity().not_before.timestamp())
        / (365 * 24 * 3600);
    assert!((9..=10).contains(&years), "CA valid ~10 years, got {years}");
}

#[test]
fn loaded_ca_issues_certs_that_nodes_load_from_disk() {
    let dir = TempDir::new("load");
    let ca_dir = dir.path().join("ca");
    let node_dir = dir.path().join("node-530181006");
    let first = Ca::init(&ca_dir, "test").expect("init");
    let ca = Ca::load(&ca_dir).expect("load");
    assert_eq!(ca.ca_cert_pem(), first.ca_cert_pem());

    let township = code("530181006");
    let issued = ca.issue(&township, 90).expect("issue");
    assert_eq!(
        issued.serial_hex.len(),
        32,
        "16-byte serial: {}",
        issued.serial_hex
    );
    assert!(issued.serial_hex.chars().all(|c| c.is_ascii_hexdigit()));
    let again = ca.issue(&township, 90).expect("issue again");
    assert_ne!(issued.serial_hex, again.serial_hex, "serials are random");

    write_node_files(&issued, ca.ca_cert_pem(), &node_dir).expect("write node files");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(node_dir.join("node.key"))
            .expect("node.key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "node.key must be private");
    }
    // Re-writing (renewal) replaces the files.
    write_node_files(&again, ca.ca_cert_pem(), &node_dir).expect("rewrite node files");

    let id = NodeIdentity::load(&node_dir).expect("load identity");
    assert_eq!(id.code, township);
    assert_eq!(id.cert_chain().len(), 1);
    assert_eq!(id.ca_certs().len(), 1);
    let days_left = (id.not_after() - time::OffsetDateTime::now_utc()).whole_days();
    assert!((89..=90).contains(&days_left), "{days_left}");

    // The leaf: CN, SAN URI, EKUs, serial.
    let leaf: &CertificateDer<'static> = &id.cert_chain()[0];
    assert_eq!(tls::code_from_cert(leaf).expect("code"), township);
    let (_, x509) = x509_parser::parse_x509_certificate(leaf).expect("x509");
    assert!(x509.subject().to_string().contains("CN=530181006"));
    assert!(!x509.is_ca());
    let eku = x509
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.server_auth && eku.client_auth);
    assert_eq!(
        x509.raw_serial_as_string().replace(':', ""),
        again.serial_hex
    );
    let san = x509
        .subject_alternative_name()
        .expect("san")
        .expect("san present")
        .value;
    assert!(san.general_names.iter().any(|n| matches!(
        n,
        x509_parser::extensions::GeneralName::URI("safemesh://node/530181006")
    )));
}

#[test]
fn identity_checks_key_and_ca() {
    let pki = pki();
    let other = TempDir::new("other");
    let foreign = Ca::init(other.path(), "foreign").expect("init");
    let a = pki.ca.issue(&code("5301"), 10).expect("issue");
    let b = pki.ca.issue(&code("5302"), 10).expect("issue");

    let err = NodeIdentity::from_pem(&a.cert_pem, &b.key_pem, pki.ca.ca_cert_pem())
        .expect_err("key of another certificate");
    assert!(err.to_string().contains("KeyMismatch"), "{err}");

    let err = NodeIdentity::from_pem(&a.cert_pem, &a.key_pem, foreign.ca_cert_pem())
        .expect_err("certificate of another CA");
    assert!(matches!(err, tls::Error::Cert(_)), "{err}");

    let err = NodeIdentity::from_pem("", &a.key_pem, pki.ca.ca_cert_pem()).expect_err("empty");
    assert!(matches!(err, tls::Error::NoCertificate { .. }), "{err}");

    let err = pki.ca.issue(&code("5301"), 0).expect_err("zero validity");
    assert!(matches!(err, tls::Error::Cert(_)), "{err}");
}

#[test]
fn code_from_cert_requires_the_san_uri() {
    // A certificate without our SAN URI (plain rcgen self-signed, DNS SAN only).
    let plain = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    let err = tls::code_from_cert(plain.cert.der()).expect_err("no SAN URI");
    assert!(matches!(err, tls::Error::NoCode), "{err}");
    assert_eq!(tls::peer_code(&[plain.cert.der().clone()]), None);
    assert_eq!(tls::peer_code(&[]), None);

    // A SAN URI with our prefix but no valid code.
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![rcgen::SanType::URI(
        "safemesh://node/12345".try_into().expect("ia5"),
    )];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    let err = tls::code_from_cert(cert.der()).expect_err("bad code");
    assert!(matches!(err, tls::Error::BadCode { .. }), "{err}");

    // A valid code, but not in prefix form: identities must be exact.
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![
        rcgen::SanType::DnsName("localhost".try_into().expect("ia5")),
        rcgen::SanType::URI("https://example.org/53".try_into().expect("ia5")),
        rcgen::SanType::URI("safemesh://node/530000".try_into().expect("ia5")),
    ];
    let cert = params.self_signed(&key).expect("self-signed");
    let err = tls::code_from_cert(cert.der()).expect_err("non-canonical code");
    assert!(err.to_string().contains("prefix form 53"), "{err}");

    // Other URIs before ours are skipped.
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![
        rcgen::SanType::URI("https://example.org/53".try_into().expect("ia5")),
        rcgen::SanType::URI("safemesh://node/5301".try_into().expect("ia5")),
    ];
    let cert = params.self_signed(&key).expect("self-signed");
    assert_eq!(tls::code_from_cert(cert.der()).expect("code"), code("5301"));
}

// ---------------------------------------------------------------------------------------------
// tonic wiring

/// A bare gRPC-shaped service answering every call with the caller's code in a header.
#[derive(Clone)]
struct WhoAmI;

impl tonic::server::NamedService for WhoAmI {
    const NAME: &'static str = "safemesh.test.WhoAmI";
}

impl tower::Service<http::Request<tonic::body::Body>> for WhoAmI {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        let peer = req
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(|info| info.peer_certs())
            .and_then(|certs| tls::peer_code(&certs))
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none".to_string());
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .header("grpc-status", "0")
            .header("x-peer-code", peer)
            .body(tonic::body::Body::empty())
            .expect("response");
        std::future::ready(Ok(response))
    }
}

#[tokio::test]
async fn tonic_server_and_channel_over_mutual_tls() {
    use tower::ServiceExt as _;

    let pki = pki();
    let server_config =
        tls::server_config(&pki.n53, direct_children_of(&pki.n53.code)).expect("server config");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = tls::incoming(listener, server_config, Duration::from_secs(5));
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(WhoAmI)
            .serve_with_incoming(incoming),
    );

    // A rejected grandchild first: its handshake fails and must not disturb the server.
    let bad = tls::client_config(&pki.n530181, code("53")).expect("client config");
    let bad_channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tls::connector(bad))
        .await;
    if let Ok(channel) = bad_channel {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/safemesh.test.WhoAmI/Get"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(tonic::body::Body::empty())
            .expect("request");
        let res = tokio::time::timeout(Duration::from_secs(10), channel.oneshot(request))
            .await
            .expect("rejected call finishes in time");
        assert!(res.is_err(), "a grandchild must not reach the service");
    }

    let good = tls::client_config(&pki.n5301, code("53")).expect("client config");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tls::connector(good))
        .await
        .expect("connect");
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/safemesh.test.WhoAmI/Get"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::empty())
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), channel.oneshot(request))
        .await
        .expect("call in time")
        .expect("call");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("x-peer-code").map(|v| v.as_bytes()),
        Some(&b"5301"[..])
    );

    server.abort();
}

/// Issue 19 #11: the key and certificate are replaced as a pair. A crash between the two renames
/// (the new key in place, its certificate still `node.pem.new`) is completed at the next load; a
/// crash before them (half-written `.new` files) leaves the old pair, whole.
#[test]
fn a_key_and_certificate_replacement_cut_by_a_crash_never_leaves_a_mismatched_pair() {
    let dir = TempDir::new("pair");
    let ca = Ca::init(&dir.path().join("ca"), "test").expect("init CA");
    let node = dir.path().join("node");
    let old = ca.issue(&code("530181"), 30).expect("issue");
    write_node_files(&old, ca.ca_cert_pem(), &node).expect("write");
    let new = ca.issue(&code("530181"), 30).expect("issue again");
    let serial = |id: &NodeIdentity| id.current_serial().unwrap_or_default();

    // Cut between the renames.
    std::fs::write(node.join("node.key"), &new.key_pem).unwrap();
    std::fs::write(node.join("node.pem.new"), &new.cert_pem).unwrap();
    let id = NodeIdentity::load(&node).expect("the replacement is completed");
    assert_eq!(serial(&id), new.serial_hex);
    assert!(!node.join("node.pem.new").exists());

    // Cut before them: the new files half-written beside the (now current) pair.
    let third = ca.issue(&code("530181"), 30).expect("issue a third");
    std::fs::write(node.join("node.key.new"), &third.key_pem[..40]).unwrap();
    std::fs::write(node.join("node.pem.new"), &third.cert_pem).unwrap();
    let id = NodeIdentity::load(&node).expect("the old pair is whole");
    assert_eq!(serial(&id), new.serial_hex);
    assert!(!node.join("node.key.new").exists() && !node.join("node.pem.new").exists());
}

/// Issue 19 #11: revocations run at once never lose one another's serial (the list is read, added
/// to and written back under a lock).
#[test]
fn concurrent_revocations_keep_every_serial() {
    let dir = TempDir::new("revoke");
    let ca_dir = dir.path().join("ca");
    Ca::init(&ca_dir, "test").expect("init CA");
    let serials: Vec<String> = (1..=16)
        .map(|i| format!("{i:02x}{:030x}", i * 7919))
        .collect();
    std::thread::scope(|s| {
        for serial in &serials {
            let ca_dir = &ca_dir;
            s.spawn(move || {
                safemesh_gateway::ca::revoke(ca_dir, serial, Some("并发")).expect("revoke")
            });
        }
    });
    let (listed, _) =
        tls::parse_revocation_list(&std::fs::read_to_string(ca_dir.join("revoked.txt")).unwrap());
    for serial in &serials {
        let canonical = tls::canonical_serial(serial).expect("a serial");
        assert!(listed.contains(&canonical), "{serial} lost");
    }
}
