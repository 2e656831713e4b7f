//! A small stateful simulated GitHub API for the CLA tests, used through the real octocrab
//! client: repository contents (`GET /repos/{owner}/{repo}/contents/{path}`, base64 as GitHub
//! sends it, wrapped at 60 columns) and organisation membership
//! (`GET /orgs/{org}/members/{user}`: 204 member, 404 not). `set_failing(true)` makes every
//! request answer 500 until switched off. Requests are logged.
#![allow(dead_code)]

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct GhState {
    /// (repo, path, ref) → text; ref `""` is the default branch.
    files: BTreeMap<(String, String, String), String>,
    members: BTreeSet<(String, String)>,
    failing: bool,
    requests: Vec<String>,
}

#[derive(Clone)]
pub struct SimGithub {
    pub url: String,
    state: Arc<Mutex<GhState>>,
}

fn lock(s: &Mutex<GhState>) -> std::sync::MutexGuard<'_, GhState> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl SimGithub {
    pub async fn start() -> SimGithub {
        let state = Arc::new(Mutex::new(GhState::default()));
        let app = Router::new()
            .route("/repos/{owner}/{repo}/contents/{*path}", get(contents))
            .route("/orgs/{org}/members/{user}", get(membership))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SimGithub {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// Puts a file on the default branch and on `git_ref` when given.
    pub fn put_file(&self, repo: &str, path: &str, git_ref: Option<&str>, text: &str) {
        let mut s = lock(&self.state);
        s.files.insert(
            (
                repo.to_string(),
                path.to_string(),
                git_ref.unwrap_or("").to_string(),
            ),
            text.to_string(),
        );
    }

    pub fn add_member(&self, org: &str, user: &str) {
        lock(&self.state)
            .members
            .insert((org.to_lowercase(), user.to_lowercase()));
    }

    pub fn set_failing(&self, failing: bool) {
        lock(&self.state).failing = failing;
    }

    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
        })),
    )
        .into_response()
}

async fn contents(
    State(state): State<Arc<Mutex<GhState>>>,
    Path((owner, repo, path)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    let git_ref = q.get("ref").cloned().unwrap_or_default();
    s.requests.push(format!(
        "GET /repos/{owner}/{repo}/contents/{path}?ref={git_ref}"
    ));
    if s.failing {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    }
    let key = (format!("{owner}/{repo}"), path.clone(), git_ref.clone());
    let Some(text) = s.files.get(&key) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let name = path.rsplit('/').next().unwrap_or(&path).to_string();
    let base = format!("https://api.github.com/repos/{owner}/{repo}");
    let sha = "3d21ec53a331a6f037a91c368710b99387d012c1";
    axum::Json(json!({
        "type": "file",
        "encoding": "base64",
        "size": text.len(),
        "name": name,
        "path": path,
        "content": format!("{}\n", wrapped.join("\n")),
        "sha": sha,
        "url": format!("{base}/contents/{path}"),
        "git_url": format!("{base}/git/blobs/{sha}"),
        "html_url": format!("https://github.com/{owner}/{repo}/blob/main/{path}"),
        "download_url": format!("https://raw.githubusercontent.com/{owner}/{repo}/main/{path}"),
        "_links": {
            "git": format!("{base}/git/blobs/{sha}"),
            "self": format!("{base}/contents/{path}"),
            "html": format!("https://github.com/{owner}/{repo}/blob/main/{path}"),
        }
    }))
    .into_response()
}

async fn membership(
    State(state): State<Arc<Mutex<GhState>>>,
    Path((org, user)): Path<(String, String)>,
) -> Response {
    let mut s = lock(&state);
    s.requests.push(format!("GET /orgs/{org}/members/{user}"));
    if s.failing {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    }
    if s.members
        .contains(&(org.to_lowercase(), user.to_lowercase()))
    {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "Not Found")
    }
}
