//! 连接 — a child dialling its parent over TLS: a plain connect, a probe, and a connector for tonic.
//!
//! The handshake is done here, not by tonic, so the mesh's own verifier and certificate resolver
//! are used and the server name is the peer's IP (never checked). Tonic gets an already encrypted
//! stream behind an `http://` URI. [`probe`] asks a server whether it accepts this node's
//! certificate without speaking gRPC.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use safemesh_model::AdminCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::cert::peer_code;

/// 连接 — TCP-connects to `addr` and runs the TLS handshake with `config` (from
/// [`client_config`]). The server name sent is the peer's IP; it is not checked.
///
/// [`client_config`]: super::client_config
pub async fn connect<A: tokio::net::ToSocketAddrs>(
    addr: A,
    config: Arc<ClientConfig>,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::IpAddress(tcp.peer_addr()?.ip().into());
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// 探测 — does the server at `addr` accept the client certificate of `config`?
///
/// Connects, completes the TLS handshake and waits for the server's first bytes (an HTTP/2 server,
/// such as a node's link port, sends its SETTINGS frame unasked; a server that waits for the client
/// to speak first is sent the HTTP/2 client preface after a second). With TLS 1.3 the server
/// judges the client certificate only after the client's handshake is done, so the answer is in
/// that first read: bytes → accepted (returns the server's code, if its certificate names one); an
/// error carrying `rustls::Error::AlertReceived` → refused, with the reason in the alert. Times out
/// after 10 s.
pub async fn probe<A: tokio::net::ToSocketAddrs>(
    addr: A,
    config: Arc<ClientConfig>,
) -> io::Result<Option<AdminCode>> {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    // An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
    const SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    let attempt = async {
        let mut stream = connect(addr, config).await?;
        let code = stream.get_ref().1.peer_certificates().and_then(peer_code);
        let mut buf = [0u8; 9];
        // Read before writing: a refusing server closes the connection right after its alert, and
        // a write racing with that close fails with a broken pipe that hides the alert.
        let n = match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(read) => read?,
            Err(_) => {
                // Quiet server: speak first. Write errors are ignored; the read says what happened.
                let _ = stream.write_all(PREFACE).await;
                let _ = stream.write_all(&SETTINGS).await;
                let _ = stream.flush().await;
                stream.read(&mut buf).await?
            }
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "服务端未应答即关闭 / the server closed the connection without a word",
            ));
        }
        let _ = stream.shutdown().await;
        Ok(code)
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "probe timed out"))?
}

/// 连接器 — a tower connector for tonic's `Endpoint::connect_with_connector`: connects to the
/// URI's `host:port` with [`connect`].
///
/// Give the endpoint an `http://` URI (e.g. `http://10.0.0.5:7443`): this connector already does
/// TLS, and tonic refuses `https://` URIs on an endpoint without its own TLS config.
pub fn connector(
    config: Arc<ClientConfig>,
) -> impl tower::Service<
    http::Uri,
    Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>,
    Error = io::Error,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |uri: http::Uri| {
        let config = config.clone();
        async move {
            let stream = connect(host_port(&uri)?, config).await?;
            Ok(TokioIo::new(stream))
        }
    })
}

pub(super) fn host_port(uri: &http::Uri) -> io::Result<(String, u16)> {
    let host = uri.host().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("URI 缺少主机 / no host in {uri}"),
        )
    })?;
    // `Uri::host` keeps IPv6 brackets, which `ToSocketAddrs` does not accept.
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((host, uri.port_u16().unwrap_or(443)))
}
