//! `[telemetry]` of the config: where traces go. Absent (the default), nothing is exported and no
//! exporter runs.

use serde::{Deserialize, Serialize};

/// `[telemetry]` — OpenTelemetry export of the node's traces (docs/OPERATIONS.md, 监控).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The OTLP/gRPC collector, e.g. `http://127.0.0.1:4317`. Unset: traces are not exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the node's traces (default `safemesh`); the node's code is always the
    /// resource attribute `safemesh.node.code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

impl TelemetryConfig {
    pub(crate) fn is_default(&self) -> bool {
        *self == TelemetryConfig::default()
    }

    /// The endpoint, if it is a URL this node can dial (`http://` or `https://`).
    pub fn endpoint(&self) -> Result<Option<&str>, String> {
        match self.otlp_endpoint.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(e) if e.starts_with("http://") || e.starts_with("https://") => Ok(Some(e)),
            Some(e) => Err(format!(
                "telemetry.otlp_endpoint: 须为 http:// 或 https:// 地址 / must be an http:// or https:// URL, got {e:?}"
            )),
        }
    }
}
