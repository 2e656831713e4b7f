//! Taking one item's step exactly once, whatever else runs: the issue is held in the store
//! (as the worker holds it while it processes a webhook), the plan is stored before its first
//! write (so a step cut short is finished by the next run, see `resume`), and what is already
//! in the ledger is not done again.

use super::{Abort, ItemPlan, Run, Sweeper, reference};
use crate::actions::executor::{ExecError, LoopLimit};
use crate::actions::{Decision, PlanRun, PlannedAction};
use crate::domain::IssueState;
use crate::forge::ForgeError;
use crate::store::PlanSource;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long a hold lasts if the sweep holding it dies: long enough for one step under slow
/// GitLab answers and rate limits; afterwards the issue is free again.
pub const HOLD_LEASE: Duration = Duration::from_secs(15 * 60);

/// What became of an item's step.
pub(super) enum Held<T> {
    Done(T),
    /// Another sweep or the service holds the issue.
    Busy,
}

impl Sweeper {
    /// Runs `f` while holding `issue_key` for this run; releases the hold afterwards.
    pub(super) async fn with_hold<T>(
        &self,
        run: &Run<'_>,
        issue_key: &str,
        f: impl std::future::Future<Output = T>,
    ) -> Result<Held<T>, Abort> {
        let store = self.executor.store();
        let held = store
            .hold_issue(
                issue_key,
                &run.holder,
                HOLD_LEASE,
                self.executor.clock().now(),
            )
            .await
            .map_err(|e| Abort(format!("holding an issue in the database: {e}")))?;
        let Some(id) = held else {
            return Ok(Held::Busy);
        };
        let out = f.await;
        if let Err(e) = store
            .complete(id, &run.holder, self.executor.clock().now())
            .await
        {
            tracing::warn!(error = %e, issue = issue_key, "could not release the sweep's hold; it expires with its lease");
        }
        Ok(Held::Done(out))
    }

    /// Takes an item's pending actions (live run): held, decided once, executed.
    pub(super) async fn act(
        &self,
        run: &mut Run<'_>,
        issue: &IssueState,
        wf_name: &str,
        pending: Vec<PlannedAction>,
        why: &[String],
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> Result<(), Abort> {
        let issue_key = issue.key().to_string();
        let plan_run = PlanRun {
            plan_key: sweep_plan_key(wf_name, &issue_key, &run.day, &pending),
            issue_key: issue_key.clone(),
            source: PlanSource::Sweep,
            event_id: None,
        };
        let held = self
            .with_hold(
                run,
                &issue_key,
                self.decide_and_execute(&plan_run, issue, pending),
            )
            .await?;
        let (todo, result) = match held {
            Held::Busy => {
                run.report.items_busy.push(reference(issue));
                return Ok(());
            }
            Held::Done(r) => r?,
        };
        if !todo.is_empty() {
            on_item(ItemPlan {
                issue,
                actions: &todo,
                why,
            });
        }
        match result {
            Ok(()) => {
                self.taken(run, &todo, "done");
                Ok(())
            }
            Err(e) => self.step_failed(run, issue, &todo, e),
        }
    }

    /// Inside the hold: the stored plan (or this one, stored first), then its actions that
    /// the ledger does not record. Returns those actions and how executing them went.
    async fn decide_and_execute(
        &self,
        plan_run: &PlanRun,
        issue: &IssueState,
        pending: Vec<PlannedAction>,
    ) -> Result<(Vec<PlannedAction>, Result<(), ExecError>), Abort> {
        let store = self.executor.store();
        let db = |e| Abort(format!("reading the sweep's plans: {e}"));
        // A stored, unfinished plan means an earlier try may have written without recording
        // it (a lost answer): look for its marked comments before posting again.
        let recovering = store
            .plan_get(&plan_run.plan_key)
            .await
            .map_err(db)?
            .is_some_and(|p| !p.finished);
        let decision = match self.executor.decide_once(plan_run, pending, false).await {
            Ok(d) => d,
            Err(e) => return Ok((Vec::new(), Err(e))),
        };
        if let Decision::AlreadyHandled { .. } = decision {
            return Ok((Vec::new(), Ok(())));
        }
        let actions = decision.actions().to_vec();
        let todo = self.not_in_ledger(&actions).await?;
        if todo.is_empty() {
            return Ok((todo, self.executor.finish_plan(plan_run).await));
        }
        let result = match self
            .executor
            .execute(&actions, issue, recovering, self.loop_limit())
            .await
        {
            Ok(_) => self.executor.finish_plan(plan_run).await,
            Err(e) => Err(e),
        };
        Ok((todo, result))
    }

    pub(super) async fn not_in_ledger(
        &self,
        actions: &[PlannedAction],
    ) -> Result<Vec<PlannedAction>, Abort> {
        let mut todo = Vec::new();
        for a in actions {
            let done = self
                .executor
                .store()
                .ledger_get(&a.key)
                .await
                .map_err(|e| Abort(format!("reading the action ledger: {e}")))?;
            if done.is_none() {
                todo.push(a.clone());
            }
        }
        Ok(todo)
    }

    pub(super) fn loop_limit(&self) -> LoopLimit {
        LoopLimit {
            max_actions: self.engine.config.bot.loop_guard.max_actions,
            window_minutes: self.engine.config.bot.loop_guard.window_minutes,
        }
    }

    /// A step that failed: a rate limit stops the run; anything else is this item's failure
    /// (its stored plan is finished by a later run).
    pub(super) fn step_failed(
        &self,
        run: &mut Run<'_>,
        issue: &IssueState,
        actions: &[PlannedAction],
        e: ExecError,
    ) -> Result<(), Abort> {
        if let ExecError::Forge(ForgeError::RateLimited { retry_after }) = e {
            return Err(Abort(format!(
                "rate limited by GitLab at {}; retry in {}",
                reference(issue),
                crate::forge::plain_duration(retry_after)
            )));
        }
        run.report
            .failures
            .push(format!("{}: {e}", reference(issue)));
        // Once per run: a later listing that meets the item again (a visit label its failure
        // just set) does not retry it.
        run.taken_keys.extend(actions.iter().map(|a| a.key.clone()));
        Ok(())
    }
}

/// The plan key of a sweep step: workflow, issue, day and the actions' keys. The same step
/// planned twice (two runs, one stale listing) has one key; a different step of the same day
/// (a visit's rule after the policy's nudge) has its own.
pub fn sweep_plan_key(wf: &str, issue_key: &str, day: &str, actions: &[PlannedAction]) -> String {
    let mut h = Sha256::new();
    for a in actions {
        h.update(a.key.as_bytes());
        h.update([0]);
    }
    format!(
        "sweep/{wf}/{issue_key}/{day}/{}",
        hex::encode(&h.finalize()[..6])
    )
}

/// The workflow a sweep plan key names.
pub fn plan_workflow(plan_key: &str) -> Option<&str> {
    plan_key.strip_prefix("sweep/")?.split('/').next()
}
