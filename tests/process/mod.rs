//! Runs the real `labelflow` binary as a child process (serve, events) for the crash, fault and
//! shutdown tests, and drives a workload of signed webhooks built by the simulated GitLab.
#![allow(dead_code)]

pub mod workload;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The signing token the tests configure on both sides.
pub const SIGNING_TOKEN: &str = "whsec_dGVzdC1zaWduaW5nLWtleS0xMjM0NTY3ODkw";

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Whether the larger workloads were asked for (`LABELFLOW_HEAVY=1`).
pub fn heavy() -> bool {
    std::env::var("LABELFLOW_HEAVY").is_ok_and(|v| v == "1" || v == "true")
}

/// A free loopback port (bound, then released: the service binds it again on every restart).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("bound address")
}

/// The note-creation limit of the workload's simulator, and labelflow's setting for it.
pub const NOTE_CREATIONS_PER_MINUTE: u32 = 6000;

/// How to run `labelflow serve`.
#[derive(Debug, Clone)]
pub struct ServeSpec {
    pub config: PathBuf,
    pub database: PathBuf,
    pub listen: SocketAddr,
    pub gitlab_url: String,
    pub gitlab_token: String,
    /// Where the child's stderr goes (appended across restarts).
    pub log: PathBuf,
    pub extra: Vec<String>,
}

impl ServeSpec {
    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_labelflow"));
        c.arg("serve")
            .args(["--admin-listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(&self.config)
            .arg("--database")
            .arg(&self.database)
            .arg("--listen")
            .arg(self.listen.to_string())
            .arg("--gitlab-url")
            .arg(&self.gitlab_url)
            .args(&self.extra)
            .env_clear()
            .env("LABELFLOW_GITLAB_TOKEN", &self.gitlab_token)
            .env("LABELFLOW_WEBHOOK_SIGNING_TOKEN", SIGNING_TOKEN)
            .env("RUST_LOG", "info")
            .env(
                "LABELFLOW_GITLAB_NOTE_CREATIONS_PER_MINUTE",
                NOTE_CREATIONS_PER_MINUTE.to_string(),
            )
            .kill_on_drop(true);
        c
    }

    /// Starts the service and waits until it answers `/healthz`.
    pub async fn start(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut child = self
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("labelflow serve starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "labelflow serve exited with {status} during start-up:\n{}",
                    self.log_tail()
                );
            }
            let url = format!("http://{}/healthz", self.listen);
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return child;
            }
            assert!(
                Instant::now() < deadline,
                "labelflow serve did not answer /healthz within 20 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The last lines the service logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The whole log (every start), for assertions on what was logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// SIGKILL: no chance to finish anything. Returns once the process is gone.
pub async fn sigkill(child: &mut Child) {
    child.kill().await.expect("SIGKILL delivered");
}

/// SIGTERM: asks for a graceful shutdown.
pub fn sigterm(child: &Child) {
    let pid = child.id().expect("the child is running") as libc::pid_t;
    // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0, "SIGTERM delivered");
}

/// Runs `labelflow events ARGS…` on `database`; returns (exit code, stdout, stderr).
pub async fn events_cli(database: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .arg("events")
        .arg("--database")
        .arg(database)
        .args(args)
        .env_clear()
        .output()
        .await
        .expect("labelflow events runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
