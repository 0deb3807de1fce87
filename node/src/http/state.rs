//! What every handler of `/api/v1` and of the web UI shares: the node's [`ApiState`].

use std::sync::Arc;

use safemesh_link::Registry;
use safemesh_model::AdminCode;
use safemesh_store::Store;

use super::token_cache::TokenCache;
use crate::hazards::HazardSettings;
use crate::records::Actor;
use crate::ui::sessions::Sessions;

/// What the handlers share.
pub struct ApiState {
    pub store: Store,
    pub registry: Registry,
    pub code: AdminCode,
    pub name: String,
    pub parent: Option<String>,
    /// The node's writer identity; each request writes as a copy of it carrying the caller's name.
    pub actor: Actor,
    pub extra_children: Vec<AdminCode>,
    /// What the department groups of directives stand for here (config `unit_groups`).
    pub unit_groups: std::collections::BTreeMap<String, Vec<String>>,
    /// Sector dictionary and 存量/增量 cut-off (from the config).
    pub hazards: Arc<HazardSettings>,
    /// 佐证材料 limits (config `[evidence]`).
    pub evidence: crate::config::EvidenceLimits,
    /// Tokens resolved recently.
    pub tokens: TokenCache,
    /// The web UI's logged-in sessions.
    pub sessions: Sessions,
    /// This node's Prometheus metrics (`/metrics`).
    pub metrics: crate::metrics::registry::Metrics,
    /// 请求限制: the largest body and the turns (`[http_limits]`).
    pub limits: crate::config::HttpConfig,
}

/// The state every handler takes.
pub type Shared = Arc<ApiState>;
