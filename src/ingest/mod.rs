//! Webhook ingest: limit, verify, parse, dedupe, durable append, acknowledge.
//!
//! Shaped like bors: the [`GitlabWebhook`] extractor turns a request into a verified, parsed
//! delivery (or a [`Rejection`]); the handler only enqueues it and answers. Ingest never calls
//! GitLab; the worker processes the inbox.

mod extract;
mod handler;
mod rejection;
mod secrets;
mod verify;

pub use extract::GitlabWebhook;
pub use rejection::{AuthFailure, Rejection};
pub use secrets::WebhookSecrets;
pub use verify::Authenticated;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::DynStore;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// GitLab's own maximum payload size (25 MB); a sensible default for `body_limit`.
pub const GITLAB_MAX_PAYLOAD: usize = 25 * 1024 * 1024;

/// Standard Webhooks' recommended window for `webhook-timestamp`.
pub const DEFAULT_TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// How ingest authenticates and limits deliveries.
#[derive(Debug)]
pub struct IngestConfig {
    pub secrets: WebhookSecrets,
    /// Largest body accepted, in bytes (413 above).
    pub body_limit: usize,
    /// How far `webhook-timestamp` may be from now, either way.
    pub timestamp_tolerance: Duration,
    /// Accept unauthenticated deliveries; only honoured when no secret is configured at all,
    /// and only when the operator asked for it explicitly.
    pub allow_unauthenticated: bool,
    /// Accept a valid `X-Gitlab-Token` without a signature although signing tokens are
    /// configured: for the migration to signing only (older GitLab sends no signature).
    pub allow_token_only: bool,
}

/// What the ingest routes share.
#[derive(Clone)]
pub struct IngestState {
    pub store: DynStore,
    pub config: Arc<IngestConfig>,
    /// Notified after each accepted delivery, so an idle worker claims it at once.
    pub wake: Arc<Notify>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

/// `POST /webhooks/gitlab`, `GET /healthz`. (The lead adds /readyz and /metrics later.)
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route("/webhooks/gitlab", post(handler::receive))
        .route("/healthz", get(handler::healthz))
        .with_state(state)
}
