//! Who may use the operator page: with a token configured, a request carries it as
//! `Authorization: Bearer …`, or the session cookie the login form sets. Forms that change
//! something carry a CSRF token. Every comparison is constant-time; tokens are never logged.

use super::layout::layout;
use super::state::AdminState;
use axum::Form;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

/// Lets a request through only with the token or the session cookie.
pub(super) async fn require(State(s): State<AdminState>, req: Request, next: Next) -> Response {
    if s.access.allows(req.headers()) {
        return next.run(req).await;
    }
    let page = layout(
        "Sign in needed",
        html! {
            p { "This page needs the operator token. " a href="/login" { "Sign in" } "." }
        },
    );
    (StatusCode::UNAUTHORIZED, page).into_response()
}

pub(super) async fn login_form() -> maud::Markup {
    layout(
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
        let page = layout(
            "Sign in",
            html! { p { "That token is not the operator token. " a href="/login" { "Try again" } "." } },
        );
        return (StatusCode::UNAUTHORIZED, page).into_response();
    }
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict",
        super::state::COOKIE,
        s.access.session()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/events")).into_response()
}
