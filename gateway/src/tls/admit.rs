//! 接纳限制 — how many connections a parent takes in: TLS handshakes in progress, in all and per
//! remote address, and finished connections, in all and per peer certificate (SECURITY.md, weakness
//! 10). A flood of TCP connections that never finish their handshake, or a stolen certificate opening
//! connection after connection, cannot exhaust the node's tasks, memory or file descriptors, and the
//! honest children keep getting in.
//!
//! * Handshakes in all: the accept loop takes a permit before it accepts, so at most
//!   [`ConnLimits::handshakes`] handshakes run at once; past that, new connections wait in the
//!   kernel's backlog instead of becoming tasks. Each handshake has its deadline besides.
//! * Handshakes per remote IP: past [`ConnLimits::handshakes_per_ip`] a new connection from the same
//!   address is closed at once, so one host cannot hold every handshake slot.
//! * Connections in all and per certificate code: a connection whose handshake finished holds a
//!   permit of each for as long as it lives ([`Admitted`] releases them when it is dropped). Past a
//!   limit it is closed and reported (`too_many_connections`). The stream limits of
//!   [`crate::limits`] still bound the gRPC streams inside the connections.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

/// The limits on a parent's incoming connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// TLS handshakes in progress at once, in all.
    pub handshakes: usize,
    /// TLS handshakes in progress at once from one remote IP address.
    pub handshakes_per_ip: usize,
    /// Open connections (handshake done) at once, in all.
    pub connections: usize,
    /// Open connections at once with one certificate code. A child needs one; a redial may overlap
    /// the old connection until keep-alive notices it is gone.
    pub connections_per_peer: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            handshakes: 128,
            handshakes_per_ip: 16,
            connections: 2048,
            connections_per_peer: 4,
        }
    }
}

/// The counters behind [`ConnLimits`], shared by the accept loop and the connections it yields.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: ConnLimits,
    pub(crate) handshakes: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    connections: Arc<Semaphore>,
    per_peer: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Why a connection was not admitted, in words for the log and the rejection.
pub(crate) type Refusal = String;

impl Admission {
    pub(crate) fn new(limits: ConnLimits) -> Arc<Admission> {
        Arc::new(Admission {
            limits,
            handshakes: Arc::new(Semaphore::new(limits.handshakes.max(1))),
            per_ip: Mutex::default(),
            connections: Arc::new(Semaphore::new(limits.connections.max(1))),
            per_peer: Mutex::default(),
        })
    }

    /// A handshake slot for `ip`, released when the returned guard is dropped; `Err` when `ip`
    /// already holds as many handshakes as it may.
    pub(crate) fn handshake_from(self: &Arc<Self>, ip: IpAddr) -> Result<IpSlot, Refusal> {
        let mut map = self.per_ip.lock().map_err(|_| "admission state poisoned")?;
        let n = map.entry(ip).or_insert(0);
        if *n >= self.limits.handshakes_per_ip {
            return Err(format!(
                "来自 {ip} 的未完成握手已达 {} 个 / {ip} already has {} handshakes in progress",
                self.limits.handshakes_per_ip, self.limits.handshakes_per_ip
            ));
        }
        *n += 1;
        Ok(IpSlot {
            admission: self.clone(),
            ip,
        })
    }

    /// Admits a connection whose handshake finished, with certificate code `peer` (if it has one):
    /// a permit of the total and one of the peer's, held by the returned stream.
    pub(crate) fn admit(
        &self,
        stream: TlsStream<TcpStream>,
        peer: Option<&str>,
    ) -> Result<Admitted, Refusal> {
        let total = self.connections.clone().try_acquire_owned().map_err(|_| {
            format!(
                "连接数已达上限 {} / the node holds as many connections as it may ({})",
                self.limits.connections, self.limits.connections
            )
        })?;
        let peer_permit = match peer {
            None => None,
            Some(p) => {
                let mut peers = self
                    .per_peer
                    .lock()
                    .map_err(|_| "admission state poisoned")?;
                // Forget peers with no connection open, so the map stays as small as the live set.
                let per = self.limits.connections_per_peer;
                peers.retain(|_, s| s.available_permits() < per);
                let sem = peers
                    .entry(p.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(per)))
                    .clone();
                Some(sem.try_acquire_owned().map_err(|_| {
                    format!(
                        "证书 {p} 的连接数已达上限 {per} / certificate {p} already holds {per} connections"
                    )
                })?)
            }
        };
        Ok(Admitted {
            inner: stream,
            _total: total,
            _peer: peer_permit,
        })
    }
}

/// One handshake in progress from an address; the count goes down when it is dropped.
pub(crate) struct IpSlot {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.admission.per_ip.lock()
            && let Some(n) = map.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// 已接纳的连接 — a TLS connection the parent admitted, holding its connection permits until it
/// is dropped. Reads and writes go to the TLS stream; tonic finds the same connect info as on a bare
/// `TlsStream` (`TlsConnectInfo<TcpConnectInfo>`, with the peer's certificates).
pub struct Admitted {
    inner: TlsStream<TcpStream>,
    _total: OwnedSemaphorePermit,
    _peer: Option<OwnedSemaphorePermit>,
}

impl Admitted {
    /// The TCP stream and the TLS session, as [`TlsStream::get_ref`] gives them.
    pub fn get_ref(&self) -> (&TcpStream, &rustls::ServerConnection) {
        self.inner.get_ref()
    }
}

impl Connected for Admitted {
    type ConnectInfo = <TlsStream<TcpStream> as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for Admitted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Admitted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
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
