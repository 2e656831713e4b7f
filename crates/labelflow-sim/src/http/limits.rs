//! GitLab's application limits on issue and note creation, checked after authentication.

use std::sync::Mutex;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{Inner, add_headers, json_status, lock};
use crate::faults::RateLimiter;

/// Which application limit a request counts against: issue creation or note creation.
fn creation_limiter<'a>(
    app: &'a Inner,
    method: &str,
    path: &str,
) -> Option<&'a Mutex<RateLimiter>> {
    if method != "POST" {
        return None;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", "v4", "projects", _, "issues"] => Some(&app.issue_creations),
        ["api", "v4", "projects", _, "issues", _, "notes"] => Some(&app.note_creations),
        _ => None,
    }
}

/// GitLab's application limits (`check_rate_limit!` in the endpoint, per user): a 429 with
/// `Retry-After` but none of the `RateLimit-*` headers, which only describe the API limit.
pub(super) fn application_limit(
    app: &Inner,
    method: &str,
    path: &str,
    user: u64,
) -> Option<Response> {
    let limiter = creation_limiter(app, method, path)?;
    let decision = lock(limiter).observe(&user.to_string())?;
    if decision.allowed {
        return None;
    }
    let mut rsp = json_status(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"message": {"error": "This endpoint has been requested too many times. Try again later."}}),
    );
    add_headers(
        &mut rsp,
        &[("retry-after", decision.retry_after_secs.to_string())],
    );
    Some(rsp)
}
