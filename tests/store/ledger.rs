//! The action ledger: idempotency keys and the loop guard's counts.

use crate::harness::{TestDb, at, t0};
use chrono::Duration;

pub async fn ledger_keeps_the_first_result(db: TestDb) {
    let store = db.open().await;
    assert_eq!(
        store.ledger_get("wf:rule:14#23:change-9").await.unwrap(),
        None
    );
    store
        .ledger_put("wf:rule:14#23:change-9", "14#23", "{\"note_id\":1}", t0())
        .await
        .unwrap();
    store
        .ledger_put(
            "wf:rule:14#23:change-9",
            "14#23",
            "{\"note_id\":2}",
            at(Duration::seconds(1)),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .ledger_get("wf:rule:14#23:change-9")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"note_id\":1}")
    );
    // The second put recorded nothing, so the loop guard counts one action.
    assert_eq!(store.actions_since("14#23", t0()).await.unwrap(), 1);
}

pub async fn actions_since_counts_one_issue_in_a_window(db: TestDb) {
    let store = db.open().await;
    for (key, issue, offset) in [
        ("k-1", "1#1", 0),
        ("k-2", "1#1", 10),
        ("k-3", "1#1", 20),
        ("k-4", "1#2", 20),
    ] {
        store
            .ledger_put(key, issue, "{}", at(Duration::seconds(offset)))
            .await
            .unwrap();
    }
    assert_eq!(store.actions_since("1#1", t0()).await.unwrap(), 3);
    assert_eq!(
        store
            .actions_since("1#1", at(Duration::seconds(10)))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .actions_since("1#1", at(Duration::seconds(20) + Duration::milliseconds(1)))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.actions_since("1#2", t0()).await.unwrap(), 1);
    assert_eq!(store.actions_since("9#9", t0()).await.unwrap(), 0);
}
