//! `labelflow sweep`: the scheduled pass over stale items (DESIGN §1.6).
//!
//! For each workflow's `stale:` policies it lists the stage's open items with GitLab's own
//! filters (`scan`), hands each item to the same planner as live webhooks as a `Tick`
//! (`item`), and takes its step through the same executor (ledger, markers) under a ceiling of
//! actions per run (`step`). Follow-ups that came due run first, through the worker's own code,
//! then the steps an earlier run left half-done (`resume`). A dry run does everything but the
//! writes and reports the same actions.
//!
//! Exactly once, also with two runs at once or beside `serve`: each step holds its issue in
//! the store (the inbox's per-issue order, `store::hold`) and stores its plan before its first
//! write; the weekly summary is held the same way (`write`).

mod item;
pub mod listing;
mod pages;
mod report;
mod resume;
mod scan;
mod step;
pub mod summary;
mod visits;
mod write;

pub use report::{FollowupPass, ItemPlan, SummaryOutcome, SweepOptions, SweepReport};

use crate::actions::PlannedAction;
use crate::actions::executor::Executor;
use crate::domain::{Actor, Event, EventKind, IssueState};
use crate::engine::Engine;
use crate::engine::config::{Sp, StalePolicy, Workflow};
use crate::engine::stale::{StaleStep, idle_days, stale_label};
use crate::forge::ForgeError;
use crate::worker::{Worker, WorkerSettings};
use chrono::{DateTime, Duration, Utc};
use listing::{ListQuery, Scope};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use summary::{RunCounts, WorkflowSummary};
use tokio::sync::Notify;

/// Username the sweep's tick events carry (no GitLab user; only shown in logs).
pub const SWEEP_ACTOR: &str = "labelflow-sweep";

/// Runs sweeps with one engine, store and GitLab connection.
pub struct Sweeper {
    pub engine: Arc<Engine>,
    pub executor: Executor,
}

/// Why a listing stopped: the run cannot go on.
struct Abort(String);

/// Per-run state: the ceiling's count and the keys already taken or failed this run.
struct Run<'o> {
    opts: &'o SweepOptions,
    now: DateTime<Utc>,
    day: String,
    /// This run's name on its holds.
    holder: String,
    taken_keys: HashSet<String>,
    /// What the ceiling left, each counted once however many listings met it.
    deferred_items: HashSet<String>,
    deferred_keys: HashSet<String>,
    report: SweepReport,
}

impl Sweeper {
    /// Runs one sweep. `on_item` sees each item's actions as they are taken (or, in a dry
    /// run, would be), in order.
    pub async fn run(
        &self,
        opts: &SweepOptions,
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> SweepReport {
        let now = self.executor.clock().now();
        let day = now.format("%Y-%m-%d").to_string();
        let mut run = Run {
            opts,
            now,
            day: day.clone(),
            holder: format!("sweep-{}", uuid::Uuid::new_v4().simple()),
            taken_keys: HashSet::new(),
            deferred_items: HashSet::new(),
            deferred_keys: HashSet::new(),
            report: SweepReport {
                dry_run: opts.dry_run,
                max_actions: opts.max_actions,
                day,
                ..SweepReport::default()
            },
        };
        if let Err(Abort(why)) = self.followups(&mut run).await {
            run.report.aborted = Some(why);
            return run.report;
        }
        if let Err(Abort(why)) = self.finish_half_done(&mut run, on_item).await {
            run.report.aborted = Some(why);
            return run.report;
        }
        for (wf_name, wf) in &self.engine.config.workflows {
            if (wf.stale.is_empty() && wf.sweep_visits.is_none()) || !opts.includes(wf_name) {
                continue;
            }
            if let Err(Abort(why)) = self.workflow(&mut run, wf_name, wf, on_item).await {
                run.report.aborted = Some(why);
                break;
            }
        }
        run.report.remaining_items = run.deferred_items.len();
        if !opts.dry_run {
            // For the operator page; the run itself is done, so a failure here is a warning.
            let report = serde_json::to_string(&run.report).unwrap_or_default();
            if let Err(e) = self.executor.store().sweep_run_put(&report, now).await {
                run.report
                    .warnings
                    .push(format!("the run's summary could not be stored: {e}"));
            }
        }
        run.report
    }

    /// Follow-ups that came due: promoted into the inbox and run by a worker pass (live), or
    /// counted (dry run).
    async fn followups(&self, run: &mut Run<'_>) -> Result<(), Abort> {
        let store = self.executor.store();
        if run.opts.dry_run {
            let due = store
                .list_followups(100_000)
                .await
                .map_err(|e| Abort(format!("reading follow-ups: {e}")))?
                .into_iter()
                .filter(|f| !f.fired && f.due_at <= run.now)
                .count();
            run.report.followups.due = due as u64;
            return Ok(());
        }
        run.report.followups.due = store
            .promote_due_followups(run.now)
            .await
            .map_err(|e| Abort(format!("promoting due follow-ups: {e}")))?;
        let worker = Worker {
            store: store.clone(),
            engine: Arc::new(RwLock::new(self.engine.clone())),
            executor: self.executor.clone(),
            metrics: self.executor.metrics().clone(),
            clock: self.executor.clock().clone(),
            settings: WorkerSettings {
                worker_id: format!("sweep-{}", uuid::Uuid::new_v4().simple()),
                ..WorkerSettings::default()
            },
            wake: Arc::new(Notify::new()),
        };
        run.report.followups.worker = worker.drain(100_000).await;
        Ok(())
    }

    async fn workflow(
        &self,
        run: &mut Run<'_>,
        wf_name: &str,
        wf: &Workflow,
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> Result<(), Abort> {
        let mut sum = WorkflowSummary::new(wf_name, wf.stale.iter().map(|p| p.stage.value.clone()));
        let before = run.report.counts;
        let client = self.executor.forge().client();
        for p in &wf.stale {
            let stale = stale_label(wf_name, p);
            for scope in self.scopes(wf, p) {
                if wf.sweep_summary.is_some() {
                    // Only the summary needs the count: a failure makes it "unknown" there.
                    match listing::count_open(client, &scope, std::slice::from_ref(&p.stage.value))
                        .await
                    {
                        Ok(n) => sum.add_open(&p.stage.value, n),
                        Err(ForgeError::RateLimited { retry_after }) => {
                            return Err(Abort(format!(
                                "rate limited by GitLab while counting `{}` in {scope}; retry in {}",
                                p.stage.value,
                                crate::forge::plain_duration(retry_after)
                            )));
                        }
                        Err(e) => {
                            sum.open_unknown(&p.stage.value);
                            run.report.warnings.push(format!(
                                "the open items at `{}` in {scope} could not be counted ({e}); the summary shows the count as unknown",
                                p.stage.value
                            ));
                        }
                    }
                }
                // Stale items first (close step, stale list), then the others (nudge, mark):
                // an item marked stale by this run is not visited twice.
                if p.close_after_days.is_some() || wf.sweep_summary.is_some() {
                    let mut q = base_query(p);
                    q.labels = vec![p.stage.value.clone(), stale.clone()];
                    if wf.sweep_summary.is_none() {
                        q.updated_before = p.close_after_days.map(|d| days_before(run.now, d));
                    }
                    self.scan(run, &scope, &q, wf_name, Some(p), &mut sum, on_item)
                        .await?;
                }
                let mut q = base_query(p);
                q.labels = vec![p.stage.value.clone()];
                q.not_labels.insert(0, stale.clone());
                q.updated_before = Some(days_before(run.now, p.idle_days.min(p.grace_days)));
                self.scan(run, &scope, &q, wf_name, Some(p), &mut sum, on_item)
                    .await?;
            }
        }
        if let Some(v) = &wf.sweep_visits {
            self.visits(run, wf_name, wf, v, &mut sum, on_item).await?;
        }
        let c = run.report.counts;
        sum.run = RunCounts {
            nudged: c.nudged - before.nudged,
            marked_stale: c.marked_stale - before.marked_stale,
            closed: c.closed - before.closed,
            other_actions: c.other_actions - before.other_actions,
            remaining_actions: c.remaining_actions - before.remaining_actions,
        };
        if let Some(cfg) = &wf.sweep_summary {
            let project = self
                .engine
                .project_path(&cfg.project.value)
                .unwrap_or_else(|| cfg.project.value.clone());
            let labels: Vec<String> = cfg.labels.iter().map(|l| l.value.clone()).collect();
            match self.write_summary(run, &project, &labels, &mut sum).await {
                Ok(o) => run.report.summaries.push(o),
                Err(ForgeError::RateLimited { retry_after }) => {
                    return Err(Abort(format!(
                        "rate limited while writing the summary; retry in {}",
                        crate::forge::plain_duration(retry_after)
                    )));
                }
                Err(e) => run
                    .report
                    .failures
                    .push(format!("summary of `{wf_name}` in {project}: {e}")),
            }
        }
        Ok(())
    }

    /// Where a policy looks: its projects and groups, else the workflow's projects.
    fn scopes(&self, wf: &Workflow, p: &StalePolicy) -> Vec<Scope> {
        self.scopes_of(wf, &p.projects, &p.groups)
    }

    /// `projects` and `groups` as listing scopes; neither given: the workflow's projects.
    fn scopes_of(&self, wf: &Workflow, projects: &[Sp], groups: &[Sp]) -> Vec<Scope> {
        let projects = if projects.is_empty() && groups.is_empty() {
            &wf.projects
        } else {
            projects
        };
        let mut out: Vec<Scope> = projects
            .iter()
            .map(|n| {
                Scope::Project(
                    self.engine
                        .project_path(&n.value)
                        .unwrap_or_else(|| n.value.clone()),
                )
            })
            .chain(groups.iter().map(|g| Scope::Group(g.value.clone())))
            .collect();
        out.dedup();
        out
    }
}

/// The filters every listing of a policy shares: exemptions GitLab can apply itself.
fn base_query(p: &StalePolicy) -> ListQuery {
    ListQuery {
        not_labels: p.exempt.labels.iter().map(|l| l.value.clone()).collect(),
        exclude_confidential: p.exempt.confidential,
        without_milestone: p.exempt.any_milestone,
        not_milestone: match p.exempt.milestones.as_slice() {
            [one] if !p.exempt.any_milestone => Some(one.value.clone()),
            _ => None,
        },
        ..ListQuery::default()
    }
}

/// Days a stale item has gone without human activity, at least: the quiet days that led to
/// the nudge and the mark, plus the whole days since the mark (its last update). An item this
/// run marks counts as marked today, so a second run the same day shows the same figure and
/// leaves the summary alone.
fn human_idle_days(
    issue: &IssueState,
    p: &StalePolicy,
    step: Option<StaleStep>,
    at: DateTime<Utc>,
) -> i64 {
    let since_mark = match step {
        Some(StaleStep::MarkStale) => 0,
        _ => idle_days(issue, at),
    };
    since_mark + i64::from(p.idle_days) + i64::from(p.grace_days)
}

/// Midnight UTC of `t`'s day: idle days in the summary do not change during a day, so a
/// second run the same day writes nothing.
/// `days` before `now`, or the first representable time when that is before it (validation
/// keeps a policy's days within 100 years; this keeps any value from panicking).
fn days_before(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now.checked_sub_signed(Duration::days(i64::from(days)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(t)
}

fn reference(issue: &IssueState) -> String {
    format!("{}#{}", issue.project_path, issue.iid)
}

/// The event a sweep feeds the planner for an item: a tick whose change id is the day, so
/// each item's actions have one idempotency key per day.
pub fn tick_event(issue: &IssueState, day: &str, now: DateTime<Utc>) -> Event {
    Event {
        issue: issue.key(),
        project_path: issue.project_path.clone(),
        actor: Actor {
            id: None,
            username: SWEEP_ACTOR.to_string(),
        },
        kind: EventKind::Tick { followup: None },
        labels_added: vec![],
        labels_removed: vec![],
        title_changed: false,
        description_changed: false,
        change_id: format!("sweep:{day}"),
        confidential: issue.confidential,
        occurred_at: Some(now),
        changes_unknown: false,
        labels_now: None,
        status_change: None,
    }
}

/// Whether a stale policy's step planned the action (`stale:<stage>:<step>`), as opposed to a
/// rule or the removal of sweep labels on activity.
fn is_stale_step(a: &PlannedAction) -> bool {
    a.rule.starts_with("stale:") && a.rule != "stale:activity"
}

/// Adds an item's actions to the run's counts, by the stale step that planned them.
fn count_actions(c: &mut RunCounts, actions: &[PlannedAction]) {
    let mut steps: Vec<&str> = Vec::new();
    for a in actions {
        let step = if a.rule.starts_with("stale:") {
            a.rule.rsplit(':').next().unwrap_or("")
        } else {
            ""
        };
        match step {
            "nudge" | "mark" | "close" => {
                if !steps.contains(&step) {
                    steps.push(step);
                }
            }
            _ => c.other_actions += 1,
        }
    }
    for s in steps {
        match s {
            "nudge" => c.nudged += 1,
            "mark" => c.marked_stale += 1,
            _ => c.closed += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::Action;

    fn pa(rule: &str, i: usize) -> PlannedAction {
        PlannedAction {
            key: format!("w/{rule}/1#1/sweep:2024-05-01/{i}"),
            workflow: "w".into(),
            rule: rule.into(),
            action: Action::Comment { body: "x".into() },
        }
    }

    #[test]
    fn counts_items_per_step_and_other_actions() {
        let mut c = RunCounts::default();
        count_actions(
            &mut c,
            &[
                pa("stale:cocreate::triage:nudge", 0),
                pa("stale:cocreate::triage:nudge", 1),
                pa("weekly-ping", 0),
            ],
        );
        count_actions(
            &mut c,
            &[
                pa("stale:cocreate::triage:mark", 0),
                pa("stale:cocreate::triage:mark", 1),
            ],
        );
        assert_eq!(
            c,
            RunCounts {
                nudged: 1,
                marked_stale: 1,
                closed: 0,
                other_actions: 1,
                remaining_actions: 0
            }
        );
    }
}
