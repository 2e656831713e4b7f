//! Warnings for labels that guards and restricted labels watch but nothing in the
//! configuration ever applies, tests or triggers on: most often a typo (`vuln::fixd`).

use super::Validator;
use crate::engine::command_args::action_labels;
use crate::engine::config::{ActionSpec, Condition, ConfigFile, Trigger, Workflow};
use crate::engine::label_section::is_pattern;
use crate::engine::stale::{nudge_label, stale_label};
use globset::Glob;
use std::collections::BTreeSet;

impl Validator {
    pub(super) fn unused_labels(&mut self, config: &ConfigFile) {
        let (known, scopes) = mentioned_labels(config);
        let is_known = |l: &str| {
            known.contains(l)
                || l.rsplit_once("::")
                    .is_some_and(|(scope, _)| scopes.contains(scope))
        };
        for (wf_name, wf) in &config.workflows {
            for g in &wf.guards {
                if !is_known(&g.label.value) {
                    self.warn(
                        Some(&g.label),
                        format!(
                            "workflow `{wf_name}` guard on `{}`: no rule, trigger, condition, stale policy or `labels:` entry mentions this label, so nothing applies it (a typo?)",
                            g.label.value
                        ),
                    );
                }
            }
            for r in &wf.restricted_labels {
                for l in &r.labels {
                    let hit = if is_pattern(&l.value) {
                        match Glob::new(&l.value) {
                            Ok(g) => {
                                let m = g.compile_matcher();
                                known.iter().any(|k| m.is_match(k))
                                    || scopes.iter().any(|s| m.is_match(format!("{s}::x")))
                            }
                            Err(_) => true,
                        }
                    } else {
                        is_known(&l.value)
                    };
                    if !hit {
                        self.warn(
                            Some(l),
                            format!(
                                "workflow `{wf_name}` restricted_labels: `{}` matches no label that a rule, trigger, condition, stale policy or `labels:` entry mentions, so nothing applies it (a typo?)",
                                l.value
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// Every label the configuration mentions outside guards and restricted labels, and the
/// scopes it names as a whole (`has_scope`, `scope::*` entries of `labels:`).
fn mentioned_labels(config: &ConfigFile) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut known = BTreeSet::new();
    let mut scopes = BTreeSet::new();
    for name in config.labels.keys() {
        match name.strip_suffix("::*") {
            Some(scope) => {
                scopes.insert(scope.to_string());
            }
            None => {
                known.insert(name.clone());
            }
        }
    }
    if let Some(cla) = &config.cla {
        known.extend(cla.labels.all().map(str::to_string));
    }
    for (wf_name, wf) in &config.workflows {
        workflow_labels(wf_name, wf, &mut known, &mut scopes);
    }
    (known, scopes)
}

fn workflow_labels(
    wf_name: &str,
    wf: &Workflow,
    known: &mut BTreeSet<String>,
    scopes: &mut BTreeSet<String>,
) {
    let mut conditions: Vec<&Condition> = Vec::new();
    for g in &wf.guards {
        known.extend(g.revert_to.iter().map(|l| l.value.clone()));
        conditions.extend(g.requires.iter().map(|r| &r.condition));
    }
    for rf in &wf.required_fields {
        known.insert(rf.when_label.value.clone());
        known.insert(rf.label.clone());
        conditions.extend(rf.requires.iter().map(|r| &r.condition));
    }
    for rule in &wf.rules {
        match &rule.on {
            Trigger::LabelAdded(l) | Trigger::LabelRemoved(l) => {
                known.insert(l.clone());
            }
            Trigger::LabelsPresent(ls) => known.extend(ls.iter().cloned()),
            Trigger::FieldsCompleted(ls) => known.extend(ls.all().iter().cloned()),
            _ => {}
        }
        conditions.extend(rule.conditions.iter());
        for a in &rule.actions {
            match a {
                ActionSpec::AddLabels(ls) | ActionSpec::RemoveLabels(ls) => {
                    known.extend(action_labels(&rule.on, ls))
                }
                ActionSpec::CreateIssue(c) => {
                    known.extend(c.labels.iter().map(|l| l.value.clone()))
                }
                _ => {}
            }
        }
    }
    for p in &wf.stale {
        known.insert(p.stage.value.clone());
        known.insert(nudge_label(wf_name, p));
        known.insert(stale_label(wf_name, p));
        known.extend(p.exempt.labels.iter().map(|l| l.value.clone()));
    }
    if let Some(v) = &wf.sweep_visits {
        known.extend(v.labels.iter().map(|l| l.value.clone()));
    }
    while let Some(c) = conditions.pop() {
        match c {
            Condition::HasLabel(l) | Condition::LacksLabel(l) => {
                known.insert(l.value.clone());
            }
            Condition::HasAnyLabel(ls) | Condition::ChangedFrom(ls) => {
                known.extend(ls.iter().map(|l| l.value.clone()))
            }
            Condition::HasScope(s) => {
                scopes.insert(s.clone());
            }
            Condition::All(cs) | Condition::Any(cs) => conditions.extend(cs.iter()),
            Condition::Not(c) => conditions.push(c),
            _ => {}
        }
    }
}
