//! SQLite specifics: the memory store, URL forms, WAL on disk, and group-committed appends.

use crate::harness::{event, t0, with_sqlite};
use labelflow::store::{EnqueueOutcome, StoreError, connect};
use sqlx::SqlitePool;
use std::time::{Duration, Instant};

#[tokio::test]
async fn memory_store_works_end_to_end() {
    let store = connect("sqlite::memory:").await.unwrap();
    store.ready().await.unwrap();
    let id = match store.enqueue(event("m-1", "1#1")).await.unwrap() {
        EnqueueOutcome::Accepted(id) => id,
        other => panic!("{other:?}"),
    };
    let claimed = store
        .claim("w", Duration::from_secs(5), t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, id);
    store.complete(id, "w", t0()).await.unwrap();
    assert_eq!(store.queue_stats().await.unwrap().done, 1);
}

#[tokio::test]
async fn unknown_database_schemes_are_refused() {
    match connect("mysql://localhost/labelflow").await {
        Err(StoreError::BadUrl(url)) => assert_eq!(url, "mysql://localhost/labelflow"),
        Err(other) => panic!("expected BadUrl, got {other}"),
        Ok(_) => panic!("expected BadUrl, got a store"),
    }
}

#[tokio::test]
async fn bare_paths_create_a_wal_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.db");
    let store = connect(path.to_str().unwrap()).await.unwrap();
    store.enqueue(event("w-1", "1#1")).await.unwrap();
    assert!(path.exists());
    let raw = SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    raw.close().await;
}

/// DESIGN §1.2 asks for ≥ 5,000 durable appends/s on 2 cores (release build). Debug builds
/// and a shared machine are slower, so the bound asserted here is lower; the rate is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_sustains_many_durable_appends() {
    with_sqlite(|db| async move {
        const APPENDS: usize = 5_000;
        const CLIENTS: usize = 64;
        let store = db.open().await;
        let started = Instant::now();
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            let store = store.clone();
            clients.push(tokio::spawn(async move {
                for n in (c..APPENDS).step_by(CLIENTS) {
                    let outcome = store
                        .enqueue(event(&format!("bulk-{n}"), &format!("3#{}", n % 50)))
                        .await
                        .unwrap();
                    assert!(matches!(outcome, EnqueueOutcome::Accepted(_)));
                }
            }));
        }
        for client in clients {
            client.await.unwrap();
        }
        let rate = APPENDS as f64 / started.elapsed().as_secs_f64();
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("SQLite durable appends: {rate:.0}/s\n").as_bytes(),
        );
        assert_eq!(store.queue_stats().await.unwrap().pending, APPENDS as i64);
        assert!(rate > 1_500.0, "only {rate:.0} appends/s");
    })
    .await;
}
