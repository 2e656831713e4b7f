//! Why ingest refused a request, as an HTTP answer: a status and a small JSON body
//! `{"error": …}` that names the problem without revealing any secret.

use crate::hooks::HookError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why authentication failed. GitLab users see the message in "Recent events", so it says
/// what to fix, never what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Neither a signature nor a token came.
    MissingCredentials,
    /// `X-Gitlab-Token` matched no configured token.
    BadToken,
    /// A signing token is configured but the delivery carries no `webhook-signature`.
    MissingSignature,
    /// A signature came, and a secret token is configured too, but `X-Gitlab-Token` did not.
    MissingToken,
    /// `webhook-signature` came, but `webhook-id` or `webhook-timestamp` did not (or is not a
    /// number).
    IncompleteSignatureHeaders,
    /// `webhook-timestamp` is further from now than the tolerance.
    TimestampOutOfTolerance,
    /// No signature in `webhook-signature` verified under any configured key.
    BadSignature,
    /// Nothing is configured and unauthenticated delivery was not allowed.
    NotConfigured,
}

impl AuthFailure {
    fn reason(self) -> &'static str {
        match self {
            AuthFailure::MissingCredentials => "missing_credentials",
            AuthFailure::BadToken => "bad_token",
            AuthFailure::MissingSignature => "missing_signature",
            AuthFailure::MissingToken => "missing_token",
            AuthFailure::IncompleteSignatureHeaders => "incomplete_signature_headers",
            AuthFailure::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::NotConfigured => "auth_not_configured",
        }
    }

    fn message(self) -> &'static str {
        match self {
            AuthFailure::MissingCredentials => {
                "missing credentials: send webhook-signature or X-Gitlab-Token"
            }
            AuthFailure::BadToken => "X-Gitlab-Token does not match any configured secret token",
            AuthFailure::MissingSignature => {
                "webhook-signature is required: configure the webhook's signing token in GitLab"
            }
            AuthFailure::MissingToken => {
                "X-Gitlab-Token is required as well: configure the webhook's secret token in GitLab"
            }
            AuthFailure::IncompleteSignatureHeaders => {
                "webhook-signature needs webhook-id and a numeric webhook-timestamp"
            }
            AuthFailure::TimestampOutOfTolerance => {
                "webhook-timestamp is too far from the current time"
            }
            AuthFailure::BadSignature => "webhook-signature does not verify",
            AuthFailure::NotConfigured => "webhook authentication is not configured",
        }
    }
}

/// A request ingest refuses before anything is stored.
#[derive(Debug)]
pub enum Rejection {
    /// 413: the body (or its declared `Content-Length`) exceeds the limit.
    PayloadTooLarge { limit: usize },
    /// 400: the connection failed while the body was read.
    BodyUnreadable,
    /// 401.
    Unauthorized(AuthFailure),
    /// 415: GitLab sends `application/json`.
    UnsupportedMediaType,
    /// 400: the payload could not be parsed.
    BadPayload(HookError),
    /// 400: the body is JSON labelflow accepted but not UTF-8 text (it is stored as text).
    NotUtf8,
}

impl Rejection {
    /// The status code answered.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Rejection::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::BodyUnreadable | Rejection::BadPayload(_) | Rejection::NotUtf8 => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    /// A short label for the `reason` of the rejected-webhooks metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::PayloadTooLarge { .. } => "payload_too_large",
            Rejection::BodyUnreadable => "body_unreadable",
            Rejection::Unauthorized(failure) => failure.reason(),
            Rejection::UnsupportedMediaType => "unsupported_media_type",
            Rejection::BadPayload(_) => "invalid_payload",
            Rejection::NotUtf8 => "not_utf8",
        }
    }

    /// The `error` text answered.
    pub fn message(&self) -> String {
        match self {
            Rejection::PayloadTooLarge { limit } => {
                format!("payload larger than the limit of {limit} bytes")
            }
            Rejection::BodyUnreadable => "the request body could not be read".to_string(),
            Rejection::Unauthorized(failure) => failure.message().to_string(),
            Rejection::UnsupportedMediaType => "Content-Type must be application/json".to_string(),
            Rejection::BadPayload(err) => err.to_string(),
            Rejection::NotUtf8 => "the body is not valid UTF-8".to_string(),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (self.status(), Json(json!({ "error": self.message() }))).into_response()
    }
}
