//! Bad input at the HTTP route, against the real router and a real (in-memory SQLite) store:
//! a proptest fuzz of bodies and headers (no panic; every rejection a 4xx with a message), and
//! the cases tests/ingest.rs does not cover: a replayed signature once its timestamp is old,
//! deeply nested JSON, huge label lists, unicode and right-to-left titles, unknown event kinds,
//! and `labelflow serve` refusing to start without a webhook secret.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use labelflow::clock::Clock;
use labelflow::hooks;
use labelflow::ingest::{self, IngestConfig, IngestState, WebhookSecrets};
use labelflow::metrics::Metrics;
use labelflow::sim::sign;
use labelflow::store::{self, DynStore};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::Notify;
use tower::ServiceExt;

const TOKEN: &str = "gitlab-secret-token";
const SIGNING: &str = "whsec_dGVzdC1zaWduaW5nLWtleS0xMjM0NTY3ODkw";
const LIMIT: usize = 2 * 1024 * 1024;

struct Route {
    state: IngestState,
    store: DynStore,
}

async fn route() -> Route {
    let store = store::connect("sqlite::memory:").await.expect("store");
    let state = IngestState {
        store: store.clone(),
        config: Arc::new(IngestConfig {
            secrets: WebhookSecrets::new(vec![TOKEN.to_string()], vec![SIGNING.to_string()])
                .expect("secrets"),
            body_limit: LIMIT,
            timestamp_tolerance: ingest::DEFAULT_TIMESTAMP_TOLERANCE,
            allow_unauthenticated: false,
            // Deliveries with the token alone model hooks of GitLab before 19.0 during the
            // migration to signatures (docs/operations.md, "Webhook authentication").
            allow_token_only: true,
        }),
        wake: Arc::new(Notify::new()),
        clock: Clock::system(),
        metrics: Metrics::new(),
    };
    Route { state, store }
}

impl Route {
    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = ingest::router(self.state.clone())
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({ "non_json": String::from_utf8_lossy(&bytes) }));
        (status, body)
    }

    async fn stored(&self) -> usize {
        self.store
            .list_events(None, 10_000)
            .await
            .expect("list")
            .len()
    }
}

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&full).expect("fixture")).expect("JSON fixture")
}

fn with_token(body: Vec<u8>, event: &str) -> Request<Body> {
    Request::post("/webhooks/gitlab")
        .header("content-type", "application/json")
        .header("x-gitlab-event", event)
        .header("x-gitlab-token", TOKEN)
        .body(Body::from(body))
        .expect("request")
}

fn signed(body: &[u8], id: &str, ts: i64) -> Request<Body> {
    let text = String::from_utf8_lossy(body);
    let signature = sign(SIGNING, id, &ts.to_string(), &text).expect("signs");
    Request::post("/webhooks/gitlab")
        .header("content-type", "application/json")
        .header("x-gitlab-event", "Issue Hook")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        // GitLab sends both when the hook has both secrets.
        .header("x-gitlab-token", TOKEN)
        .body(Body::from(body.to_vec()))
        .expect("request")
}

/// Every answer is a 2xx, or a 4xx carrying a non-empty message (never a 5xx: the store works).
fn assert_clear(status: StatusCode, body: &Value) {
    if status.is_success() {
        return;
    }
    assert!(
        status.is_client_error(),
        "{status} is neither success nor a client error: {body}"
    );
    let message = body["error"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "{status} without a message: {body}");
}

#[tokio::test]
async fn a_replayed_signature_is_refused_once_its_timestamp_is_old() {
    let r = route().await;
    let body = serde_json::to_vec(&fixture("gitlab-docs/issue_open.json")).expect("JSON");
    let ts = r.state.clock.now().timestamp();
    let (status, _) = r.send(signed(&body, "msg-replay", ts)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The same bytes and headers again: within the window, a duplicate.
    let (status, reply) = r.send(signed(&body, "msg-replay", ts)).await;
    assert_eq!(
        (status, reply["status"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    // Six minutes later the captured request is refused before dedupe even looks at it, and
    // so is the same signature under a fresh webhook-id.
    r.state.clock.advance(chrono::Duration::minutes(6));
    for id in ["msg-replay", "msg-replay-new-id"] {
        let (status, reply) = r.send(signed(&body, id, ts)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{id}");
        assert_eq!(
            reply,
            json!({ "error": "webhook-timestamp is too far from the current time" })
        );
    }
    assert_eq!(r.stored().await, 1);
}

/// `[[[…]]]` ten thousand levels deep, in place of the JSON string `"placeholder"`.
fn nest(payload: &Value) -> Vec<u8> {
    let depth = 10_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    serde_json::to_string(payload)
        .expect("JSON")
        .replace("\"placeholder\"", &nested)
        .into_bytes()
}

#[tokio::test]
async fn deeply_nested_json_is_400_where_read_and_harmless_where_skipped() {
    let r = route().await;
    // In a field the parser reads as any JSON value: refused, naming the problem.
    let mut note = fixture("gitlab-docs/note_on_issue.json");
    note["object_attributes"]["system"] = json!("placeholder");
    let (status, reply) = r.send(with_token(nest(&note), "Note Hook")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = reply["error"].as_str().unwrap_or("");
    assert!(message.contains("recursion limit exceeded"), "{reply}");
    assert_eq!(r.stored().await, 0);

    // In a field nobody reads: skipped without recursion, accepted, and the worker's decode
    // of the stored body gives the same event as without it.
    let plain = fixture("gitlab-docs/issue_open.json");
    let mut padded = plain.clone();
    padded["extra"] = json!("placeholder");
    let body = nest(&padded);
    let (status, _) = r.send(with_token(body.clone(), "Issue Hook")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let decode = |bytes: &[u8]| {
        hooks::normalise(
            &hooks::parse(Some("Issue Hook"), bytes)
                .expect("parses")
                .expect("an issue hook"),
        )
    };
    assert_eq!(
        decode(&body),
        decode(&serde_json::to_vec(&plain).expect("JSON"))
    );
}

#[tokio::test]
async fn a_huge_label_list_is_accepted_and_normalised_in_full() {
    let r = route().await;
    let mut payload = fixture("derived/issue_update_labels.json");
    let labels: Vec<Value> = (0..5_000)
        .map(|n| json!({ "id": 100_000 + n, "title": format!("bulk::{n}"), "color": "#fff" }))
        .collect();
    payload["labels"] = json!(labels);
    payload["changes"]["labels"]["previous"] = json!([]);
    payload["changes"]["labels"]["current"] = json!(labels);
    let body = serde_json::to_vec(&payload).expect("JSON");
    assert!(body.len() > 300_000, "a big body: {}", body.len());
    let (status, reply) = r.send(with_token(body.clone(), "Issue Hook")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let hook = hooks::parse(Some("Issue Hook"), &body)
        .expect("parses")
        .expect("an issue hook");
    let event = hooks::normalise(&hook);
    assert_eq!(event.labels_added.len(), 5_000);
    assert_eq!(event.labels_added[4_999], "bulk::4999");
    assert_eq!(event.labels_removed, Vec::<String>::new());
}

#[tokio::test]
async fn unicode_and_right_to_left_titles_are_stored_byte_for_byte() {
    let r = route().await;
    let title = "طلب شراكة \u{202B}עברית\u{202C} — Ünïcødé 🚀 \u{0000}\u{FEFF}";
    let mut payload = fixture("gitlab-docs/issue_open.json");
    payload["object_attributes"]["title"] = json!(title);
    let body = serde_json::to_vec(&payload).expect("JSON");
    let (status, _) = r.send(with_token(body.clone(), "Issue Hook")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let claimed = r
        .store
        .claim("w", std::time::Duration::from_secs(30), r.state.clock.now())
        .await
        .expect("claim")
        .expect("stored");
    assert_eq!(claimed.payload.as_bytes(), body.as_slice());
    let stored: Value = serde_json::from_str(&claimed.payload).expect("JSON");
    assert_eq!(stored["object_attributes"]["title"], title);
}

#[tokio::test]
async fn unknown_event_kinds_are_acknowledged_and_ignored() {
    let r = route().await;
    let mut emoji = fixture("gitlab-docs/issue_open.json");
    emoji["object_kind"] = json!("emoji");
    emoji["event_type"] = json!("award");
    let mut kindless = fixture("gitlab-docs/issue_open.json");
    kindless
        .as_object_mut()
        .expect("object")
        .remove("object_kind");
    for (payload, header) in [
        (emoji, "Emoji Hook"),
        (kindless, "Issue Hook"),
        (
            json!({ "object_kind": "vulnerability" }),
            "Vulnerability Hook",
        ),
        (json!({}), "Resource Access Token Hook"),
    ] {
        let body = serde_json::to_vec(&payload).expect("JSON");
        let (status, reply) = r.send(with_token(body, header)).await;
        assert_eq!(
            (status, reply),
            (StatusCode::OK, json!({ "status": "ignored" })),
            "{header}"
        );
    }
    assert_eq!(r.stored().await, 0);
}

/// A fixture with one value replaced somewhere (by a JSON pointer the strategy picks).
fn mutated(base: &Value, pointer: &str, value: Value) -> Vec<u8> {
    let mut v = base.clone();
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = value;
    }
    serde_json::to_vec(&v).expect("JSON")
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const POINTERS: &[&str] = &[
    "/object_kind",
    "/event_type",
    "/user",
    "/user/username",
    "/project",
    "/project/id",
    "/project/path_with_namespace",
    "/object_attributes",
    "/object_attributes/iid",
    "/object_attributes/id",
    "/object_attributes/action",
    "/object_attributes/updated_at",
    "/object_attributes/labels",
    "/object_attributes/noteable_type",
    "/object_attributes/note",
    "/object_attributes/system",
    "/labels",
    "/changes",
    "/changes/labels",
    "/changes/labels/current",
    "/issue",
    "/issue/iid",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Fixtures with any value anywhere replaced, any event header, sometimes a wrong content
    /// type or no token: never a panic, never a 5xx, every refusal a 4xx with a message, and a
    /// body is stored only when it was answered 202.
    #[test]
    fn the_route_answers_every_mutated_payload_clearly(
        fixture_name in prop::sample::select(vec![
            "gitlab-docs/issue_open.json",
            "gitlab-docs/issue_open_legacy_v11_doc.json",
            "gitlab-docs/note_on_issue.json",
            "derived/issue_update_labels.json",
            "derived/note_system.json",
            "derived/work_item_task.json",
        ]),
        pointer in prop::sample::select(POINTERS.to_vec()),
        value in json_value(),
        header in prop::sample::select(vec![
            "Issue Hook", "Note Hook", "Confidential Issue Hook", "Push Hook", "", "Nonsense",
        ]),
        content_type in prop::sample::select(vec![
            "application/json", "application/json; charset=utf-8", "text/plain", "",
        ]),
        authenticated in prop::bool::weighted(0.9),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let r = route().await;
            let body = mutated(&fixture(fixture_name), pointer, value);
            let mut b = Request::post("/webhooks/gitlab").header("x-gitlab-event", header);
            if !content_type.is_empty() {
                b = b.header("content-type", content_type);
            }
            if authenticated {
                b = b.header("x-gitlab-token", TOKEN);
            }
            let (status, reply) = r.send(b.body(Body::from(body)).expect("request")).await;
            assert_clear(status, &reply);
            let stored = r.stored().await;
            assert_eq!(stored, usize::from(status == StatusCode::ACCEPTED), "{status} {reply}");
            if !authenticated {
                assert_eq!(status, StatusCode::UNAUTHORIZED);
            }
        });
    }

    /// Arbitrary bytes with a valid token: a clear answer, never a panic.
    #[test]
    fn the_route_answers_arbitrary_bytes_clearly(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let r = route().await;
            let (status, reply) = r.send(with_token(body, "Issue Hook")).await;
            assert_clear(status, &reply);
            prop_assert!(status != StatusCode::ACCEPTED, "{}", reply);
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn serve_refuses_to_start_without_a_webhook_secret_unless_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = format!(
        "{}/tests/configs/basic/labelflow.yml",
        env!("CARGO_MANIFEST_DIR")
    );
    let database = dir.path().join("labelflow.db");
    let run = |allow: bool| {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_labelflow"));
        c.arg("serve")
            .args(["--admin-listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(&config)
            .arg("--database")
            .arg(&database)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--gitlab-url")
            .arg("http://127.0.0.1:1")
            .env_clear()
            .env("LABELFLOW_GITLAB_TOKEN", "glpat-test")
            .kill_on_drop(true);
        if allow {
            c.arg("--allow-unauthenticated-webhooks");
        }
        c
    };
    let out = run(false).output().await.expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: no webhook secret configured: set LABELFLOW_WEBHOOK_SIGNING_TOKEN"),
        "{stderr}"
    );
    assert!(!database.exists(), "refused before opening the database");

    // Explicitly allowed: it starts (and keeps running until stopped).
    let mut child = run(true)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(child.try_wait().expect("wait").is_none(), "still running");
    child.kill().await.expect("killed");
}
