//! Metric families gathered at scrape time ([`Family`]) and the collector that hands them to the
//! node's `prometheus_client` registry ([`Scrape`]): each scrape reads the node's state, sets the
//! families, and encodes the registry.

use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// A sample's labels, in order.
pub(crate) type Labels = Vec<(&'static str, String)>;

/// One sample's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Gauge(f64),
    Counter(u64),
    /// Cumulative buckets `(upper bound, count)`, the count of all and their sum.
    Histogram {
        buckets: Vec<(f64, u64)>,
        count: u64,
        sum: f64,
    },
}

/// One metric family: a name (counters without their `_total`, which the encoder adds), a help line,
/// a type and its samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricType,
    pub samples: Vec<(Labels, Value)>,
}

impl Family {
    pub(crate) fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: MetricType::Gauge,
            samples: Vec::new(),
        }
    }

    /// A counter family; `name` without `_total`.
    pub(crate) fn counter(name: &'static str, help: &'static str) -> Family {
        debug_assert!(!name.ends_with("_total"), "{name}: the encoder adds _total");
        Family {
            name,
            help,
            kind: MetricType::Counter,
            samples: Vec::new(),
        }
    }

    pub(crate) fn histogram(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: MetricType::Histogram,
            samples: Vec::new(),
        }
    }

    /// Adds a sample (a gauge's or counter's value as the family's type says).
    pub(crate) fn push(&mut self, labels: Labels, value: f64) {
        let v = match self.kind {
            MetricType::Counter => Value::Counter(value.max(0.0) as u64),
            _ => Value::Gauge(value),
        };
        self.samples.push((labels, v));
    }

    /// [`Family::push`] for a family of one sample without labels.
    pub(crate) fn with(mut self, value: f64) -> Family {
        self.push(Vec::new(), value);
        self
    }

    fn encode(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(self.name, self.help, None, self.kind)?;
        for (labels, value) in &self.samples {
            let sample = metric.encode_family(labels)?;
            match value {
                Value::Gauge(v) => ConstGauge::new(*v).encode(sample)?,
                Value::Counter(v) => ConstCounter::new(*v).encode(sample)?,
                Value::Histogram {
                    buckets,
                    count,
                    sum,
                } => {
                    let mut sample = sample;
                    sample.encode_histogram::<NoLabelSet>(*sum, *count, buckets, None)?
                }
            }
        }
        Ok(())
    }
}

/// The collector of the families gathered for the scrape in progress (see [`super::Metrics`]).
#[derive(Debug, Default)]
pub(crate) struct Scrape {
    families: Mutex<Vec<Family>>,
}

impl Scrape {
    /// What the next encoding of the registry shows.
    pub(crate) fn set(&self, families: Vec<Family>) {
        *self.families.lock().unwrap_or_else(|e| e.into_inner()) = families;
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for f in families.iter() {
            f.encode(&mut encoder)?;
        }
        Ok(())
    }
}
