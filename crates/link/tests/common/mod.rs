//! A deterministic in-memory mesh for the sync engine: N nodes (one SQLite store each), links wired
//! with tokio channels through counting forwarders, cut / reconnect / restart, "run until quiet",
//! and the local writes a node's API would make (same calls as `node/src/records.rs`).
//!
//! No sockets, no sleeps: everything runs on the test's current-thread runtime; waits poll state
//! between `yield_now`s with an iteration bound (SQLite work happens on sqlx's worker threads, so the
//! loops must yield rather than count on a fixed number of steps).
#![allow(dead_code)]

/// The document builders the sync crate's tests use (`hazard_doc`, `progress`, `test_core`), the one copy.
#[path = "../../../sync/tests/common/mod.rs"]
mod docs;
#[allow(unused_imports)]
pub use docs::{hazard_doc, progress, test_core};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ObjType, ROOT, ReadDoc};
use safemesh_doc::authority::check_local;
use safemesh_doc::directive::{self, DirectiveCore, DirectiveView};
use safemesh_doc::hazard::{self, HazardView};
use safemesh_doc::{AutoCommit, actor, heads_to_hex};
use safemesh_link::{LinkConfig, Registry, Transport, run_link};
use safemesh_model::AdminCode;
use safemesh_model::directive::{ResponseAction, ResponseUpdate};
use safemesh_model::hazard::{EventKind, Grade, HazardEvent};
use safemesh_store::{Store, SummaryRow};
use safemesh_sync::{Frame, Link, Role};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Yields allowed for one wait (a bound against hangs, not a clock: SQLite commits take real time on
/// another thread, so this is generous).
const MAX_SPINS: usize = 5_000_000;
/// Consecutive quiet observations (with a yield between each) before the mesh counts as settled.
const QUIET_STREAK: usize = 64;
/// Frames buffered per direction.
const CHANNEL: usize = 16;

pub fn code(s: &str) -> AdminCode {
    AdminCode::parse(s).unwrap_or_else(|e| panic!("bad code {s}: {e}"))
}

/// One frame as it crossed a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub from: String,
    pub to: String,
    pub kind: &'static str,
    pub bytes: usize,
    /// A batch's `remaining.docs` (what its sender still had to send).
    pub remaining: Option<u64>,
    /// Document items of a batch.
    pub docs: usize,
}

/// Everything that crossed one connection (both directions), in order.
#[derive(Debug, Default)]
pub struct Traffic {
    frames: Mutex<Vec<Seen>>,
}

impl Traffic {
    pub fn all(&self) -> Vec<Seen> {
        self.frames.lock().unwrap().clone()
    }

    pub fn from(&self, from: &str) -> Vec<Seen> {
        self.all().into_iter().filter(|s| s.from == from).collect()
    }

    pub fn kinds_from(&self, from: &str) -> Vec<&'static str> {
        self.from(from).into_iter().map(|s| s.kind).collect()
    }

    pub fn bytes_from(&self, from: &str) -> usize {
        self.from(from).iter().map(|s| s.bytes).sum()
    }

    /// Document items in the batches `from` sent.
    pub fn docs_from(&self, from: &str) -> usize {
        self.from(from).iter().map(|s| s.docs).sum()
    }

    /// `remaining.docs` of every batch `from` sent, in order.
    pub fn remaining_from(&self, from: &str) -> Vec<u64> {
        self.from(from).iter().filter_map(|s| s.remaining).collect()
    }

    pub fn len(&self) -> usize {
        self.frames.lock().unwrap().len()
    }
}

pub fn frame_kind(f: &Frame) -> &'static str {
    match f {
        Frame::Hello(_) => "hello",
        Frame::Batch(_) => "batch",
        Frame::Ack { .. } => "ack",
        Frame::NeedSnapshot { .. } => "need_snapshot",
        Frame::DocSync { .. } => "doc_sync",
        Frame::Error(_) => "error",
        Frame::DigestRequest(_) => "digest_request",
        Frame::DigestReply(_) => "digest_reply",
    }
}

/// A stand-in for the encoded size of a frame (the gateway counts protobuf bytes).
pub fn frame_len(f: &Frame) -> usize {
    match f {
        Frame::Hello(h) => 4 + h.code.len() + h.install_id.len() + h.peer_install_seen.len() + 16,
        Frame::Batch(b) => 9 + b.items.iter().map(|i| i.payload_len() + 8).sum::<usize>(),
        Frame::Ack { .. } => 8,
        Frame::NeedSnapshot { doc_ids } => doc_ids.iter().map(|d| d.len() + 2).sum(),
        Frame::DocSync { messages } => messages
            .iter()
            .map(|m| m.doc_id.len() + m.message.len() + 8)
            .sum(),
        Frame::Error(e) => 2 + e.message.len(),
        Frame::DigestRequest(d) => d.weight(),
        Frame::DigestReply(r) => r.payload_len() + 4,
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

    fn actor(&self) -> automerge::ActorId {
        actor::actor_id(&self.code, &self.nonce)
    }
}

type LinkTask = JoinHandle<(Link, String)>;

/// One open stream between a parent and a child.
struct Conn {
    stop: watch::Sender<bool>,
    /// The parent's side (its link to the child) and the child's side (its link to the parent).
    parent_task: LinkTask,
    child_task: LinkTask,
    traffic: Arc<Traffic>,
}

/// Why each side's stream ended.
#[derive(Debug)]
pub struct Closed {
    pub parent_reason: String,
    pub child_reason: String,
}

pub struct Mesh {
    _dir: tempfile::TempDir,
    pub nodes: BTreeMap<String, Node>,
    conns: BTreeMap<(String, String), Conn>,
    /// Link state machines between streams, by (node, peer): a node keeps one per peer.
    parked: BTreeMap<(String, String), Link>,
    pub max_batch_items: usize,
    pub max_batch_bytes: usize,
    pub max_inflight: usize,
    ids: u32,
}

fn tempdir() -> tempfile::TempDir {
    // RAM-backed when available: SQLite runs with synchronous=FULL.
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("safemesh-link-mesh")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().expect("tempdir")
}

impl Mesh {
    /// Creates one node per code, each with its own fresh store.
    pub async fn new(codes: &[&str]) -> Mesh {
        let dir = tempdir();
        let mut nodes = BTreeMap::new();
        for (i, c) in codes.iter().enumerate() {
            let code = code(c);
            let path = dir.path().join(format!("{c}.db"));
            let store = Store::open_sqlite(&path)
                .await
                .unwrap_or_else(|e| panic!("open {c}: {e}"));
            let nonce = format!("n{i:02}").into_bytes();
            nodes.insert(
                code.to_string(),
                Node {
                    code,
                    path,
                    store: Some(store),
                    registry: Registry::default(),
                    nonce,
                },
            );
        }
        Mesh {
            _dir: dir,
            nodes,
            conns: BTreeMap::new(),
            parked: BTreeMap::new(),
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

    fn cfg(&self, c: &str) -> LinkConfig {
        let n = self.node(c);
        let mut cfg = LinkConfig::new(n.store().clone(), n.code.clone(), n.registry.clone());
        cfg.max_batch_items = self.max_batch_items;
        cfg.max_batch_bytes = self.max_batch_bytes;
        cfg.max_inflight = self.max_inflight;
        cfg
    }

    fn take_link(&mut self, me: &str, peer: &str, role: Role) -> Link {
        match self.parked.remove(&(me.to_string(), peer.to_string())) {
            Some(l) => l,
            None => self.cfg(me).new_link(code(peer), role),
        }
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
            traffic.clone(),
        ));
        tokio::spawn(forward(
            child.to_string(),
            parent.to_string(),
            c_out_rx,
            p_in_tx,
            c_bytes.clone(),
            traffic.clone(),
        ));
        let pt = Transport {
            tx: p_out_tx,
            rx: p_in_rx,
            bytes_out: p_bytes,
        };
        let ct = Transport {
            tx: c_out_tx,
            rx: c_in_rx,
            bytes_out: c_bytes,
        };
        let parent_task = spawn_link(pcfg, plink, pt, stop_rx.clone());
        let child_task = spawn_link(ccfg, clink, ct, stop_rx);
        self.conns.insert(
            key,
            Conn {
                stop,
                parent_task,
                child_task,
                traffic: traffic.clone(),
            },
        );
        traffic
    }

    /// Connects each consecutive pair of `chain` (parent first).
    pub fn connect_chain(&mut self, chain: &[&str]) {
        for w in chain.windows(2) {
            self.connect(w[0], w[1]);
        }
    }

    /// A node's link state machine to `peer` while no stream is open.
    pub fn parked_link(&self, me: &str, peer: &str) -> Option<&Link> {
        self.parked.get(&(me.to_string(), peer.to_string()))
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
        let (plink, parent_reason) = conn.parent_task.await.expect("parent link task panicked");
        let (clink, child_reason) = conn.child_task.await.expect("child link task panicked");
        self.parked
            .insert((parent.to_string(), child.to_string()), plink);
        self.parked
            .insert((child.to_string(), parent.to_string()), clink);
        Closed {
            parent_reason,
            child_reason,
        }
    }

    /// Waits until both drivers of a connection have ended on their own (e.g. after an error frame),
    /// then parks their links like [`Mesh::cut`].
    pub async fn wait_closed(&mut self, parent: &str, child: &str) -> Closed {
        let key = (parent.to_string(), child.to_string());
        for _ in 0..MAX_SPINS {
            let conn = self
                .conns
                .get(&key)
                .unwrap_or_else(|| panic!("{parent}–{child} not connected"));
            if conn.parent_task.is_finished() && conn.child_task.is_finished() {
                return self.cut(parent, child).await;
            }
            tokio::task::yield_now().await;
        }
        panic!("{parent}–{child} did not close:\n{}", self.status());
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

    pub async fn restart(&mut self, c: &str) {
        self.stop(c).await;
        self.start(c).await;
    }

    /// Why a connection is not (yet) quiet, or `None` if both directions are done: each side's link
    /// is in sync with nothing in flight, and each side has durably received the other's latest seq.
    fn unsettled(&self) -> Option<String> {
        for ((p, c), conn) in &self.conns {
            if conn.parent_task.is_finished() || conn.child_task.is_finished() {
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

    /// What must stay still while the mesh is quiet: every store's seq and the frame count.
    fn fingerprint(&self) -> (Vec<i64>, usize) {
        let seqs = self
            .nodes
            .values()
            .map(|n| n.store.as_ref().map_or(-1, |s| s.current_seq()))
            .collect();
        let frames = self.conns.values().map(|c| c.traffic.len()).sum();
        (seqs, frames)
    }

    /// Runs until every open link is in sync both ways, nothing is in flight, and nothing moves for a
    /// while. Panics with every link's status if that does not happen within the spin bound.
    pub async fn run_until_quiet(&self) {
        let mut streak = 0;
        let mut last = None;
        let mut why = String::new();
        for _ in 0..MAX_SPINS {
            tokio::task::yield_now().await;
            match self.unsettled() {
                Some(w) => {
                    why = w;
                    streak = 0;
                    last = None;
                }
                None => {
                    let fp = self.fingerprint();
                    if last.as_ref() == Some(&fp) {
                        streak += 1;
                        if streak >= QUIET_STREAK {
                            return;
                        }
                    } else {
                        streak = 0;
                        last = Some(fp);
                    }
                }
            }
        }
        panic!("mesh did not settle ({why}):\n{}", self.status());
    }

    /// Every link's status, for failure messages.
    pub fn status(&self) -> String {
        let mut out = String::new();
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

    // ---- Local writes, as a node's API makes them. ----

    fn next_id(&mut self, prefix: &str, c: &str) -> String {
        self.ids += 1;
        format!("{prefix}-{c}-{:04}", self.ids)
    }

    /// Registers a hazard at node `c`; returns its id.
    pub async fn register_hazard(&mut self, c: &str, grade: Grade, title: &str) -> String {
        let id = self.next_id("h", c);
        let node = self.node(c);
        let core = test_core(&node.code, grade, title);
        let mut doc = AutoCommit::new().with_actor(node.actor());
        hazard::create(&mut doc, &node.code, "tester", &now(), &core).expect("create hazard");
        commit(&mut doc, &node.code);
        let mut w = node.store().writer().await.expect("writer");
        check_local(&id, &mut doc, &[]).expect("local authority");
        w.put_doc(&id, &mut doc, &[]).await.expect("put_doc");
        w.commit().await.expect("commit");
        id
    }

    /// Plants at node `c` a hazard its own build could not read into its records (a grade no build
    /// knows, as a newer build or a damaged disk might leave), written straight into the tables under
    /// the node's current seq, bypassing the projection. Its audience is `c` and `parent`.
    pub async fn plant_unreadable_hazard(&mut self, c: &str, parent: &str) -> String {
        let id = self.next_id("h", c);
        let node = self.node(c);
        let core = test_core(&node.code, Grade::General, "读不懂的隐患");
        let mut doc = AutoCommit::new().with_actor(node.actor());
        hazard::create(&mut doc, &node.code, "tester", &now(), &core).expect("create hazard");
        let core_obj = match doc.get(ROOT, "core").expect("get core") {
            Some((automerge::Value::Object(ObjType::Map), obj)) => obj,
            other => panic!("core is {other:?}"),
        };
        doc.put(&core_obj, "grade", "第五级").expect("put grade");
        commit(&mut doc, &node.code);
        check_local(&id, &mut doc, &[]).expect("the owner may write its core");
        let store = node.store();
        let heads = serde_json::to_string(&heads_to_hex(&doc.get_heads())).unwrap();
        sqlx::query("INSERT INTO documents (id, kind, owner, heads, snapshot, seq, updated_at) VALUES ($1, 'hazard', $2, $3, $4, $5, $6)")
            .bind(&id)
            .bind(c)
            .bind(&heads)
            .bind(doc.save())
            .bind(store.current_seq())
            .bind(now())
            .execute(store.pool())
            .await
            .expect("plant document");
        for code in [c, parent] {
            sqlx::query("INSERT INTO doc_audience (doc_id, code, subtree) VALUES ($1, $2, 0)")
                .bind(&id)
                .bind(code)
                .execute(store.pool())
                .await
                .expect("plant audience");
        }
        id
    }

    /// Appends a lifecycle event at node `c` (supervise names `c` as the level; escalate uses 函告;
    /// notify tells both 主要负责人 and 实际控制人).
    pub async fn add_event(&self, c: &str, id: &str, kind: EventKind, note: &str) {
        let node = self.node(c);
        let event = HazardEvent {
            kind,
            at: now(),
            by: node.code.clone(),
            user: "tester".into(),
            note: (!note.is_empty()).then(|| note.to_string()),
            method: match kind {
                EventKind::Escalate => Some("函告".to_string()),
                EventKind::Notify => Some("书面告知".to_string()),
                _ => None,
            },
            level: (kind == EventKind::Supervise).then(|| node.code.clone()),
            percent: (kind == EventKind::Progress).then_some(50),
            // A plan event carries a complete plan (a major hazard is reported rectified only with one).
            plan: (kind == EventKind::Plan).then(|| safemesh_model::hazard::Plan {
                responsible_unit: "某化工有限公司".into(),
                responsible_person: "李四".into(),
                measures: "增设紧急切断阀".into(),
                funds_wan: 12.5,
                deadline: "2026-12-31".into(),
                contingency_plan: "限量储存，专人巡检".into(),
            }),
            recipients: if kind == EventKind::Notify {
                vec!["主要负责人".into(), "实际控制人".into()]
            } else {
                Vec::new()
            },
            reply_by: None,
            new_deadline: None,
            approved: None,
            to: None,
        };
        let mut w = node.store().writer().await.expect("writer");
        let mut doc = w
            .load(id)
            .await
            .expect("load")
            .unwrap_or_else(|| panic!("{c} does not hold {id}"));
        let old = doc.get_heads();
        doc.set_actor(node.actor());
        hazard::append_event(&mut doc, &event).expect("append");
        commit(&mut doc, &node.code);
        check_local(id, &mut doc, &old).expect("local authority");
        w.put_doc(id, &mut doc, &old).await.expect("put_doc");
        w.commit().await.expect("commit");
    }

    /// Issues a directive at node `c` to `targets`; returns its id.
    pub async fn issue_directive(&mut self, c: &str, targets: &[&str], title: &str) -> String {
        let id = self.next_id("d", c);
        let node = self.node(c);
        let core = DirectiveCore {
            title: title.into(),
            body: "按期完成".into(),
            targets: targets.iter().map(|t| code(t)).collect(),
            deadline: "2030-06-30".into(),
        };
        let mut doc = AutoCommit::new().with_actor(node.actor());
        directive::create(&mut doc, &node.code, &now(), &core).expect("create directive");
        commit(&mut doc, &node.code);
        let mut w = node.store().writer().await.expect("writer");
        check_local(&id, &mut doc, &[]).expect("local authority");
        w.put_doc(&id, &mut doc, &[]).await.expect("put_doc");
        w.commit().await.expect("commit");
        id
    }

    /// Records node `c`'s own response to a directive.
    pub async fn respond(&self, c: &str, id: &str, action: ResponseAction) {
        let node = self.node(c);
        let mut w = node.store().writer().await.expect("writer");
        let mut doc = w
            .load(id)
            .await
            .expect("load")
            .unwrap_or_else(|| panic!("{c} does not hold {id}"));
        let old = doc.get_heads();
        doc.set_actor(node.actor());
        let percent = (action == ResponseAction::Progress).then_some(40);
        let update = ResponseUpdate {
            action,
            at: now(),
            percent,
            note: None,
            user: "tester".into(),
        };
        directive::respond(&mut doc, &node.code, &update).expect("respond");
        commit(&mut doc, &node.code);
        check_local(id, &mut doc, &old).expect("local authority");
        w.put_doc(id, &mut doc, &old).await.expect("put_doc");
        w.commit().await.expect("commit");
    }

    /// Writes a change node `c` is NOT allowed to make (rewrites a document's `core.title`),
    /// bypassing the local check, as a buggy or hostile node would.
    pub async fn forge_title(&self, c: &str, id: &str, title: &str) {
        let node = self.node(c);
        let mut w = node.store().writer().await.expect("writer");
        let mut doc = w
            .load(id)
            .await
            .expect("load")
            .unwrap_or_else(|| panic!("{c} does not hold {id}"));
        let old = doc.get_heads();
        doc.set_actor(node.actor());
        let core = match doc.get(ROOT, "core").expect("get core") {
            Some((automerge::Value::Object(ObjType::Map), obj)) => obj,
            other => panic!("core is {other:?}"),
        };
        doc.put(&core, "title", title).expect("put");
        commit(&mut doc, &node.code);
        assert!(
            check_local(id, &mut doc, &old).is_err(),
            "the forged change should break the rules"
        );
        w.put_doc(id, &mut doc, &old).await.expect("put_doc");
        w.commit().await.expect("commit");
    }

    /// Publishes node `c`'s own summary.
    pub async fn put_summary(&self, c: &str, version: i64, body: &str) {
        let node = self.node(c);
        let mut w = node.store().writer().await.expect("writer");
        let stored = w
            .put_summary(&node.code, version, "2025-06", &now(), body)
            .await
            .expect("put_summary");
        assert!(
            stored,
            "summary v{version} of {c} not newer than the one held"
        );
        w.commit().await.expect("commit");
    }
}

fn now() -> String {
    safemesh_store::now_rfc3339()
}

fn commit(doc: &mut AutoCommit, code: &AdminCode) {
    doc.commit_with(
        CommitOptions::default()
            .with_message(format!("tester@{code}"))
            .with_time(1_750_000_000),
    );
}

fn spawn_link(
    cfg: LinkConfig,
    mut link: Link,
    t: Transport,
    stop: watch::Receiver<bool>,
) -> LinkTask {
    tokio::spawn(async move {
        let reason = run_link(&cfg, &mut link, t, stop).await;
        (link, reason)
    })
}

/// A database's files (main, WAL, shared memory) paired with their copies under `tag`.
fn db_files(path: &std::path::Path, tag: &str) -> Vec<(PathBuf, PathBuf)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let live = PathBuf::from(format!("{}{suffix}", path.display()));
            let saved = PathBuf::from(format!("{}.{tag}{suffix}", path.display()));
            (live, saved)
        })
        .collect()
}

/// Carries one direction: the driver's outgoing frames become the other driver's incoming
/// `(frame, size)`, counted on the way. Ends when either side goes away.
async fn forward(
    from: String,
    to: String,
    mut rx: mpsc::Receiver<Frame>,
    tx: mpsc::Sender<(Frame, usize)>,
    bytes_out: Arc<AtomicU64>,
    traffic: Arc<Traffic>,
) {
    while let Some(frame) = rx.recv().await {
        let n = frame_len(&frame);
        bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        traffic.frames.lock().unwrap().push(Seen {
            from: from.clone(),
            to: to.clone(),
            kind: frame_kind(&frame),
            bytes: n,
            remaining: match &frame {
                Frame::Batch(b) => Some(b.remaining.docs),
                _ => None,
            },
            docs: match &frame {
                Frame::Batch(b) => b
                    .items
                    .iter()
                    .filter(|i| matches!(i, safemesh_sync::Item::Doc { .. }))
                    .count(),
                _ => 0,
            },
        });
        if tx.send((frame, n)).await.is_err() {
            break;
        }
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        for conn in self.conns.values() {
            let _ = conn.stop.send(true);
        }
    }
}
