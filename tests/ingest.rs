//! Ingest through the real router (`tower::ServiceExt::oneshot`), against an in-memory store.

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use labelflow::clock::Clock;
use labelflow::ingest::{self, IngestConfig, IngestState, WebhookSecrets};
use labelflow::metrics::Metrics;
use labelflow::store::{
    ClaimedEvent, EnqueueOutcome, EventRecord, EventStatus, FollowupRecord, NewFollowup,
    NewInboxEvent, NewPlan, PlanSource, QueueStats, Store, StoreError, StoreResult, StoredPlan,
};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tower::ServiceExt;

// ---- in-memory store: only what ingest uses -----------------------------------------------

#[derive(Default)]
struct MemStore {
    events: Mutex<Vec<NewInboxEvent>>,
    fail: AtomicBool,
}

impl MemStore {
    fn stored(&self) -> Vec<NewInboxEvent> {
        self.events.lock().expect("not poisoned").clone()
    }
}

fn not_used_by_ingest<T>() -> StoreResult<T> {
    Err(StoreError::Migration(
        "the ingest test store implements enqueue only".to_string(),
    ))
}

#[async_trait]
impl Store for MemStore {
    async fn migrate(&self) -> StoreResult<()> {
        Ok(())
    }
    async fn ready(&self) -> StoreResult<()> {
        Ok(())
    }
    async fn enqueue(&self, event: NewInboxEvent) -> StoreResult<EnqueueOutcome> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
        }
        let mut events = self.events.lock().expect("not poisoned");
        if let Some(index) = events
            .iter()
            .position(|e| e.delivery_id == event.delivery_id)
        {
            return Ok(EnqueueOutcome::Duplicate(index as i64 + 1));
        }
        events.push(event);
        Ok(EnqueueOutcome::Accepted(events.len() as i64))
    }
    async fn claim(
        &self,
        _: &str,
        _: Duration,
        _: DateTime<Utc>,
    ) -> StoreResult<Option<ClaimedEvent>> {
        not_used_by_ingest()
    }
    async fn complete(&self, _: i64, _: &str, _: DateTime<Utc>) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn retry_later(
        &self,
        _: i64,
        _: &str,
        _: DateTime<Utc>,
        _: &str,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn park(&self, _: i64, _: &str, _: &str, _: DateTime<Utc>) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn release_leases(&self, _: &str, _: DateTime<Utc>) -> StoreResult<u64> {
        not_used_by_ingest()
    }
    async fn list_events(&self, _: Option<EventStatus>, _: i64) -> StoreResult<Vec<EventRecord>> {
        not_used_by_ingest()
    }
    async fn get_event(&self, _: i64) -> StoreResult<Option<EventRecord>> {
        not_used_by_ingest()
    }
    async fn retry_parked(&self, _: i64, _: DateTime<Utc>) -> StoreResult<bool> {
        not_used_by_ingest()
    }
    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        not_used_by_ingest()
    }
    async fn ledger_get(&self, _: &str) -> StoreResult<Option<String>> {
        not_used_by_ingest()
    }
    async fn ledger_put(&self, _: &str, _: &str, _: &str, _: DateTime<Utc>) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn actions_since(&self, _: &str, _: DateTime<Utc>) -> StoreResult<i64> {
        not_used_by_ingest()
    }
    async fn schedule_followup(&self, _: NewFollowup) -> StoreResult<bool> {
        not_used_by_ingest()
    }
    async fn promote_due_followups(&self, _: DateTime<Utc>) -> StoreResult<u64> {
        not_used_by_ingest()
    }
    async fn list_followups(&self, _: i64) -> StoreResult<Vec<FollowupRecord>> {
        not_used_by_ingest()
    }
    async fn plan_get(&self, _: &str) -> StoreResult<Option<StoredPlan>> {
        not_used_by_ingest()
    }
    async fn plan_put(&self, _: NewPlan, _: DateTime<Utc>) -> StoreResult<bool> {
        not_used_by_ingest()
    }
    async fn plan_replace(
        &self,
        _: &str,
        _: &str,
        _: Option<i64>,
        _: DateTime<Utc>,
    ) -> StoreResult<bool> {
        not_used_by_ingest()
    }
    async fn plan_finish(&self, _: &str, _: DateTime<Utc>) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn unfinished_plans(&self, _: PlanSource, _: i64) -> StoreResult<Vec<StoredPlan>> {
        not_used_by_ingest()
    }
    async fn snapshot_get(&self, _: &str) -> StoreResult<Option<String>> {
        not_used_by_ingest()
    }
    async fn snapshot_put(&self, _: &str, _: &str, _: DateTime<Utc>) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn set_event_detail(&self, _: i64, _: &str) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn trace_put(&self, _: labelflow::store::StoredTrace) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn trace_get(&self, _: i64) -> StoreResult<Option<labelflow::store::StoredTrace>> {
        not_used_by_ingest()
    }
    async fn traces_for_issue(
        &self,
        _: &str,
        _: i64,
    ) -> StoreResult<Vec<labelflow::store::StoredTrace>> {
        not_used_by_ingest()
    }
    async fn prune_traces(
        &self,
        _: labelflow::store::TraceRetention,
        _: DateTime<Utc>,
    ) -> StoreResult<labelflow::store::Pruned> {
        not_used_by_ingest()
    }
    async fn ledger_entry(
        &self,
        _: &str,
        _: &str,
    ) -> StoreResult<Option<labelflow::store::LedgerEntry>> {
        not_used_by_ingest()
    }
    async fn followups_for_issue(
        &self,
        _: &str,
    ) -> StoreResult<Vec<labelflow::store::PendingFollowup>> {
        not_used_by_ingest()
    }
    async fn list_event_rows(
        &self,
        _: &labelflow::store::EventFilter,
        _: i64,
    ) -> StoreResult<Vec<labelflow::store::EventRow>> {
        not_used_by_ingest()
    }
    async fn sweep_run_put(&self, _: &str, _: DateTime<Utc>) -> StoreResult<()> {
        not_used_by_ingest()
    }
    async fn last_sweep_run(&self) -> StoreResult<Option<(DateTime<Utc>, String)>> {
        not_used_by_ingest()
    }
    async fn hold_issue(
        &self,
        _: &str,
        _: &str,
        _: std::time::Duration,
        _: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        not_used_by_ingest()
    }
}

// ---- harness ------------------------------------------------------------------------------

const TOKEN: &str = "gitlab-secret-token";
const OLD_KEY: &[u8] = b"labelflow test signing key, old";
const NEW_KEY: &[u8] = b"labelflow test signing key, new";

fn signing_token(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

struct Harness {
    state: IngestState,
    store: Arc<MemStore>,
}

impl Harness {
    fn new(secrets: WebhookSecrets, allow_unauthenticated: bool, body_limit: usize) -> Self {
        Self::build(secrets, allow_unauthenticated, false, body_limit)
    }

    fn build(
        secrets: WebhookSecrets,
        allow_unauthenticated: bool,
        allow_token_only: bool,
        body_limit: usize,
    ) -> Self {
        let store = Arc::new(MemStore::default());
        let state = IngestState {
            store: store.clone(),
            config: Arc::new(IngestConfig {
                secrets,
                body_limit,
                timestamp_tolerance: ingest::DEFAULT_TIMESTAMP_TOLERANCE,
                allow_unauthenticated,
                allow_token_only,
            }),
            wake: Arc::new(Notify::new()),
            clock: Clock::system(),
            metrics: Metrics::new(),
        };
        Harness { state, store }
    }

    /// A token and two signing keys (old, new) configured.
    fn standard() -> Self {
        let secrets = WebhookSecrets::new(
            vec![TOKEN.to_string()],
            vec![signing_token(OLD_KEY), signing_token(NEW_KEY)],
        )
        .expect("valid secrets");
        Self::new(secrets, false, ingest::GITLAB_MAX_PAYLOAD)
    }

    /// Both configured, and token-only deliveries allowed for a migration.
    fn migrating() -> Self {
        let secrets = WebhookSecrets::new(vec![TOKEN.to_string()], vec![signing_token(OLD_KEY)])
            .expect("valid secrets");
        Self::build(secrets, false, true, ingest::GITLAB_MAX_PAYLOAD)
    }

    /// Only a signing key configured.
    fn signing_only() -> Self {
        let secrets = WebhookSecrets::new(vec![], vec![signing_token(OLD_KEY)]).expect("valid");
        Self::new(secrets, false, ingest::GITLAB_MAX_PAYLOAD)
    }

    fn token_only() -> Self {
        let secrets = WebhookSecrets::new(vec![TOKEN.to_string()], vec![]).expect("valid");
        Self::new(secrets, false, ingest::GITLAB_MAX_PAYLOAD)
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = ingest::router(self.state.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .expect("response body");
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "response is JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, body)
    }

    fn metric(&self, outcome: &str, reason: &str) -> u64 {
        let wanted =
            format!("labelflow_webhooks_total{{outcome=\"{outcome}\",reason=\"{reason}\"}} ");
        self.state
            .metrics
            .render()
            .lines()
            .find_map(|line| line.strip_prefix(&wanted))
            .map(|n| n.trim().parse().expect("a count"))
            .unwrap_or(0)
    }

    fn now(&self) -> i64 {
        self.state.clock.now().timestamp()
    }
}

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

fn issue_open() -> Vec<u8> {
    fixture("gitlab-docs/issue_open.json")
}

/// A request as GitLab sends it: JSON, with `X-Gitlab-Event`, plus `headers`.
fn webhook(body: Vec<u8>, event: &str, headers: &[(&str, String)]) -> Request<Body> {
    let mut builder = Request::post("/webhooks/gitlab")
        .header("content-type", "application/json")
        .header("x-gitlab-event", event);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(Body::from(body)).expect("valid request")
}

fn token(value: &str) -> (&'static str, String) {
    ("x-gitlab-token", value.to_string())
}

fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The headers GitLab sends for a hook with both a signing token and a secret token.
fn signed_headers(id: &str, timestamp: i64, signature: String) -> Vec<(&'static str, String)> {
    let mut headers = signed_only_headers(id, timestamp, signature);
    headers.push(token(TOKEN));
    headers
}

/// The headers of a hook with a signing token only.
fn signed_only_headers(id: &str, timestamp: i64, signature: String) -> Vec<(&'static str, String)> {
    vec![
        ("webhook-id", id.to_string()),
        ("idempotency-key", id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
}

async fn assert_woken(notify: &Notify) {
    tokio::time::timeout(Duration::from_secs(1), notify.notified())
        .await
        .expect("the worker was woken");
}

// ---- authentication -----------------------------------------------------------------------

#[tokio::test]
async fn valid_token_is_accepted_stored_and_wakes_the_worker() {
    let h = Harness::token_only();
    let headers = [token(TOKEN), ("webhook-id", "delivery-1".into())];
    let (status, body) = h.send(webhook(issue_open(), "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, json!({ "status": "accepted", "id": 1 }));

    let stored = h.store.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].delivery_id, "delivery-1");
    assert_eq!(stored[0].event_kind, "Issue Hook");
    assert_eq!(stored[0].issue_key, "14#23");
    assert_eq!(stored[0].payload.as_bytes(), issue_open().as_slice());
    assert_woken(&h.state.wake).await;
    assert_eq!(h.metric("accepted", "Issue Hook"), 1);
}

#[tokio::test]
async fn note_is_stored_under_its_issue_key() {
    let h = Harness::token_only();
    let body = fixture("gitlab-docs/note_on_issue.json");
    let (status, _) = h.send(webhook(body, "Note Hook", &[token(TOKEN)])).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let stored = h.store.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event_kind, "Note Hook");
    assert_eq!(stored[0].issue_key, "5#17");
}

#[tokio::test]
async fn wrong_token_is_401_and_nothing_stored() {
    let h = Harness::token_only();
    let (status, body) = h
        .send(webhook(issue_open(), "Issue Hook", &[token("guess")]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({ "error": "X-Gitlab-Token does not match any configured secret token" })
    );
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "bad_token"), 1);
}

#[tokio::test]
async fn missing_token_is_401_and_nothing_stored() {
    let h = Harness::token_only();
    let (status, body) = h.send(webhook(issue_open(), "Issue Hook", &[])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({ "error": "missing credentials: send webhook-signature or X-Gitlab-Token" })
    );
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "missing_credentials"), 1);
}

#[tokio::test]
async fn valid_signature_is_accepted() {
    let h = Harness::standard();
    let ts = h.now();
    let body = issue_open();
    let headers = signed_headers("msg-1", ts, sign(OLD_KEY, "msg-1", ts, &body));
    let (status, reply) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let stored = h.store.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].delivery_id, "msg-1");
}

#[tokio::test]
async fn one_of_several_signatures_valid_is_enough() {
    let h = Harness::standard();
    let ts = h.now();
    let body = issue_open();
    let good = sign(OLD_KEY, "msg-2", ts, &body);
    let wrong_key = sign(b"someone else's key", "msg-2", ts, &body);
    let header = format!("v2,abc v1,!!notbase64 {wrong_key} {good}");
    let (status, reply) = h
        .send(webhook(
            body,
            "Issue Hook",
            &signed_headers("msg-2", ts, header),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(h.store.stored().len(), 1);
}

#[tokio::test]
async fn signature_from_the_rotated_second_key_is_accepted() {
    let h = Harness::standard();
    let ts = h.now();
    let body = issue_open();
    let headers = signed_headers("msg-3", ts, sign(NEW_KEY, "msg-3", ts, &body));
    let (status, reply) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(h.store.stored().len(), 1);
}

#[tokio::test]
async fn bad_signature_is_401_even_with_a_valid_token() {
    let h = Harness::standard();
    let ts = h.now();
    let body = issue_open();
    // Signed over other bytes than those sent: the signature is checked on the raw body.
    let mut signed_body = body.clone();
    signed_body.push(b'\n');
    let headers = signed_headers("msg-4", ts, sign(OLD_KEY, "msg-4", ts, &signed_body));
    let (status, reply) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply,
        json!({ "error": "webhook-signature does not verify" })
    );
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "bad_signature"), 1);
}

#[tokio::test]
async fn signature_over_another_message_id_is_401() {
    let h = Harness::standard();
    let ts = h.now();
    let body = issue_open();
    let headers = signed_headers("msg-5", ts, sign(OLD_KEY, "msg-other", ts, &body));
    let (status, _) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.store.stored().len(), 0);
}

#[tokio::test]
async fn stale_and_future_timestamps_are_401() {
    let h = Harness::standard();
    for offset in [-301, 301] {
        let ts = h.now() + offset;
        let body = issue_open();
        let id = format!("msg-ts{offset}");
        let headers = signed_headers(&id, ts, sign(OLD_KEY, &id, ts, &body));
        let (status, reply) = h.send(webhook(body, "Issue Hook", &headers)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "offset {offset}");
        assert_eq!(
            reply,
            json!({ "error": "webhook-timestamp is too far from the current time" })
        );
    }
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "timestamp_out_of_tolerance"), 2);

    // Inside the window (a few seconds of slack for the test itself) is fine.
    let ts = h.now() - 290;
    let body = issue_open();
    let headers = signed_headers("msg-recent", ts, sign(OLD_KEY, "msg-recent", ts, &body));
    let (status, _) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn signature_without_timestamp_is_401() {
    let h = Harness::standard();
    let body = issue_open();
    let headers = vec![
        ("webhook-id", "msg-6".to_string()),
        ("webhook-signature", sign(OLD_KEY, "msg-6", 0, &body)),
    ];
    let (status, _) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.metric("rejected", "incomplete_signature_headers"), 1);
}

/// The policy in docs/operations.md: with a signing token configured, the plain token alone is
/// refused (it travels in every delivery, so whoever saw one could forge others).
#[tokio::test]
async fn token_only_delivery_is_refused_when_a_signing_token_is_configured() {
    let h = Harness::standard();
    let (status, reply) = h
        .send(webhook(issue_open(), "Issue Hook", &[token(TOKEN)]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply,
        json!({ "error": "webhook-signature is required: configure the webhook's signing token in GitLab" })
    );
    let (status, _) = h.send(webhook(issue_open(), "Issue Hook", &[])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "missing_signature"), 2);
}

#[tokio::test]
async fn with_both_configured_a_valid_signature_needs_the_valid_token_too() {
    let h = Harness::standard();
    let ts = h.now();
    let body = issue_open();
    let mut headers = signed_only_headers("msg-w", ts, sign(OLD_KEY, "msg-w", ts, &body));
    headers.push(token("guess"));
    let (status, reply) = h.send(webhook(body.clone(), "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply,
        json!({ "error": "X-Gitlab-Token does not match any configured secret token" })
    );
    let headers = signed_only_headers("msg-m", ts, sign(OLD_KEY, "msg-m", ts, &body));
    let (status, reply) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply,
        json!({ "error": "X-Gitlab-Token is required as well: configure the webhook's secret token in GitLab" })
    );
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "bad_token"), 1);
    assert_eq!(h.metric("rejected", "missing_token"), 1);
}

#[tokio::test]
async fn signing_only_configuration_accepts_a_signature_alone() {
    let h = Harness::signing_only();
    let ts = h.now();
    let body = issue_open();
    let headers = signed_only_headers("msg-s", ts, sign(OLD_KEY, "msg-s", ts, &body));
    let (status, reply) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let (status, _) = h
        .send(webhook(issue_open(), "Issue Hook", &[token(TOKEN)]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.metric("rejected", "missing_signature"), 1);
}

/// `--allow-token-only-webhooks`: an unsigned delivery gets in on the valid token; a signed one
/// is still checked in full, and a wrong token is still refused.
#[tokio::test]
async fn the_migration_setting_lets_a_valid_token_alone_in_and_nothing_else() {
    let h = Harness::migrating();
    let (status, _) = h
        .send(webhook(issue_open(), "Issue Hook", &[token(TOKEN)]))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = h
        .send(webhook(issue_open(), "Issue Hook", &[token("guess")]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h.send(webhook(issue_open(), "Issue Hook", &[])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ts = h.now();
    let body = issue_open();
    let mut headers = signed_only_headers("msg-x", ts, sign(OLD_KEY, "msg-x", ts, &body));
    headers.push(token("guess"));
    let (status, _) = h.send(webhook(body, "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.store.stored().len(), 1);
    assert_eq!(h.metric("rejected", "bad_token"), 2);
    assert_eq!(h.metric("rejected", "missing_signature"), 1);
}

#[tokio::test]
async fn unauthenticated_only_when_nothing_is_configured_and_allowed() {
    let none = || WebhookSecrets::new(vec![], vec![]).expect("empty is valid");
    let refused = Harness::new(none(), false, ingest::GITLAB_MAX_PAYLOAD);
    let (status, reply) = refused.send(webhook(issue_open(), "Issue Hook", &[])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply,
        json!({ "error": "webhook authentication is not configured" })
    );

    let allowed = Harness::new(none(), true, ingest::GITLAB_MAX_PAYLOAD);
    let (status, _) = allowed.send(webhook(issue_open(), "Issue Hook", &[])).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(allowed.store.stored().len(), 1);

    // With a secret configured, allow_unauthenticated does not open the door.
    let secrets = WebhookSecrets::new(vec![TOKEN.to_string()], vec![]).expect("valid");
    let configured = Harness::new(secrets, true, ingest::GITLAB_MAX_PAYLOAD);
    let (status, _) = configured
        .send(webhook(issue_open(), "Issue Hook", &[]))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// ---- limits, content type, payload --------------------------------------------------------

#[tokio::test]
async fn oversized_body_is_413_by_content_length_and_nothing_stored() {
    let secrets = WebhookSecrets::new(vec![TOKEN.to_string()], vec![]).expect("valid");
    let h = Harness::new(secrets, false, 1024);
    let body = issue_open();
    let length = body.len().to_string();
    let (status, reply) = h
        .send(webhook(
            body,
            "Issue Hook",
            &[token(TOKEN), ("content-length", length)],
        ))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        reply,
        json!({ "error": "payload larger than the limit of 1024 bytes" })
    );
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "payload_too_large"), 1);
}

#[tokio::test]
async fn oversized_streamed_body_without_length_is_413() {
    let secrets = WebhookSecrets::new(vec![TOKEN.to_string()], vec![]).expect("valid");
    let h = Harness::new(secrets, false, 1024);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        issue_open().chunks(300).map(|c| Ok(c.to_vec())).collect();
    let request = Request::post("/webhooks/gitlab")
        .header("content-type", "application/json")
        .header("x-gitlab-token", TOKEN)
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .expect("valid request");
    let (status, _) = h.send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(h.store.stored().len(), 0);
}

#[tokio::test]
async fn body_at_the_limit_is_accepted() {
    let body = issue_open();
    let secrets = WebhookSecrets::new(vec![TOKEN.to_string()], vec![]).expect("valid");
    let h = Harness::new(secrets, false, body.len());
    let (status, _) = h.send(webhook(body, "Issue Hook", &[token(TOKEN)])).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn truncated_json_is_400_naming_the_problem() {
    let h = Harness::token_only();
    let body = issue_open()[..200].to_vec();
    let (status, reply) = h.send(webhook(body, "Issue Hook", &[token(TOKEN)])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply,
        json!({ "error": "invalid JSON at line 8, column 69: EOF while parsing a string" })
    );
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "invalid_payload"), 1);
}

#[tokio::test]
async fn wrong_field_type_is_400_naming_the_field() {
    let h = Harness::token_only();
    let mut json: Value = serde_json::from_slice(&issue_open()).expect("fixture");
    json["object_attributes"]["iid"] = json!("x");
    let body = serde_json::to_vec(&json).expect("serialisable");
    let (status, reply) = h.send(webhook(body, "Issue Hook", &[token(TOKEN)])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply,
        json!({ "error": "field `object_attributes.iid`: invalid type: string \"x\", expected u64" })
    );
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let h = Harness::token_only();
    let request = Request::post("/webhooks/gitlab")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-gitlab-token", TOKEN)
        .body(Body::from(issue_open()))
        .expect("valid request");
    let (status, reply) = h.send(request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        reply,
        json!({ "error": "Content-Type must be application/json" })
    );
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("rejected", "unsupported_media_type"), 1);
}

#[tokio::test]
async fn authentication_comes_before_content_type_and_parsing() {
    let h = Harness::token_only();
    let request = Request::post("/webhooks/gitlab")
        .header("content-type", "text/plain")
        .body(Body::from("not json"))
        .expect("valid request");
    let (status, _) = h.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// ---- dedupe, ignored kinds, store failure -------------------------------------------------

#[tokio::test]
async fn duplicate_webhook_id_is_stored_once() {
    let h = Harness::standard();
    let body = issue_open();
    for expected in [StatusCode::ACCEPTED, StatusCode::OK] {
        // A resend: same webhook-id, new timestamp and signature.
        let ts = h.now();
        let headers = signed_headers("msg-dup", ts, sign(OLD_KEY, "msg-dup", ts, &body));
        let (status, reply) = h.send(webhook(body.clone(), "Issue Hook", &headers)).await;
        assert_eq!(status, expected, "{reply}");
        if expected == StatusCode::OK {
            assert_eq!(reply, json!({ "status": "duplicate", "id": 1 }));
        }
    }
    assert_eq!(h.store.stored().len(), 1);
    assert_eq!(h.metric("accepted", "Issue Hook"), 1);
    assert_eq!(h.metric("duplicate", "Issue Hook"), 1);
}

#[tokio::test]
async fn idempotency_key_is_the_delivery_id_without_webhook_id() {
    let h = Harness::token_only();
    let headers = [token(TOKEN), ("idempotency-key", "idem-7".into())];
    let (status, _) = h.send(webhook(issue_open(), "Issue Hook", &headers)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(h.store.stored()[0].delivery_id, "idem-7");
}

#[tokio::test]
async fn same_body_without_ids_is_stored_once() {
    let h = Harness::token_only();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let (status, _) = h
            .send(webhook(issue_open(), "Issue Hook", &[token(TOKEN)]))
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [StatusCode::ACCEPTED, StatusCode::OK]);
    let stored = h.store.stored();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].delivery_id.starts_with("sha256:") && stored[0].delivery_id.len() == 7 + 64,
        "{}",
        stored[0].delivery_id
    );
}

#[tokio::test]
async fn unsupported_kind_is_acknowledged_not_stored_and_counted() {
    let h = Harness::token_only();
    for (fixture_path, event) in [
        ("derived/note_on_merge_request.json", "Note Hook"),
        ("derived/push_object_kind.json", "Push Hook"),
        ("derived/note_system.json", "Note Hook"),
    ] {
        let (status, reply) = h
            .send(webhook(fixture(fixture_path), event, &[token(TOKEN)]))
            .await;
        assert_eq!(status, StatusCode::OK, "{fixture_path}");
        assert_eq!(reply, json!({ "status": "ignored" }));
    }
    assert_eq!(h.store.stored().len(), 0);
    assert_eq!(h.metric("ignored", "unsupported_kind"), 3);
}

#[tokio::test]
async fn store_failure_is_503_and_not_acknowledged() {
    let h = Harness::token_only();
    h.store.fail.store(true, Ordering::SeqCst);
    let (status, reply) = h
        .send(webhook(issue_open(), "Issue Hook", &[token(TOKEN)]))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply,
        json!({ "error": "the inbox is unavailable; try again later" })
    );
    assert_eq!(h.metric("rejected", "store_unavailable"), 1);

    // GitLab retries; once the store is back the same delivery is accepted.
    h.store.fail.store(false, Ordering::SeqCst);
    let (status, _) = h
        .send(webhook(issue_open(), "Issue Hook", &[token(TOKEN)]))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(h.store.stored().len(), 1);
}

#[tokio::test]
async fn healthz_answers_ok() {
    let h = Harness::token_only();
    let request = Request::get("/healthz")
        .body(Body::empty())
        .expect("valid request");
    let (status, body) = h.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "ok" }));
}

#[test]
fn duplicate_store_index_is_one_based() {
    // Guards the harness itself: ids start at 1, like the real stores'.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = MemStore::default();
    let event = NewInboxEvent {
        delivery_id: "d".into(),
        event_kind: "Issue Hook".into(),
        issue_key: "1#1".into(),
        payload: "{}".into(),
        received_at: Utc::now(),
    };
    let first = runtime.block_on(store.enqueue(event.clone())).expect("ok");
    let second = runtime.block_on(store.enqueue(event)).expect("ok");
    assert_eq!(first, EnqueueOutcome::Accepted(1));
    assert_eq!(second, EnqueueOutcome::Duplicate(1));
}
