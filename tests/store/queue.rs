//! Inbox and queue semantics: dedupe, per-issue order, leases, retries, parking, listing.

use crate::harness::{TestDb, at, event, t0};
use chrono::Duration;
use labelflow::store::{EnqueueOutcome, EventStatus, StoreError};
use std::time::Duration as StdDuration;

const LEASE: StdDuration = StdDuration::from_secs(30);

fn accepted(outcome: EnqueueOutcome) -> i64 {
    match outcome {
        EnqueueOutcome::Accepted(id) => id,
        other => panic!("expected Accepted, got {other:?}"),
    }
}

pub async fn enqueue_detects_duplicates(db: TestDb) {
    let store = db.open().await;
    let first = accepted(store.enqueue(event("d-1", "14#23")).await.unwrap());
    let mut again = event("d-1", "14#23");
    again.payload = "{\"other\":true}".into();
    assert_eq!(
        store.enqueue(again).await.unwrap(),
        EnqueueOutcome::Duplicate(first)
    );
    let second = accepted(store.enqueue(event("d-2", "14#23")).await.unwrap());
    assert!(second > first);

    // The same delivery arriving many times at once is stored once.
    let mut racing = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        racing.push(tokio::spawn(async move {
            store.enqueue(event("d-3", "14#24")).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for task in racing {
        outcomes.push(task.await.unwrap());
    }
    let ids: Vec<i64> = outcomes
        .iter()
        .map(|o| match o {
            EnqueueOutcome::Accepted(id) | EnqueueOutcome::Duplicate(id) => *id,
        })
        .collect();
    let accepted_count = outcomes
        .iter()
        .filter(|o| matches!(o, EnqueueOutcome::Accepted(_)))
        .count();
    assert_eq!(accepted_count, 1);
    assert!(ids.iter().all(|id| *id == ids[0]));

    let stats = store.queue_stats().await.unwrap();
    assert_eq!(stats.pending, 3);
    // The first payload is the one kept.
    let claimed = store.claim("w", LEASE, t0()).await.unwrap().unwrap();
    assert_eq!(claimed.id, first);
    assert_eq!(claimed.payload, "{\"delivery\":\"d-1\"}");
}

pub async fn claims_follow_arrival_order_within_an_issue(db: TestDb) {
    let store = db.open().await;
    let mut ids = Vec::new();
    for d in ["a-1", "a-2", "a-3"] {
        ids.push(accepted(store.enqueue(event(d, "1#1")).await.unwrap()));
    }
    for (n, expected) in ids.iter().enumerate() {
        let claimed = store.claim("w1", LEASE, t0()).await.unwrap().unwrap();
        assert_eq!(claimed.id, *expected, "claim #{n}");
        assert_eq!(claimed.attempts, 1);
        assert_eq!(claimed.issue_key, "1#1");
        assert_eq!(claimed.event_kind, "Issue Hook");
        assert_eq!(claimed.received_at, t0());
        // The next event of the issue waits while this one runs.
        assert!(store.claim("w2", LEASE, t0()).await.unwrap().is_none());
        store.complete(claimed.id, "w1", t0()).await.unwrap();
    }
    assert!(store.claim("w1", LEASE, t0()).await.unwrap().is_none());
    assert_eq!(store.queue_stats().await.unwrap().done, 3);
}

pub async fn different_issues_are_claimed_in_parallel(db: TestDb) {
    let store = db.open().await;
    let x1 = accepted(store.enqueue(event("x-1", "1#1")).await.unwrap());
    let _x2 = accepted(store.enqueue(event("x-2", "1#1")).await.unwrap());
    let y1 = accepted(store.enqueue(event("y-1", "1#2")).await.unwrap());
    let z1 = accepted(store.enqueue(event("z-1", "2#1")).await.unwrap());
    let claimed: Vec<i64> = [
        store.claim("w1", LEASE, t0()).await.unwrap().unwrap().id,
        store.claim("w2", LEASE, t0()).await.unwrap().unwrap().id,
        store.claim("w3", LEASE, t0()).await.unwrap().unwrap().id,
    ]
    .to_vec();
    assert_eq!(claimed, vec![x1, y1, z1]);
    assert!(store.claim("w4", LEASE, t0()).await.unwrap().is_none());
    assert_eq!(store.queue_stats().await.unwrap().running, 3);
}

pub async fn retry_wait_blocks_the_issue_and_keeps_the_head(db: TestDb) {
    let store = db.open().await;
    let a1 = accepted(store.enqueue(event("a-1", "1#1")).await.unwrap());
    let a2 = accepted(store.enqueue(event("a-2", "1#1")).await.unwrap());
    let b1 = accepted(store.enqueue(event("b-1", "1#2")).await.unwrap());

    let claimed = store.claim("w1", LEASE, t0()).await.unwrap().unwrap();
    assert_eq!(claimed.id, a1);
    let retry_at = at(Duration::seconds(10));
    store
        .retry_later(a1, "w1", retry_at, "GitLab answered 502", t0())
        .await
        .unwrap();
    let record = store.get_event(a1).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Pending);
    assert_eq!(record.last_error.as_deref(), Some("GitLab answered 502"));

    // a-1 waits for its retry time and a-2 waits behind it; b-1 proceeds.
    let now = at(Duration::seconds(1));
    assert_eq!(store.claim("w1", LEASE, now).await.unwrap().unwrap().id, b1);
    assert!(store.claim("w1", LEASE, now).await.unwrap().is_none());
    let just_before = retry_at - Duration::milliseconds(1);
    assert!(
        store
            .claim("w1", LEASE, just_before)
            .await
            .unwrap()
            .is_none()
    );

    let retried = store.claim("w2", LEASE, retry_at).await.unwrap().unwrap();
    assert_eq!(retried.id, a1);
    assert_eq!(retried.attempts, 2);
    store.complete(a1, "w2", retry_at).await.unwrap();
    let next = store.claim("w2", LEASE, retry_at).await.unwrap().unwrap();
    assert_eq!(next.id, a2);
    assert_eq!(next.attempts, 1);
}

pub async fn expired_lease_is_taken_over_and_the_old_holder_loses(db: TestDb) {
    let store = db.open().await;
    let a1 = accepted(store.enqueue(event("a-1", "1#1")).await.unwrap());
    let a2 = accepted(store.enqueue(event("a-2", "1#1")).await.unwrap());
    assert_eq!(
        store.claim("w1", LEASE, t0()).await.unwrap().unwrap().id,
        a1
    );

    let before_expiry = at(Duration::seconds(30) - Duration::milliseconds(1));
    assert!(
        store
            .claim("w2", LEASE, before_expiry)
            .await
            .unwrap()
            .is_none()
    );
    let expiry = at(Duration::seconds(30));
    let taken = store.claim("w2", LEASE, expiry).await.unwrap().unwrap();
    assert_eq!(taken.id, a1);
    assert_eq!(taken.attempts, 2);
    // Taken over, not duplicated: a-2 still waits.
    assert!(store.claim("w3", LEASE, expiry).await.unwrap().is_none());

    let lost = |r: Result<(), StoreError>| matches!(r, Err(StoreError::LeaseLost(id)) if id == a1);
    assert!(lost(store.complete(a1, "w1", expiry).await));
    assert!(lost(
        store.retry_later(a1, "w1", expiry, "late", expiry).await
    ));
    assert!(lost(store.park(a1, "w1", "late", expiry).await));
    assert_eq!(
        store.get_event(a1).await.unwrap().unwrap().status,
        EventStatus::Running
    );

    store.complete(a1, "w2", expiry).await.unwrap();
    // Completing twice, or an unknown event, is a lost lease too.
    assert!(lost(store.complete(a1, "w2", expiry).await));
    assert!(matches!(
        store.complete(999_999, "w2", expiry).await,
        Err(StoreError::LeaseLost(999_999))
    ));
    assert_eq!(
        store.claim("w3", LEASE, expiry).await.unwrap().unwrap().id,
        a2
    );
}

pub async fn parked_events_do_not_block_later_ones(db: TestDb) {
    let store = db.open().await;
    let a1 = accepted(store.enqueue(event("a-1", "1#1")).await.unwrap());
    let a2 = accepted(store.enqueue(event("a-2", "1#1")).await.unwrap());
    store.claim("w1", LEASE, t0()).await.unwrap().unwrap();
    store
        .park(a1, "w1", "403 Forbidden: bot lacks Reporter access", t0())
        .await
        .unwrap();
    assert_eq!(
        store.claim("w1", LEASE, t0()).await.unwrap().unwrap().id,
        a2
    );

    let parked = store
        .list_events(Some(EventStatus::Parked), 10)
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].id, a1);
    assert_eq!(
        parked[0].last_error.as_deref(),
        Some("403 Forbidden: bot lacks Reporter access")
    );
    assert_eq!(parked[0].attempts, 1);
}

pub async fn retry_parked_requeues_without_a_second_holder(db: TestDb) {
    let store = db.open().await;
    let a1 = accepted(store.enqueue(event("a-1", "1#1")).await.unwrap());
    let a2 = accepted(store.enqueue(event("a-2", "1#1")).await.unwrap());
    store.claim("w1", LEASE, t0()).await.unwrap().unwrap();
    store.park(a1, "w1", "bad", t0()).await.unwrap();
    assert_eq!(
        store.claim("w1", LEASE, t0()).await.unwrap().unwrap().id,
        a2
    );

    // Re-queued while a-2 of the same issue runs: it waits for a-2.
    assert!(
        store
            .retry_parked(a1, at(Duration::seconds(1)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .retry_parked(a1, at(Duration::seconds(1)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .retry_parked(a2, at(Duration::seconds(1)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .retry_parked(999_999, at(Duration::seconds(1)))
            .await
            .unwrap()
    );
    let record = store.get_event(a1).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Pending);
    assert_eq!(record.attempts, 0);
    assert_eq!(record.updated_at, at(Duration::seconds(1)));
    assert!(
        store
            .claim("w2", LEASE, at(Duration::seconds(1)))
            .await
            .unwrap()
            .is_none()
    );

    store
        .complete(a2, "w1", at(Duration::seconds(2)))
        .await
        .unwrap();
    let again = store
        .claim("w2", LEASE, at(Duration::seconds(2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, a1);
    assert_eq!(again.attempts, 1);
}

pub async fn release_leases_returns_a_workers_events(db: TestDb) {
    let store = db.open().await;
    let a = accepted(store.enqueue(event("a", "1#1")).await.unwrap());
    let b = accepted(store.enqueue(event("b", "1#2")).await.unwrap());
    let c = accepted(store.enqueue(event("c", "1#3")).await.unwrap());
    assert_eq!(store.claim("w1", LEASE, t0()).await.unwrap().unwrap().id, a);
    assert_eq!(store.claim("w1", LEASE, t0()).await.unwrap().unwrap().id, b);
    assert_eq!(store.claim("w2", LEASE, t0()).await.unwrap().unwrap().id, c);

    assert_eq!(store.release_leases("w1", t0()).await.unwrap(), 2);
    assert_eq!(store.release_leases("w1", t0()).await.unwrap(), 0);
    let stats = store.queue_stats().await.unwrap();
    assert_eq!((stats.pending, stats.running), (2, 1));
    assert!(matches!(
        store.complete(a, "w1", t0()).await,
        Err(StoreError::LeaseLost(_))
    ));

    // Released before their leases expired; the interrupted attempt stays counted, so the
    // next attempt knows it may be recovering from partial work.
    let again = store.claim("w3", LEASE, t0()).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (a, 2));
    assert_eq!(store.claim("w3", LEASE, t0()).await.unwrap().unwrap().id, b);
    assert!(store.claim("w3", LEASE, t0()).await.unwrap().is_none());
}

pub async fn list_and_get_events(db: TestDb) {
    let store = db.open().await;
    let mut ids = Vec::new();
    for (d, issue) in [("d-1", "1#1"), ("d-2", "1#2"), ("d-3", "1#3")] {
        let mut e = event(d, issue);
        e.event_kind = "Note Hook".into();
        ids.push(accepted(store.enqueue(e).await.unwrap()));
    }
    let all = store.list_events(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1], ids[0]]
    );
    let newest_two = store.list_events(None, 2).await.unwrap();
    assert_eq!(
        newest_two.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    assert!(store.list_events(None, 0).await.unwrap().is_empty());
    assert!(
        store
            .list_events(Some(EventStatus::Done), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let claimed = store.claim("w", LEASE, t0()).await.unwrap().unwrap();
    let finished_at = at(Duration::seconds(3));
    store.complete(claimed.id, "w", finished_at).await.unwrap();
    let done = store
        .list_events(Some(EventStatus::Done), 10)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    let record = &done[0];
    assert_eq!(record.id, ids[0]);
    assert_eq!(record.delivery_id, "d-1");
    assert_eq!(record.event_kind, "Note Hook");
    assert_eq!(record.issue_key, "1#1");
    assert_eq!(record.status, EventStatus::Done);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.last_error, None);
    assert_eq!(record.received_at, t0());
    assert_eq!(record.updated_at, finished_at);
    assert_eq!(
        store
            .list_events(Some(EventStatus::Pending), 10)
            .await
            .unwrap()
            .len(),
        2
    );

    let fetched = store.get_event(ids[1]).await.unwrap().unwrap();
    assert_eq!(fetched.delivery_id, "d-2");
    assert_eq!(fetched.status, EventStatus::Pending);
    assert!(store.get_event(999_999).await.unwrap().is_none());
}

pub async fn queue_stats_count_each_status(db: TestDb) {
    let store = db.open().await;
    let empty = store.queue_stats().await.unwrap();
    assert_eq!(
        (empty.pending, empty.running, empty.parked, empty.done),
        (0, 0, 0, 0)
    );
    assert_eq!(empty.oldest_pending_received_at, None);

    for (n, issue) in ["1#1", "1#2", "1#3", "1#4", "1#5"].iter().enumerate() {
        let mut e = event(&format!("d-{n}"), issue);
        e.received_at = at(Duration::seconds(n as i64));
        store.enqueue(e).await.unwrap();
    }
    let first = store.claim("w", LEASE, t0()).await.unwrap().unwrap();
    store.complete(first.id, "w", t0()).await.unwrap();
    let second = store.claim("w", LEASE, t0()).await.unwrap().unwrap();
    store.park(second.id, "w", "bad", t0()).await.unwrap();
    store.claim("w", LEASE, t0()).await.unwrap().unwrap();

    let stats = store.queue_stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.running, stats.parked, stats.done),
        (2, 1, 1, 1)
    );
    assert_eq!(
        stats.oldest_pending_received_at,
        Some(at(Duration::seconds(3)))
    );
}

pub async fn data_survives_closing_and_reopening(db: TestDb) {
    let (a1, a2) = {
        let store = db.open().await;
        let a1 = accepted(store.enqueue(event("a-1", "1#1")).await.unwrap());
        let a2 = accepted(store.enqueue(event("a-2", "1#1")).await.unwrap());
        store.claim("w", LEASE, t0()).await.unwrap().unwrap();
        store.complete(a1, "w", t0()).await.unwrap();
        store
            .ledger_put("k-1", "1#1", "{\"note\":7}", t0())
            .await
            .unwrap();
        let followup = labelflow::store::NewFollowup {
            key: "remind-pm".into(),
            issue_key: "1#1".into(),
            due_at: at(Duration::days(5)),
            payload: labelflow::store::FollowupPayload {
                followup: "remind-pm".into(),
                project_id: 1,
                iid: 1,
                project_path: "group/project".into(),
                key: "remind-pm".into(),
            },
        };
        assert!(store.schedule_followup(followup).await.unwrap());
        (a1, a2)
    };
    // Let the dropped pools close their connections.
    tokio::time::sleep(StdDuration::from_millis(100)).await;

    let store = db.open().await;
    store.ready().await.unwrap();
    assert_eq!(
        store.get_event(a1).await.unwrap().unwrap().status,
        EventStatus::Done
    );
    assert_eq!(
        store.ledger_get("k-1").await.unwrap().as_deref(),
        Some("{\"note\":7}")
    );
    assert_eq!(store.list_followups(10).await.unwrap().len(), 1);
    assert_eq!(
        store.enqueue(event("a-1", "1#1")).await.unwrap(),
        EnqueueOutcome::Duplicate(a1)
    );
    let next = store.claim("w", LEASE, t0()).await.unwrap().unwrap();
    assert_eq!(next.id, a2);
    let third = accepted(store.enqueue(event("a-3", "1#1")).await.unwrap());
    assert!(third > a2);
}

pub async fn migrations_apply_once_even_when_replicas_start_together(db: TestDb) {
    let mut starting = Vec::new();
    for _ in 0..4 {
        let url = db.url.clone();
        starting.push(tokio::spawn(async move {
            labelflow::store::connect(&url).await.map(|_| ())
        }));
    }
    for task in starting {
        task.await.unwrap().unwrap();
    }
    let store = db.open().await;
    store.migrate().await.unwrap();
    store.ready().await.unwrap();
    // Each version recorded once, however many replicas raced to apply it.
    assert_eq!(
        db.scalar("SELECT COUNT(*) - COUNT(DISTINCT version) FROM labelflow_schema_migrations")
            .await,
        0
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) - MAX(version) FROM labelflow_schema_migrations")
            .await,
        0
    );
}
