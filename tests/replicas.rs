//! Several real `labelflow serve` processes sharing one PostgreSQL database (issue 8): webhooks
//! spread over the replicas (duplicates included), one replica SIGKILLed mid-way, and the
//! simulated GitLab checked for every effect exactly once and in per-issue order; delayed
//! follow-ups fire once with several replicas promoting them; an event that outlasts its lease
//! (GitLab rate-limiting) is not done twice.
//!
//! Needs `LABELFLOW_TEST_POSTGRES_URL` (scripts/test.sh sets it); without it each test prints a
//! loud SKIPPED notice and passes. `LABELFLOW_REPLICAS_HEAVY=1` runs the bigger variant.

#[path = "replicas/database.rs"]
mod database;
#[path = "replicas/fleet.rs"]
mod fleet;
#[path = "replicas/traffic.rs"]
mod traffic;
#[path = "replicas/world.rs"]
mod world;

use database::TestDatabase;
use fleet::{FleetConfig, Replica};
use labelflow::sim::FaultRule;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;
use traffic::{Balancer, Hook, send_all};
use world::{IssueRef, SIGNING_TOKEN, World, config_path};

/// The tests start several processes each: one at a time on a 2-core machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How big a run is.
struct Scale {
    replicas: usize,
    workers_per_replica: usize,
    issues_per_project: usize,
    commands_per_issue: usize,
    /// Issues whose deliveries are being sent at the same time.
    parallel_issues: usize,
    settle_timeout: Duration,
}

impl Scale {
    fn from_env() -> Scale {
        if std::env::var("LABELFLOW_REPLICAS_HEAVY").is_ok_and(|v| !v.is_empty() && v != "0") {
            Scale {
                replicas: 3,
                workers_per_replica: 4,
                issues_per_project: 50,
                commands_per_issue: 60,
                parallel_issues: 32,
                settle_timeout: Duration::from_secs(900),
            }
        } else {
            Scale {
                replicas: 3,
                workers_per_replica: 2,
                issues_per_project: 20,
                commands_per_issue: 30,
                parallel_issues: 16,
                settle_timeout: Duration::from_secs(240),
            }
        }
    }
}

fn fleet_config(
    world: &World,
    db: &TestDatabase,
    log_dir: &std::path::Path,
    workers: usize,
) -> FleetConfig {
    FleetConfig {
        config: config_path(),
        database: db.url.clone(),
        gitlab_url: world.sim.base_url(),
        gitlab_token: world.bot_token.clone(),
        signing_token: SIGNING_TOKEN.to_string(),
        workers,
        lease_seconds: fleet::LEASE_SECONDS,
        log_dir: log_dir.to_path_buf(),
    }
}

/// Starts the replicas at the same time (so their migrations race, as in a rollout).
async fn start_fleet(cfg: &FleetConfig, count: usize) -> Vec<Replica> {
    let names: Vec<String> = (0..count).map(|n| format!("replica-{n}")).collect();
    futures::future::join_all(names.iter().map(|name| Replica::start(name, cfg))).await
}

/// SIGKILLs `replica` at a moment it holds leases: it is frozen (SIGSTOP) and its leases
/// looked up; if it holds none just then, it runs a little longer and is looked at again.
/// Returns the events it held, which stay leased to the dead process until the lease ends.
async fn kill_while_working(replica: &mut Replica, db: &TestDatabase) -> Vec<i64> {
    for _ in 0..500 {
        replica.signal("STOP");
        let held = db.leased_by_process(replica.pid()).await;
        if !held.is_empty() {
            replica.kill().await;
            return held;
        }
        replica.signal("CONT");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{} never held a lease: was it working at all?",
        replica.name
    );
}

/// Waits until every event is finished and the simulator has nothing left to send, three
/// checks in a row (the bot's own comments fire more hooks).
async fn settle(world: &World, db: &TestDatabase, timeout: Duration, replicas: &[Replica]) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut quiet = 0;
    while quiet < 3 {
        if tokio::time::Instant::now() >= deadline {
            let logs: Vec<String> = replicas
                .iter()
                .map(|r| format!("--- {} ---\n{}", r.name, r.log_tail()))
                .collect();
            panic!(
                "not settled after {timeout:?}: {} unfinished events, {} hooks pending\n{}",
                db.unfinished().await,
                world.sim.pending_hooks(),
                logs.join("\n")
            );
        }
        if db.unfinished().await == 0 && world.sim.pending_hooks() == 0 {
            quiet += 1;
        } else {
            quiet = 0;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Where the bot's comments on `issue` first differ from `expected` (`None`: they match).
fn first_difference(issue: IssueRef, expected: &[String], got: &[String]) -> Option<String> {
    if got == expected {
        return None;
    }
    let at = expected
        .iter()
        .zip(got)
        .position(|(e, g)| e != g)
        .unwrap_or(expected.len().min(got.len()));
    Some(format!(
        "  {}#{}: {} comments (expected {}); from #{at}: expected {:?}, got {:?}",
        issue.project,
        issue.iid,
        got.len(),
        expected.len(),
        &expected[at..expected.len().min(at + 3)],
        &got[at..got.len().min(at + 3)]
    ))
}

/// Runs `test` on a fresh database (dropped afterwards), or announces the skip.
async fn with_database<F, Fut>(name: &str, test: F)
where
    F: FnOnce(TestDatabase) -> Fut,
    Fut: Future<Output = TestDatabase>,
{
    let _serial = ONE_AT_A_TIME.lock().await;
    let Some(db) = TestDatabase::create(name).await else {
        return;
    };
    // A failing test panics inside `test` and leaves its database behind in the throwaway
    // cluster; a passing one drops it.
    let db = test(db).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_apply_every_event_once_and_in_order_despite_a_kill() {
    with_database(
        "replicas_apply_every_event_once_and_in_order_despite_a_kill",
        |db| async move {
            let scale = Scale::from_env();
            let world = World::start().await;

            // Record what GitLab sends for the people's actions: issues opened, then rounds of
            // `@labelflow echo N` on every issue.
            let issues = world.open_issues(scale.issues_per_project);
            world.comment_rounds(&issues, scale.commands_per_issue, |n| {
                format!("@{} echo {n}", world::BOT)
            });
            let recorded = world.recorded_hooks().await;
            assert_eq!(
                recorded.len(),
                issues.len(),
                "every issue has recorded events"
            );
            let unique: usize = recorded.values().map(Vec::len).sum();
            assert_eq!(unique, issues.len() * (1 + scale.commands_per_issue));
            let webhook_ids: BTreeSet<String> = recorded
                .values()
                .flatten()
                .map(|h| h.webhook_id.clone())
                .collect();
            assert_eq!(
                webhook_ids.len(),
                unique,
                "recorded deliveries have distinct ids"
            );

            let logs = tempfile::tempdir().expect("log dir");
            let cfg = fleet_config(&world, &db, logs.path(), scale.workers_per_replica);
            let mut replicas = start_fleet(&cfg, scale.replicas).await;
            // The bot's own comments go to the first replica, which never dies (GitLab sends them
            // too; they must change nothing).
            world.hook_to(&replicas[0].webhook_url());
            let balancer = Balancer::new(
                replicas.iter().map(Replica::webhook_url).collect(),
                SIGNING_TOKEN,
            );
            let per_issue: Vec<Vec<Hook>> = recorded.values().cloned().collect();
            let planned: usize = per_issue
                .iter()
                .map(|h| traffic::send_order(h.len()).len())
                .sum();

            // Send everything; half-way through, SIGKILL the last replica.
            let victim = scale.replicas - 1;
            let sending = send_all(balancer.clone(), per_issue.clone(), scale.parallel_issues);
            let killing = async {
                while balancer.sent() < planned / 2 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                balancer.mark_dead(victim);
                kill_while_working(&mut replicas[victim], &db).await
            };
            let (sent, orphaned) = tokio::join!(sending, killing);
            sent.unwrap_or_else(|e| panic!("sending failed: {e}"));
            assert!(
                balancer.accepted_by(victim) > 0,
                "the killed replica took deliveries before it died"
            );

            // Late resends of every seventh delivery, to the survivors.
            let mut late = 0;
            for (n, hooks) in per_issue.iter().enumerate() {
                for hook in hooks.iter().step_by(7) {
                    balancer
                        .deliver(hook, n)
                        .await
                        .unwrap_or_else(|e| panic!("late resend failed: {e}"));
                    late += 1;
                }
            }
            let total_sent = planned + late;
            assert_eq!(balancer.sent(), total_sent);
            eprintln!(
                "replicas: {total_sent} deliveries ({unique} distinct) to {} replicas; \
             replica-{victim} killed holding {} leases",
                scale.replicas,
                orphaned.len()
            );

            settle(&world, &db, scale.settle_timeout, &replicas).await;

            // The store: one row per distinct delivery (plus the bot's own), nothing parked.
            assert_eq!(
                db.status_count("parked").await,
                0,
                "parked: {:?}",
                db.parked().await
            );
            let stored: BTreeSet<String> = db.delivery_ids().await.into_iter().collect();
            assert!(webhook_ids.is_subset(&stored), "every delivery was stored");
            // What the killed replica held was taken over once its lease ran out, and finished.
            for (status, attempts) in db.outcomes(&orphaned).await {
                assert_eq!(status, "done");
                assert!(
                    attempts >= 2,
                    "a taken-over event is claimed again: {attempts}"
                );
            }

            // GitLab: per issue, exactly the echoes, once each, in the order they were sent.
            let expected: Vec<String> = (1..=scale.commands_per_issue)
                .map(|n| format!("echo {n}"))
                .collect();
            let wrong: Vec<String> = issues
                .iter()
                .filter_map(|i| first_difference(*i, &expected, &world.bot_comments(*i)))
                .collect();
            assert!(
                wrong.is_empty(),
                "{} of {} issues did not get `echo 1` … `echo {}` once each, in order:\n{}",
                wrong.len(),
                issues.len(),
                scale.commands_per_issue,
                wrong.join("\n")
            );
            let effects = issues.len() * scale.commands_per_issue;
            assert_eq!(
                world.notes_created_over_http(),
                effects,
                "one comment created per command, no duplicate POSTs"
            );

            // The survivors stop cleanly.
            for replica in replicas.iter_mut().take(victim) {
                let status = replica.terminate().await;
                assert!(
                    status.success(),
                    "{} exited with {status}: {}",
                    replica.name,
                    replica.log_tail()
                );
            }
            db
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_followups_fire_once_across_replicas() {
    with_database("delayed_followups_fire_once_across_replicas", |db| async move {
        let world = World::start().await;
        let issues = world.open_issues(6);
        world.comment_rounds(&issues, 1, |_| format!("@{} remind", world::BOT));
        let recorded = world.recorded_hooks().await;

        let logs = tempfile::tempdir().expect("log dir");
        let cfg = fleet_config(&world, &db, logs.path(), 2);
        let mut replicas = start_fleet(&cfg, 3).await;
        world.hook_to(&replicas[0].webhook_url());
        let balancer = Balancer::new(
            replicas.iter().map(Replica::webhook_url).collect(),
            SIGNING_TOKEN,
        );
        let per_issue: Vec<Vec<Hook>> = recorded.values().cloned().collect();
        send_all(balancer.clone(), per_issue, 4)
            .await
            .unwrap_or_else(|e| panic!("sending failed: {e}"));
        // The follow-ups live in the shared database, not in the replica that scheduled them:
        // one replica dies before they are due, and the other two still fire each once.
        balancer.mark_dead(2);
        replicas[2].kill().await;

        // Every replica promotes due follow-ups once a second; wait until all have fired and
        // their events are done, then a few promotion rounds more, in case one fires twice.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (scheduled, fired) = db.followups().await;
            if scheduled == issues.len() as i64 && fired == scheduled && db.unfinished().await == 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "follow-ups not done after 60 s: {scheduled} scheduled, {fired} fired, {} unfinished\n{}",
                db.unfinished().await,
                replicas[0].log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        settle(&world, &db, Duration::from_secs(60), &replicas).await;

        let count = issues.len() as i64;
        assert_eq!(db.followups().await, (count, count));
        let events = db.followup_events().await;
        assert_eq!(events.len(), issues.len(), "one inbox event per follow-up: {events:?}");
        assert!(events.iter().all(|(_, status)| status == "done"), "{events:?}");
        assert_eq!(db.status_count("parked").await, 0, "parked: {:?}", db.parked().await);
        for issue in &issues {
            assert_eq!(
                world.bot_comments(*issue),
                vec!["reminder set".to_string(), "nudge fired".to_string()],
                "issue {issue:?}"
            );
            // Not before it was due (3 s after the rule ran).
            let due = db
                .followup_due_at(&format!("{}#{}", issue.project, issue.iid))
                .await;
            let nudged = world.bot_comment_times(*issue)[1];
            assert!(nudged >= due, "nudge on {issue:?} at {nudged}, due at {due}");
        }
        assert_eq!(world.notes_created_over_http(), issues.len() * 2);
        for replica in replicas.iter_mut().take(2) {
            let status = replica.terminate().await;
            assert!(status.success(), "{} exited with {status}", replica.name);
        }
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_outlasting_its_lease_is_not_done_twice() {
    with_database(
        "an_event_outlasting_its_lease_is_not_done_twice",
        |db| async move {
            let world = World::start().await;
            let issues = world.open_issues(1);
            world.comment_rounds(&issues, 2, |n| format!("@{} echo {n}", world::BOT));
            let recorded = world.recorded_hooks().await;
            // GitLab rate-limits the bot's first comment for 4 s, twice the lease: the replica
            // that holds the event waits (as it should), and its lease runs out meanwhile.
            world.sim.add_fault(
                FaultRule::too_many_requests(4)
                    .method("POST")
                    .path_regex(r"/notes$")
                    .expect("regex")
                    .times(1),
            );

            let logs = tempfile::tempdir().expect("log dir");
            let mut cfg = fleet_config(&world, &db, logs.path(), 2);
            cfg.lease_seconds = 2;
            let mut replicas = start_fleet(&cfg, 2).await;
            world.hook_to(&replicas[0].webhook_url());
            let balancer = Balancer::new(
                replicas.iter().map(Replica::webhook_url).collect(),
                SIGNING_TOKEN,
            );
            send_all(balancer, recorded.values().cloned().collect(), 2)
                .await
                .unwrap_or_else(|e| panic!("sending failed: {e}"));
            // Let the throttled comment's wait run out before looking.
            tokio::time::sleep(Duration::from_secs(5)).await;
            settle(&world, &db, Duration::from_secs(60), &replicas).await;

            let limited = world
                .sim
                .requests()
                .iter()
                .filter(|r| r.status == 429)
                .count();
            assert_eq!(limited, 1, "the fault fired once");
            // The replica's pacer holds its calls until the window the 429 announced ends, so
            // a retry on the same replica within it may be cut off again.
            assert!(
                db.errors_containing("cut off to retry").await >= 1,
                "the throttled event was cut off before its lease ended, then retried"
            );
            for issue in &issues {
                assert_eq!(
                    world.bot_comments(*issue),
                    vec!["echo 1".to_string(), "echo 2".to_string()],
                    "issue {issue:?}"
                );
            }
            assert_eq!(world.notes_created_over_http(), issues.len() * 2);
            assert_eq!(
                db.status_count("parked").await,
                0,
                "parked: {:?}",
                db.parked().await
            );
            for replica in &mut replicas {
                let status = replica.terminate().await;
                assert!(status.success(), "{} exited with {status}", replica.name);
            }
            db
        },
    )
    .await;
}
