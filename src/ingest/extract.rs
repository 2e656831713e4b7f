//! The GitLab webhook extractor: everything a request must pass before it may be enqueued.
//!
//! Order (DESIGN §1.1): body limit (413) → authenticate on the raw bytes (401) → content type
//! (415) → parse (400) → delivery id. Every refusal is counted and logged here, so the handler
//! only enqueues and answers.

use super::rejection::Rejection;
use super::state::IngestState;
use super::verify::authenticate;
use crate::hooks::{self, Hook};
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use sha2::{Digest, Sha256};
use tracing::Instrument;
use tracing::field::Empty;

/// A verified, parsed webhook delivery.
#[derive(Debug)]
pub struct GitlabWebhook {
    /// `webhook-id`, else `Idempotency-Key`, else `sha256:<hex of body>`.
    pub delivery_id: String,
    /// `None` for kinds labelflow does not handle (acknowledged and ignored).
    pub hook: Option<Hook>,
    /// The raw body, as text, for the inbox.
    pub payload: String,
    /// The request's span (`webhook`, with delivery id, kind and issue key).
    pub span: tracing::Span,
}

/// Delivery ids longer than this are not trusted as ids (the body hash is used instead).
const MAX_DELIVERY_ID_LEN: usize = 255;

impl FromRequest<IngestState> for GitlabWebhook {
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &IngestState) -> Result<Self, Self::Rejection> {
        let span = tracing::info_span!(
            "webhook",
            delivery_id = Empty,
            kind = Empty,
            issue_key = Empty
        );
        let result = extract(req, state, span.clone())
            .instrument(span.clone())
            .await;
        if let Err(rejection) = &result {
            state.metrics.webhook("rejected", rejection.reason());
            span.in_scope(|| {
                tracing::warn!(
                    status = rejection.status().as_u16(),
                    reason = rejection.reason(),
                    error = %rejection.message(),
                    "webhook rejected"
                );
            });
        }
        result
    }
}

async fn extract(
    req: Request,
    state: &IngestState,
    span: tracing::Span,
) -> Result<GitlabWebhook, Rejection> {
    let limit = state.config.body_limit;
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(Rejection::PayloadTooLarge { limit });
    }
    let body = read_limited(body, limit).await?;

    let auth = authenticate(&parts.headers, &body, &state.config, state.clock.now())
        .map_err(Rejection::Unauthorized)?;
    tracing::debug!(auth = auth.as_str(), "webhook authenticated");

    if !is_json(&parts.headers) {
        return Err(Rejection::UnsupportedMediaType);
    }

    let event_header = parts
        .headers
        .get("x-gitlab-event")
        .and_then(|v| v.to_str().ok());
    let hook = hooks::parse(event_header, &body).map_err(Rejection::BadPayload)?;

    let delivery_id = delivery_id(&parts.headers, &body);
    span.record("delivery_id", delivery_id.as_str());
    if let Some(hook) = &hook {
        span.record("kind", hook.kind_name());
        span.record("issue_key", hook.issue_key().to_string().as_str());
    }

    let payload = String::from_utf8(Vec::from(body)).map_err(|_| Rejection::NotUtf8)?;
    Ok(GitlabWebhook {
        delivery_id,
        hook,
        payload,
        span,
    })
}

/// Reads the body, refusing as soon as it grows past `limit` (a missing or lying
/// `Content-Length` must not let a client make us buffer more).
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, Rejection> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if e.into_inner().is::<http_body_util::LengthLimitError>() {
            Rejection::PayloadTooLarge { limit }
        } else {
            Rejection::BodyUnreadable
        }
    })
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The id GitLab keeps across retries and resends (`webhook-id`, equal to `Idempotency-Key`),
/// else a hash of the body, so a redelivery without ids is still recognised.
fn delivery_id(headers: &HeaderMap, body: &[u8]) -> String {
    ["webhook-id", "idempotency-key"]
        .iter()
        .filter_map(|name| headers.get(*name))
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .find(|id| !id.is_empty() && id.len() <= MAX_DELIVERY_ID_LEN)
        .map(str::to_string)
        .unwrap_or_else(|| body_hash_id(body))
}

fn body_hash_id(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn delivery_id_prefers_webhook_id_then_idempotency_key_then_body_hash() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            delivery_id(&headers, b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        headers.insert("idempotency-key", HeaderValue::from_static("key-1"));
        assert_eq!(delivery_id(&headers, b"abc"), "key-1");
        headers.insert("webhook-id", HeaderValue::from_static("msg-1"));
        assert_eq!(delivery_id(&headers, b"abc"), "msg-1");
        headers.insert("webhook-id", HeaderValue::from_static("  "));
        assert_eq!(delivery_id(&headers, b"abc"), "key-1");
    }

    #[test]
    fn json_content_type_allows_parameters() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(is_json(&headers));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_json(&headers));
    }
}
