//! A sweep test world: the simulated GitLab with a controllable clock, a configuration, and
//! as many sweepers as a test wants, each with its own store connection and GitLab client
//! (standing in for separate `labelflow sweep` processes) on one database.

use labelflow::actions::executor::Executor;
use labelflow::clock::Clock;
use labelflow::engine::Engine;
use labelflow::forge::{GitlabForge, RetryPolicy};
use labelflow::metrics::Metrics;
use labelflow::sim::{NewIssue, SimGitlab, SimOptions, access};
use labelflow::store;
use labelflow::sweep::{ItemPlan, SweepOptions, SweepReport, Sweeper};
use std::path::Path;
use std::sync::Arc;

pub fn test_policy() -> RetryPolicy {
    RetryPolicy {
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(200),
        request_timeout: std::time::Duration::from_secs(5),
        default_retry_after: std::time::Duration::from_millis(300),
        max_rate_limit_wait: std::time::Duration::from_secs(30),
        // The sweep worlds' simulators run without limits.
        pacing: labelflow::forge::Pacing::off(),
        ..RetryPolicy::default()
    }
}

pub struct SweepWorld {
    pub sim: SimGitlab,
    pub clock: Clock,
    pub engine: Arc<Engine>,
    pub token: String,
    /// `--database` of every sweeper.
    pub database: String,
    pub projects: Vec<u64>,
    _dir: tempfile::TempDir,
}

impl SweepWorld {
    /// `projects` are created with the bot and `alice` as developers; `users` exist too.
    /// `database`: a PostgreSQL URL, or `None` for a SQLite file in a temp directory.
    pub async fn start(
        config: &Path,
        projects: &[&str],
        users: &[&str],
        database: Option<String>,
    ) -> SweepWorld {
        let clock = Clock::system();
        // Sweeps post hundreds of notes a minute: these tests lift GitLab.com's limits on both
        // sides (the pacing has tests of its own).
        let sim = SimGitlab::start(SimOptions::default().without_rate_limits().with_clock({
            let c = clock.clone();
            move || c.now()
        }))
        .await
        .expect("simulator starts");
        let bot = sim.add_user("labelflow");
        sim.add_user("alice");
        for u in users {
            sim.add_user(u);
        }
        let projects: Vec<u64> = projects
            .iter()
            .map(|path| {
                let p = sim.add_project(path);
                for u in ["labelflow", "alice"] {
                    sim.add_member(p, u, access::DEVELOPER).expect("member");
                }
                p
            })
            .collect();
        let engine = Arc::new(Engine::load(config).expect("test config loads"));
        let dir = tempfile::tempdir().expect("temp dir");
        let database =
            database.unwrap_or_else(|| dir.path().join("labelflow.db").display().to_string());
        SweepWorld {
            sim,
            clock,
            engine,
            token: bot.token,
            database,
            projects,
            _dir: dir,
        }
    }

    /// A sweeper with its own store connection and GitLab client.
    pub async fn sweeper(&self, policy: RetryPolicy) -> Sweeper {
        let store = store::connect(&self.database).await.expect("store opens");
        let metrics = Metrics::new();
        let forge =
            GitlabForge::connect(&self.sim.base_url(), &self.token, policy, metrics.clone())
                .await
                .expect("forge connects");
        Sweeper {
            engine: self.engine.clone(),
            executor: Executor::new(forge, store, metrics, self.clock.clone()),
        }
    }

    /// `n` issues by alice in `project` with these labels; returns their iids.
    pub fn create(&self, project: u64, n: usize, title: &str, labels: &[&str]) -> Vec<u64> {
        let alice = self.sim.as_user("alice");
        (0..n)
            .map(|k| {
                alice
                    .create_issue_with(
                        project,
                        NewIssue {
                            title: format!("{title} {k}"),
                            description: "Customer: Acme".into(),
                            labels: labels.iter().map(|s| s.to_string()).collect(),
                            ..NewIssue::default()
                        },
                    )
                    .expect("issue")
            })
            .collect()
    }

    pub fn advance_days(&self, days: i64) {
        self.clock.advance(chrono::Duration::days(days));
    }

    pub fn labels(&self, project: u64, iid: u64) -> Vec<String> {
        self.sim.issue(project, iid).expect("issue").labels
    }

    pub fn bot_comments(&self, project: u64, iid: u64) -> Vec<String> {
        let bot = self.sim.user("labelflow").map(|u| u.id).unwrap_or(0);
        self.sim
            .notes(project, iid)
            .into_iter()
            .filter(|n| n.author_id == bot && !n.system)
            .map(|n| n.body)
            .collect()
    }
}

/// Runs one sweep; returns its report and the actions it took.
pub async fn sweep(
    s: &Sweeper,
    max_actions: usize,
    workflows: &[&str],
) -> (SweepReport, Vec<labelflow::actions::PlannedAction>) {
    let mut seen = Vec::new();
    let mut collect = |item: ItemPlan<'_>| seen.extend(item.actions.iter().cloned());
    let report = s
        .run(
            &SweepOptions {
                dry_run: false,
                max_actions,
                workflows: workflows.iter().map(|w| w.to_string()).collect(),
            },
            &mut collect,
        )
        .await;
    (report, seen)
}
