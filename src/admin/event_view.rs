//! One event as the operator page shows it: what happened, the actions with links, and the
//! decision trace; and the last sweep's summary.

use super::layout::{layout, retry_button};
use super::state::AdminState;
use crate::engine::trace::{CheckOutcome, RuleOutcome, Trace};
use crate::store::{EventRecord, EventStatus, StoredTrace};
use crate::worker::record::EventRecordBody;
use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// The issue as `group/project#iid`, linked to GitLab, with its title.
pub(super) fn issue_link(
    s: &AdminState,
    issue_ref: &str,
    body: Option<&EventRecordBody>,
) -> Markup {
    let url = issue_ref
        .split_once('#')
        .filter(|(project, _)| project.contains('/'))
        .map(|(project, iid)| format!("{}/{project}/-/issues/{iid}", s.gitlab_url));
    html! {
        @match url {
            Some(u) => a href=(u) { (issue_ref) },
            None => (issue_ref),
        }
        @if let Some(title) = body.map(|b| b.title.as_str()).filter(|t| !t.is_empty()) {
            br; span.title { bdi { (title) } }
        }
    }
}

pub(super) fn what_happened(e: &EventRecord, body: Option<&EventRecordBody>) -> Markup {
    html! {
        @match body {
            Some(b) => {
                @if let Some(t) = &b.trace { bdi { (t.event) } br; }
                span.outcome { (b.outcome) }
            }
            None => {
                (e.event_kind)
                @if let Some(err) = &e.last_error { br; span.outcome { bdi { (err) } } }
            }
        }
    }
}

pub(super) fn action_list(body: Option<&EventRecordBody>) -> Markup {
    html! {
        @if let Some(b) = body.filter(|b| !b.actions.is_empty()) {
            ul.actions {
                @for a in &b.actions {
                    li {
                        bdi { (a.what) }
                        " "
                        span.state { @if a.earlier { "(done earlier)" } @else if a.done { "(done)" } @else { "(not done)" } }
                        @if let Some(l) = &a.link { " " a href=(l) { "open" } }
                    }
                }
            }
        }
    }
}

pub(super) fn page(s: &AdminState, e: &EventRecord, stored: Option<&StoredTrace>) -> Markup {
    let body = stored.and_then(|t| serde_json::from_str::<EventRecordBody>(&t.body).ok());
    let issue = stored.map_or(e.issue_key.as_str(), |t| t.issue_ref.as_str());
    layout(
        &format!("Event {}", e.id),
        html! {
            dl.facts {
                dt { "Issue" } dd { (issue_link(s, issue, body.as_ref())) }
                dt { "Status" } dd { (e.status.as_str()) }
                dt { "Received" } dd { (e.received_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                dt { "Tries" } dd { (e.attempts) }
                dt { "Delivery" } dd { code { (e.delivery_id) } }
                @if let Some(err) = &e.last_error { dt { "Last error" } dd { bdi { (err) } } }
                @if let Some(d) = &e.detail { dt { "Note" } dd { bdi { (d) } } }
            }
            @if e.status == EventStatus::Parked { (retry_button(s, e.id)) }
            @match &body {
                None => p { "No decision trace is kept for this event (not processed yet, or pruned past its retention)." },
                Some(b) => {
                    h2 { "Outcome" }
                    p { (b.outcome) }
                    h2 { "Actions" }
                    @if b.actions.is_empty() { p { "None." } } @else { (action_list(Some(b))) }
                    @if let Some(t) = &b.trace { h2 { "Why" } (trace(t)) }
                }
            }
        },
    )
}

fn trace(t: &Trace) -> Markup {
    html! {
        p { "Event: " bdi { (t.event) } }
        @for n in &t.notes { p.note { bdi { (n) } } }
        @for w in &t.workflows {
            section.trace {
                h3 { "Workflow " code { (w.workflow) } }
                @if !w.applies {
                    p { "Does not apply: " (w.why_not.as_deref().unwrap_or("")) }
                } @else {
                    ul {
                        @for c in &w.checks {
                            li.{ "check-" (check_class(c.outcome)) } {
                                (check_word(c.check)) " " code { (c.label) } ": " bdi { (c.detail) }
                            }
                        }
                        @for r in w.rules.iter().filter(|r| r.outcome != RuleOutcome::NotTriggered) {
                            li.{ "rule-" (r.outcome.as_str()) } {
                                "Rule " code { (r.rule) } ": " (r.outcome.to_string()) ": " bdi { (r.reason) }
                                @if !r.conditions.is_empty() {
                                    ul { @for c in &r.conditions {
                                        li { code { (c.condition) } " is " (if c.holds { "true" } else { "false" }) ": " bdi { (c.seen) } }
                                    } }
                                }
                            }
                        }
                    }
                    @let idle: Vec<&str> = w.rules.iter().filter(|r| r.outcome == RuleOutcome::NotTriggered).map(|r| r.rule.as_str()).collect();
                    @if !idle.is_empty() { p.note { "Not triggered by this event: " (idle.join(", ")) } }
                }
            }
        }
    }
}

fn check_word(k: crate::engine::trace::CheckKind) -> &'static str {
    use crate::engine::trace::CheckKind;
    match k {
        CheckKind::RestrictedLabel => "Restricted label",
        CheckKind::Guard => "Guard on",
        CheckKind::RequiredFields => "Required fields for",
    }
}

fn check_class(o: CheckOutcome) -> &'static str {
    match o {
        CheckOutcome::Passed | CheckOutcome::FieldsComplete => "passed",
        CheckOutcome::Reverted | CheckOutcome::FieldsMissing => "held",
    }
}

pub(super) fn sweep_summary(run: Option<&(DateTime<Utc>, String)>) -> Markup {
    let Some((at, report)) = run else {
        return html! { p { "No sweep has run against this database yet." } };
    };
    let r: serde_json::Value = serde_json::from_str(report).unwrap_or_default();
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    let c = |k: &str| r["counts"][k].as_u64().unwrap_or(0);
    html! {
        p { "Finished " (at.format("%Y-%m-%d %H:%M UTC")) "." }
        ul {
            li { (n("items_seen")) " items seen, " (n("items_exempt")) " exempt by milestone" }
            li { (n("actions")) " actions: " (c("nudged")) " nudged, " (c("marked_stale")) " marked stale, " (c("closed")) " closed" }
            @if r["ceiling_reached"].as_bool() == Some(true) { li { "The action ceiling was reached; " (n("remaining_items")) " items left for the next run" } }
            @if let Some(why) = r["aborted"].as_str() { li { "Stopped early: " bdi { (why) } } }
            @for f in r["failures"].as_array().into_iter().flatten().filter_map(|f| f.as_str()) { li { "Failed: " bdi { (f) } } }
        }
    }
}
