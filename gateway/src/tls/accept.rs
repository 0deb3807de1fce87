//! 接入 — a parent's accept loop: TCP connections in, finished TLS streams out, for tonic.
//!
//! Each handshake runs in its own task with a deadline, so one slow or hostile client cannot stall
//! the loop, and within the limits of [`ConnLimits`] (`admit`), so a flood cannot exhaust the node.
//! Refusals the verifier already reported are not reported again; those it never saw (no
//! certificate, not TLS at all, a timeout, over a limit) are reported here, where the peer's address
//! is known.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use rustls::ServerConfig;
use tokio::net::TcpListener;

use super::admit::{Admission, Admitted, ConnLimits};
use super::reject::{PeerKind, RejectReason, Rejection, Rejections, rustls_error};

/// 接入流 — accepts TCP connections on `listener` and yields those whose TLS handshake with
/// `config` succeeds; for tonic's `Server::serve_with_incoming`. Refusals are only logged; see
/// [`incoming_with`].
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
) -> impl Stream<Item = io::Result<Admitted>> + Send + 'static {
    incoming_with(listener, config, handshake_timeout, Rejections::default())
}

/// [`incoming_limited`] with the default [`ConnLimits`].
pub fn incoming_with(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
    rejections: Rejections,
) -> impl Stream<Item = io::Result<Admitted>> + Send + 'static {
    incoming_limited(
        listener,
        config,
        handshake_timeout,
        rejections,
        ConnLimits::default(),
    )
}

/// 接入流 — accepts TCP connections on `listener` and yields those whose TLS handshake with
/// `config` succeeds; for tonic's `Server::serve_with_incoming`.
///
/// Each handshake runs in its own task, bounded by `handshake_timeout`, so a slow or hostile
/// client cannot stall the accept loop. Failed handshakes are never yielded: those the
/// certificate verifier refused were already reported by it; the others (no client certificate,
/// not TLS at all, a timeout) are reported to `rejections` here. A handshake the *client* aborted
/// (it refused this server's certificate: an alert received) is logged, not counted as a refusal
/// by this node. Accept errors are yielded as `Err`, which tonic logs and skips. Dropping the
/// stream stops the accept loop and closes the listener.
///
/// At most `limits.handshakes` handshakes run at once (the loop accepts no more until one ends), at
/// most `limits.handshakes_per_ip` from one address (more are closed at once), and a finished
/// connection is admitted only within the limits on connections in all and per certificate code
/// (else closed): each refusal is reported as `too_many_connections`.
///
/// The yielded [`Admitted`] implements tonic's `Connected` as a bare TLS stream does, so handlers
/// find `tonic::transport::server::TlsConnectInfo<TcpConnectInfo>` in the request extensions; pass
/// its `peer_certs()` to [`peer_code`]. It holds its connection permits until dropped.
///
/// Must be called inside a Tokio runtime (it spawns the accept loop).
///
/// [`peer_code`]: super::peer_code
pub fn incoming_limited(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
    rejections: Rejections,
    limits: ConnLimits,
) -> impl Stream<Item = io::Result<Admitted>> + Send + 'static {
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let admission = Admission::new(limits);
    tokio::spawn(async move {
        loop {
            // A handshake slot first: past the limit, connections wait in the kernel's backlog.
            let slot = tokio::select! {
                slot = admission.handshakes.clone().acquire_owned() => slot,
                () = tx.closed() => break,
            };
            let Ok(slot) = slot else { break };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => break,
            };
            let (tcp, remote) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    if tx.send(Err(e)).await.is_err() {
                        break;
                    }
                    // Typically EMFILE; back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let ip_slot = match admission.handshake_from(remote.ip()) {
                Ok(s) => s,
                Err(why) => {
                    drop(tcp);
                    too_many(&rejections, remote, None, why);
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            let rejections = rejections.clone();
            let admission = admission.clone();
            tokio::spawn(async move {
                let done = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await;
                drop((slot, ip_slot));
                match done {
                    Ok(Ok(stream)) => {
                        let peer = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(super::peer_code);
                        let code = peer.as_ref().map(|c| c.as_str().to_string());
                        match admission.admit(stream, code.as_deref()) {
                            Ok(admitted) => {
                                let _ = tx.send(Ok(admitted)).await;
                            }
                            Err(why) => too_many(&rejections, remote, peer, why),
                        }
                    }
                    Ok(Err(e)) => handshake_failed(&rejections, remote, &e),
                    Err(_) => rejections.record(Rejection {
                        reason: RejectReason::Timeout,
                        peer_kind: PeerKind::Child,
                        code: None,
                        claimed: None,
                        serial: None,
                        remote: Some(remote),
                        message: format!(
                            "TLS 握手超时 / TLS handshake timed out after {handshake_timeout:?}"
                        ),
                    }),
                }
            });
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Reports a connection closed over a limit.
fn too_many(
    rejections: &Rejections,
    remote: SocketAddr,
    code: Option<safemesh_model::AdminCode>,
    message: String,
) {
    rejections.record(Rejection {
        reason: RejectReason::TooManyConnections,
        peer_kind: PeerKind::Child,
        code,
        claimed: None,
        serial: None,
        remote: Some(remote),
        message,
    });
}

fn handshake_failed(rejections: &Rejections, remote: SocketAddr, e: &io::Error) {
    let (reason, message) = match rustls_error(e) {
        // Refused by our verifier, which reported it with the certificate's details.
        Some(rustls::Error::InvalidCertificate(_)) => {
            tracing::debug!(%remote, error = %e, "TLS handshake failed: certificate refused");
            return;
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            tracing::warn!(%remote, ?alert,
                "TLS handshake failed: the client refused this node's certificate or aborted");
            return;
        }
        Some(rustls::Error::NoCertificatesPresented) => (
            RejectReason::NoCertificate,
            "客户端未出示证书 / client presented no certificate".to_string(),
        ),
        _ => (
            RejectReason::HandshakeFailed,
            format!("TLS 握手失败 / TLS handshake failed: {e}"),
        ),
    };
    rejections.record(Rejection {
        reason,
        peer_kind: PeerKind::Child,
        code: None,
        claimed: None,
        serial: None,
        remote: Some(remote),
        message,
    });
}
