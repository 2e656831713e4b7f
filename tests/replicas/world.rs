//! The simulated GitLab the replicas work against: two projects, the bot, one person who
//! writes the commands, and a hook that records every event GitLab would send.

use super::traffic::Hook;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use labelflow::sim::{HookConfig, SimGitlab, SimOptions, access};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinHandle;

pub const SIGNING_TOKEN: &str = "whsec_dGVzdC1zaWduaW5nLWtleS0xMjM0NTY3ODkw";
pub const BOT: &str = "labelflow";
pub const PERSON: &str = "author";
/// The project paths `tests/configs/replicas/labelflow.yml` names.
const PROJECT_PATHS: [&str; 2] = ["replicas/alpha", "replicas/beta"];

pub fn config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/replicas/labelflow.yml")
}

/// One issue in the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IssueRef {
    pub project: u64,
    pub iid: u64,
}

/// The simulator's note-creation limit, and each replica's setting for it (each replica paces
/// alone, so together they may go over it: a 429 is then waited out).
pub const NOTE_CREATIONS_PER_MINUTE: u32 = 6000;

pub struct World {
    pub sim: SimGitlab,
    pub projects: Vec<u64>,
    pub bot_token: String,
    sink: JoinHandle<()>,
}

impl World {
    /// Starts the simulator with the projects, users and a recording hook (a local sink that
    /// answers 204: the deliveries are kept in the simulator's log for the tests to replay).
    pub async fn start() -> World {
        let sim = SimGitlab::start(SimOptions::default().with_note_creation_limit(
            labelflow::sim::RateLimit::per_minute(NOTE_CREATIONS_PER_MINUTE).named("notes_create"),
        ))
        .await
        .expect("simulator starts");
        let bot = sim.add_user(BOT);
        sim.add_user(PERSON);
        let (sink_url, sink) = start_sink().await;
        let mut projects = Vec::new();
        for path in PROJECT_PATHS {
            let id = sim.add_project(path);
            sim.add_member(id, BOT, access::DEVELOPER)
                .expect("bot is a member");
            sim.add_member(id, PERSON, access::DEVELOPER)
                .expect("person is a member");
            let mut hook = HookConfig::issues_and_notes(sink_url.clone());
            hook.signing_token = Some(SIGNING_TOKEN.to_string());
            sim.add_hook(id, hook).expect("recording hook added");
            projects.push(id);
        }
        World {
            sim,
            projects,
            bot_token: bot.token,
            sink,
        }
    }

    /// Also sends every later event (the bot's own comments, in practice) to `url`, as GitLab
    /// does: the service must recognise and ignore them.
    pub fn hook_to(&self, url: &str) {
        for id in &self.projects {
            let mut hook = HookConfig::issues_and_notes(url);
            hook.signing_token = Some(SIGNING_TOKEN.to_string());
            self.sim.add_hook(*id, hook).expect("hook added");
        }
    }

    /// Opens `per_project` issues in each project, alternating projects.
    pub fn open_issues(&self, per_project: usize) -> Vec<IssueRef> {
        let mut issues = Vec::new();
        for n in 0..per_project {
            for project in &self.projects {
                let iid = self
                    .sim
                    .as_user(PERSON)
                    .create_issue(*project, &format!("Replica test issue {n}"), "", &[])
                    .expect("issue created");
                issues.push(IssueRef {
                    project: *project,
                    iid,
                });
            }
        }
        issues
    }

    /// Comments on every issue, round by round (so the issues' events interleave).
    pub fn comment_rounds(
        &self,
        issues: &[IssueRef],
        rounds: usize,
        body: impl Fn(usize) -> String,
    ) {
        for round in 1..=rounds {
            for issue in issues {
                self.sim
                    .as_user(PERSON)
                    .comment(issue.project, issue.iid, &body(round))
                    .expect("comment created");
            }
        }
    }

    /// Every event recorded so far, grouped by issue, in the order GitLab sent them.
    pub async fn recorded_hooks(&self) -> BTreeMap<IssueRef, Vec<Hook>> {
        assert!(
            self.sim.wait_hooks_idle(Duration::from_secs(60)).await,
            "the simulator did not finish recording its hooks"
        );
        let mut by_issue: BTreeMap<IssueRef, Vec<Hook>> = BTreeMap::new();
        for d in self.sim.deliveries() {
            assert!(d.succeeded(), "recording delivery failed: {:?}", d.error);
            let payload = d.payload().expect("recorded payloads are JSON");
            let iid = match d.event.as_str() {
                "Issue Hook" => payload["object_attributes"]["iid"].as_u64(),
                "Note Hook" => payload["issue"]["iid"].as_u64(),
                other => panic!("unexpected recorded event {other}"),
            }
            .expect("payload names its issue");
            by_issue
                .entry(IssueRef {
                    project: d.project_id,
                    iid,
                })
                .or_default()
                .push(Hook {
                    event: d.event.clone(),
                    webhook_id: d.webhook_id.clone(),
                    body: d.body.clone(),
                });
        }
        by_issue
    }

    /// The first line of each of the bot's comments on the issue, oldest first.
    pub fn bot_comments(&self, issue: IssueRef) -> Vec<String> {
        let bot = self.sim.user(BOT).expect("bot exists").id;
        let mut notes = self.sim.notes(issue.project, issue.iid);
        notes.sort_by_key(|n| n.id);
        notes
            .into_iter()
            .filter(|n| n.author_id == bot && !n.system)
            .map(|n| n.body.lines().next().unwrap_or_default().to_string())
            .collect()
    }

    /// When each of the bot's comments on the issue was created, oldest first.
    pub fn bot_comment_times(&self, issue: IssueRef) -> Vec<chrono::DateTime<chrono::Utc>> {
        let bot = self.sim.user(BOT).expect("bot exists").id;
        let mut notes = self.sim.notes(issue.project, issue.iid);
        notes.sort_by_key(|n| n.id);
        notes
            .into_iter()
            .filter(|n| n.author_id == bot && !n.system)
            .map(|n| n.created_at)
            .collect()
    }

    /// Comments the simulator created through its REST API (each a bot effect).
    pub fn notes_created_over_http(&self) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path.ends_with("/notes") && (200..300).contains(&r.status)
            })
            .count()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.sink.abort();
    }
}

async fn start_sink() -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the recording sink");
    let addr = listener.local_addr().expect("sink address");
    let app = Router::new().route("/hooks", post(|| async { StatusCode::NO_CONTENT }));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hooks"), task)
}
