//! Issue notes, resource label events and issue links.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{ApiResult, App, AuthUser, Params, created, lock, ok, project_id};
use crate::json;
use crate::model::{SimNote, access};
use crate::state::SimError;

pub(crate) async fn list_notes(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid)): Path<(String, u64)>,
    p: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let issue = state.visible_issue(pid, iid, user)?;
    let sees_internal = state.access_level(pid, user) >= access::REPORTER;
    let order_by = p.get("order_by").unwrap_or("created_at");
    let desc = match p.get("sort").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        _ => {
            return Err(SimError::InvalidParam(
                "sort does not have a valid value".into(),
            ));
        }
    };
    let mut notes: Vec<&SimNote> = state
        .notes
        .values()
        .filter(|n| n.issue_id == issue.id && (sees_internal || !n.internal))
        .collect();
    notes.sort_by_key(|n| {
        let t = if order_by == "updated_at" {
            n.updated_at
        } else {
            n.created_at
        };
        (t, n.id)
    });
    if desc {
        notes.reverse();
    }
    let items: Vec<Value> = notes.iter().map(|n| json::note(&state, n)).collect();
    p.offset_page(items)
}

pub(crate) async fn get_note(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid, note_id)): Path<(String, u64, u64)>,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let issue = state.visible_issue(pid, iid, user)?;
    let note = state
        .notes
        .get(&note_id)
        .filter(|n| n.issue_id == issue.id)
        .ok_or(SimError::NotFound("Note"))?;
    ok(json::note(&state, note))
}

pub(crate) async fn create_note(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid)): Path<(String, u64)>,
    p: Params,
) -> ApiResult {
    let body = p.require("body")?.to_string();
    let internal = match p.bool("internal")? {
        Some(v) => v,
        None => p.bool("confidential")?.unwrap_or(false),
    };
    let (rsp, events) = {
        let mut state = lock(&app.state);
        let pid = project_id(&state, &id)?;
        let outcome = state.create_note(user, pid, iid, &body, internal)?;
        let rsp = match &outcome.note {
            Some(note) => created(json::note(&state, note))?,
            // Only quick actions: GitLab answers 202 with the commands entity.
            None => (
                StatusCode::ACCEPTED,
                axum::Json(json!({
                    "commands_changes": {},
                    "summary": outcome.summary,
                })),
            )
                .into_response(),
        };
        (rsp, outcome.events)
    };
    app.dispatch(events);
    Ok(rsp)
}

pub(crate) async fn edit_note(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid, note_id)): Path<(String, u64, u64)>,
    p: Params,
) -> ApiResult {
    let body = p.require("body")?.to_string();
    let (json, events) = {
        let mut state = lock(&app.state);
        let pid = project_id(&state, &id)?;
        let (note, events) = state.update_note(user, pid, iid, note_id, &body)?;
        (json::note(&state, &note), events)
    };
    app.dispatch(events);
    ok(json)
}

pub(crate) async fn list_label_events(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid)): Path<(String, u64)>,
    p: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let issue = state.visible_issue(pid, iid, user)?;
    let items: Vec<Value> = state
        .label_events
        .iter()
        .filter(|e| e.issue_id == issue.id)
        .map(|e| json::label_event(&state, e))
        .collect();
    p.offset_page(items)
}

/// Both directions: a link is listed from its source and from its target.
pub(crate) async fn list_links(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid)): Path<(String, u64)>,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let issue = state.visible_issue(pid, iid, user)?;
    let items: Vec<Value> = state
        .links
        .iter()
        .filter_map(|l| {
            let other = if l.source_issue_id == issue.id {
                l.target_issue_id
            } else if l.target_issue_id == issue.id {
                l.source_issue_id
            } else {
                return None;
            };
            let other = state.issues.get(&other)?;
            state
                .can_see(other, user)
                .then(|| json::linked_issue(&state, other, l))
        })
        .collect();
    ok(Value::Array(items))
}

pub(crate) async fn create_link(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid)): Path<(String, u64)>,
    p: Params,
) -> ApiResult {
    let target_project = p.require("target_project_id")?.to_string();
    let target_iid = p
        .u64("target_issue_iid")?
        .ok_or_else(|| SimError::MissingParam("target_issue_iid".into()))?;
    let mut state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let target_pid = project_id(&state, &target_project)?;
    let (source, target, link) =
        state.create_link(user, pid, iid, target_pid, target_iid, p.get("link_type"))?;
    created(json!({
        "source_issue": json::issue(&state, &source),
        "target_issue": json::issue(&state, &target),
        "link_type": link.link_type,
    }))
}
