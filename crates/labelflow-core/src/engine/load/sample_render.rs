//! Rendering every template once with sample values while the configuration loads, so a
//! template that names a missing variable or helper fails at check-config, not on an issue.

use super::template_paths::unknown_paths;
use super::{Validator, render_error};
use crate::domain::{IssueState, IssueStatus};
use crate::engine::command_args;
use crate::engine::compiled::Engine;
use crate::engine::conditions::Facts;
use crate::engine::config::Sp;
use crate::engine::config::{ActionSpec, Trigger};
use crate::engine::context::{self, Extra};
use crate::render::Renderer;
use chrono::Utc;
use serde_json::Value;
use std::collections::BTreeMap;

impl Validator {
    /// Renders every template once against a sample issue in each place it is used.
    pub(super) fn sample_render(&mut self, engine: &Engine) {
        let issue = sample_issue();
        let now = Utc::now();
        for (wf_name, wf) in &engine.config.workflows {
            let known = &engine.known_fields[wf_name];
            let fields: BTreeMap<String, String> = known
                .iter()
                .map(|k| (k.clone(), "sample".to_string()))
                .collect();
            let facts = Facts {
                issue: &issue,
                fields: &fields,
                actor: "sample-user",
                directory: &engine.config.directory,
                labels_removed: &[],
                patterns: &engine.patterns,
            };
            for rule in &wf.rules {
                let mut created: Vec<String> = Vec::new();
                // Whether `command.args` can hold anything: a command declaring arguments.
                let takes_args =
                    matches!(&rule.on, Trigger::Command(c) if !c.args.is_empty() || c.min_args > 0);
                for a in &rule.actions {
                    let extra = Extra {
                        workflow: wf_name,
                        rule: &rule.name.value,
                        bot: engine.bot(),
                        now,
                        known_fields: known,
                        vars: &rule.vars,
                        command: Some(("sample", "sample".to_string())),
                        created: &created,
                        missing: &[],
                        label: None,
                    };
                    let mut ctx = context::build(&facts, &extra);
                    if let Trigger::Command(c) = &rule.on
                        && !c.args.is_empty()
                    {
                        context::add_args(&mut ctx, &command_args::sample_values(&c.args));
                    }
                    let (name, at) = match a {
                        ActionSpec::Comment(t) | ActionSpec::Chat(t) => {
                            (t.template.value.clone(), &t.template)
                        }
                        ActionSpec::CreateIssue(c) => {
                            let title = Engine::title_template(wf_name, &rule.name.value, &c.id);
                            let what =
                                format!("workflow `{wf_name}` rule `{}`: title", rule.name.value);
                            self.check_template(engine, &title, &c.title, &ctx, &what, takes_args);
                            created.push(c.id.clone());
                            (c.template.value.clone(), &c.template)
                        }
                        _ => continue,
                    };
                    let what = format!(
                        "workflow `{wf_name}` rule `{}`: template `{name}`",
                        rule.name.value
                    );
                    self.check_template(engine, &name, at, &ctx, &what, takes_args);
                }
            }
        }
    }
}

impl Validator {
    /// Every unknown variable of a template (errors) and every helper given a value that does
    /// not exist (warnings), then one render for anything else. `takes_args`: whether the
    /// rule's command declares arguments; if not, reading `command.args` is a warning (it is
    /// always empty there).
    fn check_template(
        &mut self,
        engine: &Engine,
        name: &str,
        at: &Sp,
        ctx: &Value,
        what: &str,
        takes_args: bool,
    ) {
        let Some(t) = engine.renderer.template(name) else {
            return;
        };
        let mut data = ctx.clone();
        if !takes_args && let Some(cmd) = data.get_mut("command").and_then(Value::as_object_mut) {
            cmd.remove("args");
        }
        let mut failed = false;
        for u in unknown_paths(t, &data, &Renderer::is_helper) {
            if u.path == "command.args" {
                self.warn(
                    Some(at),
                    format!(
                        "{what}: reads `command.args` (template line {}), but the rule's command declares no arguments (`args:` or `min_args:`), so it is always empty",
                        u.line
                    ),
                );
            } else if u.helper.is_some() {
                self.warn(Some(at), format!("{what}: {}", u.describe()));
            } else {
                failed = true;
                self.err(Some(at), format!("{what}: {}", u.describe()));
            }
        }
        if !failed && let Err(e) = engine.renderer.render(name, ctx) {
            self.err(Some(at), format!("{what}: {}", render_error(&e)));
        }
    }
}

pub(super) fn sample_issue() -> IssueState {
    let now = Utc::now();
    IssueState {
        id: 1,
        iid: 1,
        project_id: 1,
        project_path: "group/project".to_string(),
        title: "Sample".to_string(),
        description: String::new(),
        state: IssueStatus::Opened,
        labels: vec![],
        assignees: vec![],
        author: "sample-user".to_string(),
        confidential: false,
        web_url: "https://gitlab.example.com/group/project/-/issues/1".to_string(),
        created_at: now,
        updated_at: now,
        status: None,
        work_item_type: "Issue".to_string(),
        custom_fields: Default::default(),
    }
}
