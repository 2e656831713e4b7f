//! Project webhooks through the API (Maintainer and up, as in GitLab).

use axum::Extension;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{ApiResult, App, AuthUser, Params, created, lock, ok, project_id};
use crate::json;
use crate::model::{HookConfig, SimHook, access};
use crate::state::SimError;

pub(crate) async fn list_hooks(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::MAINTAINER)?;
    let items: Vec<Value> = state
        .hooks
        .values()
        .filter(|h| h.project_id == pid)
        .map(json::hook)
        .collect();
    p.offset_page(items)
}

pub(crate) async fn get_hook(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, hook_id)): Path<(String, u64)>,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::MAINTAINER)?;
    let hook = state
        .hooks
        .get(&hook_id)
        .filter(|h| h.project_id == pid)
        .ok_or(SimError::NotFound("Hook"))?;
    ok(json::hook(hook))
}

/// Applies the flag and token parameters present in the request.
fn apply(config: &mut HookConfig, p: &Params) -> Result<(), SimError> {
    if let Some(url) = p.get("url") {
        config.url = url.to_string();
    }
    if let Some(v) = p.bool("push_events")? {
        config.push_events = v;
    }
    if let Some(v) = p.bool("issues_events")? {
        config.issues_events = v;
    }
    if let Some(v) = p.bool("confidential_issues_events")? {
        config.confidential_issues_events = v;
    }
    if let Some(v) = p.bool("note_events")? {
        config.note_events = v;
    }
    if let Some(v) = p.bool("confidential_note_events")? {
        config.confidential_note_events = v;
    }
    if let Some(t) = p.get("token") {
        config.token = Some(t.to_string()).filter(|t| !t.is_empty());
    }
    if let Some(t) = p.get("signing_token") {
        config.signing_token = Some(t.to_string()).filter(|t| !t.is_empty());
    }
    Ok(())
}

pub(crate) async fn create_hook(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    let url = p.require("url")?.to_string();
    let mut state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::MAINTAINER)?;
    // GitLab's "Add a webhook" docs: `push_events` defaults to true.
    let mut config = HookConfig {
        push_events: true,
        ..HookConfig::new(url)
    };
    apply(&mut config, &p)?;
    let hook = SimHook {
        id: state.next_id(),
        project_id: pid,
        config,
        created_at: state.now(),
    };
    state.hooks.insert(hook.id, hook.clone());
    created(json::hook(&hook))
}

pub(crate) async fn edit_hook(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, hook_id)): Path<(String, u64)>,
    p: Params,
) -> ApiResult {
    let mut state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::MAINTAINER)?;
    let hook = state
        .hooks
        .get_mut(&hook_id)
        .filter(|h| h.project_id == pid)
        .ok_or(SimError::NotFound("Hook"))?;
    apply(&mut hook.config, &p)?;
    let hook = hook.clone();
    ok(json::hook(&hook))
}
