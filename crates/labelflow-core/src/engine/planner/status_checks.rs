//! Restricted statuses and status guards: what restricted labels and guards are for labels.
//! A status they revert goes back to the status the change came from, with a comment, and
//! triggers no `status_changed` rule.

use super::{PlanError, WorkflowPlanner};
use crate::actions::Action;
use crate::domain::WorkItemStatus;
use crate::engine::context;
use crate::engine::explain::requirements_missing;
use crate::engine::trace::{CheckKind, CheckOutcome};
use std::collections::{BTreeMap, BTreeSet};

/// The key a reverted status takes in the planner's set of reverted labels (a control
/// character no label has keeps the two apart).
pub(crate) fn reverted_key(status: &str) -> String {
    format!("\u{1}status:{}", status.to_lowercase())
}

const GUARD_TEMPLATE: &str = "builtin/status_guard.md.hbs";
const RESTRICTED_TEMPLATE: &str = "builtin/status_restricted.md.hbs";

impl WorkflowPlanner<'_, '_> {
    /// The status this change set, when the item still has it (the re-read is the truth).
    fn status_set_now(&self) -> Option<(WorkItemStatus, Option<WorkItemStatus>)> {
        let change = self.event.status_change.as_ref()?;
        let to = change.to.clone()?;
        let now = self.issue.status.as_ref()?;
        now.is(&to.name).then(|| (to, change.from.clone()))
    }

    pub(super) fn status_checks(
        &mut self,
        reverted: &mut BTreeSet<String>,
    ) -> Result<(), PlanError> {
        let Some((to, from)) = self.status_set_now() else {
            return Ok(());
        };
        let label = format!("status \"{}\"", to.name);
        for r in &self.wf.restricted_statuses {
            if !r.statuses.iter().any(|s| to.is(&s.value)) {
                continue;
            }
            let Some(who) = self.refused_by(&r.roles, r.product_pms, &label, "set it") else {
                continue;
            };
            let rule = format!("restricted-status:{}", to.name);
            self.revert_status(&rule, &to, from.as_ref(), RESTRICTED_TEMPLATE, &[who])?;
            reverted.insert(reverted_key(&to.name));
            return Ok(());
        }
        for g in &self.wf.status_guards {
            if !to.is(&g.status.value) {
                continue;
            }
            let missing = requirements_missing(&g.requires, self.facts);
            if missing.is_empty() {
                self.trace_check(
                    CheckKind::Guard,
                    &label,
                    CheckOutcome::Passed,
                    "every prerequisite holds".to_string(),
                    Vec::new(),
                );
                continue;
            }
            self.trace_check(
                CheckKind::Guard,
                &label,
                CheckOutcome::Reverted,
                format!(
                    "set before its prerequisites: missing {}",
                    missing.join("; ")
                ),
                missing.clone(),
            );
            let rule = format!("status-guard:{}", to.name);
            self.revert_status(&rule, &to, from.as_ref(), GUARD_TEMPLATE, &missing)?;
            reverted.insert(reverted_key(&to.name));
            return Ok(());
        }
        Ok(())
    }

    /// Puts the previous status back (when there was one) and explains why.
    fn revert_status(
        &mut self,
        rule: &str,
        to: &WorkItemStatus,
        from: Option<&WorkItemStatus>,
        template: &str,
        missing: &[String],
    ) -> Result<(), PlanError> {
        if let Some(prev) = from {
            self.push(
                rule,
                0,
                Action::SetStatus {
                    status: prev.name.clone(),
                },
                false,
            );
        }
        let vars = BTreeMap::new();
        let mut ctx = context::build(
            self.facts,
            &self.extra(rule, &vars, &[], missing, Some(&to.name), None),
        );
        ctx["previous_status"] =
            serde_json::Value::String(from.map(|s| s.name.clone()).unwrap_or_default());
        let body = self.render(template, rule, &ctx)?;
        self.push(rule, 1, Action::Comment { body }, false);
        Ok(())
    }
}
