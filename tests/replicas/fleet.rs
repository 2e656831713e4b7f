//! Real `labelflow serve` processes (the binary cargo built for this test), each on its own
//! port, all on one PostgreSQL database and one simulated GitLab.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

/// Default lease of the replicas: short, so a killed replica's events are taken over quickly, but
/// far longer than any event takes here (a lease that expires under a live worker lets a second
/// worker redo its event).
pub const LEASE_SECONDS: u64 = 5;

/// What every replica is started with.
pub struct FleetConfig {
    pub config: PathBuf,
    pub database: String,
    pub gitlab_url: String,
    pub gitlab_token: String,
    pub signing_token: String,
    pub workers: usize,
    /// `--lease-seconds`.
    pub lease_seconds: u64,
    pub log_dir: PathBuf,
}

pub struct Replica {
    pub name: String,
    pub addr: SocketAddr,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Replica {
    /// Starts `labelflow serve` on a free loopback port and waits until `/readyz` answers 200.
    pub async fn start(name: &str, cfg: &FleetConfig) -> Replica {
        let addr = free_port();
        let log = cfg.log_dir.join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("create the replica's log file");
        let child = Command::new(env!("CARGO_BIN_EXE_labelflow"))
            .env("LABELFLOW_ADMIN_LISTEN", "127.0.0.1:0")
            .arg("serve")
            .arg("--config")
            .arg(&cfg.config)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--database")
            .arg(&cfg.database)
            .arg("--gitlab-url")
            .arg(&cfg.gitlab_url)
            .arg("--workers")
            .arg(cfg.workers.to_string())
            .arg("--lease-seconds")
            .arg(cfg.lease_seconds.to_string())
            .arg("--shutdown-seconds")
            .arg("5")
            .arg("--gitlab-timeout-seconds")
            .arg("5")
            .env("LABELFLOW_GITLAB_TOKEN", &cfg.gitlab_token)
            .env("LABELFLOW_WEBHOOK_SIGNING_TOKEN", &cfg.signing_token)
            .env_remove("LABELFLOW_WEBHOOK_SECRET")
            .env_remove("LABELFLOW_ALLOW_UNAUTHENTICATED_WEBHOOKS")
            .env("RUST_LOG", "warn")
            // The fleet shares one token and posts hundreds of notes a minute: the world's
            // simulator raises its note limit to match (GitLab.com's 60 would make these tests
            // about pacing, which tests/ratelimits.rs covers).
            .env(
                "LABELFLOW_GITLAB_NOTE_CREATIONS_PER_MINUTE",
                super::world::NOTE_CREATIONS_PER_MINUTE.to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("start labelflow serve");
        let mut replica = Replica {
            name: name.to_string(),
            addr,
            log,
            child: Some(child),
        };
        replica.wait_ready().await;
        replica
    }

    pub fn webhook_url(&self) -> String {
        format!("http://{}/webhooks/gitlab", self.addr)
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let url = format!("http://{}/readyz", self.addr);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "replica {} exited before it was ready ({status}); its log:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if let Ok(rsp) = client.get(&url).send().await
                && rsp.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "replica {} not ready after 60 s; its log:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id (which starts the lease owner ids of its claim loops).
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("replica is running")
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`) with kill(1).
    pub fn signal(&self, name: &str) {
        let pid = self.pid();
        let sent = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{name} {pid} failed");
    }

    /// SIGKILL: no shutdown, no lease release; its claimed events stay leased until the lease
    /// runs out.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL the replica");
            let _ = child.wait().await;
        }
    }

    /// SIGTERM, then waits for the process to exit by itself (graceful shutdown).
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        let mut child = self.child.take().expect("replica is running");
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(status) => status.expect("wait for the replica"),
            Err(_) => panic!(
                "replica {} did not stop within 30 s of SIGTERM; its log:\n{}",
                self.name,
                self.log_tail()
            ),
        }
    }

    /// The last lines of the replica's log, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log, 40)
    }
}

pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}
