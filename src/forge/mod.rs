//! Talking to GitLab: the `gitlab` crate's async client under one retry policy
//! ([`retry`]), and the typed operations the executor, worker, sweeps and setup need
//! ([`gitlab`]).

pub mod files;
pub mod gitlab;
pub mod retry;

pub use self::gitlab::{CreatedIssue, GitlabForge, IssueEdit, LinkedIssue};
pub use retry::RetryPolicy;

use ::gitlab::api::ApiError;
use retry::TransportError;
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
    #[error("rate limited by GitLab; retry in {retry_after:?}")]
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
            ApiError::GitlabWithStatus { status, msg } => status_error(status, msg),
            ApiError::GitlabObjectWithStatus { status, obj }
            | ApiError::GitlabUnrecognizedWithStatus { status, obj } => {
                status_error(status, obj.to_string())
            }
            ApiError::GitlabService { status, data } => {
                status_error(status, String::from_utf8_lossy(&data).into_owned())
            }
            ApiError::GitlabRateLimited { retry_after, .. } => ForgeError::RateLimited {
                retry_after: retry_after.max(Duration::from_secs(1)),
            },
            ApiError::Client {
                source: TransportError::RateLimitedTooLong(d),
            } => ForgeError::RateLimited { retry_after: d },
            ApiError::DataType { source, typename } => ForgeError::Permanent {
                status: 200,
                message: format!("unexpected {typename} data from GitLab: {source}"),
            },
            other => ForgeError::Transient(other.to_string()),
        }
    }
}
