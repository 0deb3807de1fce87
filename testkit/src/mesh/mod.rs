//! A deterministic in-memory mesh (DESIGN §9): N offices, each a real SQLite store in a temp dir,
//! whose links are real [`run_link`] pairs wired by channels through counting forwarders — no sockets,
//! no TLS, no sleeps. A test connects, cuts and heals links, stops a node and starts it again from its
//! own files, writes as a node's API would, and runs the mesh until it is quiet.
//!
//! **Quiet is a condition, not a count of yields.** Every runner reports through the link crate's
//! [`safemesh_link::Hook`] (see [`activity`]): when it takes up an input and when it waits again, the
//! store seq it has taken in, and every frame it sends or takes in. The mesh is quiet when every live
//! runner waits, has seen its store's current seq, and has taken in every frame sent to it: then
//! nothing can happen without outside input. [`Mesh::run_until_quiet`] awaits that (each report
//! wakes it through a [`tokio::sync::Notify`]), then checks every open link is in sync both ways.
//!
//! **The clock is virtual** ([`Clock::Virtual`], the default): the runners' timers (the rate limit's
//! pause, the drain on close) read the mesh's clock through the hook, and the clock moves only when
//! the mesh is quiet, straight to the earliest timer a runner waits on. tokio's paused clock would
//! not do: it advances whenever the runtime has nothing to poll, and it has nothing to poll exactly
//! while SQLite works on sqlx's own threads, so timers would fire in the middle of a commit, sooner or
//! later depending on the disk. Here time passes only at quiet points, so what a timer sees does not
//! depend on how long SQLite took. What remains free is the order in which concurrent runners get
//! their SQLite results between quiet points; every test asserts at quiet points.
//!
//! **One thread**: tests run on `#[tokio::test]`'s current-thread runtime; the runners, forwarders and
//! waits are tasks on it. The only other threads are sqlx's SQLite workers and the runner's own CPU
//! pool for Automerge checks (`spawn_blocking`, one job per core). Benchmarks build the mesh with
//! [`Clock::Real`] on their own runtime: the runners then run exactly as in production (no hook), as
//! the bench measures them, and the bench waits for its own condition.
//!
//! Files: [`activity`] (runner reports, quiet, the clock), [`traffic`] (frames as they crossed),
//! `writes` (a node's local writes), [`scripted`] (a stream whose peer the test plays frame by frame).

pub mod activity;
pub mod scripted;
pub mod traffic;
mod writes;

/// The sync tests' document builders (`hazard_doc`, `progress`, `test_core`): one copy, in
/// `crates/sync/tests/common`, which cannot depend on this crate.
#[path = "../../../crates/sync/tests/common/mod.rs"]
pub mod docs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use futures::stream::{self, StreamExt};
use safemesh_doc::directive::{self, DirectiveView};
use safemesh_doc::hazard::{self, HazardView};
use safemesh_doc::{actor, heads_to_hex};
use safemesh_link::{LinkConfig, Registry, Transport, run_link};
use safemesh_model::AdminCode;
use safemesh_store::{SqliteLimits, Store, SummaryRow};
use safemesh_sync::{Frame, Link, Role};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use activity::{Clock, HANG};
pub use scripted::Scripted;
pub use traffic::{Seen, Traffic, frame_kind, frame_len};
pub use writes::{commit, now};

use activity::Activity;
use traffic::forward;

/// Frames buffered per direction.
const CHANNEL: usize = 16;

/// Stores opened at once when a mesh is built (each runs its migrations).
const OPEN_AT_ONCE: usize = 16;

pub fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap_or_else(|e| panic!("bad code {s}: {e}"))
}

/// How a mesh is built.
#[derive(Debug, Clone)]
pub struct Options {
    pub clock: Clock,
    /// Where the stores live; a fresh temp dir (in RAM when `/dev/shm` exists) if `None`.
    pub dir: Option<PathBuf>,
    /// Each store's SQLite bounds; a node's own defaults if `None`.
    pub sqlite: Option<SqliteLimits>,
    /// Keep every frame's kind and size per connection ([`Traffic`]).
    pub record_traffic: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clock: Clock::Virtual,
            dir: None,
            sqlite: None,
            record_traffic: true,
        }
    }
}

/// One node: an office with its store (None while it is down).
pub struct Node {
    pub code: AdminCode,
    pub path: PathBuf,
    store: Option<Store>,
    pub registry: Registry,
    nonce: Vec<u8>,
}

impl Node {
    pub fn store(&self) -> &Store {
        self.store
            .as_ref()
            .unwrap_or_else(|| panic!("node {} is down", self.code))
    }

    /// The Automerge actor this node writes as.
    pub fn actor(&self) -> automerge::ActorId {
        actor::actor_id(&self.code, &self.nonce)
    }
}

type LinkTask = JoinHandle<(Link, String)>;

/// One runner of a stream: its task and its place in the mesh's [`Activity`].
struct Side {
    id: u64,
    task: LinkTask,
}

/// One open stream between a parent and a child.
struct Conn {
    stop: watch::Sender<bool>,
    /// The parent's side (its link to the child) and the child's side (its link to the parent).
    parent: Side,
    child: Side,
}

/// Why each side's stream ended.
#[derive(Debug)]
pub struct Closed {
    pub parent_reason: String,
    pub child_reason: String,
}

/// Tunes one node's link configuration (rate, receive bounds) on every stream it opens.
type Tune = Arc<dyn Fn(&mut LinkConfig) + Send + Sync>;

pub struct Mesh {
    /// Kept for the mesh's life when the mesh made it.
    _dir: Option<tempfile::TempDir>,
    pub nodes: BTreeMap<String, Node>,
    conns: BTreeMap<(String, String), Conn>,
    /// Link state machines between streams, by (node, peer): a node keeps one per peer.
    parked: BTreeMap<(String, String), Link>,
    tune: BTreeMap<String, Tune>,
    /// Cuts armed for the next stream of a connection ([`Mesh::cut_after`]).
    trips: BTreeMap<(String, String), Arc<traffic::Trip>>,
    /// The fault of each connection's current stream, if one was armed.
    armed: BTreeMap<(String, String), Arc<traffic::Trip>>,
    act: Arc<Activity>,
    record_traffic: bool,
    pub max_batch_items: usize,
    pub max_batch_bytes: usize,
    pub max_inflight: usize,
    ids: u32,
}

fn tempdir() -> tempfile::TempDir {
    // RAM-backed when available: SQLite runs with synchronous=FULL.
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("safemesh-mesh")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("tempdir")
}

impl Mesh {
    /// One node per code, each with its own fresh store, on the virtual clock.
    pub async fn new(codes: &[&str]) -> Mesh {
        Mesh::with(Options::default(), codes).await
    }

    /// One node per code, built as `opts` says.
    pub async fn with(opts: Options, codes: &[&str]) -> Mesh {
        let (keep, dir) = match &opts.dir {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempdir();
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let sqlite = opts.sqlite;
        let opened: Vec<(usize, String, PathBuf, Store)> =
            stream::iter(codes.iter().enumerate().map(|(i, c)| (i, c.to_string())))
                .map(|(i, c)| {
                    let path = dir.join(format!("{c}.db"));
                    async move {
                        let store = match sqlite {
                            Some(l) => Store::open_sqlite_with(&path, l).await,
                            None => Store::open_sqlite(&path).await,
                        }
                        .unwrap_or_else(|e| panic!("open {c}: {e}"));
                        (i, c, path, store)
                    }
                })
                .buffered(OPEN_AT_ONCE)
                .collect()
                .await;
        let nodes = opened
            .into_iter()
            .map(|(i, c, path, store)| {
                let node = Node {
                    code: code(&c),
                    path,
                    store: Some(store),
                    registry: Registry::default(),
                    nonce: format!("n{i:02}").into_bytes(),
                };
                (c, node)
            })
            .collect();
        Mesh {
            _dir: keep,
            nodes,
            conns: BTreeMap::new(),
            parked: BTreeMap::new(),
            tune: BTreeMap::new(),
            trips: BTreeMap::new(),
            armed: BTreeMap::new(),
            act: Activity::new(opts.clock),
            record_traffic: opts.record_traffic,
            max_batch_items: 256,
            max_batch_bytes: 1 << 20,
            max_inflight: 4,
            ids: 0,
        }
    }

    pub fn node(&self, c: &str) -> &Node {
        self.nodes.get(c).unwrap_or_else(|| panic!("no node {c}"))
    }

    pub fn store(&self, c: &str) -> &Store {
        self.node(c).store()
    }

    /// The mesh's clock now (virtual unless built with [`Clock::Real`]).
    pub fn now(&self) -> tokio::time::Instant {
        self.act.now()
    }

    /// Tunes node `c`'s link configuration on every stream it opens from now on.
    pub fn configure(&mut self, c: &str, tune: impl Fn(&mut LinkConfig) + Send + Sync + 'static) {
        self.tune.insert(c.to_string(), Arc::new(tune));
    }

    /// Node `c`'s link configuration (without a hook: each stream gets its own).
    pub fn cfg(&self, c: &str) -> LinkConfig {
        let n = self.node(c);
        let mut cfg = LinkConfig::new(n.store().clone(), n.code.clone(), n.registry.clone());
        cfg.max_batch_items = self.max_batch_items;
        cfg.max_batch_bytes = self.max_batch_bytes;
        cfg.max_inflight = self.max_inflight;
        if let Some(t) = self.tune.get(c) {
            t(&mut cfg);
        }
        cfg
    }

    fn take_link(&mut self, me: &str, peer: &str, role: Role) -> Link {
        match self.parked.remove(&(me.to_string(), peer.to_string())) {
            Some(l) => l,
            None => self.cfg(me).new_link(code(peer), role),
        }
    }

    /// Spawns `me`'s runner of a stream to `peer` (registered in the activity as `id`).
    fn spawn_runner(
        &self,
        id: u64,
        mut cfg: LinkConfig,
        mut link: Link,
        peer_id: Option<u64>,
        t: Transport,
        stop: watch::Receiver<bool>,
    ) -> LinkTask {
        cfg.hook = self.act.hook(id, peer_id);
        let ended = self.act.end_guard(id, peer_id);
        tokio::spawn(async move {
            let reason = run_link(&cfg, &mut link, t, stop).await;
            drop(ended);
            (link, reason)
        })
    }

    /// Opens a stream between `parent` and `child`: the child's link (role Parent) and the parent's
    /// link (role Child), each run by `run_link`, wired by two counting forwarders.
    pub fn connect(&mut self, parent: &str, child: &str) -> Arc<Traffic> {
        let key = (parent.to_string(), child.to_string());
        assert!(
            !self.conns.contains_key(&key),
            "{parent}–{child} already connected"
        );
        let pcfg = self.cfg(parent);
        let ccfg = self.cfg(child);
        let plink = self.take_link(parent, child, Role::Child);
        let clink = self.take_link(child, parent, Role::Parent);
        let traffic = Arc::new(Traffic::default());
        let recorded = self.record_traffic.then(|| traffic.clone());
        let trip = self.trips.remove(&key);
        if let Some(t) = &trip {
            self.armed.insert(key.clone(), t.clone());
        }
        let (stop, stop_rx) = watch::channel(false);
        let (p_out_tx, p_out_rx) = mpsc::channel::<Frame>(CHANNEL);
        let (c_out_tx, c_out_rx) = mpsc::channel::<Frame>(CHANNEL);
        let (p_in_tx, p_in_rx) = mpsc::channel::<(Frame, usize)>(CHANNEL);
        let (c_in_tx, c_in_rx) = mpsc::channel::<(Frame, usize)>(CHANNEL);
        let p_bytes = Arc::new(AtomicU64::new(0));
        let c_bytes = Arc::new(AtomicU64::new(0));
        tokio::spawn(forward(
            parent.to_string(),
            child.to_string(),
            p_out_rx,
            c_in_tx,
            p_bytes.clone(),
            recorded.clone(),
            trip.clone(),
        ));
        tokio::spawn(forward(
            child.to_string(),
            parent.to_string(),
            c_out_rx,
            p_in_tx,
            c_bytes.clone(),
            recorded,
            trip,
        ));
        let pt = Transport {
            tx: p_out_tx,
            rx: p_in_rx,
            bytes_out: p_bytes,
            peer_serial: None,
        };
        let ct = Transport {
            tx: c_out_tx,
            rx: c_in_rx,
            bytes_out: c_bytes,
            peer_serial: None,
        };
        let pid = self
            .act
            .add_runner(format!("{parent} → {child}"), pcfg.store.clone());
        let cid = self
            .act
            .add_runner(format!("{child} → {parent}"), ccfg.store.clone());
        let parent_task = self.spawn_runner(pid, pcfg, plink, Some(cid), pt, stop_rx.clone());
        let child_task = self.spawn_runner(cid, ccfg, clink, Some(pid), ct, stop_rx);
        self.conns.insert(
            key,
            Conn {
                stop,
                parent: Side {
                    id: pid,
                    task: parent_task,
                },
                child: Side {
                    id: cid,
                    task: child_task,
                },
            },
        );
        traffic
    }

    /// Arms a cut of the next stream between `parent` and `child`: it ends once `after` frames of
    /// `kind` (as [`traffic::frame_kind`] names them, e.g. `blob_chunk`) have crossed it. Wait for
    /// it with [`Mesh::wait_closed`].
    pub fn cut_after(&mut self, parent: &str, child: &str, kind: &'static str, after: usize) {
        self.arm(parent, child, kind, after, false);
    }

    /// Arms a pause of the next stream between `parent` and `child`: once `after` frames of `kind`
    /// have crossed it, the next frame (and all after it, in order) waits at the seam until
    /// [`Mesh::release`]. Wait for it with [`Mesh::wait_held`].
    pub fn hold_after(&mut self, parent: &str, child: &str, kind: &'static str, after: usize) {
        self.arm(parent, child, kind, after, true);
    }

    fn arm(&mut self, parent: &str, child: &str, kind: &'static str, after: usize, hold: bool) {
        let trip = traffic::Trip::new(kind, after, hold, self.act.clone());
        self.trips
            .insert((parent.to_string(), child.to_string()), Arc::new(trip));
    }

    fn armed(&self, parent: &str, child: &str) -> Arc<traffic::Trip> {
        self.armed
            .get(&(parent.to_string(), child.to_string()))
            .unwrap_or_else(|| panic!("no fault armed on {parent}–{child}"))
            .clone()
    }

    /// Runs the mesh until the pause armed by [`Mesh::hold_after`] holds a frame.
    pub async fn wait_held(&self, parent: &str, child: &str) {
        let trip = self.armed(parent, child);
        if let Err(why) = self.act.drive_until(|| trip.holding()).await {
            panic!("{parent}–{child} never paused ({why}):\n{}", self.status());
        }
    }

    /// Lets the frames held at the seam cross.
    pub fn release(&self, parent: &str, child: &str) {
        self.armed(parent, child).release();
    }

    /// Connects each consecutive pair of `chain` (parent first).
    pub fn connect_chain(&mut self, chain: &[&str]) {
        for w in chain.windows(2) {
            self.connect(w[0], w[1]);
        }
    }

    /// Opens the link again after a cut (the same as [`Mesh::connect`]: both sides keep their link
    /// state machines).
    pub fn heal(&mut self, parent: &str, child: &str) -> Arc<Traffic> {
        self.connect(parent, child)
    }

    /// A node's link state machine to `peer` while no stream is open.
    pub fn parked_link(&self, me: &str, peer: &str) -> Option<&Link> {
        self.parked.get(&(me.to_string(), peer.to_string()))
    }

    /// Drops a node's parked link state machine to `peer`: its next stream starts from a fresh one
    /// (what the store holds), as after a process restart.
    pub fn forget_link(&mut self, me: &str, peer: &str) {
        self.parked.remove(&(me.to_string(), peer.to_string()));
    }

    pub fn is_connected(&self, parent: &str, child: &str) -> bool {
        self.conns
            .contains_key(&(parent.to_string(), child.to_string()))
    }

    /// Closes the stream between `parent` and `child` (both drivers stop through their shutdown
    /// watch) and keeps both link state machines for the next stream.
    pub async fn cut(&mut self, parent: &str, child: &str) -> Closed {
        let key = (parent.to_string(), child.to_string());
        let conn = self
            .conns
            .remove(&key)
            .unwrap_or_else(|| panic!("{parent}–{child} not connected"));
        let _ = conn.stop.send(true);
        let (plink, parent_reason) = conn.parent.task.await.expect("parent link task panicked");
        let (clink, child_reason) = conn.child.task.await.expect("child link task panicked");
        self.act.remove_runner(conn.parent.id);
        self.act.remove_runner(conn.child.id);
        self.parked
            .insert((parent.to_string(), child.to_string()), plink);
        self.parked
            .insert((child.to_string(), parent.to_string()), clink);
        Closed {
            parent_reason,
            child_reason,
        }
    }

    /// Runs the mesh until both drivers of a connection have ended on their own (e.g. after an error
    /// frame), then parks their links like [`Mesh::cut`]. Panics if the mesh goes quiet first.
    pub async fn wait_closed(&mut self, parent: &str, child: &str) -> Closed {
        let key = (parent.to_string(), child.to_string());
        let (pid, cid) = {
            let conn = self
                .conns
                .get(&key)
                .unwrap_or_else(|| panic!("{parent}–{child} not connected"));
            (conn.parent.id, conn.child.id)
        };
        let act = self.act.clone();
        if let Err(why) = act.drive_until(|| act.ended(pid) && act.ended(cid)).await {
            panic!("{parent}–{child} did not close ({why}):\n{}", self.status());
        }
        self.cut(parent, child).await
    }

    /// Stops a node (all its streams must be cut first): closes its store; its link state machines
    /// are gone with the process.
    pub async fn stop(&mut self, c: &str) {
        assert!(
            !self.conns.keys().any(|(p, ch)| p == c || ch == c),
            "cut {c}'s links before stopping it"
        );
        self.parked.retain(|(me, _), _| me != c);
        let node = self
            .nodes
            .get_mut(c)
            .unwrap_or_else(|| panic!("no node {c}"));
        let store = node
            .store
            .take()
            .unwrap_or_else(|| panic!("{c} already down"));
        store.close().await;
        drop(store);
        node.registry = Registry::default();
    }

    /// Starts a stopped node again from its database file.
    pub async fn start(&mut self, c: &str) {
        let node = self
            .nodes
            .get_mut(c)
            .unwrap_or_else(|| panic!("no node {c}"));
        assert!(node.store.is_none(), "{c} is running");
        let store = Store::open_sqlite(&node.path)
            .await
            .unwrap_or_else(|e| panic!("reopen {c}: {e}"));
        node.store = Some(store);
    }

    /// Stops a node and starts it again from its store (its streams must be cut first).
    pub async fn restart(&mut self, c: &str) {
        self.stop(c).await;
        self.start(c).await;
    }

    /// Copies a stopped node's database files aside, as a backup named `tag`.
    pub fn backup(&self, c: &str, tag: &str) {
        let node = self.node(c);
        assert!(node.store.is_none(), "stop {c} before backing it up");
        for (from, to) in db_files(&node.path, tag) {
            if from.exists() {
                std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("backup {from:?}: {e}"));
            }
        }
    }

    /// Replaces a stopped node's database with the backup `tag` and gives it a new install id, as an
    /// operator restoring a node does (`safemesh restore`); the node stays stopped.
    pub async fn restore(&mut self, c: &str, tag: &str) {
        let path = self.node(c).path.clone();
        assert!(self.node(c).store.is_none(), "stop {c} before restoring it");
        for (live, saved) in db_files(&path, tag) {
            let _ = std::fs::remove_file(&live);
            if saved.exists() {
                std::fs::copy(&saved, &live).unwrap_or_else(|e| panic!("restore {saved:?}: {e}"));
            }
        }
        let store = Store::open_sqlite(&path)
            .await
            .unwrap_or_else(|e| panic!("open restored {c}: {e}"));
        store.new_install().await.expect("new install id");
        store.close().await;
    }

    /// Why a connection is not settled, or `None` if both directions are done: each side's link is
    /// in sync with nothing in flight, and each side has durably received the other's latest seq.
    fn unsettled(&self) -> Option<String> {
        for ((p, c), conn) in &self.conns {
            if self.act.ended(conn.parent.id) || self.act.ended(conn.child.id) {
                return Some(format!("{p}–{c}: a driver has ended"));
            }
            for (s, r) in [(p, c), (c, p)] {
                let (Some(sn), Some(rn)) = (self.nodes.get(s), self.nodes.get(r)) else {
                    return Some("node missing".into());
                };
                let Some(ss) = sn.registry.get(r) else {
                    return Some(format!("{s}→{r}: no status yet"));
                };
                let Some(rs) = rn.registry.get(s) else {
                    return Some(format!("{r}←{s}: no status yet"));
                };
                if ss.state != "in_sync" || ss.inflight != 0 {
                    return Some(format!("{s}→{r}: {} inflight {}", ss.state, ss.inflight));
                }
                if rs.state != "in_sync" {
                    return Some(format!("{r}←{s}: {}", rs.state));
                }
                let seq = sn.store().current_seq();
                if rs.recv_cursor != seq {
                    return Some(format!("{r} has {s} up to {} of {seq}", rs.recv_cursor));
                }
            }
        }
        None
    }

    /// Runs until the mesh is quiet (nothing can happen without outside input; timers on the virtual
    /// clock fired), then asserts every open link is in sync both ways with nothing in flight. Panics
    /// with every link's status otherwise.
    pub async fn run_until_quiet(&self) {
        assert_eq!(
            self.act.clock(),
            Clock::Virtual,
            "only a mesh on the virtual clock can tell when it is quiet"
        );
        if let Err(why) = self.act.settle().await {
            panic!("mesh did not settle ({why}):\n{}", self.status());
        }
        if let Some(why) = self.unsettled() {
            panic!("mesh is quiet but not in sync ({why}):\n{}", self.status());
        }
    }

    /// Every link's status, for failure messages.
    pub fn status(&self) -> String {
        let mut out = String::new();
        if let Some(why) = self.act.unquiet() {
            out.push_str(&format!("  not quiet: {why}\n"));
        }
        for n in self.nodes.values() {
            let seq = n
                .store
                .as_ref()
                .map_or("down".to_string(), |s| s.current_seq().to_string());
            out.push_str(&format!("  node {} seq {seq}\n", n.code));
            for s in n.registry.all() {
                out.push_str(&format!(
                    "    → {} ({}) {} inflight {} recv {} peer_seq {} err {:?} quarantined {:?}\n",
                    s.peer,
                    s.role,
                    s.state,
                    s.inflight,
                    s.recv_cursor,
                    s.peer_seq,
                    s.last_error,
                    s.quarantined
                ));
            }
        }
        out
    }

    // ---- Reads. ----

    /// The document's heads as the store's row has them (hex), `None` if the node does not hold it.
    /// Also checks the row agrees with the document itself.
    pub async fn heads(&self, c: &str, id: &str) -> Option<Vec<String>> {
        let store = self.store(c);
        let row = store.doc_row(id).await.expect("doc_row")?;
        let mut doc = store
            .load(id)
            .await
            .expect("load")
            .expect("row without document");
        assert_eq!(
            heads_to_hex(&doc.get_heads()),
            row.heads,
            "{c}: stored heads of {id} disagree with the document"
        );
        Some(row.heads)
    }

    pub async fn holds(&self, c: &str, id: &str) -> bool {
        self.store(c).doc_row(id).await.expect("doc_row").is_some()
    }

    /// Asserts every node in `codes` holds `id` with the same heads; returns them.
    pub async fn assert_same_heads(&self, codes: &[&str], id: &str) -> Vec<String> {
        let first = self
            .heads(codes[0], id)
            .await
            .unwrap_or_else(|| panic!("{} does not hold {id}", codes[0]));
        for c in &codes[1..] {
            let h = self
                .heads(c, id)
                .await
                .unwrap_or_else(|| panic!("{c} does not hold {id}\n{}", self.status()));
            assert_eq!(h, first, "{c} and {} differ on {id}", codes[0]);
        }
        first
    }

    pub async fn hazard(&self, c: &str, id: &str) -> Option<HazardView> {
        let doc = self.store(c).load(id).await.expect("load")?;
        Some(hazard::read(&doc).expect("read hazard"))
    }

    pub async fn directive(&self, c: &str, id: &str) -> Option<DirectiveView> {
        let doc = self.store(c).load(id).await.expect("load")?;
        Some(directive::read(&doc).expect("read directive"))
    }

    pub async fn summary(&self, c: &str, owner: &str) -> Option<SummaryRow> {
        self.store(c).summary(owner).await.expect("summary")
    }
}

/// A database's files (main, WAL, shared memory) paired with their copies under `tag`.
fn db_files(path: &Path, tag: &str) -> Vec<(PathBuf, PathBuf)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let live = PathBuf::from(format!("{}{suffix}", path.display()));
            let saved = PathBuf::from(format!("{}.{tag}{suffix}", path.display()));
            (live, saved)
        })
        .collect()
}

impl Mesh {
    /// Tells every open stream's runners to stop, without waiting for them (as a process shutting
    /// down does); the mesh is done with after this.
    pub fn stop_links(&self) {
        for conn in self.conns.values() {
            let _ = conn.stop.send(true);
        }
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.stop_links();
    }
}
