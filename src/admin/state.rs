//! What the operator page's handlers share: the store, the configuration, and who may use it
//! (the token, the session cookie and CSRF tokens, all compared in constant time).

use crate::clock::Clock;
use crate::store::DynStore;
use crate::worker::EngineHandle;
use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

/// What the pages read and the Retry button changes.
#[derive(Clone)]
pub struct AdminState {
    pub store: DynStore,
    pub engine: EngineHandle,
    pub clock: Clock,
    /// Wakes idle workers after a retry.
    pub wake: Arc<Notify>,
    /// GitLab's base URL, for links to issues.
    pub gitlab_url: String,
    pub(super) access: Arc<Access>,
}

impl AdminState {
    pub fn new(
        store: DynStore,
        engine: EngineHandle,
        clock: Clock,
        wake: Arc<Notify>,
        gitlab_url: String,
        token: Option<SecretString>,
    ) -> Self {
        AdminState {
            store,
            engine,
            clock,
            wake,
            gitlab_url: gitlab_url.trim_end_matches('/').to_string(),
            access: Arc::new(Access::new(token)),
        }
    }
}

pub const COOKIE: &str = "labelflow_admin";

pub struct Access {
    pub token: Option<SecretString>,
    /// Per-process key: session cookies and CSRF tokens are derived from it, so a restart
    /// signs everyone out and old forms stop working.
    key: [u8; 32],
}

impl Access {
    pub fn new(token: Option<SecretString>) -> Self {
        Access {
            token,
            key: rand::random(),
        }
    }

    fn derive(&self, purpose: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(purpose.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn session(&self) -> String {
        self.derive("session")
    }

    /// The token forms carry to change something.
    pub fn csrf(&self) -> String {
        self.derive("csrf")
    }

    pub fn csrf_ok(&self, presented: &str) -> bool {
        bool::from(self.csrf().as_bytes().ct_eq(presented.as_bytes()))
    }

    pub fn token_ok(&self, presented: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| bool::from(t.expose_secret().as_bytes().ct_eq(presented.as_bytes())))
    }

    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if self.token.is_none() {
            return true;
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|b| self.token_ok(b)) {
            return true;
        }
        let session = self.session();
        cookies(headers).any(|(name, value)| {
            name == COOKIE && bool::from(session.as_bytes().ct_eq(value.as_bytes()))
        })
    }
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}
