//! Rendering every template once with sample values while the configuration loads, so a
//! template that names a missing variable or helper fails at check-config, not on an issue.

use super::{Validator, render_error};
use crate::domain::{IssueState, IssueStatus};
use crate::engine::command_args;
use crate::engine::compiled::Engine;
use crate::engine::conditions::Facts;
use crate::engine::config::{ActionSpec, Trigger};
use crate::engine::context::{self, Extra};
use chrono::Utc;
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
                            if let Err(e) = engine.renderer.render(&title, &ctx) {
                                self.err(
                                    Some(&c.title),
                                    format!(
                                        "workflow `{wf_name}` rule `{}`: title: {}",
                                        rule.name.value,
                                        render_error(&e)
                                    ),
                                );
                            }
                            created.push(c.id.clone());
                            (c.template.value.clone(), &c.template)
                        }
                        _ => continue,
                    };
                    if let Err(e) = engine.renderer.render(&name, &ctx) {
                        self.err(
                            Some(at),
                            format!(
                                "workflow `{wf_name}` rule `{}`: template `{name}`: {}",
                                rule.name.value,
                                render_error(&e)
                            ),
                        );
                    }
                }
            }
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
    }
}
