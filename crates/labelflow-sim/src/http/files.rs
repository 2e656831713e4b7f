//! Repository files: read (JSON with base64 content, or raw), create and update on a branch.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ApiResult, App, AuthUser, Params, created, lock, ok, project_id, raw_body};
use crate::model::{SimFile, access};
use crate::state::{SimError, SimState};

fn find<'a>(
    state: &'a SimState,
    pid: u64,
    branch: &str,
    path: &str,
) -> Result<&'a SimFile, SimError> {
    state
        .project(pid)?
        .files
        .get(&(branch.to_string(), path.to_string()))
        .ok_or(SimError::NotFound("File"))
}

pub(crate) async fn get_file(
    State(app): State<App>,
    Path((id, file_path)): Path<(String, String)>,
    p: Params,
) -> ApiResult {
    let git_ref = p.require("ref")?.to_string();
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let file = find(&state, pid, &git_ref, &file_path)?;
    let sha256: String = Sha256::digest(&file.content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let file_name = file_path.rsplit('/').next().unwrap_or(&file_path);
    ok(json!({
        "file_name": file_name,
        "file_path": file_path,
        "size": file.content.len(),
        "encoding": "base64",
        "content_sha256": sha256,
        "ref": git_ref,
        "blob_id": &sha256[..40],
        "commit_id": file.last_commit_id,
        "last_commit_id": file.last_commit_id,
        "execute_filemode": false,
        "content": STANDARD.encode(&file.content),
    }))
}

pub(crate) async fn get_raw(
    State(app): State<App>,
    Path((id, file_path)): Path<(String, String)>,
    p: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let branch = match p.get("ref") {
        Some(r) => r.to_string(),
        None => state.project(pid)?.default_branch.clone(),
    };
    let file = find(&state, pid, &branch, &file_path)?;
    Ok(raw_body(StatusCode::OK, "text/plain", file.content.clone()))
}

/// A protected branch takes pushes only from its push access level and up. GitLab's files API
/// answers 400 with this message (gitlabhq `app/services/files/update_service.rb` returns the
/// error, `lib/api/files.rb` renders it with status 400).
fn may_push(state: &SimState, pid: u64, user: u64, branch: &str) -> Result<(), SimError> {
    match state.project(pid)?.push_level(branch) {
        Some(level) if level == 0 || state.access_level(pid, user) < level => Err(
            SimError::BadRequest("You are not allowed to push into this branch".into()),
        ),
        _ => Ok(()),
    }
}

/// Commits go to an existing branch, or to a new one started from an existing `start_branch`
/// (GitLab's message otherwise, as quoted in gitlab4j-api PR 892).
fn on_a_branch(
    state: &SimState,
    pid: u64,
    branch: &str,
    start: Option<&str>,
) -> Result<(), SimError> {
    let from = start.unwrap_or(branch);
    if state.branch_exists(pid, branch)? || state.branch_exists(pid, from)? {
        return Ok(());
    }
    Err(SimError::BadRequest(
        "You can only create or edit files when you are on a branch".into(),
    ))
}

/// The decoded `content` parameter (`encoding` is `text`, the default, or `base64`).
fn content(p: &Params) -> Result<Vec<u8>, SimError> {
    let raw = p.require("content")?;
    match p.get("encoding").unwrap_or("text") {
        "text" => Ok(raw.as_bytes().to_vec()),
        "base64" => STANDARD
            .decode(raw.trim())
            .map_err(|_| SimError::BadRequest("content is not valid base64".into())),
        _ => Err(SimError::InvalidParam(
            "encoding does not have a valid value".into(),
        )),
    }
}

pub(crate) async fn create_file(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, file_path)): Path<(String, String)>,
    p: Params,
) -> ApiResult {
    let branch = p.require("branch")?.to_string();
    p.require("commit_message")?;
    let content = content(&p)?;
    let mut state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::DEVELOPER)?;
    may_push(&state, pid, user, &branch)?;
    on_a_branch(&state, pid, &branch, p.get("start_branch"))?;
    if find(&state, pid, &branch, &file_path).is_ok() {
        return Err(SimError::BadRequest(
            "A file with this name already exists".into(),
        ));
    }
    state.write_file(pid, &branch, &file_path, content)?;
    created(json!({ "file_path": file_path, "branch": branch }))
}

pub(crate) async fn update_file(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, file_path)): Path<(String, String)>,
    p: Params,
) -> ApiResult {
    let branch = p.require("branch")?.to_string();
    p.require("commit_message")?;
    let content = content(&p)?;
    let mut state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::DEVELOPER)?;
    may_push(&state, pid, user, &branch)?;
    let current = find(&state, pid, &branch, &file_path)
        .map_err(|_| SimError::BadRequest("A file with this name doesn't exist".into()))?;
    if let Some(expected) = p.get("last_commit_id")
        && expected != current.last_commit_id
    {
        return Err(SimError::BadRequest(
            "You are attempting to update a file that has changed since you started editing it."
                .into(),
        ));
    }
    state.write_file(pid, &branch, &file_path, content)?;
    ok(json!({ "file_path": file_path, "branch": branch }))
}
