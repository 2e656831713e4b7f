//! `@labelflow explain`: where an issue stands in each workflow, and what each next stage still
//! needs, evaluated now with the same checks the planner runs when the label is applied.
//!
//! A workflow's stages are the labels of its stage scope (`cocreate::*`), in the order the
//! configuration first names them. The stage scope is the one its stale policies watch; without
//! those, the one its required-fields checks, then its guards, then its label triggers use
//! most (label triggers alone would pick a category scope such as `partner-type`).

mod markdown;
mod model;

use super::compiled::Engine;
use super::conditions::{Facts, describe_allow};
use super::config::{Allow, Guard, RequiredFields, Requirement, Trigger, Workflow};
use crate::domain::{IssueState, split_scoped};

pub use markdown::render;
pub use model::{IssueHistory, Readiness, RecentDecision, WorkflowStanding};

/// The prerequisites of `guard` that do not hold, in the configuration's words. The planner's
/// guard check and `explain` both use this, so they cannot disagree.
pub fn guard_missing(guard: &Guard, facts: &Facts) -> Vec<String> {
    requirements_missing(&guard.requires, facts)
}

/// What a list of prerequisites (a label guard's or a status guard's) finds missing, in order.
pub fn requirements_missing(requires: &[Requirement], facts: &Facts) -> Vec<String> {
    requires
        .iter()
        .filter(|r| !facts.holds(&r.condition))
        .map(|r| r.missing.clone())
        .collect()
}

/// What a `required_fields` entry finds missing: empty fields, then failed checks. The
/// planner's required-fields check and `explain` both use this.
pub fn required_missing(rf: &RequiredFields, facts: &Facts) -> Vec<String> {
    rf.fields
        .iter()
        .filter(|f| facts.field(f).is_empty())
        .cloned()
        .chain(
            rf.requires
                .iter()
                .filter(|r| !facts.holds(&r.condition))
                .map(|r| r.missing.clone()),
        )
        .collect()
}

/// Every applying workflow's standing for `issue`, as `actor` would meet it.
pub fn standings(engine: &Engine, issue: &IssueState, actor: &str) -> Vec<WorkflowStanding> {
    engine
        .config
        .workflows
        .iter()
        .filter(|(_, wf)| engine.workflow_applies(wf, &issue.project_path))
        .map(|(name, wf)| standing(engine, name, wf, issue, actor))
        .collect()
}

fn standing(
    engine: &Engine,
    name: &str,
    wf: &Workflow,
    issue: &IssueState,
    actor: &str,
) -> WorkflowStanding {
    let stages = stages(wf);
    let scope = stages
        .first()
        .and_then(|s| split_scoped(s))
        .map(|(s, _)| s.to_string());
    let current = scope
        .as_deref()
        .and_then(|s| issue.scoped_value(s).map(|v| format!("{s}::{v}")));
    let after = current
        .as_ref()
        .and_then(|c| stages.iter().position(|s| s == c))
        .map_or(0, |i| i + 1);
    let next = stages[after..]
        .iter()
        .map(|l| readiness(engine, wf, issue, actor, l))
        .collect();
    let mut other: Vec<String> = Vec::new();
    for label in wf.guards.iter().map(|g| g.label.value.as_str()) {
        if !stages.iter().any(|s| s == label)
            && !issue.has_label(label)
            && !other.iter().any(|o| o == label)
        {
            other.push(label.to_string());
        }
    }
    WorkflowStanding {
        workflow: name.to_string(),
        current,
        next,
        other: other
            .iter()
            .map(|l| readiness(engine, wf, issue, actor, l))
            .collect(),
    }
}

/// The workflow's stage labels in the order the configuration first names them.
pub fn stages(wf: &Workflow) -> Vec<String> {
    let mut named: Vec<String> = Vec::new();
    let mut add = |l: &str| {
        if split_scoped(l).is_some() && !named.iter().any(|n| n == l) {
            named.push(l.to_string());
        }
    };
    for r in &wf.rules {
        match &r.on {
            Trigger::LabelAdded(l) => add(l),
            Trigger::LabelsPresent(ls) => ls.iter().for_each(|l| add(l)),
            Trigger::FieldsCompleted(ls) => ls.all().iter().for_each(|l| add(l)),
            _ => {}
        }
    }
    wf.guards.iter().for_each(|g| add(&g.label.value));
    wf.stale.iter().for_each(|p| add(&p.stage.value));
    wf.required_fields
        .iter()
        .for_each(|r| add(&r.when_label.value));
    let tiers: [Vec<&str>; 3] = [
        wf.stale.iter().map(|p| p.stage.value.as_str()).collect(),
        wf.required_fields
            .iter()
            .map(|r| r.when_label.value.as_str())
            .collect(),
        wf.guards.iter().map(|g| g.label.value.as_str()).collect(),
    ];
    let Some(scope) = tiers
        .iter()
        .find_map(|tier| stage_scope(tier))
        .or_else(|| stage_scope(&named.iter().map(String::as_str).collect::<Vec<_>>()))
    else {
        return Vec::new();
    };
    named
        .into_iter()
        .filter(|l| split_scoped(l).is_some_and(|(s, _)| s == scope))
        .collect()
}

/// The scope most of the named labels share (the first one on a tie).
fn stage_scope(named: &[&str]) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (scope, _) in named.iter().filter_map(|l| split_scoped(l)) {
        match counts.iter_mut().find(|(s, _)| *s == scope) {
            Some((_, n)) => *n += 1,
            None => counts.push((scope, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts
        .iter()
        .find(|(_, n)| *n == best)
        .map(|(s, _)| s.to_string())
}

/// What applying `label` to `issue` now would meet: the issue as GitLab would have it (the
/// label added, its scoped sibling dropped), checked like the planner checks the change.
pub fn readiness(
    engine: &Engine,
    wf: &Workflow,
    issue: &IssueState,
    actor: &str,
    label: &str,
) -> Readiness {
    let (after, removed) = applied(issue, label);
    let fields = super::custom_fields::workflow_fields(wf, &after);
    let facts = Facts {
        issue: &after,
        fields: &fields,
        actor,
        directory: &engine.config.directory,
        labels_removed: &removed,
        patterns: &engine.patterns,
    };
    let guard_missing = wf
        .guards
        .iter()
        .filter(|g| g.label.value == label)
        .flat_map(|g| guard_missing(g, &facts))
        .collect();
    let fields_missing = wf
        .required_fields
        .iter()
        .filter(|r| r.when_label.value == label)
        .flat_map(|r| required_missing(r, &facts))
        .collect();
    let restricted_to = wf
        .restricted_labels
        .iter()
        .filter(|r| {
            r.labels
                .iter()
                .any(|g| engine.patterns.glob_matches(&g.value, label))
        })
        .map(|r| {
            let allow = Allow {
                roles: r.roles.iter().map(|s| s.value.clone()).collect(),
                product_pms: r.product_pms,
                ..Allow::default()
            };
            describe_allow(&allow, &facts)
        })
        .reduce(|a, b| format!("{a}, and {b}"));
    Readiness {
        label: label.to_string(),
        guard_missing,
        fields_missing,
        restricted_to,
    }
}

/// The issue with `label` applied as GitLab applies it, and the labels that dropped off.
pub fn applied(issue: &IssueState, label: &str) -> (IssueState, Vec<String>) {
    let mut after = issue.clone();
    let mut removed = Vec::new();
    if let Some((scope, _)) = split_scoped(label) {
        after.labels.retain(|l| {
            let sibling = l != label && split_scoped(l).is_some_and(|(s, _)| s == scope);
            if sibling {
                removed.push(l.clone());
            }
            !sibling
        });
    }
    if !after.has_label(label) {
        after.labels.push(label.to_string());
    }
    (after, removed)
}
