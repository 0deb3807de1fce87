//! In-process clusters: real nodes (SQLite stores in a temp dir, gRPC + mutual TLS on loopback,
//! HTTP APIs), each child reaching its parent through a fault-injecting [`Proxy`], so tests can cut
//! and heal links, stop and restart nodes from their stores, and wait for convergence.
//!
//! All nodes get certificates from one CA ([`Cluster::ca_dir`]). Tests of certificates add nodes one
//! by one with [`Cluster::add`] and a [`NodeSetup`]: which node to dial, `parent_code` and
//! `extra_children`, and a hook that may replace the node's `D/tls` before it starts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use safemesh_model::AdminCode;
use safemesh_node::init::{InitOptions, ca_init, init_node};
use safemesh_node::{Config, NodeHandle, start};
use serde_json::Value;

use crate::proxy::Proxy;

/// How long `wait_until` waits before failing a test (a bound on convergence, not a timing assertion).
pub const CONVERGE: Duration = Duration::from_secs(20);

/// A free loopback port (bound and released). Another process may take it before we bind it
/// again; [`Cluster`] starts a node with [`start_on_free_ports`], which retries on fresh ports.
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().expect("local addr")
}

/// How many times a node start is tried on fresh ports when a port turns out taken.
const PORT_ATTEMPTS: usize = 8;

/// Starts the node of `data_dir` with `cfg`; when one of its ports was taken between choosing it and
/// binding it (tests run in parallel processes), picks fresh free ports, saves the config and tries
/// again. Returns the handle; `cfg` holds the addresses it listens on.
async fn start_on_free_ports(data_dir: &Path, cfg: &mut Config) -> anyhow::Result<NodeHandle> {
    let mut attempt = 1;
    loop {
        match start(data_dir, cfg.clone()).await {
            Ok(h) => return Ok(h),
            Err(e) if attempt < PORT_ATTEMPTS && is_port_taken(&e) => {
                tracing::warn!(code = %cfg.code, attempt, "port taken, retrying on fresh ports: {e}");
                cfg.listen = free_addr();
                cfg.http = free_addr();
                if let Some(m) = cfg.metrics.listen.filter(|m| m.port() != 0) {
                    cfg.metrics.listen = Some(SocketAddr::new(m.ip(), 0));
                }
                cfg.save(data_dir)?;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether a start failed only because a listening address was in use.
fn is_port_taken(e: &safemesh_node::Error) -> bool {
    matches!(e, safemesh_node::Error::Listen { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse)
}

/// Starts tracing for tests once (`SAFEMESH_LOG` to change the filter).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SAFEMESH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

struct Slot {
    data_dir: PathBuf,
    cfg: Config,
    handle: Option<NodeHandle>,
    /// The proxy this node dials its parent through.
    uplink: Option<Proxy>,
}

/// A cluster of nodes in this process.
pub struct Cluster {
    _dir: tempfile::TempDir,
    slots: BTreeMap<String, Slot>,
    http: reqwest::Client,
}

/// A hook run on a node's data dir after `safemesh init` wrote it and before the node starts.
pub type BeforeStart = Box<dyn FnOnce(&Path) -> anyhow::Result<()> + Send>;

/// How to set up one node added with [`Cluster::add`]. The default is what [`Cluster::start`] does:
/// dial the code's prefix parent if the cluster has it, SQLite, certificate from the cluster's CA.
#[derive(Default)]
pub struct NodeSetup {
    /// The node to dial as parent (a code already in the cluster) instead of the prefix parent.
    pub dial: Option<String>,
    /// `parent_code` in the node's config (the code it expects in its parent's certificate).
    pub parent_code: Option<String>,
    /// `extra_children` in the node's config.
    pub extra_children: Vec<String>,
    /// `database_url` in the node's config (default SQLite in the data dir).
    pub database_url: Option<String>,
    /// `unit_groups` in the node's config (what 各成员单位 etc. stand for there).
    pub unit_groups: BTreeMap<String, Vec<String>>,
    /// Runs on the data dir before the node starts, e.g. to replace `D/tls` with another
    /// certificate.
    pub before_start: Option<BeforeStart>,
    /// `[[sectors]]` in the node's config: sectors and aliases added to the seed dictionary.
    pub sectors: Vec<safemesh_model::SectorEntry>,
    /// `[metrics] listen` in the node's config (`127.0.0.1:0`: a free port, see
    /// `NodeHandle::metrics_addr`).
    pub metrics_listen: Option<SocketAddr>,
    /// The office's name (`--name`): needed for a code the division table lacks, such as a
    /// functional zone's.
    pub name: Option<String>,
    /// `[evidence]` in the node's config (the file limits).
    pub evidence: Option<safemesh_node::config::EvidenceConfig>,
}

impl Cluster {
    /// Starts a chain or tree of nodes, parents before children. Every code's parent must be listed
    /// before it (or be absent, for the top).
    pub async fn start(codes: &[&str]) -> anyhow::Result<Cluster> {
        Self::start_with(codes, &BTreeMap::new()).await
    }

    /// Like [`Cluster::start`], with a database URL for some nodes (the others use SQLite).
    pub async fn start_with(
        codes: &[&str],
        databases: &BTreeMap<String, String>,
    ) -> anyhow::Result<Cluster> {
        let mut c = Cluster::empty()?;
        for code in codes {
            let setup = NodeSetup {
                database_url: databases.get(*code).cloned(),
                ..NodeSetup::default()
            };
            c.add(code, setup).await?;
        }
        Ok(c)
    }

    /// A cluster with a CA and no nodes yet; add them with [`Cluster::add`].
    pub fn empty() -> anyhow::Result<Cluster> {
        init_tracing();
        let dir = tempfile::tempdir()?;
        ca_init(&dir.path().join("ca"), "testkit")?;
        Ok(Cluster {
            _dir: dir,
            slots: BTreeMap::new(),
            http: reqwest::Client::new(),
        })
    }

    /// Initialises (`safemesh init`, certificate from the cluster's CA) and starts node `code` as
    /// `setup` says. Its parent, if any, must already be in the cluster; the node reaches it through
    /// a proxy ([`Cluster::cut`], [`Cluster::heal`]).
    pub async fn add(&mut self, code: &str, setup: NodeSetup) -> anyhow::Result<()> {
        let code = AdminCode::parse(code)?;
        if self.slots.contains_key(code.as_str()) {
            bail!("{code} is already in the cluster");
        }
        let data_dir = self._dir.path().join(code.as_str());
        let dial = match &setup.dial {
            Some(d) => {
                let d = AdminCode::parse(d)?;
                if !self.slots.contains_key(d.as_str()) {
                    bail!("{code} should dial {d}, which is not in the cluster");
                }
                Some(d)
            }
            None => code
                .parent()
                .filter(|p| self.slots.contains_key(p.as_str())),
        };
        let uplink = match &dial {
            Some(p) => {
                let upstream = self.slots[p.as_str()].cfg.listen;
                Some(Proxy::start("127.0.0.1:0".parse()?, upstream).await?)
            }
            None => None,
        };
        let mut cfg = init_node(&InitOptions {
            data_dir: data_dir.clone(),
            code: code.to_string(),
            listen: free_addr(),
            http: free_addr(),
            parent: uplink.as_ref().map(|p| format!("https://{}", p.addr)),
            ca_dir: Some(self.ca_dir()),
            name: setup.name,
            database_url: setup.database_url,
        })?;
        cfg.reconnect_max_backoff_ms = 500;
        cfg.parent_code = setup
            .parent_code
            .as_deref()
            .map(AdminCode::parse)
            .transpose()?;
        cfg.extra_children = setup
            .extra_children
            .iter()
            .map(|c| AdminCode::parse(c))
            .collect::<Result<_, _>>()?;
        cfg.unit_groups = setup.unit_groups;
        cfg.sectors = setup.sectors;
        cfg.metrics.listen = setup.metrics_listen;
        if let Some(e) = setup.evidence {
            cfg.evidence = e;
        }
        cfg.save(&data_dir)?;
        if let Some(hook) = setup.before_start {
            hook(&data_dir).with_context(|| format!("before starting {code}"))?;
        }
        let handle = start_on_free_ports(&data_dir, &mut cfg)
            .await
            .with_context(|| format!("start {code}"))?;
        self.slots.insert(
            code.to_string(),
            Slot {
                data_dir,
                cfg,
                handle: Some(handle),
                uplink,
            },
        );
        Ok(())
    }

    /// The cluster's CA directory (`ca.pem`, `ca.key`; `safemesh ca issue|revoke --dir` it).
    pub fn ca_dir(&self) -> PathBuf {
        self._dir.path().join("ca")
    }

    /// The cluster's temporary directory (for extra files of a test, e.g. another CA).
    pub fn base_dir(&self) -> &Path {
        self._dir.path()
    }

    /// Node `code`'s data directory.
    pub fn data_dir(&self, code: &str) -> PathBuf {
        self.slots[code].data_dir.clone()
    }

    /// Node `code`'s `D/tls` directory (node.pem, node.key, ca.pem, revoked.txt).
    pub fn tls_dir(&self, code: &str) -> PathBuf {
        Config::tls_dir(&self.slots[code].data_dir)
    }

    /// Node `code`'s config as started.
    pub fn config(&self, code: &str) -> &Config {
        &self.slots[code].cfg
    }

    /// Issues a certificate for `code` from the cluster's CA, valid from `from_secs` to
    /// `until_secs` seconds relative to now (negative: in the past) — for tests of expiry.
    pub fn issue_with_validity(
        &self,
        code: &str,
        from_secs: i64,
        until_secs: i64,
    ) -> anyhow::Result<safemesh_gateway::ca::IssuedCert> {
        let ca = safemesh_gateway::ca::Ca::load(&self.ca_dir())?;
        let now = time::OffsetDateTime::now_utc();
        Ok(ca.issue_with_validity(
            &AdminCode::parse(code)?,
            now + time::Duration::seconds(from_secs),
            now + time::Duration::seconds(until_secs),
        )?)
    }

    /// The running node `code`.
    pub fn node(&self, code: &str) -> &NodeHandle {
        self.slots[code]
            .handle
            .as_ref()
            .unwrap_or_else(|| panic!("node {code} is stopped"))
    }

    pub fn codes(&self) -> Vec<String> {
        self.slots.keys().cloned().collect()
    }

    /// Stops a node cleanly (its store stays).
    pub async fn stop(&mut self, code: &str) {
        if let Some(h) = self.slots.get_mut(code).and_then(|s| s.handle.take()) {
            h.shutdown().await;
        }
    }

    /// Starts a stopped node again from its data dir.
    pub async fn restart(&mut self, code: &str) -> anyhow::Result<()> {
        let slot = self.slots.get_mut(code).context("no such node")?;
        if slot.handle.is_some() {
            bail!("{code} is running");
        }
        let before = slot.cfg.listen;
        slot.handle = Some(start_on_free_ports(&slot.data_dir, &mut slot.cfg).await?);
        let after = slot.cfg.listen;
        if after != before {
            // Its children dial it through their proxies: point them at where it listens now.
            for s in self.slots.values() {
                if let Some(p) = s.uplink.as_ref().filter(|p| p.upstream() == before) {
                    p.set_upstream(after);
                }
            }
        }
        Ok(())
    }

    /// Cuts the link between `child` and its parent (both keep running).
    pub fn cut(&self, child: &str) {
        if let Some(p) = &self.slots[child].uplink {
            p.cut();
        }
    }

    /// Heals the link between `child` and its parent.
    pub fn heal(&self, child: &str) {
        if let Some(p) = &self.slots[child].uplink {
            p.heal();
        }
    }

    /// GET an API path on `code` as its admin.
    pub async fn get(&self, code: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        let n = self.node(code);
        let r = self
            .http
            .get(format!("{}{path}", n.http_url()))
            .bearer_auth(&n.token)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// POST JSON to an API path on `code` as its admin.
    pub async fn post(&self, code: &str, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::POST, code, path, body).await
    }

    /// PATCH JSON to an API path on `code` as its admin.
    pub async fn patch(
        &self,
        code: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::PATCH, code, path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        code: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let n = self.node(code);
        let r = self
            .http
            .request(method, format!("{}{path}", n.http_url()))
            .bearer_auth(&n.token)
            .json(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    /// A raw client, for tests of authentication.
    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    /// The heads of a document at `code`, if it holds it.
    pub async fn heads(&self, code: &str, doc_id: &str) -> anyhow::Result<Option<Vec<String>>> {
        Ok(self
            .node(code)
            .store
            .doc_row(doc_id)
            .await?
            .map(|r| r.heads))
    }

    /// Waits until every running node that holds `doc_id` — and at least `holders` of them — has the
    /// same heads.
    pub async fn wait_converged(
        &self,
        doc_id: &str,
        holders: &[&str],
    ) -> anyhow::Result<Vec<String>> {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let mut all = Vec::new();
            for code in holders {
                all.push(self.heads(code, doc_id).await?);
            }
            if all.iter().all(Option::is_some) && all.windows(2).all(|w| w[0] == w[1]) {
                return Ok(all[0].clone().unwrap_or_default());
            }
            if Instant::now() > deadline {
                bail!("{doc_id} did not converge on {holders:?}: {all:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `check` holds for the JSON at `path` on `code`.
    pub async fn wait_for(
        &self,
        code: &str,
        path: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let (status, v) = self.get(code, path).await?;
            if status == 200 && check(&v) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting at {code} {path} for {what}; last: {status} {v}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every node.
    pub async fn shutdown(mut self) {
        let codes: Vec<String> = self.slots.keys().rev().cloned().collect();
        for c in codes {
            self.stop(&c).await;
        }
    }
}

/// A realistic hazard body for tests.
/// The event telling a major hazard's 主要负责人 and 实际控制人, which it needs before it moves.
pub fn notify_json() -> Value {
    serde_json::json!({"kind": "notify", "recipients": ["主要负责人", "实际控制人"], "method": "书面告知"})
}

/// A 五落实 plan event finishing by `deadline`.
pub fn plan_json(deadline: &str) -> Value {
    serde_json::json!({"kind": "plan", "plan": {
        "responsible_unit": "安宁某某化工有限公司", "responsible_person": "李四", "measures": "增设紧急切断阀",
        "funds_wan": 12.5, "deadline": deadline, "contingency_plan": "限量储存，专人巡检"}})
}

pub fn hazard_json(title: &str, grade: &str, deadline: &str) -> Value {
    serde_json::json!({
        "title": title,
        "sector": "危险化学品",
        "grade": grade,
        "channel": "inspection",
        "inspection_mode": "四不两直",
        "enterprise": {"name": "安宁某某化工有限公司", "credit_code": "91350200776049653A"},
        "basis": {"standard": "《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》", "clause": "第十五项"},
        "deadline": deadline,
        "description": "液氨储罐区可燃气体报警装置未与紧急切断联锁",
    })
}

/// A client for the web UI as a test drives it: it does not follow redirects, so a form's `303` and
/// its `Location` can be checked.
pub fn web_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The CSRF token of a page's forms (the first `_csrf` field).
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"_csrf\" value=\"")
        .expect("a form with _csrf")
        + 20;
    html[at..at + 64].to_string()
}

/// Logs in to the web UI at `base` with `token` (the client must not follow redirects); returns the
/// session's `Cookie` header value.
pub async fn web_login(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let r = http
        .post(format!("{base}/login"))
        .form(&[("token", token), ("next", "/hazards")])
        .send()
        .await?;
    let set = r
        .headers()
        .get("set-cookie")
        .ok_or_else(|| anyhow::anyhow!("login at {base}: {} without a session", r.status()))?;
    Ok(set
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string())
}
