//! Command helpers of the planner: which command name a line runs (the longest that
//! matches), the usage reply, and the confidentiality-first ordering of a finished plan.

use super::{CommandOutcome, PlanError, WorkflowPlanner};
use crate::actions::{Action, PlannedAction};
use crate::domain::IssueState;
use crate::engine::command::CommandLine;
use crate::engine::compiled::Engine;
use crate::engine::config::{CommandTrigger, Trigger};

/// Making an issue confidential runs before every other action of the event (built-in
/// replies, rule comments, chat posts, created issues), so no notification carries the
/// issue's content while it is still public. A stable move: the rest keep their order, and
/// keys (built from rule and action index) do not change.
pub(super) fn confidential_first(actions: &mut Vec<PlannedAction>) {
    let (mut first, rest): (Vec<_>, Vec<_>) = std::mem::take(actions)
        .into_iter()
        .partition(|a| matches!(a.action, Action::SetConfidential { confidential: true }));
    first.extend(rest);
    *actions = first;
}

/// The command triggers of the workflows that apply to `issue`.
pub(super) fn command_triggers<'a>(
    engine: &'a Engine,
    issue: &'a IssueState,
) -> impl Iterator<Item = &'a CommandTrigger> + 'a {
    engine
        .config
        .workflows
        .values()
        .filter(|wf| engine.workflow_applies(wf, &issue.project_path))
        .flat_map(|wf| wf.rules.iter())
        .filter_map(|r| match &r.on {
            Trigger::Command(c) => Some(c),
            _ => None,
        })
}

/// The number of words of the longest command name (of the workflows that apply) that
/// `line` runs; 0 when none.
pub(super) fn longest_command(engine: &Engine, issue: &IssueState, line: &CommandLine) -> usize {
    command_triggers(engine, issue)
        .filter(|c| line.matches(&c.name).is_some())
        .map(|c| c.name.split_whitespace().count())
        .max()
        .unwrap_or(0)
}

/// For a line that runs no command but starts one or more longer names (`severity` when
/// `severity low` and `severity high` exist): those names, as the usage reply lists them.
pub(super) fn completions(
    engine: &Engine,
    issue: &IssueState,
    line: &CommandLine,
) -> Option<String> {
    let mut names: Vec<&str> = command_triggers(engine, issue)
        .map(|c| c.name.as_str())
        .filter(|name| {
            let words: Vec<&str> = name.split_whitespace().collect();
            words.len() > line.words.len()
                && line
                    .words
                    .iter()
                    .zip(&words)
                    .all(|(got, want)| got.eq_ignore_ascii_case(want))
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    (!names.is_empty()).then(|| format!("one of {}", names.join(", ")))
}

impl WorkflowPlanner<'_, '_> {
    /// The one usage reply a command line gets when its arguments are missing or wrong.
    pub(super) fn usage_reply(
        &mut self,
        template: &str,
        rule: &str,
        missing: &[String],
        line: &CommandLine,
        outcome: &mut CommandOutcome,
    ) -> Result<(), PlanError> {
        if !outcome.answered {
            let body = self.render_builtin(template, rule, missing, None, Some(line))?;
            self.push(&format!("{rule}:usage"), 0, Action::Comment { body }, false);
            outcome.answered = true;
        }
        Ok(())
    }
}
