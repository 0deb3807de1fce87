//! 连接观察 — how a child learns why its parent refused it.
//!
//! With TLS 1.3 a client's handshake completes before the server has judged the client
//! certificate, so a refusal arrives as an alert on the first read — or hides behind a broken pipe
//! on the first write. [`connector_observed`] wraps each connection in [`Observed`], which records
//! that alert, with the server certificate's code, serial and expiry, in an [`Observer`] the dialer
//! reads to say why the link is down.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::{AlertDescription, ClientConfig};
use safemesh_model::AdminCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::cert::{code_from_cert, serial_of, validity_of};
use super::connect::{connect, host_port};
use super::reject::rustls_error;
use super::stamp::lock;

/// 连接观察 — what a connection made by [`connector_observed`] learnt about its peer.
#[derive(Debug, Clone, Default)]
pub struct PeerInfo {
    /// The server's code, from its (verified) certificate.
    pub code: Option<AdminCode>,
    /// The server certificate's serial (lowercase hex).
    pub serial: Option<String>,
    /// When the server certificate expires.
    pub not_after: Option<time::OffsetDateTime>,
    /// The fatal TLS alert the server sent, if it refused this node (with TLS 1.3 this arrives on
    /// the first read after the handshake, when the server has judged our certificate).
    pub alert: Option<AlertDescription>,
}

/// Shared record of the latest connection made by one [`connector_observed`].
#[derive(Debug, Clone, Default)]
pub struct Observer(Arc<Mutex<PeerInfo>>);

impl Observer {
    /// What was seen so far.
    pub fn info(&self) -> PeerInfo {
        lock(&self.0).clone()
    }

    fn note_error(&self, e: &io::Error) {
        if let Some(rustls::Error::AlertReceived(alert)) = rustls_error(e) {
            lock(&self.0).alert = Some(*alert);
        }
    }
}

/// 连接器 — like [`connector`], recording the server's certificate (code, serial, expiry) and any
/// fatal alert it sends into `observer`: how a child learns *why* its parent refused it.
///
/// [`connector`]: super::connector
pub fn connector_observed(
    config: Arc<ClientConfig>,
    observer: Observer,
) -> impl tower::Service<
    http::Uri,
    Response = TokioIo<Observed<tokio_rustls::client::TlsStream<TcpStream>>>,
    Error = io::Error,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |uri: http::Uri| {
        let config = config.clone();
        let observer = observer.clone();
        async move {
            let stream = match connect(host_port(&uri)?, config).await {
                Ok(s) => s,
                Err(e) => {
                    observer.note_error(&e);
                    return Err(e);
                }
            };
            {
                let leaf = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first());
                let mut info = lock(&observer.0);
                *info = PeerInfo {
                    code: leaf.and_then(|c| code_from_cert(c).ok()),
                    serial: leaf.and_then(serial_of),
                    not_after: leaf.and_then(validity_of).map(|(_, na)| na),
                    alert: None,
                };
            }
            Ok(TokioIo::new(Observed {
                inner: stream,
                observer,
            }))
        }
    })
}

/// A stream that reports a fatal TLS alert from its peer to an [`Observer`].
#[derive(Debug)]
pub struct Observed<S> {
    inner: S,
    observer: Observer,
}

impl<S: AsyncRead + Unpin> AsyncRead for Observed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Err(e)) = &r {
            this.observer.note_error(e);
        }
        r
    }
}

impl<S: AsyncRead + Unpin> Observed<S> {
    /// A write failed (typically a broken pipe: the peer closed right after its alert). The alert
    /// may still be waiting in the receive buffer: read once to record it. The stream is broken
    /// anyway, so whatever else is read is dropped.
    fn after_write_error(&mut self, cx: &mut Context<'_>, e: &io::Error) {
        self.observer.note_error(e);
        if self.observer.info().alert.is_some() {
            return;
        }
        let mut scratch = [0u8; 256];
        let mut buf = ReadBuf::new(&mut scratch);
        if let Poll::Ready(Err(read)) = Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
            self.observer.note_error(&read);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Observed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Err(e)) = &r {
            this.after_write_error(cx, e);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Err(e)) = &r {
            this.after_write_error(cx, e);
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
