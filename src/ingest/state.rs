//! What the ingest routes share: the configuration and the handles they need.

use super::secrets::WebhookSecrets;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::DynStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

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
