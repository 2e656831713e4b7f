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
use super::{
    ClaimedEvent, EnqueueOutcome, EventRecord, EventStatus, FollowupRecord, NewFollowup,
    NewInboxEvent, NewPlan, PlanSource, QueueStats, Store, StoreError, StoreResult, StoredPlan,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgPoolOptions, Postgres};
use sqlx::query::Query;
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
const CANDIDATE_SQL: &str = "SELECT e.id, e.issue_key FROM inbox_events e
    WHERE e.status IN ('pending', 'running')
      AND NOT (e.id = ANY($2))
      AND CASE WHEN e.status = 'running' THEN e.lease_until <= $1
          ELSE e.available_at <= $1
            AND NOT EXISTS (
                SELECT 1 FROM inbox_events p
                WHERE p.issue_key = e.issue_key
                  AND p.status IN ('pending', 'running')
                  AND p.id < e.id)
            AND NOT EXISTS (
                SELECT 1 FROM inbox_events r
                WHERE r.issue_key = e.issue_key AND r.status = 'running')
          END
    ORDER BY e.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED";

/// Leases the candidate `$4` if it is still claimable (same condition as `CANDIDATE_SQL`,
/// evaluated on a snapshot taken after the issue lock was acquired).
const LEASE_SQL: &str = "UPDATE inbox_events e
    SET status = 'running', lease_owner = $2, lease_until = $3,
        attempts = e.attempts + 1, updated_at = $1
    WHERE e.id = $4
      AND e.status IN ('pending', 'running')
      AND CASE WHEN e.status = 'running' THEN e.lease_until <= $1
          ELSE e.available_at <= $1
            AND NOT EXISTS (
                SELECT 1 FROM inbox_events p
                WHERE p.issue_key = e.issue_key
                  AND p.status IN ('pending', 'running')
                  AND p.id < e.id)
            AND NOT EXISTS (
                SELECT 1 FROM inbox_events r
                WHERE r.issue_key = e.issue_key AND r.status = 'running')
          END
    RETURNING e.id, e.delivery_id, e.event_kind, e.issue_key, e.payload, e.attempts,
              e.received_at";

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

    /// Closes the pool's connections (waits for checked-out ones to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs a statement that changes a claimed event (its `WHERE` requires the row to be
    /// running under the caller's worker id): `LeaseLost` when it matched nothing.
    async fn expect_leased(
        &self,
        id: i64,
        statement: Query<'_, Postgres, PgArguments>,
    ) -> StoreResult<()> {
        let result = statement.execute(&self.pool).await?;
        if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost(id))
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        // DDL is transactional in PostgreSQL: all pending migrations and their records commit
        // together, under a lock that makes a second replica wait and then find them applied.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query(CREATE_MIGRATIONS_TABLE)
            .execute(&mut *tx)
            .await?;
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM labelflow_schema_migrations")
                .fetch_all(&mut *tx)
                .await?;
        for migration in migrations::POSTGRES {
            if applied.contains(&migration.version) {
                continue;
            }
            sqlx::raw_sql(AssertSqlSafe(migration.sql))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::Migration(format!(
                        "PostgreSQL migration {} ({}): {e}",
                        migration.version, migration.name
                    ))
                })?;
            sqlx::query(
                "INSERT INTO labelflow_schema_migrations (version, name, applied_at)
                 VALUES ($1, $2, $3)",
            )
            .bind(migration.version)
            .bind(migration.name)
            .bind(to_millis(Utc::now()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ready(&self) -> StoreResult<()> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM labelflow_schema_migrations")
                .fetch_one(&self.pool)
                .await?;
        let expected = migrations::latest(migrations::POSTGRES);
        match version {
            Some(v) if v >= expected => Ok(()),
            found => Err(StoreError::Migration(format!(
                "schema version {} is behind {expected}: migrations not applied",
                found.unwrap_or(0)
            ))),
        }
    }

    async fn enqueue(&self, event: NewInboxEvent) -> StoreResult<EnqueueOutcome> {
        // A new event is available at once (`available_at` 0), whatever the clock skew between
        // the replica that received it and the one that claims it.
        let received = to_millis(event.received_at);
        // A concurrent insert of the same delivery makes this one wait for its outcome, so the
        // lookup below sees the committed row.
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO inbox_events
                 (delivery_id, event_kind, issue_key, payload, status, attempts,
                  available_at, received_at, updated_at)
             VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5, $5)
             ON CONFLICT (delivery_id) DO NOTHING
             RETURNING id",
        )
        .bind(&event.delivery_id)
        .bind(&event.event_kind)
        .bind(&event.issue_key)
        .bind(&event.payload)
        .bind(received)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(id) = inserted {
            return Ok(EnqueueOutcome::Accepted(id));
        }
        let existing: i64 =
            sqlx::query_scalar("SELECT id FROM inbox_events WHERE delivery_id = $1")
                .bind(&event.delivery_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(EnqueueOutcome::Duplicate(existing))
    }

    async fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ClaimedEvent>> {
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

    async fn complete(&self, id: i64, worker_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let statement = sqlx::query(
            "UPDATE inbox_events
             SET status = 'done', lease_owner = NULL, lease_until = NULL,
                 detail = CASE WHEN last_error IS NULL THEN detail
                     ELSE COALESCE(detail || '; ', '') || 'an earlier try failed: ' || last_error
                     END,
                 last_error = NULL,
                 updated_at = $3
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(worker_id)
        .bind(to_millis(now));
        self.expect_leased(id, statement).await
    }

    async fn retry_later(
        &self,
        id: i64,
        worker_id: &str,
        retry_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let statement = sqlx::query(
            "UPDATE inbox_events
             SET status = 'pending', lease_owner = NULL, lease_until = NULL,
                 available_at = $4, last_error = $5, updated_at = $3
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(worker_id)
        .bind(to_millis(now))
        .bind(to_millis(retry_at))
        .bind(error);
        self.expect_leased(id, statement).await
    }

    async fn park(
        &self,
        id: i64,
        worker_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let statement = sqlx::query(
            "UPDATE inbox_events
             SET status = 'parked', lease_owner = NULL, lease_until = NULL,
                 last_error = $4, updated_at = $3
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(id)
        .bind(worker_id)
        .bind(to_millis(now))
        .bind(reason);
        self.expect_leased(id, statement).await
    }

    async fn release_leases(&self, worker_id: &str, now: DateTime<Utc>) -> StoreResult<u64> {
        // The interrupted attempt stays counted: it may have done part of its work unrecorded,
        // so the next attempt (attempts > 1) checks for the bot's markers before creating.
        let result = sqlx::query(
            "UPDATE inbox_events
             SET status = 'pending', lease_owner = NULL, lease_until = NULL,
                 available_at = $2, updated_at = $2
             WHERE status = 'running' AND lease_owner = $1",
        )
        .bind(worker_id)
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn list_events(
        &self,
        status: Option<EventStatus>,
        limit: i64,
    ) -> StoreResult<Vec<EventRecord>> {
        let limit = limit.max(0);
        let found = match status {
            Some(status) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {RECORD_COLUMNS} FROM inbox_events
                     WHERE status = $1 ORDER BY id DESC LIMIT $2"
                )))
                .bind(status.as_str())
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {RECORD_COLUMNS} FROM inbox_events ORDER BY id DESC LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(found
            .iter()
            .map(rows::event_record)
            .collect::<Result<_, _>>()?)
    }

    async fn get_event(&self, id: i64) -> StoreResult<Option<EventRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM inbox_events WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(rows::event_record).transpose()?)
    }

    async fn retry_parked(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE inbox_events
             SET status = 'pending', attempts = 0, available_at = $2, updated_at = $2
             WHERE id = $1 AND status = 'parked'",
        )
        .bind(id)
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        let counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM inbox_events GROUP BY status")
                .fetch_all(&self.pool)
                .await?;
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(received_at) FROM inbox_events WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(rows::queue_stats(counts, oldest)?)
    }

    async fn ledger_get(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT result FROM action_ledger WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn ledger_put(
        &self,
        key: &str,
        issue_key: &str,
        result: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO action_ledger (key, issue_key, result, recorded_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(issue_key)
        .bind(result)
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn actions_since(&self, issue_key: &str, since: DateTime<Utc>) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM action_ledger WHERE issue_key = $1 AND recorded_at >= $2",
        )
        .bind(issue_key)
        .bind(to_millis(since))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn schedule_followup(&self, followup: NewFollowup) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO followups (key, issue_key, due_at, payload, fired_at, created_at)
             VALUES ($1, $2, $3, $4, NULL, $5)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&followup.key)
        .bind(&followup.issue_key)
        .bind(to_millis(followup.due_at))
        .bind(&followup.payload)
        .bind(to_millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
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
                 SELECT 'followup:' || key, 'Followup', issue_key, payload, 'pending', 0,
                        $1, $1, $1
                 FROM fired
                 ORDER BY due_at, key
                 ON CONFLICT (delivery_id) DO NOTHING
                 RETURNING id
             )
             SELECT COUNT(*) FROM fired",
        )
        .bind(to_millis(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(fired).unwrap_or(0))
    }

    async fn list_followups(&self, limit: i64) -> StoreResult<Vec<FollowupRecord>> {
        let found = sqlx::query(
            "SELECT key, issue_key, due_at, fired_at FROM followups
             ORDER BY due_at, key LIMIT $1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        Ok(found
            .iter()
            .map(rows::followup_record)
            .collect::<Result<_, _>>()?)
    }

    async fn plan_get(&self, plan_key: &str) -> StoreResult<Option<StoredPlan>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans WHERE plan_key = $1"
        )))
        .bind(plan_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(rows::stored_plan).transpose()?)
    }

    async fn plan_put(&self, plan: NewPlan, now: DateTime<Utc>) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO plans (plan_key, issue_key, source, event_id, actions, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (plan_key) DO NOTHING",
        )
        .bind(&plan.plan_key)
        .bind(&plan.issue_key)
        .bind(plan.source.as_str())
        .bind(plan.event_id)
        .bind(&plan.actions)
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn plan_replace(
        &self,
        plan_key: &str,
        actions: &str,
        event_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE plans SET actions = $2, event_id = $3, created_at = $4
             WHERE plan_key = $1 AND finished_at IS NULL",
        )
        .bind(plan_key)
        .bind(actions)
        .bind(event_id)
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn plan_finish(&self, plan_key: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE plans SET finished_at = $2 WHERE plan_key = $1 AND finished_at IS NULL",
        )
        .bind(plan_key)
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn unfinished_plans(
        &self,
        source: PlanSource,
        limit: i64,
    ) -> StoreResult<Vec<StoredPlan>> {
        let found = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans
             WHERE source = $1 AND finished_at IS NULL
             ORDER BY created_at, plan_key LIMIT $2"
        )))
        .bind(source.as_str())
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        Ok(found
            .iter()
            .map(rows::stored_plan)
            .collect::<Result<_, _>>()?)
    }

    async fn snapshot_get(&self, issue_key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT labels FROM issue_snapshots WHERE issue_key = $1")
                .bind(issue_key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn snapshot_put(
        &self,
        issue_key: &str,
        labels: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO issue_snapshots (issue_key, labels, seen_at) VALUES ($1, $2, $3)
             ON CONFLICT (issue_key) DO UPDATE SET labels = excluded.labels, seen_at = excluded.seen_at",
        )
        .bind(issue_key)
        .bind(labels)
        .bind(to_millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_event_detail(&self, id: i64, detail: &str) -> StoreResult<()> {
        sqlx::query("UPDATE inbox_events SET detail = $2 WHERE id = $1")
            .bind(id)
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn hold_issue(
        &self,
        issue_key: &str,
        holder: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        super::hold::hold_postgres(&self.pool, ISSUE_LOCK_SPACE, issue_key, holder, lease, now)
            .await
    }
}
