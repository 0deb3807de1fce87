//! `[quotas]` of the config: per-child quotas (issue 19 #4, `safemesh_link::quota`). Absent, the
//! defaults apply — far above what an honest subtree produces.

use safemesh_link::Quotas;
use serde::{Deserialize, Serialize};

/// `[quotas]` — what one child's subtree may hold at this node and what its summaries may cost
/// (docs/OPERATIONS.md, 配额).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// Documents new to this node one child's subtree may bring here.
    pub documents: u64,
    /// Bytes of documents one child's subtree may have stored here.
    pub bytes: u64,
    /// Bytes of one summary body from a child.
    pub summary_bytes: u64,
    /// Versions of one office's summary taken from a child per window.
    pub summary_versions: u32,
    /// That window, in seconds.
    pub summary_window_secs: u64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        let q = Quotas::default();
        QuotaConfig {
            documents: q.documents,
            bytes: q.bytes,
            summary_bytes: q.summary_bytes,
            summary_versions: q.summary_versions,
            summary_window_secs: q.summary_window.as_secs(),
        }
    }
}

impl QuotaConfig {
    pub(crate) fn is_default(&self) -> bool {
        *self == QuotaConfig::default()
    }

    /// The quotas the links hold children to; every one must be at least 1.
    pub fn quotas(&self) -> Result<Quotas, String> {
        let fields = [
            ("documents", self.documents),
            ("bytes", self.bytes),
            ("summary_bytes", self.summary_bytes),
            ("summary_versions", u64::from(self.summary_versions)),
            ("summary_window_secs", self.summary_window_secs),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, v)| *v == 0) {
            return Err(format!("quotas.{name}: 须至少为 1 / must be at least 1"));
        }
        Ok(Quotas {
            documents: self.documents,
            bytes: self.bytes,
            summary_bytes: self.summary_bytes,
            summary_versions: self.summary_versions,
            summary_window: std::time::Duration::from_secs(self.summary_window_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_read_from_toml_with_defaults_for_what_is_left_out() {
        let q: QuotaConfig = toml::from_str("documents = 500\nsummary_versions = 60\n").unwrap();
        let quotas = q.quotas().unwrap();
        assert_eq!((quotas.documents, quotas.summary_versions), (500, 60));
        assert_eq!(quotas.bytes, Quotas::default().bytes);
        let zero: QuotaConfig = toml::from_str("bytes = 0\n").unwrap();
        assert!(zero.quotas().unwrap_err().contains("quotas.bytes"));
        assert!(toml::from_str::<QuotaConfig>("documentz = 1\n").is_err());
    }
}
