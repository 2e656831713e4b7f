//! Holding an issue for one sweep step, through the inbox itself.
//!
//! A hold is a `running` inbox event of kind [`SWEEP_HOLD_KIND`] leased to the sweep. The
//! worker's claim never starts an event of an issue while another event of it is running, so a
//! held issue's webhook events wait until the hold is released (`complete`), and a hold is only
//! granted while no event of the issue is pending or running: a sweep and `serve` never act on
//! one issue at once, and neither do two sweeps. A hold whose sweep died expires with its
//! lease; the next hold of that issue retires it, and a worker that claims it ignores it (its
//! payload is no webhook).

use super::StoreResult;
use super::rows::{lease_until_millis, to_millis};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, SqlitePool};
use std::time::Duration;

/// The inbox `event_kind` of a sweep's hold.
pub const SWEEP_HOLD_KIND: &str = "Sweep";

/// Events that keep a hold from being granted: anything of the issue pending, or running under
/// a live lease (an expired webhook event is the service's to take over, so it blocks too).
const BUSY_SQL: &str = "SELECT EXISTS (
    SELECT 1 FROM inbox_events
    WHERE issue_key = $1 AND status IN ('pending', 'running')
      AND NOT (status = 'running' AND event_kind = 'Sweep' AND lease_until <= $2))";

const RETIRE_SQL: &str = "UPDATE inbox_events
    SET status = 'done', lease_owner = NULL, lease_until = NULL, updated_at = $2,
        last_error = 'the sweep holding this issue stopped before releasing it'
    WHERE issue_key = $1 AND status = 'running' AND event_kind = 'Sweep' AND lease_until <= $2";

const INSERT_SQL: &str = "INSERT INTO inbox_events
    (delivery_id, event_kind, issue_key, payload, status, attempts, available_at,
     lease_owner, lease_until, received_at, updated_at)
    VALUES ($1, 'Sweep', $2, $3, 'running', 1, $4, $5, $6, $4, $4)
    RETURNING id";

fn delivery_id() -> String {
    format!("sweep-hold:{}", uuid::Uuid::new_v4().simple())
}

fn payload(holder: &str) -> String {
    serde_json::json!({ "object_kind": "labelflow_sweep_hold", "holder": holder }).to_string()
}

/// The hold itself, inside a transaction that already excludes other holds and claims of the
/// issue (the backends differ only in how they take that lock). Written once for both.
macro_rules! hold_in {
    ($tx:ident, $issue_key:expr, $holder:expr, $lease:expr, $now:expr) => {{
        let now_ms = to_millis($now);
        let busy: bool = sqlx::query_scalar(BUSY_SQL)
            .bind($issue_key)
            .bind(now_ms)
            .fetch_one(&mut *$tx)
            .await?;
        if busy {
            $tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(RETIRE_SQL)
            .bind($issue_key)
            .bind(now_ms)
            .execute(&mut *$tx)
            .await?;
        let id: i64 = sqlx::query_scalar(INSERT_SQL)
            .bind(delivery_id())
            .bind($issue_key)
            .bind(payload($holder))
            .bind(now_ms)
            .bind($holder)
            .bind(lease_until_millis($now, $lease))
            .fetch_one(&mut *$tx)
            .await?;
        $tx.commit().await?;
        Ok(Some(id))
    }};
}

/// SQLite: one `BEGIN IMMEDIATE` transaction, so holds and claims of all processes sharing the
/// file are serialised by SQLite's write lock.
pub(crate) async fn hold_sqlite(
    writer: &SqlitePool,
    issue_key: &str,
    holder: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> StoreResult<Option<i64>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    hold_in!(tx, issue_key, holder, lease, now)
}

/// PostgreSQL: under the same per-issue advisory lock the worker's claim takes, so a hold and
/// a claim of one issue are serialised and each sees the other's commit.
pub(crate) async fn hold_postgres(
    pool: &PgPool,
    issue_key: &str,
    holder: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> StoreResult<Option<i64>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(super::postgres::ISSUE_LOCK_SPACE)
        .bind(issue_key)
        .execute(&mut *tx)
        .await?;
    hold_in!(tx, issue_key, holder, lease, now)
}
