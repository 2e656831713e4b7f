//! The worker: claims inbox events under leases (one issue's events in order, different issues
//! in parallel), turns them into domain events, re-reads the issue from GitLab, plans, executes
//! and records the outcome. Transient failures go back to the queue with backoff; permanent
//! ones are parked with their reason; nothing is dropped.

use crate::actions::executor::{ExecError, Executor, LoopLimit};
use crate::actions::{Decision, PlanRun, PlannedAction, plan_key};
use crate::clock::Clock;
use crate::domain::{Actor, Event, EventKind, IssueKey};
use crate::engine::trace::RuleOutcome;
use crate::engine::{self, Engine};
use crate::forge::ForgeError;
use crate::hooks;
use crate::metrics::Metrics;
use crate::store::{
    ClaimedEvent, DynStore, FOLLOWUP_DELIVERY_PREFIX, FOLLOWUP_EVENT_KIND, FollowupPayload,
    PlanSource, TraceRetention,
};
use chrono::{DateTime, Utc};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

mod old_payloads;
pub mod record;

use record::Processed;

/// The current configuration; swapped as a whole on reload.
pub type EngineHandle = Arc<RwLock<Arc<Engine>>>;

pub fn current(engine: &EngineHandle) -> Arc<Engine> {
    engine.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Worker knobs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Concurrent claim loops.
    pub concurrency: usize,
    /// How long a claim is held before another worker may take it over.
    pub lease: Duration,
    /// How often idle loops look for work another replica enqueued.
    pub poll_interval: Duration,
    /// Backoff for transient failures: base and cap.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Identifies this process's leases (host + pid + random).
    pub worker_id: String,
    /// How long decision traces (and finished plans) are kept, and how many traces.
    pub trace_retention: TraceRetention,
    /// How often they are pruned.
    pub prune_interval: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 4,
            lease: Duration::from_secs(300),
            poll_interval: Duration::from_millis(500),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            worker_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            trace_retention: TraceRetention::default(),
            prune_interval: Duration::from_secs(3600),
        }
    }
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Ignored(String),
    Retry(String, Duration),
    Parked(String),
}

impl Outcome {
    /// How the event ended, in plain words, for its stored record.
    pub fn in_words(&self) -> String {
        match self {
            Outcome::Done => "done".to_string(),
            Outcome::Ignored(why) => format!("ignored: {why}"),
            Outcome::Retry(why, _) => format!("to be retried: {why}"),
            Outcome::Parked(why) => format!("parked: {why}"),
        }
    }
}

pub struct Worker {
    pub store: DynStore,
    pub engine: EngineHandle,
    pub executor: Executor,
    pub metrics: Arc<Metrics>,
    pub clock: Clock,
    pub settings: WorkerSettings,
    pub wake: Arc<Notify>,
}

impl Worker {
    /// Runs the claim loops and the follow-up promoter until `shutdown` is cancelled; in-flight
    /// events finish first.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tasks = Vec::new();
        for n in 0..self.settings.concurrency {
            let w = self.clone();
            let s = shutdown.clone();
            tasks.push(tokio::spawn(async move { w.claim_loop(n, s).await }));
        }
        let w = self.clone();
        let s = shutdown.clone();
        tasks.push(tokio::spawn(async move { w.promote_loop(s).await }));
        let w = self.clone();
        let s = shutdown.clone();
        tasks.push(tokio::spawn(async move { w.prune_loop(s).await }));
        for t in tasks {
            let _ = t.await;
        }
    }

    async fn promote_loop(&self, shutdown: CancellationToken) {
        loop {
            match self.store.promote_due_followups(self.clock.now()).await {
                Ok(n) if n > 0 => {
                    tracing::info!(count = n, "follow-ups came due");
                    self.wake.notify_waiters();
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "promoting follow-ups failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Prunes decision traces and finished plans past their retention, at start and then
    /// every `prune_interval`.
    async fn prune_loop(&self, shutdown: CancellationToken) {
        loop {
            match self
                .store
                .prune_traces(self.settings.trace_retention, self.clock.now())
                .await
            {
                Ok(p) if p.traces + p.plans > 0 => {
                    tracing::info!(traces = p.traces, plans = p.plans, "pruned old records")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning old traces failed; will try again"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.prune_interval) => {}
            }
        }
    }

    async fn claim_loop(&self, n: usize, shutdown: CancellationToken) {
        // Each loop is its own lease owner, so a lease taken over between two loops of one
        // process is still detected (`LeaseLost`).
        let worker_id = loop_worker_id(&self.settings.worker_id, n);
        while !shutdown.is_cancelled() {
            let claimed = match self
                .store
                .claim(&worker_id, self.settings.lease, self.clock.now())
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "claiming from the inbox failed");
                    None
                }
            };
            let Some(ev) = claimed else {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.settings.poll_interval) => {}
                }
                continue;
            };
            let span = tracing::info_span!(
                "event",
                event_id = ev.id,
                delivery = %ev.delivery_id,
                kind = %ev.event_kind,
                issue = %ev.issue_key,
                attempt = ev.attempts,
                project = tracing::field::Empty,
                rule = tracing::field::Empty,
            );
            let budget = processing_budget(self.settings.lease);
            let (outcome, processed) = match tokio::time::timeout(
                budget,
                self.process_with_rules(&ev).instrument(span.clone()),
            )
            .await
            {
                Ok(done) => done,
                // Cut off before the lease runs out: past it another worker (another
                // replica) may take the event over, and two holders would both act on it.
                // The retry is a recovering attempt, so what this one did is looked up, not
                // redone.
                Err(_) => (
                    Outcome::Retry(
                        format!(
                            "processing took longer than {} ms (4/5 of the {} s lease); cut off \
                             to retry (raise --lease-seconds if GitLab is this slow)",
                            budget.as_millis(),
                            self.settings.lease.as_secs_f64()
                        ),
                        self.backoff(ev.attempts),
                    ),
                    Processed::default(),
                ),
            };
            self.record(&ev, &worker_id, outcome, processed)
                .instrument(span)
                .await;
        }
    }

    async fn record(
        &self,
        ev: &ClaimedEvent,
        worker_id: &str,
        outcome: Outcome,
        processed: Processed,
    ) {
        let rules = &processed.rules;
        let now = self.clock.now();
        let r = match &outcome {
            Outcome::Done | Outcome::Ignored(_) => self.store.complete(ev.id, worker_id, now).await,
            Outcome::Retry(reason, after) => {
                let at = now + chrono::Duration::from_std(*after).unwrap_or_default();
                self.store
                    .retry_later(ev.id, worker_id, at, reason, now)
                    .await
            }
            Outcome::Parked(reason) => self.store.park(ev.id, worker_id, reason, now).await,
        };
        let label = match &outcome {
            Outcome::Done => "done",
            Outcome::Ignored(_) => "ignored",
            Outcome::Retry(..) => "retry",
            Outcome::Parked(_) => "parked",
        };
        self.metrics.event(label);
        if label != "ignored" {
            for (workflow, rule) in rules {
                self.metrics.rule_event(workflow, rule, label);
            }
        }
        match (&outcome, r) {
            (_, Err(e)) => {
                tracing::warn!(error = %e, "could not record the outcome (lease lost?); another worker will redo it")
            }
            (Outcome::Done, _) => tracing::info!("event processed"),
            (Outcome::Ignored(why), _) => tracing::debug!(%why, "event ignored"),
            (Outcome::Retry(why, after), _) => {
                tracing::warn!(%why, retry_in_ms = after.as_millis() as u64, "event will be retried")
            }
            (Outcome::Parked(why), _) => tracing::error!(%why, "event parked"),
        }
        record::keep(
            &self.store,
            &self.metrics,
            ev,
            label,
            outcome.in_words(),
            processed,
            now,
        )
        .await;
    }

    fn backoff(&self, attempts: i64) -> Duration {
        let exp = self
            .settings
            .retry_base
            .saturating_mul(1u32 << (attempts.clamp(1, 16) - 1) as u32)
            .min(self.settings.retry_max);
        // Full jitter in [exp/2, exp].
        let ms = exp.as_millis().max(2) as u64;
        Duration::from_millis(rand::Rng::random_range(&mut rand::rng(), ms / 2..=ms))
    }

    /// Processes one claimed event.
    pub async fn process(&self, ev: &ClaimedEvent) -> Outcome {
        self.process_with_rules(ev).await.0
    }

    /// Processes one claimed event; also returns what it saw and planned (the trace, the
    /// rules for per-rule metrics), and records project and rules on the current span.
    async fn process_with_rules(&self, ev: &ClaimedEvent) -> (Outcome, Processed) {
        let mut processed = Processed::default();
        let mut detail = None;
        let outcome = self.process_inner(ev, &mut processed, &mut detail).await;
        if let Some(d) = detail {
            tracing::warn!(detail = %d, "event note");
            if let Err(e) = self.store.set_event_detail(ev.id, &d).await {
                tracing::warn!(error = %e, "could not record the event's detail");
            }
        }
        (outcome, processed)
    }

    async fn process_inner(
        &self,
        ev: &ClaimedEvent,
        processed: &mut Processed,
        detail: &mut Option<String>,
    ) -> Outcome {
        let engine = current(&self.engine);
        let mut event = match decode(ev) {
            Ok(Some(e)) => e,
            Ok(None) => return Outcome::Ignored("not an issue event".into()),
            Err(e) => return Outcome::Parked(format!("cannot decode the stored payload: {e}")),
        };
        match old_payloads::reconcile_labels(&self.store, &mut event, self.clock.now()).await {
            Ok(note) => *detail = note,
            Err(e) => return Outcome::Retry(format!("store: {e}"), self.backoff(ev.attempts)),
        }
        tracing::Span::current().record("project", event.project_path.as_str());
        processed.issue_ref = format!("{}#{}", event.project_path, event.issue.iid);
        if event.actor.username.eq_ignore_ascii_case(engine.bot())
            && !engine::planner::reacts_to_own_change(&engine, &event)
        {
            return Outcome::Ignored("caused by the bot itself".into());
        }
        if !may_matter(&event, &engine) {
            return Outcome::Ignored("no workflow-relevant change".into());
        }
        let issue = match self
            .executor
            .forge()
            .get_item(
                event.issue.project_id,
                event.issue.iid,
                engine::statuses::reads_work_items(&engine.config),
            )
            .await
        {
            Ok(i) => i,
            Err(e) => return self.forge_outcome(ev, e),
        };
        // Payloads before GitLab 8.x have no `project` object: the issue names its project.
        if event.project_path.is_empty() {
            event.project_path = issue.project_path.clone();
            tracing::Span::current().record("project", event.project_path.as_str());
        }
        processed.issue_ref = format!("{}#{}", issue.project_path, issue.iid);
        processed.issue_url = issue.web_url.clone();
        processed.issue_title = issue.title.clone();
        let history = match record::history(&self.store, &engine, &event, &issue).await {
            Ok(h) => h,
            Err(e) => return Outcome::Retry(format!("store: {e}"), self.backoff(ev.attempts)),
        };
        let plan =
            match engine::plan_with_history(&engine, &event, &issue, self.clock.now(), &history) {
                Ok(p) => p,
                Err(e) => return Outcome::Parked(format!("configuration problem: {e}")),
            };
        processed.trace = Some(plan.trace.clone());
        // Decided once: a retry finishes what an earlier try started, and a second delivery
        // of a change already handled does nothing.
        let run = PlanRun {
            plan_key: plan_key(&event, ev.id),
            issue_key: event.issue.to_string(),
            source: PlanSource::Event,
            event_id: Some(ev.id),
        };
        let remember_empty = matches!(event.kind, EventKind::Comment { .. });
        let decision = match self
            .executor
            .decide_once(&run, plan.actions, remember_empty)
            .await
        {
            Ok(d) => d,
            Err(e) => return self.exec_outcome(ev, e),
        };
        let resumed = match &decision {
            Decision::AlreadyHandled { event_id } => {
                let by = event_id
                    .filter(|id| *id != ev.id)
                    .map(|id| format!(" by event {id}"))
                    .unwrap_or_default();
                let why = format!("this change was already handled{by}; nothing done again");
                *detail = Some(why.clone());
                return Outcome::Ignored(why);
            }
            Decision::Resumed(_) => {
                tracing::info!("finishing the plan an earlier try started");
                true
            }
            Decision::Fresh(_) => false,
        };
        let actions = decision.actions();
        processed.actions = actions.to_vec();
        processed.rules = plan_rules(actions);
        if let Some(trace) = processed.trace.as_mut().filter(|_| !resumed)
            && let Err(e) =
                record::note_once_done(&self.store, trace, actions, &issue.key().to_string()).await
        {
            tracing::warn!(error = %e, "could not look up the ledger for once rules");
        }
        if !processed.rules.is_empty() {
            let names: Vec<String> = processed
                .rules
                .iter()
                .map(|(w, r)| format!("{w}/{r}"))
                .collect();
            tracing::Span::current().record("rule", names.join(",").as_str());
        }
        if actions.is_empty() {
            // A remembered empty plan is finished too: a second delivery then says nothing.
            if remember_empty && let Err(e) = self.executor.finish_plan(&run).await {
                return self.exec_outcome(ev, e);
            }
            return Outcome::Done;
        }
        let limit = LoopLimit {
            max_actions: engine.config.bot.loop_guard.max_actions,
            window_minutes: engine.config.bot.loop_guard.window_minutes,
        };
        let recovering = ev.attempts > 1 || resumed;
        let executed = self
            .executor
            .execute(actions, &issue, recovering, limit)
            .await;
        if let (Err(e @ ExecError::LoopGuard { .. }), Some(trace)) =
            (&executed, processed.trace.as_mut())
        {
            for (workflow, rule) in &processed.rules {
                trace.set_outcome(workflow, rule, RuleOutcome::LoopGuard, e.to_string());
            }
        }
        match executed.map_err(|e| self.exec_outcome(ev, e)) {
            Ok(mut report) => {
                processed.ledger = std::mem::take(&mut report.ledger);
                if let Err(e) = self.executor.finish_plan(&run).await {
                    return self.exec_outcome(ev, e);
                }
                tracing::info!(
                    executed = report.executed,
                    skipped = report.skipped,
                    "actions done"
                );
                Outcome::Done
            }
            Err(outcome) => outcome,
        }
    }

    fn exec_outcome(&self, ev: &ClaimedEvent, e: ExecError) -> Outcome {
        match e {
            ExecError::Forge(e) => self.forge_outcome(ev, e),
            e @ ExecError::LoopGuard { .. } => Outcome::Parked(e.to_string()),
            ExecError::Store(e) => Outcome::Retry(format!("store: {e}"), self.backoff(ev.attempts)),
            e @ (ExecError::Chat(_) | ExecError::ClaUnknown(_) | ExecError::Plan(_)) => {
                Outcome::Retry(e.to_string(), self.backoff(ev.attempts))
            }
        }
    }

    fn forge_outcome(&self, ev: &ClaimedEvent, e: ForgeError) -> Outcome {
        match e {
            ForgeError::RateLimited { retry_after } => {
                Outcome::Retry(e.to_string(), retry_after.max(Duration::from_secs(1)))
            }
            ForgeError::Transient(_) => Outcome::Retry(e.to_string(), self.backoff(ev.attempts)),
            ForgeError::Permanent { .. } | ForgeError::NotFound(_) => {
                Outcome::Parked(e.to_string())
            }
        }
    }
}

/// The distinct (workflow, rule) pairs of a plan's actions, in plan order.
fn plan_rules(actions: &[PlannedAction]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for a in actions {
        if !out.iter().any(|(w, r)| *w == a.workflow && *r == a.rule) {
            out.push((a.workflow.clone(), a.rule.clone()));
        }
    }
    out
}

/// How long one event may take: 4/5 of the lease, leaving the rest to record the outcome
/// before the lease ends.
pub fn processing_budget(lease: Duration) -> Duration {
    lease.saturating_sub(lease / 5)
}

/// What a [`Worker::drain`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainReport {
    pub done: usize,
    pub ignored: usize,
    pub retry: usize,
    pub parked: usize,
}

impl Worker {
    /// Processes every event claimable now, one at a time, through the same code as the claim
    /// loops, then returns (at most `max_events`). `labelflow sweep` uses it to run the
    /// follow-ups that came due; events retried later stay queued for the service.
    pub async fn drain(&self, max_events: usize) -> DrainReport {
        let worker_id = loop_worker_id(&self.settings.worker_id, 0);
        let mut report = DrainReport::default();
        for _ in 0..max_events {
            let claimed = match self
                .store
                .claim(&worker_id, self.settings.lease, self.clock.now())
                .await
            {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "claiming from the inbox failed");
                    break;
                }
            };
            let (outcome, processed) = self.process_with_rules(&claimed).await;
            match &outcome {
                Outcome::Done => report.done += 1,
                Outcome::Ignored(_) => report.ignored += 1,
                Outcome::Retry(..) => report.retry += 1,
                Outcome::Parked(_) => report.parked += 1,
            }
            self.record(&claimed, &worker_id, outcome, processed).await;
        }
        report
    }
}

/// The lease owner id of claim loop `n` of a process.
pub fn loop_worker_id(process_id: &str, n: usize) -> String {
    format!("{process_id}-{n}")
}

/// Could any rule care about this event? Saves the GitLab round trip for edits that change
/// nothing workflows look at. Any comment matters while a workflow has stale policies: a
/// person's comment removes the sweep's labels.
fn may_matter(e: &Event, engine: &Engine) -> bool {
    let bot = engine.bot();
    match &e.kind {
        EventKind::Opened | EventKind::Closed | EventKind::Reopened | EventKind::Tick { .. } => {
            true
        }
        EventKind::Updated => {
            e.changes_unknown
                || !e.labels_added.is_empty()
                || !e.labels_removed.is_empty()
                || e.description_changed
                || e.title_changed
                || e.status_change.is_some()
        }
        EventKind::Comment { body, .. } => {
            !engine::command::parse_commands(body, bot).is_empty()
                || engine
                    .config
                    .workflows
                    .values()
                    .any(|wf| !wf.stale.is_empty())
        }
    }
}

/// Turns a stored inbox event back into a domain event (`None`: nothing for workflows).
pub fn decode(ev: &ClaimedEvent) -> Result<Option<Event>, String> {
    if ev.event_kind == FOLLOWUP_EVENT_KIND {
        let p: FollowupPayload = serde_json::from_str(&ev.payload).map_err(|e| e.to_string())?;
        return Ok(Some(followup_event(&p, ev.received_at)));
    }
    match hooks::parse(Some(&ev.event_kind), ev.payload.as_bytes()) {
        Ok(Some(h)) => Ok(Some(hooks::normalise(&h))),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn followup_event(p: &FollowupPayload, at: DateTime<Utc>) -> Event {
    Event {
        issue: IssueKey {
            project_id: p.project_id,
            iid: p.iid,
        },
        project_path: p.project_path.clone(),
        actor: Actor {
            id: None,
            username: "labelflow-scheduler".to_string(),
        },
        kind: EventKind::Tick {
            followup: Some(p.followup.clone()),
        },
        labels_added: vec![],
        labels_removed: vec![],
        title_changed: false,
        description_changed: false,
        change_id: format!("{FOLLOWUP_DELIVERY_PREFIX}{}", p.key),
        confidential: false,
        occurred_at: Some(at),
        changes_unknown: false,
        labels_now: None,
        status_change: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_gets_four_fifths_of_its_lease() {
        assert_eq!(
            processing_budget(Duration::from_secs(300)),
            Duration::from_secs(240)
        );
        assert_eq!(
            processing_budget(Duration::from_secs(2)),
            Duration::from_millis(1600)
        );
    }
}
