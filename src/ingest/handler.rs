//! The webhook handler: enqueue a verified delivery durably, then answer. It never calls
//! GitLab, so GitLab (which waits 10 s at most) gets its answer in milliseconds.

use super::extract::GitlabWebhook;
use super::state::IngestState;
use crate::store::{EnqueueOutcome, NewInboxEvent};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

/// `POST /webhooks/gitlab`.
pub async fn receive(State(state): State<IngestState>, webhook: GitlabWebhook) -> Response {
    let span = webhook.span.clone();
    enqueue(state, webhook).instrument(span).await
}

async fn enqueue(state: IngestState, webhook: GitlabWebhook) -> Response {
    let Some(hook) = webhook.hook else {
        state.metrics.webhook("ignored", "unsupported_kind");
        tracing::info!("webhook of a kind labelflow does not handle; ignored");
        return (StatusCode::OK, Json(json!({ "status": "ignored" }))).into_response();
    };
    let kind = hook.kind_name();
    let event = NewInboxEvent {
        delivery_id: webhook.delivery_id,
        event_kind: kind.to_string(),
        issue_key: hook.issue_key().to_string(),
        payload: webhook.payload,
        received_at: state.clock.now(),
    };
    match state.store.enqueue(event).await {
        Ok(EnqueueOutcome::Accepted(id)) => {
            state.metrics.webhook("accepted", kind);
            state.wake.notify_one();
            tracing::info!(inbox_id = id, "webhook accepted");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "status": "accepted", "id": id })),
            )
                .into_response()
        }
        Ok(EnqueueOutcome::Duplicate(id)) => {
            state.metrics.webhook("duplicate", kind);
            tracing::info!(inbox_id = id, "webhook already received; duplicate ignored");
            (
                StatusCode::OK,
                Json(json!({ "status": "duplicate", "id": id })),
            )
                .into_response()
        }
        Err(err) => {
            // Nothing was acknowledged: GitLab counts the 503 as a failure and may retry.
            state.metrics.webhook("rejected", "store_unavailable");
            tracing::error!(error = %err, "could not store webhook");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "the inbox is unavailable; try again later" })),
            )
                .into_response()
        }
    }
}

/// `GET /healthz`: the process is up and serving (readiness is `/readyz`, added by the lead).
pub async fn healthz() -> Response {
    (StatusCode::OK, Json(json!({ "status": "ok" }))).into_response()
}
