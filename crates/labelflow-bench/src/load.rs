//! The load generator: open-loop fixed rates (latency measured from each request's scheduled
//! time, so a stalled server cannot hide its queueing) and closed-loop saturation.

use crate::payload::{Shot, Shots};
use crate::stats::Summary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// GitLab gives up on a webhook after 10 s; so does the load generator.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to deliver webhooks.
#[derive(Clone)]
pub struct Endpoint {
    pub client: reqwest::Client,
    pub url: String,
    /// Sent as `X-Gitlab-Token` (both labelflow and gidgetlab check it).
    pub secret: String,
}

/// An HTTP/1.1 keep-alive client sized for the load.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap_or_default()
}

impl Endpoint {
    /// Delivers one webhook the way GitLab does; returns the status (None: no answer).
    pub async fn deliver(&self, event: &str, webhook_id: &str, body: bytes::Bytes) -> Option<u16> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        self.client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("user-agent", "GitLab/19.1.0")
            .header("x-gitlab-event", event)
            .header("x-gitlab-token", &self.secret)
            .header("webhook-id", webhook_id)
            .header("idempotency-key", webhook_id)
            .header("webhook-timestamp", timestamp)
            .body(body)
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    }

    async fn shot(&self, shot: Shot) -> Option<u16> {
        self.deliver("Issue Hook", &shot.webhook_id, shot.body)
            .await
    }
}

/// What one load run saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadResult {
    /// Offered rate (requests per second); 0 for closed-loop runs.
    pub offered_per_s: f64,
    /// Closed-loop connections; 0 for open-loop runs.
    pub connections: usize,
    pub sent: usize,
    pub duplicates_sent: usize,
    /// Status → count; 0 stands for "no answer" (connection error or timeout).
    pub statuses: BTreeMap<u16, usize>,
    /// 2xx answers per second of the run.
    pub acked_per_s: f64,
    pub elapsed_s: f64,
    pub ack: Summary,
}

impl LoadResult {
    pub fn acked(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    fn finish(mut self, samples: Vec<(Option<u16>, Duration)>, elapsed: Duration) -> Self {
        let mut latencies = Vec::with_capacity(samples.len());
        for (status, latency) in samples {
            *self.statuses.entry(status.unwrap_or(0)).or_default() += 1;
            if status.is_some() {
                latencies.push(latency);
            }
        }
        self.elapsed_s = elapsed.as_secs_f64();
        self.acked_per_s = self.acked() as f64 / self.elapsed_s.max(1e-9);
        self.ack = Summary::of(&latencies);
        self
    }
}

/// Offers `rate` deliveries per second for `duration`, whatever the answers take (open loop).
/// At most `max_in_flight` are outstanding; a request waiting for a slot counts its wait.
pub async fn fixed_rate(
    endpoint: &Endpoint,
    shots: &Shots,
    rate: f64,
    duration: Duration,
    max_in_flight: usize,
) -> LoadResult {
    let total = (rate * duration.as_secs_f64()).round().max(1.0) as usize;
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    let mut duplicates = 0;
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let shot = shots.shot(i);
        duplicates += usize::from(shot.duplicate);
        let endpoint = endpoint.clone();
        tasks.spawn(async move {
            let status = endpoint.shot(shot).await;
            drop(slot);
            (status, due.elapsed())
        });
    }
    let samples = tasks.join_all().await;
    let base = LoadResult {
        offered_per_s: rate,
        sent: samples.len(),
        duplicates_sent: duplicates,
        ..LoadResult::default()
    };
    base.finish(samples, start.elapsed())
}

/// `connections` senders deliver back to back for `duration` (closed loop): the most the
/// server acknowledges per second.
pub async fn saturate(
    endpoint: &Endpoint,
    shots: Arc<Shots>,
    connections: usize,
    duration: Duration,
) -> LoadResult {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..connections.max(1) {
        let (endpoint, shots, next) = (endpoint.clone(), shots.clone(), next.clone());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            let mut duplicates = 0;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let shot = shots.shot(i);
                duplicates += usize::from(shot.duplicate);
                let sent = Instant::now();
                let status = endpoint.shot(shot).await;
                samples.push((status, sent.elapsed()));
            }
            (samples, duplicates)
        });
    }
    let mut samples = Vec::new();
    let mut duplicates = 0;
    for (s, d) in tasks.join_all().await {
        samples.extend(s);
        duplicates += d;
    }
    let base = LoadResult {
        connections,
        sent: samples.len(),
        duplicates_sent: duplicates,
        ..LoadResult::default()
    };
    base.finish(samples, start.elapsed())
}
