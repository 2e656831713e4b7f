//! Prometheus metrics (`/metrics`). One registry per process; every part of the pipeline gets
//! the same `Arc<Metrics>` and bumps its own families. The names, labels and alerts built on
//! them are documented in `docs/README-operations.md`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Label set with a single `reason` / `outcome` / `kind` string.
pub type ByLabel = Family<Vec<(String, String)>, Counter>;

/// Histograms by label set; the constructor fixes the buckets.
pub type HistogramByLabel = Family<Vec<(String, String)>, Histogram, fn() -> Histogram>;

/// Buckets for one GitLab-backed action: 5 ms … ~20 s (a comment takes tens of milliseconds;
/// retries and rate-limit waits push it into seconds).
fn action_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

/// All counters and gauges the service exports.
pub struct Metrics {
    registry: Registry,
    /// Every webhook request that reached the handler, whatever became of it.
    pub webhooks_received: Counter,
    /// Webhook requests by outcome: accepted, duplicate, ignored, rejected.
    pub webhooks: ByLabel,
    /// GitLab API calls by method, endpoint and status.
    pub gitlab_calls: ByLabel,
    /// Time spent waiting on GitLab rate limits (milliseconds).
    pub rate_limit_wait_ms: Counter,
    /// How many times a GitLab call waited because of a rate limit (429 or pacing).
    pub rate_limit_waits: Counter,
    /// Inbox events finished, by outcome (done, retry, parked, ignored).
    pub events: ByLabel,
    /// Inbox events by the workflow and rule they triggered, and outcome (done, retry, parked).
    pub rule_events: ByLabel,
    pub rule_outcomes: ByLabel,
    /// Actions executed, by workflow, rule, kind and outcome (done, skipped).
    pub actions: ByLabel,
    /// Wall time of one action against GitLab, by kind.
    pub action_seconds: HistogramByLabel,
    /// Actions taken by sweeps, by workflow, rule, kind and outcome.
    pub sweep_actions: ByLabel,
    /// Configuration reloads by outcome (applied, rejected).
    pub config_reloads: ByLabel,
    /// Unix time the running configuration was loaded.
    pub config_loaded_seconds: Gauge,
    /// Inbox events by status (read from the store at scrape time).
    pub queue_depth: Family<Vec<(String, String)>, Gauge>,
    /// Age of the oldest pending event, seconds (0 when none).
    pub oldest_pending_seconds: Gauge,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("labelflow");
        let webhooks_received = Counter::default();
        registry.register(
            "webhooks_received",
            "Webhook requests received, whatever their outcome",
            webhooks_received.clone(),
        );
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
        let rate_limit_waits = Counter::default();
        registry.register(
            "gitlab_rate_limit_waits",
            "GitLab calls that waited because of a rate limit (429 or pacing)",
            rate_limit_waits.clone(),
        );
        let events = ByLabel::default();
        registry.register(
            "events",
            "Inbox events finished by outcome (done, retry, parked, ignored)",
            events.clone(),
        );
        let rule_events = ByLabel::default();
        registry.register(
            "rule_events",
            "Inbox events by the workflow and rule they triggered, and outcome (done, retry, parked)",
            rule_events.clone(),
        );
        let rule_outcomes = ByLabel::default();
        registry.register(
            "rule_outcomes",
            "Rule decisions by workflow, rule and reason (fired, not_triggered, condition_false, once_done, loop_guard, label_reverted, refused, usage, nothing_to_do)",
            rule_outcomes.clone(),
        );
        let actions = ByLabel::default();
        registry.register(
            "actions",
            "Workflow actions by workflow, rule, kind and outcome",
            actions.clone(),
        );
        let action_seconds = HistogramByLabel::new_with_constructor(action_histogram);
        registry.register(
            "action_duration_seconds",
            "Time one workflow action took against GitLab, by kind",
            action_seconds.clone(),
        );
        let sweep_actions = ByLabel::default();
        registry.register(
            "sweep_actions",
            "Actions taken by sweeps, by workflow, rule, kind and outcome",
            sweep_actions.clone(),
        );
        let config_reloads = ByLabel::default();
        registry.register(
            "config_reloads",
            "Configuration reloads by outcome (applied, rejected)",
            config_reloads.clone(),
        );
        let config_loaded_seconds = Gauge::default();
        registry.register(
            "config_loaded_timestamp_seconds",
            "Unix time the running configuration was loaded",
            config_loaded_seconds.clone(),
        );
        let queue_depth = Family::<Vec<(String, String)>, Gauge>::default();
        registry.register("queue_depth", "Inbox events by status", queue_depth.clone());
        let oldest_pending_seconds = Gauge::default();
        registry.register(
            "queue_oldest_pending_seconds",
            "Age of the oldest pending inbox event",
            oldest_pending_seconds.clone(),
        );
        let metrics = Metrics {
            registry,
            webhooks_received,
            webhooks,
            gitlab_calls,
            rate_limit_wait_ms,
            rate_limit_waits,
            events,
            rule_events,
            rule_outcomes,
            actions,
            action_seconds,
            sweep_actions,
            config_reloads,
            config_loaded_seconds,
            queue_depth,
            oldest_pending_seconds,
        };
        metrics.config_loaded_now();
        Arc::new(metrics)
    }

    /// Counts one webhook request with `outcome` and a short `reason`. Every request ends in
    /// exactly one outcome, so this is also where it is counted as received.
    pub fn webhook(&self, outcome: &str, reason: &str) {
        self.webhooks_received.inc();
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

    pub fn rate_limit_wait(&self, d: Duration) {
        self.rate_limit_waits.inc();
        self.rate_limit_wait_ms.inc_by(d.as_millis() as u64);
    }

    pub fn event(&self, outcome: &str) {
        self.events
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
    }

    /// Counts one finished event under a workflow rule it triggered.
    pub fn rule_event(&self, workflow: &str, rule: &str, outcome: &str) {
        self.rule_events
            .get_or_create(&labels(&[
                ("workflow", workflow),
                ("rule", rule),
                ("outcome", outcome),
            ]))
            .inc();
    }

    /// Counts one rule's outcome for one event, with the reason kind (`fired`,
    /// `condition_false`, `once_done`, …).
    pub fn rule_outcome(&self, workflow: &str, rule: &str, reason: &str) {
        self.rule_outcomes
            .get_or_create(&labels(&[
                ("workflow", workflow),
                ("rule", rule),
                ("reason", reason),
            ]))
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

    /// Records how long one action (of `kind`) took.
    pub fn action_latency(&self, kind: &str, took: Duration) {
        self.action_seconds
            .get_or_create(&labels(&[("kind", kind)]))
            .observe(took.as_secs_f64());
    }

    /// Counts one action a sweep took (or, with `outcome = "dry_run"`, would have taken).
    pub fn sweep_action(&self, workflow: &str, rule: &str, kind: &str, outcome: &str) {
        self.sweep_actions
            .get_or_create(&labels(&[
                ("workflow", workflow),
                ("rule", rule),
                ("kind", kind),
                ("outcome", outcome),
            ]))
            .inc();
    }

    /// Counts a configuration reload; an applied one also moves the loaded-at gauge.
    pub fn config_reload(&self, outcome: &str) {
        self.config_reloads
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
        if outcome == "applied" {
            self.config_loaded_now();
        }
    }

    fn config_loaded_now(&self) {
        self.config_loaded_seconds
            .set(chrono::Utc::now().timestamp());
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
