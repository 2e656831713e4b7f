//! The one retry policy every GitLab call goes through.
//!
//! [`RetryingClient`] sits under the `gitlab` crate's endpoints (it implements the crate's
//! `RestClient` / `AsyncClient`), so each endpoint's `query_async` gets the same behaviour:
//! - 429: wait for `Retry-After` (or until `RateLimit-Reset`), without using up an attempt;
//! - 5xx and timeouts: exponential backoff with full jitter, for idempotent methods only. A POST
//!   that failed may still have been applied, so it is not blindly re-sent: the error goes up
//!   and the executor's check-before-create decides on the next attempt;
//! - GraphQL (`POST /api/graphql`) is retried like a PUT: labelflow only reads through it or
//!   sets a widget to a value, which is idempotent;
//! - before each attempt, the process-wide [`Pacer`] decides when it may go: API calls by the
//!   `RateLimit-*` headers, issue and note creations by the configured application limits, so
//!   a bulk run does not hit the wall;
//! - missing or garbled headers fall back to defaults.
//!
//! Written by hand because the crates we looked at (backon, tokio-retry) retry closures, while
//! here the decision depends on the HTTP response and one of the cases must not count as an
//! attempt.

use super::pacer::{Creation, Pacer, Pacing};
use crate::metrics::Metrics;
use async_trait::async_trait;
use bytes::Bytes;
use gitlab::api::{ApiError, AsyncClient, RestClient};
use http::{HeaderMap, Method, Response, StatusCode, request::Builder as RequestBuilder};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Knobs of the retry policy.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts for 5xx / timeouts on idempotent requests (1 = no retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Per-attempt timeout.
    pub request_timeout: Duration,
    /// How calls are paced to stay under GitLab's rate limits.
    pub pacing: Pacing,
    /// Give up waiting on 429s after this long in total (the event is retried later).
    pub max_rate_limit_wait: Duration,
    /// Wait used when a 429 carries no usable header.
    pub default_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            pacing: Pacing::default(),
            max_rate_limit_wait: Duration::from_secs(300),
            default_retry_after: Duration::from_secs(5),
        }
    }
}

/// Errors below the `gitlab` crate's own (transport level).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{0}")]
    Gitlab(#[from] gitlab::RestError),
    #[error("GitLab did not answer within {}", super::excerpt::plain_duration(*.0))]
    Timeout(Duration),
    /// Holds the wait GitLab asked for last, so the message says when to come back.
    #[error("rate limited by GitLab; it asked to wait {}", super::excerpt::plain_duration(*.0))]
    RateLimitedTooLong(Duration),
    #[error("cannot rebuild request: {0}")]
    Request(String),
}

/// A `gitlab` crate client that applies [`RetryPolicy`] to every request.
#[derive(Clone)]
pub struct RetryingClient {
    inner: gitlab::AsyncGitlab,
    policy: RetryPolicy,
    metrics: Arc<Metrics>,
    /// Shared by every clone, so all workers of the process pace together.
    pacer: Pacer,
    /// `PRIVATE-TOKEN` sent with every request, when the inner client was built without one
    /// (so that building it does not spend a `GET /user` of its own).
    token: Option<http::HeaderValue>,
}

impl RetryingClient {
    pub fn new(inner: gitlab::AsyncGitlab, policy: RetryPolicy, metrics: Arc<Metrics>) -> Self {
        let pacer = Pacer::new(policy.pacing.clone());
        RetryingClient {
            inner,
            policy,
            metrics,
            pacer,
            token: None,
        }
    }

    /// Sends `token` as `PRIVATE-TOKEN` with every request (marked sensitive: never logged).
    pub fn with_token(mut self, token: &str) -> Result<Self, TransportError> {
        let mut value = http::HeaderValue::from_str(token)
            .map_err(|_| TransportError::Request("the token is not a valid header value".into()))?;
        value.set_sensitive(true);
        self.token = Some(value);
        Ok(self)
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }
}

impl RestClient for RetryingClient {
    type Error = TransportError;

    fn rest_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        self.inner
            .rest_endpoint(endpoint)
            .map_err(|e| e.map_client(TransportError::Gitlab))
    }

    fn instance_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        self.inner
            .instance_endpoint(endpoint)
            .map_err(|e| e.map_client(TransportError::Gitlab))
    }
}

fn is_idempotent(m: &Method, path: &str) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    ) || (*m == Method::POST && path.ends_with(GRAPHQL_PATH))
}

/// GraphQL goes over POST, but every operation labelflow sends is a query (a read) or a
/// `workItemUpdate` that sets a widget to a value: sending it twice leaves the item as sending
/// it once does, so a 5xx or timeout may be retried like a PUT.
const GRAPHQL_PATH: &str = "/api/graphql";

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long a 429 asks us to wait: `Retry-After` seconds, else `RateLimit-Reset` (Unix time)
/// minus now, else the default.
pub fn retry_after(h: &HeaderMap, default: Duration) -> Duration {
    if let Some(s) = header_u64(h, "retry-after") {
        return Duration::from_secs(s.max(1));
    }
    if let Some(reset) = header_u64(h, "ratelimit-reset") {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        if reset > now {
            return Duration::from_secs(reset - now);
        }
        return Duration::from_secs(1);
    }
    default
}

/// A success answer that says it is JSON but does not parse: cut short or garbled on the way,
/// so worth another try like a 5xx.
fn excerpt_is_garbled(resp: &Response<Bytes>) -> bool {
    let json = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    json && resp.status().is_success()
        && serde_json::from_slice::<serde::de::IgnoredAny>(resp.body()).is_err()
}

/// Full-jitter exponential backoff: a random delay in `[0, min(max, base * 2^attempt)]`.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << attempt.min(16))
        .min(policy.max_delay);
    let ms = exp.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}

/// Endpoint name for metrics: the path with ids replaced (`projects/:id/issues/:iid/notes`).
fn endpoint_label(path: &str) -> String {
    let p = path.split("/api/v4/").nth(1).unwrap_or(path);
    p.split('/')
        .map(|seg| {
            if seg.chars().all(|c| c.is_ascii_digit()) || seg.contains("%2F") {
                ":id"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[async_trait]
impl AsyncClient for RetryingClient {
    async fn rest_async(
        &self,
        request: RequestBuilder,
        body: Vec<u8>,
    ) -> Result<Response<Bytes>, ApiError<Self::Error>> {
        let method = request.method_ref().cloned().unwrap_or(Method::GET);
        let uri = request
            .uri_ref()
            .cloned()
            .ok_or_else(|| ApiError::client(TransportError::Request("no URI".into())))?;
        let headers = request.headers_ref().cloned().unwrap_or_default();
        let endpoint = endpoint_label(uri.path());
        let idempotent = is_idempotent(&method, uri.path());
        let creation = Creation::of(&method, &endpoint);
        let p = &self.policy;
        let mut attempt: u32 = 0;
        let mut waited = Duration::ZERO;

        loop {
            let mut b = http::Request::builder()
                .method(method.clone())
                .uri(uri.clone());
            for (k, v) in &headers {
                b = b.header(k, v);
            }
            if let Some(token) = &self.token {
                b = b.header("PRIVATE-TOKEN", token.clone());
            }
            let (paced, permit) = self.pacer.acquire(creation).await;
            if !paced.is_zero() {
                self.metrics.rate_limit_wait(paced);
            }
            let outcome =
                tokio::time::timeout(p.request_timeout, self.inner.rest_async(b, body.clone()))
                    .await;
            let status_label;
            let result = match outcome {
                Err(_) => {
                    status_label = "timeout".to_string();
                    Err(ApiError::client(TransportError::Timeout(p.request_timeout)))
                }
                Ok(Err(e)) => {
                    status_label = "error".to_string();
                    Err(e.map_client(TransportError::Gitlab))
                }
                Ok(Ok(resp)) => {
                    status_label = resp.status().as_u16().to_string();
                    self.pacer.observe(
                        permit,
                        creation,
                        resp.status().as_u16(),
                        resp.headers(),
                        retry_after(resp.headers(), p.default_retry_after),
                    );
                    Ok(resp)
                }
            };
            self.metrics
                .gitlab_call(method.as_str(), &endpoint, &status_label);

            match result {
                Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after(resp.headers(), p.default_retry_after);
                    if waited + wait > p.max_rate_limit_wait {
                        // Waiting longer is the caller's call (the worker retries the event
                        // later): tell it how long GitLab asked for.
                        return Err(ApiError::client(TransportError::RateLimitedTooLong(wait)));
                    }
                    waited += wait;
                    self.metrics.rate_limit_wait(wait);
                    tracing::warn!(%endpoint, wait_ms = wait.as_millis() as u64, "GitLab rate limit (429); waiting");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Ok(resp) if resp.status().is_server_error() => {
                    attempt += 1;
                    if idempotent && attempt < p.max_attempts {
                        let d = backoff(p, attempt);
                        tracing::warn!(%endpoint, status = resp.status().as_u16(), attempt, delay_ms = d.as_millis() as u64, "GitLab server error; retrying");
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Ok(resp);
                }
                Ok(resp) if idempotent && excerpt_is_garbled(&resp) => {
                    attempt += 1;
                    if attempt < p.max_attempts {
                        let d = backoff(p, attempt);
                        tracing::warn!(%endpoint, status = resp.status().as_u16(), bytes = resp.body().len(), attempt, delay_ms = d.as_millis() as u64, "GitLab sent a malformed answer; retrying");
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Ok(resp);
                }
                Ok(resp) => return Ok(resp),
                Err(e) => {
                    attempt += 1;
                    let transient = matches!(
                        &e,
                        ApiError::Client {
                            source: TransportError::Timeout(_) | TransportError::Gitlab(_)
                        }
                    );
                    if transient && idempotent && attempt < p.max_attempts {
                        let d = backoff(p, attempt);
                        tracing::warn!(%endpoint, error = %e, attempt, "GitLab request failed; retrying");
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_header_then_reset_then_default() {
        let mut h = HeaderMap::new();
        assert_eq!(
            retry_after(&h, Duration::from_secs(7)),
            Duration::from_secs(7)
        );
        let reset = chrono::Utc::now().timestamp() + 30;
        h.insert("ratelimit-reset", reset.to_string().parse().unwrap());
        let w = retry_after(&h, Duration::from_secs(7));
        assert!(
            w >= Duration::from_secs(28) && w <= Duration::from_secs(30),
            "{w:?}"
        );
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            retry_after(&h, Duration::from_secs(7)),
            Duration::from_secs(3)
        );
        h.insert("retry-after", "garbage".parse().unwrap());
        assert!(retry_after(&h, Duration::from_secs(7)) >= Duration::from_secs(28));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for a in 0..30 {
            let d = backoff(&p, a);
            assert!(d <= p.max_delay, "{d:?}");
        }
        assert!(backoff(&p, 1) <= Duration::from_millis(500));
    }

    #[test]
    fn endpoint_labels_hide_ids() {
        assert_eq!(
            endpoint_label("/api/v4/projects/14/issues/23/notes"),
            "projects/:id/issues/:id/notes"
        );
        assert_eq!(endpoint_label("/api/v4/projects/a%2Fb"), "projects/:id");
    }
}
