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
use super::shared::{ClaimRequest, claimable_sql};
use super::writes::{Write, WritePath, Written};
use super::{
    ClaimedEvent, EnqueueOutcome, EventFilter, EventRecord, EventRow, EventStatus, FollowupRecord,
    LedgerEntry, NewFollowup, NewInboxEvent, NewPlan, PendingFollowup, PlanSource, Pruned,
    QueueStats, Store, StoreError, StoreResult, StoredPlan, StoredTrace, TraceRetention,
};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use group_commit::WriteRequest;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
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
const CLAIM_SQL: &str = concat!(
    "UPDATE inbox_events
    SET status = 'running', lease_owner = $2, lease_until = $3,
        attempts = attempts + 1, updated_at = $1
    WHERE id = (
        SELECT e.id FROM inbox_events e INDEXED BY inbox_unfinished
        WHERE ",
    claimable_sql!(),
    "
        ORDER BY e.id
        LIMIT 1)
    RETURNING id, delivery_id, event_kind, issue_key, payload, attempts, received_at"
);

/// A durable SQLite store. Dropping it stops its background tasks.
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    /// The writer thread's queue (group commit): appends and the workers' writes. The sqlx
    /// `writer` is kept for the rare writes that need a transaction of their own (migrations,
    /// sweep holds).
    writes: mpsc::Sender<WriteRequest>,
    background: Vec<AbortHandle>,
    /// The temporary directory of a private database, removed on drop.
    _scratch: Option<tempfile::TempDir>,
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
        // The sqlx writer connects first: it creates the file and switches it to WAL.
        let writer = long_lived(1).connect_with(options.clone()).await?;
        let readers = long_lived(READER_CONNECTIONS).connect_with(options).await?;
        let writes = group_commit::start(path, BUSY_TIMEOUT)?;
        let checkpoints = tokio::spawn(checkpoint::run(readers.clone(), checkpoint::INTERVAL));
        Ok(SqliteStore {
            writer,
            readers,
            writes,
            background: vec![checkpoints.abort_handle()],
            _scratch: None,
        })
    }

    /// A private database that is gone when the store is dropped (tests, `sqlite::memory:`).
    /// It is a file in a temporary directory, not `:memory:`: the writer thread and the
    /// readers are separate connections, and each connection to `:memory:` would see its own
    /// empty database.
    pub async fn open_memory() -> StoreResult<Self> {
        let scratch = tempfile::tempdir().map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        let mut store = Self::open_file(&scratch.path().join("labelflow.db")).await?;
        store._scratch = Some(scratch);
        Ok(store)
    }

    /// The next claimable event, leased to `req.worker_id` (the backend's half of `claim`).
    async fn claim_next(&self, req: ClaimRequest<'_>) -> StoreResult<Option<ClaimedEvent>> {
        let (worker_id, lease, now) = (req.worker_id, req.lease, req.now);
        let (reply, claimed) = oneshot::channel();
        self.submit(WriteRequest::Claim {
            now_ms: to_millis(now),
            worker_id: worker_id.to_string(),
            lease_until_ms: lease_until_millis(now, lease),
            reply,
        })
        .await?;
        claimed.await.map_err(|_| writer_gone())?
    }

    /// Queues a request for the group-commit writer.
    async fn submit(&self, request: WriteRequest) -> Result<(), sqlx::Error> {
        self.writes.send(request).await.map_err(|_| writer_gone())
    }

    /// The migration transaction: `BEGIN IMMEDIATE` takes the write lock at once, so a second
    /// process waits, then finds the migrations applied.
    async fn begin_migration(&self) -> StoreResult<sqlx::Transaction<'_, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Copies the WAL into the database file now (normally done every second in the
    /// background). Useful before backups.
    pub async fn checkpoint(&self) -> StoreResult<()> {
        Ok(checkpoint::checkpoint(&self.readers).await?)
    }
}

/// The writer task ended (the store is being dropped).
fn writer_gone() -> sqlx::Error {
    sqlx::Error::PoolClosed
}

impl WritePath for SqliteStore {
    fn run_write(&self, write: Write) -> BoxFuture<'_, Result<Written, sqlx::Error>> {
        Box::pin(async move {
            let (reply, result) = oneshot::channel();
            self.submit(WriteRequest::Execute { write, reply }).await?;
            result.await.map_err(|_| writer_gone())?
        })
    }
}

super::shared::store_impl!(
    SqliteStore,
    read: readers,
    write: writer,
    db: sqlx::Sqlite,
    args: sqlx::sqlite::SqliteArguments,
    migrations: migrations::SQLITE,
    hold: super::hold::hold_sqlite,
    dialect: "SQLite",
    {
    async fn enqueue(&self, event: NewInboxEvent) -> StoreResult<EnqueueOutcome> {
        let (reply, outcome) = oneshot::channel();
        self.submit(WriteRequest::Append { event, reply }).await?;
        outcome.await.map_err(|_| StoreError::Database(writer_gone()))?
    }


    async fn promote_due_followups(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        // On the writer thread, in a batch's transaction: never beside another write.
        let (reply, fired) = oneshot::channel();
        self.submit(WriteRequest::PromoteFollowups {
            now_ms: to_millis(now),
            reply,
        })
        .await?;
        fired.await.map_err(|_| StoreError::Database(writer_gone()))?
    }

    }
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Many callers' writes at once: each hears back only its own result, a failing statement
    /// fails alone, and everything else is committed and readable.
    #[tokio::test]
    async fn concurrent_writes_commit_together_and_a_failing_one_fails_alone() {
        let store = std::sync::Arc::new(SqliteStore::open_memory().await.unwrap());
        store.migrate().await.unwrap();
        let now = Utc::now();
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..200 {
            let store = store.clone();
            tasks.spawn(async move {
                if n == 100 {
                    // `issue_key` is NOT NULL: this statement fails.
                    return Write::new(
                        "INSERT INTO action_ledger (key, issue_key, result, recorded_at)
                         VALUES ('bad', $1, '{}', 0)",
                    )
                    .bind(None::<i64>)
                    .execute_on(&*store)
                    .await
                    .map(|_| ());
                }
                store
                    .ledger_put(&format!("k{n}"), "g/p#1", "{}", now)
                    .await
                    .map_err(|e| sqlx::Error::Protocol(e.to_string()))
            });
        }
        let results = tasks.join_all().await;
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        for n in (0..200).filter(|n| *n != 100) {
            assert!(
                store.ledger_get(&format!("k{n}")).await.unwrap().is_some(),
                "k{n}"
            );
        }
        // The writer goes on after a failed statement.
        store.ledger_put("after", "g/p#1", "{}", now).await.unwrap();
        assert!(store.ledger_get("after").await.unwrap().is_some());
    }

    /// The claim must walk indexes only: a full scan of `inbox_events` would grow with the
    /// whole history instead of the unfinished events.
    #[tokio::test]
    async fn claim_plan_uses_only_indexes() {
        let store = SqliteStore::open_memory().await.unwrap();
        store.migrate().await.unwrap();
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(concat!(
            "EXPLAIN QUERY PLAN SELECT e.id FROM inbox_events e INDEXED BY inbox_unfinished
                 WHERE ",
            claimable_sql!(),
            " ORDER BY e.id LIMIT 1"
        ))
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
