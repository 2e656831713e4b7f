//! The PostgreSQL backend: several replicas (processes) share one database.
//!
//! Claims lock their candidate row with `FOR UPDATE SKIP LOCKED`, so replicas never wait on
//! each other's candidates. Row locks alone cannot keep one holder per issue, though: two
//! claimers may look at *different* rows of the same issue under snapshots taken before each
//! other's commit (e.g. two deliveries of one issue committed out of id order). So a claim also
//! takes a transaction-scoped advisory lock on the issue (`pg_try_advisory_xact_lock`, skipping
//! issues another claimer holds right now) and re-checks, in a fresh statement, that its
//! candidate is still the issue's next event before leasing it. Claims of one issue are thereby
//! serialised, and each one sees the previous one's commit.

use super::migrations::{self, CREATE_MIGRATIONS_TABLE};
use super::rows::{self, PLAN_COLUMNS, RECORD_COLUMNS, lease_until_millis, to_millis};
use super::shared::{ClaimRequest, claimable_sql};
use super::writes::{Write, WritePath, Written};
use super::{
    ClaimedEvent, EnqueueOutcome, EventFilter, EventRecord, EventRow, EventStatus,
    FOLLOWUP_DELIVERY_PREFIX, FOLLOWUP_EVENT_KIND, FollowupRecord, LedgerEntry, NewFollowup,
    NewInboxEvent, NewPlan, PendingFollowup, PlanSource, Pruned, QueueStats, Store, StoreError,
    StoreResult, StoredPlan, StoredTrace, TraceRetention,
};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool};
use std::time::Duration;

/// Advisory lock serialising migrations of replicas that start at the same time.
const MIGRATION_LOCK: i64 = 0x6C61_6265_6C66_6C77; // "labelflw"
/// First half of the per-issue advisory lock key (the second half is `hashtext(issue_key)`).
/// Two-int keys never collide with the one-bigint migration key.
pub const ISSUE_LOCK_SPACE: i32 = 0x6C66_6973; // "lfis"
/// Candidates a claim examines before giving up until the worker's next poll.
const MAX_CANDIDATES: usize = 16;
const POOL_CONNECTIONS: u32 = 10;

/// A running event with an expired lease is taken over; a pending event is claimable once
/// available, if no earlier event of its issue is unfinished and no event of its issue is
/// running. `$1` = now (ms). `CASE` rather than `OR`: with `OR` the planner splits the scan by
/// status and sorts every unfinished event; this way it walks `inbox_unfinished` in id order
/// and stops at the first claimable row.
const CANDIDATE_SQL: &str = concat!(
    "SELECT e.id, e.issue_key FROM inbox_events e
    WHERE NOT (e.id = ANY($2)) AND ",
    claimable_sql!(),
    "
    ORDER BY e.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED"
);

/// Leases the candidate `$4` if it is still claimable (the same rule, evaluated on a snapshot
/// taken after the issue lock was acquired).
const LEASE_SQL: &str = concat!(
    "UPDATE inbox_events e
    SET status = 'running', lease_owner = $2, lease_until = $3,
        attempts = e.attempts + 1, updated_at = $1
    WHERE e.id = $4 AND ",
    claimable_sql!(),
    "
    RETURNING e.id, e.delivery_id, e.event_kind, e.issue_key, e.payload, e.attempts,
              e.received_at"
);

/// A PostgreSQL store (one connection pool; one per replica).
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`). Call [`Store::migrate`] before use.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PostgresStore { pool })
    }

    /// The next claimable event, leased to `req.worker_id` (the backend's half of `claim`).
    async fn claim_next(&self, req: ClaimRequest<'_>) -> StoreResult<Option<ClaimedEvent>> {
        let (worker_id, lease, now) = (req.worker_id, req.lease, req.now);
        let now_ms = to_millis(now);
        let mut tx = self.pool.begin().await?;
        let mut passed_over: Vec<i64> = Vec::new();
        for _ in 0..MAX_CANDIDATES {
            let candidate: Option<(i64, String)> = sqlx::query_as(CANDIDATE_SQL)
                .bind(now_ms)
                .bind(&passed_over)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((id, issue_key)) = candidate else {
                break;
            };
            let issue_locked: bool =
                sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, hashtext($2))")
                    .bind(ISSUE_LOCK_SPACE)
                    .bind(&issue_key)
                    .fetch_one(&mut *tx)
                    .await?;
            if issue_locked {
                let leased = sqlx::query(LEASE_SQL)
                    .bind(now_ms)
                    .bind(worker_id)
                    .bind(lease_until_millis(now, lease))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = leased {
                    let event = rows::claimed_event(&row)?;
                    tx.commit().await?;
                    return Ok(Some(event));
                }
            }
            passed_over.push(id);
        }
        tx.commit().await?;
        Ok(None)
    }

    /// The migration transaction. DDL is transactional in PostgreSQL: all pending migrations
    /// and their records commit together, under a lock that makes a second replica wait and
    /// then find them applied.
    async fn begin_migration(&self) -> StoreResult<sqlx::Transaction<'_, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Closes the pool's connections (waits for checked-out ones to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl WritePath for PostgresStore {
    fn run_write(&self, write: Write) -> BoxFuture<'_, Result<Written, sqlx::Error>> {
        Box::pin(async move {
            let done = write.to_postgres().execute(&self.pool).await?;
            Ok(Written::new(done.rows_affected()))
        })
    }
}

super::shared::store_impl!(
    PostgresStore,
    read: pool,
    write: pool,
    db: sqlx::Postgres,
    args: sqlx::postgres::PgArguments,
    migrations: migrations::POSTGRES,
    hold: super::hold::hold_postgres,
    dialect: "PostgreSQL",
    {
    async fn enqueue(&self, event: NewInboxEvent) -> StoreResult<EnqueueOutcome> {
        // A concurrent insert of the same delivery makes this one wait for its outcome, so the
        // lookup of a duplicate sees the committed row.
        Ok(super::shared::insert_event!(&self.pool, &event))
    }


    async fn promote_due_followups(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // One statement: lock the due follow-ups (skipping those another replica is promoting),
        // mark them fired and queue their inbox events. A row fired by a replica that committed
        // in between fails the `fired_at IS NULL` re-check when locked, so each fires once.
        let fired: i64 = sqlx::query_scalar(
            "WITH due AS (
                 SELECT key FROM followups
                 WHERE fired_at IS NULL AND due_at <= $1
                 ORDER BY due_at, key
                 FOR UPDATE SKIP LOCKED
             ), fired AS (
                 UPDATE followups f SET fired_at = $1
                 FROM due WHERE f.key = due.key
                 RETURNING f.key, f.issue_key, f.payload, f.due_at
             ), queued AS (
                 INSERT INTO inbox_events
                     (delivery_id, event_kind, issue_key, payload, status, attempts,
                      available_at, received_at, updated_at)
                 SELECT $2 || key, $3, issue_key, payload, 'pending', 0, $1, $1, $1
                 FROM fired
                 ORDER BY due_at, key
                 ON CONFLICT (delivery_id) DO NOTHING
                 RETURNING id
             )
             SELECT COUNT(*) FROM fired",
        )
        .bind(to_millis(now))
        .bind(FOLLOWUP_DELIVERY_PREFIX)
        .bind(FOLLOWUP_EVENT_KIND)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(fired).unwrap_or(0))
    }

    }
);
