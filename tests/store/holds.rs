//! A sweep's hold on an issue (`hold_issue`) and the worker's claims exclude each other: a hold
//! waits for the issue's webhook events, the worker starts none while the hold lasts, and of
//! many sweeps at once one gets it. A dead sweep's hold expires and is retired.

use crate::harness::{TestDb, at, event, t0};
use chrono::Duration as Days;
use labelflow::store::{EnqueueOutcome, StoreError};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);

pub async fn holds_and_claims_exclude_each_other(db: TestDb) {
    let store = db.open().await;
    let first = match store.enqueue(event("d-1", "7#1")).await.unwrap() {
        EnqueueOutcome::Accepted(id) => id,
        other => panic!("enqueue: {other:?}"),
    };
    // Pending, then running: the sweep is refused.
    assert_eq!(
        store
            .hold_issue("7#1", "sweep-a", LEASE, t0())
            .await
            .unwrap(),
        None
    );
    let claimed = store.claim("w", LEASE, t0()).await.unwrap().expect("claim");
    assert_eq!(claimed.id, first);
    assert_eq!(
        store
            .hold_issue("7#1", "sweep-a", LEASE, t0())
            .await
            .unwrap(),
        None
    );
    // Another issue is free.
    assert!(
        store
            .hold_issue("7#2", "sweep-a", LEASE, t0())
            .await
            .unwrap()
            .is_some()
    );
    store.complete(first, "w", t0()).await.unwrap();

    let hold = store
        .hold_issue("7#1", "sweep-a", LEASE, t0())
        .await
        .unwrap()
        .expect("free after the event is done");
    // Held: a second sweep is refused, and the worker starts no event of the issue.
    assert_eq!(
        store
            .hold_issue("7#1", "sweep-b", LEASE, t0())
            .await
            .unwrap(),
        None
    );
    store.enqueue(event("d-2", "7#1")).await.unwrap();
    assert!(store.claim("w", LEASE, t0()).await.unwrap().is_none());
    store.complete(hold, "sweep-a", t0()).await.unwrap();
    let next = store
        .claim("w", LEASE, t0())
        .await
        .unwrap()
        .expect("after the hold");
    assert_eq!(next.delivery_id, "d-2");
    store.complete(next.id, "w", t0()).await.unwrap();
}

pub async fn a_dead_sweeps_hold_expires(db: TestDb) {
    let store = db.open().await;
    let dead = store
        .hold_issue("7#3", "sweep-dead", LEASE, t0())
        .await
        .unwrap()
        .expect("hold");
    let later = at(Days::minutes(5));
    let fresh = store
        .hold_issue("7#3", "sweep-new", LEASE, later)
        .await
        .unwrap()
        .expect("the expired hold is retired");
    assert!(matches!(
        store.complete(dead, "sweep-dead", later).await,
        Err(StoreError::LeaseLost(_))
    ));
    store.complete(fresh, "sweep-new", later).await.unwrap();
}

pub async fn of_many_sweeps_at_once_one_holds(db: TestDb) {
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = db.open().await;
        tasks.push(tokio::spawn(async move {
            store
                .hold_issue("7#4", &format!("sweep-{n}"), LEASE, t0())
                .await
                .unwrap()
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            granted += 1;
        }
    }
    assert_eq!(granted, 1);
}
