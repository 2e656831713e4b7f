//! Work item types and configurable statuses, as GitLab 18.2+ has them:
//! - statuses belong to a lifecycle of the top-level namespace; without a custom one, the
//!   system-defined lifecycle applies (To do, In progress, Done, Won't do, Duplicate);
//! - issues and tasks have the status widget; other types (incidents, …) do not;
//! - a status in the `done` or `canceled` category closes the item, another reopens it, and
//!   closing or reopening moves the status to the lifecycle's default for that state;
//! - setting a status fires the item's webhook with `changes.status` `{previous, current}`
//!   (`object_kind: work_item` for types other than Issue), like the captures from gitlab.com.

use serde_json::{Map, Value, json};

use super::hook_payload::{self, HookEvent};
use super::issue_changes::change;
use super::model::{IssueStatus, SimIssue, SimStatus};
use super::state::{SimError, SimState};
use super::timefmt::hook_utc;

/// The type of plain issues.
pub const ISSUE: &str = "Issue";

/// Work item types that have the status widget.
const WITH_STATUS: &[&str] = &["Issue", "Task"];

/// The system-defined lifecycle (`WorkItems::Statuses::SystemDefined::Status`, ids 1–5).
pub fn system_defined() -> Vec<SimStatus> {
    let s = |id: u32, name: &str, category: &str, color: &str| SimStatus {
        gid: format!("gid://gitlab/WorkItems::Statuses::SystemDefined::Status/{id}"),
        name: name.to_string(),
        category: category.to_string(),
        color: color.to_string(),
        description: None,
    };
    vec![
        s(1, "To do", "to_do", "#737278"),
        s(2, "In progress", "in_progress", "#1f75cb"),
        s(3, "Done", "done", "#108548"),
        s(4, "Won't do", "canceled", "#DD2B0E"),
        s(5, "Duplicate", "canceled", "#DD2B0E"),
    ]
}

/// Whether items of this type have a status.
pub fn has_status_widget(work_item_type: &str) -> bool {
    WITH_STATUS
        .iter()
        .any(|t| t.eq_ignore_ascii_case(work_item_type))
}

/// A status as webhooks carry it (`changes.status`, `object_attributes.status`).
pub fn status_json(s: &SimStatus) -> Value {
    json!({
        "id": s.gid,
        "name": s.name,
        "category": s.category,
        "description": s.description,
        "color": s.color,
    })
}

/// `ISSUE`-style enum name of a type (`Test case` → `TEST_CASE`), as REST's `type` writes it.
pub fn type_enum(work_item_type: &str) -> String {
    work_item_type.replace(' ', "_").to_uppercase()
}

/// The work item type REST's `issue_type` names (`test_case` → `Test case`).
pub fn type_from_rest(issue_type: &str) -> String {
    let words = issue_type.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => ISSUE.to_string(),
    }
}

impl SimState {
    /// The lifecycle for items of `project_id`: the top-level group's custom one, else the
    /// system-defined one.
    pub fn lifecycle(&self, project_id: u64) -> Vec<SimStatus> {
        let top = self
            .projects
            .get(&project_id)
            .map(|p| {
                p.path_with_namespace
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_default();
        self.lifecycles
            .get(&top)
            .cloned()
            .unwrap_or_else(system_defined)
    }

    /// The status an item of this type gets when it becomes `state` (first open / first
    /// closed status of the lifecycle); `None` for types without statuses.
    pub(crate) fn default_status(&self, issue: &SimIssue, state: IssueStatus) -> Option<SimStatus> {
        if !has_status_widget(&issue.work_item_type) {
            return None;
        }
        let closed = state == IssueStatus::Closed;
        self.lifecycle(issue.project_id)
            .into_iter()
            .find(|s| s.closes() == closed)
    }

    /// The status after closing / reopening: kept when it already fits the new state.
    pub(crate) fn status_for_state(
        &self,
        issue: &SimIssue,
        state: IssueStatus,
    ) -> Option<SimStatus> {
        match &issue.status {
            Some(s) if s.closes() == (state == IssueStatus::Closed) => Some(s.clone()),
            _ => self.default_status(issue, state),
        }
    }

    /// Sets the status identified by `gid` (from the item's lifecycle) as `actor_id`, with the
    /// state sync and the webhook. The same status again changes nothing and fires nothing.
    pub fn set_status(
        &mut self,
        actor_id: u64,
        project_id: u64,
        iid: u64,
        gid: &str,
    ) -> Result<(SimIssue, Vec<HookEvent>), SimError> {
        let before = self.visible_issue(project_id, iid, actor_id)?.clone();
        if !self.can_set_metadata(project_id, actor_id) {
            return Err(SimError::Forbidden);
        }
        if !has_status_widget(&before.work_item_type) {
            return Err(SimError::BadRequest(format!(
                "{} work items have no status widget",
                before.work_item_type
            )));
        }
        let status = self
            .lifecycle(project_id)
            .into_iter()
            .find(|s| s.gid == gid)
            .ok_or_else(|| SimError::BadRequest("Status doesn't exist.".into()))?;
        if before.status.as_ref() == Some(&status) {
            return Ok((before, Vec::new()));
        }
        let now = self.now();
        let mut after = before.clone();
        after.status = Some(status.clone());
        after.updated_at = now;
        after.updated_by_id = Some(actor_id);
        let new_state = if status.closes() {
            IssueStatus::Closed
        } else {
            IssueStatus::Opened
        };
        let state_changed = new_state != before.state;
        if state_changed {
            after.state = new_state;
            after.closed_at = (new_state == IssueStatus::Closed).then_some(now);
            after.closed_by_id = (new_state == IssueStatus::Closed).then_some(actor_id);
        }
        self.issues.insert(after.id, after.clone());
        let mut changes = Map::new();
        changes.insert(
            "status".into(),
            change(
                before
                    .status
                    .as_ref()
                    .map(status_json)
                    .unwrap_or(Value::Null),
                status_json(&status),
            ),
        );
        if state_changed {
            changes.insert(
                "state_id".into(),
                change(
                    json!(super::issue_changes::state_id(before.state)),
                    json!(super::issue_changes::state_id(after.state)),
                ),
            );
            changes.insert(
                "closed_at".into(),
                change(
                    json!(before.closed_at.map(hook_utc)),
                    json!(after.closed_at.map(hook_utc)),
                ),
            );
        }
        changes.insert(
            "updated_at".into(),
            change(
                json!(hook_utc(before.updated_at)),
                json!(hook_utc(after.updated_at)),
            ),
        );
        changes.insert(
            "updated_by_id".into(),
            change(json!(before.updated_by_id), json!(actor_id)),
        );
        let action = match (state_changed, new_state) {
            (true, IssueStatus::Closed) => "close",
            (true, IssueStatus::Opened) => "reopen",
            _ => "update",
        };
        let actor = self.user(actor_id)?.clone();
        let events = hook_payload::issue_hook(self, &after, &actor, action, changes)
            .into_iter()
            .collect();
        Ok((after, events))
    }
}
