//! Sweeps act exactly once, on SQLite and on PostgreSQL: two runs at once nudge every item
//! once and write one summary, an item the service is handling is left to it, and a step cut
//! short (its label write failing, or its
//! comment's answer lost) is finished by the next run without a second comment.
//!
//! The PostgreSQL half needs `LABELFLOW_TEST_POSTGRES_URL` (scripts/test.sh sets it); without
//! it each PostgreSQL test prints a loud SKIPPED notice and passes.

mod common;
#[allow(dead_code)]
#[path = "replicas/database.rs"]
mod database;

use common::sweep_world::{SweepWorld, sweep, test_policy};
use database::TestDatabase;
use labelflow::forge::RetryPolicy;
use labelflow::sim::{FaultKind, FaultRule};
use std::time::Duration;

const TRIAGE: &str = "cocreate::triage";
const QUALIFICATION: &str = "cocreate::qualification";
const NUDGED: &str = "cocreate-sweep::nudged";
const STALE: &str = "cocreate-sweep::stale";

fn config() -> std::path::PathBuf {
    common::repo_path("tests/configs/sweep/labelflow.yml")
}

async fn world(database: Option<String>) -> SweepWorld {
    SweepWorld::start(
        &config(),
        &["co-create/opportunities", "co-create/reports"],
        &["cs-lead", "pm-lead"],
        database,
    )
    .await
}

/// Runs `test` on a fresh SQLite file, then on a fresh PostgreSQL database (if configured).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(None).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::TestDatabase::create(stringify!($name)).await else {
                        return;
                    };
                    super::$name(Some(db.url.clone())).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

on_both_backends!(
    two_sweeps_at_once_act_once,
    a_half_done_nudge_is_finished_without_a_second_comment,
    an_item_the_service_is_handling_is_left_to_it,
);

async fn two_sweeps_at_once_act_once(database: Option<String>) {
    let w = world(database).await;
    let (opps, reports) = (w.projects[0], w.projects[1]);
    let mut items = w.create(opps, 30, "Opportunity", &[TRIAGE]);
    items.extend(w.create(opps, 10, "Qualified", &[QUALIFICATION]));
    w.sim.set_latency(Duration::from_millis(2));
    w.advance_days(15);

    // Both start on a fresh database at once (as two CI jobs would).
    let (a, b) = tokio::join!(w.sweeper(test_policy()), w.sweeper(test_policy()));
    let ((ra, _), (rb, _)) = tokio::join!(sweep(&a, 1000, &[]), sweep(&b, 1000, &[]));
    for r in [&ra, &rb] {
        assert!(r.aborted.is_none(), "{:?}", r.aborted);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
    }
    assert_eq!(ra.counts.nudged + rb.counts.nudged, 40);
    for &iid in &items {
        assert_eq!(w.bot_comments(opps, iid).len(), 1, "item #{iid}");
        assert!(w.labels(opps, iid).iter().any(|l| l == NUDGED));
    }
    assert_eq!(w.sim.issues(reports).len(), 1, "one summary issue");

    // A week later both mark the triage items stale at once: one more comment each.
    w.advance_days(7);
    let ((ra, _), (rb, _)) = tokio::join!(sweep(&a, 1000, &[]), sweep(&b, 1000, &[]));
    assert!(ra.failures.is_empty() && rb.failures.is_empty());
    assert_eq!(ra.counts.marked_stale + rb.counts.marked_stale, 40);
    for &iid in &items {
        assert_eq!(w.bot_comments(opps, iid).len(), 2, "item #{iid}");
        assert!(w.labels(opps, iid).iter().any(|l| l == STALE));
    }
    assert_eq!(w.sim.issues(reports).len(), 2, "one summary issue per week");
}

async fn a_half_done_nudge_is_finished_without_a_second_comment(database: Option<String>) {
    let w = world(database).await;
    let opps = w.projects[0];
    let items = w.create(opps, 3, "Opportunity", &[TRIAGE]);
    w.advance_days(15);
    let policy = RetryPolicy {
        request_timeout: Duration::from_millis(800),
        ..test_policy()
    };
    let s = w.sweeper(policy).await;

    // The first item's label write fails every try: its comment is posted, its label not.
    w.sim.add_fault(
        FaultRule::new(FaultKind::Status(502))
            .method("PUT")
            .path_contains(&format!("/issues/{}", items[0]))
            .times(4),
    );
    // The second item's comment is made, but its answer is lost.
    w.sim.add_fault(
        FaultRule::new(FaultKind::SlowResponse(Duration::from_secs(2)))
            .method("POST")
            .path_contains(&format!("/issues/{}/notes", items[1]))
            .times(1),
    );
    let (first, _) = sweep(&s, 100, &[]).await;
    assert_eq!(first.failures.len(), 2, "{:?}", first.failures);
    for &iid in &items[..2] {
        assert_eq!(w.bot_comments(opps, iid).len(), 1);
        assert!(!w.labels(opps, iid).iter().any(|l| l == NUDGED));
    }

    // The next day the items no longer look due (the comments moved them), yet the next run
    // finishes both steps: labels added, no second comment.
    w.advance_days(1);
    let (second, actions) = sweep(&s, 100, &[]).await;
    assert!(second.failures.is_empty(), "{:?}", second.failures);
    assert_eq!(second.half_done_finished, 2);
    assert_eq!(second.counts.nudged, 2);
    for &iid in &items {
        assert_eq!(w.bot_comments(opps, iid).len(), 1, "item #{iid}");
        assert!(
            w.labels(opps, iid).iter().any(|l| l == NUDGED),
            "item #{iid}"
        );
    }
    assert!(
        actions.iter().all(|a| a.rule.ends_with(":nudge")),
        "{actions:?}"
    );
    // Nothing is left to finish.
    let (third, _) = sweep(&s, 100, &[]).await;
    assert_eq!(third.half_done_finished, 0);
    assert_eq!(third.actions, 0);
}

/// While the service processes an event of an item, a sweep leaves the item to it; the next
/// run takes the step.
async fn an_item_the_service_is_handling_is_left_to_it(database: Option<String>) {
    use labelflow::store::NewInboxEvent;
    let w = world(database).await;
    let opps = w.projects[0];
    let items = w.create(opps, 2, "Opportunity", &[TRIAGE]);
    w.advance_days(15);
    let s = w.sweeper(test_policy()).await;
    let store = s.executor.store();
    let issue_key = format!("{opps}#{}", items[0]);
    store
        .enqueue(NewInboxEvent {
            delivery_id: "webhook-1".into(),
            event_kind: "Issue Hook".into(),
            issue_key,
            payload: "{}".into(),
            received_at: w.clock.now(),
        })
        .await
        .expect("enqueue");
    // The service is processing it (a sweep's own worker pass would take a pending one).
    let ev = store
        .claim("serve", Duration::from_secs(60), w.clock.now())
        .await
        .expect("claim")
        .expect("the webhook event");
    let (r, _) = sweep(&s, 100, &[]).await;
    assert_eq!(r.items_busy.len(), 1, "{:?}", r.items_busy);
    assert_eq!(r.counts.nudged, 1);
    assert!(w.bot_comments(opps, items[0]).is_empty());

    store
        .complete(ev.id, "serve", w.clock.now())
        .await
        .expect("done");
    let (r, _) = sweep(&s, 100, &[]).await;
    assert!(r.items_busy.is_empty());
    assert_eq!(r.counts.nudged, 1);
    assert_eq!(w.bot_comments(opps, items[0]).len(), 1);
}
