//! `GET/POST /projects/:id/issues`, `GET/PUT /projects/:id/issues/:iid`,
//! `GET /groups/:id/issues`: GitLab's list filters, ordering and both pagination modes.

use axum::Extension;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{ApiResult, App, AuthUser, Params, created, lock, ok, paged, project_id};
use crate::issue_changes::{IssueUpdate, NewIssue, StateEvent};
use crate::json;
use crate::model::{IssueStatus, SimIssue};
use crate::pagination::keyset_page;
use crate::state::{SimError, SimState};
use crate::timefmt;

pub(crate) async fn list_project_issues(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let keyset = app
        .project_issues_keyset
        .load(std::sync::atomic::Ordering::SeqCst);
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    list(&state, user, |i| i.project_id == pid, &params, keyset)
}

/// Issues of every project under the group path (a group is a path prefix here). GitLab
/// pages group issue listings by number only: `pagination=keyset` is ignored.
pub(crate) async fn list_group_issues(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(group): Path<String>,
    params: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let projects = group_projects(&state, &group)?;
    list(
        &state,
        user,
        |i| projects.contains(&i.project_id),
        &params,
        false,
    )
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
    milestone: Option<String>,
    not_milestone: Option<String>,
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
            milestone: p.get("milestone").map(str::to_string),
            not_milestone: p.get("not[milestone]").map(str::to_string),
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
        let title = i.milestone.as_ref().map(|m| m.title.as_str());
        let milestone_ok = match self.milestone.as_deref() {
            None => true,
            Some(m) if m.eq_ignore_ascii_case("none") => title.is_none(),
            Some(m) if m.eq_ignore_ascii_case("any") => title.is_some(),
            Some(m) => title == Some(m),
        };
        if !milestone_ok || (self.not_milestone.is_some() && title == self.not_milestone.as_deref())
        {
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

/// [`order_key`] as a value that compares the same way but costs no formatting (times at
/// millisecond precision, as the string form has them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum TypedKey {
    Millis(i64),
    Id(u64),
    Title(String),
}

fn typed_key(order_by: &str, i: &SimIssue) -> (TypedKey, u64) {
    let key = match order_by {
        "updated_at" => TypedKey::Millis(i.updated_at.timestamp_millis()),
        "id" => TypedKey::Id(i.id),
        "title" => TypedKey::Title(i.title.clone()),
        _ => TypedKey::Millis(i.created_at.timestamp_millis()),
    };
    (key, i.id)
}

/// The typed form of a cursor's string key.
fn typed_cursor(order_by: &str, raw: &str) -> Result<(TypedKey, u64), SimError> {
    let (key, id) = crate::pagination::cursor_position(raw)?;
    let bad = || SimError::BadRequest("400 Bad request - Invalid cursor".into());
    let typed = match order_by {
        "id" => TypedKey::Id(key.parse().map_err(|_| bad())?),
        "title" => TypedKey::Title(key),
        _ => TypedKey::Millis(
            DateTime::parse_from_rfc3339(&key)
                .map_err(|_| bad())?
                .timestamp_millis(),
        ),
    };
    Ok((typed, id))
}

/// `user_notes_count` for a page of issues, counted in one pass over the notes.
fn notes_counts(state: &SimState, page: &[&SimIssue]) -> std::collections::HashMap<u64, usize> {
    let mut counts: std::collections::HashMap<u64, usize> =
        page.iter().map(|i| (i.id, 0)).collect();
    for n in state.notes.values().filter(|n| !n.system) {
        if let Some(c) = counts.get_mut(&n.issue_id) {
            *c += 1;
        }
    }
    counts
}

fn page_json(state: &SimState, page: &[&SimIssue]) -> Vec<Value> {
    let counts = notes_counts(state, page);
    page.iter()
        .map(|i| json::issue_with_notes_count(state, i, counts.get(&i.id).copied().unwrap_or(0)))
        .collect()
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
    keyset: bool,
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
    let issues = state
        .issues
        .values()
        .filter(|i| in_scope(i) && state.can_see(i, user) && filter.matches(state, i));
    if keyset && p.get("pagination") == Some("keyset") {
        // Narrow to the records after the cursor and keep the first `per_page + 1` of them
        // (typed keys, no sorting of the whole list), then cut the page as usual.
        let after = p
            .get("cursor")
            .map(|c| typed_cursor(order_by, c))
            .transpose()?;
        let mut keyed: Vec<((TypedKey, u64), &SimIssue)> = issues
            .map(|i| (typed_key(order_by, i), i))
            .filter(|(k, _)| match &after {
                None => true,
                Some(a) => {
                    if desc {
                        k < a
                    } else {
                        k > a
                    }
                }
            })
            .collect();
        let cmp = |a: &((TypedKey, u64), &SimIssue), b: &((TypedKey, u64), &SimIssue)| {
            if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) }
        };
        let keep = p.per_page() + 1;
        if keyed.len() > keep {
            keyed.select_nth_unstable_by(keep - 1, cmp);
            keyed.truncate(keep);
        }
        keyed.sort_by(cmp);
        let candidates: Vec<&SimIssue> = keyed.into_iter().map(|(_, i)| i).collect();
        let page = keyset_page(
            candidates,
            |i| order_key(order_by, i),
            desc,
            p.get("cursor"),
            p.per_page(),
            &p.url,
        )?;
        return paged(crate::pagination::Page {
            items: page_json(state, &page.items),
            headers: page.headers,
        });
    }
    let mut issues: Vec<&SimIssue> = issues.collect();
    issues.sort_by_cached_key(|i| order_key(order_by, i));
    if desc {
        issues.reverse();
    }
    let page = crate::pagination::offset_page(issues, p.get("page"), p.per_page(), &p.url);
    paged(crate::pagination::Page {
        items: page_json(state, &page.items),
        headers: page.headers,
    })
}

/// Ids of the projects under a group path (a group is a path prefix here); 404 when none.
fn group_projects(state: &SimState, group: &str) -> Result<Vec<u64>, SimError> {
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
    Ok(projects)
}

/// `GET /projects/:id/issues_statistics`: counts of the issues the list filters select.
pub(crate) async fn project_issues_statistics(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let pid = project_id(&state, &id)?;
    statistics(&state, user, |i| i.project_id == pid, &params)
}

/// `GET /groups/:id/issues_statistics`.
pub(crate) async fn group_issues_statistics(
    State(app): State<App>,
    Extension(AuthUser(user)): Extension<AuthUser>,
    Path(group): Path<String>,
    params: Params,
) -> ApiResult {
    let state = lock(&app.state);
    let projects = group_projects(&state, &group)?;
    statistics(&state, user, |i| projects.contains(&i.project_id), &params)
}

/// GitLab's `{"statistics": {"counts": {"all", "closed", "opened"}}}` (the `state` filter
/// does not apply: the counts are per state).
fn statistics(
    state: &SimState,
    user: u64,
    in_scope: impl Fn(&SimIssue) -> bool,
    p: &Params,
) -> ApiResult {
    let mut filter = Filter::parse(p)?;
    filter.state = None;
    let (mut opened, mut closed) = (0u64, 0u64);
    for i in state
        .issues
        .values()
        .filter(|i| in_scope(i) && state.can_see(i, user) && filter.matches(state, i))
    {
        match i.state {
            IssueStatus::Opened => opened += 1,
            IssueStatus::Closed => closed += 1,
        }
    }
    ok(serde_json::json!({
        "statistics": { "counts": { "all": opened + closed, "closed": closed, "opened": opened } }
    }))
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
        // REST's `issue_type` (`issue`, `incident`, `test_case`, `task`) names the type.
        work_item_type: p.get("issue_type").map(crate::work_items::type_from_rest),
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
