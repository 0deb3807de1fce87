//! The same scenarios for samod (crates.io `samod` 0.16, automerge-repo compatible, on the same
//! `automerge` 0.12 crate as ours), so that docs/BENCHMARKS.md can compare like with like.
//!
//! Two repos in this process, a child (peer id `530181006`) that dials and a parent (`530181`) that
//! accepts, over loopback TCP with samod's own framing for TCP (`Transport::from_tokio_io`: a 4-byte
//! length prefix per message) and `TCP_NODELAY` on both ends. Every samod message (handshake and
//! per-document sync, CBOR) is counted both ways on the child's end of the socket: its encoded
//! length, without the length prefix, as ours counts protobuf frame bytes without gRPC framing.
//!
//! Storage: samod ships no SQLite adapter, only `InMemoryStorage` and a filesystem adapter
//! (`TokioFilesystemStorage`, one file per chunk, the layout of automerge-repo's nodefs adapter, written
//! with `tokio::fs::write` and never fsynced). The parent and child use the filesystem adapter by
//! default (`--samod-storage fs`), so samod persists as it does in production but without the
//! durability our SQLite commits pay for (`synchronous = FULL`); `--samod-storage mem` measures the
//! protocol alone.
//!
//! When samod considers a document synced: samod keeps, per document and connection, the Automerge
//! sync state and publishes `shared_heads` (`PeerDocState`); `DocHandle::they_have_our_changes(conn)`
//! resolves once the peer's advertised heads equal ours. The reconnect is over when that has
//! resolved for every document on **both** sides (child and parent); the bootstrap is over when it has
//! resolved for every document on the child *and* the parent's storage has received a write for
//! every document with no write still in flight. Bytes are counted until no message has flowed for
//! a quiet period (the quiet period is not in the time).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use automerge::{Automerge, ChangeHash};
use clap::ValueEnum;
use futures::future::{BoxFuture, join_all};
use futures::{FutureExt, SinkExt, StreamExt, stream};
use safemesh_model::AdminCode;
use samod::storage::{InMemoryStorage, Storage, StorageKey, TokioFilesystemStorage};
use samod::{
    AcceptorHandle, BackoffConfig, ConnectionId, DialError, Dialer, DialerHandle, DocHandle,
    DocumentId, PeerId, Repo, Transport,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::bytes::Bytes;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// Which of samod's storage adapters both repos use.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SamodStorage {
    /// `TokioFilesystemStorage`: samod's persistent adapter (files, not fsynced).
    Fs,
    /// `InMemoryStorage`.
    Mem,
}

/// Messages and their encoded bytes, both ways, on the child's end of the link.
#[derive(Default)]
pub struct Counters {
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
    msgs_out: AtomicU64,
    msgs_in: AtomicU64,
    /// Nanoseconds since `epoch` of the last message either way.
    last: AtomicU64,
    epoch: Mutex<Option<Instant>>,
}

impl Counters {
    fn new() -> Arc<Self> {
        let c = Counters::default();
        *c.epoch.lock().expect("epoch") = Some(Instant::now());
        Arc::new(c)
    }
    fn epoch(&self) -> Instant {
        self.epoch.lock().expect("epoch").expect("epoch set")
    }
    fn touch(&self) {
        let ns = self.epoch().elapsed().as_nanos() as u64;
        self.last.fetch_max(ns, Ordering::Relaxed);
    }
    fn sent(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        self.msgs_out.fetch_add(1, Ordering::Relaxed);
        self.touch();
    }
    fn received(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        self.msgs_in.fetch_add(1, Ordering::Relaxed);
        self.touch();
    }
    /// (bytes, messages) both ways so far.
    fn totals(&self) -> (u64, u64) {
        (
            self.bytes_out.load(Ordering::Relaxed) + self.bytes_in.load(Ordering::Relaxed),
            self.msgs_out.load(Ordering::Relaxed) + self.msgs_in.load(Ordering::Relaxed),
        )
    }
    fn now(&self) -> Duration {
        self.epoch().elapsed()
    }
    fn last(&self) -> Duration {
        Duration::from_nanos(self.last.load(Ordering::Relaxed))
    }
    fn since_last(&self) -> Duration {
        let last = Duration::from_nanos(self.last.load(Ordering::Relaxed));
        self.epoch().elapsed().saturating_sub(last)
    }
    /// Waits until no message has flowed for `quiet`; returns the totals then.
    async fn settle(&self, quiet: Duration) -> (u64, u64) {
        loop {
            let idle = self.since_last();
            if idle >= quiet {
                return self.totals();
            }
            tokio::time::sleep(quiet - idle).await;
        }
    }
}

/// Dials the parent over loopback TCP with samod's TCP framing and counts every message.
struct CountingDialer {
    addr: SocketAddr,
    counters: Arc<Counters>,
}

impl Dialer for CountingDialer {
    type Error = std::convert::Infallible;

    fn url(&self) -> url::Url {
        url::Url::parse(&format!("tcp://{}", self.addr)).expect("url")
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Self::Error>>> {
        let addr = self.addr;
        let c = self.counters.clone();
        async move {
            let io = TcpStream::connect(addr)
                .await
                .map_err(DialError::transient)?;
            io.set_nodelay(true).map_err(DialError::transient)?;
            // The codec of samod's `Transport::from_tokio_io`, which the parent uses.
            let codec = LengthDelimitedCodec::builder()
                .max_frame_length(8 * 1024 * 1024 * 1024)
                .new_codec();
            let (sink, rx) = Framed::new(io, codec).split();
            let c_in = c.clone();
            let rx = rx.map(move |r| {
                r.map(|b| {
                    c_in.received(b.len());
                    b.to_vec()
                })
            });
            let sink = sink.with(move |m: Vec<u8>| {
                c.sent(m.len());
                futures::future::ready(Ok::<_, std::io::Error>(Bytes::from(m)))
            });
            Ok(Transport::new(rx, sink))
        }
        .boxed()
    }
}

/// A storage adapter wrapper that records which documents the repo has written and how much.
#[derive(Clone)]
struct Watched<S> {
    inner: S,
    w: Arc<Watch>,
}

#[derive(Default)]
struct Watch {
    docs: Mutex<HashSet<String>>,
    puts: AtomicU64,
    put_bytes: AtomicU64,
    inflight: AtomicU64,
}

impl Watch {
    fn reset(&self) {
        self.docs.lock().expect("docs").clear();
        self.puts.store(0, Ordering::Relaxed);
        self.put_bytes.store(0, Ordering::Relaxed);
    }
    fn docs(&self) -> usize {
        self.docs.lock().expect("docs").len()
    }
}

impl<S: Storage> Storage for Watched<S> {
    fn load(&self, key: StorageKey) -> impl Future<Output = Option<Vec<u8>>> + Send {
        self.inner.load(key)
    }
    fn load_range(
        &self,
        prefix: StorageKey,
    ) -> impl Future<Output = std::collections::HashMap<StorageKey, Vec<u8>>> + Send {
        self.inner.load_range(prefix)
    }
    fn put(&self, key: StorageKey, data: Vec<u8>) -> impl Future<Output = ()> + Send {
        let w = self.w.clone();
        let doc = (&key).into_iter().next().map(|c| c.to_string());
        let len = data.len() as u64;
        w.inflight.fetch_add(1, Ordering::SeqCst);
        let fut = self.inner.put(key, data);
        async move {
            fut.await;
            w.puts.fetch_add(1, Ordering::Relaxed);
            w.put_bytes.fetch_add(len, Ordering::Relaxed);
            if let Some(d) = doc {
                w.docs.lock().expect("docs").insert(d);
            }
            w.inflight.fetch_sub(1, Ordering::SeqCst);
        }
    }
    fn delete(&self, key: StorageKey) -> impl Future<Output = ()> + Send {
        self.inner.delete(key)
    }
}

async fn repo(peer: &str, storage: SamodStorage, dir: &Path) -> (Repo, Arc<Watch>) {
    let w = Arc::new(Watch::default());
    let b = Repo::build_tokio().with_peer_id(PeerId::from(peer));
    let repo = match storage {
        SamodStorage::Fs => {
            let inner = TokioFilesystemStorage::new(dir.join(peer));
            b.with_storage(Watched {
                inner,
                w: w.clone(),
            })
            .load()
            .await
        }
        SamodStorage::Mem => {
            let inner = InMemoryStorage::new();
            b.with_storage(Watched {
                inner,
                w: w.clone(),
            })
            .load()
            .await
        }
    };
    (repo, w)
}

/// Two repos, the child holding `n` live documents (the bench's realistic hazards, created through
/// `Repo::create`, so persisted and open), the parent empty and accepting on loopback TCP.
struct Pair {
    _dir: tempfile::TempDir,
    child: Repo,
    parent: Repo,
    parent_store: Arc<Watch>,
    child_docs: Vec<DocHandle>,
    addr: SocketAddr,
    acceptor: AcceptorHandle,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Pair {
    async fn new(n: usize, storage: SamodStorage) -> anyhow::Result<Pair> {
        let dir = tempfile::tempdir()?;
        let (child, _) = repo(crate::TOWN, storage, dir.path()).await;
        let (parent, parent_store) = repo(crate::COUNTY, storage, dir.path()).await;
        let owner = AdminCode::parse(crate::TOWN).expect("code");
        // Build the documents in the bench's order; hand them to samod 64 at a time, and check that
        // samod holds them as they are (same history, same heads).
        let mut child_docs = Vec::with_capacity(n);
        let mut created = stream::iter(0..n)
            .map(|i| {
                let mut d = crate::realistic_hazard(&owner, b"bench-nonce", i);
                let doc: Automerge = d.document().clone();
                let want = doc.get_heads();
                child.create(doc).map(move |h| (h, want))
            })
            .buffered(64);
        while let Some((h, want)) = created.next().await {
            let h = h.map_err(|_| anyhow::anyhow!("samod repo stopped"))?;
            if heads(&h) != want {
                bail!("samod changed a document on create");
            }
            child_docs.push(h);
        }
        drop(created);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = parent.make_acceptor(url::Url::parse(&format!("tcp://{addr}"))?)?;
        let acc = acceptor.clone();
        let accept_task = tokio::spawn(async move {
            while let Ok((io, _)) = listener.accept().await {
                let _ = io.set_nodelay(true);
                if acc.accept(Transport::from_tokio_io(io)).is_err() {
                    break;
                }
            }
        });
        Ok(Pair {
            _dir: dir,
            child,
            parent,
            parent_store,
            child_docs,
            addr,
            acceptor,
            accept_task,
        })
    }

    /// Dials the parent; returns the dialer, the child's and the parent's connection ids.
    async fn connect(
        &self,
        counters: &Arc<Counters>,
    ) -> anyhow::Result<(
        DialerHandle<std::convert::Infallible>,
        ConnectionId,
        ConnectionId,
    )> {
        let dialer = self.child.dial(
            BackoffConfig::default(),
            Arc::new(CountingDialer {
                addr: self.addr,
                counters: counters.clone(),
            }),
        )?;
        dialer
            .established()
            .await
            .map_err(|e| anyhow::anyhow!("samod dial failed: {e:?}"))?;
        let child_conn = dialer.connection_id().context("no connection id")?;
        let parent_conn = self
            .parent
            .when_connected(self.child.peer_id())
            .await
            .map_err(|_| anyhow::anyhow!("parent stopped"))?
            .id();
        Ok((dialer, child_conn, parent_conn))
    }

    async fn stop(self) {
        self.accept_task.abort();
        self.child.stop().await;
        self.parent.stop().await;
    }
}

async fn all_acked(handles: &[DocHandle], conn: ConnectionId) -> anyhow::Result<()> {
    tokio::time::timeout(
        Duration::from_secs(3600),
        join_all(handles.iter().map(|h| h.they_have_our_changes(conn))),
    )
    .await
    .context("samod: documents did not sync within an hour")?;
    Ok(())
}

fn heads(h: &DocHandle) -> Vec<ChangeHash> {
    h.with_document(|d| d.get_heads())
}

/// Checks that the parent holds up to 50 of the child's documents with the same heads.
async fn check_parent_holds(pair: &Pair) -> anyhow::Result<()> {
    let n = pair.child_docs.len();
    for h in pair.child_docs.iter().step_by((n / 50).max(1)) {
        let id: DocumentId = h.document_id().clone();
        let Some(p) = pair
            .parent
            .find(id.clone())
            .await
            .map_err(|_| anyhow::anyhow!("stopped"))?
        else {
            bail!("samod parent does not hold {id}");
        };
        if heads(&p) != heads(h) {
            bail!("samod parent's {id} differs from the child's");
        }
    }
    Ok(())
}

pub struct Bootstrap {
    pub docs_per_s: f64,
    pub bytes: u64,
    pub msgs: u64,
    pub parent_puts: u64,
    pub parent_put_bytes: u64,
}

/// Connects and waits until the parent holds all of the child's documents.
async fn bootstrap_pair(
    pair: &Pair,
    counters: &Arc<Counters>,
) -> anyhow::Result<(f64, DialerHandle<std::convert::Infallible>)> {
    pair.parent_store.reset();
    let n = pair.child_docs.len();
    let start = Instant::now();
    let (dialer, child_conn, _) = pair.connect(counters).await?;
    all_acked(&pair.child_docs, child_conn).await?;
    while pair.parent_store.docs() < n || pair.parent_store.inflight.load(Ordering::SeqCst) > 0 {
        if start.elapsed() > Duration::from_secs(3600) {
            bail!("samod bootstrap did not finish within an hour");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((start.elapsed().as_secs_f64(), dialer))
}

pub struct Reconnect {
    pub bytes: u64,
    pub msgs: u64,
    pub ms: f64,
    /// Median time from the dial to the last message of the reconnect (a cross-check of `ms`).
    pub last_msg_ms: f64,
}

/// Both scenarios on one pair of repos (samod's set-up cost grows with the square of the number of
/// open documents, so it is paid once):
///
/// 1. bootstrap: empty parent, child holding `n` hazards; documents per second from the dial until
///    the parent holds them all;
/// 2. no-op reconnect, `rounds` times: the link now shares `n` documents, fully synced; close it and
///    dial again with nothing changed. The largest byte count (with its message count) and the
///    median time from the dial until every document is in sync on both sides.
pub async fn run(
    n: usize,
    storage: SamodStorage,
    rounds: usize,
) -> anyhow::Result<(Bootstrap, Reconnect)> {
    let pair = Pair::new(n, storage).await?;
    let counters = Counters::new();
    let (secs, mut dialer) = bootstrap_pair(&pair, &counters).await?;
    let (bytes, msgs) = counters.settle(Duration::from_millis(500)).await;
    check_parent_holds(&pair).await?;
    let boot = Bootstrap {
        docs_per_s: n as f64 / secs,
        bytes,
        msgs,
        parent_puts: pair.parent_store.puts.load(Ordering::Relaxed),
        parent_put_bytes: pair.parent_store.put_bytes.load(Ordering::Relaxed),
    };
    // The parent's handles of the same documents (its actors are already running).
    let parent_docs: Vec<DocHandle> =
        stream::iter(pair.child_docs.iter().map(|h| h.document_id().clone()))
            .map(|id| pair.parent.find(id))
            .buffered(256)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .map(|r| r.ok().flatten().context("samod parent lacks a document"))
            .collect::<anyhow::Result<_>>()?;
    let mut times = Vec::new();
    let mut last = Vec::new();
    let (mut bytes, mut msgs) = (0, 0);
    for _ in 0..rounds {
        dialer.close();
        // The child closed its end; wait until the parent has dropped the connection too.
        let deadline = Instant::now() + Duration::from_secs(600);
        while pair.acceptor.connection_count() > 0 {
            if Instant::now() > deadline {
                bail!("samod connection did not close");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        counters.settle(Duration::from_millis(300)).await;
        let (b0, m0) = counters.totals();
        let start = Instant::now();
        let t0 = counters.now();
        let (d, child_conn, parent_conn) = pair.connect(&counters).await?;
        dialer = d;
        let (a, b) = tokio::join!(
            all_acked(&pair.child_docs, child_conn),
            all_acked(&parent_docs, parent_conn)
        );
        a?;
        b?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let (b1, m1) = counters.settle(Duration::from_millis(500)).await;
        last.push((counters.last() - t0).as_secs_f64() * 1000.0);
        if b1 - b0 > bytes {
            (bytes, msgs) = (b1 - b0, m1 - m0);
        }
    }
    dialer.close();
    pair.stop().await;
    times.sort_by(|a, b| a.total_cmp(b));
    last.sort_by(|a, b| a.total_cmp(b));
    let reconnect = Reconnect {
        bytes,
        msgs,
        ms: times[times.len() / 2],
        last_msg_ms: last[last.len() / 2],
    };
    Ok((boot, reconnect))
}
