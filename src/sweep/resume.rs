//! Finishing the sweep steps an earlier run started and did not finish.
//!
//! A step's plan is stored before its first write. When a run stops part-way through a step
//! (the nudge comment posted, its label not: a label write that kept failing, or a comment
//! whose answer was lost), the item no longer looks due — the comment moved its `updated_at` —
//! so no listing would bring it back until it went quiet again, and then it would be nudged a
//! second time. So each run first looks up the unfinished sweep plans and finishes them,
//! whatever the listings say: the ledger skips what was recorded, and the comment whose answer
//! was lost is found by its marker instead of being posted again.
//!
//! A plan none of whose writes happened (nothing in the ledger, no marked comment or issue in
//! GitLab) is not finished from the record: a plan of today is left to today's listings, which
//! plan the item afresh; an older one is closed, since the item may have changed since.

use super::step::{Held, plan_workflow};
use super::{Abort, ItemPlan, Run, Sweeper};
use crate::actions::{Action, PlanRun, PlannedAction};
use crate::domain::{IssueKey, IssueState};
use crate::forge::ForgeError;
use crate::store::{PlanSource, StoredPlan};

/// Unfinished plans one run looks at (oldest first); the rest wait for the next run.
const MAX_RESUMED: i64 = 1000;

impl Sweeper {
    pub(super) async fn finish_half_done(
        &self,
        run: &mut Run<'_>,
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> Result<(), Abort> {
        let plans = self
            .executor
            .store()
            .unfinished_plans(PlanSource::Sweep, MAX_RESUMED)
            .await
            .map_err(|e| Abort(format!("reading the sweep's unfinished steps: {e}")))?;
        for plan in plans {
            if !plan_workflow(&plan.plan_key).is_some_and(|w| run.opts.includes(w)) {
                continue;
            }
            if run.opts.dry_run {
                run.report.half_done_finished += 1;
                continue;
            }
            let Ok(key) = plan.issue_key.parse::<IssueKey>() else {
                continue;
            };
            let held = self
                .with_hold(run, &plan.issue_key, self.resume_one(run, &plan, key))
                .await?;
            match held {
                Held::Busy => run.report.items_busy.push(plan.issue_key.clone()),
                Held::Done(outcome) => match outcome? {
                    Resumed::Finished(issue, todo) => {
                        run.report.half_done_finished += 1;
                        if !todo.is_empty() {
                            on_item(ItemPlan {
                                issue: &issue,
                                actions: &todo,
                                why: &["finishing a step an earlier sweep started".to_string()],
                            });
                        }
                        self.taken(run, &todo, "done");
                    }
                    Resumed::Failed(issue, todo, e) => {
                        self.step_failed(run, &issue, &todo, e)?;
                    }
                    Resumed::Left => {}
                },
            }
        }
        Ok(())
    }

    /// Inside the hold: finishes one stored plan, if any of it ran.
    async fn resume_one(
        &self,
        run: &Run<'_>,
        plan: &StoredPlan,
        key: IssueKey,
    ) -> Result<Resumed, Abort> {
        let store = self.executor.store();
        let db = |e| Abort(format!("reading the sweep's unfinished steps: {e}"));
        let plan_run = PlanRun {
            plan_key: plan.plan_key.clone(),
            issue_key: plan.issue_key.clone(),
            source: PlanSource::Sweep,
            event_id: None,
        };
        // Another run may have finished it since the list was read.
        match store.plan_get(&plan.plan_key).await.map_err(db)? {
            Some(p) if !p.finished => {}
            _ => return Ok(Resumed::Left),
        }
        let close = |why: &str| {
            tracing::info!(plan = %plan.plan_key, "{why}");
        };
        let actions: Vec<PlannedAction> = match serde_json::from_str(&plan.actions) {
            Ok(a) => a,
            Err(_) => {
                close("a stored sweep plan cannot be read; closed");
                return self.close_plan(&plan_run).await;
            }
        };
        let issue = match self
            .executor
            .forge()
            .get_issue(key.project_id, key.iid)
            .await
        {
            Ok(i) => i,
            Err(ForgeError::NotFound(_)) => {
                close("the issue of an unfinished sweep step is gone; closed");
                return self.close_plan(&plan_run).await;
            }
            Err(ForgeError::RateLimited { retry_after }) => {
                return Err(Abort(format!(
                    "rate limited by GitLab at {}; retry in {}",
                    plan.issue_key,
                    crate::forge::plain_duration(retry_after)
                )));
            }
            Err(e) => {
                return Err(Abort(format!(
                    "reading {} to finish its unfinished sweep step: {e}",
                    plan.issue_key
                )));
            }
        };
        let todo = self.not_in_ledger(&actions).await?;
        let started = todo.len() < actions.len();
        let started = started
            || match self.wrote_without_record(&issue, &todo).await {
                Ok(found) => found,
                Err(e) => return Ok(Resumed::Failed(issue, todo, e.into())),
            };
        if !started {
            if plan.created_at.date_naive() < run.now.date_naive() {
                close(
                    "nothing of an older sweep step was written; closed, the listings decide afresh",
                );
                return self.close_plan(&plan_run).await;
            }
            return Ok(Resumed::Left);
        }
        match self
            .executor
            .execute(&actions, &issue, true, self.loop_limit())
            .await
        {
            Ok(_) => match self.executor.finish_plan(&plan_run).await {
                Ok(()) => Ok(Resumed::Finished(issue, todo)),
                Err(e) => Ok(Resumed::Failed(issue, todo, e)),
            },
            Err(e) => Ok(Resumed::Failed(issue, todo, e)),
        }
    }

    async fn close_plan(&self, plan_run: &PlanRun) -> Result<Resumed, Abort> {
        self.executor
            .finish_plan(plan_run)
            .await
            .map_err(|e| Abort(format!("closing a sweep plan: {e}")))?;
        Ok(Resumed::Left)
    }

    /// Whether GitLab shows a comment or issue of `todo` that the ledger does not record (its
    /// answer was lost): then the step did start.
    async fn wrote_without_record(
        &self,
        issue: &IssueState,
        todo: &[PlannedAction],
    ) -> Result<bool, ForgeError> {
        let forge = self.executor.forge();
        for a in todo {
            let found = match &a.action {
                Action::Comment { .. } => forge
                    .find_bot_note(issue.project_id, issue.iid, &a.marker_id())
                    .await?
                    .is_some(),
                Action::CreateIssue { project, .. } => forge
                    .find_bot_issue(project, &a.marker_id())
                    .await?
                    .is_some(),
                _ => false,
            };
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// What became of one unfinished plan.
enum Resumed {
    /// Finished; these actions were still to do.
    Finished(IssueState, Vec<PlannedAction>),
    Failed(
        IssueState,
        Vec<PlannedAction>,
        crate::actions::executor::ExecError,
    ),
    /// Left alone (nothing of it ran, or another run finished it) or closed.
    Left,
}
