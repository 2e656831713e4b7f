//! GitLab's rate limits end to end: signed webhooks → HTTP ingest → workers → the simulated
//! GitLab, which enforces the API limit (with `RateLimit-*` headers) and the note-creation
//! limit (429s without them). Counts are asserted, never durations.

mod common;

use common::{Harness, repo_path};
use labelflow::forge::Pacing;
use labelflow::service::ServeSettings;
use labelflow::sim::RateLimit;
use std::time::Duration;

const OPPORTUNITY: &str =
    "## Customer\nAcme Corp\n\n## Problem\nSlow pipelines\n\nCSM: @jane\nSA: @sam\nAE: @alex\n";

const WINDOW: Duration = Duration::from_secs(2);

/// labelflow told the simulator's note limit: 3 notes per 2 s window (90 a minute).
fn paced_like_the_sim(s: &mut ServeSettings) {
    s.retry.pacing = Pacing::per_minute(200, 90, WINDOW);
}

/// labelflow told a note limit three times the simulator's.
fn paced_too_fast(s: &mut ServeSettings) {
    s.retry.pacing = Pacing::per_minute(200, 270, WINDOW);
    s.retry.max_rate_limit_wait = Duration::from_secs(60);
}

async fn harness(tweak: fn(&mut ServeSettings)) -> Harness {
    let h = Harness::start_custom(
        &repo_path("tests/configs/basic/labelflow.yml"),
        4,
        None,
        tweak,
    )
    .await;
    for u in ["author", "jane", "sam", "alex"] {
        h.add_person(u);
    }
    h
}

/// Opens `count` opportunities at once; each needs one comment from the bot.
fn burst(h: &Harness, count: usize) -> Vec<u64> {
    let p = h.project("opportunities");
    (0..count)
        .map(|k| {
            h.sim
                .as_user("author")
                .create_issue(
                    p,
                    &format!("Customer {k} co-create"),
                    OPPORTUNITY,
                    &["cocreate::identified"],
                )
                .expect("issue created")
        })
        .collect()
}

fn assert_one_note_each(h: &Harness, iids: &[u64]) {
    let p = h.project("opportunities");
    for iid in iids {
        let notes = h.bot_notes(p, *iid);
        assert_eq!(notes.len(), 1, "#{iid}: {notes:#?}");
    }
}

fn too_many(h: &Harness) -> usize {
    h.sim
        .requests()
        .iter()
        .filter(|r| r.status == 429 && r.username.as_deref() == Some("labelflow"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_under_tight_limits_gets_every_note_once_without_a_429() {
    let mut h = harness(paced_like_the_sim).await;
    h.sim
        .set_note_creation_limit(Some(RateLimit::new(3, WINDOW).named("notes_create")));
    // A tight API limit too: labelflow paces itself by the headers.
    h.sim.set_rate_limit(Some(RateLimit::new(16, WINDOW)));
    h.sim.clear_requests();
    let iids = burst(&h, 10);
    h.settle().await;
    assert_one_note_each(&h, &iids);
    assert_eq!(too_many(&h), 0, "the simulator answered no 429");
    let notes = h
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/notes") && r.status == 201)
        .count();
    assert_eq!(notes, 10, "one note creation per event");
    h.stop_service().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_429s_beyond_the_configured_limit_lose_and_double_nothing() {
    let mut h = harness(paced_too_fast).await;
    h.sim
        .set_note_creation_limit(Some(RateLimit::new(2, WINDOW).named("notes_create")));
    h.sim.clear_requests();
    let iids = burst(&h, 8);
    h.settle().await;
    assert_one_note_each(&h, &iids);
    let limited: Vec<_> = h
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.status == 429)
        .collect();
    assert!(!limited.is_empty(), "the simulator's note limit was met");
    assert!(
        limited
            .iter()
            .all(|r| r.method == "POST" && r.path.ends_with("/notes")),
        "only note creations were limited: {limited:#?}"
    );
    h.stop_service().await;
}
