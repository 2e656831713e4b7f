//! Wires the parts into the running service: store, engine, HTTP (ingest, health, metrics),
//! GitLab client and worker. `labelflow serve`, `labelflow demo` and the end-to-end tests all
//! start it through [`start`].

use crate::actions::executor::Executor;
use crate::clock::Clock;
use crate::engine::Engine;
use crate::forge::{ForgeError, GitlabForge, RetryPolicy};
use crate::ingest::{self, IngestConfig, IngestState, WebhookSecrets};
use crate::metrics::Metrics;
use crate::store::{self, DynStore};
use crate::worker::{EngineHandle, Worker, WorkerSettings};
use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Everything `serve` needs.
#[derive(Clone)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub database: String,
    pub config: PathBuf,
    pub gitlab_url: String,
    pub gitlab_token: SecretString,
    pub webhook_tokens: Vec<String>,
    pub signing_tokens: Vec<String>,
    pub allow_unauthenticated: bool,
    /// See [`IngestConfig::allow_token_only`].
    pub allow_token_only: bool,
    pub body_limit: usize,
    pub timestamp_tolerance: Duration,
    pub worker: WorkerSettings,
    pub retry: RetryPolicy,
    pub clock: Clock,
    /// How long shutdown waits for in-flight events before releasing their leases.
    pub shutdown_timeout: Duration,
    /// The operator page (off when `None`).
    pub admin: Option<crate::admin::AdminSettings>,
}

/// A running service.
pub struct Running {
    pub addr: SocketAddr,
    /// Where the operator page listens, when on.
    pub admin_addr: Option<SocketAddr>,
    pub store: DynStore,
    pub metrics: Arc<Metrics>,
    pub engine: EngineHandle,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    worker: JoinHandle<()>,
    worker_id: String,
    concurrency: usize,
    clock: Clock,
    shutdown_timeout: Duration,
}

impl Running {
    /// Stops accepting, lets in-flight events finish (or releases their leases after the
    /// timeout), and returns.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        let stopped = tokio::time::timeout(self.shutdown_timeout, self.worker).await;
        if stopped.is_err() {
            tracing::warn!("in-flight events did not finish in time; releasing their leases");
        }
        // Leases of anything still claimed go back to the queue at once (instead of waiting
        // for the lease to expire).
        for n in 0..self.concurrency {
            let id = crate::worker::loop_worker_id(&self.worker_id, n);
            match self.store.release_leases(&id, self.clock.now()).await {
                Ok(k) if k > 0 => tracing::info!(released = k, "released leases"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not release leases"),
            }
        }
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

#[derive(Clone)]
struct OpsState {
    store: DynStore,
    metrics: Arc<Metrics>,
}

/// How long `/readyz` waits for the store: a load balancer's probe must get an answer even
/// when the database hangs (a pool waiting for a connection would otherwise block for 30 s).
const READY_TIMEOUT: Duration = Duration::from_secs(2);

async fn readyz(State(s): State<OpsState>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, s.store.ready()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not ready: {e}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not ready: no answer within {READY_TIMEOUT:?}\n"),
        )
            .into_response(),
    }
}

async fn metrics_endpoint(State(s): State<OpsState>) -> Response {
    if let Ok(stats) = s.store.queue_stats().await {
        s.metrics.queue(&stats);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

/// Starts the service; returns once it listens.
pub async fn start(settings: ServeSettings) -> anyhow::Result<Running> {
    let engine = Engine::load(&settings.config)
        .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    let secrets = WebhookSecrets::new(
        settings.webhook_tokens.clone(),
        settings.signing_tokens.clone(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    if secrets.is_empty() && !settings.allow_unauthenticated {
        anyhow::bail!(
            "no webhook secret configured: set LABELFLOW_WEBHOOK_SIGNING_TOKEN (whsec_…) or \
             LABELFLOW_WEBHOOK_SECRET, or pass --allow-unauthenticated-webhooks explicitly \
             (only for local testing)"
        );
    }
    if settings.allow_token_only {
        if secrets.has_signing_keys() && secrets.has_tokens() {
            tracing::warn!(
                "unsigned webhook deliveries are accepted on the secret token alone \
                 (--allow-token-only-webhooks); turn this off once every hook signs"
            );
        } else {
            tracing::warn!(
                "--allow-token-only-webhooks changes nothing: it applies only when both a \
                 signing token and a secret token are configured"
            );
        }
    }
    let store = store::connect(&settings.database)
        .await
        .with_context(|| format!("opening the database `{}`", redact_url(&settings.database)))?;
    let metrics = Metrics::new();
    let engine: EngineHandle = Arc::new(RwLock::new(Arc::new(engine)));
    let wake = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();

    let ingest_state = IngestState {
        store: store.clone(),
        config: Arc::new(IngestConfig {
            secrets,
            body_limit: settings.body_limit,
            timestamp_tolerance: settings.timestamp_tolerance,
            allow_unauthenticated: settings.allow_unauthenticated,
            allow_token_only: settings.allow_token_only,
        }),
        wake: wake.clone(),
        clock: settings.clock.clone(),
        metrics: metrics.clone(),
    };
    let ops = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_endpoint))
        .with_state(OpsState {
            store: store.clone(),
            metrics: metrics.clone(),
        });
    let app = ingest::router(ingest_state).merge(ops);
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let s = shutdown.clone();
    let server = tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async move { s.cancelled().await })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    tracing::info!(%addr, "listening for GitLab webhooks on /webhooks/gitlab");

    let admin_addr = match &settings.admin {
        Some(a) => {
            let state = crate::admin::AdminState::new(
                store.clone(),
                engine.clone(),
                settings.clock.clone(),
                wake.clone(),
                settings.gitlab_url.clone(),
                a.token.clone(),
            );
            Some(crate::admin::serve(a, state, shutdown.clone()).await?)
        }
        None => None,
    };

    let worker_id = settings.worker.worker_id.clone();
    let worker = tokio::spawn(run_worker(
        settings.clone(),
        store.clone(),
        engine.clone(),
        metrics.clone(),
        wake,
        shutdown.clone(),
    ));
    Ok(Running {
        addr,
        admin_addr,
        store,
        metrics,
        engine,
        shutdown,
        server,
        worker,
        worker_id,
        concurrency: settings.worker.concurrency,
        clock: settings.clock,
        shutdown_timeout: settings.shutdown_timeout,
    })
}

/// Connects to GitLab (retrying: webhooks are accepted and stored meanwhile), then runs the
/// worker until shutdown.
async fn run_worker(
    settings: ServeSettings,
    store: DynStore,
    engine: EngineHandle,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut delay = Duration::from_millis(200);
    let forge = loop {
        let attempt = GitlabForge::connect(
            &settings.gitlab_url,
            settings.gitlab_token.expose_secret(),
            settings.retry.clone(),
            metrics.clone(),
        );
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = attempt => match r {
                Ok(f) => break f,
                Err(e @ ForgeError::Permanent { .. }) => {
                    tracing::error!(error = %e, "cannot use GitLab; events are kept and will be processed once this is fixed");
                }
                Err(e) => tracing::warn!(error = %e, "GitLab not reachable yet; retrying"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    };
    let bot = crate::worker::current(&engine).bot().to_string();
    if !forge.bot_username().eq_ignore_ascii_case(&bot) {
        tracing::warn!(
            token_user = forge.bot_username(),
            configured = %bot,
            "the GitLab token belongs to a different user than bot.username in the configuration"
        );
    }
    tracing::info!(bot = forge.bot_username(), "connected to GitLab");
    let executor = Executor::new(
        forge,
        store.clone(),
        metrics.clone(),
        settings.clock.clone(),
    );
    let worker = Arc::new(Worker {
        store,
        engine,
        executor,
        metrics,
        clock: settings.clock.clone(),
        settings: settings.worker.clone(),
        wake,
    });
    worker.run(shutdown).await;
}

/// A database URL with any password hidden, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
