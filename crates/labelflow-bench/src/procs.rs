//! The services under test as child processes: `labelflow serve` and the gidgetlab peer.
//! Start-up is timed to the first healthy answer; memory is read from `/proc/PID/status`.

use anyhow::{Context, bail};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// A running service under test; killed when dropped.
pub struct Service {
    pub name: &'static str,
    /// Where webhooks go.
    pub webhook_url: String,
    pub startup: Duration,
    pub log: PathBuf,
    child: Child,
}

/// Resident memory of a process, KiB.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Memory {
    /// `VmRSS`: now.
    pub rss_kib: u64,
    /// `VmHWM`: the peak since start.
    pub peak_kib: u64,
}

/// How to start labelflow.
pub struct LabelflowSpec<'a> {
    pub bin: &'a Path,
    pub config: &'a Path,
    pub database: &'a Path,
    pub gitlab_url: &'a str,
    pub gitlab_token: &'a str,
    pub secret: &'a str,
    pub workers: usize,
    pub log: PathBuf,
    /// More `serve` flags (the rate-limit pacing).
    pub extra_args: Vec<String>,
}

/// How to start the gidgetlab peer.
pub struct PeerSpec<'a> {
    pub python: &'a Path,
    pub script: &'a Path,
    pub gitlab_url: &'a str,
    pub gitlab_token: &'a str,
    pub secret: &'a str,
    pub log: PathBuf,
}

/// How to start the ceiling: the minimal durable receiver in `benches/ceiling`.
pub struct CeilingSpec<'a> {
    pub bin: &'a Path,
    pub database: &'a Path,
    pub secret: &'a str,
    pub log: PathBuf,
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?)
}

impl Service {
    pub async fn labelflow(spec: LabelflowSpec<'_>) -> anyhow::Result<Service> {
        let addr = free_addr()?;
        let mut cmd = Command::new(spec.bin);
        cmd.env("LABELFLOW_ADMIN_LISTEN", "off");
        cmd.arg("--log-format")
            .arg("json")
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--config")
            .arg(spec.config)
            .arg("--database")
            .arg(spec.database)
            .arg("--gitlab-url")
            .arg(spec.gitlab_url)
            .arg("--workers")
            .arg(spec.workers.to_string())
            .arg("--shutdown-seconds")
            .arg("1")
            .args(&spec.extra_args)
            .env("LABELFLOW_GITLAB_TOKEN", spec.gitlab_token)
            .env("LABELFLOW_WEBHOOK_SECRET", spec.secret)
            .env_remove("RUST_LOG");
        let url = format!("http://{addr}/webhooks/gitlab");
        Service::spawn("labelflow", cmd, addr, url, "/healthz", spec.log).await
    }

    pub async fn peer(spec: PeerSpec<'_>) -> anyhow::Result<Service> {
        let addr = free_addr()?;
        let mut cmd = Command::new(spec.python);
        cmd.arg(spec.script)
            .env("PEER_PORT", addr.port().to_string())
            .env("GL_URL", spec.gitlab_url)
            .env("GL_ACCESS_TOKEN", spec.gitlab_token)
            .env("GL_SECRET", spec.secret)
            .env("PYTHONUNBUFFERED", "1");
        let url = format!("http://{addr}/");
        Service::spawn("gidgetlab", cmd, addr, url, "/health", spec.log).await
    }

    pub async fn ceiling(spec: CeilingSpec<'_>) -> anyhow::Result<Service> {
        let addr = free_addr()?;
        let mut cmd = Command::new(spec.bin);
        cmd.arg(addr.to_string())
            .arg(spec.database)
            .env("CEILING_WEBHOOK_SECRET", spec.secret);
        let url = format!("http://{addr}/webhooks/gitlab");
        Service::spawn("ceiling", cmd, addr, url, "/healthz", spec.log).await
    }

    async fn spawn(
        name: &'static str,
        mut cmd: Command,
        addr: SocketAddr,
        webhook_url: String,
        health: &str,
        log: PathBuf,
    ) -> anyhow::Result<Service> {
        let out = std::fs::File::create(&log)
            .with_context(|| format!("creating the log file {}", log.display()))?;
        cmd.stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", cmd.as_std().get_program()))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        let health_url = format!("http://{addr}{health}");
        loop {
            if let Ok(r) = client.get(&health_url).send().await
                && r.status().is_success()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{name} exited ({status}) before it was healthy; see {}",
                    log.display()
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("{name} not healthy after 60 s; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(Service {
            name,
            webhook_url,
            startup: started.elapsed(),
            log,
            child,
        })
    }

    pub fn memory(&self) -> Memory {
        self.child.id().map(memory_of).unwrap_or_default()
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// `VmRSS` and `VmHWM` of `pid` (zeros if the process is gone).
pub fn memory_of(pid: u32) -> Memory {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Memory::default();
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_memory() {
        let m = memory_of(std::process::id());
        assert!(m.rss_kib > 0);
        assert!(m.peak_kib >= m.rss_kib);
        assert_eq!(memory_of(u32::MAX).rss_kib, 0);
    }
}
