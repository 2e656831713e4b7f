//! The built-in `@bot explain` command: one comment with the issue's standing.

use super::{CommandOutcome, EXPLAIN_COMMAND, Plan};
use crate::actions::{Action, PlannedAction};
use crate::domain::{Event, IssueState};
use crate::engine::command::CommandLine;
use crate::engine::compiled::Engine;
use crate::engine::explain::{self, IssueHistory};
use chrono::{DateTime, Utc};

/// `@bot explain` (exactly, no arguments), unless a workflow defines its own `explain`
/// command: one comment with the issue's standing in every workflow.
#[allow(clippy::too_many_arguments)]
pub(super) fn builtin_explain(
    engine: &Engine,
    event: &Event,
    issue: &IssueState,
    now: DateTime<Utc>,
    history: &IssueHistory,
    commands: &[CommandLine],
    outcomes: &mut [CommandOutcome],
    out: &mut Plan,
) {
    let mut asked = false;
    for (line, o) in commands.iter().zip(outcomes.iter_mut()) {
        if o.matched || line.matches(EXPLAIN_COMMAND).is_none_or(|a| !a.is_empty()) {
            continue;
        }
        o.matched = true;
        o.fired = true;
        asked = true;
    }
    if !asked {
        return;
    }
    let standings = explain::standings(engine, issue, &event.actor.username);
    let body = explain::render(&standings, history, &event.actor.username, now);
    out.trace.notes.push(format!(
        "`{}` asked `explain`: answered in the issue's explain comment",
        event.actor.username
    ));
    out.actions.push(PlannedAction {
        key: format!("labelflow/explain/{}/{}/0", issue.key(), event.change_id),
        workflow: "labelflow".to_string(),
        rule: EXPLAIN_COMMAND.to_string(),
        action: Action::ExplainComment { body },
    });
}
