//! Delivers hook events the way GitLab's `WebHookService` does: one POST per matching hook, the
//! documented delivery headers, Standard Webhooks signing, a 10 s timeout. A background task
//! sends in order; every attempt is recorded so tests can inspect, redeliver, pause and wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::hook_payload::{HookEvent, HookKind};
use super::model::SimHook;
use crate::clock::Clock;

/// The GitLab version the simulator claims in `User-Agent`.
pub const GITLAB_VERSION: &str = "19.1.0";

/// One POST to make (first delivery or a resend).
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    hook_id: u64,
    project_id: u64,
    url: String,
    event_name: String,
    /// `webhook-id` and `Idempotency-Key`: the same on every resend.
    webhook_id: String,
    /// `X-Gitlab-Event-UUID`: shared by every hook fired by one event.
    event_uuid: String,
    token: Option<String>,
    signing_token: Option<String>,
    body: String,
    redelivery: bool,
}

/// What happened to one delivery attempt.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    /// Position in the delivery log; pass it to `redeliver`.
    pub id: usize,
    pub hook_id: u64,
    pub project_id: u64,
    pub url: String,
    /// The `X-Gitlab-Event` value (`Issue Hook`, `Confidential Note Hook`, …).
    pub event: String,
    pub webhook_id: String,
    /// Request headers as sent (lower-case names).
    pub headers: Vec<(String, String)>,
    /// The exact body sent (and signed).
    pub body: String,
    /// Response status, when the receiver answered.
    pub status: Option<u16>,
    /// Transport error or timeout, when it did not.
    pub error: Option<String>,
    pub redelivery: bool,
    pub sent_at: DateTime<Utc>,
    request: Delivery,
}

impl DeliveryRecord {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn payload(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// 2xx or 3xx, which GitLab counts as success.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..400).contains(&s))
    }
}

/// `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the base64-decoded
/// signing token (after its `whsec_` prefix).
pub fn sign(
    signing_token: &str,
    webhook_id: &str,
    timestamp: &str,
    body: &str,
) -> Result<String, String> {
    let key = STANDARD
        .decode(
            signing_token
                .strip_prefix("whsec_")
                .unwrap_or(signing_token),
        )
        .map_err(|e| format!("signing token is not base64 after `whsec_`: {e}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{webhook_id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// A fresh `whsec_…` signing token (32 random bytes).
pub fn new_signing_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

#[derive(Clone)]
struct Shared {
    records: Arc<Mutex<Vec<DeliveryRecord>>>,
    pending: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

/// The outgoing queue and its worker task.
pub struct HookSender {
    tx: mpsc::UnboundedSender<Delivery>,
    shared: Shared,
    paused: watch::Sender<bool>,
    /// While set, new events are not delivered at all (a test delivers its own payload shape).
    muted: Arc<std::sync::atomic::AtomicBool>,
    task: JoinHandle<()>,
}

impl HookSender {
    /// Starts the worker. `instance` is sent as `X-Gitlab-Instance`.
    pub fn start(instance: String, clock: Clock, timeout: Duration) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (paused, paused_rx) = watch::channel(false);
        let shared = Shared {
            records: Arc::new(Mutex::new(Vec::new())),
            pending: Arc::new(AtomicUsize::new(0)),
            idle: Arc::new(Notify::new()),
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let task = tokio::spawn(run(rx, paused_rx, shared.clone(), client, instance, clock));
        HookSender {
            tx,
            shared,
            paused,
            muted: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            task,
        }
    }

    /// Queues `event` for every hook of its project subscribed to its kind.
    pub fn dispatch<'a>(&self, hooks: impl Iterator<Item = &'a SimHook>, event: &HookEvent) {
        if self.muted.load(Ordering::SeqCst) {
            return;
        }
        let event_uuid = uuid::Uuid::new_v4().to_string();
        let body = event.payload.to_string();
        for hook in hooks.filter(|h| h.project_id == event.project_id) {
            let c = &hook.config;
            let subscribed = match (event.kind, event.confidential) {
                (HookKind::Issue, false) => c.issues_events,
                (HookKind::Issue, true) => c.confidential_issues_events,
                (HookKind::Note, false) => c.note_events,
                (HookKind::Note, true) => c.confidential_note_events,
            };
            if subscribed {
                self.enqueue(Delivery {
                    hook_id: hook.id,
                    project_id: hook.project_id,
                    url: c.url.clone(),
                    event_name: event.event_name().to_string(),
                    webhook_id: uuid::Uuid::new_v4().to_string(),
                    event_uuid: event_uuid.clone(),
                    token: c.token.clone(),
                    signing_token: c.signing_token.clone(),
                    body: body.clone(),
                    redelivery: false,
                });
            }
        }
    }

    fn enqueue(&self, d: Delivery) {
        self.shared.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(d).is_err() {
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Sends a recorded delivery again: same body and `webhook-id`, fresh timestamp and
    /// signature (GitLab's "Resend request"). False if there is no such record.
    pub fn redeliver(&self, record_id: usize) -> bool {
        let request = match self.shared.records.lock() {
            Ok(r) => r.get(record_id).map(|r| r.request.clone()),
            Err(_) => None,
        };
        match request {
            Some(mut d) => {
                d.redelivery = true;
                self.enqueue(d);
                true
            }
            None => false,
        }
    }

    pub fn records(&self) -> Vec<DeliveryRecord> {
        self.shared
            .records
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn set_muted(&self, muted: bool) {
        self.muted.store(muted, Ordering::SeqCst);
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::SeqCst)
    }

    /// Waits until nothing is queued or in flight; false on timeout.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.idle.notified();
            if self.pending() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.pending() == 0;
            }
        }
    }
}

impl Drop for HookSender {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    mut paused: watch::Receiver<bool>,
    shared: Shared,
    client: reqwest::Client,
    instance: String,
    clock: Clock,
) {
    while let Some(d) = rx.recv().await {
        while *paused.borrow_and_update() {
            if paused.changed().await.is_err() {
                return;
            }
        }
        let record = deliver(&client, &instance, &clock, d).await;
        if let Ok(mut records) = shared.records.lock() {
            let mut record = record;
            record.id = records.len();
            records.push(record);
        }
        shared.pending.fetch_sub(1, Ordering::SeqCst);
        shared.idle.notify_waiters();
    }
}

async fn deliver(
    client: &reqwest::Client,
    instance: &str,
    clock: &Clock,
    d: Delivery,
) -> DeliveryRecord {
    let now = clock.now();
    let timestamp = now.timestamp().to_string();
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        ("user-agent".into(), format!("GitLab/{GITLAB_VERSION}")),
        ("idempotency-key".into(), d.webhook_id.clone()),
        ("x-gitlab-event".into(), d.event_name.clone()),
        (
            "x-gitlab-webhook-uuid".into(),
            uuid::Uuid::new_v4().to_string(),
        ),
        ("x-gitlab-instance".into(), instance.to_string()),
        ("webhook-timestamp".into(), timestamp.clone()),
        ("webhook-id".into(), d.webhook_id.clone()),
    ];
    if let Some(token) = d.token.as_deref().filter(|t| !t.is_empty()) {
        headers.push(("x-gitlab-token".into(), token.replace(['\r', '\n'], "")));
    }
    let mut error = None;
    if let Some(st) = d.signing_token.as_deref().filter(|t| !t.is_empty()) {
        match sign(st, &d.webhook_id, &timestamp, &d.body) {
            Ok(sig) => headers.push(("webhook-signature".into(), sig)),
            Err(e) => error = Some(e),
        }
    }
    headers.push(("x-gitlab-event-uuid".into(), d.event_uuid.clone()));

    let mut status = None;
    if error.is_none() {
        let mut req = client.post(&d.url).body(d.body.clone());
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send().await {
            Ok(rsp) => status = Some(rsp.status().as_u16()),
            Err(e) if e.is_timeout() => error = Some(format!("timed out: {e}")),
            Err(e) => error = Some(e.to_string()),
        }
    }
    DeliveryRecord {
        id: 0,
        hook_id: d.hook_id,
        project_id: d.project_id,
        url: d.url.clone(),
        event: d.event_name.clone(),
        webhook_id: d.webhook_id.clone(),
        headers,
        body: d.body.clone(),
        status,
        error,
        redelivery: d.redelivery,
        sent_at: now,
        request: d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_hand_computed_hmac() {
        let token = format!("whsec_{}", STANDARD.encode(b"secret-key"));
        let sig = sign(&token, "msg_1", "1700000000", "{}").expect("valid token");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret-key").expect("key");
        mac.update(b"msg_1.1700000000.{}");
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert_eq!(sig, expected);
        assert!(sign("whsec_***", "a", "b", "c").is_err());
    }

    #[test]
    fn new_signing_tokens_decode_to_32_bytes() {
        let t = new_signing_token();
        let raw = STANDARD
            .decode(t.strip_prefix("whsec_").expect("prefix"))
            .expect("base64");
        assert_eq!(raw.len(), 32);
    }
}
