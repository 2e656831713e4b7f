//! Graceful shutdown of the real binary: SIGTERM stops accepting webhooks at once, lets
//! in-flight events finish (or, past `--shutdown-seconds`, releases them to the queue) and
//! exits within a bounded time; a restart then completes the rest exactly once.

mod process;

use labelflow::sim::FaultRule;
use process::workload::{
    self, Delivery, SendReport, assert_exactly_once, open_store, send_all, wait_drained,
};
use process::{ServeSpec, free_addr, repo_path, sigterm};
use std::time::{Duration, Instant};
use tokio::process::Child;

const ISSUES: usize = 6;

fn spec(w: &workload::Workload, dir: &tempfile::TempDir, shutdown_seconds: u64) -> ServeSpec {
    ServeSpec {
        config: repo_path("tests/configs/ordering/labelflow.yml"),
        database: dir.path().join("labelflow.db"),
        listen: free_addr(),
        gitlab_url: w.sim.base_url(),
        gitlab_token: w.bot_token.clone(),
        log: dir.path().join("serve.log"),
        extra: vec![
            "--workers".into(),
            "4".into(),
            "--shutdown-seconds".into(),
            shutdown_seconds.to_string(),
        ],
    }
}

/// Slows every comment the bot posts, so events are in flight when SIGTERM comes. GitLab
/// makes the comment at once and answers `delay` later: an interrupted call has had its effect.
fn slow_comments(w: &workload::Workload, delay: Duration) -> labelflow::sim::FaultId {
    w.sim.add_fault(
        FaultRule::slow_response(delay)
            .method("POST")
            .path_regex(r"/issues/\d+/notes$")
            .expect("regex")
            .probability(1.0, 0),
    )
}

/// Sends the issue openings (no comments: quick) and waits for them, then starts sending the
/// rest in the background, so the events in flight are ones that post a (slow) comment.
/// Returns the sender, whose report covers every delivery.
async fn start_sending(
    w: &workload::Workload,
    spec: &ServeSpec,
    store: &labelflow::store::DynStore,
) -> tokio::task::JoinHandle<SendReport> {
    let (opens, rest) = w.deliveries.split_at(ISSUES);
    let first = send_all(opens, spec.listen, 2, 0.0, 1).await;
    wait_drained(store, Duration::from_secs(30), || spec.log_tail()).await;
    let rest = rest.to_vec();
    let addr = spec.listen;
    tokio::spawn(async move {
        let mut report = send_all(&rest, addr, 2, 0.0, 2).await;
        report.unique += first.unique;
        report
    })
}

/// Waits until events are leased, then a little longer, so they are past their quick GET and
/// inside the slow POST.
async fn wait_running(store: &labelflow::store::DynStore) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let q = store.queue_stats().await.expect("stats");
        if q.running > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return store.queue_stats().await.expect("stats").running;
        }
        assert!(Instant::now() < deadline, "nothing started: {q:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM, then: new deliveries are refused while the process still runs; returns how long
/// the process took to exit.
async fn terminate(child: &mut Child, spec: &ServeSpec, probe: &Delivery) -> Duration {
    let started = Instant::now();
    sigterm(child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = reqwest::Client::new();
    let sent = client
        .post(format!("http://{}/webhooks/gitlab", spec.listen))
        .header("content-type", "application/json")
        .body(probe.body.clone())
        .send()
        .await;
    assert!(
        sent.is_err(),
        "no new connection is accepted after SIGTERM: {sent:?}"
    );
    assert!(
        child.try_wait().expect("wait").is_none(),
        "still finishing in-flight work when the probe was refused:\n{}",
        spec.log_tail()
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("exit status");
    assert!(
        status.success(),
        "clean exit: {status}\n{}",
        spec.log_tail()
    );
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_events_then_exits() {
    let w = workload::build(ISSUES).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = spec(&w, &dir, 10);
    let slow = slow_comments(&w, Duration::from_millis(1500));
    let mut child = spec.start().await;
    let store = open_store(&spec.database).await;
    let sender = start_sending(&w, &spec, &store).await;

    let in_flight = wait_running(&store).await;
    let done_before = store.queue_stats().await.expect("stats").done;
    let took = terminate(&mut child, &spec, &w.deliveries[0]).await;
    let q = store.queue_stats().await.expect("stats");
    assert_eq!(q.running, 0, "nothing left leased: {q:?}");
    assert!(
        q.done >= done_before + in_flight,
        "the {in_flight} in-flight events finished: {q:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "exited within --shutdown-seconds: {took:?}"
    );
    assert!(spec.log_text().contains("shutting down: no new webhooks"));
    assert!(!spec.log_text().contains("releasing their leases"));

    // The rest after a restart, exactly once.
    w.sim.remove_fault(slow);
    let child = spec.start().await;
    let report = sender.await.expect("sender");
    assert_eq!(report.unique, ISSUES * workload::EVENTS_PER_ISSUE);
    wait_drained(&store, Duration::from_secs(60), || spec.log_tail()).await;
    assert_exactly_once(&w, &store, &report, &[]).await;
    drop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_what_cannot_finish_in_time_and_nothing_runs_twice() {
    let w = workload::build(ISSUES).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = spec(&w, &dir, 1);
    let slow = slow_comments(&w, Duration::from_secs(4));
    let mut child = spec.start().await;
    let store = open_store(&spec.database).await;
    let sender = start_sending(&w, &spec, &store).await;

    let in_flight = wait_running(&store).await;
    let took = terminate(&mut child, &spec, &w.deliveries[0]).await;
    assert!(
        took < Duration::from_secs(4),
        "exited after --shutdown-seconds 1, before the slow calls returned: {took:?}"
    );
    let q = store.queue_stats().await.expect("stats");
    assert_eq!(q.running, 0, "leases released: {q:?}");
    assert!(
        spec.log_text().contains("releasing their leases"),
        "{}",
        spec.log_tail()
    );
    println!("{in_flight} in flight at SIGTERM; {q:?}");

    w.sim.remove_fault(slow);
    let child = spec.start().await;
    let report = sender.await.expect("sender");
    assert_eq!(report.unique, ISSUES * workload::EVENTS_PER_ISSUE);
    wait_drained(&store, Duration::from_secs(60), || spec.log_tail()).await;
    assert_exactly_once(&w, &store, &report, &[]).await;
    drop(child);
}
