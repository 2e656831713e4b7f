//! The REST API (`/api/v4/...`): router, the gate every request passes (latency, API rate
//! limit, faults, authentication, application limits, request log), parameter parsing and
//! GitLab's error bodies.

mod branches;
mod files;
mod graphql;
mod groups;
mod hooks;
mod issues;
mod labels;
mod limits;
mod notes;
mod users;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::faults::{FaultKind, Faults, RateDecision, RateLimiter};
use super::hook_payload::HookEvent;
use super::hook_sender::HookSender;
use super::pagination::{self, Page, RequestUrl};
use super::state::{SimError, SimState};

/// One API request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Status answered; `0` for a request held by a timeout fault (never answered in time).
    pub status: u16,
    pub token: Option<String>,
    /// The user the token belongs to, if any.
    pub username: Option<String>,
    pub at: DateTime<Utc>,
}

impl RequestRecord {
    /// Anything but GET/HEAD.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }
}

/// Everything the server and the Rust API share.
pub(crate) struct Inner {
    pub state: Mutex<SimState>,
    pub faults: Mutex<Faults>,
    pub limiter: Mutex<RateLimiter>,
    /// Application limits, per user: issue creations and note creations.
    pub issue_creations: Mutex<RateLimiter>,
    pub note_creations: Mutex<RateLimiter>,
    pub latency: Mutex<Duration>,
    /// Whether project issue listings honour `pagination=keyset` (GitLab 18.3 and later);
    /// older GitLab answers page-number pages instead.
    pub project_issues_keyset: std::sync::atomic::AtomicBool,
    pub requests: Mutex<Vec<RequestRecord>>,
    pub sender: HookSender,
    pub base_url: String,
}

/// Locks a mutex, carrying on with the data if a panicking test thread poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// Hands hook events to the sender, for the hooks configured right now.
    pub fn dispatch(&self, events: Vec<HookEvent>) {
        if events.is_empty() {
            return;
        }
        let hooks: Vec<_> = lock(&self.state).hooks.values().cloned().collect();
        for event in &events {
            self.sender.dispatch(hooks.iter(), event);
        }
    }
}

pub(crate) type App = Arc<Inner>;

/// The authenticated caller, put in the request extensions by [`gate`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthUser(pub u64);

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/api/graphql", axum::routing::post(graphql::graphql))
        .route("/api/v4/user", get(users::current_user))
        .route("/api/v4/users", get(users::list_users))
        .route("/api/v4/users/{user_id}", get(users::get_user))
        .route("/api/v4/projects/{id}", get(users::get_project))
        .route(
            "/api/v4/projects/{id}/members/all",
            get(users::list_members),
        )
        .route(
            "/api/v4/projects/{id}/members/all/{user_id}",
            get(users::get_member),
        )
        .route(
            "/api/v4/projects/{id}/issues",
            get(issues::list_project_issues).post(issues::create_issue),
        )
        .route("/api/v4/groups/{id}", get(groups::get_group))
        .route("/api/v4/groups/{id}/labels", get(groups::list_group_labels))
        .route(
            "/api/v4/groups/{id}/labels/{label_id}",
            axum::routing::put(groups::edit_group_label),
        )
        .route(
            "/api/v4/groups/{id}/members/all/{user_id}",
            get(groups::get_group_member),
        )
        .route(
            "/api/v4/projects/{id}/protected_branches",
            get(branches::list_protected_branches),
        )
        .route(
            "/api/v4/projects/{id}/repository/branches/{branch}",
            get(branches::get_branch),
        )
        .route("/api/v4/groups/{id}/issues", get(issues::list_group_issues))
        .route(
            "/api/v4/projects/{id}/issues_statistics",
            get(issues::project_issues_statistics),
        )
        .route(
            "/api/v4/groups/{id}/issues_statistics",
            get(issues::group_issues_statistics),
        )
        .route(
            "/api/v4/projects/{id}/issues/{iid}",
            get(issues::get_issue).put(issues::edit_issue),
        )
        .route(
            "/api/v4/projects/{id}/issues/{iid}/notes",
            get(notes::list_notes).post(notes::create_note),
        )
        .route(
            "/api/v4/projects/{id}/issues/{iid}/notes/{note_id}",
            get(notes::get_note).put(notes::edit_note),
        )
        .route(
            "/api/v4/projects/{id}/issues/{iid}/resource_label_events",
            get(notes::list_label_events),
        )
        .route(
            "/api/v4/projects/{id}/issues/{iid}/links",
            get(notes::list_links).post(notes::create_link),
        )
        .route(
            "/api/v4/projects/{id}/labels",
            get(labels::list_labels).post(labels::create_label),
        )
        .route(
            "/api/v4/projects/{id}/labels/{label_id}",
            get(labels::get_label).put(labels::edit_label),
        )
        .route(
            "/api/v4/projects/{id}/repository/files/{file_path}",
            get(files::get_file)
                .post(files::create_file)
                .put(files::update_file),
        )
        .route(
            "/api/v4/projects/{id}/repository/files/{file_path}/raw",
            get(files::get_raw),
        )
        .route(
            "/api/v4/projects/{id}/hooks",
            get(hooks::list_hooks).post(hooks::create_hook),
        )
        .route(
            "/api/v4/projects/{id}/hooks/{hook_id}",
            get(hooks::get_hook).put(hooks::edit_hook),
        )
        .fallback(not_found_route)
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        .with_state(app)
}

async fn not_found_route() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "404 Not Found"})),
    )
        .into_response()
}

pub(crate) fn json_status(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(crate) fn add_headers(rsp: &mut Response, headers: &[(&'static str, String)]) {
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(v) {
            rsp.headers_mut().insert(*k, v);
        }
    }
}

/// The caller's token: `PRIVATE-TOKEN`, or `Authorization: Bearer`, which GitLab also accepts
/// for personal access tokens (clients such as gidgetlab send only the latter).
fn request_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let private = headers.get("private-token").and_then(|v| v.to_str().ok());
    let bearer = || {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    };
    private.or_else(bearer).map(|t| t.trim().to_string())
}

/// Every request passes here: global latency, rate limit, fault rules, authentication, log.
async fn gate(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let token = request_token(req.headers());
    let user = token.as_deref().and_then(|t| {
        lock(&app.state)
            .user_by_token(t)
            .map(|u| (u.id, u.username.clone()))
    });
    let log = |status: u16| {
        lock(&app.requests).push(RequestRecord {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            status,
            token: token.clone(),
            username: user.as_ref().map(|u| u.1.clone()),
            at: Utc::now(),
        });
    };

    let latency = *lock(&app.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let decision = lock(&app.limiter).observe(token.as_deref().unwrap_or("anonymous"));
    let rate_headers = decision
        .as_ref()
        .map(RateDecision::headers)
        .unwrap_or_default();
    if let Some(d) = decision.as_ref().filter(|d| !d.allowed) {
        let mut rsp = too_many_requests();
        add_headers(&mut rsp, &rate_headers);
        add_headers(&mut rsp, &d.throttled_headers());
        log(429);
        return rsp;
    }

    let fault = lock(&app.faults).check(&method, &path);
    match fault {
        Some(FaultKind::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            );
            let mut rsp = json_status(status, json!({ "message": text }));
            add_headers(&mut rsp, &rate_headers);
            log(status.as_u16());
            return rsp;
        }
        Some(FaultKind::TooManyRequests {
            retry_after,
            rate_limit_headers,
        }) => {
            let mut rsp = too_many_requests();
            if let Some(secs) = retry_after {
                add_headers(&mut rsp, &[("retry-after", secs.to_string())]);
            }
            if rate_limit_headers {
                // On a whole second, so the reset is not later than `Retry-After` says.
                let now = Utc::now();
                let whole =
                    now - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
                let reset = whole + chrono::Duration::seconds(retry_after.unwrap_or(60) as i64);
                let decision = RateDecision {
                    allowed: false,
                    limit: 2000,
                    name: "throttle_authenticated_api".into(),
                    observed: 2001,
                    remaining: 0,
                    reset_at: reset,
                    retry_after_secs: retry_after.unwrap_or(60),
                };
                add_headers(&mut rsp, &decision.headers());
                add_headers(
                    &mut rsp,
                    &[("ratelimit-resettime", super::faults::http_date(reset))],
                );
            }
            log(429);
            return rsp;
        }
        Some(FaultKind::Timeout { hold }) => {
            log(0);
            tokio::time::sleep(hold).await;
            return json_status(
                StatusCode::GATEWAY_TIMEOUT,
                json!({"message": "504 Gateway Timeout"}),
            );
        }
        Some(FaultKind::Latency(d)) => tokio::time::sleep(d).await,
        Some(
            FaultKind::SlowResponse(_) | FaultKind::StatusAfterApply(_) | FaultKind::Malformed,
        )
        | None => {}
    }

    let Some((user_id, _)) = user.clone() else {
        let mut rsp = json_status(
            StatusCode::UNAUTHORIZED,
            json!({"message": "401 Unauthorized"}),
        );
        add_headers(&mut rsp, &rate_headers);
        log(401);
        return rsp;
    };
    if let Some(rsp) = limits::application_limit(&app, &method, &path, user_id) {
        log(429);
        return rsp;
    }
    req.extensions_mut().insert(AuthUser(user_id));
    // Run the request in its own task, so it completes even if the client goes away while
    // the answer is held back.
    let handled = tokio::spawn(next.run(req));
    let mut rsp = match handled.await {
        Ok(rsp) => rsp,
        Err(e) => json_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "message": format!("500 simulator handler failed: {e}") }),
        ),
    };
    if let Some(FaultKind::StatusAfterApply(code)) = fault {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
        let text = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        );
        rsp = json_status(status, json!({ "message": text }));
    }
    add_headers(&mut rsp, &rate_headers);
    log(rsp.status().as_u16());
    if let Some(FaultKind::SlowResponse(d)) = fault {
        tokio::time::sleep(d).await;
    }
    if let Some(FaultKind::Malformed) = fault {
        rsp = cut_in_half(rsp).await;
    }
    rsp
}

/// The same answer with its body cut in half (`Content-Length` fixed to match).
async fn cut_in_half(rsp: Response) -> Response {
    let (mut parts, body) = rsp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(half))
}

fn too_many_requests() -> Response {
    let mut rsp = (StatusCode::TOO_MANY_REQUESTS, "Retry later").into_response();
    rsp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    rsp
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let text = self.to_string();
        match self {
            SimError::NotFound(_) => json_status(StatusCode::NOT_FOUND, json!({"message": text})),
            SimError::Forbidden => json_status(StatusCode::FORBIDDEN, json!({"message": text})),
            SimError::MissingParam(_) | SimError::InvalidParam(_) => {
                json_status(StatusCode::BAD_REQUEST, json!({"error": text}))
            }
            SimError::BadRequest(_) => {
                json_status(StatusCode::BAD_REQUEST, json!({"message": text}))
            }
            SimError::Conflict(_) => json_status(StatusCode::CONFLICT, json!({"message": text})),
        }
    }
}

pub(crate) type ApiResult = Result<Response, SimError>;

pub(crate) fn ok(body: Value) -> ApiResult {
    Ok(json_status(StatusCode::OK, body))
}

pub(crate) fn created(body: Value) -> ApiResult {
    Ok(json_status(StatusCode::CREATED, body))
}

/// A JSON array page with its pagination headers.
pub(crate) fn paged(page: Page<Value>) -> ApiResult {
    let mut rsp = json_status(StatusCode::OK, Value::Array(page.items));
    add_headers(&mut rsp, &page.headers);
    Ok(rsp)
}

/// Request parameters from the query string and a form or JSON body, as Grape merges them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
    pub url: RequestUrl,
}

/// Largest body the simulator reads (GitLab's own limits are far above what tests send).
const MAX_BODY: usize = 4 * 1024 * 1024;

impl FromRequest<App> for Params {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let query: Vec<(String, String)> = req
            .uri()
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let url = RequestUrl {
            base: format!("{}{}", app.base_url, req.uri().path()),
            query: query.clone(),
        };
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|e| {
                json_status(
                    StatusCode::BAD_REQUEST,
                    json!({"message": format!("400 Bad request - unreadable body: {e}")}),
                )
            })?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        if !bytes.is_empty() {
            if content_type.starts_with("application/json") {
                let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    json_status(
                        StatusCode::BAD_REQUEST,
                        json!({"message": format!("400 Bad request - body is not valid JSON: {e}")}),
                    )
                })?;
                flatten_json(&v, &mut pairs);
            } else {
                pairs.extend(
                    url::form_urlencoded::parse(&bytes)
                        .map(|(k, v)| (k.into_owned(), v.into_owned())),
                );
            }
        }
        pairs.extend(query);
        Ok(Params { pairs, url })
    }
}

/// Top-level JSON fields as parameters; arrays become repeated `name[]` entries.
fn flatten_json(v: &Value, out: &mut Vec<(String, String)>) {
    let Some(obj) = v.as_object() else {
        return;
    };
    for (k, v) in obj {
        match v {
            Value::Array(items) => {
                for item in items {
                    out.push((format!("{k}[]"), scalar(item)));
                }
            }
            Value::Null => {}
            other => out.push((k.clone(), scalar(other))),
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Params {
    /// First value of `key` (body before query).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.pairs
            .iter()
            .any(|(k, _)| k == key || *k == format!("{key}[]"))
    }

    pub fn require(&self, key: &str) -> Result<&str, SimError> {
        self.get(key)
            .ok_or_else(|| SimError::MissingParam(key.to_string()))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, SimError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "t" => Ok(Some(true)),
                "false" | "0" | "no" | "f" => Ok(Some(false)),
                _ => Err(SimError::InvalidParam(format!("{key} is invalid"))),
            },
        }
    }

    pub fn u64(&self, key: &str) -> Result<Option<u64>, SimError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| SimError::InvalidParam(format!("{key} is invalid"))),
        }
    }

    /// A comma-separated list (`labels=a,b`) or repeated `key[]` entries; `None` when absent.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        let array_key = format!("{key}[]");
        let mut found = false;
        let mut out = Vec::new();
        for (k, v) in &self.pairs {
            if *k == key || *k == array_key {
                found = true;
                out.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
            }
        }
        found.then_some(out)
    }

    /// Ids from `key[]` entries or a comma-separated `key`; `None` when absent.
    pub fn ids(&self, key: &str) -> Result<Option<Vec<u64>>, SimError> {
        match self.list(key) {
            None => Ok(None),
            Some(items) => items
                .iter()
                .map(|s| {
                    s.parse::<u64>()
                        .map_err(|_| SimError::InvalidParam(format!("{key} is invalid")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
        }
    }

    pub fn per_page(&self) -> usize {
        pagination::per_page(self.get("per_page"))
    }

    /// Offset-paginates `items` by this request's `page` / `per_page`.
    pub fn offset_page(&self, items: Vec<Value>) -> ApiResult {
        paged(pagination::offset_page(
            items,
            self.get("page"),
            self.per_page(),
            &self.url,
        ))
    }
}

/// Resolves the `:id` path segment (already percent-decoded by axum) to a project id.
pub(crate) fn project_id(state: &SimState, raw: &str) -> Result<u64, SimError> {
    state.resolve_project(raw)
}

/// An empty-bodied response with this status (used for raw file bodies too).
pub(crate) fn raw_body(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut rsp = (status, Body::from(body)).into_response();
    rsp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    rsp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_from_private_token_or_bearer_header() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(request_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer glpat-b"),
        );
        assert_eq!(request_token(&headers).as_deref(), Some("glpat-b"));
        headers.insert("private-token", HeaderValue::from_static("glpat-p"));
        assert_eq!(request_token(&headers).as_deref(), Some("glpat-p"));
        headers.remove("private-token");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(request_token(&headers), None);
    }
}
