//! Which rules an event triggers, and the trace of each: fired, or why not (not triggered,
//! its label reverted, a condition false, a command refused or missing its arguments).

use super::describe;
use super::{CommandOutcome, PlanError, WorkflowPlanner};
use crate::actions::Action;
use crate::domain::EventKind;
use crate::engine::command::CommandLine;
use crate::engine::command_args::{self, ArgValues};
use crate::engine::condition_text;
use crate::engine::conditions::describe_allow;
use crate::engine::config::{Rule, Trigger};
use crate::engine::trace::{RuleOutcome, RuleTrace, WorkflowTrace};
use std::collections::BTreeSet;

impl WorkflowPlanner<'_, '_> {
    /// The trace of the workflow being planned.
    pub(super) fn wt(&mut self) -> &mut WorkflowTrace {
        // `plan` pushes the workflow's trace before planning it.
        self.out
            .trace
            .workflows
            .last_mut()
            .expect("the workflow's trace is pushed before it is planned")
    }

    fn trace_rule(&mut self, rule: &Rule, outcome: RuleOutcome, reason: String, eval: bool) {
        let conditions = if eval {
            rule.conditions
                .iter()
                .map(|c| condition_text::explain(c, self.facts))
                .collect()
        } else {
            Vec::new()
        };
        let rt = RuleTrace {
            rule: rule.name.value.clone(),
            outcome,
            reason,
            conditions,
            once: rule.once,
        };
        self.wt().rules.push(rt);
    }

    /// Fires `rule` when its conditions hold, and traces the outcome either way.
    fn fire_if_conditions(
        &mut self,
        rule: &Rule,
        command: Option<(&str, String)>,
        args: Option<&ArgValues>,
        why: &str,
    ) -> Result<bool, PlanError> {
        match condition_text::first_false(&rule.conditions, self.facts) {
            Some(reason) => {
                self.trace_rule(rule, RuleOutcome::ConditionFalse, reason, true);
                Ok(false)
            }
            None => {
                let planned = self.fire(rule, command, args)?;
                let (outcome, reason) = if planned > 0 {
                    (RuleOutcome::Fired, why.to_string())
                } else {
                    (
                        RuleOutcome::NothingToDo,
                        format!("{why}; everything it does is already so on the issue"),
                    )
                };
                self.trace_rule(rule, outcome, reason, true);
                Ok(true)
            }
        }
    }

    fn triggered(&self, on: &Trigger, added: &[&str], reverted: &BTreeSet<String>) -> bool {
        match on {
            Trigger::LabelAdded(l) => added.contains(&l.as_str()) && !reverted.contains(l),
            Trigger::LabelsPresent(ls) => {
                let live = |l: &String| !reverted.contains(l);
                ls.iter().any(|l| added.contains(&l.as_str()) && live(l))
                    && ls.iter().all(|l| self.issue.has_label(l) && live(l))
            }
            Trigger::LabelRemoved(l) => {
                self.event.labels_removed.iter().any(|r| r == l) && !self.issue.has_label(l)
            }
            Trigger::Opened => self.event.kind == EventKind::Opened,
            Trigger::Closed => self.event.kind == EventKind::Closed,
            Trigger::Reopened => self.event.kind == EventKind::Reopened,
            Trigger::Edited => self.event.description_changed || self.event.title_changed,
            Trigger::Followup(n) => match &self.event.kind {
                EventKind::Tick { followup: Some(f) } => f == &format!("{}/{}", self.wf_name, n),
                _ => false,
            },
            Trigger::Tick => matches!(self.event.kind, EventKind::Tick { followup: None }),
            Trigger::FieldsCompleted(ls) => self.fields_completed(ls.all(), added, reverted),
            Trigger::Command(_) => false,
            Trigger::StatusChanged(t) => {
                let reverted_status = self
                    .event
                    .status_change
                    .as_ref()
                    .and_then(|c| c.to.as_ref())
                    .is_some_and(|to| {
                        reverted.contains(&super::status_checks::reverted_key(&to.name))
                    });
                !reverted_status
                    && crate::engine::statuses::status_change_triggers(t, self.event, self.issue)
            }
        }
    }

    /// Traces why `rule` was not triggered: its label was reverted, its fields are not
    /// complete yet, or the event is another one.
    fn trace_untriggered(&mut self, rule: &Rule, reverted: &BTreeSet<String>) {
        let on = &rule.on;
        let reverted_label = match on {
            Trigger::LabelAdded(l) => Some(l).filter(|l| reverted.contains(*l)),
            Trigger::LabelsPresent(ls) => ls.iter().find(|l| reverted.contains(*l)),
            Trigger::FieldsCompleted(ls) => ls.all().iter().find(|l| reverted.contains(*l)),
            _ => None,
        };
        let (outcome, reason) = match (reverted_label, self.still_missing(on)) {
            (Some(l), _) => (
                RuleOutcome::LabelReverted,
                format!("`{l}` was reverted by a check above, so its rules do not run"),
            ),
            (None, Some(missing)) => (
                RuleOutcome::NotTriggered,
                format!(
                    "waits for {}: the issue still lacks {}",
                    describe::trigger(on),
                    missing.join("; ")
                ),
            ),
            (None, None) => (
                RuleOutcome::NotTriggered,
                format!(
                    "waits for {}; this event: {}",
                    describe::trigger(on),
                    self.out.trace.event
                ),
            ),
        };
        self.trace_rule(rule, outcome, reason, false);
    }

    /// For a `fields_completed` trigger whose labels the issue carries: what its required
    /// fields still lack (the usual answer to "why did nothing happen").
    fn still_missing(&self, on: &Trigger) -> Option<Vec<String>> {
        let Trigger::FieldsCompleted(ls) = on else {
            return None;
        };
        let labels = ls.all();
        if !labels.iter().all(|l| self.issue.has_label(l)) {
            return None;
        }
        let missing: Vec<String> = self
            .wf
            .required_fields
            .iter()
            .filter(|rf| labels.contains(&rf.when_label.value))
            .flat_map(|rf| self.missing_required(rf))
            .collect();
        (!missing.is_empty()).then_some(missing)
    }

    pub(super) fn rules(
        &mut self,
        added: &[&str],
        reverted: &BTreeSet<String>,
        commands: &[CommandLine],
        outcomes: &mut [CommandOutcome],
    ) -> Result<(), PlanError> {
        for rule in &self.wf.rules {
            let name = rule.name.value.as_str();
            if self.triggered(&rule.on, added, reverted) {
                let why = format!("triggered by {}", describe::trigger(&rule.on));
                self.fire_if_conditions(rule, None, None, &why)?;
                continue;
            }
            let Trigger::Command(cmd) = &rule.on else {
                self.trace_untriggered(rule, reverted);
                continue;
            };
            let mut traced = false;
            for (i, line) in commands.iter().enumerate() {
                let Some(args) = line.matches(&cmd.name) else {
                    continue;
                };
                if cmd.name.split_whitespace().count() < outcomes[i].words {
                    continue;
                }
                outcomes[i].matched = true;
                traced = true;
                if let Some(allow) = &cmd.allow
                    && !self.facts.permits(allow)
                {
                    let who = describe_allow(allow, self.facts);
                    self.trace_rule(
                        rule,
                        RuleOutcome::Refused,
                        format!(
                            "`{}` may not run `{}`: only {who} may",
                            self.facts.actor, cmd.name
                        ),
                        false,
                    );
                    if !outcomes[i].answered {
                        let body = self.render_builtin(
                            "builtin/command_refused.md.hbs",
                            name,
                            &[who],
                            None,
                            Some(line),
                        )?;
                        self.push(
                            &format!("{name}:refused"),
                            0,
                            Action::Comment { body },
                            false,
                        );
                        outcomes[i].answered = true;
                    }
                    continue;
                }
                if args.len() < cmd.min_args {
                    self.trace_rule(
                        rule,
                        RuleOutcome::Usage,
                        format!(
                            "`{}` needs at least {} argument(s); it got {}",
                            cmd.name,
                            cmd.min_args,
                            args.len()
                        ),
                        false,
                    );
                    let usage = cmd
                        .usage
                        .clone()
                        .unwrap_or_else(|| format!("at least {} argument(s)", cmd.min_args));
                    let template = "builtin/command_usage.md.hbs";
                    self.usage_reply(template, name, &[usage], line, &mut outcomes[i])?;
                    continue;
                }
                let values = match command_args::parse(&cmd.args, &args) {
                    Ok(v) => v,
                    Err(problem) if !cmd.args.is_empty() => {
                        self.trace_rule(rule, RuleOutcome::Usage, problem.clone(), false);
                        let missing = [problem, command_args::usage(cmd)];
                        let template = "builtin/command_args.md.hbs";
                        self.usage_reply(template, name, &missing, line, &mut outcomes[i])?;
                        continue;
                    }
                    Err(_) => Default::default(),
                };
                let why = format!("`{}` asked for it", self.facts.actor);
                let command = Some((cmd.name.as_str(), args.join(" ")));
                if self.fire_if_conditions(rule, command, Some(&values), &why)? {
                    outcomes[i].fired = true;
                }
            }
            if !traced {
                self.trace_untriggered(rule, reverted);
            }
        }
        Ok(())
    }

    /// Fires the `label_added` / `label_removed` rules a change triggers, and nothing else.
    pub(super) fn label_rules(&mut self, added: &[&str]) -> Result<(), PlanError> {
        for rule in &self.wf.rules {
            let fired = match &rule.on {
                Trigger::LabelAdded(l) => added.contains(&l.as_str()),
                Trigger::LabelRemoved(l) => {
                    self.event.labels_removed.iter().any(|r| r == l) && !self.issue.has_label(l)
                }
                _ => false,
            };
            if fired {
                let why = format!(
                    "triggered by {} (the bot's own change; `react_to_own_label_changes` is on)",
                    describe::trigger(&rule.on)
                );
                self.fire_if_conditions(rule, None, None, &why)?;
            } else {
                self.trace_untriggered(rule, &BTreeSet::new());
            }
        }
        Ok(())
    }
}
