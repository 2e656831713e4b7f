//! One listed item: plan it as a `Tick`, keep its summary row, and take its step within the
//! ceiling, holding the issue and storing the plan before the first write.

use super::summary::{StaleRow, WorkflowSummary};
use super::{Abort, ItemPlan, Run, Sweeper, count_actions, day_start, human_idle_days, reference};
use crate::actions::PlannedAction;
use crate::domain::IssueState;
use crate::engine::config::StalePolicy;
use crate::engine::stale::{StaleStep, due_step, exempt_by_milestone, stale_label};
use crate::engine::trace::RuleOutcome;
use crate::engine::{self};
use crate::forge::gitlab::issue_from_value;
use serde_json::Value;

impl Sweeper {
    /// Plans one listed item and, within the ceiling, takes its step. `p` is the stale policy
    /// the listing serves; `None` for a visit listing.
    pub(super) async fn item(
        &self,
        run: &mut Run<'_>,
        value: Value,
        wf_name: &str,
        p: Option<&StalePolicy>,
        sum: &mut WorkflowSummary,
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> Result<(), Abort> {
        let milestone = value["milestone"]["title"].as_str().map(str::to_string);
        let mut issue = match issue_from_value(value) {
            Ok(i) => i,
            Err(e) => {
                run.report
                    .failures
                    .push(format!("an issue GitLab listed could not be read: {e}"));
                return Ok(());
            }
        };
        // Listings are REST: statuses, types and custom fields come from GraphQL.
        if engine::statuses::reads_work_items(&self.engine.config)
            && let Err(e) = self.executor.forge().add_work_item_facts(&mut issue).await
        {
            run.report.failures.push(format!(
                "{}: its status and fields could not be read: {e}",
                reference(&issue)
            ));
            return Ok(());
        }
        run.report.items_seen += 1;
        if p.is_some_and(|p| exempt_by_milestone(p, milestone.as_deref())) {
            run.report.items_exempt += 1;
            return Ok(());
        }
        let step = p.and_then(|p| due_step(wf_name, p, &issue, run.now));
        let event = super::tick_event(&issue, &run.day, run.now);
        let plan = match engine::plan(&self.engine, &event, &issue, run.now) {
            Ok(plan) => plan,
            Err(e) => {
                run.report
                    .failures
                    .push(format!("{}: configuration problem: {e}", reference(&issue)));
                return Ok(());
            }
        };
        let why: Vec<String> = plan
            .trace
            .rule_outcomes()
            .filter(|(w, r)| *w == wf_name && r.outcome == RuleOutcome::Fired)
            .map(|(_, r)| format!("rule `{}`: {}", r.rule, r.reason))
            .collect();
        let mut pending: Vec<PlannedAction> = Vec::new();
        for a in plan.actions {
            // A listing takes its own workflow's steps only (the item's other workflows list
            // it themselves, and `--workflow` means just that one). A visit leaves the stale
            // steps to the policies' listings, which visit every item due for one and know the
            // exemptions the planner cannot see (milestones).
            if a.workflow != wf_name
                || run.taken_keys.contains(&a.key)
                || (p.is_none() && super::is_stale_step(&a))
            {
                continue;
            }
            match self.executor.store().ledger_get(&a.key).await {
                Ok(Some(_)) => continue,
                Ok(None) => pending.push(a),
                Err(e) => return Err(Abort(format!("reading the action ledger: {e}"))),
            }
        }
        let fits = run.report.actions + pending.len() <= run.opts.max_actions;
        let acted = !pending.is_empty() && fits;
        if let Some(p) = p {
            let stale_after = match step {
                Some(StaleStep::Close) => !acted,
                Some(StaleStep::MarkStale) => acted,
                _ => issue.has_label(&stale_label(wf_name, p)),
            };
            if stale_after {
                sum.add_stale(self.stale_row(&issue, p, step, run));
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if !fits {
            run.report.ceiling_reached = true;
            run.deferred_items.insert(reference(&issue));
            for a in &pending {
                if run.deferred_keys.insert(a.key.clone()) {
                    run.report.counts.remaining_actions += 1;
                }
            }
            return Ok(());
        }
        if run.opts.dry_run {
            on_item(ItemPlan {
                issue: &issue,
                actions: &pending,
                why: &why,
            });
            self.taken(run, &pending, "dry_run");
            return Ok(());
        }
        self.act(run, &issue, wf_name, pending, &why, on_item).await
    }

    fn stale_row(
        &self,
        issue: &IssueState,
        p: &StalePolicy,
        step: Option<StaleStep>,
        run: &Run<'_>,
    ) -> StaleRow {
        StaleRow {
            reference: reference(issue),
            title: issue.title.clone(),
            stage: p.stage.value.clone(),
            owners: if issue.assignees.is_empty() {
                self.engine
                    .config
                    .directory
                    .roles
                    .get(&p.owner_role.value)
                    .cloned()
                    .unwrap_or_default()
            } else {
                issue.assignees.clone()
            },
            idle_days: human_idle_days(issue, p, step, day_start(run.now)),
        }
    }

    /// Records actions as taken by this run: counted, in the metrics, never taken again.
    pub(super) fn taken(&self, run: &mut Run<'_>, actions: &[PlannedAction], outcome: &str) {
        for a in actions {
            self.executor
                .metrics()
                .sweep_action(&a.workflow, &a.rule, a.action.kind(), outcome);
        }
        count_actions(&mut run.report.counts, actions);
        run.report.actions += actions.len();
        run.taken_keys.extend(actions.iter().map(|a| a.key.clone()));
    }
}
