//! `labelflow serve`: receive GitLab webhooks and run the workflows.

use super::config_arg::ConfigArg;
use crate::clock::Clock;
use crate::forge::{Pacing, RetryPolicy};
use crate::service::{self, ServeSettings};
use crate::worker::WorkerSettings;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Address to listen on.
    #[arg(long, env = "LABELFLOW_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Database: a SQLite file (created on first start) or `postgres://…` for replicas.
    #[arg(long, env = "LABELFLOW_DATABASE", default_value = "labelflow.db")]
    pub database: String,
    #[command(flatten)]
    pub gitlab: super::gitlab_args::GitlabArgs,
    /// Webhook signing token(s) (`whsec_…`), comma-separated during rotation.
    #[arg(
        long,
        env = "LABELFLOW_WEBHOOK_SIGNING_TOKEN",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub webhook_signing_token: Vec<String>,
    /// Webhook secret token(s) (`X-Gitlab-Token`), comma-separated during rotation.
    #[arg(
        long,
        env = "LABELFLOW_WEBHOOK_SECRET",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub webhook_secret: Vec<String>,
    /// Accept webhooks without any secret (local experiments only).
    #[arg(long, env = "LABELFLOW_ALLOW_UNAUTHENTICATED_WEBHOOKS")]
    pub allow_unauthenticated_webhooks: bool,
    /// While migrating to signed webhooks: accept a delivery that has no signature but a
    /// valid X-Gitlab-Token, although a signing token is configured. Off by default: with a
    /// signing token configured, a signature is required.
    #[arg(long, env = "LABELFLOW_ALLOW_TOKEN_ONLY_WEBHOOKS")]
    pub allow_token_only_webhooks: bool,
    /// Largest webhook body accepted, bytes.
    #[arg(long, env = "LABELFLOW_BODY_LIMIT", default_value_t = crate::ingest::GITLAB_MAX_PAYLOAD)]
    pub body_limit: usize,
    /// Concurrent event processors.
    #[arg(long, env = "LABELFLOW_WORKERS", default_value_t = 4)]
    pub workers: usize,
    /// Seconds a claimed event is leased before another worker may take it over.
    #[arg(long, env = "LABELFLOW_LEASE_SECONDS", default_value_t = 300)]
    pub lease_seconds: u64,
    /// Seconds to wait for in-flight events on shutdown.
    #[arg(long, env = "LABELFLOW_SHUTDOWN_SECONDS", default_value_t = 20)]
    pub shutdown_seconds: u64,
    /// First wait before an event that failed transiently (GitLab 5xx, timeout) is tried
    /// again, milliseconds; doubles per attempt, with jitter.
    #[arg(long, env = "LABELFLOW_RETRY_BASE_MS", default_value_t = 2000)]
    pub retry_base_ms: u64,
    /// Longest wait between two tries of one event, seconds.
    #[arg(long, env = "LABELFLOW_RETRY_MAX_SECONDS", default_value_t = 300)]
    pub retry_max_seconds: u64,
    /// Per-request timeout for GitLab API calls, seconds.
    #[arg(long, env = "LABELFLOW_GITLAB_TIMEOUT_SECONDS", default_value_t = 10)]
    pub gitlab_timeout_seconds: u64,
    /// Issue creations allowed a minute by GitLab's application limit (GitLab.com: 200);
    /// labelflow spaces its own to stay under it. 0: not paced. With several replicas on one
    /// token, give each its share.
    #[arg(
        long,
        env = "LABELFLOW_GITLAB_ISSUE_CREATIONS_PER_MINUTE",
        default_value_t = 200
    )]
    pub gitlab_issue_creations_per_minute: u32,
    /// Note creations allowed a minute by GitLab's application limit (GitLab.com: 60), which
    /// GitLab does not announce in headers. 0: not paced. With replicas, give each its share.
    #[arg(
        long,
        env = "LABELFLOW_GITLAB_NOTE_CREATIONS_PER_MINUTE",
        default_value_t = 60
    )]
    pub gitlab_note_creations_per_minute: u32,
    /// Length of GitLab's application-limit window, seconds (GitLab: 60; shorter for a
    /// simulator with scaled limits).
    #[arg(
        long,
        env = "LABELFLOW_GITLAB_RATE_WINDOW_SECONDS",
        default_value_t = 60
    )]
    pub gitlab_rate_window_seconds: u64,
    /// How often to check the configuration and templates for changes and reload them,
    /// seconds; 0 = only on SIGHUP.
    #[arg(long, env = "LABELFLOW_RELOAD_INTERVAL_SECONDS", default_value_t = 5)]
    pub reload_interval_seconds: u64,
    /// Where the operator page listens (`off` to turn it off). Any address that is not
    /// loopback needs an admin token.
    #[arg(long, env = "LABELFLOW_ADMIN_LISTEN", default_value = "127.0.0.1:8081")]
    pub admin_listen: String,
    /// The operator page's token (required when `--admin-listen` is not loopback).
    #[arg(long, env = "LABELFLOW_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// A file holding the operator page's token.
    #[arg(long, env = "LABELFLOW_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<std::path::PathBuf>,
    /// Days the decision trace of each event is kept (finished plans too).
    #[arg(long, env = "LABELFLOW_TRACE_RETENTION_DAYS", default_value_t = 30)]
    pub trace_retention_days: u32,
    /// Most decision traces kept; older ones are pruned first.
    #[arg(long, env = "LABELFLOW_TRACE_RETENTION_MAX", default_value_t = 100_000)]
    pub trace_retention_max: u32,
}

/// Reads the token from the flag/env or the file, trimming the newline editors add.
pub async fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let token = args.gitlab.token()?;
    let gitlab_url = args.gitlab.url()?.to_string();
    let reload_settings = crate::reload::ReloadSettings {
        config: args.config.config.clone(),
        poll: (args.reload_interval_seconds > 0)
            .then(|| Duration::from_secs(args.reload_interval_seconds)),
        on_sighup: true,
    };
    let settings = ServeSettings {
        listen: args.listen,
        database: args.database,
        config: args.config.config,
        gitlab_url,
        gitlab_token: token,
        webhook_tokens: args.webhook_secret,
        signing_tokens: args.webhook_signing_token,
        allow_unauthenticated: args.allow_unauthenticated_webhooks,
        allow_token_only: args.allow_token_only_webhooks,
        body_limit: args.body_limit,
        timestamp_tolerance: crate::ingest::DEFAULT_TIMESTAMP_TOLERANCE,
        worker: WorkerSettings {
            concurrency: args.workers,
            lease: Duration::from_secs(args.lease_seconds.max(1)),
            retry_base: Duration::from_millis(args.retry_base_ms.max(1)),
            retry_max: Duration::from_secs(args.retry_max_seconds.max(1)),
            trace_retention: crate::store::TraceRetention {
                max_age: chrono::Duration::days(i64::from(args.trace_retention_days.max(1))),
                max_count: i64::from(args.trace_retention_max),
            },
            ..WorkerSettings::default()
        },
        retry: RetryPolicy {
            request_timeout: Duration::from_secs(args.gitlab_timeout_seconds.max(1)),
            pacing: Pacing::per_minute(
                args.gitlab_issue_creations_per_minute,
                args.gitlab_note_creations_per_minute,
                Duration::from_secs(args.gitlab_rate_window_seconds.max(1)),
            ),
            ..RetryPolicy::default()
        },
        clock: Clock::system(),
        shutdown_timeout: Duration::from_secs(args.shutdown_seconds),
        admin: admin_settings(&args.admin_listen, args.admin_token, args.admin_token_file)?,
    };
    let running = service::start(settings).await?;
    let reloader = crate::reload::spawn(
        reload_settings,
        running.engine.clone(),
        running.metrics.clone(),
        running.shutdown_token(),
    );
    shutdown_signal().await;
    tracing::info!("shutting down: no new webhooks; finishing in-flight events");
    running.shutdown().await;
    let _ = reloader.await;
    tracing::info!("stopped");
    Ok(0)
}

/// SIGTERM or Ctrl-C.
/// The operator page's settings from the flags (`None` for `--admin-listen off`).
fn admin_settings(
    listen: &str,
    token: Option<String>,
    token_file: Option<std::path::PathBuf>,
) -> anyhow::Result<Option<crate::admin::AdminSettings>> {
    if listen.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let listen: SocketAddr = listen.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "--admin-listen: `{listen}` is not an address such as 127.0.0.1:8081 (or `off`)"
        )
    })?;
    let token = match (token.filter(|t| !t.trim().is_empty()), token_file) {
        (Some(t), _) => Some(t.trim().to_string()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(&f)
                .map_err(|e| anyhow::anyhow!("reading the admin token file {}: {e}", f.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    let settings = crate::admin::AdminSettings {
        listen,
        token: token
            .filter(|t| !t.is_empty())
            .map(secrecy::SecretString::from),
    };
    settings.check().map_err(|e| anyhow::anyhow!(e))?;
    Ok(Some(settings))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
