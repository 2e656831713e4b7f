//! Processing throughput: how many queued events labelflow's workers turn into GitLab
//! comments per second, on one SQLite file. The events are queued first by an instance with
//! `--workers 0`; a second instance with N workers is then started on the same file and
//! timed from healthy until the last comment exists (or the time cap).

use crate::e2e::comments_posted;
use crate::load::Endpoint;
use crate::procs::{LabelflowSpec, Service};
use crate::setup::RecordedHook;
use labelflow_sim::SimGitlab;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What one processing run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessingResult {
    pub workers: usize,
    pub sim_latency_ms: u64,
    /// Events queued before the workers started.
    pub queued: usize,
    /// Bot comments created during the run (one per event when nothing is doubled).
    pub processed: usize,
    /// Issues with more than one bot comment (must be 0).
    pub duplicated: usize,
    pub elapsed_s: f64,
    pub events_per_s: f64,
}

/// One run's parameters.
pub struct ProcessingRun<'a> {
    pub sim: &'a SimGitlab,
    pub bot: &'a str,
    pub hooks: &'a [RecordedHook],
    pub workers: usize,
    pub sim_latency: Duration,
    /// The run stops here even if events remain.
    pub cap: Duration,
}

/// Queues the hooks through `queue_with` (ingest only), then starts `spec` (with workers)
/// on the same database and times it.
pub async fn run(
    run: ProcessingRun<'_>,
    queue_with: LabelflowSpec<'_>,
    spec: LabelflowSpec<'_>,
    client: &reqwest::Client,
    secret: &str,
) -> anyhow::Result<ProcessingResult> {
    let ingest = Service::labelflow(queue_with).await?;
    let endpoint = Endpoint {
        client: client.clone(),
        url: ingest.webhook_url.clone(),
        secret: secret.to_string(),
    };
    let queued = queue(&endpoint, run.hooks).await;
    ingest.stop().await;
    anyhow::ensure!(
        queued == run.hooks.len(),
        "only {queued} of {} events were queued",
        run.hooks.len()
    );

    run.sim.clear_requests();
    run.sim.set_latency(run.sim_latency);
    let workers = Service::labelflow(spec).await?;
    let started = Instant::now();
    let deadline = started + run.cap;
    let mut done_at = None;
    while Instant::now() < deadline {
        if comments_posted(run.sim, run.bot) >= queued {
            done_at = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = done_at.unwrap_or(run.cap);
    workers.stop().await;
    run.sim.set_latency(Duration::ZERO);
    let (processed, duplicated) = count_comments(run.sim, run.bot, run.hooks);
    Ok(ProcessingResult {
        workers: run.workers,
        sim_latency_ms: run.sim_latency.as_millis() as u64,
        queued,
        processed,
        duplicated,
        elapsed_s: elapsed.as_secs_f64(),
        events_per_s: processed as f64 / elapsed.as_secs_f64().max(1e-9),
    })
}

/// Sends every hook (32 at a time); returns how many were acknowledged.
async fn queue(endpoint: &Endpoint, hooks: &[RecordedHook]) -> usize {
    let permits = Arc::new(Semaphore::new(32));
    let mut tasks = JoinSet::new();
    for hook in hooks {
        let endpoint = endpoint.clone();
        let body = hook.body.clone();
        let permit = permits.clone().acquire_owned().await;
        tasks.spawn(async move {
            let _permit = permit;
            let id = uuid::Uuid::new_v4().to_string();
            endpoint
                .deliver("Issue Hook", &id, body.into_bytes().into())
                .await
        });
    }
    tasks
        .join_all()
        .await
        .into_iter()
        .filter(|s| s.is_some_and(|s| (200..300).contains(&s)))
        .count()
}

/// (issues with a bot comment, issues with more than one).
fn count_comments(sim: &SimGitlab, bot: &str, hooks: &[RecordedHook]) -> (usize, usize) {
    let bot_id = sim.user(bot).map(|u| u.id).unwrap_or(0);
    let issues: BTreeSet<(u64, u64)> = hooks.iter().map(|h| (h.project_id, h.iid)).collect();
    let mut commented = 0;
    let mut duplicated = 0;
    for (project, iid) in issues {
        let n = sim
            .notes(project, iid)
            .iter()
            .filter(|n| n.author_id == bot_id && !n.system)
            .count();
        commented += usize::from(n >= 1);
        duplicated += usize::from(n > 1);
    }
    (commented, duplicated)
}
