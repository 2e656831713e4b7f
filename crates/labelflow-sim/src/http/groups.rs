//! Groups: group labels (list with inheritance, edit) and members with inherited roles.
//!
//! From GitLab's docs: Group labels API (`GET /groups/:id/labels`: `include_ancestor_groups`
//! defaults to true, `only_group_labels` to true; `PUT /groups/:id/labels/:label_id`), and the
//! permissions page (group labels are managed by Reporters and up, gitlab-ce#33154); members
//! API (`GET /groups/:id/members/all/:user_id`, inherited members included, 404 otherwise).

use axum::Extension;
use axum::extract::{Path, State};
use serde_json::json;

use super::labels::label_page;
use super::{ApiResult, App, AuthUser, Params, lock, ok};
use crate::json;
use crate::model::access;
use crate::state::SimError;

pub(crate) async fn get_group(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let state = lock(&app.state);
    let group = state.group(state.resolve_group(&id)?)?;
    let name = group.full_path.rsplit('/').next().unwrap_or("");
    ok(json!({
        "id": group.id,
        "name": name,
        "path": name,
        "full_path": group.full_path,
        "visibility": "internal",
        "web_url": format!("{}/groups/{}", state.base_url, group.full_path),
    }))
}

pub(crate) async fn list_group_labels(
    State(app): State<App>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let gid = state.resolve_group(&id)?;
    let path = state.group(gid)?.full_path.clone();
    let ancestors = p.bool("include_ancestor_groups")?.unwrap_or(true);
    let labels = state
        .ancestor_groups(&path)
        .into_iter()
        .filter(|g| ancestors || g.id == gid)
        .flat_map(|g| g.labels.iter());
    label_page(&state, labels, &p)
}

pub(crate) async fn edit_group_label(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, key)): Path<(String, String)>,
    p: Params,
) -> ApiResult {
    let mut state = lock(&app.state);
    let gid = state.resolve_group(&id)?;
    let path = state.group(gid)?.full_path.clone();
    if state.group_access_level(&path, user) < access::REPORTER {
        return Err(SimError::Forbidden);
    }
    let now = state.now();
    let label = state
        .group_mut(gid)?
        .labels
        .iter_mut()
        .find(|l| key.parse::<u64>().is_ok_and(|id| id == l.id) || l.title == key)
        .ok_or(SimError::NotFound("Label"))?;
    if let Some(c) = p.get("color") {
        label.color = c.to_string();
    }
    if let Some(d) = p.get("description") {
        label.description = Some(d.to_string());
    }
    label.updated_at = now;
    let label = label.clone();
    ok(json::label(&state, &label))
}

pub(crate) async fn get_group_member(
    State(app): State<App>,
    Path((id, user_id)): Path<(String, u64)>,
) -> ApiResult {
    let state = lock(&app.state);
    let path = state.group(state.resolve_group(&id)?)?.full_path.clone();
    let level = state.group_access_level(&path, user_id);
    if level == 0 {
        return Err(SimError::NotFound("Member"));
    }
    ok(json::member(&state, state.user(user_id)?, level))
}
