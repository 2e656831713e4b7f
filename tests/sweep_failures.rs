//! Sweeps under GitLab's awkward answers and the smaller defects of issue 22: page-number
//! listings (group policies, a GitLab that ignores `pagination=keyset`) skip nothing while the
//! run moves items out of them; a garbled page is retried and never quoted; a failing count
//! only makes the summary's figure unknown; a long rate limit says how long; and over the
//! shipped configuration, `--workflow` takes only that workflow's steps, what the ceiling
//! leaves is counted once, and sweeps do not ask for missing fields.

mod common;

use common::sweep_world::{SweepWorld, sweep, test_policy};
use labelflow::forge::RetryPolicy;
use labelflow::sim::{FaultKind, FaultRule};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TRIAGE: &str = "cocreate::triage";
const NUDGED: &str = "cocreate-sweep::nudged";
const STALE: &str = "cocreate-sweep::stale";

async fn world(config: &str) -> SweepWorld {
    SweepWorld::start(
        &common::repo_path(config),
        &["co-create/opportunities", "co-create/reports"],
        &["cs-lead", "pm-lead"],
        None,
    )
    .await
}

/// Nudges then marks `n` items over a listing GitLab pages by number: each step moves the item
/// out of the listing while later pages are still to be read.
async fn every_item_gets_both_steps(w: &SweepWorld, n: usize) {
    let opps = w.projects[0];
    let items = w.create(opps, n, "Opportunity", &[TRIAGE]);
    let s = w.sweeper(test_policy()).await;
    w.advance_days(15);
    let (r, _) = sweep(&s, 10_000, &[]).await;
    assert!(r.failures.is_empty() && r.aborted.is_none(), "{r:?}");
    assert_eq!(r.counts.nudged, n);
    w.advance_days(8);
    let (r, _) = sweep(&s, 10_000, &[]).await;
    assert_eq!(r.counts.marked_stale, n);
    for iid in items {
        let labels = w.labels(opps, iid);
        assert!(labels.iter().any(|l| l == STALE), "#{iid}: {labels:?}");
        assert_eq!(w.bot_comments(opps, iid).len(), 2, "#{iid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_policy_over_page_number_listings_skips_nothing() {
    let w = world("tests/configs/sweep/groups.yml").await;
    every_item_gets_both_steps(&w, 230).await;
    let listed_by_number = w
        .sim
        .requests()
        .iter()
        .any(|r| r.path.contains("/groups/") && r.query.contains("page=2"));
    assert!(listed_by_number, "the group listing was paged by number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_ignoring_keyset_pagination_skips_nothing() {
    let w = world("tests/configs/sweep/labelflow.yml").await;
    w.sim.set_project_issues_keyset(false);
    every_item_gets_both_steps(&w, 230).await;
}

/// Log lines written while a test runs on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_malformed_page_is_retried_and_its_body_never_shown() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = world("tests/configs/sweep/labelflow.yml").await;
    let opps = w.projects[0];
    let items = w.create(opps, 3, "Merger with Initech XYZZY", &[TRIAGE]);
    let s = w.sweeper(test_policy()).await;
    w.advance_days(15);
    let listing = || {
        FaultRule::new(FaultKind::Malformed)
            .method("GET")
            .path_contains("/projects/co-create%2Fopportunities/issues")
    };
    w.sim.add_fault(listing().times(1));
    let (r, _) = sweep(&s, 100, &[]).await;
    assert!(r.aborted.is_none() && r.failures.is_empty(), "{r:?}");
    assert_eq!(r.counts.nudged, 3, "retried like a 5xx");
    for iid in items {
        assert!(w.labels(opps, iid).iter().any(|l| l == NUDGED));
    }

    // Garbled every time: the run stops and says so, quoting nothing of the page.
    w.advance_days(8);
    w.sim.add_fault(listing().times(100));
    let (r, _) = sweep(&s, 100, &[]).await;
    let why = r.aborted.expect("the run stops");
    assert!(why.contains("malformed"), "{why}");
    assert!(!why.contains("XYZZY") && !why.contains("Acme"), "{why}");
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.contains("malformed answer"), "retries are logged");
    assert!(!logged.contains("XYZZY"), "{logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_count_leaves_the_summarys_figure_unknown_and_the_run_goes_on() {
    let w = world("tests/configs/sweep/labelflow.yml").await;
    let (opps, reports) = (w.projects[0], w.projects[1]);
    w.create(opps, 4, "Opportunity", &[TRIAGE]);
    let s = w.sweeper(test_policy()).await;
    w.advance_days(15);
    w.sim.add_fault(
        FaultRule::new(FaultKind::Status(500))
            .path_contains("issues_statistics")
            .times(1000),
    );
    let (r, _) = sweep(&s, 100, &[]).await;
    assert!(r.aborted.is_none() && r.failures.is_empty(), "{r:?}");
    assert_eq!(r.counts.nudged, 4);
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    let summary = &w.sim.issues(reports)[0].description;
    assert!(
        summary.contains("| ~\"cocreate::triage\" | unknown | 0 |"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_too_long_says_what_gitlab_asked_for() {
    let w = world("tests/configs/sweep/labelflow.yml").await;
    w.create(w.projects[0], 2, "Opportunity", &[TRIAGE]);
    let policy = RetryPolicy {
        max_rate_limit_wait: Duration::from_secs(5),
        ..test_policy()
    };
    let s = w.sweeper(policy).await;
    w.advance_days(15);
    w.sim.add_fault(
        FaultRule::new(FaultKind::TooManyRequests {
            retry_after: Some(60),
            rate_limit_headers: false,
        })
        .method("GET")
        .path_contains("/issues")
        .times(1),
    );
    let (r, _) = sweep(&s, 100, &[]).await;
    let why = r.aborted.expect("stopped");
    assert!(why.contains("retry in 1 minute"), "{why}");
}

// ---- over the shipped configuration --------------------------------------------------------

async fn alliances() -> SweepWorld {
    SweepWorld::start(
        &common::repo_path("labelflow.yml"),
        &["alliances/partners", "alliances/reports"],
        &[
            "example-alliances-lead",
            "example-partner-manager",
            "example-production-lead",
            "example-license-admin",
        ],
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_workflow_takes_only_its_steps_and_leftovers_count_once() {
    let w = alliances().await;
    let partners = w.projects[0];
    let both = ["alliances::lead-assigned", "mdf::requested"];
    let items = w.create(partners, 3, "Nimbus", &both);
    w.advance_days(20);
    let s = w.sweeper(test_policy()).await;

    // A ceiling nothing fits under: what is left is 3 items, 2 steps of 2 actions each.
    let (r, _) = sweep(&s, 1, &["alliances", "mdf", "license"]).await;
    assert!(r.aborted.is_none(), "{:?}", r.aborted);
    assert_eq!(r.remaining_items, 3);
    assert_eq!(r.counts.remaining_actions, 12);

    let (r, actions) = sweep(&s, 100, &["alliances"]).await;
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.counts.nudged, 3);
    assert!(
        actions.iter().all(|a| a.workflow == "alliances"),
        "{actions:?}"
    );
    for iid in items {
        let labels = w.labels(partners, iid);
        assert!(labels.iter().any(|l| l == "alliances-sweep::nudged"));
        assert!(
            !labels.iter().any(|l| l == "mdf-sweep::nudged"),
            "{labels:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_do_not_ask_idle_items_for_missing_fields() {
    let w = alliances().await;
    let partners = w.projects[0];
    // An inbound request without the fields the proposal needs, idle past its nudge.
    let iid = w.create(partners, 1, "Nimbus", &["alliances::inbound"])[0];
    w.advance_days(4);
    let s = w.sweeper(test_policy()).await;
    let (r, actions) = sweep(&s, 100, &["alliances"]).await;
    assert!(r.failures.is_empty() && r.aborted.is_none(), "{r:?}");
    assert!(
        actions.iter().all(|a| a.rule.starts_with("stale:")),
        "{actions:?}"
    );
    assert!(!w.labels(partners, iid).iter().any(|l| l == "needs-info"));
    assert_eq!(w.bot_comments(partners, iid).len(), 1, "the nudge only");
}
