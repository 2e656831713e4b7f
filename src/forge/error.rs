//! What went wrong talking to GitLab, classified by what the caller should do about it.

use super::excerpt::{self, body_excerpt, plain_duration};
use super::retry::TransportError;
use ::gitlab::api::ApiError;
use std::time::Duration;

/// What went wrong talking to GitLab, classified by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// A 4xx other than 429: retrying will not help. The event is parked with this reason.
    #[error("GitLab refused the request ({status}): {message}")]
    Permanent { status: u16, message: String },
    /// The thing is not there (deleted issue, wrong project). Permanent.
    #[error("not found on GitLab: {0}")]
    NotFound(String),
    /// Rate limited for longer than we wait in-line; retry the event after this long.
    #[error("rate limited by GitLab; retry in {}", plain_duration(*retry_after))]
    RateLimited { retry_after: Duration },
    /// 5xx, timeouts, connection problems: retried with backoff.
    #[error("GitLab is unavailable: {0}")]
    Transient(String),
}

impl ForgeError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, ForgeError::Permanent { .. } | ForgeError::NotFound(_))
    }
}

fn status_error(status: http::StatusCode, message: String) -> ForgeError {
    match status.as_u16() {
        429 => ForgeError::RateLimited {
            retry_after: Duration::from_secs(5),
        },
        404 => ForgeError::NotFound(message),
        s if s >= 500 => ForgeError::Transient(format!("{status}: {message}")),
        s => ForgeError::Permanent { status: s, message },
    }
}

impl From<ApiError<TransportError>> for ForgeError {
    fn from(e: ApiError<TransportError>) -> Self {
        match e {
            ApiError::GitlabWithStatus { status, msg } => {
                status_error(status, excerpt::short_line(&msg))
            }
            ApiError::GitlabObjectWithStatus { status, obj }
            | ApiError::GitlabUnrecognizedWithStatus { status, obj } => {
                status_error(status, excerpt::value_excerpt(&obj))
            }
            // A success status with a body that is no JSON: a garbled answer (a proxy cut it
            // short), retried like a 5xx. Its content is never quoted: it may be issue text.
            ApiError::GitlabService { status, data } if status.is_success() => {
                ForgeError::Transient(excerpt::malformed(status.as_u16(), data.len()))
            }
            ApiError::GitlabService { status, data } => status_error(status, body_excerpt(&data)),
            ApiError::GitlabRateLimited { retry_after, .. } => ForgeError::RateLimited {
                retry_after: retry_after.max(Duration::from_secs(1)),
            },
            ApiError::Client {
                source: TransportError::RateLimitedTooLong(d),
            } => ForgeError::RateLimited { retry_after: d },
            // The parser's message would quote the data (issue text): name the type only.
            ApiError::DataType { typename, .. } => ForgeError::Transient(format!(
                "GitLab's answer did not have the shape of a {}",
                typename.rsplit("::").next().unwrap_or(typename)
            )),
            other => ForgeError::Transient(other.to_string()),
        }
    }
}
