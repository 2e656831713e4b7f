//! Who may use the operator page: with a token configured, a request carries it as
//! `Authorization: Bearer …`, or the session cookie the login form sets. Forms that change
//! something carry a CSRF token. Every comparison is constant-time; tokens are never logged.

use super::AdminState;
use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use maud::html;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const COOKIE: &str = "labelflow_admin";

pub(super) struct Access {
    token: Option<SecretString>,
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

    fn session(&self) -> String {
        self.derive("session")
    }

    /// The token forms carry to change something.
    pub fn csrf(&self) -> String {
        self.derive("csrf")
    }

    pub fn csrf_ok(&self, presented: &str) -> bool {
        bool::from(self.csrf().as_bytes().ct_eq(presented.as_bytes()))
    }

    fn token_ok(&self, presented: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| bool::from(t.expose_secret().as_bytes().ct_eq(presented.as_bytes())))
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
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

/// Lets a request through only with the token or the session cookie.
pub(super) async fn require(State(s): State<AdminState>, req: Request, next: Next) -> Response {
    if s.access.allows(req.headers()) {
        return next.run(req).await;
    }
    let page = super::pages::layout(
        "Sign in needed",
        html! {
            p { "This page needs the operator token. " a href="/login" { "Sign in" } "." }
        },
    );
    (StatusCode::UNAUTHORIZED, page).into_response()
}

pub(super) async fn login_form() -> maud::Markup {
    super::pages::layout(
        "Sign in",
        html! {
            form method="post" action="/login" {
                label for="token" { "Operator token" }
                input #token type="password" name="token" autocomplete="current-password";
                button type="submit" { "Sign in" }
            }
        },
    )
}

#[derive(serde::Deserialize)]
pub(super) struct LoginForm {
    token: String,
}

pub(super) async fn login(State(s): State<AdminState>, Form(f): Form<LoginForm>) -> Response {
    if s.access.token.is_none() {
        return Redirect::to("/events").into_response();
    }
    if !s.access.token_ok(&f.token) {
        let page = super::pages::layout(
            "Sign in",
            html! { p { "That token is not the operator token. " a href="/login" { "Try again" } "." } },
        );
        return (StatusCode::UNAUTHORIZED, page).into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        s.access.session()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/events")).into_response()
}
