//! Wiring: store, identity, link server, parent dialer, roll-up publisher, HTTP API and metrics of
//! one node.
//! Options → [`start`] (owns its tasks) → a [`NodeHandle`] with shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use safemesh_gateway::ca::{CRL_FILE, REVOKED_FILE};
use safemesh_gateway::link::{LinkService, dial_parent_with, rejections_into};
use safemesh_gateway::revocation::{LinkCrl, void_on_revocation};
use safemesh_gateway::tls::{
    NodeIdentity, Policy, RevocationList, client_config_with, server_config_with,
};
use safemesh_link::{LinkConfig, Registry};
use safemesh_model::{AdminCode, division};
use safemesh_store::{Store, TokenRole, hash_secret};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use crate::api::router;
use crate::config::{Config, TOKEN_FILE};
use crate::hazards::HazardSettings;
use crate::http::ApiState;
use crate::http::TokenCache;
use crate::records::Actor;
use crate::{Error, rollup};

/// A running node.
pub struct NodeHandle {
    pub code: AdminCode,
    pub name: String,
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub link_addr: SocketAddr,
    /// Where `/metrics` is served without a token (`[metrics] listen`), if configured.
    pub metrics_addr: Option<SocketAddr>,
    pub token: String,
    pub store: Store,
    pub registry: Registry,
    /// The node's own writer identity (user `admin`); API requests write as the token's name instead.
    pub actor: Actor,
    /// Sector dictionary and 存量/增量 cut-off from the config.
    pub hazard_settings: Arc<HazardSettings>,
    extra_children: Vec<AdminCode>,
    unit_groups: std::collections::BTreeMap<String, Vec<String>>,
    parent_code: Option<AdminCode>,
    revocations: RevocationList,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// How often a running node looks at `D/tls/revoked.txt` and `D/tls/crl.pem` for changes, to close live streams of
/// newly revoked certificates (handshakes look at it every time).
pub const REVOCATION_POLL: Duration = Duration::from_secs(1);

impl NodeHandle {
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    pub fn link_url(&self) -> String {
        format!("https://{}", self.link_addr)
    }

    /// Extra codes this node accepts as direct children.
    pub fn extra_children(&self) -> &[AdminCode] {
        &self.extra_children
    }

    /// What the department groups of directives stand for here (config `unit_groups`).
    pub fn unit_groups(&self) -> &std::collections::BTreeMap<String, Vec<String>> {
        &self.unit_groups
    }

    /// The code of the parent this node dials and accepts (config `parent_code`, else the prefix
    /// parent), if it has a parent link.
    pub fn parent_code(&self) -> Option<&AdminCode> {
        self.parent_code.as_ref()
    }

    /// The revocation list this node honours (`D/tls/crl.pem` and `D/tls/revoked.txt`, re-read on
    /// change; a newer CRL also from the parent).
    pub fn revocations(&self) -> &RevocationList {
        &self.revocations
    }

    /// A receiver that flips to true when the node shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops every task and closes the store.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        self.store.close().await;
    }
}

/// Registers the data dir's token (`D/admin.token`, trimmed) as an admin token named `admin`, by its
/// hash, unless a token with that hash exists already: once revoked, it stays revoked.
pub async fn register_file_token(store: &Store, token: &str) -> Result<(), Error> {
    if let Some(row) = store
        .register_token_hash("admin", TokenRole::Admin, &hash_secret(token))
        .await?
    {
        info!(id = %row.id, "registered {TOKEN_FILE} as admin token");
    }
    Ok(())
}

/// Starts a node from its data dir and config.
pub async fn start(data_dir: &Path, cfg: Config) -> Result<NodeHandle, Error> {
    cfg.validate()?;
    let identity = NodeIdentity::load(&Config::tls_dir(data_dir))?;
    if identity.code != cfg.code {
        return Err(Error::Config(format!(
            "证书代码 {} 与配置代码 {} 不符 / certificate is for {}, config says {}",
            identity.code, cfg.code, identity.code, cfg.code
        )));
    }
    // The admin token is a secret: refused if others may read it.
    crate::config::check_private(&data_dir.join(TOKEN_FILE))?;
    let token = std::fs::read_to_string(data_dir.join(TOKEN_FILE))
        .map_err(|e| {
            Error::Config(format!(
                "读取令牌失败 / cannot read {}: {e}",
                data_dir.join(TOKEN_FILE).display()
            ))
        })?
        .trim()
        .to_string();
    if token.is_empty() {
        return Err(Error::Config(format!(
            "令牌文件为空 / {} is empty",
            data_dir.join(TOKEN_FILE).display()
        )));
    }
    let store = cfg.open_store(data_dir).await?;
    register_file_token(&store, &token).await?;
    let nonce =
        hex::decode(store.install_id()).unwrap_or_else(|_| store.install_id().as_bytes().to_vec());
    let actor = Actor {
        code: cfg.code.clone(),
        actor_id: safemesh_doc::actor::actor_id(&cfg.code, &nonce),
        user: "admin".into(),
        owner_parent: cfg.chain()?.parent,
    };
    let registry = Registry::default();
    let mut link_cfg = LinkConfig::new(store.clone(), cfg.code.clone(), registry.clone());
    link_cfg.quotas = cfg.quotas.quotas().map_err(Error::Config)?;
    // 佐证材料: files received over links count against the node's total too.
    link_cfg.blob_store_max = cfg.evidence.limits()?.max_node;
    // Bind both listeners before anything starts, so a taken port fails the start cleanly.
    let http = tokio::net::TcpListener::bind(cfg.http)
        .await
        .map_err(|source| Error::Listen {
            what: " HTTP ",
            addr: cfg.http,
            source,
        })?;
    let metrics_listener = match cfg.metrics.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Listen {
                    what: "监控指标",
                    addr,
                    source,
                })?,
        ),
        None => None,
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    // What every handshake and live stream is held to: the revocation list — the CA's CRL, taken
    // from the parent and offered to the children, and the plain list an operator may keep —
    // (re-read on change, and polled so live streams of a newly revoked certificate close), and
    // where refusals go (counted and shown in the sync status). A revoked certificate's link state
    // is voided as soon as the node learns of the revocation.
    let tls_dir = Config::tls_dir(data_dir);
    let revocations = RevocationList::open_with_crl(
        tls_dir.join(REVOKED_FILE),
        tls_dir.join(CRL_FILE),
        identity.ca_certs(),
    );
    link_cfg.crl = Some(Arc::new(LinkCrl(revocations.clone())));
    tasks.push(tokio::spawn(void_on_revocation(
        link_cfg.clone(),
        revocations.clone(),
        shutdown_rx.clone(),
    )));
    let policy = Policy {
        revocations: Some(revocations.clone()),
        rejections: rejections_into(registry.clone()),
    };
    tasks.push(tokio::spawn(
        revocations
            .clone()
            .watch(REVOCATION_POLL, shutdown_rx.clone()),
    ));

    // Link server: children only, checked in the handshake.
    let me = cfg.code.clone();
    let extra = cfg.extra_children.clone();
    let accept: Arc<dyn Fn(&AdminCode) -> bool + Send + Sync> =
        Arc::new(move |c: &AdminCode| c.is_direct_child_of(&me) || extra.contains(c));
    let server_tls = server_config_with(&identity, accept, &policy)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| Error::Listen {
            what: "链路",
            addr: cfg.listen,
            source,
        })?;
    let link_addr = listener.local_addr()?;
    let svc = LinkService::new(link_cfg.clone(), shutdown_rx.clone()).with_policy(policy.clone());
    tasks.push(tokio::spawn(async move {
        if let Err(e) = svc.serve(listener, server_tls).await {
            tracing::error!("link server failed: {e}");
        }
    }));

    // Parent link: the child dials, and accepts only its parent's code (`parent_code`, else the
    // prefix parent) in the server certificate.
    let parent_code = cfg.parent.as_ref().and(cfg.parent_code());
    if let (Some(addr), Some(parent)) = (cfg.parent.clone(), parent_code.clone()) {
        let client_tls = client_config_with(&identity, parent.clone(), &policy)?;
        let backoff = Duration::from_millis(cfg.reconnect_max_backoff_ms.max(100));
        let lc = link_cfg.clone();
        let sd = shutdown_rx.clone();
        let policy = policy.clone();
        tasks.push(tokio::spawn(async move {
            dial_parent_with(lc, parent, addr, client_tls, backoff, sd, policy).await
        }));
    }

    // Roll-up publisher.
    {
        let store = store.clone();
        let me = cfg.code.clone();
        let zone = actor.owner_parent.clone().map(|p| (p, cfg.name.clone()));
        let sd = shutdown_rx.clone();
        let due_soon_days = cfg.hazards.due_soon_days;
        tasks.push(tokio::spawn(async move {
            rollup::run(
                store,
                me,
                zone,
                due_soon_days,
                Duration::from_millis(200),
                Duration::from_secs(600),
                sd,
            )
            .await
        }));
    }

    // 佐证材料: files nothing references are removed once past their grace.
    tasks.push(tokio::spawn(crate::evidence::run_collector(
        store.clone(),
        cfg.evidence.limits()?,
        Duration::from_secs(600),
        shutdown_rx.clone(),
    )));
    let http_addr = http.local_addr()?;
    let name = if cfg.name.is_empty() {
        division::name_of(&cfg.code).unwrap_or("").to_string()
    } else {
        cfg.name.clone()
    };
    let hazard_settings = Arc::new(HazardSettings::from_config(&cfg)?);
    let state = Arc::new(ApiState {
        store: store.clone(),
        registry: registry.clone(),
        code: cfg.code.clone(),
        name: name.clone(),
        parent: cfg.parent.clone(),
        actor: actor.clone(),
        extra_children: cfg.extra_children.clone(),
        unit_groups: cfg.unit_groups.clone(),
        hazards: hazard_settings.clone(),
        evidence: cfg.evidence.limits()?,
        tokens: TokenCache::default(),
        sessions: crate::ui::Sessions::default(),
        metrics: crate::metrics::registry::Metrics::new(identity.clone()),
        limits: cfg.http_limits.clone(),
    });
    let metrics_addr = match metrics_listener {
        Some(l) => {
            let addr = l.local_addr()?;
            if !addr.ip().is_loopback() {
                tracing::warn!(%addr, "/metrics 在非回环地址上无需令牌即可读取，须用防火墙只放行 Prometheus / /metrics answers without a token on a non-loopback address: firewall it to the Prometheus server");
            }
            tasks.push(tokio::spawn(crate::metrics::serve(
                l,
                state.clone(),
                shutdown_rx.clone(),
            )));
            Some(addr)
        }
        None => None,
    };
    let app = router(state);
    let mut sd = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(http, app)
            .with_graceful_shutdown(async move {
                let _ = sd.wait_for(|s| *s).await;
            })
            .await;
    }));
    info!(code = %cfg.code, %name, link = %link_addr, http = %http_addr, "node started");
    Ok(NodeHandle {
        code: cfg.code,
        name,
        data_dir: data_dir.to_path_buf(),
        http_addr,
        link_addr,
        metrics_addr,
        token,
        store,
        registry,
        actor,
        extra_children: cfg.extra_children,
        unit_groups: cfg.unit_groups,
        hazard_settings,
        parent_code,
        revocations,
        shutdown,
        tasks,
    })
}
