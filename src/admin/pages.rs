//! The operator page's pages. maud escapes every value; text that came from GitLab users
//! (titles, labels, reasons quoting them) sits in `<bdi>` so right-to-left characters cannot
//! reorder the page around it. Markdown is never rendered: it shows as typed.

use super::event_view;
use super::layout::{layout, retry_button};
use super::state::AdminState;
use crate::store::{EventFilter, EventRow, EventStatus};
use crate::worker::current;
use crate::worker::record::EventRecordBody;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

const STYLE: &str = include_str!("style.css");

/// How many events a list shows (newest first).
const PAGE_ROWS: i64 = 100;

pub(super) async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

pub(super) async fn home() -> Redirect {
    Redirect::to("/events")
}

fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "operator page: the store failed");
    let page = layout(
        "The database could not be read",
        html! { p { "Try again in a moment; the service log has the details." } },
    );
    (StatusCode::SERVICE_UNAVAILABLE, page).into_response()
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct EventQuery {
    project: Option<String>,
    issue: Option<String>,
    status: Option<String>,
    workflow: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub(super) async fn events(State(s): State<AdminState>, Query(q): Query<EventQuery>) -> Response {
    let filter = EventFilter {
        status: non_empty(&q.status),
        project: non_empty(&q.project),
        issue: non_empty(&q.issue),
        workflow: non_empty(&q.workflow),
    };
    if let Some(st) = &filter.status
        && EventStatus::parse(st).is_none()
    {
        let page = layout(
            "Events",
            html! { p { "Unknown status “" (st) "”: use pending, running, done or parked." } },
        );
        return (StatusCode::BAD_REQUEST, page).into_response();
    }
    let rows = match s.store.list_event_rows(&filter, PAGE_ROWS).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let engine = current(&s.engine);
    let workflows: Vec<&String> = engine.config.workflows.keys().collect();
    layout(
        "Events",
        html! {
            form.filters method="get" action="/events" {
                label { "Project " input name="project" placeholder="group/project" value=[filter.project.as_deref()]; }
                label { "Issue " input name="issue" placeholder="group/project#12" value=[filter.issue.as_deref()]; }
                label { "Status "
                    select name="status" {
                        option value="" { "any" }
                        @for st in ["pending", "running", "done", "parked"] {
                            option value=(st) selected[filter.status.as_deref() == Some(st)] { (st) }
                        }
                    }
                }
                label { "Workflow "
                    select name="workflow" {
                        option value="" { "any" }
                        @for w in &workflows {
                            option value=(w) selected[filter.workflow.as_deref() == Some(w.as_str())] { (w) }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            p.note { "Newest first, at most " (PAGE_ROWS) "." }
            (event_table(&s, &rows))
        },
    )
    .into_response()
}

fn event_table(s: &AdminState, rows: &[EventRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p { "No events." }
        } @else {
            table.events {
                thead { tr { th { "Event" } th { "Received" } th { "Issue" } th { "Status" } th { "What happened" } th { "Actions" } } }
                tbody {
                    @for r in rows {
                        @let body = r.body.as_deref().and_then(|b| serde_json::from_str::<EventRecordBody>(b).ok());
                        tr.{ "status-" (r.event.status.as_str()) } {
                            td { a href={ "/events/" (r.event.id) } { (r.event.id) } }
                            td { (r.event.received_at.format("%Y-%m-%d %H:%M:%S")) }
                            td { (event_view::issue_link(s, r.issue_ref.as_deref().unwrap_or(&r.event.issue_key), body.as_ref())) }
                            td { (r.event.status.as_str()) }
                            td { (event_view::what_happened(&r.event, body.as_ref())) }
                            td { (event_view::action_list(body.as_ref())) }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn event(State(s): State<AdminState>, Path(id): Path<i64>) -> Response {
    let event = match s.store.get_event(id).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            let page = layout(
                "No such event",
                html! { p { "There is no event " (id) "." } },
            );
            return (StatusCode::NOT_FOUND, page).into_response();
        }
        Err(e) => return store_error(e),
    };
    let stored = match s.store.trace_get(id).await {
        Ok(t) => t,
        Err(e) => return store_error(e),
    };
    event_view::page(&s, &event, stored.as_ref()).into_response()
}

#[derive(Deserialize)]
pub(super) struct RetryForm {
    csrf: String,
}

/// The Retry button: the same path as `labelflow events retry`.
pub(super) async fn retry(
    State(s): State<AdminState>,
    Path(id): Path<i64>,
    Form(f): Form<RetryForm>,
) -> Response {
    if !s.access.csrf_ok(&f.csrf) {
        let page = layout(
            "Refused",
            html! { p { "This form is out of date (the service restarted?). Reload the page and try again." } },
        );
        return (StatusCode::FORBIDDEN, page).into_response();
    }
    match s.store.retry_parked(id, s.clock.now()).await {
        Ok(true) => {
            s.wake.notify_waiters();
            Redirect::to(&format!("/events/{id}")).into_response()
        }
        Ok(false) => {
            let page = layout(
                "Nothing to retry",
                html! { p { "Event " a href={ "/events/" (id) } { (id) } " is not parked." } },
            );
            (StatusCode::CONFLICT, page).into_response()
        }
        Err(e) => store_error(e),
    }
}

pub(super) async fn parked(State(s): State<AdminState>) -> Response {
    let filter = EventFilter {
        status: Some("parked".to_string()),
        ..EventFilter::default()
    };
    let rows = match s.store.list_event_rows(&filter, PAGE_ROWS).await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    layout(
        "Parked events",
        html! {
            p.note { "Parked events wait for a person: fix the cause, then retry. A retry finishes what the event started; nothing it did is done twice." }
            @if rows.is_empty() { p { "Nothing is parked." } }
            @for r in &rows {
                @let body = r.body.as_deref().and_then(|b| serde_json::from_str::<EventRecordBody>(b).ok());
                section.parked {
                    h2 { a href={ "/events/" (r.event.id) } { "Event " (r.event.id) } " · " (event_view::issue_link(&s, r.issue_ref.as_deref().unwrap_or(&r.event.issue_key), body.as_ref())) }
                    p { "Reason: " bdi { (r.event.last_error.as_deref().unwrap_or("(none recorded)")) } }
                    (retry_button(&s, r.event.id))
                }
            }
        },
    )
    .into_response()
}

pub(super) async fn followups(State(s): State<AdminState>) -> Response {
    let due = match s.store.list_followups(1000).await {
        Ok(f) => f,
        Err(e) => return store_error(e),
    };
    let sweep = match s.store.last_sweep_run().await {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let pending: Vec<_> = due.iter().filter(|f| !f.fired).collect();
    layout(
        "Follow-ups and sweeps",
        html! {
            h2 { "Follow-ups not yet due" }
            @if pending.is_empty() { p { "None." } }
            @else {
                table { thead { tr { th { "Due" } th { "Issue" } th { "Follow-up" } } }
                    tbody { @for f in &pending {
                        tr { td { (f.due_at.format("%Y-%m-%d %H:%M UTC")) } td { (event_view::issue_link(&s, &f.issue_ref, None)) } td { code { (f.name) } } }
                    } }
                }
            }
            h2 { "Last sweep" }
            (event_view::sweep_summary(sweep.as_ref()))
        },
    )
    .into_response()
}

pub(super) async fn workflows(State(s): State<AdminState>) -> Markup {
    let engine = current(&s.engine);
    layout(
        "Workflows",
        html! {
            @for (name, wf) in &engine.config.workflows {
                section.workflow id={ "workflow-" (name) } {
                    h2 { "Workflow " code { (name) } }
                    @if let Some(d) = &wf.description { p { (d) } }
                    (super::diagram::workflow(&engine, name, wf))
                }
            }
        },
    )
}
