//! The explain comment's Markdown. Built in code rather than a template: it is nested lists of
//! computed facts, and every piece of user text in it goes through the renderer's escape.

use super::model::{IssueHistory, Readiness, WorkflowStanding};
use crate::render::escape_user_text;
use chrono::{DateTime, Utc};
use std::fmt::Write;

fn label_ref(label: &str) -> String {
    // Label names come from the configuration or GitLab; a quote would end the reference.
    format!("~\"{}\"", label.replace('"', ""))
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The explain comment for `standings` and `history`, asked by `actor` at `now`.
pub fn render(
    standings: &[WorkflowStanding],
    history: &IssueHistory,
    actor: &str,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Where this issue stands\n\nAs of {}, asked by `{}`. Ask again with `@labelflow explain`: \
         I update this comment.",
        when(now),
        actor.replace('`', "")
    );
    if standings.is_empty() {
        out.push_str("\nNo workflow covers this project.\n");
    }
    // Once the issue is in some workflow, those it has not entered get one line each.
    let any_started = standings.iter().any(|s| s.current.is_some());
    let (full, idle): (Vec<&WorkflowStanding>, Vec<&WorkflowStanding>) = standings
        .iter()
        .partition(|s| s.current.is_some() || !any_started);
    for s in full {
        let _ = write!(out, "\n#### Workflow `{}`\n\n", s.workflow);
        match &s.current {
            Some(c) => {
                let _ = writeln!(out, "Current stage: {}", label_ref(c));
            }
            None => out.push_str("Current stage: none yet\n"),
        }
        if s.next.is_empty() {
            out.push_str("\nNo further stage.\n");
        } else {
            out.push_str("\nNext stages:\n");
            for r in &s.next {
                item(&mut out, r);
            }
        }
        if !s.other.is_empty() {
            out.push_str("\nOther labels with prerequisites:\n");
            for r in &s.other {
                item(&mut out, r);
            }
        }
    }
    if !idle.is_empty() {
        out.push_str("\n#### Workflows not started\n\n");
        for s in idle {
            match s.next.first() {
                Some(first) => {
                    let _ = writeln!(
                        out,
                        "- `{}`: its first stage is {}",
                        s.workflow,
                        label_ref(&first.label)
                    );
                }
                None => {
                    let _ = writeln!(out, "- `{}`: it has no stage labels", s.workflow);
                }
            }
        }
    }
    out.push_str("\n#### Follow-ups due\n\n");
    if !history.known {
        out.push_str("(not read in a preview)\n");
    } else if history.followups.is_empty() {
        out.push_str("None.\n");
    } else {
        for (name, due) in &history.followups {
            let _ = writeln!(out, "- `{name}` on {}", when(*due));
        }
    }
    out.push_str("\n#### Last decisions\n\n");
    if !history.known {
        out.push_str("(not read in a preview)\n");
    } else if history.recent.is_empty() {
        out.push_str("None recorded.\n");
    } else {
        for d in &history.recent {
            let _ = writeln!(
                out,
                "- {} (event {}, {}): {}",
                when(d.at),
                d.event_id,
                d.outcome,
                history_line(&d.summary)
            );
        }
    }
    out
}

/// A recorded decision in one line: user text made safe (no mention, HTML or quick action),
/// with the record's own code spans and label references kept readable. The line sits in a
/// list item, so a stray backtick can only spoil formatting, never break out of it.
fn history_line(summary: &str) -> String {
    escape_user_text(summary)
        .replace("&#96;", "`")
        .replace("&quot;", "\"")
}

fn item(out: &mut String, r: &Readiness) {
    // One prerequisite per line: their own words may contain `;` and `,`.
    match r.guard_missing.as_slice() {
        [] => {
            let _ = writeln!(out, "- {}: ready", label_ref(&r.label));
        }
        [one] => {
            let _ = writeln!(
                out,
                "- {}: still needs {}",
                label_ref(&r.label),
                escape_user_text(one)
            );
        }
        many => {
            let _ = writeln!(out, "- {}: still needs", label_ref(&r.label));
            for m in many {
                let _ = writeln!(out, "  - {}", escape_user_text(m));
            }
        }
    }
    if !r.fields_missing.is_empty() {
        let _ = writeln!(
            out,
            "  - its required fields are missing: {}",
            r.fields_missing
                .iter()
                .map(|m| escape_user_text(m))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    if let Some(who) = &r.restricted_to {
        let _ = writeln!(out, "  - only {who} may apply it");
    }
}
