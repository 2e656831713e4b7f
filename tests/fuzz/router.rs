//! Target 1: webhook deliveries through the real axum router and a real (in-memory SQLite)
//! store. Starts from GitLab's documented payloads (and the variants derived from them) and
//! mutates bodies (bytes, JSON structure, Unicode, sizes, nesting) and headers (signature,
//! token, timestamp, ids, content type and length, event kind).
//!
//! The answer is always 200, 202, 400, 401, 413 or 415 with a JSON body (a refusal names its
//! problem), and exactly the one the request deserves: 413 above the limit, else 401 when the
//! credentials are wrong, else 415 for another content type, else 400 for a body that is not
//! JSON. Nothing refused is stored; everything answered 202 is stored once and decodes in the
//! worker.

use super::mutate;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use labelflow::clock::Clock;
use labelflow::hooks;
use labelflow::ingest::{self, IngestConfig, IngestState, WebhookSecrets};
use labelflow::metrics::Metrics;
use labelflow::store::{self, DynStore};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde::de::IgnoredAny;
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tower::ServiceExt;

const TOKEN: &str = "gitlab-secret-token";
const KEY: &[u8] = b"labelflow fuzz signing key";
const OTHER_KEY: &[u8] = b"someone else's signing key";
/// Small, so the 413 path costs little; the check is the same at GitLab's 25 MB.
pub const LIMIT: usize = 64 * 1024;
/// A fresh store every this many cases keeps memory flat over a million deliveries.
const BATCH: u64 = 1_024;

const FIXTURES: &[&str] = &[
    "gitlab-docs/issue_open.json",
    "gitlab-docs/issue_open_legacy_v11_doc.json",
    "gitlab-docs/note_on_issue.json",
    "derived/issue_close.json",
    "derived/issue_confidential.json",
    "derived/issue_legacy_no_project.json",
    "derived/issue_legacy_update_no_changes.json",
    "derived/issue_reopen.json",
    "derived/issue_update_labels.json",
    "derived/note_confidential.json",
    "derived/note_on_merge_request.json",
    "derived/note_system.json",
    "derived/push_object_kind.json",
    "derived/work_item_task.json",
];

/// How the delivery authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A valid signature over the final body, and the token.
    Signed,
    /// Garbage signatures and the valid one, space separated.
    SignedAmongOthers,
    /// Signed with a key nobody configured.
    WrongKey,
    /// The valid signature with one character changed.
    Tampered,
    /// Valid, but the timestamp is 6 minutes old (or 6 minutes ahead).
    Stale,
    /// A signature without `webhook-id`.
    NoId,
    /// A timestamp that is not a number (or does not fit one).
    BadTimestamp,
    /// A valid signature but no `X-Gitlab-Token` (both are configured).
    SignedNoToken,
    /// Only the token (allowed: the migration setting is on).
    TokenOnly,
    /// A wrong token, or bytes that are not text.
    WrongToken,
    /// Nothing at all.
    Nothing,
}

impl Auth {
    fn valid(self) -> bool {
        matches!(
            self,
            Auth::Signed | Auth::SignedAmongOthers | Auth::TokenOnly
        )
    }
}

/// One delivery: the body and every header that matters.
#[derive(Clone)]
pub struct Delivery {
    pub body: Vec<u8>,
    pub auth: Auth,
    pub webhook_id: String,
    /// Seconds from now.
    pub ts_offset: i64,
    pub content_type: Option<&'static [u8]>,
    pub event: Option<&'static [u8]>,
    /// A `Content-Length` that may lie.
    pub content_length: Option<String>,
    pub idempotency_key: Option<String>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("auth", &self.auth)
            .field("webhook_id", &self.webhook_id)
            .field("ts_offset", &self.ts_offset)
            .field(
                "content_type",
                &self.content_type.map(String::from_utf8_lossy),
            )
            .field("event", &self.event.map(String::from_utf8_lossy))
            .field("content_length", &self.content_length)
            .field("idempotency_key", &self.idempotency_key)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

const CONTENT_TYPES: &[(&[u8], bool)] = &[
    (b"application/json", true),
    (b"application/json; charset=utf-8", true),
    (b"Application/JSON", true),
    (b" application/json ;charset=UTF-8", true),
    (b"text/plain", false),
    (b"application/jsonx", false),
    (b"application/x-www-form-urlencoded", false),
    (b"", false),
    (b"\xFFapplication/json", false),
];

const EVENTS: &[&[u8]] = &[
    b"Issue Hook",
    b"Note Hook",
    b"Confidential Issue Hook",
    b"Confidential Note Hook",
    b"Push Hook",
    b"Merge Request Hook",
    b"Emoji Hook",
    b"",
    b"  Issue Hook  ",
    b"Nonsense \xFF\xFE",
];

/// The documented payloads, parsed once.
pub fn fixtures() -> Vec<Value> {
    FIXTURES
        .iter()
        .map(|name| {
            let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
        })
        .collect()
}

/// A delivery made from a documented payload with its body and headers mutated.
pub fn generate(rng: &mut StdRng, fixtures: &[Value]) -> Delivery {
    let mut payload = fixtures.choose(rng).expect("fixtures").clone();
    if rng.random_bool(0.2) {
        let kinds = [
            "issue",
            "note",
            "work_item",
            "merge_request",
            "push",
            "",
            "ISSUE",
        ];
        payload["object_kind"] = Value::from(*kinds.choose(rng).expect("kinds"));
        if rng.random_bool(0.5) {
            let types = ["Issue", "MergeRequest", "Commit", "Snippet", "issue"];
            payload["object_attributes"]["noteable_type"] =
                Value::from(*types.choose(rng).expect("types"));
        }
    }
    let body = match rng.random_range(0..20) {
        0 | 1 => serde_json::to_vec(&payload).expect("JSON"),
        2..=9 => {
            mutate::edit_json(rng, &mut payload);
            serde_json::to_vec(&payload).expect("JSON")
        }
        10..=14 => {
            let mut bytes = serde_json::to_vec(&payload).expect("JSON");
            mutate::edit_bytes(rng, &mut bytes);
            bytes
        }
        15 | 16 => {
            mutate::edit_json(rng, &mut payload);
            let mut bytes = serde_json::to_vec_pretty(&payload).expect("JSON");
            mutate::edit_bytes(rng, &mut bytes);
            bytes
        }
        17 => {
            // Around the limit: a long title.
            let len = LIMIT - 2_000 + rng.random_range(0..4_000);
            payload["object_attributes"]["title"] = Value::from("é".repeat(len / 2));
            serde_json::to_vec(&payload).expect("JSON")
        }
        18 => (0..rng.random_range(0..256))
            .map(|_| rng.random())
            .collect(),
        _ => mutate::text(rng, 6).into_bytes(),
    };
    let auths = [
        (Auth::Signed, 40),
        (Auth::SignedAmongOthers, 4),
        (Auth::WrongKey, 3),
        (Auth::Tampered, 3),
        (Auth::Stale, 3),
        (Auth::NoId, 2),
        (Auth::BadTimestamp, 2),
        (Auth::SignedNoToken, 2),
        (Auth::TokenOnly, 20),
        (Auth::WrongToken, 3),
        (Auth::Nothing, 2),
    ];
    let auth = auths.choose_weighted(rng, |a| a.1).expect("weights").0;
    let webhook_id = match rng.random_range(0..10) {
        // A small pool, so duplicates happen.
        0 => format!("msg-{}", rng.random_range(0..8)),
        1 => "x".repeat(rng.random_range(250..260)),
        2 => " ".to_string(),
        _ => format!("msg-{:016x}", rng.random::<u64>()),
    };
    let content_type = if rng.random_bool(0.85) {
        Some(CONTENT_TYPES[rng.random_range(0..2)].0)
    } else {
        rng.random_bool(0.9)
            .then(|| CONTENT_TYPES.choose(rng).expect("types").0)
    };
    let event = rng
        .random_bool(0.95)
        .then(|| *EVENTS.choose(rng).expect("events"));
    let content_length = match rng.random_range(0..20) {
        0 => Some((LIMIT + rng.random_range(1..1_000_000)).to_string()),
        1 => Some("not a number".to_string()),
        2 => Some("1".to_string()),
        _ => None,
    };
    let idempotency_key = rng
        .random_bool(0.1)
        .then(|| format!("key-{}", rng.random_range(0..8)));
    let ts_offset = match auth {
        Auth::Stale if rng.random_bool(0.5) => 360,
        Auth::Stale => -360,
        _ => rng.random_range(-200..200),
    };
    Delivery {
        body,
        auth,
        webhook_id,
        ts_offset,
        content_type,
        event,
        content_length,
        idempotency_key,
    }
}

fn signature(key: &[u8], id: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The router and its store, reused across a batch of cases.
pub struct Route {
    runtime: Runtime,
    router: Router,
    store: DynStore,
    clock: Clock,
    /// Cases since the store was made, how many of them were answered 202, and the highest
    /// inbox id answered.
    in_batch: u64,
    accepted: u64,
    last_id: i64,
    /// How many answers of each status the run got (printed, so its spread shows).
    pub statuses: BTreeMap<u16, u64>,
}

impl Route {
    pub fn new() -> Route {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let clock = Clock::system();
        let (router, store) = runtime.block_on(fresh(&clock));
        Route {
            runtime,
            router,
            store,
            clock,
            in_batch: 0,
            accepted: 0,
            last_id: 0,
            statuses: BTreeMap::new(),
        }
    }

    fn request(&self, d: &Delivery) -> Request<Body> {
        let ts = (self.clock.now().timestamp() + d.ts_offset).to_string();
        let mut b = Request::post("/webhooks/gitlab");
        let id = d.webhook_id.as_str();
        let valid = signature(KEY, id, &ts, &d.body);
        let sig = match d.auth {
            Auth::Signed | Auth::Stale | Auth::SignedNoToken => Some(valid),
            Auth::SignedAmongOthers => Some(format!("v1,AAAA v2,{valid} {valid} v1,!!")),
            Auth::WrongKey => Some(signature(OTHER_KEY, id, &ts, &d.body)),
            Auth::Tampered => Some(valid.replacen('v', "w", 1).replacen("1,", "1,A", 1)),
            Auth::NoId | Auth::BadTimestamp => Some(valid),
            Auth::TokenOnly | Auth::WrongToken | Auth::Nothing => None,
        };
        if let Some(sig) = sig {
            b = b.header("webhook-signature", sig);
        }
        if d.auth != Auth::NoId {
            b = b.header("webhook-id", id);
        }
        b = b.header(
            "webhook-timestamp",
            if d.auth == Auth::BadTimestamp {
                "99999999999999999999x".to_string()
            } else {
                ts
            },
        );
        match d.auth {
            Auth::SignedNoToken | Auth::Nothing => {}
            Auth::WrongToken => {
                b = b.header("x-gitlab-token", &b"gitlab-secret-toke\xFF"[..]);
            }
            _ => b = b.header("x-gitlab-token", TOKEN),
        }
        if let Some(ct) = d.content_type {
            b = b.header("content-type", ct);
        }
        if let Some(ev) = d.event {
            b = b.header("x-gitlab-event", ev);
        }
        if let Some(len) = &d.content_length {
            b = b.header("content-length", len.as_str());
        }
        if let Some(key) = &d.idempotency_key {
            b = b.header("idempotency-key", key.as_str());
        }
        b.body(Body::from(d.body.clone())).expect("request")
    }

    /// Sends `d` and judges the answer.
    pub fn check(&mut self, d: &Delivery) -> Result<(), String> {
        if self.in_batch == BATCH {
            self.end_batch()?;
        }
        self.in_batch += 1;
        let request = self.request(d);
        let router = self.router.clone();
        let (status, reply) = self.runtime.block_on(async move {
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("a readable answer");
            (status, bytes)
        });
        *self.statuses.entry(status.as_u16()).or_default() += 1;
        let reply: Value = serde_json::from_slice(&reply)
            .map_err(|_| format!("{status}: the answer is not JSON: {reply:?}"))?;
        let expected = expected(d);
        let fine = match expected {
            Some(code) => status == code,
            None => matches!(
                status,
                StatusCode::OK | StatusCode::ACCEPTED | StatusCode::BAD_REQUEST
            ),
        };
        if !fine {
            return Err(format!("answered {status} {reply}, expected {expected:?}"));
        }
        if status.is_client_error() {
            let message = reply["error"].as_str().unwrap_or("");
            if message.trim().is_empty() || message.contains("Some(") || message.contains("Error {")
            {
                return Err(format!("{status} without a plain message: {reply}"));
            }
        }
        match status {
            StatusCode::ACCEPTED => {
                self.accepted += 1;
                let id = reply["id"].as_i64().unwrap_or(0);
                if id <= self.last_id {
                    return Err(format!("accepted as id {id}, not a new row"));
                }
                self.last_id = id;
                let header = d.event.and_then(|e| std::str::from_utf8(e).ok());
                match hooks::parse(header, &d.body) {
                    Ok(Some(hook)) => {
                        hooks::normalise(&hook);
                    }
                    other => {
                        return Err(format!("accepted, but the worker decodes it as {other:?}"));
                    }
                }
            }
            StatusCode::OK => {
                let s = reply["status"].as_str();
                if s != Some("ignored") && s != Some("duplicate") {
                    return Err(format!("200 {reply}"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks the store holds exactly the accepted deliveries, then starts a fresh one.
    pub fn end_batch(&mut self) -> Result<(), String> {
        let stored = self
            .runtime
            .block_on(self.store.list_events(None, 100_000))
            .map_err(|e| format!("listing the store: {e}"))?
            .len() as u64;
        if stored != self.accepted {
            return Err(format!(
                "{stored} deliveries stored, {} accepted",
                self.accepted
            ));
        }
        (self.router, self.store) = self.runtime.block_on(fresh(&self.clock));
        self.in_batch = 0;
        self.accepted = 0;
        self.last_id = 0;
        Ok(())
    }
}

async fn fresh(clock: &Clock) -> (Router, DynStore) {
    let store = store::connect("sqlite::memory:").await.expect("store");
    let state = IngestState {
        store: store.clone(),
        config: Arc::new(IngestConfig {
            secrets: WebhookSecrets::new(
                vec![TOKEN.to_string()],
                vec![format!("whsec_{}", STANDARD.encode(KEY))],
            )
            .expect("secrets"),
            body_limit: LIMIT,
            timestamp_tolerance: ingest::DEFAULT_TIMESTAMP_TOLERANCE,
            allow_unauthenticated: false,
            allow_token_only: true,
        }),
        wake: Arc::new(Notify::new()),
        clock: clock.clone(),
        metrics: Metrics::new(),
    };
    (ingest::router(state), store)
}

/// The one status `d` deserves, when it is decided before the body is parsed; `None` when it
/// depends on the payload (200, 202 or 400).
fn expected(d: &Delivery) -> Option<StatusCode> {
    let declared = d
        .content_length
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok());
    if d.body.len() > LIMIT || declared.is_some_and(|n| n > LIMIT as u64) {
        return Some(StatusCode::PAYLOAD_TOO_LARGE);
    }
    if !d.auth.valid() {
        return Some(StatusCode::UNAUTHORIZED);
    }
    let json = d
        .content_type
        .and_then(|ct| CONTENT_TYPES.iter().find(|(t, _)| *t == ct))
        .is_some_and(|(_, ok)| *ok);
    if !json {
        return Some(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    if serde_json::from_slice::<IgnoredAny>(&d.body).is_err() {
        return Some(StatusCode::BAD_REQUEST);
    }
    None
}
