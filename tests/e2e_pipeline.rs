//! The pipeline end to end: signed webhooks from the simulated GitLab → HTTP ingest → inbox →
//! worker → real `gitlab` client → simulator. Effects must happen exactly once, whatever the
//! deliveries, faults and restarts.

mod common;

use common::{Harness, repo_path};
use labelflow::sim::FaultRule;
use std::time::Duration;

const OPPORTUNITY: &str =
    "## Customer\nAcme Corp\n\n## Problem\nSlow pipelines\n\nCSM: @jane\nSA: @sam\nAE: @alex\n";

async fn harness(workers: usize) -> Harness {
    let h = Harness::start_with(&repo_path("tests/configs/basic/labelflow.yml"), workers).await;
    for u in ["author", "jane", "sam", "alex"] {
        h.add_person(u);
    }
    h
}

/// Opens the opportunity with `cocreate::identified` (as the issue template's quick action
/// does), then moves it to qualification.
async fn walk(h: &Harness) -> (u64, u64) {
    let p = h.project("opportunities");
    let iid = h
        .sim
        .as_user("author")
        .create_issue(
            p,
            "Acme Corp co-create",
            OPPORTUNITY,
            &["cocreate::identified"],
        )
        .expect("issue created");
    h.settle().await;
    h.sim
        .as_user("author")
        .add_labels(p, iid, &["cocreate::qualification"])
        .expect("label added");
    h.settle().await;
    (p, iid)
}

/// Asserts the whole outcome of [`walk`]: one comment per step, one triage issue, linked,
/// assigned, and nothing else.
fn assert_walked_once(h: &mut Harness, p: u64, iid: u64) {
    let welcome = h.expect_comment(p, iid, "#cocreate-initiative-acme-corp");
    for who in ["@jane", "@sam", "@alex", "@cs-lead"] {
        assert!(welcome.contains(who), "{who} not mentioned in {welcome}");
    }
    let triage = h.project("triage");
    let issues = h.sim.issues(triage);
    assert_eq!(issues.len(), 1, "exactly one triage issue: {issues:#?}");
    let t = &issues[0];
    assert_eq!(t.title, "Co-Create triage: Acme Corp");
    assert_eq!(t.labels, vec!["cocreate-triage".to_string()]);
    let cs = h.sim.user("cs-lead").expect("cs-lead").id;
    assert_eq!(t.assignee_ids, vec![cs]);
    assert!(
        t.description.contains("co-create/opportunities#1"),
        "{}",
        t.description
    );
    assert!(
        t.description.contains("<!-- labelflow:lf"),
        "marker missing: {}",
        t.description
    );
    let links = h.sim.links();
    assert_eq!(links.len(), 1, "one link between the issues: {links:?}");
    let reference = format!("contributor-success/co-create-triage#{}", t.iid);
    let body = h.expect_comment(p, iid, &reference);
    assert!(body.contains("http"), "link to the triage issue: {body}");
    // Scoped labels: qualification replaced identified.
    let opp = h.sim.issue(p, iid).expect("opportunity");
    assert_eq!(opp.labels, vec!["cocreate::qualification".to_string()]);
    h.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_steps_run_once() {
    let mut h = harness(4).await;
    let (p, iid) = walk(&h).await;
    assert_walked_once(&mut h, p, iid);
    let q = h.queue().await;
    assert_eq!(q.parked, 0);
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_three_times_changes_nothing() {
    let mut h = harness(4).await;
    let (p, iid) = walk(&h).await;
    let deliveries = h.sim.deliveries();
    assert!(
        deliveries.len() >= 4,
        "hooks were delivered: {}",
        deliveries.len()
    );
    for _ in 0..2 {
        for d in &deliveries {
            assert!(h.sim.redeliver(d.id));
        }
    }
    h.settle().await;
    assert_walked_once(&mut h, p, iid);
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_creation_failing_twice_with_500_still_creates_once() {
    let mut h = harness(4).await;
    h.sim.add_fault(
        FaultRule::status(500)
            .method("POST")
            .path_regex(r"/projects/[^/]+/issues$")
            .expect("regex")
            .times(2),
    );
    let (p, iid) = walk(&h).await;
    let failed = h
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/issues") && r.status == 500)
        .count();
    assert_eq!(failed, 2, "the fault fired twice");
    assert_walked_once(&mut h, p, iid);
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_issue_creation_waits_and_creates_once() {
    let mut h = harness(4).await;
    h.sim.add_fault(
        FaultRule::too_many_requests(1)
            .method("POST")
            .path_regex(r"/projects/[^/]+/issues$")
            .expect("regex")
            .times(1),
    );
    let (p, iid) = walk(&h).await;
    let limited = h.sim.requests().iter().filter(|r| r.status == 429).count();
    assert_eq!(limited, 1);
    assert_walked_once(&mut h, p, iid);
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_events_survive_a_restart_before_processing() {
    // No workers: the service only accepts and stores.
    let mut h = harness(0).await;
    let p = h.project("opportunities");
    let iid = h
        .sim
        .as_user("author")
        .create_issue(
            p,
            "Acme Corp co-create",
            OPPORTUNITY,
            &["cocreate::identified"],
        )
        .expect("issue created");
    assert!(h.sim.wait_hooks_idle(Duration::from_secs(10)).await);
    assert_eq!(
        h.queue().await.pending,
        1,
        "the delivery is stored, not processed"
    );
    assert!(h.bot_notes(p, iid).is_empty());
    // Stop, then start again on the same database, with workers.
    h.restart(4).await;
    h.settle().await;
    assert_eq!(h.bot_notes(p, iid).len(), 1);

    // Same for the next step.
    h.restart(0).await;
    h.sim
        .as_user("author")
        .add_labels(p, iid, &["cocreate::qualification"])
        .expect("label added");
    assert!(h.sim.wait_hooks_idle(Duration::from_secs(10)).await);
    assert_eq!(h.queue().await.pending, 1);
    h.restart(4).await;
    h.settle().await;
    assert_walked_once(&mut h, p, iid);
    h.stop_service().await;
}
