//! Events, triggers and project scopes in plain words, for the decision trace.

use crate::domain::{Event, EventKind, label_list};
use crate::engine::compiled::Engine;
use crate::engine::config::{Trigger, Workflow};

/// The event as people would say it: who, what, which labels.
pub fn event(e: &Event) -> String {
    let who = format!("`{}`", e.actor.username);
    let mut parts = vec![match &e.kind {
        EventKind::Comment { .. } => format!("{who} commented"),
        EventKind::Tick { .. } => e.kind.to_string(),
        other => format!("{other} (by {who})"),
    }];
    if !e.labels_added.is_empty() {
        parts.push(format!("labels added: {}", label_list(&e.labels_added)));
    }
    if !e.labels_removed.is_empty() {
        parts.push(format!("labels removed: {}", label_list(&e.labels_removed)));
    }
    if e.description_changed {
        parts.push("description edited".to_string());
    }
    if e.title_changed {
        parts.push("title edited".to_string());
    }
    parts.join("; ")
}

/// A trigger as the configuration writes it.
pub fn trigger(t: &Trigger) -> String {
    match t {
        Trigger::LabelAdded(l) => format!("`label_added: {l}`"),
        Trigger::LabelRemoved(l) => format!("`label_removed: {l}`"),
        Trigger::LabelsPresent(ls) => format!("`labels_present: [{}]`", ls.join(", ")),
        Trigger::Opened => "`opened`".to_string(),
        Trigger::Closed => "`closed`".to_string(),
        Trigger::Reopened => "`reopened`".to_string(),
        Trigger::Edited => "`edited`".to_string(),
        Trigger::FieldsCompleted(ls) => format!("`fields_completed: [{}]`", ls.all().join(", ")),
        Trigger::Command(c) => format!("the command `{}`", c.name),
        Trigger::Followup(n) => format!("the follow-up `{n}`"),
        Trigger::Tick => "a sweep visit (`tick`)".to_string(),
        Trigger::StatusChanged(t) => crate::engine::statuses::describe_trigger(t),
    }
}

/// Why `wf` does not cover the item's type.
pub fn other_type(wf: &Workflow, issue: &crate::domain::IssueState) -> String {
    format!(
        "the item is a {}; this workflow covers {}",
        issue.work_item_type,
        wf.work_item_types.join(", ")
    )
}

/// Why `wf` does not cover the issue's project.
pub fn not_applying(engine: &Engine, wf: &Workflow, project_path: &str) -> String {
    let covered: Vec<String> = wf
        .projects
        .iter()
        .map(|p| {
            engine
                .project_path(&p.value)
                .unwrap_or_else(|| p.value.clone())
        })
        .map(|p| format!("`{p}`"))
        .collect();
    format!(
        "the issue is in `{project_path}`; this workflow covers {}",
        if covered.is_empty() {
            "no project".to_string()
        } else {
            covered.join(", ")
        }
    )
}
