//! Prometheus metrics (`/metrics`). One registry per process; every part of the pipeline gets
//! the same `Arc<Metrics>` and bumps its own families.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Label set with a single `reason` / `outcome` / `kind` string.
pub type ByLabel = Family<Vec<(String, String)>, Counter>;

/// All counters and gauges the service exports.
pub struct Metrics {
    registry: Registry,
    /// Webhook requests by outcome: accepted, duplicate, ignored, rejected.
    pub webhooks: ByLabel,
    /// GitLab API calls by method, endpoint and status.
    pub gitlab_calls: ByLabel,
    /// Time spent waiting on GitLab rate limits (milliseconds).
    pub rate_limit_wait_ms: Counter,
    /// Inbox events finished, by outcome (done, retry, parked, ignored).
    pub events: ByLabel,
    /// Actions executed, by workflow, rule, kind and outcome (done, skipped).
    pub actions: ByLabel,
    /// Inbox events by status (read from the store at scrape time).
    pub queue_depth: Family<Vec<(String, String)>, Gauge>,
    /// Age of the oldest pending event, seconds (0 when none).
    pub oldest_pending_seconds: Gauge,
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
        let gitlab_calls = ByLabel::default();
        registry.register(
            "gitlab_api_calls",
            "GitLab API requests by method, endpoint and status",
            gitlab_calls.clone(),
        );
        let rate_limit_wait_ms = Counter::default();
        registry.register(
            "gitlab_rate_limit_wait_milliseconds",
            "Time spent waiting because of GitLab rate limits",
            rate_limit_wait_ms.clone(),
        );
        let events = ByLabel::default();
        registry.register(
            "events",
            "Inbox events finished by outcome (done, retry, parked, ignored)",
            events.clone(),
        );
        let actions = ByLabel::default();
        registry.register(
            "actions",
            "Workflow actions by workflow, rule, kind and outcome",
            actions.clone(),
        );
        let queue_depth = Family::<Vec<(String, String)>, Gauge>::default();
        registry.register("queue_depth", "Inbox events by status", queue_depth.clone());
        let oldest_pending_seconds = Gauge::default();
        registry.register(
            "queue_oldest_pending_seconds",
            "Age of the oldest pending inbox event",
            oldest_pending_seconds.clone(),
        );
        Arc::new(Metrics {
            queue_depth,
            oldest_pending_seconds,
            registry,
            webhooks,
            gitlab_calls,
            rate_limit_wait_ms,
            events,
            actions,
        })
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

    pub fn gitlab_call(&self, method: &str, endpoint: &str, status: &str) {
        self.gitlab_calls
            .get_or_create(&labels(&[
                ("method", method),
                ("endpoint", endpoint),
                ("status", status),
            ]))
            .inc();
    }

    pub fn rate_limit_wait(&self, d: std::time::Duration) {
        self.rate_limit_wait_ms.inc_by(d.as_millis() as u64);
    }

    pub fn event(&self, outcome: &str) {
        self.events
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
    }

    pub fn action(&self, workflow: &str, rule: &str, kind: &str, outcome: &str) {
        self.actions
            .get_or_create(&labels(&[
                ("workflow", workflow),
                ("rule", rule),
                ("kind", kind),
                ("outcome", outcome),
            ]))
            .inc();
    }

    /// Refreshes the queue gauges from store figures.
    pub fn queue(&self, stats: &crate::store::QueueStats) {
        for (status, n) in [
            ("pending", stats.pending),
            ("running", stats.running),
            ("parked", stats.parked),
            ("done", stats.done),
        ] {
            self.queue_depth
                .get_or_create(&labels(&[("status", status)]))
                .set(n);
        }
        let age = stats
            .oldest_pending_received_at
            .map(|t| (chrono::Utc::now() - t).num_seconds().max(0))
            .unwrap_or(0);
        self.oldest_pending_seconds.set(age);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
