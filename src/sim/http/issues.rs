//! `GET/POST /projects/:id/issues`, `GET/PUT /projects/:id/issues/:iid`,
//! `GET /groups/:id/issues`: GitLab's list filters, ordering and both pagination modes.

use axum::Extension;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{ApiResult, App, AuthUser, Params, created, lock, ok, paged, project_id};
use crate::sim::issue_ops::{IssueUpdate, NewIssue, StateEvent};
use crate::sim::json;
use crate::sim::model::{IssueStatus, SimIssue};
use crate::sim::pagination::keyset_page;
use crate::sim::state::{SimError, SimState};
use crate::sim::timefmt;

pub(crate) async fn list_project_issues(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    list(&state, user, |i| i.project_id == pid, &params)
}

/// Issues of every project under the group path (a group is a path prefix here).
pub(crate) async fn list_group_issues(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(group): Path<String>,
    params: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let prefix = format!("{group}/");
    let projects: Vec<u64> = state
        .projects
        .values()
        .filter(|p| p.path_with_namespace.starts_with(&prefix))
        .map(|p| p.id)
        .collect();
    if projects.is_empty() {
        return Err(SimError::NotFound("Group"));
    }
    list(&state, user, |i| projects.contains(&i.project_id), &params)
}

fn parse_time(key: &str, raw: &str) -> Result<DateTime<Utc>, SimError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| SimError::InvalidParam(format!("{key} is invalid")))
}

fn time_param(p: &Params, key: &str) -> Result<Option<DateTime<Utc>>, SimError> {
    p.get(key).map(|v| parse_time(key, v)).transpose()
}

/// The filters of `GET /projects/:id/issues` that the simulator honours.
struct Filter {
    state: Option<IssueStatus>,
    labels: Option<Vec<String>>,
    not_labels: Vec<String>,
    search: Option<(String, bool, bool)>,
    iids: Option<Vec<u64>>,
    confidential: Option<bool>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    updated_after: Option<DateTime<Utc>>,
    updated_before: Option<DateTime<Utc>>,
    author: Option<String>,
    assignee: Option<String>,
}

impl Filter {
    fn parse(p: &Params) -> Result<Self, SimError> {
        let state = match p.get("state").unwrap_or("all") {
            "opened" => Some(IssueStatus::Opened),
            "closed" => Some(IssueStatus::Closed),
            "all" => None,
            _ => {
                return Err(SimError::InvalidParam(
                    "state does not have a valid value".into(),
                ));
            }
        };
        let search = p.get("search").filter(|s| !s.is_empty()).map(|s| {
            let scope = p.get("in").unwrap_or("title,description");
            (
                s.to_lowercase(),
                scope.contains("title"),
                scope.contains("description"),
            )
        });
        Ok(Filter {
            state,
            labels: p.list("labels"),
            not_labels: p.list("not[labels]").unwrap_or_default(),
            search,
            iids: p.ids("iids")?,
            confidential: p.bool("confidential")?,
            created_after: time_param(p, "created_after")?,
            created_before: time_param(p, "created_before")?,
            updated_after: time_param(p, "updated_after")?,
            updated_before: time_param(p, "updated_before")?,
            author: p.get("author_username").map(str::to_string),
            assignee: p.get("assignee_username").map(str::to_string),
        })
    }

    fn matches(&self, state: &SimState, i: &SimIssue) -> bool {
        if self.state.is_some_and(|s| s != i.state) {
            return false;
        }
        let labels_ok = match self.labels.as_deref() {
            Some([only]) if only.eq_ignore_ascii_case("none") => i.labels.is_empty(),
            Some([only]) if only.eq_ignore_ascii_case("any") => !i.labels.is_empty(),
            Some(all) => all.iter().all(|l| i.labels.contains(l)),
            None => true,
        };
        if !labels_ok {
            return false;
        }
        if self.not_labels.iter().any(|l| i.labels.contains(l)) {
            return false;
        }
        if let Some((needle, in_title, in_desc)) = &self.search {
            let hit = (*in_title && i.title.to_lowercase().contains(needle))
                || (*in_desc && i.description.to_lowercase().contains(needle));
            if !hit {
                return false;
            }
        }
        if self.iids.as_ref().is_some_and(|ids| !ids.contains(&i.iid)) {
            return false;
        }
        if self.confidential.is_some_and(|c| c != i.confidential) {
            return false;
        }
        let within =
            |t: DateTime<Utc>, after: Option<DateTime<Utc>>, before: Option<DateTime<Utc>>| {
                after.is_none_or(|a| t >= a) && before.is_none_or(|b| t <= b)
            };
        if !within(i.created_at, self.created_after, self.created_before)
            || !within(i.updated_at, self.updated_after, self.updated_before)
        {
            return false;
        }
        if let Some(a) = &self.author
            && state.user(i.author_id).map(|u| &u.username) != Ok(a)
        {
            return false;
        }
        if let Some(a) = &self.assignee
            && !state.usernames(&i.assignee_ids).contains(a)
        {
            return false;
        }
        true
    }
}

/// The sort key of an issue for `order_by`, comparable as a string.
fn order_key(order_by: &str, i: &SimIssue) -> (String, u64) {
    let key = match order_by {
        "updated_at" => timefmt::api(i.updated_at),
        "id" => format!("{:020}", i.id),
        "title" => i.title.clone(),
        _ => timefmt::api(i.created_at),
    };
    (key, i.id)
}

fn list(
    state: &SimState,
    user: u64,
    in_scope: impl Fn(&SimIssue) -> bool,
    p: &Params,
) -> ApiResult {
    let filter = Filter::parse(p)?;
    let order_by = p.get("order_by").unwrap_or("created_at");
    if !matches!(order_by, "created_at" | "updated_at" | "id" | "title") {
        return Err(SimError::InvalidParam(
            "order_by does not have a valid value".into(),
        ));
    }
    let desc = match p.get("sort").unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        _ => {
            return Err(SimError::InvalidParam(
                "sort does not have a valid value".into(),
            ));
        }
    };
    let mut issues: Vec<&SimIssue> = state
        .issues
        .values()
        .filter(|i| in_scope(i) && state.can_see(i, user) && filter.matches(state, i))
        .collect();
    issues.sort_by_key(|i| order_key(order_by, i));
    if desc {
        issues.reverse();
    }
    if p.get("pagination") == Some("keyset") {
        let page = keyset_page(
            issues,
            |i| order_key(order_by, i),
            desc,
            p.get("cursor"),
            p.per_page(),
            &p.url,
        )?;
        return paged(crate::sim::pagination::Page {
            items: page.items.iter().map(|i| json::issue(state, i)).collect(),
            headers: page.headers,
        });
    }
    let items: Vec<Value> = issues.iter().map(|i| json::issue(state, i)).collect();
    p.offset_page(items)
}

pub(crate) async fn get_issue(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid)): Path<(String, u64)>,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    let issue = state.visible_issue(pid, iid, user)?;
    ok(json::issue(&state, issue))
}

/// Assignees from `assignee_ids[]`, `assignee_ids` or `assignee_id` (`0` / empty clears).
fn assignees(p: &Params) -> Result<Option<Vec<u64>>, SimError> {
    if let Some(ids) = p.ids("assignee_ids")? {
        return Ok(Some(ids));
    }
    Ok(p.u64("assignee_id")?.map(|id| vec![id]))
}

pub(crate) async fn create_issue(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult {
    let new = NewIssue {
        title: p.require("title")?.to_string(),
        description: p.get("description").unwrap_or("").to_string(),
        labels: p.list("labels").unwrap_or_default(),
        assignee_ids: assignees(&p)?.unwrap_or_default(),
        confidential: p.bool("confidential")?.unwrap_or(false),
    };
    let (body, events) = {
        let mut state = lock(&app.state);
        let pid = project_id(&state, &id)?;
        let (issue, events) = state.create_issue(user, pid, new)?;
        (json::issue(&state, &issue), events)
    };
    app.dispatch(events);
    created(body)
}

pub(crate) async fn edit_issue(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path((id, iid)): Path<(String, u64)>,
    p: Params,
) -> ApiResult {
    let state_event = match p.get("state_event") {
        None => None,
        Some("close") => Some(StateEvent::Close),
        Some("reopen") => Some(StateEvent::Reopen),
        Some(_) => {
            return Err(SimError::InvalidParam(
                "state_event does not have a valid value".into(),
            ));
        }
    };
    let known = [
        "title",
        "description",
        "labels",
        "add_labels",
        "remove_labels",
        "state_event",
        "assignee_ids",
        "assignee_id",
        "confidential",
        "milestone_id",
        "discussion_locked",
        "due_date",
        "updated_at",
        "weight",
        "issue_type",
    ];
    if !known.iter().any(|k| p.has(k)) {
        return Err(SimError::InvalidParam(
            "title, description, assignee_id, assignee_ids, confidential, labels, add_labels, \
             remove_labels, state_event are missing, at least one parameter must be provided"
                .into(),
        ));
    }
    let upd = IssueUpdate {
        title: p.get("title").map(str::to_string),
        description: p.get("description").map(str::to_string),
        labels: p.list("labels"),
        add_labels: p.list("add_labels").unwrap_or_default(),
        remove_labels: p.list("remove_labels").unwrap_or_default(),
        state_event,
        assignee_ids: assignees(&p)?,
        confidential: p.bool("confidential")?,
    };
    let (body, events) = {
        let mut state = lock(&app.state);
        let pid = project_id(&state, &id)?;
        let (issue, events) = state.update_issue(user, pid, iid, upd)?;
        (json::issue(&state, &issue), events)
    };
    app.dispatch(events);
    ok(body)
}
