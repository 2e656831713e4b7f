//! The planner: a pure function `(engine, event, current issue, now) → actions`.
//!
//! Live processing, `labelflow plan` and sweeps all call [`plan`], so a preview is exactly
//! what would happen. Order within a workflow: restricted labels, guards, required fields,
//! then rules; a label reverted by the first two triggers no rule. Across the whole plan,
//! making the issue confidential comes first (docs/configuration.md, "Order of actions").
//! The pass itself stays here; the checks, the rules with their trace, command helpers and
//! the built-in `explain` live in `planner/`.

mod checks;
mod commands;
mod describe;
mod explain_command;
mod rules;
mod status_checks;

use super::command::{CommandLine, parse_commands};
use super::command_args::{self, ArgValues};
use super::compiled::Engine;
use super::conditions::Facts;
use super::config::{ActionSpec, Rule, TargetSpec, Workflow};
use super::context::{self, Extra};
use super::explain::IssueHistory;
use super::fields::parse_fields;
use super::load::render_error;
use super::trace::{RuleOutcome, RuleTrace, Trace, WorkflowTrace};
use crate::actions::{Action, PlannedAction, Target};
use crate::domain::{Event, EventKind, IssueState, IssueStatus, split_scoped};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the planner decided, and why: the decision trace gives every workflow, check and rule
/// with its outcome in plain words (also what it skipped, and why).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub actions: Vec<PlannedAction>,
    pub trace: Trace,
}

/// A template failed to render: a configuration problem, reported to operators (the event is
/// parked with this reason), never to GitLab users.
#[derive(Debug, thiserror::Error)]
#[error("workflow `{workflow}` rule `{rule}`: template `{template}`: {message}")]
pub struct PlanError {
    pub workflow: String,
    pub rule: String,
    pub template: String,
    pub message: String,
}

/// Per command line in a comment: did any rule take it, did any refuse it.
#[derive(Default, Clone)]
struct CommandOutcome {
    /// Words in the longest command name the line runs: only rules with that name take it
    /// (`severity high` does not also run a `severity` command).
    words: usize,
    matched: bool,
    fired: bool,
    answered: bool,
}

/// Plans the actions for `event` given the issue as GitLab has it now.
pub fn plan(
    engine: &Engine,
    event: &Event,
    issue: &IssueState,
    now: DateTime<Utc>,
) -> Result<Plan, PlanError> {
    plan_with_history(engine, event, issue, now, &IssueHistory::default())
}

/// The built-in command that answers with the issue's standing.
pub const EXPLAIN_COMMAND: &str = "explain";

/// Whether `event` asks `@bot explain` (the caller then reads the issue's history for
/// [`plan_with_history`]).
pub fn asks_explain(engine: &Engine, event: &Event) -> bool {
    match &event.kind {
        EventKind::Comment { body, .. } => parse_commands(body, engine.bot())
            .iter()
            .any(|c| c.matches(EXPLAIN_COMMAND).is_some_and(|a| a.is_empty())),
        _ => false,
    }
}

/// [`plan`], with what the store knows of the issue (follow-ups due, recent decisions) for
/// the `explain` command.
pub fn plan_with_history(
    engine: &Engine,
    event: &Event,
    issue: &IssueState,
    now: DateTime<Utc>,
    history: &IssueHistory,
) -> Result<Plan, PlanError> {
    let mut out = Plan::default();
    out.trace.event = describe::event(event);
    let bot = engine.bot();
    let own_change = event.actor.username.eq_ignore_ascii_case(bot);
    if own_change && !reacts_to_own_change(engine, event) {
        out.trace
            .notes
            .push("event caused by the bot itself: nothing to do".to_string());
        return Ok(out);
    }
    let fields = parse_fields(&issue.description);
    // Labels this change added that the issue still has (a later change may have removed them).
    let added: Vec<&str> = event
        .labels_added
        .iter()
        .map(String::as_str)
        .filter(|l| issue.has_label(l))
        .collect();
    let commands = match &event.kind {
        EventKind::Comment { body, .. } => parse_commands(body, bot),
        _ => Vec::new(),
    };
    let mut outcomes: Vec<CommandOutcome> = commands
        .iter()
        .map(|line| CommandOutcome {
            words: commands::longest_command(engine, issue, line),
            ..CommandOutcome::default()
        })
        .collect();
    let mut reverted: BTreeSet<String> = BTreeSet::new();
    let facts = Facts {
        issue,
        fields: &fields,
        actor: &event.actor.username,
        directory: &engine.config.directory,
        labels_removed: &event.labels_removed,
        patterns: &engine.patterns,
    };

    for (wf_name, wf) in &engine.config.workflows {
        let in_project = engine.workflow_applies(wf, &issue.project_path);
        let applies = in_project && super::statuses::type_is_one_of(issue, &wf.work_item_types);
        out.trace.workflows.push(WorkflowTrace {
            workflow: wf_name.clone(),
            applies,
            why_not: (!applies).then(|| match in_project {
                false => describe::not_applying(engine, wf, &issue.project_path),
                true => describe::other_type(wf, issue),
            }),
            ..WorkflowTrace::default()
        });
        if !applies {
            continue;
        }
        // Each workflow reads its fields from its own source (description or custom fields).
        let wf_fields = super::custom_fields::workflow_fields(wf, issue);
        let wf_facts = Facts {
            fields: &wf_fields,
            ..facts
        };
        let mut p = WorkflowPlanner {
            engine,
            wf_name,
            wf,
            event,
            issue,
            facts: &wf_facts,
            now,
            out: &mut out,
        };
        if own_change {
            // The bot's own label change (opted in): only label rules, no permission checks
            // on the bot itself.
            p.label_rules(&added)?;
            continue;
        }
        p.restricted_labels(&added, &mut reverted)?;
        p.guards(&added, &mut reverted)?;
        p.status_checks(&mut reverted)?;
        p.required_fields(&added, &reverted)?;
        p.rules(&added, &reverted, &commands, &mut outcomes)?;
        p.stale()?;
    }

    explain_command::builtin_explain(
        engine,
        event,
        issue,
        now,
        history,
        &commands,
        &mut outcomes,
        &mut out,
    );

    // Nobody is silently ignored: a command no rule took gets an answer.
    if let Some(first_wf) = engine
        .config
        .workflows
        .iter()
        .find(|(_, wf)| engine.workflow_applies(wf, &issue.project_path))
    {
        let available = available_commands(engine, issue);
        for (i, (line, o)) in commands.iter().zip(&outcomes).enumerate() {
            let (template, missing) = if !o.matched {
                match commands::completions(engine, issue, line) {
                    // `@bot severity` where only `severity low`, `severity high` exist.
                    Some(names) => ("builtin/command_usage.md.hbs", names),
                    None => ("builtin/command_unknown.md.hbs", available.clone()),
                }
            } else if !o.fired && !o.answered {
                (
                    "builtin/command_usage.md.hbs",
                    "this issue is not at a stage where it applies".to_string(),
                )
            } else {
                continue;
            };
            let mut p = WorkflowPlanner {
                engine,
                wf_name: first_wf.0,
                wf: first_wf.1,
                event,
                issue,
                facts: &facts,
                now,
                out: &mut out,
            };
            p.out.trace.notes.push(if o.matched {
                format!(
                    "`{}`: no rule took it at this stage; answered with a usage reply",
                    line.text()
                )
            } else {
                format!(
                    "`{}`: no such command; answered with the list of commands",
                    line.text()
                )
            });
            let body = p.render_builtin(
                template,
                &format!("command:{i}"),
                &[missing],
                None,
                Some(line),
            )?;
            p.push(
                &format!("command-reply:{i}"),
                0,
                Action::Comment { body },
                false,
            );
        }
    }
    commands::confidential_first(&mut out.actions);
    Ok(out)
}

/// Whether the bot's own change `event` goes to the rules: only label changes, only when
/// `bot.react_to_own_label_changes` is on. Comments never do (no command from the bot).
pub fn reacts_to_own_change(engine: &Engine, event: &Event) -> bool {
    engine.config.bot.react_to_own_label_changes
        && event.kind == EventKind::Updated
        && (!event.labels_added.is_empty() || !event.labels_removed.is_empty())
}

fn available_commands(engine: &Engine, issue: &IssueState) -> String {
    let mut names: Vec<String> = commands::command_triggers(engine, issue)
        .map(|c| format!("`{}`", c.name))
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

struct WorkflowPlanner<'a, 'o> {
    engine: &'a Engine,
    wf_name: &'a str,
    wf: &'a Workflow,
    event: &'a Event,
    issue: &'a IssueState,
    facts: &'a Facts<'a>,
    now: DateTime<Utc>,
    out: &'o mut Plan,
}

impl WorkflowPlanner<'_, '_> {
    fn key(&self, rule: &str, once: bool, index: usize) -> String {
        let change = if once {
            "once"
        } else {
            self.event.change_id.as_str()
        };
        format!(
            "{}/{}/{}/{}/{}",
            self.wf_name,
            rule,
            self.issue.key(),
            change,
            index
        )
    }

    fn push(&mut self, rule: &str, index: usize, action: Action, once: bool) {
        let key = self.key(rule, once, index);
        self.out.actions.push(PlannedAction {
            key,
            workflow: self.wf_name.to_string(),
            rule: rule.to_string(),
            action,
        });
    }

    fn extra<'e>(
        &'e self,
        rule: &'e str,
        vars: &'e BTreeMap<String, super::config::VarSpec>,
        created: &'e [String],
        missing: &'e [String],
        label: Option<&'e str>,
        command: Option<(&'e str, String)>,
    ) -> Extra<'e> {
        Extra {
            workflow: self.wf_name,
            rule,
            bot: self.engine.bot(),
            now: self.now,
            known_fields: &self.engine.known_fields[self.wf_name],
            vars,
            command,
            created,
            missing,
            label,
        }
    }

    fn render(
        &self,
        template: &str,
        rule: &str,
        ctx: &serde_json::Value,
    ) -> Result<String, PlanError> {
        self.engine
            .renderer
            .render(template, ctx)
            .map_err(|e| PlanError {
                workflow: self.wf_name.to_string(),
                rule: rule.to_string(),
                template: template.to_string(),
                message: render_error(&e),
            })
    }

    fn render_builtin(
        &self,
        template: &str,
        rule: &str,
        missing: &[String],
        label: Option<&str>,
        command: Option<&CommandLine>,
    ) -> Result<String, PlanError> {
        let vars = BTreeMap::new();
        let cmd = command.map(|c| ("", c.text()));
        let mut ctx = context::build(
            self.facts,
            &self.extra(rule, &vars, &[], missing, label, cmd),
        );
        if let Some(c) = command {
            ctx["command"]["name"] = serde_json::Value::String(c.text());
        }
        self.render(template, rule, &ctx)
    }

    /// The label this change replaced in the same scope (GitLab drops the sibling when a scoped
    /// label is added), to put back when the new one is reverted.
    fn replaced_sibling(&self, label: &str) -> Option<String> {
        let (scope, _) = split_scoped(label)?;
        self.event
            .labels_removed
            .iter()
            .find(|l| split_scoped(l).is_some_and(|(s, _)| s == scope))
            .cloned()
    }

    /// Stale policies: on a sweep tick, the step each policy is due for; on a person's
    /// activity, the removal of the sweep's labels.
    fn stale(&mut self) -> Result<(), PlanError> {
        let actions = match self.event.kind {
            EventKind::Tick { followup: None } => super::stale::tick_actions(
                self.engine,
                self.wf_name,
                self.wf,
                self.facts,
                self.now,
            )?,
            _ => super::stale::unmark_actions(self.wf_name, self.wf, self.event, self.issue),
        };
        let mut traced: Vec<String> = Vec::new();
        for (rule, index, action) in actions {
            if !traced.contains(&rule) {
                let reason = match self.event.kind {
                    EventKind::Tick { followup: None } => {
                        "the stale policy's next step is due".to_string()
                    }
                    _ => format!(
                        "`{}` acted on the issue, so the stale sweep's labels come off",
                        self.facts.actor
                    ),
                };
                self.wt().rules.push(RuleTrace {
                    rule: rule.clone(),
                    outcome: RuleOutcome::Fired,
                    reason,
                    conditions: Vec::new(),
                    once: false,
                });
                traced.push(rule.clone());
            }
            self.push(&rule, index, action, false);
        }
        Ok(())
    }

    /// Renders a rule's actions in order. `args`: a command's declared arguments, for
    /// templates (`args.<name>`) and templated label names.
    fn fire(
        &mut self,
        rule: &Rule,
        command: Option<(&str, String)>,
        args: Option<&ArgValues>,
    ) -> Result<usize, PlanError> {
        let name = rule.name.value.as_str();
        let mut created: Vec<String> = Vec::new();
        let mut planned: Vec<(usize, Action)> = Vec::new();
        for (i, spec) in rule.actions.iter().enumerate() {
            let mut ctx = context::build(
                self.facts,
                &self.extra(name, &rule.vars, &created, &[], None, command.clone()),
            );
            if let Some(values) = args {
                context::add_args(&mut ctx, values);
            }
            let label_name = |l: &super::config::Sp| match args {
                Some(values) => command_args::fill(&l.value, values),
                None => l.value.clone(),
            };
            let action = match spec {
                ActionSpec::Comment(t) => Some(Action::Comment {
                    body: self.render(&t.template.value, name, &ctx)?,
                }),
                ActionSpec::Chat(t) => match &self.wf.chat {
                    // A chat line, not a document: no trailing newline from the template file.
                    Some(chat) => Some(Action::Chat {
                        url_env: chat.webhook_url_env.clone(),
                        text: self
                            .render(&t.template.value, name, &ctx)?
                            .trim_end()
                            .to_string(),
                    }),
                    None => None,
                },
                ActionSpec::CreateIssue(c) => {
                    let title_tpl = Engine::title_template(self.wf_name, name, &c.id);
                    let title = self.render(&title_tpl, name, &ctx)?;
                    let description = self.render(&c.template.value, name, &ctx)?;
                    created.push(c.id.clone());
                    Some(Action::CreateIssue {
                        id: c.id.clone(),
                        project: self
                            .engine
                            .project_path(&c.project.value)
                            .unwrap_or_else(|| c.project.value.clone()),
                        title: title.trim().to_string(),
                        description,
                        labels: c.labels.iter().map(|l| l.value.clone()).collect(),
                        assignees: self.role_users(c.assign_roles.iter().map(|r| r.value.as_str())),
                        confidential: c.confidential,
                    })
                }
                ActionSpec::AddLabels(ls) => {
                    let labels: Vec<String> = ls
                        .iter()
                        .map(label_name)
                        .filter(|l| !self.issue.has_label(l))
                        .collect();
                    (!labels.is_empty()).then_some(Action::AddLabels { labels })
                }
                ActionSpec::RemoveLabels(ls) => {
                    let labels: Vec<String> = ls
                        .iter()
                        .map(label_name)
                        .filter(|l| self.issue.has_label(l))
                        .collect();
                    (!labels.is_empty()).then_some(Action::RemoveLabels { labels })
                }
                ActionSpec::Close(t) => self
                    .target(t)
                    .filter(|t| !(*t == Target::This && self.issue.state == IssueStatus::Closed))
                    .map(|target| Action::Close { target }),
                ActionSpec::Reopen(t) => self
                    .target(t)
                    .filter(|t| !(*t == Target::This && self.issue.state == IssueStatus::Opened))
                    .map(|target| Action::Reopen { target }),
                ActionSpec::AssignRoles(rs) => {
                    let users = self.role_users(rs.iter().map(|r| r.value.as_str()));
                    let new: Vec<String> = users
                        .into_iter()
                        .filter(|u| !self.issue.assignees.contains(u))
                        .collect();
                    (!new.is_empty()).then_some(Action::Assign { usernames: new })
                }
                ActionSpec::AssignActor(_) => {
                    let actor = self.facts.actor.to_string();
                    (!self.issue.assignees.contains(&actor)).then_some(Action::Assign {
                        usernames: vec![actor],
                    })
                }
                ActionSpec::SetStatus(name) => super::statuses::needs_status(self.issue, name)
                    .then(|| Action::SetStatus {
                        status: name.clone(),
                    }),
                ActionSpec::SetField(spec) => super::custom_fields::needs_value(self.issue, spec)
                    .then(|| Action::SetField {
                        field: spec.field.clone(),
                        value: spec.value.clone(),
                    }),
                ActionSpec::SetConfidential(b) => (self.issue.confidential != *b)
                    .then_some(Action::SetConfidential { confidential: *b }),
                ActionSpec::ClaCheck(spec) => super::cla_plan::cla_action(
                    self.engine,
                    spec,
                    self.facts,
                    &ctx,
                    command.is_some(),
                    |template, ctx| self.render(template, name, ctx),
                )?,
                ActionSpec::ScheduleFollowup(f) => Some(Action::ScheduleFollowup {
                    name: format!("{}/{}", self.wf_name, f.name),
                    // Validation keeps the delay within 100 years; the checked sum keeps
                    // even an unvalidated one from panicking.
                    due_at: self
                        .now
                        .checked_add_signed(
                            Duration::days(i64::from(f.after_days))
                                + Duration::minutes(i64::from(f.after_minutes))
                                + Duration::seconds(i64::from(f.after_seconds)),
                        )
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                }),
            };
            if let Some(a) = action {
                planned.push((i, a));
            }
        }
        let count = planned.len();
        for (i, a) in planned {
            self.push(name, i, a, rule.once);
        }
        Ok(count)
    }

    fn target(&self, t: &TargetSpec) -> Option<Target> {
        match &t.linked {
            None => Some(Target::This),
            Some(id) => {
                let project =
                    self.wf
                        .rules
                        .iter()
                        .flat_map(|r| &r.actions)
                        .find_map(|a| match a {
                            ActionSpec::CreateIssue(c) if c.id == id.value => {
                                self.engine.project_path(&c.project.value)
                            }
                            _ => None,
                        })?;
                Some(Target::Linked {
                    id: id.value.clone(),
                    project,
                })
            }
        }
    }

    fn role_users<'r>(&self, roles: impl Iterator<Item = &'r str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for role in roles {
            for u in self
                .engine
                .config
                .directory
                .roles
                .get(role)
                .into_iter()
                .flatten()
            {
                if !out.contains(u) {
                    out.push(u.clone());
                }
            }
        }
        out
    }
}
