//! The link over gRPC: the parent's `Link` service (one bidirectional stream per child) and the
//! child's dialer that keeps one stream to its parent, reconnecting with capped backoff.
//!
//! Certificates are judged in the TLS handshake ([`crate::tls`]). On top of that, each stream is
//! guarded for as long as it lives: it is closed when the peer's certificate serial appears in the
//! revocation list (checked whenever the list changes) or when the certificate expires, and the
//! link then shows `rejected` with the reason. A child refused by its parent learns why from the
//! TLS alert of the refusal ([`tls::connector_observed`]) and shows `rejected` with that reason;
//! when nothing says why (the connection just closed), it shows `disconnected`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use prost::Message;
use safemesh_link::{LinkConfig, Registry, Transport, run_link};
use safemesh_model::AdminCode;
use safemesh_proto::v1 as pb;
use safemesh_proto::v1::link_client::LinkClient;
use safemesh_proto::v1::link_server::{Link as LinkRpc, LinkServer};
use safemesh_sync::link::{Link, Role};
use tokio::sync::{Mutex, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

use crate::convert::{from_proto, to_proto};
use crate::tls::{self, PeerKind, RejectReason, Rejection};

/// Largest frame accepted on a link, in bytes.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

type PeerSlot = (Arc<Mutex<Link>>, Option<watch::Sender<bool>>);

/// The parent side: serves children's streams.
#[derive(Clone)]
pub struct LinkService {
    cfg: LinkConfig,
    peers: Arc<std::sync::Mutex<HashMap<AdminCode, PeerSlot>>>,
    shutdown: watch::Receiver<bool>,
    policy: tls::Policy,
}

impl LinkService {
    pub fn new(cfg: LinkConfig, shutdown: watch::Receiver<bool>) -> LinkService {
        LinkService {
            cfg,
            peers: Arc::default(),
            shutdown,
            policy: tls::Policy::default(),
        }
    }

    /// The revocation list each stream is checked against (before serving and whenever the list
    /// changes) and where refusals go — the same [`tls::Policy`] as the server's TLS config.
    pub fn with_policy(mut self, policy: tls::Policy) -> LinkService {
        self.policy = policy;
        self
    }

    /// Serves the link service on `listener` with mutual TLS until shutdown.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<(), tonic::transport::Error> {
        let mut shutdown = self.shutdown.clone();
        let incoming = tls::incoming_with(
            listener,
            tls,
            Duration::from_secs(10),
            self.policy.rejections.clone(),
        );
        let svc = LinkServer::new(self)
            .max_decoding_message_size(MAX_FRAME_BYTES)
            .max_encoding_message_size(MAX_FRAME_BYTES);
        Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(10)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            // Bounds on streams (docs/SECURITY.md): per HTTP/2 connection, in all and per peer.
            .max_concurrent_streams(Some(crate::limits::MAX_STREAMS_PER_CONNECTION))
            .layer(crate::limits::StreamLimitLayer::default())
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
    }
}

/// Adapts a gRPC inbound stream to the runner's channel, counting bytes.
fn spawn_reader<S>(mut inbound: S, peer: AdminCode) -> mpsc::Receiver<(safemesh_sync::Frame, usize)>
where
    S: Stream<Item = Result<pb::LinkFrame, Status>> + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(msg) = inbound.next().await {
            match msg {
                Ok(f) => {
                    let n = f.encoded_len();
                    match from_proto(f) {
                        Ok(frame) => {
                            if tx.send((frame, n)).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            warn!(peer = %peer, "{e}");
                            // The runner answers with a MALFORMED error frame and closes.
                            let _ = tx
                                .send((crate::convert::undecodable(&e.to_string()), n))
                                .await;
                            break;
                        }
                    }
                }
                Err(status) if crate::convert::is_decode_failure(&status) => {
                    // Garbled, oversized or truncated bytes: answered the same way.
                    warn!(peer = %peer, "undecodable frame: {}", status.message());
                    let _ = tx
                        .send((crate::convert::undecodable(status.message()), 0))
                        .await;
                    break;
                }
                Err(status) => {
                    info!(peer = %peer, "link stream ended: {}", status.message());
                    break;
                }
            }
        }
    });
    rx
}

/// Adapts the runner's outbound channel to a gRPC stream, counting bytes.
fn outbound(
    rx: mpsc::Receiver<safemesh_sync::Frame>,
    bytes: Arc<AtomicU64>,
) -> impl Stream<Item = pb::LinkFrame> + Send + 'static {
    ReceiverStream::new(rx).map(move |f| {
        let p = to_proto(f);
        bytes.fetch_add(p.encoded_len() as u64, Ordering::Relaxed);
        p
    })
}

#[tonic::async_trait]
impl LinkRpc for LinkService {
    type SyncStream = Pin<Box<dyn Stream<Item = Result<pb::LinkFrame, Status>> + Send + 'static>>;

    async fn sync(
        &self,
        request: Request<Streaming<pb::LinkFrame>>,
    ) -> Result<Response<Self::SyncStream>, Status> {
        let certs = request.peer_certs().ok_or_else(|| {
            Status::unauthenticated("需要客户端证书 / client certificate required")
        })?;
        let peer = tls::peer_code(&certs).ok_or_else(|| {
            Status::unauthenticated("证书缺少节点代码 / certificate names no node")
        })?;
        let leaf = certs.first();
        let serial = leaf.and_then(tls::serial_of);
        let not_after = leaf.and_then(tls::validity_of).map(|(_, na)| na);
        // The list may have changed since the handshake: check again before the first frame.
        if let (Some(list), Some(s)) = (&self.policy.revocations, serial.as_deref())
            && list.is_revoked(s)
        {
            let message = format!("证书 {s} 已吊销 / certificate serial {s} is revoked");
            self.policy.rejections.record(Rejection {
                reason: RejectReason::Revoked,
                peer_kind: PeerKind::Child,
                code: Some(peer.clone()),
                claimed: None,
                serial: serial.clone(),
                remote: request.remote_addr(),
                message: message.clone(),
            });
            return Err(Status::permission_denied(message));
        }
        self.cfg.registry.update(peer.as_str(), |s| {
            s.peer_serial = serial.clone();
            s.peer_not_after = not_after.map(rfc3339);
        });
        let inbound = request.into_inner();
        // One stream per child: a new stream replaces the old one.
        let (link, stop_rx) = {
            let mut peers = self.peers.lock().map_err(|_| Status::internal("lock"))?;
            let slot = peers.entry(peer.clone()).or_insert_with(|| {
                (
                    Arc::new(Mutex::new(self.cfg.new_link(peer.clone(), Role::Child))),
                    None,
                )
            });
            if let Some(old) = slot.1.take() {
                let _ = old.send(true);
            }
            let (stop_tx, stop_rx) = watch::channel(false);
            slot.1 = Some(stop_tx);
            (slot.0.clone(), stop_rx)
        };
        info!(peer = %peer, "child connected");
        let (out_tx, out_rx) = mpsc::channel(8);
        let bytes_out = Arc::new(AtomicU64::new(0));
        let rx = spawn_reader(inbound, peer.clone());
        let transport = Transport {
            tx: out_tx,
            rx,
            bytes_out: bytes_out.clone(),
            peer_serial: serial.clone(),
        };
        let cfg = self.cfg.clone();
        let (stop, verdict, guard) = guard_stream(
            self.shutdown.clone(),
            Some(stop_rx),
            self.policy.revocations.clone(),
            serial,
            not_after,
        );
        tokio::spawn(async move {
            let mut link = link.lock().await;
            let reason = run_link(&cfg, &mut link, transport, stop).await;
            guard.abort();
            match take_verdict(&verdict) {
                Some((why, message)) => {
                    warn!(peer = %link.peer, reason = why.as_str(),
                        "closed the child's live stream: {message}");
                    link.on_rejected(message.clone());
                    cfg.registry.update(link.peer.as_str(), |s| {
                        s.state = "rejected".into();
                        s.last_error = Some(format!("{why}: {message}"));
                    });
                }
                None => info!(peer = %link.peer, "child stream closed: {reason}"),
            }
        });
        let stream = outbound(out_rx, bytes_out).map(Ok);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The child side: keeps one stream open to the parent at `parent_addr`, reconnecting with backoff
/// (doubling from 100 ms, capped at `max_backoff`). Returns at shutdown. Honours no revocation
/// list; see [`dial_parent_with`].
pub async fn dial_parent(
    cfg: LinkConfig,
    parent: AdminCode,
    parent_addr: String,
    tls: Arc<rustls::ClientConfig>,
    max_backoff: Duration,
    shutdown: watch::Receiver<bool>,
) {
    dial_parent_with(
        cfg,
        parent,
        parent_addr,
        tls,
        max_backoff,
        shutdown,
        tls::Policy::default(),
    )
    .await;
}

/// The child side: keeps one stream open to the parent at `parent_addr`, reconnecting with backoff
/// (doubling from 100 ms, capped at `max_backoff`). Returns at shutdown.
///
/// `tls` should be built with the same `policy` ([`tls::client_config_with`]); `policy`'s
/// revocation list is also checked against the parent's serial whenever it changes, closing a
/// live stream to a parent whose certificate is revoked (or has expired).
///
/// Link states: `rejected` when this node refused the parent's certificate, when the parent
/// refused this node's certificate and its TLS alert says so (the reason is in `last_error`), or
/// when the parent refused the stream (`PERMISSION_DENIED`/`UNAUTHENTICATED`); `disconnected` for
/// everything else (unreachable, connection closed without a reason).
pub async fn dial_parent_with(
    cfg: LinkConfig,
    parent: AdminCode,
    parent_addr: String,
    tls: Arc<rustls::ClientConfig>,
    max_backoff: Duration,
    mut shutdown: watch::Receiver<bool>,
    policy: tls::Policy,
) {
    let mut link = cfg.new_link(parent.clone(), Role::Parent);
    let reg = cfg.registry.clone();
    reg.update(parent.as_str(), |s| {
        s.role = "parent".into();
        s.state = "connecting".into();
    });
    let mut backoff = Duration::from_millis(100);
    let mut failures = 0u64;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let started = tokio::time::Instant::now();
        reg.update(parent.as_str(), |s| s.state = "connecting".into());
        let observer = tls::Observer::default();
        let failed = match open_stream(&parent_addr, tls.clone(), observer.clone()).await {
            Ok((mut client, out_tx, out_rx, bytes_out)) => {
                let outbound_stream = outbound(out_rx, bytes_out.clone());
                match client.sync(Request::new(outbound_stream)).await {
                    Ok(resp) => {
                        failures = 0;
                        let seen = observer.info();
                        info!(parent = %parent, addr = %parent_addr,
                            serial = seen.serial.as_deref().unwrap_or(""), "connected to parent");
                        reg.update(parent.as_str(), |s| {
                            s.peer_serial = seen.serial.clone();
                            s.peer_not_after = seen.not_after.map(rfc3339);
                        });
                        let rx = spawn_reader(resp.into_inner(), parent.clone());
                        let transport = Transport {
                            tx: out_tx,
                            rx,
                            bytes_out,
                            peer_serial: seen.serial.clone(),
                        };
                        let (stop, verdict, guard) = guard_stream(
                            shutdown.clone(),
                            None,
                            policy.revocations.clone(),
                            seen.serial,
                            seen.not_after,
                        );
                        let reason = run_link(&cfg, &mut link, transport, stop).await;
                        guard.abort();
                        match take_verdict(&verdict) {
                            Some((why, message)) => {
                                warn!(parent = %parent, reason = why.as_str(),
                                    "closed the live stream to the parent: {message}");
                                link.on_rejected(message.clone());
                                reg.update(parent.as_str(), |s| {
                                    s.state = "rejected".into();
                                    s.last_error = Some(format!("{why}: {message}"));
                                });
                            }
                            None => info!(parent = %parent, "parent stream closed: {reason}"),
                        }
                        None
                    }
                    // With TLS 1.3 a refused client certificate surfaces here, on the first call.
                    Err(status) => Some(refusal_of_call(&status, &observer.info())),
                }
            }
            Err(failure) => Some(failure),
        };
        if let Some(Failure { rejected, message }) = failed {
            if rejected {
                link.on_rejected(message.clone());
            } else {
                link.on_disconnected(Some(message.clone()));
            }
            reg.update(parent.as_str(), |s| {
                s.state = if rejected {
                    "rejected".into()
                } else {
                    "disconnected".into()
                };
                s.last_error = Some(message.clone());
            });
            // The first failure of a run is a warning; repeats while the parent stays away are
            // logged at debug, with a reminder every 60 attempts.
            failures += 1;
            if rejected || failures == 1 || failures.is_multiple_of(60) {
                warn!(parent = %parent, addr = %parent_addr, failures, rejected, "link to parent failed: {message}");
            } else {
                tracing::debug!(parent = %parent, addr = %parent_addr, failures, "cannot reach parent: {message}");
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            backoff = Duration::from_millis(100);
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

/// A failed attempt to open the parent link: `rejected` if a certificate (ours or the parent's)
/// was refused, as far as can be known.
struct Failure {
    rejected: bool,
    message: String,
}

/// The first call failed. A TLS alert recorded by the connection says the parent refused our
/// certificate, and why; `PERMISSION_DENIED`/`UNAUTHENTICATED` say it refused the stream;
/// anything else (typically "operation was canceled" when the connection closed without an
/// alert) cannot be told from a network failure: `disconnected`.
fn refusal_of_call(status: &Status, seen: &tls::PeerInfo) -> Failure {
    if let Some(alert) = seen.alert {
        return refused_by_alert(alert);
    }
    let message = format!("{}: {}", status.code(), status.message());
    match status.code() {
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => Failure {
            rejected: true,
            message: format!("上级拒绝了本链路 / the parent refused the link: {message}"),
        },
        _ => Failure {
            rejected: false,
            message,
        },
    }
}

fn refused_by_alert(alert: rustls::AlertDescription) -> Failure {
    let reason = RejectReason::from_alert(alert).map_or("tls_alert", RejectReason::as_str);
    Failure {
        rejected: true,
        message: format!(
            "上级拒绝了本节点的证书 / the parent refused this node's certificate: {reason} \
             (TLS alert {alert:?})"
        ),
    }
}

/// Whether a failed connect was a certificate refusal, from the rustls error inside it: our
/// verifier refused the parent's certificate (`InvalidCertificate`, or `General` with its
/// message), or the parent aborted the handshake with an alert. Otherwise it is a network failure.
fn is_tls_rejection(error: &(dyn std::error::Error + 'static)) -> Option<Failure> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        let found = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(tls::rustls_error)
        });
        match found {
            Some(rustls::Error::AlertReceived(alert)) => return Some(refused_by_alert(*alert)),
            Some(err @ (rustls::Error::InvalidCertificate(_) | rustls::Error::General(_))) => {
                return Some(Failure {
                    rejected: true,
                    message: format!(
                        "本节点拒绝了上级的证书 / this node refused the parent's certificate: {err}"
                    ),
                });
            }
            Some(_) => return None,
            None => next = e.source(),
        }
    }
    None
}

type Opened = (
    LinkClient<tonic::transport::Channel>,
    mpsc::Sender<safemesh_sync::Frame>,
    mpsc::Receiver<safemesh_sync::Frame>,
    Arc<AtomicU64>,
);

async fn open_stream(
    addr: &str,
    tls: Arc<rustls::ClientConfig>,
    observer: tls::Observer,
) -> Result<Opened, Failure> {
    let hostport = addr
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let endpoint = Endpoint::from_shared(format!("http://{hostport}"))
        .map_err(|e| Failure {
            rejected: false,
            message: e.to_string(),
        })?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    let channel = endpoint
        .connect_with_connector(tls::connector_observed(tls, observer))
        .await
        .map_err(|e| {
            if let Some(refused) = is_tls_rejection(&e) {
                return refused;
            }
            // Surface the innermost cause (e.g. "Connection refused") instead of "transport error".
            let mut message = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                message = s.to_string();
                src = s.source();
            }
            Failure {
                rejected: false,
                message,
            }
        })?;
    let client = LinkClient::new(channel)
        .max_decoding_message_size(MAX_FRAME_BYTES)
        .max_encoding_message_size(MAX_FRAME_BYTES);
    let (tx, rx) = mpsc::channel(8);
    Ok((client, tx, rx, Arc::new(AtomicU64::new(0))))
}

/// Why a stream's guard closed it.
type Verdict = Arc<std::sync::Mutex<Option<(RejectReason, String)>>>;

fn take_verdict(v: &Verdict) -> Option<(RejectReason, String)> {
    v.lock().ok().and_then(|mut g| g.take())
}

/// Watches one stream: returns the stop signal to give `run_link`, which turns true when the node
/// shuts down, when `replaced` turns true (a newer stream of the same child), when `serial` appears
/// in the revocation list (checked at start and whenever the list changes), or when the
/// certificate's `not_after` passes. The last two leave a verdict saying why.
fn guard_stream(
    mut node_shutdown: watch::Receiver<bool>,
    mut replaced: Option<watch::Receiver<bool>>,
    revocations: Option<tls::RevocationList>,
    serial: Option<String>,
    not_after: Option<time::OffsetDateTime>,
) -> (watch::Receiver<bool>, Verdict, tokio::task::JoinHandle<()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let verdict: Verdict = Arc::default();
    let out = verdict.clone();
    let handle = tokio::spawn(async move {
        let mut changes = revocations.as_ref().map(tls::RevocationList::subscribe);
        loop {
            if let (Some(list), Some(s)) = (&revocations, serial.as_deref())
                && list.contains(s)
            {
                let message = format!("证书 {s} 已吊销 / certificate serial {s} is revoked");
                if let Ok(mut v) = out.lock() {
                    *v = Some((RejectReason::Revoked, message));
                }
                break;
            }
            let left = not_after.map(|t| t - time::OffsetDateTime::now_utc());
            if let Some(left) = left
                && left <= time::Duration::ZERO
            {
                let message = format!(
                    "证书已于 {at} 过期 / certificate expired at {at}",
                    at = not_after.map(rfc3339).unwrap_or_default()
                );
                if let Ok(mut v) = out.lock() {
                    *v = Some((RejectReason::Expired, message));
                }
                break;
            }
            // Wake at expiry, but at least hourly (long timers are not worth trusting).
            let nap = left.map(|l| {
                Duration::try_from(l)
                    .unwrap_or(Duration::ZERO)
                    .min(Duration::from_secs(3600))
                    .max(Duration::from_millis(10))
            });
            tokio::select! {
                _ = node_shutdown.wait_for(|s| *s) => break,
                () = async {
                    match replaced.as_mut() {
                        Some(r) => { let _ = r.wait_for(|s| *s).await; }
                        None => std::future::pending().await,
                    }
                } => break,
                changed = async {
                    match changes.as_mut() {
                        Some(c) => c.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                } => {
                    if !changed {
                        changes = None;
                    }
                }
                () = async {
                    match nap {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
        let _ = stop_tx.send(true);
    });
    (stop_rx, verdict, handle)
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// 拒绝计数 — a [`tls::Rejections`] that counts every refused handshake in `registry` (the sync
/// status's `rejected_handshakes`, by reason) and, when a would-be child's code is known from a
/// certificate the CA issued (revoked, expired, not a direct child), shows it among the links as
/// `rejected` with the reason in `last_error` — unless that code has a live stream (then only
/// `last_error` is set: the refused attempt came from someone else).
pub fn rejections_into(registry: Registry) -> tls::Rejections {
    tls::Rejections::new(move |r: &Rejection| {
        registry.count_rejected_handshake(r.reason.as_str());
        if r.peer_kind != PeerKind::Child {
            return;
        }
        let Some(code) = &r.code else {
            return;
        };
        let live = registry
            .get(code.as_str())
            .is_some_and(|s| matches!(s.state.as_str(), "connecting" | "catching_up" | "in_sync"));
        registry.update(code.as_str(), |s| {
            if s.role.is_empty() {
                s.role = Role::Child.as_str().into();
            }
            if !live {
                s.state = "rejected".into();
                s.peer_serial = r.serial.clone();
            }
            s.last_error = Some(format!("{}: {}", r.reason, r.message));
        });
    })
}

/// Binds the link listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
