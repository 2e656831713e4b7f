//! Branches as setup reads them. `GET /projects/:id/protected_branches`, in the shape of
//! GitLab's Protected branches API docs (access levels 0 = no one, 30 = Developers,
//! 40 = Maintainers, 60 = Admins); reading it needs `admin_project`, i.e. Maintainer (gitlabhq
//! `app/policies/protected_branch_policy.rb`). `GET /projects/:id/repository/branches/:branch`
//! from the Branches API docs (`protected`, `developers_can_push`, `can_push` for the caller),
//! readable by Reporters and up. A branch exists here when it is the default branch or holds a
//! file.

use axum::Extension;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{ApiResult, App, AuthUser, Params, lock, ok, project_id};
use crate::model::access;
use crate::state::SimError;

fn description(level: u32) -> &'static str {
    match level {
        0 => "No one",
        access::DEVELOPER => "Developers + Maintainers",
        access::MAINTAINER => "Maintainers",
        _ => "Admins",
    }
}

pub(crate) async fn list_protected_branches(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::MAINTAINER)?;
    let search = p.get("search");
    let items: Vec<Value> = state
        .project(pid)?
        .protected_branches
        .iter()
        .filter(|(name, _)| search.is_none_or(|s| name.contains(s)))
        .enumerate()
        .map(|(i, (name, level))| {
            let levels = json!([{
                "id": i + 1,
                "access_level": level,
                "access_level_description": description(*level),
                "user_id": null,
                "group_id": null,
            }]);
            json!({
                "id": i + 1,
                "name": name,
                "push_access_levels": levels,
                "merge_access_levels": levels,
                "allow_force_push": false,
                "code_owner_approval_required": false,
            })
        })
        .collect();
    p.offset_page(items)
}

pub(crate) async fn get_branch(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, branch)): Path<(String, String)>,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::REPORTER)?;
    if !state.branch_exists(pid, &branch)? {
        return Err(SimError::NotFound("Branch"));
    }
    let project = state.project(pid)?;
    let level = state.access_level(pid, user);
    let push = project.push_level(&branch);
    let can_push = match push {
        None => level >= access::DEVELOPER,
        Some(0) => false,
        Some(l) => level >= l,
    };
    ok(json!({
        "name": branch,
        "merged": false,
        "protected": push.is_some(),
        "default": project.default_branch == branch,
        "developers_can_push": push.is_none_or(|l| l != 0 && l <= access::DEVELOPER),
        "developers_can_merge": push.is_none_or(|l| l != 0 && l <= access::DEVELOPER),
        "can_push": can_push,
        "web_url": format!("{}/-/tree/{branch}", state.project_web_url(project)),
    }))
}
