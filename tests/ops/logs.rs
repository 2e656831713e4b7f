//! The real binary's logs at debug level, in JSON: one span per event with event id, project,
//! issue and rule, and no secret anywhere (GitLab token, webhook secret and signing token,
//! database password), whatever requests it handles.

use crate::common::{SIGNING_TOKEN, repo_path};
use labelflow::sim::{HookConfig, SimGitlab, SimOptions, access};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const WEBHOOK_SECRET: &str = "xgt-webhook-secret-5f3a9c1d";
const DB_PASSWORD: &str = "pw-Very-Secret-77";
const OPPORTUNITY: &str =
    "## Customer\nAcme Corp\n\n## Problem\nSlow pipelines\n\nCSM: @jane\nSA: @sam\nAE: @alex\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

async fn wait_log(path: &Path, needle: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !read(path).contains(needle) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "log never said {needle:?}:\n{}",
            read(path)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Every form a secret could leak in: as given, and the signing key without its prefix.
fn secrets(gitlab_token: &str) -> Vec<String> {
    let key = SIGNING_TOKEN.trim_start_matches("whsec_");
    vec![
        gitlab_token.to_string(),
        SIGNING_TOKEN.to_string(),
        key.to_string(),
        "test-signing-key-1234567890".to_string(),
        WEBHOOK_SECRET.to_string(),
        DB_PASSWORD.to_string(),
    ]
}

#[tokio::test]
async fn logs_have_event_spans_and_no_secrets() {
    let sim = SimGitlab::start(SimOptions::default()).await.expect("sim");
    let p = sim.add_project("co-create/opportunities");
    sim.add_project("contributor-success/co-create-triage");
    let bot = sim.add_user("labelflow");
    sim.add_member(p, "labelflow", access::DEVELOPER)
        .expect("bot");
    for u in ["author", "jane", "sam", "alex", "cs-lead"] {
        sim.add_member(p, u, access::DEVELOPER).expect("member");
    }
    let port = free_port();
    let mut hook = HookConfig::new(format!("http://127.0.0.1:{port}/webhooks/gitlab"));
    // Both secrets, as `setup` creates the hook: the service checks both.
    hook.signing_token = Some(SIGNING_TOKEN.to_string());
    hook.token = Some(WEBHOOK_SECRET.to_string());
    hook.issues_events = true;
    hook.note_events = true;
    sim.add_hook(p, hook).expect("hook");

    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .env("LABELFLOW_ADMIN_LISTEN", "127.0.0.1:0")
        .args(["--log-format", "json", "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database")
        .arg(dir.path().join("lf.db"))
        .arg("--config")
        .arg(repo_path("tests/configs/basic/labelflow.yml"))
        .args(["--gitlab-url", &sim.base_url(), "--workers", "1"])
        .env("RUST_LOG", "debug")
        .env("LABELFLOW_GITLAB_TOKEN", &bot.token)
        .env("LABELFLOW_WEBHOOK_SIGNING_TOKEN", SIGNING_TOKEN)
        .env("LABELFLOW_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("binary starts");
    wait_log(&log, "connected to GitLab").await;
    wait_log(&log, "watching the configuration for changes").await;

    // A signed delivery from the simulator, processed into a bot comment.
    sim.as_user("author")
        .create_issue(
            p,
            "Acme Corp co-create",
            OPPORTUNITY,
            &["cocreate::identified"],
        )
        .expect("issue");
    wait_log(&log, "actions done").await;
    // Unsigned deliveries with the secret token, a wrong token and none: all refused, since a
    // signing token is configured (docs/operations.md); none of them may leak into the logs.
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/webhooks/gitlab");
    let fixture = std::fs::read_to_string(repo_path("tests/fixtures/gitlab-docs/issue_open.json"))
        .expect("fixture");
    for (token, want) in [
        (Some(WEBHOOK_SECRET), 401),
        (Some("wrong-token-abc"), 401),
        (None, 401),
    ] {
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-gitlab-event", "Issue Hook")
            .body(fixture.clone());
        if let Some(t) = token {
            req = req.header("x-gitlab-token", t);
        }
        let status = req.send().await.expect("POST").status().as_u16();
        assert_eq!(status, want, "token {token:?}");
    }
    for path in ["/metrics", "/readyz", "/healthz"] {
        let r = http
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    // SIGHUP reloads the configuration; SIGTERM stops the service cleanly.
    kill(child.id(), "HUP");
    wait_log(&log, "configuration reloaded").await;
    kill(child.id(), "TERM");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "exit status {status}");

    let text = read(&log);
    for secret in secrets(&bot.token) {
        assert!(
            !text.contains(&secret),
            "secret {secret:?} leaked into the logs"
        );
    }
    // One span per event, with event id, project, issue and rule.
    let done = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "actions done")
        .expect("an `actions done` line");
    let span = &done["span"];
    assert_eq!(span["name"], "event", "{done}");
    assert_eq!(span["event_id"], 1, "{done}");
    assert_eq!(span["project"], "co-create/opportunities", "{done}");
    assert_eq!(span["issue"], format!("{p}#1"), "{done}");
    assert_eq!(span["rule"], "cocreate/identified", "{done}");
    // The rejected deliveries are logged with their reason (and nothing of the token).
    assert!(text.contains("\"reason\":\"missing_signature\""), "{text}");
}

#[test]
fn a_database_password_never_reaches_the_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .env("LABELFLOW_ADMIN_LISTEN", "127.0.0.1:0")
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .arg("--database")
        .arg(format!(
            "postgres://labelflow:{DB_PASSWORD}@127.0.0.1:1/labelflow"
        ))
        .arg("--config")
        .arg(repo_path("tests/configs/basic/labelflow.yml"))
        .args(["--gitlab-url", "http://127.0.0.1:1"])
        .env("RUST_LOG", "debug")
        .env("LABELFLOW_GITLAB_TOKEN", "glpat-never-used")
        .env("LABELFLOW_WEBHOOK_SIGNING_TOKEN", SIGNING_TOKEN)
        .current_dir(dir.path())
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(DB_PASSWORD), "password leaked: {stderr}");
    assert!(
        stderr.contains("postgres://labelflow:***@127.0.0.1:1/labelflow"),
        "the redacted URL names the database: {stderr}"
    );
}
