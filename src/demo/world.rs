//! The demo's world: a simulated GitLab and the real service on loopback ports, wired
//! together as a newcomer would set them up.

use crate::clock::Clock;
use crate::engine::Engine;
use crate::forge::RetryPolicy;
use crate::service::{self, Running, ServeSettings};
use crate::sim::{HookConfig, SimGitlab, SimOptions, access, new_signing_token};
use crate::store::DynStore;
use crate::worker::WorkerSettings;
use anyhow::Context;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A simulated GitLab with the configuration's projects and people, and the service wired to
/// it by signed webhooks.
pub struct DemoWorld {
    pub sim: SimGitlab,
    pub service: Running,
    pub engine: Engine,
    /// Project name (from `projects:`) → simulator id.
    pub projects: BTreeMap<String, u64>,
    _dir: tempfile::TempDir,
}

impl DemoWorld {
    /// Builds the world for `config`: every project, the bot and every directory user as
    /// members, the service on a loopback port, and a signed hook per project.
    pub async fn start(config: &Path, extra_people: &[&str]) -> anyhow::Result<DemoWorld> {
        let engine =
            Engine::load(config).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
        let clock = Clock::system();
        let sim_clock = clock.clone();
        let sim =
            SimGitlab::start(SimOptions::default().with_clock(move || sim_clock.now())).await?;
        let mut projects = BTreeMap::new();
        for (name, path) in &engine.config.projects {
            projects.insert(name.clone(), sim.add_project(path));
        }
        let bot = sim.add_user(engine.bot());
        let mut people: Vec<String> = engine.config.directory.people();
        people.extend(extra_people.iter().map(|s| s.to_string()));
        people.sort();
        people.dedup();
        for id in projects.values() {
            sim.add_member(*id, engine.bot(), access::MAINTAINER)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for p in &people {
                sim.add_member(*id, p, access::DEVELOPER)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let signing = new_signing_token();
        let settings = ServeSettings {
            listen: "127.0.0.1:0".parse()?,
            database: dir.path().join("labelflow.db").display().to_string(),
            config: config.to_path_buf(),
            gitlab_url: sim.base_url(),
            gitlab_token: SecretString::from(bot.token.clone()),
            webhook_tokens: vec![],
            signing_tokens: vec![signing.clone()],
            allow_unauthenticated: false,
            allow_token_only: false,
            body_limit: crate::ingest::GITLAB_MAX_PAYLOAD,
            timestamp_tolerance: crate::ingest::DEFAULT_TIMESTAMP_TOLERANCE,
            worker: WorkerSettings {
                poll_interval: Duration::from_millis(50),
                retry_base: Duration::from_millis(100),
                retry_max: Duration::from_secs(2),
                ..WorkerSettings::default()
            },
            retry: RetryPolicy::default(),
            clock,
            shutdown_timeout: Duration::from_secs(5),
            admin: None,
        };
        let service = service::start(settings).await?;
        for id in projects.values() {
            let hook =
                HookConfig::issues_and_notes(format!("http://{}/webhooks/gitlab", service.addr))
                    .with_signing_token(signing.clone());
            sim.add_hook(*id, hook)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(DemoWorld {
            sim,
            service,
            engine,
            projects,
            _dir: dir,
        })
    }

    pub fn project(&self, name: &str) -> anyhow::Result<u64> {
        self.projects.get(name).copied().ok_or_else(|| {
            anyhow::anyhow!("the configuration has no project named `{name}` under `projects:`")
        })
    }

    /// The first user of a directory role.
    pub fn role_user(&self, role: &str) -> anyhow::Result<String> {
        self.engine
            .config
            .directory
            .roles
            .get(role)
            .and_then(|users| users.first().cloned())
            .ok_or_else(|| {
                anyhow::anyhow!("the configuration's directory has no user in role `{role}`")
            })
    }

    /// Waits until every webhook was delivered and processed.
    pub async fn settle(&self) -> anyhow::Result<()> {
        settle(&self.sim, &self.service.store, Duration::from_secs(60)).await
    }
}

/// Waits until the simulator has no hook left to deliver and the inbox nothing pending or
/// running, several checks in a row (the bot's own changes fire more hooks).
pub async fn settle(sim: &SimGitlab, store: &DynStore, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut quiet = 0;
    loop {
        if tokio::time::Instant::now() > deadline {
            let q = store.queue_stats().await?;
            anyhow::bail!(
                "the service did not settle within {} s: {} hooks undelivered; inbox: {} pending, {} running, {} parked",
                timeout.as_secs(),
                sim.pending_hooks(),
                q.pending,
                q.running,
                q.parked
            );
        }
        sim.wait_hooks_idle(Duration::from_secs(10)).await;
        let q = store.queue_stats().await?;
        if sim.pending_hooks() == 0 && q.pending == 0 && q.running == 0 {
            quiet += 1;
            if quiet >= 3 {
                return Ok(());
            }
        } else {
            quiet = 0;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}
