//! `labelflow sweep` as CI runs it, as separate processes: two runs started together on a
//! fresh SQLite database both succeed and act once, and a GitLab that cannot be reached at
//! start is its own exit status (3), apart from an invalid configuration (1).

mod common;

use common::sweep_world::SweepWorld;
use std::process::Output;

const TRIAGE: &str = "cocreate::triage";

async fn world() -> SweepWorld {
    SweepWorld::start(
        &common::repo_path("tests/configs/sweep/labelflow.yml"),
        &["co-create/opportunities", "co-create/reports"],
        &["cs-lead", "pm-lead"],
        None,
    )
    .await
}

fn sweep_command(w: &SweepWorld, url: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_labelflow"));
    c.args(["sweep", "--config"])
        .arg(common::repo_path("tests/configs/sweep/labelflow.yml"))
        .args(["--database", &w.database, "--gitlab-url", url])
        .env("LABELFLOW_GITLAB_TOKEN", &w.token)
        .env_remove("LABELFLOW_DATABASE")
        .kill_on_drop(true);
    c
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_a_fresh_database_both_succeed_and_act_once() {
    let w = world().await;
    let opps = w.projects[0];
    let items = w.create(opps, 12, "Opportunity", &[TRIAGE]);
    // The processes use the system clock: backdate the items instead of moving time.
    let long_ago = w.clock.now() - chrono::Duration::days(20);
    for iid in &items {
        w.sim
            .set_updated_at(opps, *iid, long_ago)
            .expect("backdate");
    }
    let url = w.sim.base_url();
    let (a, b) = tokio::join!(
        sweep_command(&w, &url).output(),
        sweep_command(&w, &url).output()
    );
    let (a, b) = (a.expect("first run"), b.expect("second run"));
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    for iid in items {
        assert_eq!(w.bot_comments(opps, iid).len(), 1, "#{iid}");
    }
    assert_eq!(w.sim.issues(w.projects[1]).len(), 1, "one summary");
    // Each run is recorded for the operator page: the one that nudged the 12 items says so.
    let store = labelflow::store::connect(&w.database).await.expect("store");
    let (_, report) = store
        .last_sweep_run()
        .await
        .expect("read")
        .expect("a run is recorded");
    let report: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    assert!(report["items_seen"].as_u64().is_some(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_gitlab_is_exit_status_3() {
    let w = world().await;
    let out = sweep_command(&w, "http://127.0.0.1:9")
        .args(["--gitlab-timeout-seconds", "2"])
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not start"), "{stderr}");
}
