//! Group commit for webhook appends. Every append must be durable (`synchronous=FULL`) before
//! ingest answers 2xx, and a durable commit costs an fsync. One writer task takes whatever
//! appends are waiting, writes them in one transaction and commits once, so the fsync cost is
//! shared by the batch: throughput follows the request rate instead of being capped at one
//! append per fsync.

use crate::store::rows::to_millis;
use crate::store::{EnqueueOutcome, NewInboxEvent, StoreError, StoreResult};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

/// Upper bound of appends committed together (keeps one transaction short).
const MAX_BATCH: usize = 512;

/// Appends waiting for the writer task before `enqueue` callers are held back.
pub(super) const QUEUE_CAPACITY: usize = 4096;

pub(super) struct AppendRequest {
    pub event: NewInboxEvent,
    pub reply: oneshot::Sender<StoreResult<EnqueueOutcome>>,
}

/// Runs until every sender is dropped (the store was dropped).
pub(super) async fn run_writer(pool: SqlitePool, mut requests: mpsc::Receiver<AppendRequest>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit_batch(&pool, &mut batch).await;
    }
}

async fn commit_batch(pool: &SqlitePool, batch: &mut Vec<AppendRequest>) {
    let mut tx = match pool.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch.drain(..), &e),
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for request in batch.iter() {
        outcomes.push(insert(&mut tx, &request.event).await);
    }
    if let Err(e) = tx.commit().await {
        return fail_all(batch.drain(..), &e);
    }
    for (request, outcome) in batch.drain(..).zip(outcomes) {
        // The caller may have gone away (client disconnected); the event is stored anyway.
        let _ = request.reply.send(outcome);
    }
}

/// One insert; a duplicate `delivery_id` (also within the same batch) is looked up instead.
async fn insert(conn: &mut SqliteConnection, event: &NewInboxEvent) -> StoreResult<EnqueueOutcome> {
    Ok(crate::store::shared::insert_event!(&mut *conn, event))
}

/// Nothing of the batch was committed: every caller gets the error (`sqlx::Error` is not
/// `Clone`, so each gets it as text).
fn fail_all(requests: impl Iterator<Item = AppendRequest>, error: &sqlx::Error) {
    for request in requests {
        let shared = std::io::Error::other(format!("inbox append not committed: {error}"));
        let _ = request
            .reply
            .send(Err(StoreError::Database(sqlx::Error::Io(shared))));
    }
}
