//! Project labels: list, create, read and edit (by id or by name).

use axum::Extension;
use axum::extract::{Path, State};
use serde_json::Value;

use super::{ApiResult, App, AuthUser, Params, created, lock, ok, project_id};
use crate::json;
use crate::model::{SimLabel, access};
use crate::state::{SimError, SimState};

pub(crate) async fn list_labels(
    State(app): State<App>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    // GitLab's default: `include_ancestor_groups=true` lists the inherited group labels too,
    // with `is_project_label: false`.
    let inherited = match p.bool("include_ancestor_groups")?.unwrap_or(true) {
        true => state.inherited_labels(pid),
        false => Vec::new(),
    };
    let labels = state.project(pid)?.labels.iter().chain(inherited);
    label_page(&state, labels, &p)
}

/// A page of labels as the list endpoints answer: `search` applied, sorted by title.
pub(crate) fn label_page<'a>(
    state: &SimState,
    labels: impl Iterator<Item = &'a SimLabel>,
    p: &Params,
) -> ApiResult {
    let search = p.get("search").map(str::to_lowercase);
    let mut labels: Vec<&SimLabel> = labels
        .filter(|l| {
            search
                .as_deref()
                .is_none_or(|s| l.title.to_lowercase().contains(s))
        })
        .collect();
    labels.sort_by_key(|l| l.title.to_lowercase());
    let items: Vec<Value> = labels.iter().map(|l| json::label(state, l)).collect();
    p.offset_page(items)
}

/// A label by numeric id or by name, as the API accepts both.
fn find_label(state: &SimState, pid: u64, key: &str) -> Result<SimLabel, SimError> {
    let project = state.project(pid)?;
    let by_id = key
        .parse::<u64>()
        .ok()
        .and_then(|id| project.labels.iter().find(|l| l.id == id));
    by_id
        .or_else(|| project.label(key))
        .cloned()
        .ok_or(SimError::NotFound("Label"))
}

pub(crate) async fn get_label(
    State(app): State<App>,
    Path((id, label)): Path<(String, String)>,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let label = find_label(&state, pid, &label)?;
    ok(json::label(&state, &label))
}

pub(crate) async fn create_label(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    let name = p.require("name")?.trim().to_string();
    let color = p.require("color")?.trim().to_string();
    let mut state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::REPORTER)?;
    if name.is_empty() {
        return Err(SimError::BadRequest("Title can't be blank".into()));
    }
    if state.project(pid)?.label(&name).is_some() {
        return Err(SimError::Conflict("Label already exists".into()));
    }
    let mut label = state.create_project_label(pid, &name)?;
    label.color = color;
    label.description = p.get("description").map(str::to_string);
    store(&mut state, pid, &label)?;
    created(json::label(&state, &label))
}

fn store(state: &mut SimState, pid: u64, label: &SimLabel) -> Result<(), SimError> {
    let project = state.project_mut(pid)?;
    if let Some(slot) = project.labels.iter_mut().find(|l| l.id == label.id) {
        *slot = label.clone();
    }
    Ok(())
}

pub(crate) async fn edit_label(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, key)): Path<(String, String)>,
    p: Params,
) -> ApiResult {
    if !["new_name", "color", "description", "priority"]
        .iter()
        .any(|k| p.has(k))
    {
        return Err(SimError::InvalidParam(
            "new_name, color, description, priority are missing, at least one parameter must be provided"
                .into(),
        ));
    }
    let mut state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    state.require_access(pid, user, access::REPORTER)?;
    let mut label = find_label(&state, pid, &key)?;
    let old_title = label.title.clone();
    if let Some(new_name) = p.get("new_name").map(str::trim).filter(|n| !n.is_empty()) {
        if new_name != old_title && state.project(pid)?.label(new_name).is_some() {
            return Err(SimError::Conflict("Label already exists".into()));
        }
        label.title = new_name.to_string();
    }
    if let Some(c) = p.get("color") {
        label.color = c.to_string();
    }
    if let Some(d) = p.get("description") {
        label.description = Some(d.to_string());
    }
    label.updated_at = state.now();
    store(&mut state, pid, &label)?;
    if label.title != old_title {
        // Issues hold label titles; a rename shows on every issue carrying the label.
        for issue in state.issues.values_mut().filter(|i| i.project_id == pid) {
            for l in issue.labels.iter_mut().filter(|l| **l == old_title) {
                *l = label.title.clone();
            }
        }
    }
    ok(json::label(&state, &label))
}
