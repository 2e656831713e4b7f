//! A few-second run of the benchmark harness (`labelflow-bench`) against the debug build of
//! `labelflow serve`, without the Python peer: checks that every phase runs and that what it
//! reports is right (status counts, duplicates, requests per step, injected latency). The full
//! measurement is `scripts/bench.sh`, not part of the test command.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The service binary: built by `cargo test --workspace` into the same directory as this
/// package's `labelflow-bench` (a test of one package cannot name another package's binary).
fn labelflow_bin() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_labelflow-bench"));
    let bin = bench.with_file_name(format!("labelflow{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: build the service first (`cargo build -p labelflow`, or run \
         `cargo test --workspace`)",
        bin.display()
    );
    bin
}

/// The ceiling's binary, built beside `labelflow-bench` (its own test needs it built).
fn ceiling_bin() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_labelflow-bench"));
    let bin = bench.with_file_name(format!("labelflow-ceiling{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo test --workspace` or `cargo build -p labelflow-ceiling`",
        bin.display()
    );
    bin
}

/// The repository root: the benchmark reads the shipped configuration from there.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn count(statuses: &Value, status: &str) -> u64 {
    statuses[status].as_u64().unwrap_or(0)
}

#[test]
fn bench_harness_runs_every_phase_and_reports_exact_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("results.json");
    let markdown = dir.path().join("results.md");
    let output = Command::new(env!("CARGO_BIN_EXE_labelflow-bench"))
        .current_dir(repo_root())
        .arg("--labelflow-bin")
        .arg(labelflow_bin())
        .arg("--ceiling-bin")
        .arg(ceiling_bin())
        .args(["--processing-events", "20", "--processing-workers", "2"])
        .args(["--processing-latency-ms", "0", "--processing-seconds", "30"])
        .args(["--rates", "100", "--rate-seconds", "0.5"])
        .args(["--saturation-seconds", "0.5", "--connections", "4"])
        .args(["--e2e-events", "5", "--e2e-rate", "50"])
        .args(["--sim-latency-ms", "0,20", "--idle-seconds", "0.2"])
        // Rate limits: 12 notes, 10 a 1 s window.
        .args(["--burst-events", "12", "--burst-notes-per-minute", "600"])
        .args(["--burst-window-seconds", "1"])
        .arg("--json")
        .arg(&json)
        .arg("--markdown")
        .arg(&markdown)
        .output()
        .expect("labelflow-bench runs");
    assert!(
        output.status.success(),
        "labelflow-bench failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("parses");
    assert!(r["peer"].is_null(), "no peer without --peer-python");
    let lf = &r["labelflow"];

    // 100/s for 0.5 s: 50 deliveries, every 10th (10, 20, 30, 40) a duplicate, which
    // labelflow answers 200 "duplicate"; the rest are accepted with 202.
    let rate = &lf["fixed_rates"][0];
    assert_eq!(rate["sent"], 50);
    assert_eq!(rate["duplicates_sent"], 4);
    assert_eq!(count(&rate["statuses"], "202"), 46);
    assert_eq!(count(&rate["statuses"], "200"), 4);
    assert_eq!(rate["ack"]["samples"], 50);

    let sat = &lf["saturation"];
    let sent = sat["sent"].as_u64().expect("sent");
    assert!(sent > 0);
    let acked = count(&sat["statuses"], "202") + count(&sat["statuses"], "200");
    assert_eq!(acked, sent, "every saturation delivery acknowledged: {sat}");

    let e2e = lf["e2e"].as_array().expect("e2e runs");
    assert_eq!(e2e.len(), 2);
    for (run, latency) in e2e.iter().zip([0, 20]) {
        assert_eq!(run["sim_latency_ms"], latency);
        assert_eq!(run["events"], 5);
        assert_eq!(run["commented"], 5, "{run}");
        assert_eq!(run["duplicated"], 0);
        assert_eq!(run["end_to_end"]["samples"], 5);
        let routes = &run["api"]["by_route"];
        assert_eq!(routes.as_object().map(|o| o.len()), Some(2), "{routes}");
        assert_eq!(routes["GET /api/v4/projects/:id/issues/:id"], 5);
        assert_eq!(routes["POST /api/v4/projects/:id/issues/:id/notes"], 5);
        assert_eq!(run["api"]["per_step"], 2.0);
    }
    // Two API calls of 20 ms each lie between the webhook and the comment.
    let slow_p50 = e2e[1]["end_to_end"]["p50_ms"].as_f64().expect("p50");
    assert!(slow_p50 >= 40.0, "e2e p50 with 20 ms per call: {slow_p50}");

    assert!(lf["startup_ms"].as_f64().expect("startup") > 0.0);
    assert!(lf["gitlab_connected_ms"].as_f64().is_some());
    assert!(lf["idle"]["rss_kib"].as_u64().expect("rss") > 0);
    assert!(lf["after_ingest"]["peak_kib"].as_u64().expect("peak") > 0);

    // The ceiling took the same load and answered it the same way.
    let ceiling = &r["ceiling"];
    let rate = &ceiling["fixed_rates"][0];
    assert_eq!(count(&rate["statuses"], "202"), 46, "{rate}");
    assert_eq!(count(&rate["statuses"], "200"), 4, "{rate}");
    assert!(ceiling["saturation"]["sent"].as_u64().expect("sent") > 0);

    // Processing: every queued event became exactly one comment.
    let processing = r["processing"].as_array().expect("processing runs");
    assert_eq!(processing.len(), 1);
    assert_eq!(processing[0]["workers"], 2);
    assert_eq!(processing[0]["queued"], 20);
    assert_eq!(processing[0]["processed"], 20, "{}", processing[0]);
    assert_eq!(processing[0]["duplicated"], 0);

    // The burst under scaled limits: every note once, no 429 (its time is for the benchmark).
    let burst = &r["rate_limits"];
    assert_eq!(burst["events"], 12, "{burst}");
    assert_eq!(burst["commented"], 12, "{burst}");
    assert_eq!(burst["duplicated"], 0);
    assert_eq!(burst["too_many_requests"], 0, "{burst}");
    assert_eq!(burst["minimum_seconds"], 1.0);
    assert_eq!(burst["limits"]["notes_per_minute"], 600);

    let md = std::fs::read_to_string(&markdown).expect("markdown");
    assert!(md.contains("### Rate limits"), "{md}");
    assert!(md.contains("saturation ≥ 0.9× the ceiling"), "{md}");
    assert!(md.contains("| labelflow | 100/s | 50 | 4 |"), "{md}");
    assert!(
        md.contains("| requests per step = the minimum (2) | 2.00 | yes |"),
        "{md}"
    );
}
