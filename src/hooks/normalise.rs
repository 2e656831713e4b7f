//! Turns a parsed [`Hook`] into the domain [`Event`] the planner reads.
//!
//! Label changes come from `changes.labels.previous/current` (set difference by title). For an
//! opened issue every current label counts as added too: an issue created from a template
//! whose `/label` quick action applied a stage label must trigger that stage.

use super::hook::{Hook, IssueHook, NoteHook};
use super::payload::{HookLabel, HookProject, HookStatus, HookUser, IssuePayload, NotePayload};
use crate::domain::{Actor, Event, EventKind, StatusChange};
use chrono::SecondsFormat;
use std::collections::HashSet;

/// The domain event for a hook. Pure: no I/O, no clock.
pub fn normalise(hook: &Hook) -> Event {
    match hook {
        Hook::Issue(h) => normalise_issue(h),
        Hook::Note(h) => normalise_note(h),
    }
}

fn normalise_issue(hook: &IssueHook) -> Event {
    let p: &IssuePayload = &hook.payload;
    let attrs = &p.object_attributes;
    let action = attrs.action.as_deref().unwrap_or("update");
    let kind = match action {
        "open" => EventKind::Opened,
        "close" => EventKind::Closed,
        "reopen" => EventKind::Reopened,
        _ => EventKind::Updated,
    };

    let changes = p.changes.clone().unwrap_or_default();
    let label_change = changes.labels.as_ref();
    let previous = titles(label_change.and_then(|c| c.previous.as_deref()));
    let changed_current = label_change.map(|c| titles(c.current.as_deref()));
    // The label set after the change: `changes.labels.current` when labels changed (it is the
    // newest view), otherwise what the payload lists as the issue's labels.
    let current = changed_current
        .clone()
        .unwrap_or_else(|| titles(attrs.labels.as_deref().or(p.labels.as_deref())));

    let labels_removed = match &changed_current {
        Some(now) => difference(&previous, now),
        None => Vec::new(),
    };
    let labels_added = match (&kind, &changed_current) {
        (EventKind::Opened, _) => current.clone(),
        (_, Some(now)) => difference(now, &previous),
        (_, None) => Vec::new(),
    };

    let updated_at = *attrs.updated_at.as_ref();
    let changes_unknown = kind == EventKind::Updated && p.changes.is_none();
    let listed = attrs.labels.as_deref().or(p.labels.as_deref());
    let labels_now = changed_current
        .clone()
        .or_else(|| listed.map(|l| titles(Some(l))));
    Event {
        issue: hook.key,
        project_path: project_path(p.project.as_ref()),
        actor: actor(&p.user),
        kind,
        labels_added,
        labels_removed,
        title_changed: changes.title.is_some(),
        description_changed: changes.description.is_some(),
        change_id: format!(
            "{action}@{}",
            updated_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        ),
        confidential: hook.delivered_as_confidential
            || p.event_type.as_deref() == Some("confidential_issue")
            || attrs.confidential == Some(true),
        occurred_at: Some(updated_at),
        changes_unknown,
        labels_now,
        status_change: changes.status.as_ref().map(|c| StatusChange {
            from: c.previous.as_ref().map(HookStatus::to_domain),
            to: c.current.as_ref().map(HookStatus::to_domain),
        }),
    }
}

fn normalise_note(hook: &NoteHook) -> Event {
    let p: &NotePayload = &hook.payload;
    let attrs = &p.object_attributes;
    Event {
        issue: hook.key,
        project_path: project_path(p.project.as_ref()),
        actor: actor(&p.user),
        kind: EventKind::Comment {
            note_id: attrs.id,
            body: attrs.note.clone(),
            internal: attrs.internal.unwrap_or(false),
        },
        labels_added: Vec::new(),
        labels_removed: Vec::new(),
        title_changed: false,
        description_changed: false,
        change_id: format!("note:{}", attrs.id),
        confidential: hook.delivered_as_confidential
            || p.event_type.as_deref() == Some("confidential_note")
            || p.issue.confidential == Some(true),
        occurred_at: attrs.updated_at.or(attrs.created_at).map(|d| *d.as_ref()),
        changes_unknown: false,
        labels_now: None,
        status_change: None,
    }
}

fn actor(user: &HookUser) -> Actor {
    Actor {
        id: user.id,
        username: user.username.clone(),
    }
}

fn project_path(project: Option<&HookProject>) -> String {
    project
        .and_then(|p| p.path_with_namespace.clone())
        .unwrap_or_default()
}

/// Label titles in payload order, without repeats.
/// (Sets keep this linear: a payload may list any number of labels.)
fn titles(labels: Option<&[HookLabel]>) -> Vec<String> {
    let mut seen = HashSet::new();
    labels
        .unwrap_or_default()
        .iter()
        .filter(|label| seen.insert(label.title.as_str()))
        .map(|label| label.title.clone())
        .collect()
}

/// Titles in `a` that are not in `b`, in `a`'s order.
fn difference(a: &[String], b: &[String]) -> Vec<String> {
    let b: HashSet<&str> = b.iter().map(String::as_str).collect();
    a.iter()
        .filter(|t| !b.contains(t.as_str()))
        .cloned()
        .collect()
}
