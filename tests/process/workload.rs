//! The crash / fault / shutdown workload, on `tests/configs/ordering/`: many issues, several
//! events per issue (open, five `step-N` labels one at a time, a plain comment), sent as
//! signed webhooks with duplicates, and the checks that every event's effects happened exactly
//! once and in per-issue order.
//!
//! The simulated GitLab builds every payload: the test acts as a user, the simulator fires its
//! real Issue / Note Hooks at a closed port, and the recorded deliveries (exact bodies and
//! `webhook-id`s) are what the test sends, re-signed at send time like a GitLab resend. The
//! sender retries each delivery until the service acknowledges it, so "accepted" is every
//! delivery, and a delivery committed just before a crash comes back as a duplicate.

use super::SIGNING_TOKEN;
use labelflow::sim::{HookConfig, SimGitlab, SimOptions, access, sign};
use labelflow::store::{DynStore, EventStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const ITEMS: &str = "crash/items";
pub const FOLLOWUPS: &str = "crash/followups";
pub const STEPS: [&str; 5] = ["step-1", "step-2", "step-3", "step-4", "step-5"];
/// Events per issue: open, five labels, one comment.
pub const EVENTS_PER_ISSUE: usize = 7;

/// One webhook delivery as the simulator made it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub webhook_id: String,
    pub event: String,
    pub body: String,
    pub iid: u64,
}

pub struct Workload {
    pub sim: SimGitlab,
    pub items: u64,
    pub followups: u64,
    pub bot_token: String,
    /// Iids of the issues, in creation order.
    pub issues: Vec<u64>,
    /// Every delivery, in the order the simulator fired them.
    pub deliveries: Vec<Delivery>,
}

/// Sets up the simulator and records `issue_count × 7` deliveries.
pub async fn build(issue_count: usize) -> Workload {
    // The workload posts a few hundred notes a minute: the note limit is raised to match the
    // one `ServeSpec` gives labelflow (GitLab.com's 60 would make these tests about pacing).
    let sim = SimGitlab::start(
        SimOptions::default().with_note_creation_limit(
            labelflow::sim::RateLimit::per_minute(super::NOTE_CREATIONS_PER_MINUTE)
                .named("notes_create"),
        ),
    )
    .await
    .expect("simulator starts");
    let items = sim.add_project(ITEMS);
    let followups = sim.add_project(FOLLOWUPS);
    let bot = sim.add_user("labelflow");
    for p in [items, followups] {
        sim.add_member(p, "labelflow", access::DEVELOPER)
            .expect("bot is a member");
        sim.add_member(p, "alice", access::DEVELOPER)
            .expect("alice is a member");
    }
    // Port 1 refuses at once: the deliveries are recorded, not received.
    sim.add_hook(
        items,
        HookConfig::issues_and_notes("http://127.0.0.1:1/webhooks/gitlab")
            .with_signing_token(SIGNING_TOKEN),
    )
    .expect("hook added");

    let alice = sim.as_user("alice");
    let mut issues = Vec::with_capacity(issue_count);
    for n in 0..issue_count {
        let iid = alice
            .create_issue(items, &format!("Item {n}"), "Nothing to see.", &[])
            .expect("issue created");
        issues.push(iid);
    }
    // Interleave the issues, as real traffic does: every issue's step 1, then every step 2…
    for (round, step) in STEPS.iter().enumerate() {
        for iid in &issues {
            alice.add_labels(items, *iid, &[step]).expect("label added");
            if round == 1 {
                alice
                    .comment(items, *iid, "Thanks, looking at it.")
                    .expect("comment posted");
            }
        }
    }
    assert!(
        sim.wait_hooks_idle(Duration::from_secs(120)).await,
        "the simulator fired every hook"
    );
    let deliveries: Vec<Delivery> = sim
        .deliveries()
        .into_iter()
        .filter(|d| d.project_id == items && !d.redelivery)
        .map(|d| {
            let payload = d.payload().expect("the simulator sends JSON");
            let iid = payload["object_attributes"]["iid"]
                .as_u64()
                .filter(|_| payload["object_kind"] == "issue")
                .or_else(|| payload["issue"]["iid"].as_u64())
                .expect("an issue iid in every payload");
            Delivery {
                webhook_id: d.webhook_id.clone(),
                event: d.event.clone(),
                body: d.body.clone(),
                iid,
            }
        })
        .collect();
    assert_eq!(
        deliveries.len(),
        issue_count * EVENTS_PER_ISSUE,
        "one delivery per user action"
    );
    Workload {
        sim,
        items,
        followups,
        bot_token: bot.token,
        issues,
        deliveries,
    }
}

/// What the sender did.
#[derive(Debug, Default, Clone)]
pub struct SendReport {
    /// Distinct deliveries acknowledged (every delivery of the workload).
    pub unique: usize,
    /// Deliveries the first acknowledged answer called a duplicate: committed by a process
    /// that was killed before it could answer.
    pub committed_before_crash: usize,
    /// Deliberate resends of acknowledged deliveries (all answered as duplicates).
    pub resends: usize,
    /// Attempts that got no answer (service down) and were tried again.
    pub failed_attempts: usize,
}

/// Sends every delivery (lane `n` owns the issues with `iid % lanes == n`, so each issue's
/// deliveries arrive in order) and, with probability `dup_rate` after each one, resends an
/// earlier one of the same lane.
pub async fn send_all(
    deliveries: &[Delivery],
    addr: SocketAddr,
    lanes: usize,
    dup_rate: f64,
    seed: u64,
) -> SendReport {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client");
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let mine: Vec<Delivery> = deliveries
            .iter()
            .filter(|d| d.iid as usize % lanes == lane)
            .cloned()
            .collect();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(lane as u64));
            let mut report = SendReport::default();
            for (i, d) in mine.iter().enumerate() {
                let (status, body, failed) = send_until_acknowledged(&client, addr, d).await;
                report.failed_attempts += failed;
                report.unique += 1;
                if status == StatusCode::OK {
                    assert!(body.contains("duplicate"), "200 without duplicate: {body}");
                    report.committed_before_crash += 1;
                } else {
                    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
                }
                if rng.random_bool(dup_rate) {
                    let again = &mine[rng.random_range(0..=i)];
                    let (status, body, failed) =
                        send_until_acknowledged(&client, addr, again).await;
                    report.failed_attempts += failed;
                    assert_eq!(status, StatusCode::OK, "a resend is a duplicate: {body}");
                    assert!(body.contains("duplicate"), "{body}");
                    report.resends += 1;
                }
            }
            report
        }));
    }
    let mut total = SendReport::default();
    for t in tasks {
        let r = t.await.expect("sender lane");
        total.unique += r.unique;
        total.committed_before_crash += r.committed_before_crash;
        total.resends += r.resends;
        total.failed_attempts += r.failed_attempts;
    }
    total
}

/// Posts one delivery, freshly signed, until a 2xx; returns (status, body, failed attempts).
/// A 4xx fails the test: the workload is valid.
pub async fn send_until_acknowledged(
    client: &reqwest::Client,
    addr: SocketAddr,
    d: &Delivery,
) -> (StatusCode, String, usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut failed = 0;
    loop {
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature = sign(SIGNING_TOKEN, &d.webhook_id, &ts, &d.body).expect("signs");
        let sent = client
            .post(format!("http://{addr}/webhooks/gitlab"))
            .header("content-type", "application/json")
            .header("x-gitlab-event", &d.event)
            .header("webhook-id", &d.webhook_id)
            .header("idempotency-key", &d.webhook_id)
            .header("webhook-timestamp", &ts)
            .header("webhook-signature", signature)
            .body(d.body.clone())
            .send()
            .await;
        if let Ok(r) = sent {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            if status.is_success() {
                return (status, body, failed);
            }
            assert!(
                status.is_server_error(),
                "delivery {} refused with {status}: {body}",
                d.webhook_id
            );
        }
        failed += 1;
        assert!(
            Instant::now() < deadline,
            "delivery {} not acknowledged within 120 s",
            d.webhook_id
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Opens the service's database from the test process (SQLite in WAL mode allows it).
pub async fn open_store(database: &std::path::Path) -> DynStore {
    labelflow::store::connect(&database.display().to_string())
        .await
        .expect("the test opens the service's database")
}

/// Waits until nothing is pending or running (parked events may remain).
pub async fn wait_drained(store: &DynStore, timeout: Duration, log: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    let mut quiet = 0;
    loop {
        let q = store.queue_stats().await.expect("queue stats");
        if q.pending == 0 && q.running == 0 {
            quiet += 1;
            if quiet >= 3 {
                return;
            }
        } else {
            quiet = 0;
        }
        assert!(
            Instant::now() < deadline,
            "the queue did not drain within {timeout:?}: {q:?}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `step-N` each of the bot's comments on an issue reports, oldest first.
pub fn bot_steps(sim: &SimGitlab, project: u64, iid: u64) -> Vec<String> {
    let bot = sim.user("labelflow").expect("bot user").id;
    sim.notes(project, iid)
        .into_iter()
        .filter(|n| n.author_id == bot && !n.system)
        .map(|n| {
            n.body
                .strip_prefix("Reached ")
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or(&n.body)
                .to_string()
        })
        .collect()
}

/// Asserts the exactly-once outcome: every issue's bot comments are the five steps in order
/// (`exceptions` name issues whose comments come in another, given order), one follow-up
/// issue per issue, and every stored event done.
pub async fn assert_exactly_once(
    w: &Workload,
    store: &DynStore,
    report: &SendReport,
    exceptions: &[(u64, Vec<&str>)],
) {
    for iid in &w.issues {
        let want: Vec<String> = exceptions
            .iter()
            .find(|(e, _)| e == iid)
            .map(|(_, order)| order.iter().map(|s| s.to_string()).collect())
            .unwrap_or_else(|| STEPS.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            bot_steps(&w.sim, w.items, *iid),
            want,
            "bot comments on {ITEMS}#{iid}"
        );
    }
    let followups = w.sim.issues(w.followups);
    assert_eq!(
        followups.len(),
        w.issues.len(),
        "one follow-up issue per item"
    );
    let titles: BTreeSet<String> = followups.iter().map(|i| i.title.clone()).collect();
    let want: BTreeSet<String> = w
        .issues
        .iter()
        .map(|iid| format!("Follow-up of {ITEMS}#{iid}"))
        .collect();
    assert_eq!(titles, want, "follow-up titles");
    assert_eq!(
        w.sim.links().len(),
        w.issues.len(),
        "one link per follow-up"
    );

    let events = store
        .list_events(None, 1_000_000)
        .await
        .expect("list events");
    assert_eq!(
        events.len(),
        report.unique,
        "one inbox row per distinct delivery"
    );
    let not_done: Vec<_> = events
        .iter()
        .filter(|e| e.status != EventStatus::Done)
        .collect();
    assert!(not_done.is_empty(), "events not done: {not_done:#?}");
}

/// A seed from `LABELFLOW_SEED`, or a fresh one; printed so a failing run can be repeated.
pub fn seed() -> u64 {
    let seed = std::env::var("LABELFLOW_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("LABELFLOW_SEED={seed}");
    seed
}
