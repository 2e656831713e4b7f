//! `labelflow-bench`: measures the real `labelflow serve` binary against the simulated GitLab,
//! side by side with a gidgetlab bot doing the same step, in one run (so the ratios hold on a
//! noisy machine): ingest throughput and ack latency, end-to-end latency, GitLab requests per
//! step, start-up time and memory; and, labelflow alone, a burst of notes under GitLab's rate
//! limits. `scripts/bench.sh` builds, installs the peer and runs it.

mod burst;
mod e2e;
mod load;
mod payload;
mod processing;
mod procs;
mod report;
mod results;
mod setup;
mod stats;

use anyhow::Context;
use clap::Parser;
use load::Endpoint;
use procs::{CeilingSpec, LabelflowSpec, PeerSpec, Service};
use results::{Results, ServiceResults, Settings};
use setup::{Bench, LABELFLOW_BOT, PEER_BOT};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The secret both services check in `X-Gitlab-Token`.
const WEBHOOK_SECRET: &str = "bench-webhook-secret";

#[derive(Debug, Parser)]
#[command(
    name = "labelflow-bench",
    about = "Benchmarks labelflow against a gidgetlab peer"
)]
struct Args {
    /// The labelflow binary to measure (build it with --release for real numbers).
    #[arg(long, default_value = "target/release/labelflow")]
    labelflow_bin: PathBuf,
    /// Python of the virtualenv with gidgetlab; without it the peer is skipped.
    #[arg(long)]
    peer_python: Option<PathBuf>,
    #[arg(long, default_value = "benches/peer/bot.py")]
    peer_script: PathBuf,
    /// The minimal durable receiver (`labelflow-ceiling`); without it the ceiling is skipped.
    #[arg(long)]
    ceiling_bin: Option<PathBuf>,
    /// Offered ingest rates, per second.
    #[arg(long, value_delimiter = ',', default_value = "500,1000,2000,5000")]
    rates: Vec<f64>,
    /// Seconds per fixed-rate run.
    #[arg(long, default_value_t = 10.0)]
    rate_seconds: f64,
    /// Seconds of the closed-loop saturation run (0: skip).
    #[arg(long, default_value_t = 10.0)]
    saturation_seconds: f64,
    /// Concurrent connections of the saturation run.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Share of ingest deliveries that repeat the previous one, percent.
    #[arg(long, default_value_t = 10)]
    duplicate_percent: u32,
    /// Label-change webhooks per end-to-end run.
    #[arg(long, default_value_t = 200)]
    e2e_events: usize,
    /// End-to-end webhooks per second.
    #[arg(long, default_value_t = 20.0)]
    e2e_rate: f64,
    /// Simulated GitLab latency per API call for the end-to-end runs, ms.
    #[arg(long, value_delimiter = ',', default_value = "0,50")]
    sim_latency_ms: Vec<u64>,
    /// labelflow's `--workers` for the processing runs.
    #[arg(long, value_delimiter = ',', default_value = "4,16,64")]
    processing_workers: Vec<usize>,
    /// Simulated GitLab latency per API call for the processing runs, ms.
    #[arg(long, value_delimiter = ',', default_value = "0,50")]
    processing_latency_ms: Vec<u64>,
    /// Events queued per processing run (0: skip the processing runs).
    #[arg(long, default_value_t = 3000)]
    processing_events: usize,
    /// Longest a processing run may take, seconds (its rate counts what was done by then).
    #[arg(long, default_value_t = 15.0)]
    processing_seconds: f64,
    /// Seconds to leave the services idle before reading their idle memory.
    #[arg(long, default_value_t = 2.0)]
    idle_seconds: f64,
    /// labelflow's `--workers` for the end-to-end runs.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    #[arg(long, default_value = "tests/fixtures/gitlab-docs/issue_open.json")]
    fixture: PathBuf,
    /// Label events of the rate-limit burst, each needing one note (0: skip the phase).
    #[arg(long, default_value_t = 1000)]
    burst_events: usize,
    /// The burst's note limit a minute; the simulator's other limits are GitLab.com's scaled
    /// by the same factor.
    #[arg(long, default_value_t = 1000)]
    burst_notes_per_minute: u32,
    /// Window of the burst's limits, seconds (GitLab: 60; short windows make "the minimum the
    /// limits allow" a real minimum, not one burst).
    #[arg(long, default_value_t = 3)]
    burst_window_seconds: u64,
    /// Run only the rate-limit burst.
    #[arg(long)]
    only_burst: bool,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the markdown report here (it is printed either way).
    #[arg(long)]
    markdown: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => {}
        Err(e) => {
            eprintln!("labelflow-bench: {e:#}");
            std::process::exit(1);
        }
    }
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

async fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.labelflow_bin.is_file(),
        "no labelflow binary at {} (cargo build --release --bin labelflow)",
        args.labelflow_bin.display()
    );
    anyhow::ensure!(
        args.rates.iter().all(|r| *r > 0.0) && args.e2e_rate > 0.0,
        "rates must be positive"
    );
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let config = setup::write_labelflow_config(dir.path())?;
    let bench = Bench::start().await?;
    if args.only_burst {
        let Some(b) = burst_phase(&args, &bench, &config, dir.path()).await? else {
            anyhow::bail!("--only-burst with --burst-events 0: nothing to run");
        };
        let md = burst::markdown(&b);
        println!("{md}");
        write_outputs(&args, &md, &b)?;
        return Ok(());
    }
    let run_tag = uuid::Uuid::new_v4().simple().to_string();
    let shots = Arc::new(payload::Shots::from_fixture(
        &args.fixture,
        256,
        args.duplicate_percent,
        &run_tag[..8],
    )?);
    let settings = Settings {
        rates: args.rates.clone(),
        rate_seconds: args.rate_seconds,
        saturation_seconds: args.saturation_seconds,
        connections: args.connections,
        duplicate_percent: args.duplicate_percent,
        body_bytes: shots.body_bytes(),
        e2e_events: args.e2e_events,
        e2e_rate: args.e2e_rate,
        sim_latencies_ms: args.sim_latency_ms.clone(),
        labelflow_workers: args.workers,
        processing_events: args.processing_events,
        processing_seconds: args.processing_seconds,
    };
    let mut lf = ServiceResults::new("labelflow");
    let mut peer_results = args
        .peer_python
        .as_ref()
        .map(|_| ServiceResults::new("gidgetlab"));
    let client = load::client();

    // Phase 1: start-up, idle memory, end to end.
    progress("starting labelflow");
    let spawned = Instant::now();
    let labelflow = Service::labelflow(LabelflowSpec {
        bin: &args.labelflow_bin,
        config: &config,
        database: &dir.path().join("e2e.db"),
        gitlab_url: &bench.sim.base_url(),
        gitlab_token: &bench.labelflow_token,
        secret: WEBHOOK_SECRET,
        workers: args.workers,
        log: dir.path().join("labelflow-e2e.log"),
        extra_args: setup::unpaced(),
    })
    .await?;
    lf.startup_ms = labelflow.startup.as_secs_f64() * 1000.0;
    lf.gitlab_connected_ms = wait_connected(&bench, spawned).await;
    let peer = match &args.peer_python {
        Some(python) => {
            progress("starting the gidgetlab peer");
            Some(
                Service::peer(PeerSpec {
                    python,
                    script: &args.peer_script,
                    gitlab_url: &bench.sim.base_url(),
                    gitlab_token: &bench.peer_token,
                    secret: WEBHOOK_SECRET,
                    log: dir.path().join("peer.log"),
                })
                .await?,
            )
        }
        None => None,
    };
    tokio::time::sleep(Duration::from_secs_f64(args.idle_seconds)).await;
    lf.idle = labelflow.memory();
    if let (Some(p), Some(r)) = (&peer, peer_results.as_mut()) {
        r.startup_ms = p.startup.as_secs_f64() * 1000.0;
        r.idle = p.memory();
    }

    let timeout = Duration::from_secs_f64(30.0 + args.e2e_events as f64 / args.e2e_rate);
    for latency in &args.sim_latency_ms {
        let targets: Vec<(&Service, &mut ServiceResults, u64, &str)> =
            match (&peer, peer_results.as_mut()) {
                (Some(p), Some(r)) => vec![
                    (&labelflow, &mut lf, bench.labelflow_project, LABELFLOW_BOT),
                    (p, r, bench.peer_project, PEER_BOT),
                ],
                _ => vec![(&labelflow, &mut lf, bench.labelflow_project, LABELFLOW_BOT)],
            };
        for (svc, out, project, bot) in targets {
            let hooks = bench.label_changes(project, args.e2e_events).await?;
            bench.sim.set_latency(Duration::from_millis(*latency));
            progress(&format!(
                "end to end: {} at {latency} ms simulator latency",
                svc.name
            ));
            let endpoint = endpoint(&client, svc);
            let mut e = e2e::run(&bench.sim, &endpoint, bot, &hooks, args.e2e_rate, timeout).await;
            e.sim_latency_ms = *latency;
            if e.commented != e.events || e.duplicated > 0 {
                progress(&format!(
                    "{}: {} of {} issues commented once, {} more than once; its log: {}",
                    svc.name,
                    e.commented,
                    e.events,
                    e.duplicated,
                    svc.log.display()
                ));
            }
            out.e2e.push(e);
            bench.sim.set_latency(Duration::ZERO);
        }
    }
    lf.after_e2e = labelflow.memory();
    if let (Some(p), Some(r)) = (&peer, peer_results.as_mut()) {
        r.after_e2e = p.memory();
    }
    labelflow.stop().await;

    // Phase 2: ingest alone (no workers), then the peer on the same load.
    progress("starting labelflow for ingest (--workers 0)");
    let ingest = Service::labelflow(LabelflowSpec {
        bin: &args.labelflow_bin,
        config: &config,
        database: &dir.path().join("ingest.db"),
        gitlab_url: &bench.sim.base_url(),
        gitlab_token: &bench.labelflow_token,
        secret: WEBHOOK_SECRET,
        workers: 0,
        log: dir.path().join("labelflow-ingest.log"),
        extra_args: setup::unpaced(),
    })
    .await?;
    let ceiling = match &args.ceiling_bin {
        Some(bin) => {
            progress("starting the ceiling (minimal durable receiver)");
            Some(
                Service::ceiling(CeilingSpec {
                    bin,
                    database: &dir.path().join("ceiling.db"),
                    secret: WEBHOOK_SECRET,
                    log: dir.path().join("ceiling.log"),
                })
                .await?,
            )
        }
        None => None,
    };
    let mut ceiling_results = ceiling.as_ref().map(|c| {
        let mut r = ServiceResults::new("ceiling");
        r.startup_ms = c.startup.as_secs_f64() * 1000.0;
        r.idle = c.memory();
        r
    });
    let rate_duration = Duration::from_secs_f64(args.rate_seconds);
    for rate in &args.rates {
        let mut targets = vec![(&ingest, &mut lf)];
        if let (Some(p), Some(r)) = (&peer, peer_results.as_mut()) {
            targets.push((p, r));
        }
        if let (Some(c), Some(r)) = (&ceiling, ceiling_results.as_mut()) {
            targets.push((c, r));
        }
        for (svc, out) in targets {
            progress(&format!("ingest: {} at {rate}/s", svc.name));
            let shots = payload::Shots::from_fixture(
                &args.fixture,
                256,
                args.duplicate_percent,
                &format!("{}-{rate}-{}", svc.name, &run_tag[..8]),
            )?;
            let l =
                load::fixed_rate(&endpoint(&client, svc), &shots, *rate, rate_duration, 1000).await;
            out.fixed_rates.push(l);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    if args.saturation_seconds > 0.0 {
        let mut targets = vec![(&ingest, &mut lf)];
        if let (Some(p), Some(r)) = (&peer, peer_results.as_mut()) {
            targets.push((p, r));
        }
        if let (Some(c), Some(r)) = (&ceiling, ceiling_results.as_mut()) {
            targets.push((c, r));
        }
        for (svc, out) in targets {
            progress(&format!("ingest: {} saturation", svc.name));
            let shots = Arc::new(payload::Shots::from_fixture(
                &args.fixture,
                256,
                args.duplicate_percent,
                &format!("{}-sat-{}", svc.name, &run_tag[..8]),
            )?);
            let l = load::saturate(
                &endpoint(&client, svc),
                shots,
                args.connections,
                Duration::from_secs_f64(args.saturation_seconds),
            )
            .await;
            out.saturation = Some(l);
        }
    }
    lf.after_ingest = ingest.memory();
    if let (Some(p), Some(r)) = (&peer, peer_results.as_mut()) {
        r.after_ingest = p.memory();
    }
    if let (Some(c), Some(r)) = (&ceiling, ceiling_results.as_mut()) {
        r.after_ingest = c.memory();
    }
    ingest.stop().await;
    if let Some(p) = peer {
        p.stop().await;
    }
    if let Some(c) = ceiling {
        c.stop().await;
    }

    // Phase 3: processing throughput on one SQLite file.
    let mut processing_results = Vec::new();
    if args.processing_events > 0 {
        for latency in &args.processing_latency_ms {
            for workers in &args.processing_workers {
                progress(&format!(
                    "processing: {workers} workers at {latency} ms simulator latency"
                ));
                let hooks = bench
                    .label_changes(bench.labelflow_project, args.processing_events)
                    .await?;
                let name = format!("processing-{latency}-{workers}");
                let database = dir.path().join(format!("{name}.db"));
                let gitlab_url = bench.sim.base_url();
                let spec = |workers: usize, log: &str| LabelflowSpec {
                    bin: &args.labelflow_bin,
                    config: &config,
                    database: &database,
                    gitlab_url: &gitlab_url,
                    gitlab_token: &bench.labelflow_token,
                    secret: WEBHOOK_SECRET,
                    workers,
                    log: dir.path().join(log),
                    extra_args: setup::unpaced(),
                };
                let run = processing::ProcessingRun {
                    sim: &bench.sim,
                    bot: LABELFLOW_BOT,
                    hooks: &hooks,
                    workers: *workers,
                    sim_latency: Duration::from_millis(*latency),
                    cap: Duration::from_secs_f64(args.processing_seconds),
                };
                let r = processing::run(
                    run,
                    spec(0, &format!("{name}-queue.log")),
                    spec(*workers, &format!("{name}.log")),
                    &client,
                    WEBHOOK_SECRET,
                )
                .await?;
                if r.duplicated > 0 {
                    progress(&format!(
                        "processing: {} issues were commented more than once",
                        r.duplicated
                    ));
                }
                processing_results.push(r);
            }
        }
    }

    // Phase 4: rate limits.
    let rate_limits = burst_phase(&args, &bench, &config, dir.path()).await?;

    let results = Results {
        settings,
        labelflow: lf,
        peer: peer_results,
        ceiling: ceiling_results,
        processing: processing_results,
        rate_limits,
    };
    let md = report::markdown(&results);
    println!("{md}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &md).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&results)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The rate-limit burst against a labelflow of its own, configured with the same limits as
/// the simulator; `None` when `--burst-events 0`.
async fn burst_phase(
    args: &Args,
    bench: &Bench,
    config: &std::path::Path,
    dir: &std::path::Path,
) -> anyhow::Result<Option<burst::BurstResult>> {
    if args.burst_events == 0 {
        return Ok(None);
    }
    let limits = burst::BurstLimits::scaled(args.burst_notes_per_minute, args.burst_window_seconds);
    let hooks = bench
        .label_changes(bench.labelflow_project, args.burst_events)
        .await?;
    limits.apply(&bench.sim);
    progress(&format!(
        "rate limits: {} events, {} notes a minute in {} s windows",
        args.burst_events, limits.notes_per_minute, limits.window_seconds
    ));
    let labelflow = Service::labelflow(LabelflowSpec {
        bin: &args.labelflow_bin,
        config,
        database: &dir.join("burst.db"),
        gitlab_url: &bench.sim.base_url(),
        gitlab_token: &bench.labelflow_token,
        secret: WEBHOOK_SECRET,
        workers: args.workers,
        log: dir.join("labelflow-burst.log"),
        extra_args: limits.labelflow_args(),
    })
    .await?;
    let minimum = limits.minimum(args.burst_events, 0);
    let timeout = minimum * 2 + Duration::from_secs(60);
    let b = burst::run(
        bench,
        &endpoint(&load::client(), &labelflow),
        &hooks,
        limits,
        timeout,
    )
    .await;
    if b.commented != b.events || b.duplicated > 0 || b.too_many_requests > 0 {
        progress(&format!(
            "rate limits: {} of {} issues commented once, {} more than once, {} 429s; its log: {}",
            b.commented,
            b.events,
            b.duplicated,
            b.too_many_requests,
            labelflow.log.display()
        ));
    }
    labelflow.stop().await;
    bench.sim.set_rate_limit(None);
    bench.sim.set_issue_creation_limit(None);
    bench.sim.set_note_creation_limit(None);
    Ok(Some(b))
}

fn write_outputs(args: &Args, md: &str, json: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(path) = &args.markdown {
        std::fs::write(path, md).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(json)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn endpoint(client: &reqwest::Client, svc: &Service) -> Endpoint {
    Endpoint {
        client: client.clone(),
        url: svc.webhook_url.clone(),
        secret: WEBHOOK_SECRET.to_string(),
    }
}

/// Time from spawn until labelflow checked its token with GitLab (`GET /api/v4/user`).
async fn wait_connected(bench: &Bench, spawned: Instant) -> Option<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let connected = bench.sim.requests().iter().any(|r| {
            r.username.as_deref() == Some(LABELFLOW_BOT)
                && r.path == "/api/v4/user"
                && r.status == 200
        });
        if connected {
            return Some(spawned.elapsed().as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}
