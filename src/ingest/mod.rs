//! Webhook ingest: limit, verify, parse, dedupe, durable append, acknowledge.
//!
//! Shaped like bors: the [`GitlabWebhook`] extractor turns a request into a verified, parsed
//! delivery (or a [`Rejection`]); the handler only enqueues it and answers. Ingest never calls
//! GitLab; the worker processes the inbox.

mod extract;
mod handler;
mod rejection;
mod secrets;
mod state;
mod verify;

pub use extract::GitlabWebhook;
pub use rejection::{AuthFailure, Rejection};
pub use secrets::WebhookSecrets;
pub use state::{IngestConfig, IngestState};
pub use verify::Authenticated;

use axum::Router;
use axum::routing::{get, post};
use std::time::Duration;

/// GitLab's own maximum payload size (25 MB); a sensible default for `body_limit`.
pub const GITLAB_MAX_PAYLOAD: usize = 25 * 1024 * 1024;

/// Standard Webhooks' recommended window for `webhook-timestamp`.
pub const DEFAULT_TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// `POST /webhooks/gitlab`, `GET /healthz`. (The lead adds /readyz and /metrics later.)
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route("/webhooks/gitlab", post(handler::receive))
        .route("/healthz", get(handler::healthz))
        .with_state(state)
}
