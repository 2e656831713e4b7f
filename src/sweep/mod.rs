//! `labelflow sweep`: the scheduled pass over stale items (DESIGN §1.6).
//!
//! For each workflow's `stale:` policies it lists the stage's open items with GitLab's own
//! filters (keyset pages of 100, streamed), hands each item to the same planner as live
//! webhooks as a `Tick`, and runs what it plans through the same executor (ledger, markers),
//! under a ceiling of actions per run. Follow-ups that came due run first, through the
//! worker's own code. A dry run does everything but the writes and reports the same actions.
//!
//! Nothing is remembered between runs except what GitLab shows (labels, the bot's marked
//! comments, the summary issue) and the action ledger: a run that stops at the ceiling simply
//! leaves the rest due, and the next run finds it again.

pub mod listing;
pub mod summary;
mod visits;

use crate::actions::executor::{ExecError, Executor, LoopLimit};
use crate::actions::{PlannedAction, marker_id};
use crate::domain::{Actor, Event, EventKind, IssueState};
use crate::engine::config::{Sp, StalePolicy, Workflow};
use crate::engine::stale::{StaleStep, due_step, exempt_by_milestone, idle_days, stale_label};
use crate::engine::{self, Engine};
use crate::forge::ForgeError;
use crate::forge::gitlab::issue_from_value;
use crate::worker::{DrainReport, Worker, WorkerSettings};
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use gitlab::api::Pagination;
use listing::{IssueListing, ListQuery, PAGE_SIZE, Scope};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use summary::{RunCounts, StaleRow, WorkflowSummary};
use tokio::sync::Notify;

/// Username the sweep's tick events carry (no GitLab user; only shown in logs).
pub const SWEEP_ACTOR: &str = "labelflow-sweep";

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Plan and report, write nothing (the store is only read).
    pub dry_run: bool,
    /// Ceiling on actions per run (items are never split: an item whose actions do not fit
    /// waits for the next run).
    pub max_actions: usize,
    /// Only these workflows; empty = every workflow with stale policies.
    pub workflows: Vec<String>,
}

/// What happened to a workflow's summary issue.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryOutcome {
    pub workflow: String,
    /// `created`, `updated` or `unchanged` (dry run: what would happen).
    pub outcome: String,
    pub title: String,
    pub web_url: Option<String>,
    /// The description written (or that would be).
    pub body: String,
}

/// Follow-ups that came due.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FollowupPass {
    /// Moved into the inbox (dry run: due and not yet fired).
    pub due: u64,
    /// Inbox events the worker pass handled (none in a dry run).
    pub worker: DrainReport,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub dry_run: bool,
    pub max_actions: usize,
    /// Day of the run (UTC): part of every action's idempotency key.
    pub day: String,
    pub items_seen: u64,
    pub items_exempt: u64,
    /// Actions taken (dry run: that would be taken).
    pub actions: usize,
    pub counts: RunCounts,
    /// Items with actions the ceiling left for the next run.
    pub remaining_items: usize,
    pub ceiling_reached: bool,
    pub followups: FollowupPass,
    pub summaries: Vec<SummaryOutcome>,
    /// Items that failed (the run went on with the others).
    pub failures: Vec<String>,
    /// Why the run stopped early, if it did (rate limited for too long, GitLab down).
    pub aborted: Option<String>,
}

impl SweepReport {
    /// Whether the run should fail its CI job: something went wrong, not merely "more to do".
    pub fn failed(&self) -> bool {
        self.aborted.is_some() || !self.failures.is_empty()
    }
}

/// One item's planned actions, as the sweep hands them to its caller (printed by the CLI).
pub struct ItemPlan<'a> {
    pub issue: &'a IssueState,
    pub actions: &'a [PlannedAction],
}

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
    taken_keys: HashSet<String>,
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
        let now = self.executor.clock.now();
        let day = now.format("%Y-%m-%d").to_string();
        let mut run = Run {
            opts,
            now,
            day: day.clone(),
            taken_keys: HashSet::new(),
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
        for (wf_name, wf) in &self.engine.config.workflows {
            if (wf.stale.is_empty() && wf.sweep_visits.is_none())
                || !(opts.workflows.is_empty() || opts.workflows.iter().any(|w| w == wf_name))
            {
                continue;
            }
            if let Err(Abort(why)) = self.workflow(&mut run, wf_name, wf, on_item).await {
                run.report.aborted = Some(why);
                break;
            }
        }
        run.report
    }

    /// Follow-ups that came due: promoted into the inbox and run by a worker pass (live), or
    /// counted (dry run).
    async fn followups(&self, run: &mut Run<'_>) -> Result<(), Abort> {
        let store = &self.executor.store;
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
            metrics: self.executor.metrics.clone(),
            clock: self.executor.clock.clone(),
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
        let client = self.executor.forge.client();
        for p in &wf.stale {
            let stale = stale_label(wf_name, p);
            for scope in self.scopes(wf, p) {
                if wf.sweep_summary.is_some() {
                    let n =
                        listing::count_open(client, &scope, std::slice::from_ref(&p.stage.value))
                            .await
                            .map_err(|e| {
                                Abort(format!("counting `{}` in {scope}: {e}", p.stage.value))
                            })?;
                    sum.add_open(&p.stage.value, n);
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
                        "rate limited while writing the summary; retry in {retry_after:?}"
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

    /// Streams one listing, planning and (within the ceiling) executing each item. `p` is the
    /// stale policy the listing serves; `None` for a visit listing.
    #[allow(clippy::too_many_arguments)]
    async fn scan(
        &self,
        run: &mut Run<'_>,
        scope: &Scope,
        q: &ListQuery,
        wf_name: &str,
        p: Option<&StalePolicy>,
        sum: &mut WorkflowSummary,
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> Result<(), Abort> {
        let client = self.executor.forge.client();
        let endpoint =
            IssueListing::new(scope, q).map_err(|e| Abort(format!("listing {scope}: {e}")))?;
        let paged = gitlab::api::paged(endpoint, Pagination::AllPerPageLimit(PAGE_SIZE));
        let mut items = std::pin::pin!(paged.iter_async::<_, Value>(client));
        while let Some(item) = items.next().await {
            let value = item.map_err(|e| {
                Abort(format!(
                    "listing `{}` in {scope}: {}",
                    q.labels.join("`, `"),
                    ForgeError::from(e)
                ))
            })?;
            self.item(run, value, wf_name, p, sum, on_item).await?;
        }
        Ok(())
    }

    async fn item(
        &self,
        run: &mut Run<'_>,
        value: Value,
        wf_name: &str,
        p: Option<&StalePolicy>,
        sum: &mut WorkflowSummary,
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> Result<(), Abort> {
        let milestone = value["milestone"]["title"].as_str().map(str::to_string);
        let issue = match issue_from_value(value) {
            Ok(i) => i,
            Err(e) => {
                run.report
                    .failures
                    .push(format!("an issue GitLab listed could not be read: {e}"));
                return Ok(());
            }
        };
        run.report.items_seen += 1;
        if p.is_some_and(|p| exempt_by_milestone(p, milestone.as_deref())) {
            run.report.items_exempt += 1;
            return Ok(());
        }
        let step = p.and_then(|p| due_step(wf_name, p, &issue, run.now));
        let event = tick_event(&issue, &run.day, run.now);
        let plan = match engine::plan(&self.engine, &event, &issue, run.now) {
            Ok(plan) => plan,
            Err(e) => {
                run.report
                    .failures
                    .push(format!("{}: configuration problem: {e}", reference(&issue)));
                return Ok(());
            }
        };
        let mut pending: Vec<PlannedAction> = Vec::new();
        for a in plan.actions {
            // A visit leaves the stale steps to the policies' listings, which visit every
            // item due for one and know the exemptions the planner cannot see (milestones).
            if run.taken_keys.contains(&a.key) || (p.is_none() && is_stale_step(&a)) {
                continue;
            }
            match self.executor.store.ledger_get(&a.key).await {
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
                sum.add_stale(StaleRow {
                    reference: reference(&issue),
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
                    idle_days: human_idle_days(&issue, p, step, day_start(run.now)),
                });
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if !fits {
            run.report.ceiling_reached = true;
            run.report.remaining_items += 1;
            run.report.counts.remaining_actions += pending.len();
            return Ok(());
        }
        on_item(ItemPlan {
            issue: &issue,
            actions: &pending,
        });
        if !run.opts.dry_run {
            let limit = LoopLimit {
                max_actions: self.engine.config.bot.loop_guard.max_actions,
                window_minutes: self.engine.config.bot.loop_guard.window_minutes,
            };
            match self.executor.execute(&pending, &issue, false, limit).await {
                Ok(_) => {}
                Err(ExecError::Forge(ForgeError::RateLimited { retry_after })) => {
                    return Err(Abort(format!(
                        "rate limited by GitLab at {}; retry in {retry_after:?}",
                        reference(&issue)
                    )));
                }
                Err(e) => {
                    run.report
                        .failures
                        .push(format!("{}: {e}", reference(&issue)));
                    // Once per run: a later listing that meets the item again (a visit label
                    // its failure just set) does not retry it.
                    run.taken_keys.extend(pending.iter().map(|a| a.key.clone()));
                    return Ok(());
                }
            }
        }
        let outcome = if run.opts.dry_run { "dry_run" } else { "done" };
        for a in &pending {
            self.executor
                .metrics
                .sweep_action(&a.workflow, &a.rule, a.action.kind(), outcome);
        }
        count_actions(&mut run.report.counts, &pending);
        run.report.actions += pending.len();
        run.taken_keys.extend(pending.iter().map(|a| a.key.clone()));
        Ok(())
    }

    async fn write_summary(
        &self,
        run: &Run<'_>,
        project: &str,
        labels: &[String],
        sum: &mut WorkflowSummary,
    ) -> Result<SummaryOutcome, ForgeError> {
        let forge = &self.executor.forge;
        let key = summary::summary_key(&sum.workflow, run.now);
        let mid = marker_id(&key);
        let existing = summary::find(forge, project, &mid).await?;
        let mut runs = existing
            .as_ref()
            .and_then(|e| e.description.as_deref())
            .map(summary::parse_run_rows)
            .unwrap_or_default();
        if !sum.run.is_empty() {
            runs.push(summary::run_row(run.now, &sum.run));
        }
        let body = sum.render(day_start(run.now), &runs);
        let title = sum.title(run.now);
        let (outcome, web_url) = match &existing {
            Some(e) if summary::unchanged(e, &body, &mid) => ("unchanged", Some(e.web_url.clone())),
            Some(e) => {
                if !run.opts.dry_run {
                    summary::update(forge, e, &body, &mid).await?;
                }
                ("updated", Some(e.web_url.clone()))
            }
            None if run.opts.dry_run => ("created", None),
            None => {
                let c = summary::create(forge, project, &title, &body, &mid, labels).await?;
                ("created", Some(c.web_url))
            }
        };
        Ok(SummaryOutcome {
            workflow: sum.workflow.clone(),
            outcome: outcome.to_string(),
            title,
            web_url,
            body,
        })
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
