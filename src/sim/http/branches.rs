//! `GET /projects/:id/protected_branches`, in the shape of GitLab's Protected branches API
//! docs (access levels 0 = no one, 30 = Developers, 40 = Maintainers, 60 = Admins). Read by
//! Developers and up here.

use axum::Extension;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{ApiResult, App, AuthUser, Params, lock, project_id};
use crate::sim::model::access;

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
    state.require_access(pid, user, access::DEVELOPER)?;
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
