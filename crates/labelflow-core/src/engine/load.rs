//! Loading and validating a configuration: parse the YAML strictly, check every reference
//! (roles, projects, templates, follow-ups, linked ids, patterns), compile every template and
//! render it once against a sample issue so an unknown variable fails here, not in production.

use super::compiled::Engine;
use super::config::{ActionSpec, Allow, Condition, ConfigFile, Sp, TargetSpec, Trigger, Workflow};
use super::patterns::Patterns;
use crate::render::Renderer;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a configuration, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found (validation does not stop at the first).
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Built-in message templates (overridable by a file of the same name in `templates_dir`).
pub const BUILTIN_TEMPLATES: &[(&str, &str)] = &[
    (
        "builtin/restricted.md.hbs",
        include_str!("../../../../templates/builtin/restricted.md.hbs"),
    ),
    (
        "builtin/guard.md.hbs",
        include_str!("../../../../templates/builtin/guard.md.hbs"),
    ),
    (
        "builtin/status_guard.md.hbs",
        include_str!("../../../../templates/builtin/status_guard.md.hbs"),
    ),
    (
        "builtin/status_restricted.md.hbs",
        include_str!("../../../../templates/builtin/status_restricted.md.hbs"),
    ),
    (
        "builtin/required_fields.md.hbs",
        include_str!("../../../../templates/builtin/required_fields.md.hbs"),
    ),
    (
        "builtin/command_refused.md.hbs",
        include_str!("../../../../templates/builtin/command_refused.md.hbs"),
    ),
    (
        "builtin/command_usage.md.hbs",
        include_str!("../../../../templates/builtin/command_usage.md.hbs"),
    ),
    (
        "builtin/command_args.md.hbs",
        include_str!("../../../../templates/builtin/command_args.md.hbs"),
    ),
    (
        "builtin/command_unknown.md.hbs",
        include_str!("../../../../templates/builtin/command_unknown.md.hbs"),
    ),
    (
        "builtin/cla_signed.md.hbs",
        include_str!("../../../../templates/builtin/cla_signed.md.hbs"),
    ),
    (
        "builtin/cla_missing.md.hbs",
        include_str!("../../../../templates/builtin/cla_missing.md.hbs"),
    ),
    (
        "builtin/cla_unknown.md.hbs",
        include_str!("../../../../templates/builtin/cla_unknown.md.hbs"),
    ),
    (
        super::stale::NUDGE_TEMPLATE,
        include_str!("../../../../templates/builtin/stale_nudge.md.hbs"),
    ),
    (
        super::stale::MARKED_TEMPLATE,
        include_str!("../../../../templates/builtin/stale_marked.md.hbs"),
    ),
    (
        super::stale::CLOSED_TEMPLATE,
        include_str!("../../../../templates/builtin/stale_closed.md.hbs"),
    ),
];

impl Engine {
    /// Reads, parses and validates the configuration at `path`.
    pub fn load(path: &Path) -> Result<Engine, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: None,
                column: None,
                message: format!("cannot read the configuration: {e}"),
            }])
        })?;
        Self::from_yaml(&text, path)
    }

    /// Parses and validates configuration text; `path` locates the templates and names the
    /// file in errors.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Engine, ConfigErrors> {
        let config: ConfigFile = serde_saphyr::from_str(text).map_err(|e| {
            let loc = e.location();
            ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: loc.map(|l| l.line()),
                column: loc.map(|l| l.column()),
                message: yaml_errors::message(&e.to_string()),
            }])
        })?;
        let mut v = Validator {
            file: path.to_path_buf(),
            errors: Vec::new(),
            warnings: Vec::new(),
            patterns: Patterns::default(),
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let templates_dir = base.join(&config.templates_dir);
        let mut renderer = Renderer::new(config.directory.roles.clone());

        for (name, source) in BUILTIN_TEMPLATES {
            let on_disk = templates_dir.join(name);
            let src = std::fs::read_to_string(&on_disk).unwrap_or_else(|_| source.to_string());
            if let Err(e) = renderer.add(name, &src) {
                v.err(None, format!("built-in template `{name}`: {e}"));
            }
        }

        if let Some(cla) = &config.cla {
            for (at, message) in cla.problems(&config.projects) {
                v.err(at, message);
            }
        }

        let mut known_fields = BTreeMap::new();
        for (wf_name, wf) in &config.workflows {
            known_fields.insert(wf_name.clone(), known_fields::workflow_fields(wf));
            v.check_workflow(&config, wf_name, wf, &templates_dir, &mut renderer);
            v.check_stale(&config, wf_name, wf);
            v.check_statuses(&config, wf_name, wf);
            v.check_durations(wf_name, wf);
        }
        for (at, message) in super::label_section::problems(&config) {
            v.err(at, message);
        }

        v.unused_labels(&config);
        let mut engine = Engine {
            config,
            path: path.to_path_buf(),
            renderer,
            known_fields,
            patterns: std::mem::take(&mut v.patterns),
            warnings: Vec::new(),
        };
        if v.errors.is_empty() {
            v.sample_render(&engine);
            v.sample_render_stale(&engine);
        }
        if v.errors.is_empty() {
            engine.warnings = v.warnings;
            Ok(engine)
        } else {
            Err(ConfigErrors(v.errors))
        }
    }
}

mod durations;
mod sample_render;
mod stale_policies;
mod statuses;

pub use durations::MAX_DAYS;

struct Validator {
    file: PathBuf,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
    patterns: Patterns,
}

impl Validator {
    fn located(&self, at: Option<&Sp>, message: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: at.map(|s| s.referenced.line()),
            column: at.map(|s| s.referenced.column()),
            message,
        }
    }

    fn err(&mut self, at: Option<&Sp>, message: String) {
        let e = self.located(at, message);
        self.errors.push(e);
    }

    /// Accepted, but probably a mistake: `check-config` prints it, `--deny-warnings` fails.
    fn warn(&mut self, at: Option<&Sp>, message: String) {
        let w = self.located(at, message);
        self.warnings.push(w);
    }

    fn role(&mut self, config: &ConfigFile, role: &str, at: Option<&Sp>, what: &str) {
        if !config.directory.roles.contains_key(role) {
            let known: Vec<&str> = config.directory.roles.keys().map(String::as_str).collect();
            self.err(
                at,
                format!(
                    "{what}: undefined role `{role}` (expected one of the roles in `directory.roles`: {})",
                    known.join(", ")
                ),
            );
        }
    }

    fn allow(&mut self, config: &ConfigFile, allow: &Allow, at: &Sp, what: &str) {
        for r in &allow.roles {
            self.role(config, r, Some(at), what);
        }
    }

    fn label(&mut self, label: &Sp, what: &str) {
        if label.value.contains("{{") || label.value.contains("}}") {
            self.err(
                Some(label),
                format!(
                    "{what}: `{}` is not a template: label names are plain text, except in `add_labels` / `remove_labels` of a command with declared `args`, which may use `{{{{args.<name>}}}}`",
                    label.value
                ),
            );
            return;
        }
        let l = label.value.trim();
        if l.is_empty() || l.contains(',') || l != label.value {
            self.err(
                Some(label),
                format!(
                    "{what}: `{}` is not a valid label name (expected a non-empty name without commas or surrounding spaces)",
                    label.value
                ),
            );
        }
    }

    fn template(&mut self, renderer: &mut Renderer, templates_dir: &Path, tref: &Sp, what: &str) {
        let name = &tref.value;
        if renderer.has(name) {
            return;
        }
        let path = templates_dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(src) => {
                if let Err(e) = renderer.add(name, &src) {
                    self.err(
                        Some(tref),
                        format!("{what}: template `{name}` does not compile: {e}"),
                    );
                }
            }
            Err(e) => self.err(
                Some(tref),
                format!(
                    "{what}: missing template `{name}` (looked at {}): {e}",
                    path.display()
                ),
            ),
        }
    }

    fn condition(&mut self, config: &ConfigFile, c: &Condition, at: &Sp, what: &str) {
        match c {
            Condition::HasLabel(l) | Condition::LacksLabel(l) => self.label(l, what),
            Condition::HasAnyLabel(ls) | Condition::ChangedFrom(ls) => {
                ls.iter().for_each(|l| self.label(l, what))
            }
            Condition::FieldMatches { pattern, .. }
            | Condition::FieldNotMatches { pattern, .. } => {
                if let Err(e) = self.patterns.add_regex(&pattern.value) {
                    self.err(
                        Some(pattern),
                        format!("{what}: invalid pattern `{}`: {e}", pattern.value),
                    );
                }
            }
            Condition::Actor(a) | Condition::NotActor(a) => self.allow(config, a, at, what),
            Condition::All(cs) | Condition::Any(cs) => {
                cs.iter().for_each(|c| self.condition(config, c, at, what))
            }
            Condition::Not(c) => self.condition(config, c, at, what),
            _ => {}
        }
    }

    fn check_workflow(
        &mut self,
        config: &ConfigFile,
        wf_name: &str,
        wf: &Workflow,
        templates_dir: &Path,
        renderer: &mut Renderer,
    ) {
        for p in &wf.projects {
            if !config.projects.contains_key(&p.value) && !p.value.contains('/') {
                self.err(
                    Some(p),
                    format!(
                        "workflow `{wf_name}`: unknown project `{}` (expected a name from `projects:` or a group/project path)",
                        p.value
                    ),
                );
            }
        }
        for r in &wf.restricted_labels {
            for l in &r.labels {
                if let Err(e) = self.patterns.add_glob(&l.value) {
                    self.err(
                        Some(l),
                        format!("workflow `{wf_name}`: invalid label pattern: {e}"),
                    );
                }
            }
            for role in &r.roles {
                self.role(
                    config,
                    &role.value,
                    Some(role),
                    &format!("workflow `{wf_name}` restricted_labels"),
                );
            }
            if r.roles.is_empty()
                && !r.product_pms
                && let Some(first) = r.labels.first()
            {
                self.err(
                    Some(first),
                    format!(
                        "workflow `{wf_name}` restricted_labels: nobody may apply these labels (expected `roles:` or `product_pms: true`)"
                    ),
                );
            }
        }
        for g in &wf.guards {
            let what = format!("workflow `{wf_name}` guard on `{}`", g.label.value);
            self.label(&g.label, &what);
            if let Some(r) = &g.revert_to {
                self.label(r, &what);
            }
            for req in &g.requires {
                self.condition(config, &req.condition, &g.label, &what);
                self.plain(&req.missing, &g.label, &what);
            }
        }
        for rf in &wf.required_fields {
            let what = format!("workflow `{wf_name}` required_fields");
            self.label(&rf.when_label, &what);
            for req in &rf.requires {
                self.condition(config, &req.condition, &rf.when_label, &what);
                self.plain(&req.missing, &rf.when_label, &what);
            }
        }

        let followups: BTreeSet<&str> = wf
            .rules
            .iter()
            .filter_map(|r| match &r.on {
                Trigger::Followup(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        let mut created_ids: BTreeSet<String> = BTreeSet::new();
        for rule in &wf.rules {
            for a in &rule.actions {
                if let ActionSpec::CreateIssue(c) = a {
                    created_ids.insert(c.id.clone());
                }
            }
        }
        let mut rule_names = BTreeSet::new();
        for rule in &wf.rules {
            let what = format!("workflow `{wf_name}` rule `{}`", rule.name.value);
            if !rule_names.insert(rule.name.value.clone()) {
                self.err(Some(&rule.name), format!("{what}: duplicate rule name"));
            }
            let trigger_labels: &[String] = match &rule.on {
                Trigger::LabelAdded(l) | Trigger::LabelRemoved(l) => std::slice::from_ref(l),
                Trigger::LabelsPresent(ls) => ls,
                Trigger::FieldsCompleted(ls) => ls.all(),
                _ => &[],
            };
            for l in trigger_labels {
                self.plain(l, &rule.name, &what);
            }
            match &rule.on {
                Trigger::Command(c) => {
                    if c.name.split_whitespace().next().is_none() {
                        self.err(Some(&rule.name), format!("{what}: empty command name"));
                    }
                    self.command_args(c, &rule.name, &what);
                    if let Some(a) = &c.allow {
                        self.allow(config, a, &rule.name, &what);
                    }
                }
                Trigger::FieldsCompleted(ls)
                    if !ls.all().iter().any(|l| {
                        wf.required_fields
                            .iter()
                            .any(|rf| &rf.when_label.value == l)
                    }) =>
                {
                    let known: Vec<&str> = wf
                        .required_fields
                        .iter()
                        .map(|rf| rf.when_label.value.as_str())
                        .collect();
                    self.err(
                        Some(&rule.name),
                        format!(
                            "{what}: `fields_completed` needs one of its labels ({}) to have a `required_fields` entry (`when_label`) in this workflow (entries: {})",
                            ls.all().join(", "),
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ),
                    );
                }
                Trigger::LabelAdded(l) | Trigger::LabelRemoved(l) if l.trim().is_empty() => {
                    self.err(Some(&rule.name), format!("{what}: empty label in trigger"));
                }
                Trigger::LabelsPresent(ls)
                    if ls.is_empty() || ls.iter().any(|l| l.trim().is_empty()) =>
                {
                    self.err(
                        Some(&rule.name),
                        format!("{what}: `labels_present` needs a list of non-empty labels"),
                    );
                }
                _ => {}
            }
            for c in &rule.conditions {
                self.condition(config, c, &rule.name, &what);
            }
            for a in &rule.actions {
                match a {
                    ActionSpec::Comment(t) | ActionSpec::Chat(t) => {
                        self.template(renderer, templates_dir, &t.template, &what)
                    }
                    ActionSpec::CreateIssue(c) => {
                        self.template(renderer, templates_dir, &c.template, &what);
                        if !config.projects.contains_key(&c.project.value)
                            && !c.project.value.contains('/')
                        {
                            self.err(
                                Some(&c.project),
                                format!(
                                    "{what}: unknown project `{}` (expected a name from `projects:` or a group/project path)",
                                    c.project.value
                                ),
                            );
                        }
                        for r in &c.assign_roles {
                            self.role(config, &r.value, Some(r), &what);
                        }
                        for l in &c.labels {
                            self.label(l, &what);
                        }
                        let name = Engine::title_template(wf_name, &rule.name.value, &c.id);
                        if let Err(e) = renderer.add(&name, &c.title.value) {
                            self.err(
                                Some(&c.title),
                                format!("{what}: title does not compile: {e}"),
                            );
                        }
                    }
                    ActionSpec::AddLabels(ls) | ActionSpec::RemoveLabels(ls) => {
                        for l in ls {
                            self.action_label(&rule.on, l, &what);
                        }
                    }
                    ActionSpec::AssignRoles(rs) => {
                        for r in rs {
                            self.role(config, &r.value, Some(r), &what);
                        }
                    }
                    ActionSpec::Close(t) | ActionSpec::Reopen(t) => {
                        self.target(t, &created_ids, &what)
                    }
                    ActionSpec::ScheduleFollowup(f) => {
                        if !followups.contains(f.name.as_str()) {
                            self.err(
                                Some(&rule.name),
                                format!(
                                    "{what}: schedules follow-up `{}` but no rule has `on: {{ followup: {} }}`",
                                    f.name, f.name
                                ),
                            );
                        }
                        if f.after_days == 0 && f.after_minutes == 0 && f.after_seconds == 0 {
                            self.err(
                                Some(&rule.name),
                                format!(
                                    "{what}: follow-up `{}` needs after_days, after_minutes or after_seconds",
                                    f.name
                                ),
                            );
                        }
                    }
                    ActionSpec::SetStatus(name) if name.trim().is_empty() => self.err(
                        Some(&rule.name),
                        format!("{what}: `set_status` needs a status name"),
                    ),
                    ActionSpec::SetField(f) if f.field.trim().is_empty() => self.err(
                        Some(&rule.name),
                        format!("{what}: `set_field` needs a field name"),
                    ),
                    ActionSpec::AssignActor(_)
                    | ActionSpec::SetConfidential(_)
                    | ActionSpec::SetStatus(_)
                    | ActionSpec::SetField(_) => {}
                    ActionSpec::ClaCheck(_) if config.cla.is_none() => self.err(
                        Some(&rule.name),
                        format!(
                            "{what}: uses `cla_check` but the configuration has no `cla:` section"
                        ),
                    ),
                    ActionSpec::ClaCheck(_) => {}
                }
                if matches!(a, ActionSpec::Chat(_)) && wf.chat.is_none() {
                    self.err(
                        Some(&rule.name),
                        format!("{what}: posts to chat but the workflow has no `chat:` section"),
                    );
                }
            }
        }
    }

    fn target(&mut self, t: &TargetSpec, created: &BTreeSet<String>, what: &str) {
        if let Some(id) = &t.linked
            && !created.contains(&id.value)
        {
            self.err(
                Some(id),
                format!(
                    "{what}: `linked: {}` names no `create_issue` id of this workflow (known: {})",
                    id.value,
                    created.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
}

pub use crate::render::render_error;

mod commands;
mod known_fields;
mod label_use;
mod template_paths;
mod yaml_errors;

/// Also used for scenario files (`labelflow test`).
pub use yaml_errors::yaml_message;
