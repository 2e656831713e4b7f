//! `labelflow-ceiling`: the least a durable webhook receiver must do, as the ceiling labelflow's
//! ingest is measured against (issue 21). It does only what ingest must:
//! - axum, with a constant-time `X-Gitlab-Token` check;
//! - one `serde_json` parse of the body (400 if it is not JSON);
//! - one writer thread that group-commits appends to SQLite in WAL mode with
//!   `synchronous=FULL` through `rusqlite`, deduplicating on the delivery id;
//! - WAL checkpoints on another thread, never inside a commit;
//! - `2xx` only after the commit.
//!
//! It is not a product: no verification beyond the token, no limits, no metrics, no logs.
//!
//! Usage: `labelflow-ceiling LISTEN_ADDR DATABASE_FILE` with the token in
//! `CEILING_WEBHOOK_SECRET`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use bytes::Bytes;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;

/// Appends committed together at most.
const MAX_BATCH: usize = 512;
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

struct Append {
    delivery_id: String,
    body: Bytes,
    /// `true`: stored now; `false`: a duplicate delivery.
    reply: oneshot::Sender<Result<bool, String>>,
}

#[derive(Clone)]
struct Receiver {
    secret: Arc<[u8]>,
    appends: std_mpsc::Sender<Append>,
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// The writer thread: waits for one append, takes every other one already queued, commits
/// them in one transaction, then answers each.
fn write_loop(conn: Connection, appends: std_mpsc::Receiver<Append>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = appends.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match appends.try_recv() {
                Ok(a) => batch.push(a),
                Err(_) => break,
            }
        }
        let result = commit(&conn, &batch);
        for (i, append) in batch.drain(..).enumerate() {
            let answer = match &result {
                Ok(stored) => Ok(stored[i]),
                Err(e) => Err(e.to_string()),
            };
            let _ = append.reply.send(answer);
        }
    }
}

fn commit(conn: &Connection, batch: &[Append]) -> rusqlite::Result<Vec<bool>> {
    let tx = conn.unchecked_transaction()?;
    let mut stored = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO inbox (delivery_id, payload) VALUES (?1, ?2)
             ON CONFLICT (delivery_id) DO NOTHING",
        )?;
        for a in batch {
            stored.push(insert.execute((&a.delivery_id, &a.body[..]))? == 1);
        }
    }
    tx.commit()?;
    Ok(stored)
}

fn checkpoint_loop(conn: Connection) {
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let token = headers
        .get("x-gitlab-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(token.ct_eq(&r.secret)) {
        return StatusCode::UNAUTHORIZED;
    }
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    let Some(delivery_id) = headers
        .get("webhook-id")
        .or_else(|| headers.get("idempotency-key"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return StatusCode::BAD_REQUEST;
    };
    let (reply, stored) = oneshot::channel();
    let append = Append {
        delivery_id,
        body,
        reply,
    };
    if r.appends.send(append).is_err() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match stored.await {
        Ok(Ok(true)) => StatusCode::ACCEPTED,
        Ok(Ok(false)) => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(database)) = (args.next(), args.next().map(PathBuf::from)) else {
        eprintln!("usage: labelflow-ceiling LISTEN_ADDR DATABASE_FILE");
        std::process::exit(2);
    };
    let secret = std::env::var("CEILING_WEBHOOK_SECRET").unwrap_or_default();
    if let Err(e) = run(&listen, &database, secret) {
        eprintln!("labelflow-ceiling: {e}");
        std::process::exit(1);
    }
}

fn run(listen: &str, database: &Path, secret: String) -> Result<(), Box<dyn std::error::Error>> {
    let writer = open(database)?;
    writer.execute_batch(
        "CREATE TABLE IF NOT EXISTS inbox (
             id INTEGER PRIMARY KEY,
             delivery_id TEXT NOT NULL UNIQUE,
             payload BLOB NOT NULL)",
    )?;
    let checkpointer = open(database)?;
    let (appends, queue) = std_mpsc::channel();
    std::thread::spawn(move || write_loop(writer, queue));
    std::thread::spawn(move || checkpoint_loop(checkpointer));
    let state = Receiver {
        secret: secret.into_bytes().into(),
        appends,
    };
    let app = Router::new()
        .route("/webhooks/gitlab", post(receive))
        .route("/healthz", get(|| async { StatusCode::OK }))
        .with_state(state);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, app).await
    })?;
    Ok(())
}
