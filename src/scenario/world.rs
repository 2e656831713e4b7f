//! One scenario's world: a simulated GitLab, the service's webhook ingest on a loopback port
//! (signed hooks, as in production), an in-memory store, and the worker and sweeper the
//! service uses, driven step by step instead of by their background loops so that a step
//! ends exactly when the bot has finished reacting to it.

use crate::actions::executor::Executor;
use crate::clock::Clock;
use crate::engine::Engine;
use crate::forge::{GitlabForge, RetryPolicy};
use crate::ingest::{self, IngestConfig, IngestState, WebhookSecrets};
use crate::metrics::Metrics;
use crate::sim::{HookConfig, SimGitlab, SimOptions, access, new_signing_token};
use crate::store::{self, DynStore, EventStatus};
use crate::sweep::{SweepOptions, SweepReport, Sweeper};
use crate::worker::{Worker, WorkerSettings};
use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How many rounds of the bot reacting to its own changes one step may take.
const MAX_ROUNDS: usize = 50;

pub struct World {
    pub sim: SimGitlab,
    pub engine: Arc<Engine>,
    pub clock: Clock,
    /// Project name (from `projects:`) and path → simulator id.
    pub projects: BTreeMap<String, u64>,
    pub bot_id: u64,
    store: DynStore,
    worker: Worker,
    sweeper: Sweeper,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    /// Inbox events already reported as problems (each is reported once).
    reported: std::sync::Mutex<std::collections::BTreeSet<i64>>,
}

impl World {
    /// Builds the world: every configured project, the bot and the directory's people as
    /// members, a signed hook per project pointing at the ingest.
    pub async fn start(engine: Arc<Engine>, cla_registry: Option<&str>) -> anyhow::Result<World> {
        let clock = Clock::system();
        let sim_clock = clock.clone();
        let sim =
            SimGitlab::start(SimOptions::default().with_clock(move || sim_clock.now())).await?;
        let mut projects = BTreeMap::new();
        for (name, path) in &engine.config.projects {
            let id = sim.add_project(path);
            projects.insert(name.clone(), id);
            projects.insert(path.clone(), id);
        }
        let bot = sim.add_user(engine.bot());
        let mut ids: Vec<u64> = projects.values().copied().collect();
        ids.sort();
        ids.dedup();
        for id in &ids {
            let _ = sim.add_member(*id, engine.bot(), access::MAINTAINER);
        }
        let store = store::connect("sqlite::memory:")
            .await
            .context("opening an in-memory store")?;
        let metrics = Metrics::new();
        let signing = new_signing_token();
        let wake = Arc::new(Notify::new());
        let ingest_state = IngestState {
            store: store.clone(),
            config: Arc::new(IngestConfig {
                secrets: WebhookSecrets::new(vec![], vec![signing.clone()])
                    .map_err(|e| anyhow::anyhow!(e))?,
                body_limit: ingest::GITLAB_MAX_PAYLOAD,
                timestamp_tolerance: ingest::DEFAULT_TIMESTAMP_TOLERANCE,
                allow_unauthenticated: false,
                allow_token_only: false,
            }),
            wake: wake.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let s = shutdown.clone();
        let app = ingest::router(ingest_state);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
        for id in &ids {
            let hook = HookConfig::issues_and_notes(format!("http://{addr}/webhooks/gitlab"))
                .with_signing_token(signing.clone());
            sim.add_hook(*id, hook)
                .map_err(|e| anyhow::anyhow!("simulated GitLab: {e}"))?;
        }
        let retry = RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            request_timeout: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let forge = GitlabForge::connect(&sim.base_url(), &bot.token, retry, metrics.clone())
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the simulated GitLab: {e}"))?;
        let executor = Executor::new(forge, store.clone(), metrics.clone(), clock.clone());
        let worker = Worker {
            store: store.clone(),
            engine: Arc::new(RwLock::new(engine.clone())),
            executor: executor.clone(),
            metrics,
            clock: clock.clone(),
            settings: WorkerSettings {
                concurrency: 1,
                worker_id: "scenario".into(),
                ..WorkerSettings::default()
            },
            wake,
        };
        let sweeper = Sweeper {
            engine: engine.clone(),
            executor,
        };
        let world = World {
            sim,
            engine,
            clock,
            projects,
            bot_id: bot.id,
            store,
            worker,
            sweeper,
            shutdown,
            server,
            reported: Default::default(),
        };
        let people = world.engine.config.directory.people();
        for p in people {
            world.ensure_person(&p);
        }
        if let Some(text) = cla_registry {
            world.write_cla_registry(text)?;
        }
        Ok(world)
    }

    /// A person who works on every project (Developer).
    pub fn ensure_person(&self, username: &str) {
        self.sim.add_user(username);
        let mut ids: Vec<u64> = self.projects.values().copied().collect();
        ids.dedup();
        for id in ids {
            let _ = self.sim.add_member(id, username, access::DEVELOPER);
        }
    }

    /// The simulator id of a project, by its name in `projects:` or its path.
    pub fn project(&self, name: &str) -> Option<u64> {
        self.projects.get(name).copied()
    }

    fn write_cla_registry(&self, text: &str) -> anyhow::Result<()> {
        match crate::demo::write_registry(&self.sim, &self.engine, &self.projects, text)? {
            Some(_) => Ok(()),
            None => anyhow::bail!(
                "`cla_registry:` is given, but the configuration has no CLA registry in GitLab (`cla.source.gitlab`)"
            ),
        }
    }

    /// Delivers every hook and lets the worker process the inbox, round after round, until
    /// the bot has nothing left to react to. Returns what went wrong on the way (events the
    /// service parked or left for a retry), in plain words.
    pub async fn settle(&self) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        for _ in 0..MAX_ROUNDS {
            if !self.sim.wait_hooks_idle(Duration::from_secs(30)).await {
                anyhow::bail!("the simulated GitLab could not deliver its webhooks");
            }
            let r = self.worker.drain(10_000).await;
            if r.parked + r.retry > 0 {
                problems.extend(self.failed_events().await?);
            }
            if r.done + r.ignored + r.retry + r.parked == 0 && self.sim.pending_hooks() == 0 {
                return Ok(problems);
            }
        }
        anyhow::bail!(
            "the bot was still reacting to its own changes after {MAX_ROUNDS} rounds (a loop in the workflow?)"
        )
    }

    async fn failed_events(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for status in [EventStatus::Parked, EventStatus::Pending] {
            for e in self.store.list_events(Some(status), 1000).await? {
                let new = self
                    .reported
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(e.id);
                if let Some(err) = e.last_error.filter(|_| new) {
                    out.push(format!(
                        "the service could not process an event on {} ({}): {err}",
                        e.issue_key,
                        if status == EventStatus::Parked {
                            "parked"
                        } else {
                            "left for a retry"
                        }
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Moves time on; the follow-ups that come due are queued for the worker, as the
    /// service's promoter would.
    pub async fn advance_days(&self, days: u32) -> anyhow::Result<()> {
        self.clock.advance(chrono::Duration::days(i64::from(days)));
        self.store
            .promote_due_followups(self.clock.now())
            .await
            .context("promoting due follow-ups")?;
        Ok(())
    }

    /// How many follow-ups of the issue (`project#iid` ids) came due after `since`.
    pub async fn followups_due(
        &self,
        project: u64,
        iid: u64,
        since: chrono::DateTime<chrono::Utc>,
    ) -> usize {
        let key = format!("{project}#{iid}");
        let now = self.clock.now();
        self.store
            .list_followups(100_000)
            .await
            .map(|fs| {
                fs.iter()
                    .filter(|f| f.issue_key == key && f.due_at > since && f.due_at <= now)
                    .count()
            })
            .unwrap_or(0)
    }

    /// A live `labelflow sweep` run over every workflow.
    pub async fn sweep(&self) -> SweepReport {
        let opts = SweepOptions {
            dry_run: false,
            max_actions: 10_000,
            workflows: vec![],
        };
        self.sweeper.run(&opts, &mut |_| {}).await
    }

    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
    }
}
