//! Sweep benchmark (not a timed test; ignored by default). Run it with
//!
//! ```text
//! cargo test --test sweep_bench -- --ignored --nocapture sweep_benchmark
//! LABELFLOW_BENCH_SIZES=10000 cargo test --test sweep_bench -- --ignored --nocapture sweep_benchmark
//! LABELFLOW_BENCH_MAX_ACTIONS=1000 cargo test --test sweep_bench -- --ignored --nocapture sweep_benchmark
//! ```
//!
//! For each size the simulated GitLab runs in a child process (this same test binary, running
//! `bench_sim_server`), seeded with that many open `cocreate::triage` issues: 5% idle for 14
//! days (due for a nudge), the rest idle 7–13 days (listed — the listing's cutoff is the
//! shorter of the nudge and grace periods — but not due). This process runs one live sweep and
//! reports API requests against the minimum (listing pages + counts + summary lookup + writes),
//! wall time, and the sweep's peak heap (a counting allocator; the simulator's memory is in the
//! other process). Figures are recorded in `docs/BENCHMARKS-sweep.md`.

mod common;

use labelflow::actions::executor::Executor;
use labelflow::clock::Clock;
use labelflow::engine::Engine;
use labelflow::forge::{GitlabForge, RetryPolicy};
use labelflow::metrics::Metrics;
use labelflow::sim::{SimGitlab, SimOptions, access};
use labelflow::store;
use labelflow::sweep::{ItemPlan, SweepOptions, Sweeper};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes and their peak (resettable), for this process only.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const DUE_PERCENT: usize = 5;
const IDLE_DAYS: i64 = 14;
const SIZE_ENV: &str = "LABELFLOW_BENCH_SIM_ISSUES";

fn config_path() -> std::path::PathBuf {
    common::repo_path("tests/configs/sweep/labelflow.yml")
}

/// The child: a simulated GitLab with `LABELFLOW_BENCH_SIM_ISSUES` issues, answering
/// `clear` / `report` / `quit` on stdin. Does nothing when the variable is not set.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
#[ignore = "the simulator half of sweep_benchmark"]
async fn bench_sim_server() {
    let Some(n) = std::env::var(SIZE_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
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
        sim.add_member(p, "labelflow", access::DEVELOPER)
            .expect("member");
        sim.add_member(p, "alice", access::DEVELOPER)
            .expect("member");
    }
    let alice = sim.as_user("alice");
    let due = n * DUE_PERCENT / 100;
    let create = |k: usize| {
        alice
            .create_issue(
                opps,
                &format!("Opportunity {k}"),
                "Customer: Acme",
                &["cocreate::triage"],
            )
            .expect("issue");
    };
    (0..due).for_each(create);
    // The rest spread over days 1–7: idle between 7 and 13 days at sweep time.
    let rest = n - due;
    let step = chrono::Duration::days(6) / i32::try_from(rest.max(1)).unwrap_or(i32::MAX);
    clock.advance(chrono::Duration::days(1));
    for k in 0..rest {
        create(due + k);
        clock.advance(step);
    }
    let offset = IDLE_DAYS;
    let elapsed = clock.now() - Clock::system().now();
    clock.advance(chrono::Duration::days(offset) - elapsed);
    println!(
        "READY {}",
        serde_json::json!({ "url": sim.base_url(), "token": bot.token, "offset_days": offset })
    );
    std::io::stdout().flush().ok();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "clear" => sim.clear_requests(),
            "report" => {
                let reqs = sim.requests();
                let count = |f: &dyn Fn(&labelflow::sim::RequestRecord) -> bool| {
                    reqs.iter().filter(|r| f(r)).count()
                };
                println!(
                    "REPORT {}",
                    serde_json::json!({
                        "total": reqs.len(),
                        "writes": count(&|r| r.is_write()),
                        "listing_pages": count(&|r| r.method == "GET" && r.path.ends_with("/issues") && r.query.contains("pagination=keyset")),
                        "counts": count(&|r| r.path.ends_with("/issues_statistics")),
                        "searches": count(&|r| r.method == "GET" && r.query.contains("search=")),
                        "not_2xx": count(&|r| r.status >= 300 || r.status < 200),
                    })
                );
                std::io::stdout().flush().ok();
            }
            _ => break,
        }
    }
}

fn read_line_with(reader: &mut impl BufRead, prefix: &str) -> serde_json::Value {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("child output");
        assert!(n > 0, "child exited before `{prefix}`");
        // The test harness may print `test bench_sim_server ... ` before it on the same line.
        if let Some(at) = line.find(prefix) {
            return serde_json::from_str(line[at + prefix.len()..].trim()).expect("child JSON");
        }
    }
}

/// This process's CPU time (user + system), from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let f: Vec<&str> = after.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly (see the file's doc comment)"]
async fn sweep_benchmark() {
    let sizes: Vec<usize> = std::env::var("LABELFLOW_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let max_actions: usize = std::env::var("LABELFLOW_BENCH_MAX_ACTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    println!(
        "| issues | due | ceiling | listing pages | counts | summary lookups | writes | requests | minimum | non-2xx | wall time | sweep CPU | sweep peak heap | sweep process VmHWM |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let seed_start = Instant::now();
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--ignored",
                "--exact",
                "bench_sim_server",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SIZE_ENV, n.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("child starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut input = child.stdin.take().expect("stdin");
        let ready = read_line_with(&mut out, "READY");
        let seeded = seed_start.elapsed();
        let url = ready["url"].as_str().expect("url").to_string();
        let token = ready["token"].as_str().expect("token").to_string();
        let offset = ready["offset_days"].as_i64().expect("offset");
        let clock = Clock::with_offset(chrono::Duration::days(offset));

        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("bench.db").display().to_string();
        let metrics = Metrics::new();
        let forge = GitlabForge::connect(
            &url,
            &token,
            RetryPolicy {
                pacing: labelflow::forge::Pacing::off(),
                ..RetryPolicy::default()
            },
            metrics.clone(),
        )
        .await
        .expect("forge");
        let sweeper = Sweeper {
            engine: Arc::new(Engine::load(&config_path()).expect("config")),
            executor: Executor::new(
                forge,
                store::connect(&db).await.expect("store"),
                metrics,
                clock,
            ),
        };
        writeln!(input, "clear").expect("child stdin");
        let mut actions = 0usize;
        let mut count = |item: ItemPlan<'_>| actions += item.actions.len();
        let baseline = LIVE.load(Ordering::Relaxed);
        PEAK.store(baseline, Ordering::Relaxed);
        let started = Instant::now();
        let cpu_before = cpu_seconds();
        let report = sweeper
            .run(
                &SweepOptions {
                    dry_run: false,
                    max_actions,
                    workflows: vec![],
                },
                &mut count,
            )
            .await;
        let wall = started.elapsed();
        let cpu = cpu_seconds() - cpu_before;
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
        writeln!(input, "report").expect("child stdin");
        let r = read_line_with(&mut out, "REPORT");
        writeln!(input, "quit").ok();
        let _ = child.wait();

        assert!(
            report.aborted.is_none() && report.failures.is_empty(),
            "{report:?}"
        );
        let due = n * DUE_PERCENT / 100;
        let nudged = due.min(max_actions / 2);
        assert_eq!(report.counts.nudged, nudged);
        assert_eq!(actions, 2 * nudged);
        assert_eq!(report.remaining_items, due - nudged);
        // Minimum: per policy one count and the stale listing (1 page each: nothing is
        // stale); the idle listing, ceil(n / 100) pages; the qualification policy's idle
        // listing (1 empty page); one summary lookup; two writes per nudge plus the summary.
        let pages = 1 + n.div_ceil(100) + 1 + 1;
        let minimum = pages + 2 + 1 + (2 * nudged + 1);
        let total = r["total"].as_u64().unwrap_or(0) as usize;
        println!(
            "| {n} | {due} | {} | {} | {} | {} | {} | {total} | {minimum} | {} | {:.1} s | {:.1} s | {:.1} MiB | {:.1} MiB |",
            if max_actions == usize::MAX {
                "none".to_string()
            } else {
                max_actions.to_string()
            },
            r["listing_pages"],
            r["counts"],
            r["searches"],
            r["writes"],
            r["not_2xx"],
            wall.as_secs_f64(),
            cpu,
            peak as f64 / (1024.0 * 1024.0),
            vm_hwm_kib() as f64 / 1024.0,
        );
        eprintln!("(seeding {n} issues took {:.1} s)", seeded.as_secs_f64());
        assert_eq!(r["listing_pages"].as_u64(), Some(pages as u64));
        assert_eq!(total, minimum, "requests made = minimum");
    }
}
