//! REST API representations (GitLab's `Entities::*` shapes as `doc/api/*.md` shows them).

use serde_json::{Value, json};

use super::hook_payload::avatar_url;
use super::model::{
    IssueStatus, SimHook, SimIssue, SimIssueLink, SimLabel, SimLabelEvent, SimNote, SimProject,
    SimUser,
};
use super::state::SimState;
use super::timefmt::api;

/// `UserBasic`: what issues, notes and members embed.
pub fn user_basic(state: &SimState, u: &SimUser) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "name": u.name,
        "state": "active",
        "locked": false,
        "avatar_url": avatar_url(state, u),
        "web_url": format!("{}/{}", state.base_url, u.username),
    })
}

fn user_basic_by_id(state: &SimState, id: u64) -> Value {
    state
        .users
        .get(&id)
        .map(|u| user_basic(state, u))
        .unwrap_or(Value::Null)
}

/// `GET /user` and `GET /users/:id`.
pub fn user_full(state: &SimState, u: &SimUser, with_email: bool) -> Value {
    let mut v = user_basic(state, u);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("created_at".into(), json!(api(u.created_at)));
        obj.insert("bio".into(), json!(""));
        obj.insert("public_email".into(), Value::Null);
        obj.insert("bot".into(), json!(false));
        if with_email {
            obj.insert("email".into(), json!(u.email));
            obj.insert("is_admin".into(), json!(false));
        }
    }
    v
}

pub fn project(state: &SimState, p: &SimProject) -> Value {
    let web_url = state.project_web_url(p);
    let (ns_path, _) = p
        .path_with_namespace
        .rsplit_once('/')
        .unwrap_or(("", p.path_with_namespace.as_str()));
    let path = p.path_with_namespace.rsplit('/').next().unwrap_or("");
    json!({
        "id": p.id,
        "description": "",
        "name": p.name,
        "name_with_namespace": p.path_with_namespace.replace('/', " / "),
        "path": path,
        "path_with_namespace": p.path_with_namespace,
        "created_at": api(p.created_at),
        "default_branch": p.default_branch,
        "web_url": web_url,
        "http_url_to_repo": format!("{web_url}.git"),
        "visibility": "internal",
        "issues_enabled": true,
        "namespace": {
            "id": 0,
            "name": ns_path.rsplit('/').next().unwrap_or(ns_path),
            "path": ns_path.rsplit('/').next().unwrap_or(ns_path),
            "kind": "group",
            "full_path": ns_path,
        },
        "_links": {
            "self": format!("{}/api/v4/projects/{}", state.base_url, p.id),
            "issues": format!("{}/api/v4/projects/{}/issues", state.base_url, p.id),
            "labels": format!("{}/api/v4/projects/{}/labels", state.base_url, p.id),
        },
    })
}

fn path_url(state: &SimState, project_id: u64) -> String {
    state
        .projects
        .get(&project_id)
        .map(|p| state.project_web_url(p))
        .unwrap_or_else(|| state.base_url.clone())
}

fn state_name(s: IssueStatus) -> &'static str {
    match s {
        IssueStatus::Opened => "opened",
        IssueStatus::Closed => "closed",
    }
}

pub fn issue(state: &SimState, i: &SimIssue) -> Value {
    let notes = state
        .notes
        .values()
        .filter(|n| n.issue_id == i.id && !n.system)
        .count();
    issue_with_notes_count(state, i, notes)
}

/// `issue` with `user_notes_count` counted by the caller (listings count once per page).
pub fn issue_with_notes_count(state: &SimState, i: &SimIssue, notes: usize) -> Value {
    let assignees: Vec<Value> = i
        .assignee_ids
        .iter()
        .map(|id| user_basic_by_id(state, *id))
        .collect();
    let path = state
        .projects
        .get(&i.project_id)
        .map(|p| p.path_with_namespace.clone())
        .unwrap_or_default();
    let api_base = format!(
        "{}/api/v4/projects/{}/issues/{}",
        state.base_url, i.project_id, i.iid
    );
    json!({
        "id": i.id,
        "iid": i.iid,
        "project_id": i.project_id,
        "title": i.title,
        "description": i.description,
        "state": state_name(i.state),
        "created_at": api(i.created_at),
        "updated_at": api(i.updated_at),
        "closed_at": i.closed_at.map(api),
        "closed_by": i.closed_by_id.map(|id| user_basic_by_id(state, id)),
        "labels": i.labels,
        "milestone": i.milestone.as_ref().map(|m| json!({
            "id": m.id,
            "iid": m.id,
            "project_id": i.project_id,
            "title": m.title,
            "description": null,
            "state": "active",
            "created_at": api(i.created_at),
            "updated_at": api(i.created_at),
            "due_date": null,
            "start_date": null,
            "web_url": format!("{}/-/milestones/{}", path_url(state, i.project_id), m.id),
        })),
        "assignees": assignees,
        "author": user_basic_by_id(state, i.author_id),
        "type": crate::work_items::type_enum(&i.work_item_type),
        "assignee": assignees.first(),
        "user_notes_count": notes,
        "merge_requests_count": 0,
        "upvotes": 0,
        "downvotes": 0,
        "due_date": null,
        "confidential": i.confidential,
        "discussion_locked": null,
        "issue_type": crate::work_items::type_enum(&i.work_item_type).to_lowercase(),
        "web_url": state.issue_web_url(i),
        "time_stats": {
            "time_estimate": 0,
            "total_time_spent": 0,
            "human_time_estimate": null,
            "human_total_time_spent": null,
        },
        "task_completion_status": { "count": 0, "completed_count": 0 },
        "has_tasks": false,
        "_links": {
            "self": api_base,
            "notes": format!("{api_base}/notes"),
            "award_emoji": format!("{api_base}/award_emoji"),
            "project": format!("{}/api/v4/projects/{}", state.base_url, i.project_id),
            "closed_as_duplicate_of": null,
        },
        "references": {
            "short": format!("#{}", i.iid),
            "relative": format!("#{}", i.iid),
            "full": format!("{path}#{}", i.iid),
        },
        "severity": "UNKNOWN",
        "moved_to_id": null,
        "service_desk_reply_to": null,
        "subscribed": false,
        "weight": null,
    })
}

/// An issue as `GET .../links` lists it: the issue plus the link's fields.
pub fn linked_issue(state: &SimState, i: &SimIssue, link: &SimIssueLink) -> Value {
    let mut v = issue(state, i);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("issue_link_id".into(), json!(link.id));
        obj.insert("link_type".into(), json!(link.link_type));
        obj.insert("link_created_at".into(), json!(api(link.created_at)));
        obj.insert("link_updated_at".into(), json!(api(link.created_at)));
    }
    v
}

pub fn note(state: &SimState, n: &SimNote) -> Value {
    let issue = state.issues.get(&n.issue_id);
    json!({
        "id": n.id,
        "type": null,
        "body": n.body,
        "attachment": null,
        "author": user_basic_by_id(state, n.author_id),
        "created_at": api(n.created_at),
        "updated_at": api(n.updated_at),
        "system": n.system,
        "noteable_id": n.issue_id,
        "noteable_type": "Issue",
        "project_id": issue.map(|i| i.project_id),
        "noteable_iid": issue.map(|i| i.iid),
        "resolvable": false,
        "confidential": n.internal,
        "internal": n.internal,
        "imported": false,
        "imported_from": "none",
    })
}

pub fn label(state: &SimState, l: &SimLabel) -> Value {
    let (mut open, mut closed) = (0, 0);
    for i in state.issues.values() {
        if i.project_id == l.project_id && i.labels.contains(&l.title) {
            match i.state {
                IssueStatus::Opened => open += 1,
                IssueStatus::Closed => closed += 1,
            }
        }
    }
    json!({
        "id": l.id,
        "name": l.title,
        "color": l.color,
        "text_color": "#FFFFFF",
        "description": l.description,
        "description_html": l.description.clone().unwrap_or_default(),
        "open_issues_count": open,
        "closed_issues_count": closed,
        "open_merge_requests_count": 0,
        "subscribed": false,
        "priority": null,
        "is_project_label": l.group_id.is_none(),
    })
}

pub fn label_event(state: &SimState, e: &SimLabelEvent) -> Value {
    let label = state
        .projects
        .values()
        .flat_map(|p| p.labels.iter())
        .find(|l| l.id == e.label_id);
    json!({
        "id": e.id,
        "user": user_basic_by_id(state, e.user_id),
        "created_at": api(e.created_at),
        "resource_type": "Issue",
        "resource_id": e.issue_id,
        "label": label.map(|l| json!({
            "id": l.id,
            "name": l.title,
            "color": l.color,
            "description": l.description,
        })),
        "action": e.action.as_str(),
    })
}

pub fn member(state: &SimState, u: &SimUser, access_level: u32) -> Value {
    let mut v = user_basic(state, u);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("access_level".into(), json!(access_level));
        obj.insert("created_at".into(), json!(api(u.created_at)));
        obj.insert("expires_at".into(), Value::Null);
        obj.insert("membership_state".into(), json!("active"));
    }
    v
}

/// A hook as the API shows it (tokens are never returned).
pub fn hook(h: &SimHook) -> Value {
    json!({
        "id": h.id,
        "url": h.config.url,
        "name": null,
        "description": null,
        "project_id": h.project_id,
        "push_events": h.config.push_events,
        "issues_events": h.config.issues_events,
        "confidential_issues_events": h.config.confidential_issues_events,
        "merge_requests_events": false,
        "tag_push_events": false,
        "note_events": h.config.note_events,
        "confidential_note_events": h.config.confidential_note_events,
        "job_events": false,
        "pipeline_events": false,
        "wiki_page_events": false,
        "enable_ssl_verification": true,
        // GitLab MR 231325 (with signing tokens): whether each secret is set, never its value.
        "token_present": h.config.token.is_some(),
        "signing_token_present": h.config.signing_token.is_some(),
        "created_at": api(h.created_at),
        "alert_status": "executable",
        "disabled_until": null,
    })
}
