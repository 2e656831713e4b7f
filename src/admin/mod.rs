//! The operator page: what labelflow did and why, parked work with a Retry button, follow-ups
//! due with the last sweep, and each workflow drawn from its configuration. Server-rendered
//! HTML with its stylesheet embedded (nothing loaded from elsewhere, no JavaScript), on its own
//! address (`--admin-listen`, loopback by default).

mod access;
mod diagram;
mod event_view;
mod layout;
mod pages;
mod state;

use anyhow::Context;
use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use secrecy::SecretString;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

pub use state::AdminState;

/// Where the operator page listens and who may use it.
#[derive(Clone)]
pub struct AdminSettings {
    pub listen: SocketAddr,
    /// Required whenever `listen` is not a loopback address.
    pub token: Option<SecretString>,
}

impl AdminSettings {
    /// Refuses an address others can reach without a token.
    pub fn check(&self) -> Result<(), String> {
        if self.token.is_none() && !self.listen.ip().is_loopback() {
            return Err(format!(
                "the operator page would listen on {} without a token: set LABELFLOW_ADMIN_TOKEN \
                 (or --admin-token-file), or keep --admin-listen on a loopback address",
                self.listen
            ));
        }
        Ok(())
    }
}

/// The operator page's routes.
pub fn router(state: AdminState) -> Router {
    let guarded = Router::new()
        .route("/", get(pages::home))
        .route("/events", get(pages::events))
        .route("/events/{id}", get(pages::event))
        .route("/events/{id}/retry", post(pages::retry))
        .route("/parked", get(pages::parked))
        .route("/followups", get(pages::followups))
        .route("/workflows", get(pages::workflows))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::require,
        ));
    Router::new()
        .merge(guarded)
        .route("/login", get(access::login_form).post(access::login))
        .route("/assets/style.css", get(pages::stylesheet))
        .with_state(state)
}

/// Binds the operator page and serves it until `shutdown`.
pub async fn serve(
    settings: &AdminSettings,
    state: AdminState,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    settings.check().map_err(|e| anyhow::anyhow!(e))?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding the operator page to {}", settings.listen))?;
    let addr = listener.local_addr()?;
    let app = router(state);
    tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "operator page server failed");
        }
    });
    tracing::info!(%addr, "operator page listening");
    Ok(addr)
}
