//! Changes to issues, shared by the REST routes and the test-driver [`super::Actor`]:
//! permission checks, scoped labels, quick actions, system notes, resource label events, and
//! the Issue Hooks each change fires. Notes and links are in `note_ops`.

use serde_json::{Map, Value, json};

use super::hook_payload::{self, HookEvent};
use super::issue_changes::{IssueUpdate, NewIssue, StateEvent, change, state_id};
use super::labels::{apply_label_change, label_change_note};
use super::model::{IssueStatus, LabelAction, SimIssue, SimLabelEvent, access};
use super::quick_actions::{self, QuickAction};
use super::state::{SimError, SimState};
use super::timefmt::hook_utc;

impl SimState {
    /// Creates an issue as `actor_id`, running quick actions found in the description.
    pub fn create_issue(
        &mut self,
        actor_id: u64,
        project_id: u64,
        new: NewIssue,
    ) -> Result<(SimIssue, Vec<HookEvent>), SimError> {
        self.project(project_id)?;
        self.require_access(project_id, actor_id, access::GUEST)?;
        if new.title.trim().is_empty() {
            return Err(SimError::MissingParam("title".into()));
        }
        let meta = self.can_set_metadata(project_id, actor_id);
        let extracted = quick_actions::extract(&new.description, |a| meta || !a.sets_metadata());
        // GitLab silently drops metadata a user may not set.
        let mut labels = if meta { new.labels } else { Vec::new() };
        let mut assignees = if meta { new.assignee_ids } else { Vec::new() };
        let mut confidential = new.confidential;
        let mut title = new.title;
        for action in &extracted.actions {
            match action {
                QuickAction::Label(ls) => labels.extend(ls.iter().cloned()),
                QuickAction::Unlabel(ls) if ls.is_empty() => labels.clear(),
                QuickAction::Unlabel(ls) => labels.retain(|l| !ls.contains(l)),
                QuickAction::Relabel(ls) => labels = ls.clone(),
                QuickAction::Assign(us) => {
                    assignees.extend(self.resolve_usernames(us, actor_id));
                }
                QuickAction::Unassign(_) => assignees.clear(),
                QuickAction::Confidential => confidential = true,
                QuickAction::Title(t) => title = t.clone(),
                QuickAction::Close | QuickAction::Reopen => {}
            }
        }
        let labels = apply_label_change(&[], Some(&labels), &[], &[]);
        for l in &labels {
            self.ensure_label(project_id, l)?;
        }
        let assignees = self.clean_assignees(assignees);
        let id = self.next_id();
        let now = self.now();
        let project = self.project_mut(project_id)?;
        let iid = project.next_iid;
        project.next_iid += 1;
        let issue = SimIssue {
            id,
            iid,
            project_id,
            title,
            description: extracted.text,
            state: IssueStatus::Opened,
            labels,
            assignee_ids: assignees,
            author_id: actor_id,
            confidential,
            created_at: now,
            updated_at: now,
            closed_at: None,
            closed_by_id: None,
            updated_by_id: None,
            last_edited_at: None,
            last_edited_by_id: None,
            milestone: None,
            work_item_type: new
                .work_item_type
                .clone()
                .unwrap_or_else(|| crate::work_items::ISSUE.to_string()),
            status: None,
            custom_values: Default::default(),
        };
        let issue = SimIssue {
            status: self.default_status(&issue, IssueStatus::Opened),
            ..issue
        };
        self.issues.insert(id, issue.clone());
        self.index_issue(project_id, iid, id);
        let added: Vec<String> = issue.labels.clone();
        self.record_label_events(&issue, actor_id, &added, &[]);

        let mut changes = Map::new();
        changes.insert("author_id".into(), change(Value::Null, json!(actor_id)));
        changes.insert(
            "created_at".into(),
            change(Value::Null, json!(hook_utc(now))),
        );
        changes.insert(
            "description".into(),
            change(Value::Null, json!(issue.description)),
        );
        changes.insert("id".into(), change(Value::Null, json!(id)));
        changes.insert("iid".into(), change(Value::Null, json!(iid)));
        changes.insert("project_id".into(), change(Value::Null, json!(project_id)));
        changes.insert("title".into(), change(Value::Null, json!(issue.title)));
        changes.insert(
            "updated_at".into(),
            change(Value::Null, json!(hook_utc(now))),
        );
        if issue.confidential {
            changes.insert("confidential".into(), change(json!(false), json!(true)));
        }
        if !issue.labels.is_empty() {
            changes.insert(
                "labels".into(),
                change(
                    json!([]),
                    hook_payload::labels(self, project_id, &issue.labels),
                ),
            );
        }
        if !issue.assignee_ids.is_empty() {
            changes.insert(
                "assignees".into(),
                change(json!([]), self.assignee_objects(&issue.assignee_ids)),
            );
        }
        let actor = self.user(actor_id)?.clone();
        let events = hook_payload::issue_hook(self, &issue, &actor, "open", changes)
            .into_iter()
            .collect();
        Ok((issue, events))
    }

    /// Applies an update as `actor_id`. Metadata (labels, assignees, confidentiality) from a
    /// user below Reporter is ignored, as GitLab does; nothing changed → no hook.
    pub fn update_issue(
        &mut self,
        actor_id: u64,
        project_id: u64,
        iid: u64,
        upd: IssueUpdate,
    ) -> Result<(SimIssue, Vec<HookEvent>), SimError> {
        let before = self.visible_issue(project_id, iid, actor_id)?.clone();
        if !self.can_update(&before, actor_id) {
            return Err(SimError::Forbidden);
        }
        let meta = self.can_set_metadata(project_id, actor_id);
        let now = self.now();
        let mut after = before.clone();
        if meta {
            after.labels = apply_label_change(
                &before.labels,
                upd.labels.as_deref(),
                &upd.add_labels,
                &upd.remove_labels,
            );
            for l in &after.labels {
                self.ensure_label(project_id, l)?;
            }
            if let Some(ids) = upd.assignee_ids {
                after.assignee_ids = self.clean_assignees(ids);
            }
            if let Some(c) = upd.confidential {
                after.confidential = c;
            }
        }
        if let Some(t) = upd.title.filter(|t| !t.trim().is_empty()) {
            after.title = t;
        }
        if let Some(d) = upd.description {
            after.description = d;
        }
        let state_change = match (upd.state_event, before.state) {
            (Some(StateEvent::Close), IssueStatus::Opened) => Some(IssueStatus::Closed),
            (Some(StateEvent::Reopen), IssueStatus::Closed) => Some(IssueStatus::Opened),
            _ => None,
        };
        let added: Vec<String> = after
            .labels
            .iter()
            .filter(|l| !before.labels.contains(l))
            .cloned()
            .collect();
        let removed: Vec<String> = before
            .labels
            .iter()
            .filter(|l| !after.labels.contains(l))
            .cloned()
            .collect();
        let title_changed = after.title != before.title;
        let description_changed = after.description != before.description;
        let assignees_changed = after.assignee_ids != before.assignee_ids;
        let confidential_changed = after.confidential != before.confidential;
        let labels_changed = !added.is_empty() || !removed.is_empty();
        let attrs_changed = labels_changed
            || title_changed
            || description_changed
            || assignees_changed
            || confidential_changed;
        if !attrs_changed && state_change.is_none() {
            return Ok((before, Vec::new()));
        }

        after.updated_at = now;
        after.updated_by_id = Some(actor_id);
        if title_changed || description_changed {
            after.last_edited_at = Some(now);
            after.last_edited_by_id = Some(actor_id);
        }
        if let Some(s) = state_change {
            after.status = self.status_for_state(&after, s);
            after.state = s;
            match s {
                IssueStatus::Closed => {
                    after.closed_at = Some(now);
                    after.closed_by_id = Some(actor_id);
                }
                IssueStatus::Opened => {
                    after.closed_at = None;
                    after.closed_by_id = None;
                }
            }
        }
        self.issues.insert(after.id, after.clone());
        self.record_label_events(&after, actor_id, &added, &removed);
        self.write_update_notes(&before, &after, actor_id, &added, &removed);

        let actor = self.user(actor_id)?.clone();
        let mut events = Vec::new();
        let common = |changes: &mut Map<String, Value>| {
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
        };
        if let Some(s) = state_change {
            let mut changes = Map::new();
            changes.insert(
                "state_id".into(),
                change(json!(state_id(before.state)), json!(state_id(s))),
            );
            if after.status != before.status {
                let json_of = |s: &Option<crate::model::SimStatus>| {
                    s.as_ref()
                        .map(crate::work_items::status_json)
                        .unwrap_or(Value::Null)
                };
                changes.insert(
                    "status".into(),
                    change(json_of(&before.status), json_of(&after.status)),
                );
            }
            changes.insert(
                "closed_at".into(),
                change(
                    json!(before.closed_at.map(hook_utc)),
                    json!(after.closed_at.map(hook_utc)),
                ),
            );
            common(&mut changes);
            let action = if s == IssueStatus::Closed {
                "close"
            } else {
                "reopen"
            };
            events.extend(hook_payload::issue_hook(
                self, &after, &actor, action, changes,
            ));
        }
        if attrs_changed {
            let mut changes = Map::new();
            if title_changed {
                changes.insert(
                    "title".into(),
                    change(json!(before.title), json!(after.title)),
                );
            }
            if description_changed {
                changes.insert(
                    "description".into(),
                    change(json!(before.description), json!(after.description)),
                );
            }
            if title_changed || description_changed {
                changes.insert(
                    "last_edited_at".into(),
                    change(
                        json!(before.last_edited_at.map(hook_utc)),
                        json!(after.last_edited_at.map(hook_utc)),
                    ),
                );
                changes.insert(
                    "last_edited_by_id".into(),
                    change(json!(before.last_edited_by_id), json!(actor_id)),
                );
            }
            if confidential_changed {
                changes.insert(
                    "confidential".into(),
                    change(json!(before.confidential), json!(after.confidential)),
                );
            }
            if labels_changed {
                changes.insert(
                    "labels".into(),
                    change(
                        hook_payload::labels(self, project_id, &before.labels),
                        hook_payload::labels(self, project_id, &after.labels),
                    ),
                );
            }
            if assignees_changed {
                changes.insert(
                    "assignees".into(),
                    change(
                        self.assignee_objects(&before.assignee_ids),
                        self.assignee_objects(&after.assignee_ids),
                    ),
                );
            }
            common(&mut changes);
            events.extend(hook_payload::issue_hook(
                self, &after, &actor, "update", changes,
            ));
        }
        Ok((after, events))
    }

    pub(crate) fn resolve_usernames(&self, names: &[String], actor_id: u64) -> Vec<u64> {
        names
            .iter()
            .filter_map(|n| {
                if n == "me" {
                    Some(actor_id)
                } else {
                    self.user_by_username(n).map(|u| u.id)
                }
            })
            .collect()
    }

    /// Drops `0`, unknown users and repeats, keeping order.
    fn clean_assignees(&self, ids: Vec<u64>) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for id in ids {
            if id != 0 && self.users.contains_key(&id) && !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    fn assignee_objects(&self, ids: &[u64]) -> Value {
        Value::Array(
            ids.iter()
                .filter_map(|id| self.users.get(id))
                .map(|u| {
                    json!({
                        "name": u.name,
                        "username": u.username,
                        "avatar_url": hook_payload::avatar_url(self, u),
                    })
                })
                .collect(),
        )
    }

    fn record_label_events(
        &mut self,
        issue: &SimIssue,
        actor_id: u64,
        added: &[String],
        removed: &[String],
    ) {
        let now = self.now();
        let changes = removed
            .iter()
            .map(|t| (t, LabelAction::Remove))
            .chain(added.iter().map(|t| (t, LabelAction::Add)));
        let mut events = Vec::new();
        for (title, action) in changes {
            if let Some(label) = self
                .projects
                .get(&issue.project_id)
                .and_then(|p| p.label(title))
            {
                events.push((label.id, action));
            }
        }
        for (label_id, action) in events {
            let id = self.next_id();
            self.label_events.push(SimLabelEvent {
                id,
                issue_id: issue.id,
                user_id: actor_id,
                label_id,
                action,
                created_at: now,
            });
        }
    }

    /// The system notes GitLab writes for an update.
    fn write_update_notes(
        &mut self,
        before: &SimIssue,
        after: &SimIssue,
        actor_id: u64,
        added: &[String],
        removed: &[String],
    ) {
        let mut bodies = Vec::new();
        if before.state != after.state {
            bodies.push(match after.state {
                IssueStatus::Closed => "closed".to_string(),
                IssueStatus::Opened => "reopened".to_string(),
            });
        }
        if let Some(body) = label_change_note(added, removed) {
            bodies.push(body);
        }
        if before.title != after.title {
            bodies.push(format!(
                "changed title from **{}** to **{}**",
                before.title, after.title
            ));
        }
        if before.description != after.description {
            bodies.push("changed the description".to_string());
        }
        if before.assignee_ids != after.assignee_ids {
            let names = self.usernames(&after.assignee_ids);
            bodies.push(if names.is_empty() {
                "removed all assignees".to_string()
            } else {
                let at: Vec<String> = names.iter().map(|n| format!("@{n}")).collect();
                format!("assigned to {}", at.join(" "))
            });
        }
        if before.confidential != after.confidential {
            bodies.push(if after.confidential {
                "made the issue confidential".to_string()
            } else {
                "made the issue visible to everyone".to_string()
            });
        }
        for body in bodies {
            self.add_system_note(after.id, actor_id, body);
        }
    }
}
