//! Durable state: the webhook inbox (dedupe, leases, per-issue order, retry, parking), the
//! action ledger, and delayed follow-ups. One interface, two backends: SQLite (embedded
//! default) and PostgreSQL (shared by several replicas).
//!
//! All timestamps cross this interface as `DateTime<Utc>` and are stored as Unix milliseconds
//! (`BIGINT`) in both backends, so the SQL stays the same shape on both.

mod error;
mod hold;
mod migrations;
pub mod postgres;
mod rows;
mod shared;
pub mod sqlite;
mod target;
mod trace_types;
mod traces;
mod writes;

pub use error::{StoreError, StoreResult};
pub use hold::SWEEP_HOLD_KIND;
pub use target::DatabaseTarget;
pub use trace_types::{
    EventFilter, LedgerEntry, PendingFollowup, Pruned, StoredTrace, TraceRetention,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// A webhook delivery accepted by ingest, about to be made durable.
#[derive(Debug, Clone)]
pub struct NewInboxEvent {
    /// `webhook-id` / `Idempotency-Key`, or `sha256:<hex of body>` when GitLab sent neither.
    /// Unique: a second append with the same id is a duplicate.
    pub delivery_id: String,
    /// The event kind (`X-Gitlab-Event` header, e.g. `Issue Hook`, `Note Hook`, or an internal
    /// kind such as `Followup`).
    pub event_kind: String,
    /// Ordering key, `IssueKey`'s string form (`"14#23"`).
    pub issue_key: String,
    /// Raw JSON body as received.
    pub payload: String,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// Stored under this inbox id.
    Accepted(i64),
    /// A delivery with the same id was already stored (under this id).
    Duplicate(i64),
}

/// Lifecycle of an inbox event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Waiting (possibly until `available_at`, after a retryable failure).
    Pending,
    /// Leased by a worker until `lease_until`.
    Running,
    Done,
    /// Failed permanently; kept with its reason until an operator retries it.
    Parked,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Running => "running",
            EventStatus::Done => "done",
            EventStatus::Parked => "parked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => EventStatus::Pending,
            "running" => EventStatus::Running,
            "done" => EventStatus::Done,
            "parked" => EventStatus::Parked,
            _ => return None,
        })
    }
}

/// An event handed to a worker under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    pub id: i64,
    pub delivery_id: String,
    pub event_kind: String,
    pub issue_key: String,
    pub payload: String,
    /// Attempts so far, including this one.
    pub attempts: i64,
    pub received_at: DateTime<Utc>,
}

/// An inbox row as listed by `labelflow events list`.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub id: i64,
    pub delivery_id: String,
    pub event_kind: String,
    pub issue_key: String,
    pub status: EventStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How the event ended, in plain words, when that needs saying (for example that an old
    /// payload's change could not be known, or that it repeated a change already handled).
    pub detail: Option<String>,
}

/// Where a stored plan came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanSource {
    /// A webhook delivery or a due follow-up (an inbox event).
    Event,
    /// A sweep's visit of an item.
    Sweep,
}

impl PlanSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanSource::Event => "event",
            PlanSource::Sweep => "sweep",
        }
    }
}

/// A plan to store before its first action runs.
#[derive(Debug, Clone)]
pub struct NewPlan {
    /// The change's identity: one plan per key, ever.
    pub plan_key: String,
    pub issue_key: String,
    pub source: PlanSource,
    /// The inbox event that decided it (none for sweeps).
    pub event_id: Option<i64>,
    /// JSON array of the planned actions.
    pub actions: String,
}

/// A plan as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredPlan {
    pub plan_key: String,
    pub issue_key: String,
    pub event_id: Option<i64>,
    pub actions: String,
    pub created_at: DateTime<Utc>,
    pub finished: bool,
}

/// Queue depth figures for `/metrics` and `/readyz`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueStats {
    pub pending: i64,
    pub running: i64,
    pub parked: i64,
    pub done: i64,
    pub oldest_pending_received_at: Option<DateTime<Utc>>,
}

/// The inbox `event_kind` of a follow-up that came due.
pub const FOLLOWUP_EVENT_KIND: &str = "Followup";
/// A due follow-up's inbox `delivery_id` is this prefix and its key (so it fires once).
pub const FOLLOWUP_DELIVERY_PREFIX: &str = "followup:";

/// A delayed follow-up ("remind the PM in 5 days"). When due it is turned into an inbox event
/// ([`FOLLOWUP_EVENT_KIND`], delivery id [`FOLLOWUP_DELIVERY_PREFIX`] + key), so it goes
/// through the same per-issue order, retries and parking as webhooks, and fires once even with
/// several replicas.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewFollowup {
    /// Unique; scheduling the same key twice keeps the first.
    pub key: String,
    pub issue_key: String,
    pub due_at: DateTime<Utc>,
    /// What the worker gets back as the inbox event's payload.
    pub payload: FollowupPayload,
}

/// The payload of a follow-up: written by the executor, stored as JSON, read by the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupPayload {
    /// The follow-up's name (`buy-in-reminder`).
    pub followup: String,
    pub project_id: u64,
    pub iid: u64,
    #[serde(default)]
    pub project_path: String,
    /// The scheduling action's idempotency key.
    pub key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FollowupRecord {
    pub key: String,
    pub issue_key: String,
    /// `workflow/name`, and the issue as `group/project#iid`, from the stored payload.
    pub name: String,
    pub issue_ref: String,
    pub due_at: DateTime<Utc>,
    pub fired: bool,
}

/// An inbox event with its stored record, when it has one.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub event: EventRecord,
    pub issue_ref: Option<String>,
    pub body: Option<String>,
}

/// The store interface. Every method is one short transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates tables on first start and applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;

    /// Cheap check that the database answers and migrations are applied (for `/readyz`).
    async fn ready(&self) -> StoreResult<()>;

    /// Durably appends a delivery; returns once committed. Duplicate `delivery_id` → `Duplicate`.
    async fn enqueue(&self, event: NewInboxEvent) -> StoreResult<EnqueueOutcome>;

    /// Claims the next event a worker may process, leasing it to `worker_id` until
    /// `now + lease`. Only the oldest unfinished (pending or running) event of each issue key
    /// is claimable, so events of one issue run one at a time and in arrival order; a running
    /// event whose lease expired is claimable again (a crashed worker's work is taken over).
    /// Pending events wait until their `available_at`. Parked and done events never block.
    async fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ClaimedEvent>>;

    /// Marks a claimed event done. `LeaseLost` if another worker took it over meanwhile.
    async fn complete(&self, id: i64, worker_id: &str, now: DateTime<Utc>) -> StoreResult<()>;

    /// Puts a claimed event back to pending until `retry_at`, recording `error`. The event keeps
    /// its place at the head of its issue's queue.
    async fn retry_later(
        &self,
        id: i64,
        worker_id: &str,
        retry_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Parks a claimed event with its reason (permanent failure). Later events of the same
    /// issue proceed.
    async fn park(
        &self,
        id: i64,
        worker_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Releases every lease held by `worker_id` back to pending (graceful shutdown). The
    /// interrupted attempt stays counted (`attempts > 1` tells the next one to check before
    /// creating).
    async fn release_leases(&self, worker_id: &str, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Lists events, newest first, optionally filtered by status.
    async fn list_events(
        &self,
        status: Option<EventStatus>,
        limit: i64,
    ) -> StoreResult<Vec<EventRecord>>;

    async fn get_event(&self, id: i64) -> StoreResult<Option<EventRecord>>;

    /// Moves a parked event back to pending (attempts reset). False if it is not parked.
    async fn retry_parked(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool>;

    async fn queue_stats(&self) -> StoreResult<QueueStats>;

    /// The recorded result of an action, if its idempotency key was already executed.
    async fn ledger_get(&self, key: &str) -> StoreResult<Option<String>>;

    /// Records an executed action (idempotency key → result JSON) for an issue. Recording an
    /// existing key again is not an error and keeps the first result.
    async fn ledger_put(
        &self,
        key: &str,
        issue_key: &str,
        result: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// How many actions were recorded for `issue_key` at or after `since` (the loop guard).
    async fn actions_since(&self, issue_key: &str, since: DateTime<Utc>) -> StoreResult<i64>;

    /// Schedules a follow-up; false if the key already exists (fired or not).
    async fn schedule_followup(&self, followup: NewFollowup) -> StoreResult<bool>;

    /// Moves every follow-up due at `now` into the inbox (one transaction: insert the inbox
    /// event, mark the follow-up fired). Safe to call from several replicas at once: each fires
    /// exactly once. Returns how many were moved.
    async fn promote_due_followups(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    async fn list_followups(&self, limit: i64) -> StoreResult<Vec<FollowupRecord>>;

    /// The plan stored under `plan_key`, if any.
    async fn plan_get(&self, plan_key: &str) -> StoreResult<Option<StoredPlan>>;

    /// Stores a plan unless one with its key exists; true if this call stored it. Callers
    /// then execute whatever plan is stored, so two racing deciders run one plan.
    async fn plan_put(&self, plan: NewPlan, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Replaces the actions of an unfinished plan (allowed only while none of them ran; the
    /// caller checks the ledger). False if there is no such unfinished plan.
    async fn plan_replace(
        &self,
        plan_key: &str,
        actions: &str,
        event_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Marks a plan finished: every action is in the ledger.
    async fn plan_finish(&self, plan_key: &str, now: DateTime<Utc>) -> StoreResult<()>;

    /// Unfinished plans of a source, oldest first (a sweep finishes its half-done steps).
    async fn unfinished_plans(
        &self,
        source: PlanSource,
        limit: i64,
    ) -> StoreResult<Vec<StoredPlan>>;

    /// The labels labelflow last saw on an issue (JSON array), if it saw the issue before.
    async fn snapshot_get(&self, issue_key: &str) -> StoreResult<Option<String>>;

    /// Records the labels just read from GitLab for an issue.
    async fn snapshot_put(
        &self,
        issue_key: &str,
        labels: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Sets an event's plain-words detail (how it ended), whatever its status.
    async fn set_event_detail(&self, id: i64, detail: &str) -> StoreResult<()>;

    /// Stores the decision trace of an event, replacing an earlier try's.
    async fn trace_put(&self, trace: StoredTrace) -> StoreResult<()>;

    /// The trace of one event, if kept.
    async fn trace_get(&self, event_id: i64) -> StoreResult<Option<StoredTrace>>;

    /// The newest `newest` traces of one issue (`group/project#iid`), oldest first.
    async fn traces_for_issue(&self, issue_ref: &str, newest: i64)
    -> StoreResult<Vec<StoredTrace>>;

    /// Deletes traces past their retention (age, then count) and finished plans older than
    /// the retention age.
    async fn prune_traces(
        &self,
        retention: TraceRetention,
        now: DateTime<Utc>,
    ) -> StoreResult<Pruned>;

    /// When a ledger key was recorded, and by which event's plan.
    async fn ledger_entry(&self, issue_key: &str, key: &str) -> StoreResult<Option<LedgerEntry>>;

    /// Events newest first, with their records, as the operator page filters them.
    async fn list_event_rows(&self, filter: &EventFilter, limit: i64)
    -> StoreResult<Vec<EventRow>>;

    /// Records what a sweep run did (its report, JSON).
    async fn sweep_run_put(&self, report: &str, at: DateTime<Utc>) -> StoreResult<()>;

    /// The last sweep run: when it finished and its report.
    async fn last_sweep_run(&self) -> StoreResult<Option<(DateTime<Utc>, String)>>;

    /// The issue's follow-ups not yet come due, soonest first.
    async fn followups_for_issue(&self, issue_key: &str) -> StoreResult<Vec<PendingFollowup>>;

    /// Holds an issue for one sweep step: stores a running inbox event of kind
    /// [`SWEEP_HOLD_KIND`] leased to `holder` until `now + lease`, granted only while no event
    /// of the issue is pending or running, so the worker starts none of its events meanwhile.
    /// `None`: the issue is busy. Released with [`Store::complete`].
    async fn hold_issue(
        &self,
        issue_key: &str,
        holder: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens and migrates a SQLite file. Two processes creating the same new file at once (two
/// sweeps started together) can meet SQLite's lock while one of them switches the file to WAL
/// or migrates it, in ways SQLite reports at once instead of waiting: such an open is tried
/// again for a while instead of failing with "database is locked".
async fn open_sqlite_file(path: &std::path::Path) -> StoreResult<DynStore> {
    let mut delay = Duration::from_millis(50);
    let mut tries = 0;
    loop {
        let opened = async {
            let store = sqlite::SqliteStore::open_file(path).await?;
            store.migrate().await?;
            Ok::<_, StoreError>(store)
        }
        .await;
        match opened {
            Ok(store) => return Ok(Arc::new(store)),
            Err(e) if tries < 8 && is_busy(&e) => {
                tries += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// SQLite's `SQLITE_BUSY` and its extended codes ("database is locked").
fn is_busy(e: &StoreError) -> bool {
    let code = match e {
        StoreError::Database(sqlx::Error::Database(d)) => d.code(),
        _ => None,
    };
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

/// Opens (and migrates) the store a `--database` value names: a path or `sqlite://PATH`
/// (created if missing, WAL mode), `sqlite::memory:` for tests, or `postgres://…`.
pub async fn connect(url: &str) -> StoreResult<DynStore> {
    let store: DynStore = match DatabaseTarget::parse(url)? {
        DatabaseTarget::SqliteFile(path) => return open_sqlite_file(&path).await,
        DatabaseTarget::SqliteMemory => Arc::new(sqlite::SqliteStore::open_memory().await?),
        DatabaseTarget::Postgres(url) => Arc::new(postgres::PostgresStore::open(&url).await?),
    };
    store.migrate().await?;
    Ok(store)
}
