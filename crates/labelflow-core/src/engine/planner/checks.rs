//! The checks that run before a workflow's rules: restricted labels, guards and required
//! fields. A label they revert triggers no rule.

use super::{PlanError, WorkflowPlanner};
use crate::actions::Action;
use crate::domain::EventKind;
use crate::engine::conditions::describe_allow;
use crate::engine::config::{Allow, RequiredFields, Sp};
use crate::engine::explain::{guard_missing, required_missing};
use crate::engine::trace::{CheckKind, CheckOutcome, CheckTrace};
use std::collections::BTreeSet;

impl WorkflowPlanner<'_, '_> {
    pub(super) fn restricted_labels(
        &mut self,
        added: &[&str],
        reverted: &mut BTreeSet<String>,
    ) -> Result<(), PlanError> {
        for label in added {
            if reverted.contains(*label) {
                continue;
            }
            for r in &self.wf.restricted_labels {
                let hit = r
                    .labels
                    .iter()
                    .any(|g| self.engine.patterns.glob_matches(&g.value, label));
                if !hit {
                    continue;
                }
                let Some(who) = self.refused_by(&r.roles, r.product_pms, label, "apply it") else {
                    continue;
                };
                reverted.insert(label.to_string());
                let rule = format!("restricted:{label}");
                self.revert(&rule, label, self.replaced_sibling(label));
                let body = self.render_builtin(
                    "builtin/restricted.md.hbs",
                    &rule,
                    &[who],
                    Some(label),
                    None,
                )?;
                self.push(&rule, 2, Action::Comment { body }, false);
                break;
            }
        }
        Ok(())
    }

    /// Whether the actor may make a restricted change (`subject`: the label or status),
    /// traced either way. `Some(who may)` when refused.
    pub(super) fn refused_by(
        &mut self,
        roles: &[Sp],
        product_pms: bool,
        subject: &str,
        verb: &str,
    ) -> Option<String> {
        let allow = Allow {
            roles: roles.iter().map(|s| s.value.clone()).collect(),
            product_pms,
            ..Allow::default()
        };
        let who = describe_allow(&allow, self.facts);
        let actor = &self.facts.actor;
        let (outcome, detail) = if self.facts.permits(&allow) {
            (CheckOutcome::Passed, format!("`{actor}` is one of {who}"))
        } else {
            (
                CheckOutcome::Reverted,
                format!("`{actor}` may not {verb}: only {who} may"),
            )
        };
        let refused = outcome == CheckOutcome::Reverted;
        self.trace_check(
            CheckKind::RestrictedLabel,
            subject,
            outcome,
            detail,
            Vec::new(),
        );
        refused.then_some(who)
    }

    pub(super) fn trace_check(
        &mut self,
        check: CheckKind,
        label: &str,
        outcome: CheckOutcome,
        detail: String,
        missing: Vec<String>,
    ) {
        self.wt().checks.push(CheckTrace {
            check,
            label: label.to_string(),
            outcome,
            detail,
            missing,
        });
    }

    fn revert(&mut self, rule: &str, label: &str, restore: Option<String>) {
        self.push(
            rule,
            0,
            Action::RemoveLabels {
                labels: vec![label.to_string()],
            },
            false,
        );
        if let Some(prev) = restore.filter(|p| p != label) {
            self.push(rule, 1, Action::AddLabels { labels: vec![prev] }, false);
        }
    }

    pub(super) fn guards(
        &mut self,
        added: &[&str],
        reverted: &mut BTreeSet<String>,
    ) -> Result<(), PlanError> {
        for label in added {
            if reverted.contains(*label) {
                continue;
            }
            for g in &self.wf.guards {
                if g.label.value != *label {
                    continue;
                }
                let missing = guard_missing(g, self.facts);
                if missing.is_empty() {
                    self.trace_check(
                        CheckKind::Guard,
                        label,
                        CheckOutcome::Passed,
                        "every prerequisite holds".to_string(),
                        Vec::new(),
                    );
                    continue;
                }
                self.trace_check(
                    CheckKind::Guard,
                    label,
                    CheckOutcome::Reverted,
                    format!(
                        "applied before its prerequisites: missing {}",
                        missing.join("; ")
                    ),
                    missing.clone(),
                );
                reverted.insert(label.to_string());
                let rule = format!("guard:{label}");
                let restore = g
                    .revert_to
                    .as_ref()
                    .map(|s| s.value.clone())
                    .or_else(|| self.replaced_sibling(label));
                self.revert(&rule, label, restore);
                let body = self.render_builtin(
                    "builtin/guard.md.hbs",
                    &rule,
                    &missing,
                    Some(label),
                    None,
                )?;
                self.push(&rule, 2, Action::Comment { body }, false);
            }
        }
        Ok(())
    }

    pub(super) fn required_fields(
        &mut self,
        added: &[&str],
        reverted: &BTreeSet<String>,
    ) -> Result<(), PlanError> {
        for rf in &self.wf.required_fields {
            let when = rf.when_label.value.as_str();
            if !self.issue.has_label(when) || reverted.contains(when) {
                continue;
            }
            // Not on ticks: a sweep or a follow-up reminds people of idle items; asking an
            // item's author for missing fields is for when they open or edit it.
            let relevant = added.contains(&when)
                || self.event.description_changed
                || self.event.kind == EventKind::Opened;
            if !relevant {
                continue;
            }
            let missing = self.missing_required(rf);
            let rule = format!("required-fields:{when}");
            if missing.is_empty() {
                self.trace_check(
                    CheckKind::RequiredFields,
                    when,
                    CheckOutcome::FieldsComplete,
                    "every required field is filled in".to_string(),
                    Vec::new(),
                );
            } else {
                self.trace_check(
                    CheckKind::RequiredFields,
                    when,
                    CheckOutcome::FieldsMissing,
                    missing.join("; "),
                    missing.clone(),
                );
            }
            if !missing.is_empty() && !self.issue.has_label(&rf.label) {
                self.push(
                    &rule,
                    0,
                    Action::AddLabels {
                        labels: vec![rf.label.clone()],
                    },
                    false,
                );
                let body = self.render_builtin(
                    "builtin/required_fields.md.hbs",
                    &rule,
                    &missing,
                    Some(&rf.label),
                    None,
                )?;
                self.push(&rule, 1, Action::Comment { body }, false);
            } else if missing.is_empty() && self.issue.has_label(&rf.label) {
                self.push(
                    &rule,
                    0,
                    Action::RemoveLabels {
                        labels: vec![rf.label.clone()],
                    },
                    false,
                );
            }
        }
        Ok(())
    }

    /// What a `required_fields` entry finds missing: empty fields, then failed checks.
    pub(super) fn missing_required(&self, rf: &RequiredFields) -> Vec<String> {
        required_missing(rf, self.facts)
    }

    /// `on: { fields_completed: labels }`: the issue carries every one of `labels` with
    /// nothing of their `required_fields` missing, and this change made it so: one of them
    /// arrived (or the issue opened with it) complete, or an edit filled the last missing
    /// field of an issue marked as lacking some.
    pub(super) fn fields_completed(
        &self,
        labels: &[String],
        added: &[&str],
        reverted: &BTreeSet<String>,
    ) -> bool {
        if labels
            .iter()
            .any(|l| !self.issue.has_label(l) || reverted.contains(l))
        {
            return false;
        }
        let entries: Vec<&RequiredFields> = self
            .wf
            .required_fields
            .iter()
            .filter(|rf| labels.contains(&rf.when_label.value))
            .collect();
        if entries.is_empty()
            || entries
                .iter()
                .any(|rf| !self.missing_required(rf).is_empty())
        {
            return false;
        }
        // An issue opened with the label has it in `added` (an opened event adds the labels
        // it was created with). A label added after the opening is not: the re-read shows it
        // when the opened event is processed late, and the label's own event fires the rule.
        let arrived = labels.iter().any(|l| added.contains(&l.as_str()));
        let completed = self.event.description_changed
            && entries.iter().any(|rf| self.issue.has_label(&rf.label));
        arrived || completed
    }
}
