//! 流量限制 — tower layers on the link server: how many link streams it holds at once, in all and per
//! peer (the code in the client certificate).
//!
//! A link is one long-lived gRPC stream, so a plain `tower::limit::ConcurrencyLimit` would not do: it
//! releases its permit when the handler returns the response head, while the stream lives on in the
//! response body. [`StreamLimitLayer`] keeps its permits inside the response body instead, so they are
//! held until the stream ends. Over a limit, the call is refused at once with gRPC
//! `RESOURCE_EXHAUSTED` (the child redials after its backoff).
//!
//! Per-frame bounds (items, changes, bytes, sequence numbers) and the per-link rate limit are not here:
//! they need the decoded frame and the link's state, and live in `safemesh_sync` (see
//! docs/SECURITY.md, "Where each bound lives").

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::codegen::Bytes;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};

use crate::tls;

/// HTTP/2 streams one connection may open at once (a child needs one).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 8;
/// Streams a link server holds at once, in all.
pub const DEFAULT_MAX_STREAMS: usize = 1024;
/// Streams one peer holds at once. A child has one link, but a reconnect may overlap the old stream
/// for a moment (the new stream replaces it), and a dead connection can linger until keep-alive
/// notices.
pub const DEFAULT_MAX_STREAMS_PER_PEER: usize = 4;

#[derive(Debug)]
struct Limits {
    total: Arc<Semaphore>,
    per_peer: usize,
    peers: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    /// Takes a permit from the total and, if the peer is known, one of the peer's.
    fn acquire(&self, peer: Option<&str>) -> Result<Permits, String> {
        let total = self.total.clone().try_acquire_owned().map_err(|_| {
            "链路数已达上限 / the server holds as many link streams as it may".to_string()
        })?;
        let peer_permit = match peer {
            None => None,
            Some(p) => {
                let Ok(mut peers) = self.peers.lock() else {
                    return Err("stream limit state poisoned".into());
                };
                // Forget peers with no stream open, so the map stays as small as the live set.
                peers.retain(|_, s| s.available_permits() < self.per_peer);
                let sem = peers
                    .entry(p.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_peer)))
                    .clone();
                Some(sem.try_acquire_owned().map_err(|_| {
                    format!(
                        "节点 {p} 的链路数已达上限 / peer {p} already holds {} link streams",
                        self.per_peer
                    )
                })?)
            }
        };
        Ok(Permits {
            _total: total,
            _peer: peer_permit,
        })
    }
}

/// Permits held for as long as a stream's response body lives.
#[derive(Debug)]
struct Permits {
    _total: OwnedSemaphorePermit,
    _peer: Option<OwnedSemaphorePermit>,
}

/// Limits concurrent link streams, in all and per peer certificate code.
#[derive(Debug, Clone)]
pub struct StreamLimitLayer {
    limits: Arc<Limits>,
}

impl StreamLimitLayer {
    pub fn new(max_streams: usize, max_per_peer: usize) -> StreamLimitLayer {
        StreamLimitLayer {
            limits: Arc::new(Limits {
                total: Arc::new(Semaphore::new(max_streams.max(1))),
                per_peer: max_per_peer.max(1),
                peers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Streams open now, in all.
    pub fn open_streams(&self, max_streams: usize) -> usize {
        max_streams.saturating_sub(self.limits.total.available_permits())
    }
}

impl Default for StreamLimitLayer {
    fn default() -> Self {
        StreamLimitLayer::new(DEFAULT_MAX_STREAMS, DEFAULT_MAX_STREAMS_PER_PEER)
    }
}

impl<S> Layer<S> for StreamLimitLayer {
    type Service = StreamLimit<S>;

    fn layer(&self, inner: S) -> StreamLimit<S> {
        StreamLimit {
            inner,
            limits: self.limits.clone(),
        }
    }
}

/// The service of [`StreamLimitLayer`].
#[derive(Debug, Clone)]
pub struct StreamLimit<S> {
    inner: S,
    limits: Arc<Limits>,
}

/// The peer's code, from the client certificate tonic put in the request's extensions.
fn peer_of<B>(req: &http::Request<B>) -> Option<String> {
    let info = req.extensions().get::<TlsConnectInfo<TcpConnectInfo>>()?;
    let certs = info.peer_certs()?;
    tls::peer_code(&certs).map(|c| c.to_string())
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for StreamLimit<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let peer = peer_of(&req);
        let permits = match self.limits.acquire(peer.as_deref()) {
            Ok(p) => p,
            Err(msg) => {
                tracing::warn!(
                    peer = peer.as_deref().unwrap_or("-"),
                    "link stream refused: {msg}"
                );
                let resp = tonic::Status::resource_exhausted(msg).into_http();
                return Box::pin(async move { Ok(resp) });
            }
        };
        // The service that was made ready is the one that takes the call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let resp = inner.call(req).await?;
            Ok(resp.map(|body| {
                tonic::body::Body::new(Held {
                    inner: tonic::body::Body::new(body),
                    _permits: permits,
                })
            }))
        })
    }
}

/// A response body that holds the stream's permits until it is dropped.
struct Held {
    inner: tonic::body::Body,
    _permits: Permits,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_counted_in_all_and_per_peer() {
        let l = StreamLimitLayer::new(3, 2);
        let a1 = l.limits.acquire(Some("530181006")).unwrap();
        let _a2 = l.limits.acquire(Some("530181006")).unwrap();
        assert!(
            l.limits.acquire(Some("530181006")).is_err(),
            "third stream of one peer"
        );
        let b1 = l.limits.acquire(Some("530181007")).unwrap();
        assert!(l.limits.acquire(None).is_err(), "total of three reached");
        drop(a1);
        let _a3 = l.limits.acquire(Some("530181006")).unwrap();
        drop(b1);
        assert_eq!(l.open_streams(3), 2);
    }
}
