//! Delayed follow-ups: scheduled once, promoted into the inbox once, even with many promoters.

use crate::harness::{TestDb, at};
use chrono::Duration;
use labelflow::store::{FollowupPayload, NewFollowup};
use std::time::Duration as StdDuration;

fn followup(key: &str, issue_key: &str, due_in: Duration) -> NewFollowup {
    NewFollowup {
        key: key.to_string(),
        issue_key: issue_key.to_string(),
        due_at: at(due_in),
        payload: FollowupPayload {
            followup: key.to_string(),
            project_id: 1,
            iid: 1,
            project_path: "group/project".to_string(),
            key: format!("{key}/key"),
        },
    }
}

pub async fn followups_are_scheduled_and_promoted_once(db: TestDb) {
    let store = db.open().await;
    let five_days = Duration::days(5);
    assert!(
        store
            .schedule_followup(followup("remind", "1#1", five_days))
            .await
            .unwrap()
    );
    assert!(
        !store
            .schedule_followup(followup("remind", "1#1", Duration::days(9)))
            .await
            .unwrap()
    );
    assert!(
        store
            .schedule_followup(followup("later", "1#2", Duration::days(6)))
            .await
            .unwrap()
    );

    let listed = store.list_followups(10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].key, "remind");
    assert_eq!(listed[0].issue_key, "1#1");
    assert_eq!(listed[0].due_at, at(five_days), "the first schedule wins");
    assert!(!listed[0].fired);
    assert_eq!(store.list_followups(1).await.unwrap().len(), 1);

    let just_before = at(five_days - Duration::milliseconds(1));
    assert_eq!(store.promote_due_followups(just_before).await.unwrap(), 0);
    assert_eq!(store.promote_due_followups(at(five_days)).await.unwrap(), 1);
    assert_eq!(store.promote_due_followups(at(five_days)).await.unwrap(), 0);
    let listed = store.list_followups(10).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|f| (f.key.as_str(), f.fired))
            .collect::<Vec<_>>(),
        vec![("remind", true), ("later", false)]
    );
    // A fired key cannot be scheduled again.
    assert!(
        !store
            .schedule_followup(followup("remind", "1#1", Duration::days(7)))
            .await
            .unwrap()
    );
    assert_eq!(store.queue_stats().await.unwrap().pending, 1);
}

pub async fn promoted_followup_is_claimable_as_a_followup_event(db: TestDb) {
    let store = db.open().await;
    store
        .schedule_followup(followup("remind", "14#23", Duration::days(5)))
        .await
        .unwrap();
    let due = at(Duration::days(5));
    assert_eq!(store.promote_due_followups(due).await.unwrap(), 1);
    let claimed = store
        .claim("w", StdDuration::from_secs(30), due)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.event_kind, "Followup");
    assert_eq!(claimed.delivery_id, "followup:remind");
    assert_eq!(claimed.issue_key, "14#23");
    let payload: FollowupPayload = serde_json::from_str(&claimed.payload).unwrap();
    assert_eq!(payload.followup, "remind");
    assert_eq!(claimed.event_kind, labelflow::store::FOLLOWUP_EVENT_KIND);
    assert_eq!(claimed.attempts, 1);
    store.complete(claimed.id, "w", due).await.unwrap();
}

pub async fn concurrent_promoters_fire_each_followup_once(db: TestDb) {
    const FOLLOWUPS: usize = 60;
    let first = db.open().await;
    for n in 0..FOLLOWUPS {
        let issue = format!("1#{}", n % 7);
        assert!(
            first
                .schedule_followup(followup(&format!("f-{n}"), &issue, Duration::minutes(1)))
                .await
                .unwrap()
        );
    }
    // Several stores (replicas), several promoters each, all at once.
    let mut stores = vec![first];
    for _ in 0..2 {
        stores.push(db.open().await);
    }
    let mut promoters = Vec::new();
    for round in 0..12 {
        let store = stores[round % stores.len()].clone();
        promoters.push(tokio::spawn(async move {
            store
                .promote_due_followups(at(Duration::minutes(1)))
                .await
                .unwrap()
        }));
    }
    let mut moved = 0;
    for task in promoters {
        moved += task.await.unwrap();
    }
    assert_eq!(moved, FOLLOWUPS as u64);
    let stats = stores[0].queue_stats().await.unwrap();
    assert_eq!(stats.pending, FOLLOWUPS as i64);
    assert!(
        stores[0]
            .list_followups(100)
            .await
            .unwrap()
            .iter()
            .all(|f| f.fired)
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM inbox_events WHERE event_kind = 'Followup'")
            .await,
        FOLLOWUPS as i64
    );
}
