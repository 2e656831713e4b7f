//! End-to-end harness (bors style): the real service (HTTP ingest, store, worker, `gitlab`
//! client) against the stateful simulated GitLab, which fires signed webhooks back at it.
//! Every bot comment must be asserted: [`Harness::finish`] fails on any that was not.
#![allow(dead_code)]

pub mod item;
pub mod shipped;
pub mod sweep_world;
pub mod text;

use labelflow::clock::Clock;
use labelflow::forge::RetryPolicy;
use labelflow::service::{self, Running, ServeSettings};
use labelflow::sim::{HookConfig, SimGitlab, SimNote, SimOptions, access};
use labelflow::worker::WorkerSettings;
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SIGNING_TOKEN: &str = "whsec_dGVzdC1zaWduaW5nLWtleS0xMjM0NTY3ODkw";

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Test-friendly service settings: short retries, short leases, no waiting around.
pub fn settings(
    sim: &SimGitlab,
    token: &str,
    config: &Path,
    database: &str,
    listen: SocketAddr,
    clock: Clock,
    workers: usize,
) -> ServeSettings {
    ServeSettings {
        listen,
        database: database.to_string(),
        config: config.to_path_buf(),
        gitlab_url: sim.base_url(),
        gitlab_token: SecretString::from(token.to_string()),
        webhook_tokens: vec![],
        signing_tokens: vec![SIGNING_TOKEN.to_string()],
        allow_unauthenticated: false,
        allow_token_only: false,
        body_limit: 1024 * 1024,
        timestamp_tolerance: Duration::from_secs(300),
        worker: WorkerSettings {
            concurrency: workers,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(50),
            retry_max: Duration::from_millis(400),
            ..WorkerSettings::default()
        },
        retry: RetryPolicy {
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            request_timeout: Duration::from_secs(2),
            default_retry_after: Duration::from_secs(1),
            max_rate_limit_wait: Duration::from_secs(20),
            ..RetryPolicy::default()
        },
        clock,
        shutdown_timeout: Duration::from_secs(5),
        admin: None,
    }
}

pub struct Harness {
    pub sim: SimGitlab,
    pub service: Option<Running>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub database: String,
    pub clock: Clock,
    pub bot_token: String,
    pub projects: BTreeMap<String, u64>,
    pub addr: SocketAddr,
    /// Changes to the test settings every (re)start applies.
    pub tweak: fn(&mut ServeSettings),
    asserted: BTreeSet<u64>,
}

impl Harness {
    /// Starts the simulator (users for the bot and every directory user, projects from the
    /// configuration, a signed webhook per project) and the service.
    pub async fn start(config: &Path) -> Harness {
        Self::start_with(config, 4).await
    }

    pub async fn start_with(config: &Path, workers: usize) -> Harness {
        Self::start_custom(config, workers, None, |_| {}).await
    }

    /// Like [`Harness::start_with`], on `database` (a SQLite file in a temp directory when
    /// `None`) and with `tweak` applied to the service's settings.
    pub async fn start_custom(
        config: &Path,
        workers: usize,
        database: Option<String>,
        tweak: fn(&mut ServeSettings),
    ) -> Harness {
        let clock = Clock::system();
        let sim = SimGitlab::start(SimOptions::default().with_clock({
            let c = clock.clone();
            move || c.now()
        }))
        .await
        .expect("simulator starts");
        let engine = labelflow::engine::Engine::load(config).expect("test configuration loads");
        let mut projects = BTreeMap::new();
        for (name, path) in &engine.config.projects {
            let id = sim.add_project(path);
            projects.insert(name.clone(), id);
        }
        let bot = sim.add_user(engine.bot());
        for id in projects.values() {
            sim.add_member(*id, engine.bot(), access::DEVELOPER)
                .expect("bot is a member");
        }
        let mut users: BTreeSet<String> = BTreeSet::new();
        for members in engine.config.directory.roles.values() {
            users.extend(members.iter().cloned());
        }
        for g in engine.config.directory.product_groups.values() {
            users.extend(g.pms.iter().cloned());
        }
        for u in &users {
            sim.add_user(u);
            for id in projects.values() {
                sim.add_member(*id, u, access::DEVELOPER).expect("member");
            }
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let database =
            database.unwrap_or_else(|| dir.path().join("labelflow.db").display().to_string());
        // Reserve a port so restarts come back on the same address the hooks point at.
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr")
        };
        for id in projects.values() {
            let mut hook = HookConfig::new(format!("http://{addr}/webhooks/gitlab"));
            hook.signing_token = Some(SIGNING_TOKEN.to_string());
            hook.issues_events = true;
            hook.confidential_issues_events = true;
            hook.note_events = true;
            hook.confidential_note_events = true;
            sim.add_hook(*id, hook).expect("hook added");
        }
        let mut h = Harness {
            sim,
            service: None,
            dir,
            config: config.to_path_buf(),
            database,
            clock,
            bot_token: bot.token,
            projects,
            addr,
            tweak,
            asserted: BTreeSet::new(),
        };
        h.start_service(workers).await;
        h
    }

    /// Adds a person who works on every project (Developer).
    pub fn add_person(&self, username: &str) {
        self.sim.add_user(username);
        for id in self.projects.values() {
            self.sim
                .add_member(*id, username, access::DEVELOPER)
                .expect("member");
        }
    }

    pub fn project(&self, name: &str) -> u64 {
        self.projects[name]
    }

    pub async fn start_service(&mut self, workers: usize) {
        let mut s = settings(
            &self.sim,
            &self.bot_token,
            &self.config,
            &self.database,
            self.addr,
            self.clock.clone(),
            workers,
        );
        (self.tweak)(&mut s);
        self.service = Some(service::start(s).await.expect("service starts"));
    }

    pub async fn stop_service(&mut self) {
        if let Some(s) = self.service.take() {
            s.shutdown().await;
        }
    }

    pub async fn restart(&mut self, workers: usize) {
        self.stop_service().await;
        self.start_service(workers).await;
    }

    /// Waits until the simulator has delivered every hook and the inbox is empty.
    pub async fn settle(&self) {
        let store = self.store();
        labelflow::demo::settle(&self.sim, &store, Duration::from_secs(60))
            .await
            .expect("settled");
    }

    pub async fn queue(&self) -> labelflow::store::QueueStats {
        match &self.service {
            Some(s) => s.store.queue_stats().await.expect("queue stats"),
            None => labelflow::store::QueueStats::default(),
        }
    }

    pub fn store(&self) -> labelflow::store::DynStore {
        self.service
            .as_ref()
            .expect("service running")
            .store
            .clone()
    }

    /// The bot's visible comments on an issue.
    pub fn bot_notes(&self, project: u64, iid: u64) -> Vec<SimNote> {
        let bot = self.sim.user("labelflow").map(|u| u.id).unwrap_or(0);
        self.sim
            .notes(project, iid)
            .into_iter()
            .filter(|n| n.author_id == bot && !n.system)
            .collect()
    }

    /// Asserts there is exactly one bot comment on the issue containing `text`, and marks it
    /// as asserted. Returns its body.
    pub fn expect_comment(&mut self, project: u64, iid: u64, text: &str) -> String {
        let matching: Vec<SimNote> = self
            .bot_notes(project, iid)
            .into_iter()
            .filter(|n| n.body.contains(text))
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "expected exactly one bot comment containing {text:?} on {project}#{iid}; bot comments: {:#?}",
            self.bot_notes(project, iid)
                .iter()
                .map(|n| &n.body)
                .collect::<Vec<_>>()
        );
        self.asserted.insert(matching[0].id);
        matching[0].body.clone()
    }

    /// Fails if any bot comment anywhere was not asserted by `expect_comment`.
    pub fn finish(&self) {
        let bot = self.sim.user("labelflow").map(|u| u.id).unwrap_or(0);
        let mut unasserted = Vec::new();
        for project in self.projects.values() {
            for issue in self.sim.issues(*project) {
                for n in self.sim.notes(*project, issue.iid) {
                    if n.author_id == bot && !n.system && !self.asserted.contains(&n.id) {
                        unasserted.push(format!("{project}#{}: {}", issue.iid, n.body));
                    }
                }
            }
        }
        assert!(
            unasserted.is_empty(),
            "bot comments nobody asserted:\n{}",
            unasserted.join("\n---\n")
        );
    }
}
