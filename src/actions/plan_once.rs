//! Plans decided once (DESIGN §1.5).
//!
//! A step can change the very state its trigger read: after `license::in-progress` replaced
//! `license::request`, planning again would find nothing to do and drop the rest of the step.
//! So an event's planned actions are stored before the first of them runs, and every later
//! try (a retry, a takeover after a crash, `events retry`, a second delivery of the same
//! change) finishes the stored plan. Only a plan none of whose actions ran may be made again.

use super::PlannedAction;
use crate::domain::{Event, EventKind};
use crate::store::PlanSource;

/// Where a plan comes from, and the identity it is stored under.
#[derive(Debug, Clone)]
pub struct PlanRun {
    /// The change's identity ([`plan_key`]).
    pub plan_key: String,
    pub issue_key: String,
    pub source: PlanSource,
    /// The inbox event deciding it (none for sweeps).
    pub event_id: Option<i64>,
}

/// What to execute for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A new plan (stored, unless it is empty and nothing needs to remember it).
    Fresh(Vec<PlannedAction>),
    /// An earlier try's plan, part of which already ran: finish it.
    Resumed(Vec<PlannedAction>),
    /// The change was handled completely before (a second delivery of it): do nothing.
    AlreadyHandled { event_id: Option<i64> },
}

impl Decision {
    /// The actions to execute.
    pub fn actions(&self) -> &[PlannedAction] {
        match self {
            Decision::Fresh(a) | Decision::Resumed(a) => a,
            Decision::AlreadyHandled { .. } => &[],
        }
    }
}

/// The identity a plan is stored under. A comment is identified by its note id and a due
/// follow-up by its key, so a second delivery of either (under any delivery id) finds the
/// plan. GitLab gives an issue change no id of its own (its `updated_at` has one-second
/// resolution, and the same person may apply, lose and re-apply a label within a second), so
/// an issue change is identified by its stored delivery (`event_id`); a resend of it under a
/// new delivery id plans again, and the ledger's per-action keys keep what already happened
/// from happening twice.
pub fn plan_key(event: &Event, event_id: i64) -> String {
    match event.kind {
        EventKind::Comment { .. } | EventKind::Tick { .. } => {
            format!("{}/{}", event.issue, event.change_id)
        }
        _ => format!("{}/event:{event_id}", event.issue),
    }
}

pub(super) fn encode(actions: &[PlannedAction]) -> String {
    serde_json::to_string(actions).expect("planned actions always serialise")
}

pub(super) fn decode(stored: &str) -> Result<Vec<PlannedAction>, String> {
    serde_json::from_str(stored).map_err(|e| format!("a stored plan cannot be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{Action, Target};
    use crate::domain::{Actor, IssueKey};

    fn event(kind: EventKind, added: &[&str]) -> Event {
        Event {
            issue: IssueKey {
                project_id: 14,
                iid: 3,
            },
            project_path: "a/b".into(),
            actor: Actor {
                id: None,
                username: "u".into(),
            },
            kind,
            labels_added: added.iter().map(|s| s.to_string()).collect(),
            labels_removed: vec![],
            title_changed: false,
            description_changed: false,
            change_id: "update@2026-01-01T00:00:00Z".into(),
            confidential: false,
            occurred_at: None,
            changes_unknown: false,
            labels_now: None,
            status_change: None,
        }
    }

    #[test]
    fn notes_are_keyed_by_note_and_issue_changes_by_delivery() {
        let update = event(EventKind::Updated, &["x"]);
        assert_eq!(plan_key(&update, 7), "14#3/event:7");
        assert_ne!(plan_key(&update, 7), plan_key(&update, 8));
        let mut note = event(
            EventKind::Comment {
                note_id: 9,
                body: "hi".into(),
                internal: false,
            },
            &[],
        );
        note.change_id = "note:9".into();
        assert_eq!(plan_key(&note, 7), "14#3/note:9");
        assert_eq!(plan_key(&note, 8), "14#3/note:9");
    }

    #[test]
    fn planned_actions_round_trip_through_json() {
        let actions = vec![
            PlannedAction {
                key: "k/1".into(),
                workflow: "w".into(),
                rule: "r".into(),
                action: Action::Close {
                    target: Target::Linked {
                        id: "t".into(),
                        project: "p/q".into(),
                    },
                },
            },
            PlannedAction {
                key: "k/2".into(),
                workflow: "w".into(),
                rule: "r".into(),
                action: Action::Comment {
                    body: "hello".into(),
                },
            },
        ];
        assert_eq!(decode(&encode(&actions)).unwrap(), actions);
    }
}
