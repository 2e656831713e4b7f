//! Prometheus metrics (`/metrics`). One registry per process; every part of the pipeline gets
//! the same `Arc<Metrics>` and bumps its own families.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Label set with a single `reason` / `outcome` / `kind` string.
pub type ByLabel = Family<Vec<(String, String)>, Counter>;

/// All counters and gauges the service exports.
pub struct Metrics {
    registry: Registry,
    /// Webhook requests by outcome: accepted, duplicate, ignored, rejected.
    pub webhooks: ByLabel,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("labelflow");
        let webhooks = ByLabel::default();
        registry.register(
            "webhooks",
            "Webhook requests by outcome (accepted, duplicate, ignored, rejected) and reason",
            webhooks.clone(),
        );
        Arc::new(Metrics { registry, webhooks })
    }

    /// Counts one webhook request with `outcome` and a short `reason`.
    pub fn webhook(&self, outcome: &str, reason: &str) {
        self.webhooks
            .get_or_create(&vec![
                ("outcome".to_string(), outcome.to_string()),
                ("reason".to_string(), reason.to_string()),
            ])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
