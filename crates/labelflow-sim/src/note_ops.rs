//! Comments and issue links, shared by the REST routes and the test-driver
//! [`super::Actor`]: quick actions run with the author's rights, Note Hooks, link system notes.

use super::hook_payload::{self, HookEvent};
use super::issue_changes::{IssueUpdate, StateEvent};
use super::model::{SimIssue, SimIssueLink, SimNote, access};
use super::quick_actions::{self, QuickAction};
use super::state::{SimError, SimState};

/// What posting a comment did.
#[derive(Debug, Clone)]
pub struct NoteOutcome {
    /// `None` when the body was only quick actions (GitLab answers 202 and stores no note).
    pub note: Option<SimNote>,
    /// Human summary of the quick actions run (`Added ~x label.`).
    pub summary: Vec<String>,
    pub events: Vec<HookEvent>,
}

impl SimState {
    /// Posts a comment as `actor_id`, running its quick actions with the actor's rights.
    pub fn create_note(
        &mut self,
        actor_id: u64,
        project_id: u64,
        iid: u64,
        body: &str,
        internal: bool,
    ) -> Result<NoteOutcome, SimError> {
        let issue = self.visible_issue(project_id, iid, actor_id)?.clone();
        let level = self.access_level(project_id, actor_id);
        if level < access::GUEST && issue.author_id != actor_id {
            return Err(SimError::Forbidden);
        }
        if internal && level < access::REPORTER {
            return Err(SimError::Forbidden);
        }
        if body.trim().is_empty() {
            return Err(SimError::BadRequest(
                "400 Bad request - Note {:note=>[\"can't be blank\"]}".into(),
            ));
        }
        let meta = self.can_set_metadata(project_id, actor_id);
        let can_update = self.can_update(&issue, actor_id);
        let extracted =
            quick_actions::extract(body, |a| if a.sets_metadata() { meta } else { can_update });
        let mut events = Vec::new();
        let text = if extracted.actions.is_empty() {
            body.to_string()
        } else {
            extracted.text.clone()
        };
        let note = if text.trim().is_empty() {
            None
        } else {
            let id = self.next_id();
            let now = self.now();
            let note = SimNote {
                id,
                issue_id: issue.id,
                body: text,
                author_id: actor_id,
                system: false,
                internal,
                created_at: now,
                updated_at: now,
            };
            self.notes.insert(id, note.clone());
            // GitLab's Note `belongs_to :noteable, touch: true`: a comment moves the issue's
            // `updated_at`.
            if let Some(i) = self.issues.get_mut(&issue.id) {
                i.updated_at = now;
            }
            events.extend(hook_payload::note_hook(self, &note, &issue, "create"));
            Some(note)
        };
        let summary = extracted.actions.iter().map(summarise).collect();
        if !extracted.actions.is_empty() {
            let upd = self.update_from_actions(&issue, actor_id, &extracted.actions);
            let (_, more) = self.update_issue(actor_id, project_id, iid, upd)?;
            events.extend(more);
        }
        Ok(NoteOutcome {
            note,
            summary,
            events,
        })
    }

    /// Edits a comment; only its author may. Fires a Note Hook with `action: update`.
    pub fn update_note(
        &mut self,
        actor_id: u64,
        project_id: u64,
        iid: u64,
        note_id: u64,
        body: &str,
    ) -> Result<(SimNote, Vec<HookEvent>), SimError> {
        let issue = self.visible_issue(project_id, iid, actor_id)?.clone();
        let mut note = self
            .notes
            .get(&note_id)
            .filter(|n| n.issue_id == issue.id)
            .cloned()
            .ok_or(SimError::NotFound("Note"))?;
        if note.author_id != actor_id || note.system {
            return Err(SimError::Forbidden);
        }
        if body.trim().is_empty() {
            return Err(SimError::BadRequest(
                "400 Bad request - Note {:note=>[\"can't be blank\"]}".into(),
            ));
        }
        note.body = body.to_string();
        note.updated_at = self.now();
        self.notes.insert(note_id, note.clone());
        let events = hook_payload::note_hook(self, &note, &issue, "update")
            .into_iter()
            .collect();
        Ok((note, events))
    }

    /// Links two issues (`relates_to`); the link is visible from both, and each gets a system
    /// note, as in GitLab.
    pub fn create_link(
        &mut self,
        actor_id: u64,
        project_id: u64,
        iid: u64,
        target_project_id: u64,
        target_iid: u64,
        link_type: Option<&str>,
    ) -> Result<(SimIssue, SimIssue, SimIssueLink), SimError> {
        let source = self.visible_issue(project_id, iid, actor_id)?.clone();
        let target = self
            .visible_issue(target_project_id, target_iid, actor_id)?
            .clone();
        self.require_access(project_id, actor_id, access::GUEST)?;
        if source.id == target.id {
            return Err(SimError::BadRequest(
                "Cannot link an issue to itself".into(),
            ));
        }
        let exists = self.links.iter().any(|l| {
            (l.source_issue_id == source.id && l.target_issue_id == target.id)
                || (l.source_issue_id == target.id && l.target_issue_id == source.id)
        });
        if exists {
            return Err(SimError::Conflict("Issue(s) already assigned".into()));
        }
        let link_type = link_type.unwrap_or("relates_to").to_string();
        if !matches!(
            link_type.as_str(),
            "relates_to" | "blocks" | "is_blocked_by"
        ) {
            return Err(SimError::BadRequest(
                "link_type does not have a valid value".into(),
            ));
        }
        let link = SimIssueLink {
            id: self.next_id(),
            source_issue_id: source.id,
            target_issue_id: target.id,
            link_type,
            created_at: self.now(),
        };
        self.links.push(link.clone());
        let to_target = self.issue_reference(&target, source.project_id);
        let to_source = self.issue_reference(&source, target.project_id);
        self.add_system_note(
            source.id,
            actor_id,
            format!("marked this issue as related to {to_target}"),
        );
        self.add_system_note(
            target.id,
            actor_id,
            format!("marked this issue as related to {to_source}"),
        );
        Ok((source, target, link))
    }

    /// Turns quick actions into an update of `issue`, resolving `me` and usernames.
    fn update_from_actions(
        &self,
        issue: &SimIssue,
        actor_id: u64,
        actions: &[QuickAction],
    ) -> IssueUpdate {
        let mut upd = IssueUpdate::default();
        let mut assignees = issue.assignee_ids.clone();
        let mut assignees_touched = false;
        for action in actions {
            match action {
                QuickAction::Label(ls) => upd.add_labels.extend(ls.iter().cloned()),
                QuickAction::Unlabel(ls) if ls.is_empty() => {
                    upd.remove_labels.extend(issue.labels.iter().cloned())
                }
                QuickAction::Unlabel(ls) => upd.remove_labels.extend(ls.iter().cloned()),
                QuickAction::Relabel(ls) => upd.labels = Some(ls.clone()),
                QuickAction::Close => upd.state_event = Some(StateEvent::Close),
                QuickAction::Reopen => upd.state_event = Some(StateEvent::Reopen),
                QuickAction::Assign(us) => {
                    assignees.extend(self.resolve_usernames(us, actor_id));
                    assignees_touched = true;
                }
                QuickAction::Unassign(us) if us.is_empty() => {
                    assignees.clear();
                    assignees_touched = true;
                }
                QuickAction::Unassign(us) => {
                    let gone = self.resolve_usernames(us, actor_id);
                    assignees.retain(|a| !gone.contains(a));
                    assignees_touched = true;
                }
                QuickAction::Confidential => upd.confidential = Some(true),
                QuickAction::Title(t) => upd.title = Some(t.clone()),
            }
        }
        if assignees_touched {
            upd.assignee_ids = Some(assignees);
        }
        upd
    }
}

/// The line GitLab's `summary` gives for a command run from a note.
fn summarise(action: &QuickAction) -> String {
    use super::labels::label_reference;
    let refs = |ls: &[String]| {
        ls.iter()
            .map(|l| label_reference(l))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match action {
        QuickAction::Label(ls) => format!("Added {} label(s).", refs(ls)),
        QuickAction::Unlabel(ls) if ls.is_empty() => "Removed all labels.".into(),
        QuickAction::Unlabel(ls) => format!("Removed {} label(s).", refs(ls)),
        QuickAction::Relabel(ls) => format!("Replaced all labels with {} label(s).", refs(ls)),
        QuickAction::Close => "Closed this issue.".into(),
        QuickAction::Reopen => "Reopened this issue.".into(),
        QuickAction::Assign(us) => format!("Assigned {}.", us.join(" ")),
        QuickAction::Unassign(_) => "Removed assignees.".into(),
        QuickAction::Confidential => "Made this issue confidential.".into(),
        QuickAction::Title(t) => format!("Changed the title to \"{t}\"."),
    }
}
