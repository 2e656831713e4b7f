//! What the planner decided for the step that went wrong: each event of the step planned
//! again, offline, the way `labelflow plan` does, with the planner's decision trace.

use crate::domain::{Actor, Event, EventKind, IssueState};
use crate::engine::{self, Engine};
use crate::hooks;
use chrono::{DateTime, Utc};

/// An event the step caused, as the service received it.
pub enum StepEvent<'a> {
    /// A webhook delivery: its `X-Gitlab-Event` header and body.
    Hook { event: &'a str, body: &'a str },
    /// A sweep visiting the issue, or a follow-up coming due (`Some(name)`).
    Tick {
        issue: &'a IssueState,
        followup: Option<String>,
    },
}

/// Lines explaining what the planner made of the step's events (the bot's own changes left
/// out), at `now`.
pub fn step_explanation(
    engine: &Engine,
    events: &[StepEvent<'_>],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = Vec::new();
    for ev in events {
        let (event, issue) = match ev {
            StepEvent::Hook { event, body } => {
                let Ok(Some(hook)) = hooks::parse(Some(event), body.as_bytes()) else {
                    continue;
                };
                let e = hooks::normalise(&hook);
                if e.actor.username.eq_ignore_ascii_case(engine.bot()) {
                    continue;
                }
                match hooks::issue_from_payload(body.as_bytes(), &e) {
                    Ok(i) => (e, i),
                    Err(_) => continue,
                }
            }
            StepEvent::Tick { issue, followup } => {
                (tick_event(issue, followup.clone(), now), (*issue).clone())
            }
        };
        out.push(describe(&event));
        match engine::plan(engine, &event, &issue, now) {
            Ok(plan) => {
                if plan.actions.is_empty() {
                    out.push("  planned: no actions".into());
                }
                for a in &plan.actions {
                    out.push(format!(
                        "  planned: {} (rule {}/{})",
                        a.action.kind(),
                        a.workflow,
                        a.rule
                    ));
                }
                // The decision trace: each workflow, check and rule with its outcome.
                out.push("  why:".into());
                out.extend(plan.trace.to_text().lines().map(|l| format!("    {l}")));
            }
            Err(e) => out.push(format!("  the planner failed: {e}")),
        }
    }
    out
}

fn describe(e: &Event) -> String {
    let mut s = match &e.kind {
        EventKind::Tick {
            followup: Some(name),
        } => format!("follow-up `{name}` came due"),
        EventKind::Tick { followup: None } => "a sweep visited the issue".to_string(),
        kind => format!("{kind} by @{}", e.actor.username),
    };
    if !e.labels_added.is_empty() {
        s.push_str(&format!(
            "; labels added: {}",
            crate::domain::label_list(&e.labels_added)
        ));
    }
    if !e.labels_removed.is_empty() {
        s.push_str(&format!(
            "; labels removed: {}",
            crate::domain::label_list(&e.labels_removed)
        ));
    }
    s
}

/// The event a sweep visit (`followup: None`) or a due follow-up is planned as; the same
/// shape the sweep and the worker give them.
pub fn tick_event(issue: &IssueState, followup: Option<String>, now: DateTime<Utc>) -> Event {
    match followup {
        None => crate::sweep::tick_event(issue, &now.format("%Y-%m-%d").to_string(), now),
        Some(name) => Event {
            issue: issue.key(),
            project_path: issue.project_path.clone(),
            actor: Actor {
                id: None,
                username: "labelflow-scheduler".to_string(),
            },
            change_id: format!("followup:{name}"),
            kind: EventKind::Tick {
                followup: Some(name),
            },
            labels_added: vec![],
            labels_removed: vec![],
            title_changed: false,
            description_changed: false,
            confidential: issue.confidential,
            occurred_at: Some(now),
            changes_unknown: false,
            labels_now: None,
            status_change: None,
        },
    }
}

/// The follow-ups rules of `engine` wait for, as the worker names them
/// (`workflow/name`).
pub fn followup_names(engine: &Engine) -> Vec<String> {
    let mut names: Vec<String> = engine
        .config
        .workflows
        .iter()
        .flat_map(|(wf_name, wf)| {
            wf.rules.iter().filter_map(move |r| match &r.on {
                crate::engine::config::Trigger::Followup(n) => Some(format!("{wf_name}/{n}")),
                _ => None,
            })
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The follow-up `name` stands for: `workflow/name` as given, or a bare name one workflow
/// uses. `Err` says why not, in words.
pub fn resolve_followup(engine: &Engine, name: &str) -> Result<String, String> {
    let known = followup_names(engine);
    if known.iter().any(|k| k == name) {
        return Ok(name.to_string());
    }
    let matching: Vec<&String> = known
        .iter()
        .filter(|k| k.rsplit_once('/').is_some_and(|(_, n)| n == name))
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "no rule waits for a follow-up named `{name}` (the configuration's follow-ups: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )),
        many => Err(format!(
            "`{name}` is a follow-up of several workflows: name one of {}",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
