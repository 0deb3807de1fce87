//! The link over gRPC: the parent's `Link` service (one bidirectional stream per child) and the
//! child's dialer that keeps one stream to its parent, reconnecting with capped backoff.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use prost::Message;
use safemesh_model::AdminCode;
use safemesh_proto::v1 as pb;
use safemesh_proto::v1::link_client::LinkClient;
use safemesh_proto::v1::link_server::{Link as LinkRpc, LinkServer};
use safemesh_sync::driver::{LinkConfig, Transport, run_link};
use safemesh_sync::link::{Link, Role};
use tokio::sync::{Mutex, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

use crate::convert::{from_proto, to_proto};
use crate::tls;

/// Largest frame accepted on a link, in bytes.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

type PeerSlot = (Arc<Mutex<Link>>, Option<watch::Sender<bool>>);

/// The parent side: serves children's streams.
#[derive(Clone)]
pub struct LinkService {
    cfg: LinkConfig,
    peers: Arc<std::sync::Mutex<HashMap<AdminCode, PeerSlot>>>,
    shutdown: watch::Receiver<bool>,
}

impl LinkService {
    pub fn new(cfg: LinkConfig, shutdown: watch::Receiver<bool>) -> LinkService {
        LinkService {
            cfg,
            peers: Arc::default(),
            shutdown,
        }
    }

    /// Serves the link service on `listener` with mutual TLS until shutdown.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<(), tonic::transport::Error> {
        let mut shutdown = self.shutdown.clone();
        let incoming = tls::incoming(listener, tls, Duration::from_secs(10));
        let svc = LinkServer::new(self)
            .max_decoding_message_size(MAX_FRAME_BYTES)
            .max_encoding_message_size(MAX_FRAME_BYTES);
        Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(10)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .add_service(svc)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
    }
}

/// Adapts a gRPC inbound stream to the driver's channel, counting bytes.
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
                            let frame = safemesh_sync::Frame::Error(safemesh_sync::ErrorFrame {
                                code: safemesh_sync::ErrorCode::Malformed,
                                doc_id: None,
                                path: None,
                                rule: None,
                                message: e.to_string(),
                            });
                            // Treated as the peer's error: the driver closes the stream.
                            let _ = tx.send((frame, n)).await;
                            break;
                        }
                    }
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

/// Adapts the driver's outbound channel to a gRPC stream, counting bytes.
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
        };
        let cfg = self.cfg.clone();
        let mut node_shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let (stop_tx, stop) = watch::channel(false);
            let mut stop_rx = stop_rx;
            tokio::spawn(async move {
                tokio::select! {
                    _ = stop_rx.wait_for(|s| *s) => {}
                    _ = node_shutdown.wait_for(|s| *s) => {}
                }
                let _ = stop_tx.send(true);
            });
            let mut link = link.lock().await;
            let reason = run_link(&cfg, &mut link, transport, stop).await;
            info!(peer = %link.peer, "child stream closed: {reason}");
        });
        let stream = outbound(out_rx, bytes_out).map(Ok);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The child side: keeps one stream open to the parent at `parent_addr`, reconnecting with backoff
/// (doubling from 100 ms, capped at `max_backoff`). Returns at shutdown.
pub async fn dial_parent(
    cfg: LinkConfig,
    parent: AdminCode,
    parent_addr: String,
    tls: Arc<rustls::ClientConfig>,
    max_backoff: Duration,
    mut shutdown: watch::Receiver<bool>,
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
        match open_stream(&parent_addr, tls.clone()).await {
            Ok((mut client, out_tx, out_rx, bytes_out)) => {
                let outbound_stream = outbound(out_rx, bytes_out.clone());
                match client.sync(Request::new(outbound_stream)).await {
                    Ok(resp) => {
                        failures = 0;
                        info!(parent = %parent, addr = %parent_addr, "connected to parent");
                        let rx = spawn_reader(resp.into_inner(), parent.clone());
                        let transport = Transport {
                            tx: out_tx,
                            rx,
                            bytes_out,
                        };
                        let reason = run_link(&cfg, &mut link, transport, shutdown.clone()).await;
                        info!(parent = %parent, "parent stream closed: {reason}");
                    }
                    Err(status) => {
                        // With TLS 1.3 a refused client certificate surfaces here, on the first call.
                        let msg = format!("{}: {}", status.code(), status.message());
                        let rejected = is_tls_rejection(&msg);
                        warn!(parent = %parent, "link refused: {msg}");
                        if rejected {
                            link.on_rejected(msg.clone());
                        } else {
                            link.on_disconnected(Some(msg.clone()));
                        }
                        reg.update(parent.as_str(), |s| {
                            s.state = if rejected {
                                "rejected".into()
                            } else {
                                "disconnected".into()
                            };
                            s.last_error = Some(msg);
                        });
                    }
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let rejected = is_tls_rejection(&msg);
                if rejected {
                    link.on_rejected(msg.clone());
                } else {
                    link.on_disconnected(Some(msg.clone()));
                }
                reg.update(parent.as_str(), |s| {
                    s.state = if rejected {
                        "rejected".into()
                    } else {
                        "disconnected".into()
                    };
                    s.last_error = Some(msg.clone());
                });
                // The first failure of a run is a warning; repeats while the parent stays away are
                // logged at debug, with a reminder every 60 attempts.
                failures += 1;
                if failures == 1 || failures % 60 == 0 {
                    warn!(parent = %parent, addr = %parent_addr, failures, "cannot reach parent: {msg}");
                } else {
                    tracing::debug!(parent = %parent, addr = %parent_addr, failures, "cannot reach parent: {msg}");
                }
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

fn is_tls_rejection(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("certificate") || m.contains("handshake") || m.contains("tls")
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
) -> Result<Opened, Box<dyn std::error::Error + Send + Sync>> {
    let hostport = addr
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let endpoint = Endpoint::from_shared(format!("http://{hostport}"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    let channel = endpoint
        .connect_with_connector(tls::connector(tls))
        .await
        .map_err(|e| {
            // Surface the innermost cause (e.g. the certificate error) instead of "transport error".
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = s.to_string();
                src = s.source();
            }
            msg
        })?;
    let client = LinkClient::new(channel)
        .max_decoding_message_size(MAX_FRAME_BYTES)
        .max_encoding_message_size(MAX_FRAME_BYTES);
    let (tx, rx) = mpsc::channel(8);
    Ok((client, tx, rx, Arc::new(AtomicU64::new(0))))
}

/// Binds the link listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}
