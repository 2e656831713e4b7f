//! Group commit on a writer thread. Every write must be durable (`synchronous=FULL`) before
//! its caller goes on (ingest answers 2xx, a worker calls GitLab), and a durable commit costs
//! an fsync. One thread owns the write connection; it takes whatever writes are waiting
//! (webhook appends, the workers' claims, plan and ledger records, completions, follow-up
//! promotion), runs them in one transaction and commits once, so the fsync is shared by the
//! batch. Each caller hears back only after the commit.
//!
//! The thread uses `rusqlite`, not sqlx: sqlx runs each statement on its connection's own
//! thread and hands the answer back, two thread switches per statement, which profiles showed
//! as the largest cost of a batch. Here a whole batch runs without leaving the thread.
//!
//! A statement that fails is undone alone by SQLite (statement-level atomicity), the rest of
//! the batch still commits, and its caller gets the error. If an error were severe enough for
//! SQLite to abandon the whole transaction (disk full, I/O error), the commit fails and every
//! caller of the batch gets an error; a write made after that point in autocommit mode is
//! then reported failed although stored, which delays its caller (a retry finds it done) and
//! loses nothing.

use crate::store::rows::from_millis;
use crate::store::writes::{SqlValue, Write, Written};
use crate::store::{
    ClaimedEvent, EnqueueOutcome, FOLLOWUP_DELIVERY_PREFIX, FOLLOWUP_EVENT_KIND, NewInboxEvent,
    StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, Statement};
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Upper bound of writes committed together (keeps one transaction short).
const MAX_BATCH: usize = 512;

/// Writes waiting for the writer thread before callers are held back.
const QUEUE_CAPACITY: usize = 4096;

pub(super) enum WriteRequest {
    Append {
        event: NewInboxEvent,
        reply: oneshot::Sender<StoreResult<EnqueueOutcome>>,
    },
    Execute {
        write: Write,
        reply: oneshot::Sender<Result<Written, sqlx::Error>>,
    },
    /// Leases the next claimable event (`super::CLAIM_SQL`).
    Claim {
        now_ms: i64,
        worker_id: String,
        lease_until_ms: i64,
        reply: oneshot::Sender<StoreResult<Option<ClaimedEvent>>>,
    },
    /// Queues the follow-ups due by `now_ms` as inbox events; answers how many fired.
    PromoteFollowups {
        now_ms: i64,
        reply: oneshot::Sender<StoreResult<u64>>,
    },
}

/// What a request produced, held until the batch is committed.
enum Produced {
    Append(StoreResult<EnqueueOutcome>),
    Execute(Result<Written, sqlx::Error>),
    Claim(StoreResult<Option<ClaimedEvent>>),
    PromoteFollowups(StoreResult<u64>),
}

/// Opens the write connection to `path` and starts the writer thread; it ends when every
/// sender is dropped (the store was dropped).
pub(super) fn start(
    path: &Path,
    busy_timeout: Duration,
) -> StoreResult<mpsc::Sender<WriteRequest>> {
    let conn = open(path, busy_timeout).map_err(database)?;
    let (sender, requests) = mpsc::channel(QUEUE_CAPACITY);
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || run(conn, requests))
        .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
    Ok(sender)
}

/// The same settings as the sqlx connections (`super::connect_options`).
fn open(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn run(conn: Connection, mut requests: mpsc::Receiver<WriteRequest>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = requests.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch);
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<WriteRequest>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return fail_all(batch.drain(..), &e);
    }
    let produced: Vec<Produced> = batch.iter_mut().map(|r| perform(conn, r)).collect();
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return fail_all(batch.drain(..), &e);
    }
    for (request, result) in batch.drain(..).zip(produced) {
        // A caller may have gone away (a client disconnected); its write is committed anyway.
        match (request, result) {
            (WriteRequest::Append { reply, .. }, Produced::Append(r)) => {
                let _ = reply.send(r);
            }
            (WriteRequest::Execute { reply, .. }, Produced::Execute(r)) => {
                let _ = reply.send(r);
            }
            (WriteRequest::Claim { reply, .. }, Produced::Claim(r)) => {
                let _ = reply.send(r);
            }
            (WriteRequest::PromoteFollowups { reply, .. }, Produced::PromoteFollowups(r)) => {
                let _ = reply.send(r);
            }
            _ => unreachable!("results are produced in request order, one per request"),
        }
    }
}

fn perform(conn: &Connection, request: &mut WriteRequest) -> Produced {
    match request {
        WriteRequest::Append { event, .. } => Produced::Append(append(conn, event)),
        WriteRequest::Execute { write, .. } => {
            Produced::Execute(execute(conn, write).map(Written::new).map_err(sqlx_error))
        }
        WriteRequest::Claim {
            now_ms,
            worker_id,
            lease_until_ms,
            ..
        } => Produced::Claim(claim(conn, *now_ms, worker_id, *lease_until_ms)),
        WriteRequest::PromoteFollowups { now_ms, .. } => {
            Produced::PromoteFollowups(promote_followups(conn, *now_ms).map_err(database))
        }
    }
}

/// Binds `$1…$N` by name: SQLite numbers `$N` parameters in the order they first appear,
/// which need not be N.
fn bind(statement: &mut Statement<'_>, params: &[SqlValue]) -> rusqlite::Result<()> {
    const NAMES: [&str; 12] = [
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12",
    ];
    for (i, value) in params.iter().enumerate() {
        // No allocation per parameter on the writer thread for the statements the store has.
        let name = match NAMES.get(i) {
            Some(n) => std::borrow::Cow::Borrowed(*n),
            None => std::borrow::Cow::Owned(format!("${}", i + 1)),
        };
        let Some(index) = statement.parameter_index(&name)? else {
            continue;
        };
        match value {
            SqlValue::Int(v) => statement.raw_bind_parameter(index, v)?,
            SqlValue::Text(v) => statement.raw_bind_parameter(index, v)?,
        }
    }
    Ok(())
}

fn execute(conn: &Connection, write: &Write) -> rusqlite::Result<u64> {
    let mut statement = conn.prepare_cached(&write.sql)?;
    bind(&mut statement, &write.params)?;
    statement.raw_execute()?;
    Ok(conn.changes())
}

fn append(conn: &Connection, event: &NewInboxEvent) -> StoreResult<EnqueueOutcome> {
    let received_ms = crate::store::rows::to_millis(event.received_at);
    let inserted: Option<i64> = conn
        .prepare_cached(
            "INSERT INTO inbox_events
                 (delivery_id, event_kind, issue_key, payload, status, attempts,
                  available_at, received_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', 0, 0, ?5, ?5)
             ON CONFLICT (delivery_id) DO NOTHING
             RETURNING id",
        )
        .and_then(|mut s| {
            s.query_row(
                (
                    &event.delivery_id,
                    &event.event_kind,
                    &event.issue_key,
                    &event.payload,
                    received_ms,
                ),
                |row| row.get(0),
            )
            .optional()
        })
        .map_err(database)?;
    if let Some(id) = inserted {
        return Ok(EnqueueOutcome::Accepted(id));
    }
    let id = conn
        .prepare_cached("SELECT id FROM inbox_events WHERE delivery_id = ?1")
        .and_then(|mut s| s.query_row([&event.delivery_id], |row| row.get(0)))
        .map_err(database)?;
    Ok(EnqueueOutcome::Duplicate(id))
}

fn claim(
    conn: &Connection,
    now_ms: i64,
    worker_id: &str,
    lease_until_ms: i64,
) -> StoreResult<Option<ClaimedEvent>> {
    let params = [
        SqlValue::Int(Some(now_ms)),
        SqlValue::Text(Some(worker_id.to_string())),
        SqlValue::Int(Some(lease_until_ms)),
    ];
    let row = (|| {
        let mut statement = conn.prepare_cached(super::CLAIM_SQL)?;
        bind(&mut statement, &params)?;
        let mut rows = statement.raw_query();
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        Ok(Some((
            row.get::<_, i64>("id")?,
            row.get::<_, String>("delivery_id")?,
            row.get::<_, String>("event_kind")?,
            row.get::<_, String>("issue_key")?,
            row.get::<_, String>("payload")?,
            row.get::<_, i64>("attempts")?,
            row.get::<_, i64>("received_at")?,
        )))
    })()
    .map_err(database)?;
    let Some((id, delivery_id, event_kind, issue_key, payload, attempts, received_at)) = row else {
        return Ok(None);
    };
    Ok(Some(ClaimedEvent {
        id,
        delivery_id,
        event_kind,
        issue_key,
        payload,
        attempts,
        received_at: from_millis(received_at)?,
    }))
}

/// Fires the due follow-ups: inserted as inbox events (once, by delivery id) and marked fired,
/// in the batch's transaction.
fn promote_followups(conn: &Connection, now_ms: i64) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "INSERT INTO inbox_events
             (delivery_id, event_kind, issue_key, payload, status, attempts,
              available_at, received_at, updated_at)
         SELECT ?2 || key, ?3, issue_key, payload, 'pending', 0, ?1, ?1, ?1
         FROM followups
         WHERE fired_at IS NULL AND due_at <= ?1
         ORDER BY due_at, key
         ON CONFLICT (delivery_id) DO NOTHING",
    )?
    .execute((now_ms, FOLLOWUP_DELIVERY_PREFIX, FOLLOWUP_EVENT_KIND))?;
    let fired = conn
        .prepare_cached(
            "UPDATE followups SET fired_at = ?1 WHERE fired_at IS NULL AND due_at <= ?1",
        )?
        .execute([now_ms])?;
    Ok(fired as u64)
}

/// A rusqlite error as the store's error type (which speaks sqlx's).
fn sqlx_error(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(e.to_string()))
}

fn database(e: rusqlite::Error) -> StoreError {
    StoreError::Database(sqlx_error(e))
}

/// Nothing of the batch was committed: every caller gets the error, as text.
fn fail_all(requests: impl Iterator<Item = WriteRequest>, error: &rusqlite::Error) {
    let err = || {
        sqlx::Error::Io(std::io::Error::other(format!(
            "write not committed: {error}"
        )))
    };
    for request in requests {
        match request {
            WriteRequest::Append { reply, .. } => {
                let _ = reply.send(Err(StoreError::Database(err())));
            }
            WriteRequest::Execute { reply, .. } => {
                let _ = reply.send(Err(err()));
            }
            WriteRequest::Claim { reply, .. } => {
                let _ = reply.send(Err(StoreError::Database(err())));
            }
            WriteRequest::PromoteFollowups { reply, .. } => {
                let _ = reply.send(Err(StoreError::Database(err())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer thread's connection is as durable as the sqlx ones: WAL, `synchronous=FULL`,
    /// no automatic checkpoint inside a commit, foreign keys on.
    #[test]
    fn the_writer_connection_is_durable_wal_without_autocheckpoint() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("lf.db"), Duration::from_secs(5)).unwrap();
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "FULL");
        assert_eq!(pragma("wal_autocheckpoint"), "0");
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("busy_timeout"), "5000");
    }

    /// `$N` is bound by name: SQLite numbers parameters in the order they first appear.
    #[test]
    fn parameters_bind_by_their_number_not_their_position() {
        let conn = Connection::open_in_memory().unwrap();
        let mut statement = conn.prepare("SELECT $2 || '-' || $1").unwrap();
        bind(
            &mut statement,
            &[SqlValue::from("one"), SqlValue::from("two")],
        )
        .unwrap();
        let mut rows = statement.raw_query();
        let got: String = rows.next().unwrap().unwrap().get(0).unwrap();
        assert_eq!(got, "two-one");
        drop(rows);

        // Past the precomputed names.
        let sql = format!(
            "SELECT $13 || {}",
            (1..=12)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(" || ")
        );
        let mut statement = conn.prepare(&sql).unwrap();
        let params: Vec<SqlValue> = (1..=13).map(|n| SqlValue::from(n.to_string())).collect();
        bind(&mut statement, &params).unwrap();
        let mut rows = statement.raw_query();
        let got: String = rows.next().unwrap().unwrap().get(0).unwrap();
        assert_eq!(got, "13123456789101112");
    }
}
