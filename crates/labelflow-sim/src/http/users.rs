//! Users, projects and project members.

use axum::Extension;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{ApiResult, App, AuthUser, Params, lock, ok, project_id};
use crate::json;
use crate::state::SimError;

pub(crate) async fn current_user(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
) -> ApiResult {
    let state = lock(&app.state);
    let u = state.user(user)?;
    ok(json::user_full(&state, u, true))
}

pub(crate) async fn list_users(State(app): State<App>, p: Params) -> ApiResult {
    let state = lock(&app.state);
    let username = p.get("username");
    let search = p.get("search").map(str::to_lowercase);
    let items: Vec<Value> = state
        .users
        .values()
        .filter(|u| username.is_none_or(|n| u.username.eq_ignore_ascii_case(n)))
        .filter(|u| {
            search.as_deref().is_none_or(|s| {
                u.username.to_lowercase().contains(s) || u.name.to_lowercase().contains(s)
            })
        })
        .map(|u| json::user_basic(&state, u))
        .collect();
    p.offset_page(items)
}

pub(crate) async fn get_user(State(app): State<App>, Path(user_id): Path<String>) -> ApiResult {
    let state = lock(&app.state);
    let id = user_id
        .parse::<u64>()
        .map_err(|_| SimError::NotFound("User"))?;
    let u = state.user(id)?;
    ok(json::user_full(&state, u, false))
}

pub(crate) async fn get_project(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    ok(json::project(&state, state.project(pid)?))
}

pub(crate) async fn list_members(
    State(app): State<App>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let query = p.get("query").map(str::to_lowercase);
    let user_ids = p.ids("user_ids")?;
    let items: Vec<Value> = state
        .project(pid)?
        .members
        .iter()
        .filter(|(uid, _)| user_ids.as_ref().is_none_or(|ids| ids.contains(uid)))
        .filter_map(|(uid, level)| state.users.get(uid).map(|u| (u, *level)))
        .filter(|(u, _)| {
            query.as_deref().is_none_or(|q| {
                u.username.to_lowercase().contains(q) || u.name.to_lowercase().contains(q)
            })
        })
        .map(|(u, level)| json::member(&state, u, level))
        .collect();
    p.offset_page(items)
}

pub(crate) async fn get_member(
    State(app): State<App>,
    Path((id, user_id)): Path<(String, u64)>,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    // `members/all` includes members inherited from ancestor groups.
    let level = state.access_level(pid, user_id);
    if level == 0 {
        return Err(SimError::NotFound("Member"));
    }
    let u = state.user(user_id)?;
    ok(json::member(&state, u, level))
}
