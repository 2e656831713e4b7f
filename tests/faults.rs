//! GitLab faults: the crash test's workload while the simulated GitLab fails 20% of requests
//! with 503, 5% with 429 + `Retry-After`, 2% by never answering (the service runs with
//! `--gitlab-timeout-seconds 1`) and slows 5% down. Everything completes, nothing happens
//! twice, and the only parked event is the one that met a permanent error (a 403), which
//! `labelflow events list --status parked` shows and `labelflow events retry ID` re-runs.
//!
//! Default: 30 issues (210 deliveries plus resends). `LABELFLOW_HEAVY=1`: 200 issues.

mod process;

use labelflow::sim::{FaultKind, FaultRule};
use process::workload::{self, STEPS, assert_exactly_once, open_store, send_all, wait_drained};
use process::{ServeSpec, events_cli, free_addr, heavy, repo_path, sigterm};
use std::collections::BTreeMap;
use std::time::Duration;

/// Adds the random faults. Rules are consulted in order and the first that fires wins, so each
/// rule's probability is taken of the requests the rules before it let through; the shares
/// below are of all requests.
fn add_random_faults(sim: &labelflow::sim::SimGitlab, seed: u64) {
    let mut left = 1.0;
    let shares = [
        (FaultRule::status(503), 0.20),
        (FaultRule::too_many_requests(1), 0.05),
        (
            FaultRule::new(FaultKind::Timeout {
                hold: Duration::from_secs(30),
            }),
            0.02,
        ),
        (FaultRule::latency(Duration::from_millis(300)), 0.05),
    ];
    for (n, (rule, share)) in shares.into_iter().enumerate() {
        let p: f64 = share / left;
        sim.add_fault(rule.probability(p, seed.wrapping_add(n as u64)));
        left -= share;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_gitlab_completes_everything_once_and_parks_only_the_permanent_error() {
    let issue_count = if heavy() { 200 } else { 30 };
    let seed = workload::seed();
    let w = workload::build(issue_count).await;
    let victim = w.issues[7];
    // A permanent error, first in line: the victim's first comment is refused once (403).
    w.sim.add_fault(
        FaultRule::status(403)
            .method("POST")
            .path_regex(&format!(
                r"^/api/v4/projects/{}/issues/{victim}/notes$",
                w.items
            ))
            .expect("regex")
            .times(1),
    );
    add_random_faults(&w.sim, seed);

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
            "60",
            "--gitlab-timeout-seconds",
            "1",
            "--retry-base-ms",
            "100",
            "--retry-max-seconds",
            "2",
        ]
        .map(String::from)
        .to_vec(),
    };
    let child = spec.start().await;
    let store = open_store(&spec.database).await;
    let report = send_all(&w.deliveries, spec.listen, 4, 0.25, seed).await;
    wait_drained(&store, Duration::from_secs(240), || spec.log_tail()).await;

    // Exactly one parked event: the victim's step-1, with GitLab's refusal as the reason.
    let (code, table, err) = events_cli(&spec.database, &["list", "--status", "parked"]).await;
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "one parked event:\n{table}");
    let victim_key = format!("{}#{victim}", w.items);
    assert!(rows[0].contains(&victim_key), "{table}");
    assert!(
        rows[0].contains("GitLab refused the request (403)"),
        "the reason is shown: {table}"
    );
    let (code, json_lines, err) =
        events_cli(&spec.database, &["list", "--status", "parked", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let parked: Vec<serde_json::Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0]["issue_key"], victim_key.as_str());
    assert_eq!(parked[0]["event_kind"], "Issue Hook");
    let id = parked[0]["id"].as_i64().expect("an id");
    assert_eq!(
        workload::bot_steps(&w.sim, w.items, victim),
        ["step-2", "step-3", "step-4", "step-5"],
        "later events of the issue went on"
    );

    let (code, out, err) = events_cli(&spec.database, &["retry", &id.to_string()]).await;
    assert_eq!(
        (code, out.as_str()),
        (0, format!("event {id} is queued again\n").as_str()),
        "{err}"
    );
    wait_drained(&store, Duration::from_secs(60), || spec.log_tail()).await;
    let (code, _, err) = events_cli(&spec.database, &["retry", &id.to_string()]).await;
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("event {id} is done, not parked: nothing to retry\n")
    );

    let mut exceptions = STEPS[1..].to_vec();
    exceptions.push(STEPS[0]);
    assert_exactly_once(&w, &store, &report, &[(victim, exceptions)]).await;
    assert_eq!(store.queue_stats().await.expect("stats").parked, 0);

    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for r in w.sim.requests() {
        *statuses.entry(r.status).or_default() += 1;
    }
    println!("{report:?}\nGitLab answers by status (0 = never answered): {statuses:?}");
    assert_eq!(statuses.get(&403), Some(&1), "{statuses:?}");
    for faulty in [503, 429, 0] {
        assert!(
            statuses.get(&faulty).is_some_and(|n| *n > 0),
            "fault {faulty} happened: {statuses:?}"
        );
    }
    let unexpected: Vec<_> = statuses
        .keys()
        .filter(|s| !matches!(s, 0 | 200 | 201 | 204 | 403 | 429 | 503))
        .collect();
    assert!(unexpected.is_empty(), "{statuses:?}");

    sigterm(&child);
    let mut child = child;
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("exit status");
    assert!(status.success(), "clean exit: {status}");
}
