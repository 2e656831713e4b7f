//! `labelflow sweep` against the simulated GitLab with a controllable clock: nudges, stale
//! labels, closes, exemptions, human vs bot activity, the ceiling and the next run, the
//! weekly summary, dry run = live run, same-day re-runs, due follow-ups, rate limits, and the
//! exact number of requests.

mod common;

use common::sweep_world::test_policy;

use chrono::Duration;
use labelflow::actions::PlannedAction;
use labelflow::actions::executor::Executor;
use labelflow::clock::Clock;
use labelflow::engine::Engine;
use labelflow::forge::GitlabForge;
use labelflow::metrics::Metrics;
use labelflow::sim::{
    FaultKind, FaultRule, NewIssue, RateLimit, RequestRecord, SimGitlab, SimOptions, access,
};
use labelflow::store::{self, NewFollowup};
use labelflow::sweep::{ItemPlan, SweepOptions, SweepReport, Sweeper};
use std::sync::Arc;

const TRIAGE: &str = "cocreate::triage";
const QUALIFICATION: &str = "cocreate::qualification";
const NUDGED: &str = "cocreate-sweep::nudged";
const STALE: &str = "cocreate-sweep::stale";

fn config_path() -> std::path::PathBuf {
    common::repo_path("tests/configs/sweep/labelflow.yml")
}

struct World {
    sim: SimGitlab,
    clock: Clock,
    sweeper: Sweeper,
    opps: u64,
    reports: u64,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    world_with(&config_path()).await
}

async fn world_with(config: &std::path::Path) -> World {
    let clock = Clock::system();
    // Sweeps post hundreds of notes a minute: these tests lift GitLab.com's limits on both
    // sides (the pacing has tests of its own).
    let sim = SimGitlab::start(SimOptions::default().without_rate_limits().with_clock({
        let c = clock.clone();
        move || c.now()
    }))
    .await
    .expect("simulator starts");
    let opps = sim.add_project("co-create/opportunities");
    let reports = sim.add_project("co-create/reports");
    let bot = sim.add_user("labelflow");
    for p in [opps, reports] {
        for u in ["labelflow", "alice"] {
            sim.add_member(p, u, access::DEVELOPER).expect("member");
        }
    }
    sim.add_user("cs-lead");
    sim.add_user("pm-lead");
    let engine = Engine::load(config).expect("sweep test config loads");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("labelflow.db").display().to_string();
    let store = store::connect(&db).await.expect("store");
    let metrics = Metrics::new();
    let forge = GitlabForge::connect(&sim.base_url(), &bot.token, test_policy(), metrics.clone())
        .await
        .expect("forge connects");
    let sweeper = Sweeper {
        engine: Arc::new(engine),
        executor: Executor::new(forge, store, metrics, clock.clone()),
    };
    World {
        sim,
        clock,
        sweeper,
        opps,
        reports,
        _dir: dir,
    }
}

impl World {
    /// `n` issues by alice with these labels; returns their iids.
    fn create(&self, n: usize, labels: &[&str]) -> Vec<u64> {
        let alice = self.sim.as_user("alice");
        (0..n)
            .map(|k| {
                alice
                    .create_issue(
                        self.opps,
                        &format!("Opportunity {k}"),
                        "Customer: Acme",
                        labels,
                    )
                    .expect("issue")
            })
            .collect()
    }

    fn create_confidential(&self, n: usize, labels: &[&str]) -> Vec<u64> {
        let alice = self.sim.as_user("alice");
        (0..n)
            .map(|k| {
                alice
                    .create_issue_with(
                        self.opps,
                        NewIssue {
                            title: format!("Secret {k}"),
                            description: "Customer: Initech".into(),
                            labels: labels.iter().map(|s| s.to_string()).collect(),
                            confidential: true,
                            ..NewIssue::default()
                        },
                    )
                    .expect("issue")
            })
            .collect()
    }

    fn advance_days(&self, days: i64) {
        self.clock.advance(Duration::days(days));
    }

    async fn sweep(&self, dry_run: bool, max_actions: usize) -> (SweepReport, Vec<PlannedAction>) {
        let mut seen: Vec<PlannedAction> = Vec::new();
        let mut collect = |item: ItemPlan<'_>| seen.extend(item.actions.iter().cloned());
        let report = self
            .sweeper
            .run(
                &SweepOptions {
                    dry_run,
                    max_actions,
                    workflows: vec![],
                },
                &mut collect,
            )
            .await;
        assert!(
            report.aborted.is_none(),
            "run stopped: {:?}",
            report.aborted
        );
        assert!(
            report.failures.is_empty(),
            "failures: {:?}",
            report.failures
        );
        (report, seen)
    }

    /// A dry run's reasons, one per item: what the decision trace says fired.
    async fn dry_run_reasons(&self) -> Vec<Vec<String>> {
        let mut reasons: Vec<Vec<String>> = Vec::new();
        let mut collect = |item: ItemPlan<'_>| reasons.push(item.why.to_vec());
        let options = SweepOptions {
            dry_run: true,
            max_actions: 10_000,
            workflows: vec![],
        };
        self.sweeper.run(&options, &mut collect).await;
        reasons
    }

    fn labels(&self, iid: u64) -> Vec<String> {
        self.sim.issue(self.opps, iid).expect("issue").labels
    }

    fn has(&self, iid: u64, label: &str) -> bool {
        self.labels(iid).iter().any(|l| l == label)
    }

    fn closed(&self, iid: u64) -> bool {
        self.sim.issue(self.opps, iid).expect("issue").state == labelflow::sim::IssueStatus::Closed
    }

    fn bot_comments(&self, project: u64, iid: u64) -> Vec<String> {
        let bot = self.sim.user("labelflow").map(|u| u.id).unwrap_or(0);
        self.sim
            .notes(project, iid)
            .into_iter()
            .filter(|n| n.author_id == bot && !n.system)
            .map(|n| n.body)
            .collect()
    }

    fn writes(&self) -> Vec<RequestRecord> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.is_write())
            .collect()
    }

    fn reads(&self) -> Vec<RequestRecord> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| !r.is_write())
            .collect()
    }
}

fn count(actions: &[PlannedAction], rule_suffix: &str) -> usize {
    actions
        .iter()
        .filter(|a| a.rule.ends_with(rule_suffix))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nudge_mark_close_over_time_with_exemptions_and_exact_requests() {
    let w = world().await;
    let plain = w.create(200, &[TRIAGE]);
    let on_hold = w.create(10, &[TRIAGE, "on-hold"]);
    let in_q3 = w.create(10, &[TRIAGE]);
    for iid in &in_q3 {
        w.sim
            .set_milestone(w.opps, *iid, Some("FY25-Q3"))
            .expect("milestone");
    }
    let confidential = w.create_confidential(10, &[TRIAGE]);
    let in_fy26 = w.create(5, &[TRIAGE]);
    for iid in &in_fy26 {
        w.sim
            .set_milestone(w.opps, *iid, Some("FY26"))
            .expect("milestone");
    }
    let unstaged = w.create(30, &["cocreate::other"]);
    let qualification = w.create(40, &[QUALIFICATION]);
    let due_triage: Vec<u64> = plain.iter().chain(&in_fy26).copied().collect();
    let exempt: Vec<u64> = on_hold
        .iter()
        .chain(&in_q3)
        .chain(&confidential)
        .chain(&unstaged)
        .copied()
        .collect();

    // Day 9: nothing is idle long enough.
    w.advance_days(9);
    w.sim.clear_requests();
    let (r, acts) = w.sweep(false, 10_000).await;
    assert_eq!((r.actions, acts.len()), (0, 0));
    // One write: the week's summary issue is opened.
    assert_eq!(w.writes().len(), 1, "{:?}", w.writes());

    // Day 10: the qualification items are nudged (comment + label each), nothing else.
    w.advance_days(1);
    let (r, acts) = w.sweep(false, 10_000).await;
    assert_eq!(r.counts.nudged, 40);
    assert_eq!(acts.len(), 80);
    assert_eq!(count(&acts, ":nudge"), 80);
    for iid in &qualification {
        assert!(w.has(*iid, NUDGED));
        let c = w.bot_comments(w.opps, *iid);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(
            c[0].starts_with(
                "@cs-lead, this item has been at ~\"cocreate::qualification\" for 10 days"
            ),
            "{}",
            c[0]
        );
        assert!(c[0].contains("<!-- labelflow:lf"), "marked: {}", c[0]);
    }

    // The same day again: nothing new, not even the summary.
    w.sim.clear_requests();
    let (r, acts) = w.sweep(false, 10_000).await;
    assert_eq!((r.actions, acts.len()), (0, 0));
    assert_eq!(w.writes().len(), 0, "{:?}", w.writes());

    // Day 14: the triage items are nudged; exempt ones (label, milestone, confidential) and
    // items at other stages are not touched. Requests are exactly pages + counts + writes.
    w.advance_days(4);
    w.sim.clear_requests();
    let (r, acts) = w.sweep(false, 10_000).await;
    assert_eq!(r.counts.nudged, 205);
    assert_eq!(r.counts.marked_stale, 0);
    assert_eq!(acts.len(), 410);
    assert_eq!(
        r.items_exempt, 0,
        "GitLab's filters left the exempt items out"
    );
    for iid in &due_triage {
        assert!(w.has(*iid, NUDGED), "#{iid}");
        let c = w.bot_comments(w.opps, *iid);
        assert_eq!(c.len(), 1);
        assert!(
            c[0].starts_with("@pm-lead, this item has been at ~\"cocreate::triage\" for 14 days"),
            "{}",
            c[0]
        );
    }
    for iid in &exempt {
        assert!(!w.has(*iid, NUDGED), "#{iid} is exempt");
        assert!(w.bot_comments(w.opps, *iid).is_empty());
    }
    // Reads: per policy one count + the stale listing (1 page, empty) + the idle listing
    // (triage: 205 items = 3 pages; qualification: 1 empty page), then the summary lookup.
    let reads = w.reads();
    let listing_pages = reads
        .iter()
        .filter(|q| q.path.ends_with("/issues") && q.query.contains("pagination=keyset"))
        .count();
    let counts = reads
        .iter()
        .filter(|q| q.path.ends_with("/issues_statistics"))
        .count();
    assert_eq!((listing_pages, counts), (6, 2), "{reads:?}");
    assert_eq!(reads.len(), 6 + 2 + 1, "{reads:?}");
    // Writes: one POST (comment) and one PUT (label) per item, plus the summary update.
    assert_eq!(w.writes().len(), 410 + 1);
    assert!(
        w.sim.requests().iter().all(|q| q.status < 300),
        "no retries needed"
    );

    // Day 15: qualification items were nudged 5 days ago with nothing since: marked stale. The
    // bot's own nudge (comment and label) did not count as activity.
    w.advance_days(1);
    let (r, acts) = w.sweep(false, 10_000).await;
    assert_eq!(
        (r.counts.marked_stale, r.counts.nudged, acts.len()),
        (40, 0, 120)
    );
    for iid in &qualification {
        assert!(
            w.has(*iid, STALE) && !w.has(*iid, NUDGED),
            "#{iid}: {:?}",
            w.labels(*iid)
        );
        assert!(w.has(*iid, QUALIFICATION), "the stage label stays");
        let c = w.bot_comments(w.opps, *iid);
        assert_eq!(c.len(), 2);
        assert!(
            c[1].contains("so I marked this item ~\"cocreate-sweep::stale\""),
            "{}",
            c[1]
        );
    }

    // Day 21: triage items marked stale.
    w.advance_days(6);
    let (r, _) = w.sweep(false, 10_000).await;
    assert_eq!((r.counts.marked_stale, r.counts.closed), (205, 0));

    // Day 50: not yet 30 days stale. Day 51: closed (qualification has no close policy).
    w.advance_days(29);
    let (r, _) = w.sweep(false, 10_000).await;
    assert_eq!(r.actions, 0);
    w.advance_days(1);
    let (r, acts) = w.sweep(false, 10_000).await;
    assert_eq!((r.counts.closed, acts.len()), (205, 410));
    for iid in &due_triage {
        assert!(w.closed(*iid), "#{iid}");
        let c = w.bot_comments(w.opps, *iid);
        assert_eq!(c.len(), 3);
        assert!(c[2].starts_with("Closing this item: it has been ~\"cocreate-sweep::stale\" at ~\"cocreate::triage\" for 30 days"), "{}", c[2]);
    }
    for iid in qualification.iter().chain(&exempt) {
        assert!(!w.closed(*iid), "#{iid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceiling_counts_actions_and_the_next_run_continues() {
    let w = world().await;
    let items = w.create(50, &[TRIAGE]);
    w.advance_days(14);
    let mut taken = Vec::new();
    for (run, (actions, left_items, left_actions)) in
        [(30, 35, 70), (30, 20, 40), (30, 5, 10), (10, 0, 0)]
            .into_iter()
            .enumerate()
    {
        let (r, acts) = w.sweep(false, 30).await;
        assert_eq!(
            (
                r.actions,
                r.remaining_items,
                r.counts.remaining_actions,
                r.ceiling_reached
            ),
            (actions, left_items, left_actions, left_items > 0),
            "run {run}"
        );
        taken.extend(acts);
    }
    let (r, _) = w.sweep(false, 30).await;
    assert_eq!((r.actions, r.remaining_items), (0, 0));
    assert_eq!(taken.len(), 100);
    for iid in &items {
        assert_eq!(
            w.bot_comments(w.opps, *iid).len(),
            1,
            "#{iid} nudged exactly once"
        );
        assert!(w.has(*iid, NUDGED));
    }
    // The oldest items went first (ordered by last update).
    assert!(
        taken[0].key.contains(&format!("#{}/", items[0])),
        "{}",
        taken[0].key
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_exactly_what_the_live_run_does_and_writes_nothing() {
    let w = world().await;
    let x = w.create(10, &[TRIAGE]);
    w.advance_days(14);
    w.sweep(false, 10_000).await; // X nudged
    w.advance_days(7);
    w.sweep(false, 10_000).await; // X stale
    let y = w.create(10, &[TRIAGE]);
    w.advance_days(14);
    w.sweep(false, 10_000).await; // Y nudged
    let z = w.create(10, &[TRIAGE]);
    w.advance_days(16);
    // Now X is due for closing, Y for the stale mark, Z for a nudge.

    w.sim.clear_requests();
    let (dry, dry_acts) = w.sweep(true, 55).await;
    assert!(w.writes().is_empty(), "dry run wrote: {:?}", w.writes());
    // Ceiling 55: 10 closes (20 actions), 10 marks (30), then 2 nudges (4); 8 nudges wait.
    assert_eq!(
        (
            dry.counts.closed,
            dry.counts.marked_stale,
            dry.counts.nudged
        ),
        (10, 10, 2)
    );
    assert_eq!(
        (
            dry.actions,
            dry.remaining_items,
            dry.counts.remaining_actions
        ),
        (54, 8, 16)
    );
    for iid in x.iter().chain(&y).chain(&z) {
        assert!(!w.closed(*iid));
    }

    let (live, live_acts) = w.sweep(false, 55).await;
    assert_eq!(dry_acts, live_acts, "dry run and live run differ");
    assert_eq!(dry.counts, live.counts);
    assert_eq!(dry.summaries.len(), 1);
    assert_eq!(dry.summaries[0].body, live.summaries[0].body);
    assert!(x.iter().all(|i| w.closed(*i)));
    assert!(y.iter().all(|i| w.has(*i, STALE)));
    assert_eq!(z.iter().filter(|i| w.has(**i, NUDGED)).count(), 2);

    // The next dry run shows what the next live run will do: the 8 nudges left over.
    let (next_dry, next_acts) = w.sweep(true, 55).await;
    assert_eq!((next_dry.counts.nudged, next_acts.len()), (8, 16));
    // Each item says why it acts, from the planner's decision trace.
    let reasons = w.dry_run_reasons().await;
    assert_eq!(reasons.len(), 8, "{reasons:?}");
    for r in &reasons {
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(
            r[0].starts_with("rule `stale:")
                && r[0].ends_with(": the stale policy's next step is due"),
            "{r:?}"
        );
    }
    let (_, next_live) = w.sweep(false, 55).await;
    assert_eq!(next_acts, next_live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_is_created_then_updated_in_place() {
    let w = world().await;
    w.create(6, &[TRIAGE]);
    w.create(3, &[QUALIFICATION]);
    w.create(2, &[TRIAGE, "on-hold"]);
    w.advance_days(14);
    let (first, _) = w.sweep(false, 8).await; // 4 of the 9 due items
    assert_eq!(first.summaries[0].outcome, "created");
    let (second, _) = w.sweep(false, 8).await; // 4 more
    assert_eq!(second.summaries[0].outcome, "updated");
    let (third, _) = w.sweep(false, 8).await; // the last one
    assert_eq!(third.summaries[0].outcome, "updated");
    let (fourth, _) = w.sweep(false, 8).await; // nothing to do
    assert_eq!(fourth.summaries[0].outcome, "unchanged");

    let summaries = w.sim.issues(w.reports);
    assert_eq!(
        summaries.len(),
        1,
        "one summary issue per workflow and week"
    );
    let s = &summaries[0];
    assert!(
        s.title.starts_with("Stale sweep: cocreate — week "),
        "{}",
        s.title
    );
    assert_eq!(s.labels, vec!["sweep-summary".to_string()]);
    let d = &s.description;
    assert!(d.contains("| ~\"cocreate::triage\" | 8 | 0 |"), "{d}");
    assert!(
        d.contains("| ~\"cocreate::qualification\" | 3 | 0 |"),
        "{d}"
    );
    assert!(d.contains("```mermaid\nflowchart LR\n  s0[\"cocreate::triage<br/>8 open, 0 stale\"]\n  s1[\"cocreate::qualification<br/>3 open, 0 stale\"]\n  s0 --> s1\n```"), "{d}");
    let rows: Vec<&str> = d.lines().filter(|l| l.contains(" UTC | ")).collect();
    assert_eq!(rows.len(), 3, "{d}");
    assert!(rows[0].ends_with(" | 4 | 0 | 0 | 0 | 10 |"), "{}", rows[0]);
    assert!(rows[1].ends_with(" | 4 | 0 | 0 | 0 | 2 |"), "{}", rows[1]);
    assert!(rows[2].ends_with(" | 1 | 0 | 0 | 0 | 0 |"), "{}", rows[2]);

    // A week later the items are stale: a new summary lists them with owners and idle days.
    w.advance_days(7);
    let (r, _) = w.sweep(false, 100).await;
    assert_eq!(r.counts.marked_stale, 9);
    // The same day again: the stale list shows the same idle days, so nothing is rewritten.
    let (again, _) = w.sweep(false, 100).await;
    assert_eq!(again.summaries[0].outcome, "unchanged");
    let summaries = w.sim.issues(w.reports);
    assert_eq!(summaries.len(), 2, "a new week, a new summary");
    let d = &summaries[1].description;
    assert!(d.contains("### Stale items (9)"), "{d}");
    assert!(d.contains("| ~\"cocreate::triage\" | 8 | 6 |"), "{d}");
    // Idle days: marked today, so the 14 (10) days before the nudge + the 7 (5) after it.
    assert!(
        d.contains(
            "| co-create/opportunities#1 Opportunity 0 | ~\"cocreate::triage\" | `pm-lead` | 21 |"
        ),
        "{d}"
    );
    assert!(d.contains("| co-create/opportunities#7 Opportunity 0 | ~\"cocreate::qualification\" | `cs-lead` | 15 |"), "{d}");
    assert!(!d.contains("@pm-lead"), "the summary pings nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_follow_ups_run_in_the_sweep() {
    let w = world().await;
    let iid = w.create(1, &["cocreate::identified"])[0];
    let store = w.sweeper.executor.store().clone();
    let key = format!("cocreate/triage/{}#{iid}/x/0", w.opps);
    let scheduled = store
        .schedule_followup(NewFollowup {
            key: key.clone(),
            issue_key: format!("{}#{iid}", w.opps),
            due_at: w.clock.now() + Duration::days(5),
            payload: labelflow::store::FollowupPayload {
                followup: "cocreate/remind-pm".into(),
                project_id: w.opps,
                iid,
                project_path: "co-create/opportunities".into(),
                key: key.clone(),
            },
        })
        .await
        .expect("schedule");
    assert!(scheduled);
    w.advance_days(4);
    let (r, _) = w.sweep(false, 100).await;
    assert_eq!(r.followups.due, 0);
    w.advance_days(1);
    let (dry, _) = w.sweep(true, 100).await;
    assert_eq!((dry.followups.due, dry.followups.worker.done), (1, 0));
    assert!(w.bot_comments(w.opps, iid).is_empty());
    let (r, _) = w.sweep(false, 100).await;
    assert_eq!((r.followups.due, r.followups.worker.done), (1, 1));
    assert_eq!(
        w.bot_comments(w.opps, iid)
            .iter()
            .filter(|c| c.starts_with("@pm-lead, a reminder"))
            .count(),
        1
    );
    let (r, _) = w.sweep(false, 100).await;
    assert_eq!((r.followups.due, r.followups.worker.done), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_429s_without_headers_are_waited_out() {
    let w = world().await;
    let items = w.create(120, &[TRIAGE]);
    w.advance_days(14);
    // Two 429s without any header on the listing, and a tight rate limit on everything.
    w.sim.add_fault(
        FaultRule::new(FaultKind::TooManyRequests {
            retry_after: None,
            rate_limit_headers: false,
        })
        .method("GET")
        .path_contains("/issues")
        .times(2),
    );
    w.sim
        .set_rate_limit(Some(RateLimit::new(150, std::time::Duration::from_secs(2))));
    w.sim.clear_requests();
    let (r, _) = w.sweep(false, 10_000).await;
    assert_eq!(r.counts.nudged, 120);
    for iid in &items {
        assert_eq!(w.bot_comments(w.opps, *iid).len(), 1, "#{iid}");
    }
    let throttled = w.sim.requests().iter().filter(|q| q.status == 429).count();
    assert!(throttled >= 2, "the 429s were met ({throttled})");
}

/// With the service running, a person's activity removes the sweep's labels through the event
/// path, and the idle clock starts over; the bot's own steps do not reset it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_activity_resets_the_clock_and_bot_activity_does_not() {
    let mut h = common::Harness::start(&config_path()).await;
    h.add_person("alice");
    let opps = h.project("opportunities");
    let iids: Vec<u64> = (0..4)
        .map(|k| {
            h.sim
                .as_user("alice")
                .create_issue(
                    opps,
                    &format!("Opportunity {k}"),
                    "Customer: Acme",
                    &[TRIAGE],
                )
                .expect("issue")
        })
        .collect();
    h.settle().await;
    let engine = Engine::load(&config_path()).expect("config");
    let metrics = Metrics::new();
    let forge = GitlabForge::connect(
        &h.sim.base_url(),
        &h.bot_token,
        test_policy(),
        metrics.clone(),
    )
    .await
    .expect("forge");
    let sweeper = Sweeper {
        engine: Arc::new(engine),
        executor: Executor::new(forge, h.store(), metrics, h.clock.clone()),
    };
    let opts = SweepOptions {
        dry_run: false,
        max_actions: 100,
        workflows: vec![],
    };
    let mut ignore = |_: ItemPlan<'_>| {};

    h.clock.advance(Duration::days(14));
    let r = sweeper.run(&opts, &mut ignore).await;
    assert_eq!(r.counts.nudged, 4);
    h.settle().await;
    for iid in &iids {
        h.expect_comment(
            opps,
            *iid,
            "this item has been at ~\"cocreate::triage\" for 14 days",
        );
    }

    // A comment, a label change and a description edit by a person; the fourth item is left.
    h.sim
        .as_user("alice")
        .comment(opps, iids[0], "Still waiting on the customer.")
        .expect("comment");
    h.sim
        .as_user("alice")
        .add_labels(opps, iids[1], &["needs-review"])
        .expect("label");
    h.sim
        .as_user("alice")
        .edit_description(opps, iids[2], "Customer: Acme\nProblem: slow pipelines")
        .expect("edit");
    h.settle().await;
    for iid in &iids[..3] {
        assert!(
            !labels(&h, opps, *iid).contains(&NUDGED.to_string()),
            "#{iid}: {:?}",
            labels(&h, opps, *iid)
        );
    }
    assert!(labels(&h, opps, iids[3]).contains(&NUDGED.to_string()));

    // Seven days on: only the untouched item is marked stale.
    h.clock.advance(Duration::days(7));
    let r = sweeper.run(&opts, &mut ignore).await;
    assert_eq!((r.counts.marked_stale, r.counts.nudged), (1, 0));
    h.settle().await;
    h.expect_comment(opps, iids[3], "so I marked this item");
    assert!(labels(&h, opps, iids[3]).contains(&STALE.to_string()));

    // Fourteen days after their activity the other three get a fresh nudge (not a mark).
    h.clock.advance(Duration::days(7));
    let r = sweeper.run(&opts, &mut ignore).await;
    assert_eq!((r.counts.nudged, r.counts.marked_stale), (3, 0));
    h.settle().await;
    for iid in &iids[..3] {
        let notes: Vec<String> = h
            .bot_notes(opps, *iid)
            .into_iter()
            .map(|n| n.body)
            .collect();
        assert_eq!(notes.len(), 2, "#{iid}: {notes:?}");
        assert!(
            notes.iter().all(|b| b.contains("for 14 days")),
            "#{iid}: {notes:?}"
        );
    }

    // A person reopening the conversation on the stale item removes the stale mark.
    h.sim
        .as_user("alice")
        .comment(opps, iids[3], "We are back on this.")
        .expect("comment");
    h.settle().await;
    assert!(
        !labels(&h, opps, iids[3]).contains(&STALE.to_string()),
        "{:?}",
        labels(&h, opps, iids[3])
    );
    assert!(labels(&h, opps, iids[3]).contains(&TRIAGE.to_string()));
    assert_eq!(
        h.bot_notes(opps, iids[3]).len(),
        2,
        "no reply to the comment"
    );
}

fn labels(h: &common::Harness, project: u64, iid: u64) -> Vec<String> {
    h.sim.issue(project, iid).expect("issue").labels
}

/// `labelflow sweep` itself (system clock: the items are backdated instead): the dry run
/// writes nothing, the live run does what it printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_dry_run_then_live_run() {
    use clap::Parser;
    let w = world().await;
    let items = w.create(3, &[TRIAGE]);
    let long_ago = w.clock.now() - Duration::days(20);
    for iid in &items {
        w.sim
            .set_updated_at(w.opps, *iid, long_ago)
            .expect("backdate");
    }
    let token = w.sim.user("labelflow").expect("bot").token;
    let db = w._dir.path().join("cli.db").display().to_string();
    let config = config_path().display().to_string();
    let url = w.sim.base_url();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "labelflow",
            "sweep",
            "--config",
            &config,
            "--database",
            &db,
            "--gitlab-url",
            &url,
            "--gitlab-token",
            &token,
        ];
        a.extend_from_slice(extra);
        labelflow::cli::Cli::parse_from(a)
    };
    w.sim.clear_requests();
    assert_eq!(labelflow::cli::run(args(&["--dry-run"])).await, 0);
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert!(items.iter().all(|i| !w.has(*i, NUDGED)));
    assert_eq!(labelflow::cli::run(args(&["--max-actions", "4"])).await, 0);
    assert_eq!(items.iter().filter(|i| w.has(**i, NUDGED)).count(), 2);
    assert_eq!(labelflow::cli::run(args(&[])).await, 0);
    assert!(items.iter().all(|i| w.has(*i, NUDGED)));
    assert_eq!(
        labelflow::cli::run(args(&["--workflow", "nope"])).await,
        1,
        "unknown workflow"
    );
}

/// `sweep_visits`: items carrying a visit label are handed to the `on: tick` rules on every
/// run, however recently they changed; an item a stale listing already took is acted on once;
/// a visit never takes a stale step (the policy's milestone exemption holds); a re-run the same
/// day does nothing and the next day visits again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visits_hand_labelled_items_to_tick_rules_whatever_their_idle_time() {
    let w = world_with(&common::repo_path("tests/configs/sweep/visits.yml")).await;
    let pending = w.create(3, &["check::pending"]);
    let retry = w.create(2, &["check::retry"]);
    let stalled = w.create(2, &[TRIAGE, "check::pending"]);
    let exempt = w.create(1, &[TRIAGE, "check::pending"])[0];
    let quiet = w.create(2, &[TRIAGE]);
    let plain = w.create(2, &["cocreate::other"]);
    w.sim
        .set_milestone(w.opps, exempt, Some("FY25-Q3"))
        .expect("milestone");
    for (iid, days) in stalled.iter().map(|i| (*i, 14)).chain([(exempt, 20)]) {
        w.sim
            .set_updated_at(w.opps, iid, w.clock.now() - Duration::days(days))
            .expect("backdate");
    }
    let rechecked = "Rechecked by the sweep.";

    w.sim.clear_requests();
    let (dry, dry_acts) = w.sweep(true, 10_000).await;
    assert!(w.writes().is_empty(), "dry run wrote: {:?}", w.writes());
    let (r, acts) = w.sweep(false, 10_000).await;
    assert_eq!(dry_acts, acts, "dry run and live run differ");
    assert_eq!(dry.counts, r.counts);
    // 3 + 2 + 1 visits, 2 stalled items nudged and rechecked: each rule's action once.
    assert_eq!(
        (r.actions, r.counts.nudged, r.counts.other_actions),
        (12, 2, 8)
    );
    assert_eq!(count(&acts, "recheck"), 8);
    assert_eq!(count(&acts, ":nudge"), 4);
    for iid in pending.iter().chain(&retry).chain([&exempt]) {
        let c = w.bot_comments(w.opps, *iid);
        assert_eq!(c.len(), 1, "#{iid}: {c:?}");
        assert!(c[0].starts_with(rechecked), "#{iid}: {c:?}");
    }
    for iid in &stalled {
        let c = w.bot_comments(w.opps, *iid);
        assert_eq!(c.len(), 2, "#{iid}: {c:?}");
        assert!(c[0].starts_with(rechecked), "{}", c[0]);
        assert!(
            c[1].starts_with("@cs-lead, this item has been at ~\"cocreate::triage\" for 14 days"),
            "{}",
            c[1]
        );
        assert!(w.has(*iid, NUDGED));
    }
    assert!(
        !w.has(exempt, NUDGED),
        "the milestone exempts it from the stale policy"
    );
    for iid in quiet.iter().chain(&plain) {
        assert!(w.bot_comments(w.opps, *iid).is_empty(), "#{iid}");
    }
    // Listings: the policy's idle one (its stale one only comes with a summary or a close),
    // then one per visit label; a page each.
    let pages: Vec<String> = w
        .reads()
        .into_iter()
        .filter(|q| q.path.ends_with("/issues"))
        .map(|q| q.query)
        .collect();
    assert_eq!(pages.len(), 2 * 3, "dry and live run: {pages:#?}");
    assert!(
        pages[1].contains("labels=check%3A%3Apending"),
        "{}",
        pages[1]
    );
    assert!(!pages[1].contains("updated_before"), "{}", pages[1]);
    assert!(pages[2].contains("labels=check%3A%3Aretry"), "{}", pages[2]);

    let (again, _) = w.sweep(false, 10_000).await;
    assert_eq!(again.actions, 0, "a re-run the same day does nothing");

    w.advance_days(1);
    let (next, acts) = w.sweep(false, 10_000).await;
    assert_eq!((next.actions, next.counts.nudged), (8, 0));
    assert_eq!(count(&acts, "recheck"), 8);
    for iid in pending
        .iter()
        .chain(&retry)
        .chain(&stalled)
        .chain([&exempt])
    {
        let c = w.bot_comments(w.opps, *iid);
        assert_eq!(
            c.iter().filter(|b| b.starts_with(rechecked)).count(),
            2,
            "#{iid}: {c:?}"
        );
    }
}
