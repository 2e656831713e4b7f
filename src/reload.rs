//! Configuration reload without a restart: on SIGHUP, and when the configuration file or a
//! template changes (polled, so it works the same on every filesystem and in containers where
//! inotify does not see ConfigMap swaps). A new configuration is validated in full first
//! ([`Engine::load`]); a broken one is rejected with its errors logged and the running one
//! stays. The swap replaces the whole `Arc<Engine>`, so an event being processed finishes
//! with the configuration it started with.

use crate::engine::{ConfigErrors, Engine};
use crate::metrics::Metrics;
use crate::worker::{EngineHandle, current};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// When to look for a new configuration.
#[derive(Debug, Clone)]
pub struct ReloadSettings {
    /// The configuration file the service was started with.
    pub config: PathBuf,
    /// How often to check the file and the templates for changes; `None` = only on SIGHUP.
    pub poll: Option<Duration>,
    /// Reload on SIGHUP (unix only).
    pub on_sighup: bool,
}

/// Loads the configuration at `path` and, if it is valid, makes it the running one.
/// A broken configuration is logged and counted, and the running one is kept.
pub fn reload(path: &Path, engine: &EngineHandle, metrics: &Metrics) -> Result<(), ConfigErrors> {
    match Engine::load(path) {
        Ok(new) => {
            let old = current(engine);
            if !old.bot().eq_ignore_ascii_case(new.bot()) {
                tracing::warn!(
                    old = old.bot(),
                    new = new.bot(),
                    "bot.username changed; the GitLab token still belongs to the old account until a restart with a new token"
                );
            }
            let workflows = new.config.workflows.len();
            *engine.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
            metrics.config_reload("applied");
            tracing::info!(config = %path.display(), workflows, "configuration reloaded");
            Ok(())
        }
        Err(errors) => {
            metrics.config_reload("rejected");
            for e in &errors.0 {
                tracing::error!(error = %e, "configuration error");
            }
            tracing::error!(
                config = %path.display(),
                errors = errors.0.len(),
                "new configuration rejected; the running configuration stays in effect"
            );
            Err(errors)
        }
    }
}

/// Watches for SIGHUP and file changes until `shutdown`, reloading on each. Call it from
/// within the runtime.
pub fn spawn(
    settings: ReloadSettings,
    engine: EngineHandle,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    // Both before the task first runs: a change or a SIGHUP right after `spawn` returns must
    // count (and SIGHUP's default action would end the process).
    let mut hangup = Hangup::new(settings.on_sighup);
    let mut seen = fingerprint(&settings.config, &engine);
    tokio::spawn(async move {
        tracing::info!(
            config = %settings.config.display(),
            sighup = hangup.enabled(),
            poll_ms = settings.poll.map(|d| d.as_millis() as u64),
            "watching the configuration for changes"
        );
        loop {
            let poll = async {
                match settings.poll {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let signalled = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = hangup.recv() => true,
                _ = poll => false,
            };
            if signalled {
                tracing::info!("SIGHUP: reloading the configuration");
            } else {
                let now = settled_fingerprint(&settings.config, &engine).await;
                if now == seen {
                    continue;
                }
                tracing::info!(config = %settings.config.display(), "configuration changed on disk; reloading");
            }
            let _ = reload(&settings.config, &engine, &metrics);
            // Whatever the outcome, this state has been looked at: a rejected file is not
            // retried until it changes again.
            seen = fingerprint(&settings.config, &engine);
        }
    })
}

/// Waits for the files to stop changing (an editor or `kubectl cp` writing in several steps),
/// so a half-written file is not reported as broken.
async fn settled_fingerprint(config: &Path, engine: &EngineHandle) -> u64 {
    let mut last = fingerprint(config, engine);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = fingerprint(config, engine);
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// A hash of the configuration file and every file under the running configuration's
/// templates directory (contents, so same-second edits of equal size are seen too).
fn fingerprint(config: &Path, engine: &EngineHandle) -> u64 {
    let mut h = DefaultHasher::new();
    std::fs::read(config).ok().hash(&mut h);
    let base = config.parent().unwrap_or(Path::new("."));
    let templates = base.join(&current(engine).config.templates_dir);
    let mut files = Vec::new();
    collect_files(&templates, &mut files, 0);
    files.sort();
    for f in files {
        f.hash(&mut h);
        std::fs::read(&f).ok().hash(&mut h);
    }
    h.finish()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    // Templates are a shallow tree; the depth cap guards against symlink loops.
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out, depth + 1);
        } else {
            out.push(path);
        }
    }
}

/// SIGHUP as a stream that never fires where signals are off or unsupported.
struct Hangup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangup {
    fn new(enabled: bool) -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = if enabled {
                match signal(SignalKind::hangup()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for SIGHUP; reload by file change only");
                        None
                    }
                }
            } else {
                None
            };
            Hangup { signal }
        }
        #[cfg(not(unix))]
        {
            let _ = enabled;
            Hangup {}
        }
    }

    fn enabled(&self) -> bool {
        #[cfg(unix)]
        {
            self.signal.is_some()
        }
        #[cfg(not(unix))]
        {
            false
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = self.signal.as_mut() {
            if s.recv().await.is_some() {
                return;
            }
            // The signal stream ended: stop listening rather than spin.
            self.signal = None;
        }
        std::future::pending::<()>().await
    }
}
