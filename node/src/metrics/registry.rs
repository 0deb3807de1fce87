//! The node's one metrics registry ([`Metrics`]): what is recorded as it happens (the HTTP
//! requests) and the collector of what each scrape reads. `ApiState` holds it; the scrape itself
//! (reading the node's state) is the module's `render`.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use safemesh_gateway::tls::NodeIdentity;

use super::api::HttpMetrics;
use super::family::{Family, Scrape};

/// A node's metrics: its registry, the request metrics recorded into it, and what each scrape reads.
pub struct Metrics {
    registry: Registry,
    pub(super) http: HttpMetrics,
    scrape: Arc<Scrape>,
    /// One encoding at a time: the collector shows the families of the scrape holding this.
    encoding: Mutex<()>,
    /// This node's certificate (re-read when replaced), for its expiry.
    pub(super) identity: NodeIdentity,
}

impl Metrics {
    pub fn new(identity: NodeIdentity) -> Metrics {
        let mut registry = Registry::default();
        let http = HttpMetrics::register(&mut registry);
        let scrape = Arc::new(Scrape::default());
        registry.register_collector(Box::new(scrape.clone()));
        Metrics {
            registry,
            http,
            scrape,
            encoding: Mutex::new(()),
            identity,
        }
    }

    /// The registry in the Prometheus text format, with `families` (read for this scrape) as the
    /// collector's part.
    pub(super) fn encode(&self, families: Vec<Family>) -> Result<String, std::fmt::Error> {
        let _one = self.encoding.lock().unwrap_or_else(|e| e.into_inner());
        self.scrape.set(families);
        let mut text = String::new();
        let encoded = prometheus_text::encode(&mut text, &self.registry);
        self.scrape.set(Vec::new());
        encoded.map(|()| text)
    }
}
