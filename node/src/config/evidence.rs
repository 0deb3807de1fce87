//! 佐证材料配置 — `[evidence]` of `safemesh.toml`: how large one uploaded file may be, how many bytes
//! of files this node keeps in all, and how long an upload waits to be referenced before the
//! collector removes it.

use serde::{Deserialize, Serialize};

/// `[evidence]` of the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceConfig {
    /// 单个文件上限 (MiB; default 20).
    #[serde(default = "default_max_file_mib")]
    pub max_file_mib: u64,
    /// 本节点文件总量上限 (MiB; default 10240): uploads and files received from links alike.
    #[serde(default = "default_max_node_mib")]
    pub max_node_mib: u64,
    /// 未引用文件保留 — hours an upload no record references is kept (default 24).
    #[serde(default = "default_unreferenced_hours")]
    pub unreferenced_hours: u64,
}

fn default_max_file_mib() -> u64 {
    20
}
fn default_max_node_mib() -> u64 {
    10 * 1024
}
fn default_unreferenced_hours() -> u64 {
    24
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            max_file_mib: default_max_file_mib(),
            max_node_mib: default_max_node_mib(),
            unreferenced_hours: default_unreferenced_hours(),
        }
    }
}

impl EvidenceConfig {
    pub(super) fn is_default(&self) -> bool {
        *self == EvidenceConfig::default()
    }

    /// The limits as the operations use them; a file limit of 0 or above the node's is refused.
    pub fn limits(&self) -> Result<EvidenceLimits, crate::Error> {
        if self.max_file_mib == 0 || self.max_file_mib > 1024 {
            return Err(crate::Error::Config(format!(
                "evidence.max_file_mib 应为 1 到 1024 / evidence.max_file_mib must be 1 to 1024, got {}",
                self.max_file_mib
            )));
        }
        if self.max_node_mib < self.max_file_mib {
            return Err(crate::Error::Config(format!(
                "evidence.max_node_mib 不能小于 max_file_mib / evidence.max_node_mib ({}) is below max_file_mib ({})",
                self.max_node_mib, self.max_file_mib
            )));
        }
        Ok(EvidenceLimits {
            max_file: self.max_file_mib << 20,
            max_node: self.max_node_mib << 20,
            unreferenced: std::time::Duration::from_secs(self.unreferenced_hours * 3600),
        })
    }
}

/// The evidence limits in bytes, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceLimits {
    /// Bytes one file may have.
    pub max_file: u64,
    /// Bytes of files this node keeps in all.
    pub max_node: u64,
    /// How long an unreferenced file is kept.
    pub unreferenced: std::time::Duration,
}

impl Default for EvidenceLimits {
    fn default() -> Self {
        EvidenceConfig::default()
            .limits()
            .expect("the defaults are valid")
    }
}
