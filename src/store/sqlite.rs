//! The SQLite backend: the embedded default.
//!
//! Shape: one writer connection (SQLite admits one writer at a time anyway, so more would only
//! wait on its lock) plus a small pool of readers, which WAL mode lets run beside the writer.
//! Webhook appends are group-committed by a writer task ([`group_commit`]); WAL checkpoints run
//! in a background task ([`checkpoint`]). Every connection runs `synchronous=FULL`: a webhook
//! answered 2xx must survive power loss.

mod checkpoint;
mod group_commit;

use super::migrations::{self, CREATE_MIGRATIONS_TABLE};
use super::rows::{self, PLAN_COLUMNS, RECORD_COLUMNS, lease_until_millis, to_millis};
use super::{
    ClaimedEvent, EnqueueOutcome, EventRecord, EventStatus, FollowupRecord, NewFollowup,
    NewInboxEvent, NewPlan, PlanSource, QueueStats, Store, StoreError, StoreResult, StoredPlan,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use group_commit::AppendRequest;
use sqlx::query::Query;
use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, SqlitePool};
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

/// How long a connection waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READER_CONNECTIONS: u32 = 4;

/// Claim, as one statement (atomic under SQLite's write lock). A running event whose lease
/// expired is taken over; a pending event is claimable once available, if no earlier event of
/// its issue is unfinished and no event of its issue is running (the latter keeps one holder
/// per issue even when an operator re-queues an older parked event).
///
/// Written for the planner: `INDEXED BY` walks the unfinished events in id order and stops at
/// the first claimable one (done rows are not in that index), and `CASE` rather than `OR`
/// keeps the planner from splitting the scan by status and sorting.
macro_rules! next_claimable_sql {
    () => {
        "SELECT e.id FROM inbox_events e INDEXED BY inbox_unfinished
        WHERE e.status IN ('pending', 'running')
          AND CASE WHEN e.status = 'running' THEN e.lease_until <= ?1
              ELSE e.available_at <= ?1
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
        LIMIT 1"
    };
}

const CLAIM_SQL: &str = concat!(
    "UPDATE inbox_events
    SET status = 'running', lease_owner = ?2, lease_until = ?3,
        attempts = attempts + 1, updated_at = ?1
    WHERE id = (",
    next_claimable_sql!(),
    ")
    RETURNING id, delivery_id, event_kind, issue_key, payload, attempts, received_at"
);

/// A durable SQLite store. Dropping it stops its background tasks.
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    appends: mpsc::Sender<AppendRequest>,
    background: Vec<AbortHandle>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

fn connect_options() -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        // Checkpoints are run by `checkpoint::run`, never inside a commit (see there).
        .pragma("wal_autocheckpoint", "0")
}

/// A pool whose connections are never recycled (the writer is one long-lived connection).
fn long_lived(max: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
}

impl SqliteStore {
    /// Opens (creating if missing) the database file. Call [`Store::migrate`] before use.
    pub async fn open_file(path: &Path) -> StoreResult<Self> {
        let options = connect_options().filename(path);
        // The writer connects first: it creates the file and switches it to WAL.
        let writer = long_lived(1).connect_with(options.clone()).await?;
        let readers = long_lived(READER_CONNECTIONS).connect_with(options).await?;
        let checkpoints = tokio::spawn(checkpoint::run(readers.clone(), checkpoint::INTERVAL));
        Ok(Self::assemble(
            writer,
            readers,
            vec![checkpoints.abort_handle()],
        ))
    }

    /// A private in-memory database (tests). One connection serves reads and writes, since each
    /// SQLite connection to `:memory:` would otherwise see its own empty database.
    pub async fn open_memory() -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(true);
        let pool = long_lived(1).connect_with(options).await?;
        Ok(Self::assemble(pool.clone(), pool, Vec::new()))
    }

    fn assemble(writer: SqlitePool, readers: SqlitePool, mut background: Vec<AbortHandle>) -> Self {
        let (appends, requests) = mpsc::channel(group_commit::QUEUE_CAPACITY);
        let appender = tokio::spawn(group_commit::run_writer(writer.clone(), requests));
        background.push(appender.abort_handle());
        SqliteStore {
            writer,
            readers,
            appends,
            background,
        }
    }

    /// Copies the WAL into the database file now (normally done every second in the
    /// background). Useful before backups.
    pub async fn checkpoint(&self) -> StoreResult<()> {
        Ok(checkpoint::checkpoint(&self.readers).await?)
    }

    /// Runs a statement that changes a claimed event (its `WHERE` requires the row to be
    /// running under the caller's worker id): `LeaseLost` when it matched nothing.
    async fn expect_leased(
        &self,
        id: i64,
        statement: Query<'_, Sqlite, SqliteArguments>,
    ) -> StoreResult<()> {
        let result = statement.execute(&self.writer).await?;
        if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost(id))
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(CREATE_MIGRATIONS_TABLE)
            .execute(&mut *tx)
            .await?;
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM labelflow_schema_migrations")
                .fetch_all(&mut *tx)
                .await?;
        for migration in migrations::SQLITE {
            if applied.contains(&migration.version) {
                continue;
            }
            sqlx::raw_sql(AssertSqlSafe(migration.sql))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::Migration(format!(
                        "SQLite migration {} ({}): {e}",
                        migration.version, migration.name
                    ))
                })?;
            sqlx::query(
                "INSERT INTO labelflow_schema_migrations (version, name, applied_at)
                 VALUES (?1, ?2, ?3)",
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
                .fetch_one(&self.readers)
                .await?;
        let expected = migrations::latest(migrations::SQLITE);
        match version {
            Some(v) if v >= expected => Ok(()),
            found => Err(StoreError::Migration(format!(
                "schema version {} is behind {expected}: migrations not applied",
                found.unwrap_or(0)
            ))),
        }
    }

    async fn enqueue(&self, event: NewInboxEvent) -> StoreResult<EnqueueOutcome> {
        let (reply, outcome) = oneshot::channel();
        self.appends
            .send(AppendRequest { event, reply })
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        outcome
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }

    async fn claim(
        &self,
        worker_id: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ClaimedEvent>> {
        let row = sqlx::query(CLAIM_SQL)
            .bind(to_millis(now))
            .bind(worker_id)
            .bind(lease_until_millis(now, lease))
            .fetch_optional(&self.writer)
            .await?;
        Ok(row.as_ref().map(rows::claimed_event).transpose()?)
    }

    async fn complete(&self, id: i64, worker_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let statement = sqlx::query(
            "UPDATE inbox_events
             SET status = 'done', lease_owner = NULL, lease_until = NULL,
                 detail = CASE WHEN last_error IS NULL THEN detail
                     ELSE COALESCE(detail || '; ', '') || 'an earlier try failed: ' || last_error
                     END,
                 last_error = NULL,
                 updated_at = ?3
             WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
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
                 available_at = ?4, last_error = ?5, updated_at = ?3
             WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
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
                 last_error = ?4, updated_at = ?3
             WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
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
                 available_at = ?2, updated_at = ?2
             WHERE status = 'running' AND lease_owner = ?1",
        )
        .bind(worker_id)
        .bind(to_millis(now))
        .execute(&self.writer)
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
                     WHERE status = ?1 ORDER BY id DESC LIMIT ?2"
                )))
                .bind(status.as_str())
                .bind(limit)
                .fetch_all(&self.readers)
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {RECORD_COLUMNS} FROM inbox_events ORDER BY id DESC LIMIT ?1"
                )))
                .bind(limit)
                .fetch_all(&self.readers)
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
            "SELECT {RECORD_COLUMNS} FROM inbox_events WHERE id = ?1"
        )))
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.as_ref().map(rows::event_record).transpose()?)
    }

    async fn retry_parked(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE inbox_events
             SET status = 'pending', attempts = 0, available_at = ?2, updated_at = ?2
             WHERE id = ?1 AND status = 'parked'",
        )
        .bind(id)
        .bind(to_millis(now))
        .execute(&self.writer)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn queue_stats(&self) -> StoreResult<QueueStats> {
        let counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM inbox_events GROUP BY status")
                .fetch_all(&self.readers)
                .await?;
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(received_at) FROM inbox_events WHERE status = 'pending'",
        )
        .fetch_one(&self.readers)
        .await?;
        Ok(rows::queue_stats(counts, oldest)?)
    }

    async fn ledger_get(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT result FROM action_ledger WHERE key = ?1")
                .bind(key)
                .fetch_optional(&self.readers)
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
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(issue_key)
        .bind(result)
        .bind(to_millis(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn actions_since(&self, issue_key: &str, since: DateTime<Utc>) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM action_ledger WHERE issue_key = ?1 AND recorded_at >= ?2",
        )
        .bind(issue_key)
        .bind(to_millis(since))
        .fetch_one(&self.readers)
        .await?)
    }

    async fn schedule_followup(&self, followup: NewFollowup) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO followups (key, issue_key, due_at, payload, fired_at, created_at)
             VALUES (?1, ?2, ?3, ?4, NULL, ?5)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&followup.key)
        .bind(&followup.issue_key)
        .bind(to_millis(followup.due_at))
        .bind(&followup.payload)
        .bind(to_millis(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn promote_due_followups(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let now_ms = to_millis(now);
        // BEGIN IMMEDIATE takes the write lock first, so another process promoting the same
        // file waits and then finds them fired.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO inbox_events
                 (delivery_id, event_kind, issue_key, payload, status, attempts,
                  available_at, received_at, updated_at)
             SELECT 'followup:' || key, 'Followup', issue_key, payload, 'pending', 0, ?1, ?1, ?1
             FROM followups
             WHERE fired_at IS NULL AND due_at <= ?1
             ORDER BY due_at, key
             ON CONFLICT (delivery_id) DO NOTHING",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let fired = sqlx::query(
            "UPDATE followups SET fired_at = ?1 WHERE fired_at IS NULL AND due_at <= ?1",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(fired.rows_affected())
    }

    async fn list_followups(&self, limit: i64) -> StoreResult<Vec<FollowupRecord>> {
        let found = sqlx::query(
            "SELECT key, issue_key, due_at, fired_at FROM followups
             ORDER BY due_at, key LIMIT ?1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.readers)
        .await?;
        Ok(found
            .iter()
            .map(rows::followup_record)
            .collect::<Result<_, _>>()?)
    }

    async fn plan_get(&self, plan_key: &str) -> StoreResult<Option<StoredPlan>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans WHERE plan_key = ?1"
        )))
        .bind(plan_key)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.as_ref().map(rows::stored_plan).transpose()?)
    }

    async fn plan_put(&self, plan: NewPlan, now: DateTime<Utc>) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO plans (plan_key, issue_key, source, event_id, actions, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (plan_key) DO NOTHING",
        )
        .bind(&plan.plan_key)
        .bind(&plan.issue_key)
        .bind(plan.source.as_str())
        .bind(plan.event_id)
        .bind(&plan.actions)
        .bind(to_millis(now))
        .execute(&self.writer)
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
            "UPDATE plans SET actions = ?2, event_id = ?3, created_at = ?4
             WHERE plan_key = ?1 AND finished_at IS NULL",
        )
        .bind(plan_key)
        .bind(actions)
        .bind(event_id)
        .bind(to_millis(now))
        .execute(&self.writer)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn plan_finish(&self, plan_key: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE plans SET finished_at = ?2 WHERE plan_key = ?1 AND finished_at IS NULL",
        )
        .bind(plan_key)
        .bind(to_millis(now))
        .execute(&self.writer)
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
             WHERE source = ?1 AND finished_at IS NULL
             ORDER BY created_at, plan_key LIMIT ?2"
        )))
        .bind(source.as_str())
        .bind(limit.max(0))
        .fetch_all(&self.readers)
        .await?;
        Ok(found
            .iter()
            .map(rows::stored_plan)
            .collect::<Result<_, _>>()?)
    }

    async fn snapshot_get(&self, issue_key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT labels FROM issue_snapshots WHERE issue_key = ?1")
                .bind(issue_key)
                .fetch_optional(&self.readers)
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
            "INSERT INTO issue_snapshots (issue_key, labels, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (issue_key) DO UPDATE SET labels = excluded.labels, seen_at = excluded.seen_at",
        )
        .bind(issue_key)
        .bind(labels)
        .bind(to_millis(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn set_event_detail(&self, id: i64, detail: &str) -> StoreResult<()> {
        sqlx::query("UPDATE inbox_events SET detail = ?2 WHERE id = ?1")
            .bind(id)
            .bind(detail)
            .execute(&self.writer)
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
        super::hold::hold_sqlite(&self.writer, issue_key, holder, lease, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claim must walk indexes only: a full scan of `inbox_events` would grow with the
    /// whole history instead of the unfinished events.
    #[tokio::test]
    async fn claim_plan_uses_only_indexes() {
        let store = SqliteStore::open_memory().await.unwrap();
        store.migrate().await.unwrap();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(concat!("EXPLAIN QUERY PLAN ", next_claimable_sql!()))
                .bind(0_i64)
                .fetch_all(&store.writer)
                .await
                .unwrap();
        let steps: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        // No "USE TEMP B-TREE FOR ORDER BY": the scan is in id order and stops early.
        assert_eq!(
            steps,
            vec![
                "SCAN e USING INDEX inbox_unfinished",
                "CORRELATED SCALAR SUBQUERY 1",
                "SEARCH p USING INDEX inbox_unfinished_by_issue (issue_key=? AND id<?)",
                "CORRELATED SCALAR SUBQUERY 2",
                "SEARCH r USING COVERING INDEX inbox_running_by_issue (issue_key=?)",
            ]
        );
    }

    /// The durability and latency settings DESIGN §1.2 asks for, as the writer sees them.
    #[tokio::test]
    async fn file_store_connections_are_durable_wal_without_autocheckpoint() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_file(&dir.path().join("lf.db"))
            .await
            .unwrap();
        for pool in [&store.writer, &store.readers] {
            let pragma = |name: &'static str| async move {
                let value: i64 = sqlx::query_scalar(AssertSqlSafe(format!("PRAGMA {name}")))
                    .fetch_one(pool)
                    .await
                    .unwrap();
                value
            };
            assert_eq!(pragma("synchronous").await, 2, "FULL");
            assert_eq!(pragma("wal_autocheckpoint").await, 0);
            assert_eq!(pragma("foreign_keys").await, 1);
            assert_eq!(pragma("busy_timeout").await, 5_000);
        }
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        store.checkpoint().await.unwrap();
    }
}
