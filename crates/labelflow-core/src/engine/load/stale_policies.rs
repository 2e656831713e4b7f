//! Validation of `stale:` policies, `sweep_visits:` and `sweep_summary:` (part of loading a
//! configuration).

use super::{Validator, render_error, sample_issue};
use crate::domain::split_scoped;
use crate::engine::Engine;
use crate::engine::conditions::Facts;
use crate::engine::config::{ConfigFile, Sp, SweepVisits, Trigger, Workflow};
use crate::engine::context::{self, Extra};
use crate::engine::stale::{
    CLOSED_TEMPLATE, MARKED_TEMPLATE, NUDGE_TEMPLATE, nudge_label, stale_label, template_facts,
};
use chrono::Utc;
use std::collections::{BTreeMap, BTreeSet};

impl Validator {
    fn project_ref(&mut self, config: &ConfigFile, p: &Sp, what: &str) {
        if !config.projects.contains_key(&p.value) && !p.value.contains('/') {
            self.err(
                Some(p),
                format!(
                    "{what}: unknown project `{}` (expected a name from `projects:` or a group/project path)",
                    p.value
                ),
            );
        }
    }

    pub(super) fn check_stale(&mut self, config: &ConfigFile, wf_name: &str, wf: &Workflow) {
        let mut stages = BTreeSet::new();
        for p in &wf.stale {
            let what = format!("workflow `{wf_name}` stale policy for `{}`", p.stage.value);
            self.label(&p.stage, &what);
            if !stages.insert(p.stage.value.clone()) {
                self.err(
                    Some(&p.stage),
                    format!("{what}: a second policy for the same stage"),
                );
            }
            self.role(config, &p.owner_role.value, Some(&p.owner_role), &what);
            for (days, name) in [(p.idle_days, "idle_days"), (p.grace_days, "grace_days")] {
                if days == 0 {
                    self.err(
                        Some(&p.stage),
                        format!("{what}: `{name}` must be at least 1"),
                    );
                }
            }
            if p.close_after_days == Some(0) {
                self.err(
                    Some(&p.stage),
                    format!("{what}: `close_after_days` must be at least 1 (leave it out to never close)"),
                );
            }
            for l in p.exempt.labels.iter().chain(&p.exempt.milestones) {
                if l.value.trim().is_empty() {
                    self.err(Some(l), format!("{what}: empty exemption"));
                }
            }
            for l in [&p.nudge_label, &p.stale_label].into_iter().flatten() {
                self.label(l, &what);
            }
            let nudge = nudge_label(wf_name, p);
            let stale = stale_label(wf_name, p);
            if nudge == stale {
                self.err(
                    p.stale_label.as_ref().or(Some(&p.stage)),
                    format!(
                        "{what}: the nudge label and the stale label must differ (both `{stale}`)"
                    ),
                );
            }
            let stage_scope = split_scoped(&p.stage.value).map(|(s, _)| s);
            for (label, at) in [(&nudge, &p.nudge_label), (&stale, &p.stale_label)] {
                let scope = split_scoped(label).map(|(s, _)| s);
                if stage_scope.is_some() && scope == stage_scope {
                    self.err(
                        at.as_ref().or(Some(&p.stage)),
                        format!(
                            "{what}: `{label}` has the stage label's scope, so GitLab would remove `{}` when applying it; use a label of another scope (the default is `{wf_name}-sweep::…`)",
                            p.stage.value
                        ),
                    );
                }
            }
            for proj in &p.projects {
                self.project_ref(config, proj, &what);
            }
            for g in &p.groups {
                self.group_path(g, &what);
            }
            if p.projects.is_empty() && p.groups.is_empty() && wf.projects.is_empty() {
                self.err(
                    Some(&p.stage),
                    format!(
                        "{what}: nowhere to sweep: set `projects:` or `groups:` on the policy, or `projects:` on the workflow"
                    ),
                );
            }
        }
        if let Some(v) = &wf.sweep_visits {
            self.check_visits(config, wf_name, wf, v);
        }
        if let Some(s) = &wf.sweep_summary {
            let what = format!("workflow `{wf_name}` sweep_summary");
            self.project_ref(config, &s.project, &what);
            for l in &s.labels {
                self.label(l, &what);
            }
            if wf.stale.is_empty() {
                self.err(
                    Some(&s.project),
                    format!("{what}: the workflow has no `stale:` policies to summarise"),
                );
            }
        }
    }

    fn check_visits(&mut self, config: &ConfigFile, wf_name: &str, wf: &Workflow, v: &SweepVisits) {
        let what = format!("workflow `{wf_name}` sweep_visits");
        let mut seen = BTreeSet::new();
        for l in &v.labels {
            self.label(l, &what);
            if !seen.insert(l.value.as_str()) {
                self.err(Some(l), format!("{what}: `{}` is listed twice", l.value));
            }
        }
        for proj in &v.projects {
            self.project_ref(config, proj, &what);
        }
        for g in &v.groups {
            self.group_path(g, &what);
        }
        let anchor = v.labels.first().or(v.projects.first());
        if v.labels.is_empty() {
            self.err(
                anchor,
                format!(
                    "{what}: `labels` is empty: name the labels whose items every sweep visits"
                ),
            );
        }
        if v.projects.is_empty() && v.groups.is_empty() && wf.projects.is_empty() {
            self.err(
                anchor,
                format!(
                    "{what}: nowhere to look: set `projects:` or `groups:` here, or `projects:` on the workflow"
                ),
            );
        }
        if !wf.rules.iter().any(|r| r.on == Trigger::Tick) {
            self.err(
                anchor,
                format!(
                    "{what}: the workflow has no `on: tick` rule, so visiting these items would do nothing"
                ),
            );
        }
    }

    fn group_path(&mut self, g: &Sp, what: &str) {
        if g.value.trim().is_empty() || g.value.starts_with('/') || g.value.ends_with('/') {
            self.err(
                Some(g),
                format!(
                    "{what}: `{}` is not a group path (expected `group` or `group/subgroup`)",
                    g.value
                ),
            );
        }
    }

    /// Renders the stale templates once per policy, so a broken override fails at load time.
    pub(super) fn sample_render_stale(&mut self, engine: &Engine) {
        let mut issue = sample_issue();
        let now = Utc::now();
        for (wf_name, wf) in &engine.config.workflows {
            let known = &engine.known_fields[wf_name];
            let fields: BTreeMap<String, String> = known
                .iter()
                .map(|k| (k.clone(), "sample".to_string()))
                .collect();
            for p in &wf.stale {
                issue.labels = vec![p.stage.value.clone()];
                let facts = Facts {
                    issue: &issue,
                    fields: &fields,
                    actor: "labelflow-sweep",
                    directory: &engine.config.directory,
                    labels_removed: &[],
                    patterns: &engine.patterns,
                };
                let vars = BTreeMap::new();
                let extra = Extra {
                    workflow: wf_name,
                    rule: "stale",
                    bot: engine.bot(),
                    now,
                    known_fields: known,
                    vars: &vars,
                    command: None,
                    created: &[],
                    missing: &[],
                    label: None,
                };
                let mut ctx = context::build(&facts, &extra);
                ctx["stale"] = template_facts(engine, wf_name, p, &issue, now);
                for t in [NUDGE_TEMPLATE, MARKED_TEMPLATE, CLOSED_TEMPLATE] {
                    if let Err(e) = engine.renderer.render(t, &ctx) {
                        self.err(
                            Some(&p.stage),
                            format!(
                                "workflow `{wf_name}` stale policy for `{}`: template `{t}`: {}",
                                p.stage.value,
                                render_error(&e)
                            ),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::Engine;
    use std::path::Path;

    fn errors(yaml: &str) -> Vec<String> {
        match Engine::from_yaml(yaml, Path::new("/nonexistent/labelflow.yml")) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn bad_policies_are_reported_with_their_lines() {
        let yaml = r#"bot: { username: labelflow }
projects: { opps: co-create/opportunities }
directory: { roles: { cs: [cs-lead] } }
workflows:
  cocreate:
    stale:
      - stage: "cocreate::triage"
        owner_role: nobody
        idle_days: 0
        grace_days: 7
        stale_label: "cocreate::stale"
      - stage: "cocreate::triage"
        owner_role: cs
        idle_days: 3
        grace_days: 2
        close_after_days: 0
        projects: [unknown]
    sweep_summary:
      project: nowhere
"#;
        let errs = errors(yaml);
        let expect = [
            "/nonexistent/labelflow.yml:8:21: workflow `cocreate` stale policy for `cocreate::triage`: undefined role `nobody`",
            "/nonexistent/labelflow.yml:7:16: workflow `cocreate` stale policy for `cocreate::triage`: `idle_days` must be at least 1",
            "/nonexistent/labelflow.yml:11:22: workflow `cocreate` stale policy for `cocreate::triage`: `cocreate::stale` has the stage label's scope",
            "/nonexistent/labelflow.yml:7:16: workflow `cocreate` stale policy for `cocreate::triage`: nowhere to sweep",
            "/nonexistent/labelflow.yml:12:16: workflow `cocreate` stale policy for `cocreate::triage`: a second policy for the same stage",
            "/nonexistent/labelflow.yml:12:16: workflow `cocreate` stale policy for `cocreate::triage`: `close_after_days` must be at least 1",
            "/nonexistent/labelflow.yml:17:20: workflow `cocreate` stale policy for `cocreate::triage`: unknown project `unknown`",
            "/nonexistent/labelflow.yml:19:16: workflow `cocreate` sweep_summary: unknown project `nowhere`",
        ];
        for e in expect {
            assert_eq!(
                errs.iter().filter(|x| x.starts_with(e)).count(),
                1,
                "missing {e:?} in {errs:#?}"
            );
        }
        assert_eq!(errs.len(), expect.len(), "{errs:#?}");
    }

    #[test]
    fn bad_visits_are_reported_with_their_lines() {
        let yaml = r#"bot: { username: labelflow }
directory: { roles: { cs: [cs-lead] } }
workflows:
  cocreate:
    sweep_visits:
      labels: ["cla::unknown", "cla::unknown", "a,b"]
      projects: [unknown]
      groups: ["/co-create"]
"#;
        let errs = errors(yaml);
        let expect = [
            "/nonexistent/labelflow.yml:6:32: workflow `cocreate` sweep_visits: `cla::unknown` is listed twice",
            "/nonexistent/labelflow.yml:6:48: workflow `cocreate` sweep_visits: `a,b` is not a valid label name",
            "/nonexistent/labelflow.yml:7:18: workflow `cocreate` sweep_visits: unknown project `unknown`",
            "/nonexistent/labelflow.yml:8:16: workflow `cocreate` sweep_visits: `/co-create` is not a group path",
            "/nonexistent/labelflow.yml:6:16: workflow `cocreate` sweep_visits: the workflow has no `on: tick` rule",
        ];
        for e in expect {
            assert_eq!(
                errs.iter().filter(|x| x.starts_with(e)).count(),
                1,
                "missing {e:?} in {errs:#?}"
            );
        }
        assert_eq!(errs.len(), expect.len(), "{errs:#?}");

        let nowhere = r#"bot: { username: labelflow }
workflows:
  cocreate:
    rules:
      - { name: r, on: tick, do: [add_labels: [x]] }
    sweep_visits:
      labels: []
"#;
        assert_eq!(
            errors(nowhere),
            vec![
                "/nonexistent/labelflow.yml: workflow `cocreate` sweep_visits: `labels` is empty: name the labels whose items every sweep visits".to_string(),
                "/nonexistent/labelflow.yml: workflow `cocreate` sweep_visits: nowhere to look: set `projects:` or `groups:` here, or `projects:` on the workflow".to_string(),
            ]
        );
    }

    #[test]
    fn a_valid_policy_loads() {
        let yaml = r#"bot: { username: labelflow }
projects: { opps: co-create/opportunities }
directory: { roles: { cs: [cs-lead] } }
workflows:
  cocreate:
    projects: [opps]
    rules:
      - { name: recheck, on: tick, do: [add_labels: [rechecked]] }
    stale:
      - { stage: "cocreate::triage", owner_role: cs, idle_days: 14, grace_days: 7 }
    sweep_visits:
      labels: ["cla::missing", "cla::unknown"]
"#;
        assert_eq!(errors(yaml), Vec::<String>::new());
    }
}
