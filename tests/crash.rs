//! Crash safety: the real `labelflow serve` binary, SIGKILLed at random moments while a few
//! thousand signed webhooks arrive and are processed, restarted on the same SQLite database.
//! Every accepted event's effects must happen exactly once, in per-issue order.
//!
//! Default: 150 issues (1,050 deliveries plus resends), 4 kills. `LABELFLOW_HEAVY=1`: 600
//! issues (4,200 deliveries plus resends), 10 kills. `LABELFLOW_SEED=N` repeats a run.

mod process;

use process::workload::{self, assert_exactly_once, open_store, send_all, wait_drained};
use process::{ServeSpec, free_addr, heavy, repo_path, sigkill, sigterm};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_does_nothing_twice() {
    let (issue_count, kills) = if heavy() { (600, 10) } else { (150, 4) };
    let seed = workload::seed();
    let w = workload::build(issue_count).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = ServeSpec {
        config: repo_path("tests/configs/ordering/labelflow.yml"),
        database: dir.path().join("labelflow.db"),
        listen: free_addr(),
        gitlab_url: w.sim.base_url(),
        gitlab_token: w.bot_token.clone(),
        log: dir.path().join("serve.log"),
        extra: [
            "--workers",
            "4",
            "--lease-seconds",
            "2",
            "--retry-base-ms",
            "100",
            "--retry-max-seconds",
            "2",
        ]
        .map(String::from)
        .to_vec(),
    };
    let mut child = spec.start().await;
    let store = open_store(&spec.database).await;

    let deliveries = w.deliveries.clone();
    let addr = spec.listen;
    let sender = tokio::spawn(async move { send_all(&deliveries, addr, 4, 0.25, seed).await });

    let mut rng = StdRng::seed_from_u64(seed);
    let mut unfinished_at_kill = Vec::new();
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
        sigkill(&mut child).await;
        let q = store.queue_stats().await.expect("queue stats");
        unfinished_at_kill.push(q.pending + q.running);
        child = spec.start().await;
    }
    let report = sender.await.expect("sender");
    wait_drained(&store, Duration::from_secs(240), || spec.log_tail()).await;
    println!("{report:?}; unfinished events at each kill: {unfinished_at_kill:?}");

    assert_eq!(report.unique, issue_count * workload::EVENTS_PER_ISSUE);
    let recovered = spec.log_text().matches("already exists; not ").count();
    println!("creations found by their marker after a crash: {recovered}");
    assert_eq!(unfinished_at_kill.len(), kills);
    assert!(
        unfinished_at_kill.iter().filter(|n| **n > 0).count() >= kills / 2,
        "the kills interrupted work: {unfinished_at_kill:?}"
    );
    assert_exactly_once(&w, &store, &report, &[]).await;
    let q = store.queue_stats().await.expect("queue stats");
    assert_eq!(q.parked, 0, "nothing parked");

    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("exit status");
    assert!(status.success(), "clean exit: {status}");
}
