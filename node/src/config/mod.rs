//! 节点配置 — one typed config: defaults, then `safemesh.toml` in the data dir, then command-line
//! overrides; validated once at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use safemesh_model::hazard::facts::DEFAULT_STOCK_CUTOFF;
use safemesh_model::{AdminCode, SectorEntry};
use serde::{Deserialize, Serialize};

use crate::Error;

mod evidence;
mod hazards;
mod http;
mod private;
mod quotas;
mod telemetry;

/// Where the Debian package keeps its node; commands take `--data-dir`, else `SAFEMESH_DATA_DIR`,
/// else this.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/safemesh";

pub use evidence::{EvidenceConfig, EvidenceLimits};
pub use hazards::HazardSettings;
pub use http::HttpConfig;
pub use private::{check_private, write_private};
pub use quotas::QuotaConfig;
pub use telemetry::TelemetryConfig;

/// The node's config file, `D/safemesh.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This node's administrative code (prefix form).
    pub code: AdminCode,
    /// The office's name (defaults to the official name of the code).
    pub name: String,
    /// Address of the link server (mutual TLS gRPC).
    pub listen: SocketAddr,
    /// Address of the HTTP API.
    pub http: SocketAddr,
    /// The parent's link address, `https://HOST:PORT`; none for the top node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Database URL; defaults to SQLite `safemesh.db` in the data dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Reconnect backoff cap in milliseconds.
    #[serde(default = "default_backoff")]
    pub reconnect_max_backoff_ms: u64,
    /// Extra codes accepted as direct children (functional zones such as a 管委会 under a county).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_children: Vec<AdminCode>,
    /// The parent's code, when it is not the code's prefix parent (a functional zone configured
    /// under another office, which lists this code in its `extra_children`). The child accepts
    /// only a parent certificate with this code. Defaults to the prefix parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_code: Option<AdminCode>,
    /// 单位组 — what the department groups of directives stand for at this office, e.g.
    /// `"各成员单位" = ["应急管理综合服务中心", "消防工作站"]`. Keys are group names (各成员单位,
    /// 负有安全监管职责的部门, 负有行业管理职责的部门, 各村（社区）); 各下级 always resolves to the child nodes.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub unit_groups: std::collections::BTreeMap<String, Vec<String>>,
    /// 隐患 settings (`[hazards]`).
    #[serde(default, skip_serializing_if = "HazardConfig::is_default")]
    pub hazards: HazardConfig,
    /// Sectors and aliases added to the seed dictionary (`[[sectors]] name = "…" aliases = […]`); an
    /// entry naming an existing sector adds aliases to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors: Vec<SectorEntry>,
    /// Where traces are exported (`[telemetry] otlp_endpoint`); none by default.
    #[serde(default, skip_serializing_if = "TelemetryConfig::is_default")]
    pub telemetry: TelemetryConfig,
    /// 监控指标 (`[metrics]`).
    #[serde(default, skip_serializing_if = "MetricsConfig::is_default")]
    pub metrics: MetricsConfig,
    /// 请求限制 (`[http_limits]`): the largest body, requests at once and waiting.
    #[serde(default, skip_serializing_if = "HttpConfig::is_default")]
    pub http_limits: HttpConfig,
    /// 配额 — per-child quotas (`[quotas]`); the defaults when absent.
    #[serde(default, skip_serializing_if = "QuotaConfig::is_default")]
    pub quotas: QuotaConfig,
    /// 佐证材料 limits (`[evidence]`).
    #[serde(default, skip_serializing_if = "EvidenceConfig::is_default")]
    pub evidence: EvidenceConfig,
}

/// `[metrics]` of the config. `/metrics` is always served on the HTTP address, to a token of role
/// `metrics` or `admin`; this adds an address that serves it without a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to serve `GET /metrics` without a token, e.g. `127.0.0.1:9464` (none by default). It
    /// answers anyone who reaches it: keep it on loopback, or let a firewall admit the Prometheus
    /// server only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
}

impl MetricsConfig {
    fn is_default(&self) -> bool {
        *self == MetricsConfig::default()
    }
}

/// `[hazards]` of the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HazardConfig {
    /// 存量/增量 cut-off `YYYY-MM-DD`: a hazard found before it is 存量.
    #[serde(default = "default_cutoff")]
    pub stock_cutoff: String,
    /// 临期 — a hazard or directive target not done and due within this many days is warned of
    /// (1–30; default 3).
    #[serde(default = "default_due_soon_days")]
    pub due_soon_days: u32,
    /// 验收期限 — the days an acceptor has to accept a hazard reported rectified before its delay
    /// shows as 验收超期 (1–90; default 10, `safemesh_model::hazard::DEFAULT_ACCEPTANCE_DAYS`).
    #[serde(default = "default_acceptance_days")]
    pub acceptance_days: u32,
}

fn default_acceptance_days() -> u32 {
    safemesh_model::hazard::DEFAULT_ACCEPTANCE_DAYS
}

/// The days before a deadline from which it is 临期, unless the config says otherwise.
pub const DEFAULT_DUE_SOON_DAYS: u32 = 3;

fn default_due_soon_days() -> u32 {
    DEFAULT_DUE_SOON_DAYS
}

fn default_cutoff() -> String {
    DEFAULT_STOCK_CUTOFF.to_string()
}

impl Default for HazardConfig {
    fn default() -> Self {
        HazardConfig {
            stock_cutoff: default_cutoff(),
            due_soon_days: default_due_soon_days(),
            acceptance_days: default_acceptance_days(),
        }
    }
}

impl HazardConfig {
    fn is_default(&self) -> bool {
        *self == HazardConfig::default()
    }
}

fn default_backoff() -> u64 {
    5000
}

pub const CONFIG_FILE: &str = "safemesh.toml";
pub const TOKEN_FILE: &str = "admin.token";
pub const TLS_DIR: &str = "tls";

impl Config {
    /// Opens the store this config names: `database_url` (SQLite or PostgreSQL), else SQLite
    /// `safemesh.db` in the data dir.
    pub async fn open_store(&self, data_dir: &Path) -> Result<safemesh_store::Store, Error> {
        Ok(match &self.database_url {
            Some(url) => safemesh_store::Store::open_url(url).await?,
            None => safemesh_store::Store::open_sqlite(&data_dir.join("safemesh.db")).await?,
        })
    }

    pub fn load(data_dir: &Path) -> Result<Config, Error> {
        let path = data_dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::Config(format!(
                "读取 {} 失败 / cannot read {}: {e}",
                path.display(),
                path.display()
            ))
        })?;
        let cfg: Config = toml::from_str(&text).map_err(|e| {
            Error::Config(format!("{} 格式错误 / invalid config: {e}", path.display()))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), Error> {
        let text = toml::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))?;
        let header = "# safemesh 节点配置 / node configuration. See docs/OPERATIONS.md.\n";
        // Mode 0600: it may hold a database password.
        write_private(&data_dir.join(CONFIG_FILE), &format!("{header}{text}"))
    }

    pub fn validate(&self) -> Result<(), Error> {
        use safemesh_model::directive::Group;
        self.telemetry.endpoint().map_err(Error::Config)?;
        self.http_limits.check().map_err(Error::Config)?;
        self.quotas.quotas().map_err(Error::Config)?;
        for (k, units) in &self.unit_groups {
            match Group::parse(k) {
                None | Some(Group::Children) => {
                    return Err(Error::Config(format!(
                        "unit_groups 的键 {k:?} 不是可配置的单位组 / {k:?} is not a configurable unit group (各成员单位, 负有安全监管职责的部门, 负有行业管理职责的部门, 各村（社区）)"
                    )));
                }
                Some(_) => {}
            }
            if units
                .iter()
                .any(|u| u.trim().is_empty() || u.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(Error::Config(format!(
                    "unit_groups.{k} 应为部门名称 / unit_groups.{k} must list department names"
                )));
            }
        }
        if let Some(p) = &self.parent_code
            && *p == self.code
        {
            return Err(Error::Config(format!(
                "parent_code 不能是本节点自己 / parent_code {p} is this node's own code"
            )));
        }
        self.chain()?;
        if self.parent.is_some() && self.parent_code().is_none() {
            return Err(Error::Config(
                "省级节点没有上级 / a province node has no parent".into(),
            ));
        }
        HazardSettings::from_config(self)?;
        self.evidence.limits()?;
        if let Some(m) = self.metrics.listen
            && m.port() != 0
            && (m == self.http || m == self.listen)
        {
            return Err(Error::Config(format!(
                "metrics.listen {m} 与 http 或 listen 地址相同 / metrics.listen {m} is the http or link address"
            )));
        }
        if let Some(p) = &self.parent {
            let hp = p.trim_start_matches("https://");
            if hp == p.as_str() || !hp.contains(':') {
                return Err(Error::Config(format!(
                    "parent 应为 https://主机:端口 / parent must be https://HOST:PORT, got {p:?}"
                )));
            }
        }
        Ok(())
    }

    /// This office's chain ([`safemesh_model::Chain`]): a functional zone's `parent_code` when it is
    /// not the prefix parent. A `parent_code` inside this node's own jurisdiction is refused.
    pub fn chain(&self) -> Result<safemesh_model::Chain, Error> {
        safemesh_model::Chain::configured(&self.code, self.parent_code.as_ref())
            .map_err(|e| Error::Config(format!("parent_code: {e}")))
    }

    /// The code of this node's parent: `parent_code` if set, else the code's prefix parent.
    pub fn parent_code(&self) -> Option<AdminCode> {
        self.parent_code.clone().or_else(|| self.code.parent())
    }

    pub fn tls_dir(data_dir: &Path) -> PathBuf {
        data_dir.join(TLS_DIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
code = "530181006"
name = "禄脿街道"
listen = "127.0.0.1:7001"
http = "127.0.0.1:8001"
"#;

    #[test]
    fn the_metrics_address_is_optional_checked_and_saved() {
        let cfg: Config = toml::from_str(BASE).unwrap();
        assert_eq!(cfg.metrics.listen, None);
        assert!(
            !toml::to_string_pretty(&cfg).unwrap().contains("[metrics]"),
            "left out of a saved config when not set"
        );
        let cfg: Config =
            toml::from_str(&format!("{BASE}\n[metrics]\nlisten = \"127.0.0.1:9464\"\n")).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
        let again: Config = toml::from_str(&toml::to_string_pretty(&cfg).unwrap()).unwrap();
        assert_eq!(again.metrics, cfg.metrics);
        let taken: Config =
            toml::from_str(&format!("{BASE}\n[metrics]\nlisten = \"127.0.0.1:8001\"\n")).unwrap();
        let e = taken.validate().unwrap_err().to_string();
        assert!(e.contains("metrics.listen"), "{e}");
        assert!(
            toml::from_str::<Config>(&format!("{BASE}\n[metrics]\nport = 9464\n")).is_err(),
            "unknown keys are an error"
        );
    }
}
