//! Issue Hook and Note Hook bodies in the shape of GitLab's documented examples
//! (`fixtures/gitlab-docs/issue_open.json`, `note_on_issue.json`).

use serde_json::{Map, Value, json};

use super::model::{IssueStatus, SimIssue, SimLabel, SimNote, SimProject, SimUser};
use super::timefmt::{hook_iso, hook_utc};

/// What a hook payload reads of the simulator's state. A trait, so that this module depends
/// on the model only and the state (which fires hooks) may depend on it.
pub trait HookSource {
    /// The instance's base URL (`http://127.0.0.1:PORT`).
    fn base_url(&self) -> &str;
    fn project(&self, id: &u64) -> Option<&SimProject>;
    fn user(&self, id: &u64) -> Option<&SimUser>;
    fn project_web_url(&self, project: &SimProject) -> String;
    fn issue_web_url(&self, issue: &SimIssue) -> String;
    /// The label objects (project and inherited group labels) for these titles.
    fn label_records(&self, project_id: u64, titles: &[String]) -> Vec<SimLabel>;
}

/// Which hook family an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Issue,
    Note,
}

/// One event waiting to be delivered to the project's matching hooks.
#[derive(Debug, Clone, PartialEq)]
pub struct HookEvent {
    pub project_id: u64,
    pub kind: HookKind,
    /// Confidential issue (or internal note): goes to the `confidential_*` hooks instead.
    pub confidential: bool,
    pub payload: Value,
}

impl HookEvent {
    /// The `X-Gitlab-Event` header GitLab sends for this event.
    pub fn event_name(&self) -> &'static str {
        match (self.kind, self.confidential) {
            (HookKind::Issue, false) => "Issue Hook",
            (HookKind::Issue, true) => "Confidential Issue Hook",
            (HookKind::Note, false) => "Note Hook",
            (HookKind::Note, true) => "Confidential Note Hook",
        }
    }
}

pub fn avatar_url(state: &dyn HookSource, user: &SimUser) -> String {
    format!(
        "{}/uploads/-/system/user/avatar/{}/avatar.png",
        state.base_url(),
        user.id
    )
}

/// The acting `user` object.
pub fn user(state: &dyn HookSource, user: &SimUser) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "avatar_url": avatar_url(state, user),
        "email": user.email,
    })
}

/// An assignee as Issue Hooks list them (no `id`, as in the documented example).
fn assignee(state: &dyn HookSource, user: &SimUser) -> Value {
    json!({
        "name": user.name,
        "username": user.username,
        "avatar_url": avatar_url(state, user),
    })
}

pub fn project(state: &dyn HookSource, p: &SimProject) -> Value {
    let web_url = state.project_web_url(p);
    let host = state
        .base_url()
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let ssh = format!("git@{host}:{}.git", p.path_with_namespace);
    let http = format!("{web_url}.git");
    let namespace = p
        .path_with_namespace
        .rsplit_once('/')
        .map(|(ns, _)| ns)
        .unwrap_or("");
    json!({
        "id": p.id,
        "name": p.name,
        "description": "",
        "web_url": web_url,
        "avatar_url": null,
        "git_ssh_url": ssh,
        "git_http_url": http,
        "namespace": namespace,
        "visibility_level": 20,
        "path_with_namespace": p.path_with_namespace,
        "default_branch": p.default_branch,
        "ci_config_path": null,
        "homepage": web_url,
        "url": http,
        "ssh_url": ssh,
        "http_url": http,
    })
}

fn repository(state: &dyn HookSource, p: &SimProject) -> Value {
    let web_url = state.project_web_url(p);
    json!({
        "name": p.name,
        "url": format!("{web_url}.git"),
        "description": "",
        "homepage": web_url,
    })
}

/// A label object as hooks carry it (also inside `changes.labels`).
pub fn label(l: &SimLabel) -> Value {
    json!({
        "id": l.id,
        "title": l.title,
        "color": l.color,
        "project_id": l.project_id,
        "created_at": hook_iso(l.created_at),
        "updated_at": hook_iso(l.updated_at),
        "template": false,
        "description": l.description,
        "type": "ProjectLabel",
        "group_id": null,
    })
}

pub fn labels(state: &dyn HookSource, project_id: u64, titles: &[String]) -> Value {
    Value::Array(
        state
            .label_records(project_id, titles)
            .iter()
            .map(label)
            .collect(),
    )
}

fn state_name(s: IssueStatus) -> &'static str {
    match s {
        IssueStatus::Opened => "opened",
        IssueStatus::Closed => "closed",
    }
}

fn state_id(s: IssueStatus) -> u8 {
    match s {
        IssueStatus::Opened => 1,
        IssueStatus::Closed => 2,
    }
}

fn issue_attributes(state: &dyn HookSource, issue: &SimIssue, action: &str) -> Value {
    json!({
        "id": issue.id,
        "title": issue.title,
        "assignee_ids": issue.assignee_ids,
        "assignee_id": issue.assignee_ids.first(),
        "author_id": issue.author_id,
        "project_id": issue.project_id,
        "created_at": hook_iso(issue.created_at),
        "updated_at": hook_iso(issue.updated_at),
        "updated_by_id": issue.updated_by_id,
        "last_edited_at": issue.last_edited_at.map(hook_iso),
        "last_edited_by_id": issue.last_edited_by_id,
        "relative_position": 0,
        "description": issue.description,
        "milestone_id": null,
        "state_id": state_id(issue.state),
        "confidential": issue.confidential,
        "discussion_locked": null,
        "due_date": null,
        "start_date": null,
        "moved_to_id": null,
        "duplicated_to_id": null,
        "time_estimate": 0,
        "total_time_spent": 0,
        "time_change": 0,
        "human_total_time_spent": null,
        "human_time_estimate": null,
        "human_time_change": null,
        "weight": null,
        "health_status": null,
        "type": issue.work_item_type,
        "iid": issue.iid,
        "url": state.issue_web_url(issue),
        "state": state_name(issue.state),
        "action": action,
        "severity": "unknown",
        "labels": labels(state, issue.project_id, &issue.labels),
    })
}

/// Builds an Issue Hook. `action` is `open`, `close`, `reopen` or `update`; `changes` maps each
/// changed attribute to `{previous, current}`.
pub fn issue_hook(
    state: &dyn HookSource,
    issue: &SimIssue,
    actor: &SimUser,
    action: &str,
    changes: Map<String, Value>,
) -> Option<HookEvent> {
    let p = state.project(&issue.project_id)?;
    // "For all other work items, the `object_kind` field is `work_item`" (webhook_events.md).
    let kind = if issue.work_item_type == crate::work_items::ISSUE {
        "issue"
    } else {
        "work_item"
    };
    let mut body = Map::new();
    body.insert("object_kind".into(), json!(kind));
    body.insert(
        "event_type".into(),
        json!(if issue.confidential {
            format!("confidential_{kind}")
        } else {
            kind.to_string()
        }),
    );
    body.insert("user".into(), user(state, actor));
    body.insert("project".into(), project(state, p));
    let mut attributes = issue_attributes(state, issue, action);
    // `object_attributes.status` as the 2026 captures of `work_item` hooks show it; GitLab's
    // documented Issue example has none, so plain issues carry a status only in `changes`.
    if kind == "work_item"
        && let Some(status) = &issue.status
    {
        attributes["status"] = crate::work_items::status_json(status);
    }
    body.insert("object_attributes".into(), attributes);
    body.insert("repository".into(), repository(state, p));
    let assignees: Vec<Value> = issue
        .assignee_ids
        .iter()
        .filter_map(|id| state.user(id))
        .map(|u| assignee(state, u))
        .collect();
    if let Some(first) = assignees.first() {
        body.insert("assignee".into(), first.clone());
        body.insert("assignees".into(), Value::Array(assignees));
    }
    body.insert(
        "labels".into(),
        labels(state, issue.project_id, &issue.labels),
    );
    body.insert("changes".into(), Value::Object(changes));
    Some(HookEvent {
        project_id: issue.project_id,
        kind: HookKind::Issue,
        confidential: issue.confidential,
        payload: Value::Object(body),
    })
}

/// The `issue` object inside a Note Hook (fields of the documented example).
fn note_issue(state: &dyn HookSource, issue: &SimIssue) -> Value {
    json!({
        "id": issue.id,
        "title": issue.title,
        "assignee_ids": issue.assignee_ids,
        "assignee_id": issue.assignee_ids.first(),
        "author_id": issue.author_id,
        "project_id": issue.project_id,
        "created_at": hook_utc(issue.created_at),
        "updated_at": hook_utc(issue.updated_at),
        "position": 0,
        "branch_name": null,
        "description": issue.description,
        "milestone_id": null,
        "state": state_name(issue.state),
        "iid": issue.iid,
        "labels": labels(state, issue.project_id, &issue.labels),
    })
}

/// Builds a Note Hook for a comment on an issue; `action` is `create` or `update`.
pub fn note_hook(
    state: &dyn HookSource,
    note: &SimNote,
    issue: &SimIssue,
    action: &str,
) -> Option<HookEvent> {
    let p = state.project(&issue.project_id)?;
    let author = state.user(&note.author_id)?;
    let confidential = issue.confidential || note.internal;
    let payload = json!({
        "object_kind": "note",
        "event_type": if confidential { "confidential_note" } else { "note" },
        "user": user(state, author),
        "project_id": p.id,
        "project": project(state, p),
        "repository": repository(state, p),
        "object_attributes": {
            "id": note.id,
            "internal": note.internal,
            "note": note.body,
            "noteable_type": "Issue",
            "author_id": note.author_id,
            "created_at": hook_utc(note.created_at),
            "updated_at": hook_utc(note.updated_at),
            "project_id": p.id,
            "attachment": null,
            "line_code": null,
            "commit_id": "",
            "noteable_id": issue.id,
            "system": note.system,
            "st_diff": null,
            "action": action,
            "url": format!("{}#note_{}", state.issue_web_url(issue), note.id),
        },
        "issue": note_issue(state, issue),
    });
    Some(HookEvent {
        project_id: p.id,
        kind: HookKind::Note,
        confidential,
        payload,
    })
}
