//! Decision traces: stored per event (a later try replaces the earlier one), read back per
//! issue oldest first, pruned by age and by count together with old finished plans; and what
//! `explain` reads (follow-ups due, when a ledger key was recorded and by which event).

use crate::harness::{TestDb, at, t0};
use chrono::Duration;
use labelflow::store::{NewFollowup, NewPlan, PlanSource, StoredTrace, TraceRetention};

fn trace(event_id: i64, issue_ref: &str, minutes: i64) -> StoredTrace {
    StoredTrace {
        event_id,
        issue_key: "14#23".to_string(),
        issue_ref: issue_ref.to_string(),
        outcome: "done".to_string(),
        body: format!("{{\"outcome\":\"done\",\"n\":{event_id}}}"),
        recorded_at: at(Duration::minutes(minutes)),
        workflows: ",cocreate,".to_string(),
    }
}

pub async fn traces_are_kept_per_event_and_read_per_issue(db: TestDb) {
    let store = db.open().await;
    for (id, issue) in [(1, "g/p#23"), (2, "g/p#24"), (3, "g/p#23"), (4, "g/p#23")] {
        store.trace_put(trace(id, issue, id)).await.unwrap();
    }
    // A retried event's record replaces its earlier one.
    let mut again = trace(3, "g/p#23", 10);
    again.outcome = "parked".to_string();
    store.trace_put(again).await.unwrap();
    let got = store.trace_get(3).await.unwrap().unwrap();
    assert_eq!(
        (got.outcome.as_str(), got.recorded_at),
        ("parked", at(Duration::minutes(10)))
    );
    assert!(store.trace_get(99).await.unwrap().is_none());

    let story: Vec<i64> = store
        .traces_for_issue("g/p#23", 10)
        .await
        .unwrap()
        .iter()
        .map(|t| t.event_id)
        .collect();
    assert_eq!(story, vec![1, 3, 4], "oldest first, one issue only");
    let newest_two: Vec<i64> = store
        .traces_for_issue("g/p#23", 2)
        .await
        .unwrap()
        .iter()
        .map(|t| t.event_id)
        .collect();
    assert_eq!(
        newest_two,
        vec![3, 4],
        "the newest ones, still oldest first"
    );
}

pub async fn traces_are_pruned_by_age_and_count_with_old_finished_plans(db: TestDb) {
    let store = db.open().await;
    // Ten traces one day apart: days 0..9.
    for id in 0..10 {
        store
            .trace_put(trace(id + 1, "g/p#23", id * 24 * 60))
            .await
            .unwrap();
    }
    for (key, finished) in [
        ("old-finished", true),
        ("old-open", false),
        ("new-finished", true),
    ] {
        let created = if key.starts_with("old") {
            t0()
        } else {
            at(Duration::days(9))
        };
        store
            .plan_put(
                NewPlan {
                    plan_key: key.to_string(),
                    issue_key: "14#23".to_string(),
                    source: PlanSource::Event,
                    event_id: Some(1),
                    actions: "[]".to_string(),
                },
                created,
            )
            .await
            .unwrap();
        if finished {
            store.plan_finish(key, created).await.unwrap();
        }
    }
    let now = at(Duration::days(10));
    // Keep 5 days: days 0..4 go (5 traces), the old finished plan goes.
    let pruned = store
        .prune_traces(
            TraceRetention {
                max_age: Duration::days(5) + Duration::minutes(1),
                max_count: 100,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!((pruned.traces, pruned.plans), (5, 1));
    let left: Vec<i64> = store
        .traces_for_issue("g/p#23", 100)
        .await
        .unwrap()
        .iter()
        .map(|t| t.event_id)
        .collect();
    assert_eq!(left, vec![6, 7, 8, 9, 10]);
    assert!(store.plan_get("old-finished").await.unwrap().is_none());
    assert!(
        store.plan_get("old-open").await.unwrap().is_some(),
        "unfinished plans stay"
    );
    assert!(store.plan_get("new-finished").await.unwrap().is_some());

    // Then by count: the newest two stay.
    let pruned = store
        .prune_traces(
            TraceRetention {
                max_age: Duration::days(365),
                max_count: 2,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(pruned.traces, 3);
    let left: Vec<i64> = store
        .traces_for_issue("g/p#23", 100)
        .await
        .unwrap()
        .iter()
        .map(|t| t.event_id)
        .collect();
    assert_eq!(left, vec![9, 10]);
    // Nothing more to prune.
    let pruned = store
        .prune_traces(
            TraceRetention {
                max_age: Duration::days(365),
                max_count: 2,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(pruned.traces, 0);
}

pub async fn explain_reads_followups_and_when_a_key_was_recorded(db: TestDb) {
    let store = db.open().await;
    let payload = labelflow::store::FollowupPayload {
        followup: "cocreate/buy-in-reminder".to_string(),
        project_id: 14,
        iid: 23,
        project_path: "g/p".to_string(),
        key: "cocreate/triage/14#23/once/2".to_string(),
    };
    store
        .schedule_followup(NewFollowup {
            key: payload.key.clone(),
            issue_key: "14#23".to_string(),
            due_at: at(Duration::days(5)),
            payload,
        })
        .await
        .unwrap();
    let due = store.followups_for_issue("14#23").await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].name, "cocreate/buy-in-reminder");
    assert_eq!(due[0].due_at, at(Duration::days(5)));
    assert!(store.followups_for_issue("14#24").await.unwrap().is_empty());

    let key = "cocreate/identified/14#23/once/0";
    assert!(store.ledger_entry("14#23", key).await.unwrap().is_none());
    store
        .plan_put(
            NewPlan {
                plan_key: "14#23/update@1".to_string(),
                issue_key: "14#23".to_string(),
                source: PlanSource::Event,
                event_id: Some(41),
                actions: format!("[{{\"key\":\"{key}\"}}]"),
            },
            t0(),
        )
        .await
        .unwrap();
    store
        .ledger_put(key, "14#23", "{}", at(Duration::minutes(3)))
        .await
        .unwrap();
    let entry = store.ledger_entry("14#23", key).await.unwrap().unwrap();
    assert_eq!(entry.recorded_at, at(Duration::minutes(3)));
    assert_eq!(entry.event_id, Some(41));
}

pub async fn the_operator_pages_filters_find_events_by_their_records(db: TestDb) {
    use labelflow::store::{EnqueueOutcome, EventFilter};
    let store = db.open().await;
    let mut ids = Vec::new();
    for (n, issue) in ["14#1", "14#2", "21#1", "14#1"].iter().enumerate() {
        let id = match store
            .enqueue(crate::harness::event(&format!("d{n}"), issue))
            .await
            .unwrap()
        {
            EnqueueOutcome::Accepted(id) => id,
            other => panic!("{other:?}"),
        };
        ids.push(id);
    }
    // Records for the first three; the fourth is not processed yet.
    for (id, issue_ref, workflows) in [
        (ids[0], "g/opps#1", ",cocreate,"),
        (ids[1], "g/opps#2", ""),
        (ids[2], "g/partners#1", ",alliances,mdf,"),
    ] {
        let mut t = trace(id, issue_ref, 1);
        t.workflows = workflows.to_string();
        store.trace_put(t).await.unwrap();
    }
    let listed = |filter: EventFilter| {
        let store = store.clone();
        async move {
            store
                .list_event_rows(&filter, 10)
                .await
                .unwrap()
                .iter()
                .map(|r| r.event.id)
                .collect::<Vec<i64>>()
        }
    };
    assert_eq!(
        listed(EventFilter::default()).await,
        vec![ids[3], ids[2], ids[1], ids[0]],
        "newest first, with or without a record"
    );
    let all = store
        .list_event_rows(&EventFilter::default(), 10)
        .await
        .unwrap();
    assert!(all[0].body.is_none() && all[1].issue_ref.as_deref() == Some("g/partners#1"));
    let project = EventFilter {
        project: Some("g/opps".into()),
        ..EventFilter::default()
    };
    assert_eq!(listed(project).await, vec![ids[1], ids[0]]);
    let issue = EventFilter {
        issue: Some("g/opps#1".into()),
        ..EventFilter::default()
    };
    assert_eq!(listed(issue).await, vec![ids[0]]);
    let workflow = EventFilter {
        workflow: Some("mdf".into()),
        ..EventFilter::default()
    };
    assert_eq!(listed(workflow).await, vec![ids[2]]);
    let pending_in_project = EventFilter {
        status: Some("pending".into()),
        project: Some("g/partners".into()),
        ..EventFilter::default()
    };
    assert_eq!(listed(pending_in_project).await, vec![ids[2]]);
    let done = EventFilter {
        status: Some("done".into()),
        ..EventFilter::default()
    };
    assert!(listed(done).await.is_empty());

    // The last sweep run.
    assert!(store.last_sweep_run().await.unwrap().is_none());
    store.sweep_run_put("{\"n\":1}", t0()).await.unwrap();
    store
        .sweep_run_put("{\"n\":2}", at(Duration::hours(1)))
        .await
        .unwrap();
    let (when, report) = store.last_sweep_run().await.unwrap().unwrap();
    assert_eq!(
        (when, report.as_str()),
        (at(Duration::hours(1)), "{\"n\":2}")
    );
}
