//! Plans decided once, the labels last seen of an issue, and an event's plain-words detail.

use crate::harness::{TestDb, at, event, t0};
use chrono::Duration;
use labelflow::store::{NewPlan, PlanSource};

fn plan(key: &str, source: PlanSource, actions: &str) -> NewPlan {
    NewPlan {
        plan_key: key.to_string(),
        issue_key: "14#23".to_string(),
        source,
        event_id: Some(7),
        actions: actions.to_string(),
    }
}

pub async fn a_plan_is_stored_once_and_replaced_only_while_unfinished(db: TestDb) {
    let store = db.open().await;
    assert!(store.plan_get("14#23/note:1").await.unwrap().is_none());
    assert!(
        store
            .plan_put(plan("14#23/note:1", PlanSource::Event, "[1]"), t0())
            .await
            .unwrap()
    );
    // A second decider finds it taken and keeps the first plan.
    assert!(
        !store
            .plan_put(plan("14#23/note:1", PlanSource::Event, "[2]"), t0())
            .await
            .unwrap()
    );
    let stored = store.plan_get("14#23/note:1").await.unwrap().unwrap();
    assert_eq!(stored.actions, "[1]");
    assert_eq!(stored.event_id, Some(7));
    assert!(!stored.finished);

    assert!(
        store
            .plan_replace("14#23/note:1", "[3]", Some(8), at(Duration::seconds(1)))
            .await
            .unwrap()
    );
    let stored = store.plan_get("14#23/note:1").await.unwrap().unwrap();
    assert_eq!((stored.actions.as_str(), stored.event_id), ("[3]", Some(8)));

    store
        .plan_finish("14#23/note:1", at(Duration::seconds(2)))
        .await
        .unwrap();
    assert!(
        store
            .plan_get("14#23/note:1")
            .await
            .unwrap()
            .unwrap()
            .finished
    );
    // A finished plan is never made again.
    assert!(
        !store
            .plan_replace("14#23/note:1", "[4]", None, at(Duration::seconds(3)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .plan_replace("no-such-plan", "[4]", None, at(Duration::seconds(3)))
            .await
            .unwrap()
    );
}

pub async fn unfinished_plans_are_listed_by_source_oldest_first(db: TestDb) {
    let store = db.open().await;
    for (key, source, offset) in [
        ("sweep-b", PlanSource::Sweep, 2),
        ("event-a", PlanSource::Event, 0),
        ("sweep-a", PlanSource::Sweep, 1),
        ("sweep-done", PlanSource::Sweep, 0),
    ] {
        store
            .plan_put(plan(key, source, "[]"), at(Duration::seconds(offset)))
            .await
            .unwrap();
    }
    store.plan_finish("sweep-done", t0()).await.unwrap();
    let keys: Vec<String> = store
        .unfinished_plans(PlanSource::Sweep, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.plan_key)
        .collect();
    assert_eq!(keys, ["sweep-a", "sweep-b"]);
    assert_eq!(
        store
            .unfinished_plans(PlanSource::Sweep, 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn snapshots_keep_the_last_labels_seen(db: TestDb) {
    let store = db.open().await;
    assert_eq!(store.snapshot_get("14#23").await.unwrap(), None);
    store.snapshot_put("14#23", "[\"a\"]", t0()).await.unwrap();
    store
        .snapshot_put("14#23", "[\"a\",\"b\"]", at(Duration::seconds(1)))
        .await
        .unwrap();
    assert_eq!(
        store.snapshot_get("14#23").await.unwrap().as_deref(),
        Some("[\"a\",\"b\"]")
    );
    assert_eq!(store.snapshot_get("14#24").await.unwrap(), None);
}

pub async fn a_finished_event_keeps_its_detail_and_its_earlier_failure(db: TestDb) {
    let store = db.open().await;
    store.enqueue(event("d-1", "1#1")).await.unwrap();
    let c = store
        .claim("w", std::time::Duration::from_secs(30), t0())
        .await
        .unwrap()
        .unwrap();
    store
        .retry_later(c.id, "w", t0(), "GitLab answered 502", t0())
        .await
        .unwrap();
    let c = store
        .claim(
            "w",
            std::time::Duration::from_secs(30),
            at(Duration::seconds(1)),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .set_event_detail(c.id, "this change was already handled")
        .await
        .unwrap();
    store
        .complete(c.id, "w", at(Duration::seconds(2)))
        .await
        .unwrap();
    let record = store.get_event(c.id).await.unwrap().unwrap();
    // A done event shows no error; what failed before is kept in its detail.
    assert_eq!(record.last_error, None);
    assert_eq!(
        record.detail.as_deref(),
        Some("this change was already handled; an earlier try failed: GitLab answered 502")
    );
}
