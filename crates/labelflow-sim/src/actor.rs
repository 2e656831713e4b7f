//! Acting as a person in the simulated GitLab, without HTTP: the same operations (and the
//! same webhooks) as the REST API, for tests and the demo to play users.

use super::http::{Inner, lock};
use super::issue_changes::{IssueUpdate, NewIssue, StateEvent};
use super::model::SimIssue;
use super::state::{SimError, SimState};

/// A user doing things; get one from [`super::SimGitlab::as_user`].
pub struct Actor<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) username: String,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Actor<'_> {
    /// Runs `op` as this user under the state lock, then fires the hooks it produced.
    fn act<T>(
        &self,
        op: impl FnOnce(
            &mut SimState,
            u64,
        ) -> Result<(T, Vec<super::hook_payload::HookEvent>), SimError>,
    ) -> Result<T, SimError> {
        let (out, events) = {
            let mut state = lock(&self.inner.state);
            let user = state
                .user_by_username(&self.username)
                .map(|u| u.id)
                .ok_or(SimError::NotFound("User"))?;
            op(&mut state, user)?
        };
        self.inner.dispatch(events);
        Ok(out)
    }

    /// Opens an issue (quick actions in the description run); returns its iid.
    pub fn create_issue(
        &self,
        project: u64,
        title: &str,
        description: &str,
        labels: &[&str],
    ) -> Result<u64, SimError> {
        self.create_issue_with(
            project,
            NewIssue {
                title: title.to_string(),
                description: description.to_string(),
                labels: strings(labels),
                ..NewIssue::default()
            },
        )
    }

    pub fn create_issue_with(&self, project: u64, new: NewIssue) -> Result<u64, SimError> {
        self.act(|s, user| {
            let (issue, events) = s.create_issue(user, project, new)?;
            Ok((issue.iid, events))
        })
    }

    /// Opens a work item of another type (`Task`, `Incident`, …); returns its iid.
    pub fn create_work_item(
        &self,
        project: u64,
        work_item_type: &str,
        title: &str,
        description: &str,
    ) -> Result<u64, SimError> {
        self.create_issue_with(
            project,
            NewIssue {
                title: title.to_string(),
                description: description.to_string(),
                work_item_type: Some(work_item_type.to_string()),
                ..NewIssue::default()
            },
        )
    }

    /// Sets the status named `name` (case-insensitively, from the item's lifecycle), as the
    /// status dropdown or `/status` would.
    pub fn set_status(&self, project: u64, iid: u64, name: &str) -> Result<SimIssue, SimError> {
        self.act(|s, user| {
            let gid = s
                .lifecycle(project)
                .into_iter()
                .find(|st| st.name.eq_ignore_ascii_case(name))
                .map(|st| st.gid)
                .ok_or_else(|| SimError::BadRequest(format!("no status named {name}")))?;
            s.set_status(user, project, iid, &gid)
        })
    }

    /// Sets a custom field by name, as the work item's sidebar would: text as is, a number
    /// parsed, select options by name (comma-separated). No webhook (none is documented).
    pub fn set_custom_field(
        &self,
        project: u64,
        iid: u64,
        name: &str,
        value: &str,
    ) -> Result<(), SimError> {
        self.act(|s, user| {
            let issue = s.visible_issue(project, iid, user)?.clone();
            let field = s
                .fields_for(project, &issue.work_item_type)
                .into_iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| SimError::BadRequest(format!("no custom field {name}")))?;
            let input = match field.field_type.as_str() {
                "NUMBER" => serde_json::json!({
                    "customFieldId": field.gid,
                    "numberValue": value.parse::<f64>().map_err(|_| SimError::BadRequest("not a number".into()))?,
                }),
                "TEXT" => serde_json::json!({ "customFieldId": field.gid, "textValue": value }),
                _ => serde_json::json!({
                    "customFieldId": field.gid,
                    "selectedOptionIds": value
                        .split(',')
                        .filter_map(|v| field.options.iter().find(|(_, o)| o.eq_ignore_ascii_case(v.trim())).map(|(id, _)| id.clone()))
                        .collect::<Vec<_>>(),
                }),
            };
            s.set_custom_value(user, &issue, &input)?;
            Ok(((), Vec::new()))
        })
    }

    /// Any update, as `PUT /projects/:id/issues/:iid` would make it.
    pub fn update(&self, project: u64, iid: u64, upd: IssueUpdate) -> Result<SimIssue, SimError> {
        self.act(|s, user| s.update_issue(user, project, iid, upd))
    }

    pub fn add_labels(
        &self,
        project: u64,
        iid: u64,
        labels: &[&str],
    ) -> Result<SimIssue, SimError> {
        self.update(
            project,
            iid,
            IssueUpdate {
                add_labels: strings(labels),
                ..IssueUpdate::default()
            },
        )
    }

    pub fn remove_labels(
        &self,
        project: u64,
        iid: u64,
        labels: &[&str],
    ) -> Result<SimIssue, SimError> {
        self.update(
            project,
            iid,
            IssueUpdate {
                remove_labels: strings(labels),
                ..IssueUpdate::default()
            },
        )
    }

    pub fn edit_description(
        &self,
        project: u64,
        iid: u64,
        description: &str,
    ) -> Result<SimIssue, SimError> {
        self.update(
            project,
            iid,
            IssueUpdate {
                description: Some(description.to_string()),
                ..IssueUpdate::default()
            },
        )
    }

    pub fn edit_title(&self, project: u64, iid: u64, title: &str) -> Result<SimIssue, SimError> {
        self.update(
            project,
            iid,
            IssueUpdate {
                title: Some(title.to_string()),
                ..IssueUpdate::default()
            },
        )
    }

    pub fn close(&self, project: u64, iid: u64) -> Result<SimIssue, SimError> {
        self.update(
            project,
            iid,
            IssueUpdate {
                state_event: Some(StateEvent::Close),
                ..IssueUpdate::default()
            },
        )
    }

    pub fn reopen(&self, project: u64, iid: u64) -> Result<SimIssue, SimError> {
        self.update(
            project,
            iid,
            IssueUpdate {
                state_event: Some(StateEvent::Reopen),
                ..IssueUpdate::default()
            },
        )
    }

    pub fn set_confidential(
        &self,
        project: u64,
        iid: u64,
        confidential: bool,
    ) -> Result<SimIssue, SimError> {
        self.update(
            project,
            iid,
            IssueUpdate {
                confidential: Some(confidential),
                ..IssueUpdate::default()
            },
        )
    }

    /// Replaces the assignees with these usernames (unknown names are an error).
    pub fn assign(&self, project: u64, iid: u64, usernames: &[&str]) -> Result<SimIssue, SimError> {
        let ids = {
            let state = lock(&self.inner.state);
            usernames
                .iter()
                .map(|n| {
                    state
                        .user_by_username(n)
                        .map(|u| u.id)
                        .ok_or(SimError::NotFound("User"))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        self.update(
            project,
            iid,
            IssueUpdate {
                assignee_ids: Some(ids),
                ..IssueUpdate::default()
            },
        )
    }

    /// Comments (quick actions run with this user's rights). `None` when the body was only
    /// quick actions, which GitLab does not keep as a note.
    pub fn comment(&self, project: u64, iid: u64, body: &str) -> Result<Option<u64>, SimError> {
        self.act(|s, user| {
            let out = s.create_note(user, project, iid, body, false)?;
            Ok((out.note.map(|n| n.id), out.events))
        })
    }

    pub fn internal_comment(
        &self,
        project: u64,
        iid: u64,
        body: &str,
    ) -> Result<Option<u64>, SimError> {
        self.act(|s, user| {
            let out = s.create_note(user, project, iid, body, true)?;
            Ok((out.note.map(|n| n.id), out.events))
        })
    }

    pub fn edit_comment(
        &self,
        project: u64,
        iid: u64,
        note_id: u64,
        body: &str,
    ) -> Result<(), SimError> {
        self.act(|s, user| {
            let (_, events) = s.update_note(user, project, iid, note_id, body)?;
            Ok(((), events))
        })
    }

    /// Links two issues (`relates_to`).
    pub fn link(
        &self,
        project: u64,
        iid: u64,
        target_project: u64,
        target_iid: u64,
    ) -> Result<(), SimError> {
        self.act(|s, user| {
            s.create_link(user, project, iid, target_project, target_iid, None)?;
            Ok(((), Vec::new()))
        })
    }
}
