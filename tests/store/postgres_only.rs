//! PostgreSQL specifics: the per-issue advisory lock that serialises claims across replicas.

use crate::harness::{TestDb, event, t0, with_postgres};
use labelflow::store::EnqueueOutcome;
use labelflow::store::postgres::ISSUE_LOCK_SPACE;
use sqlx::PgPool;
use std::time::Duration;

/// While another replica is claiming an event of an issue (it holds the issue's advisory
/// lock), a claim passes that issue over instead of leasing a second event of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_pass_over_an_issue_another_replica_is_claiming() {
    with_postgres(|db: TestDb| async move {
        let store = db.open().await;
        let busy = match store.enqueue(event("busy-1", "1#1")).await.unwrap() {
            EnqueueOutcome::Accepted(id) => id,
            other => panic!("{other:?}"),
        };
        let free = match store.enqueue(event("free-1", "1#2")).await.unwrap() {
            EnqueueOutcome::Accepted(id) => id,
            other => panic!("{other:?}"),
        };

        let replica = PgPool::connect(&db.url).await.unwrap();
        let mut claiming = replica.begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(ISSUE_LOCK_SPACE)
            .bind("1#1")
            .execute(&mut *claiming)
            .await
            .unwrap();

        let lease = Duration::from_secs(30);
        assert_eq!(
            store.claim("w", lease, t0()).await.unwrap().unwrap().id,
            free
        );
        assert!(store.claim("w", lease, t0()).await.unwrap().is_none());

        claiming.rollback().await.unwrap();
        assert_eq!(
            store.claim("w", lease, t0()).await.unwrap().unwrap().id,
            busy
        );
        replica.close().await;
    })
    .await;
}
