//! What is kept of each processed event besides its status: the planner's decision trace,
//! the actions with links to what they created, and how it ended. `labelflow events show`,
//! `events list --issue` and `@labelflow explain` read it back.

use crate::actions::PlannedAction;
use crate::domain::{Event, IssueState};
use crate::engine::explain::{IssueHistory, RecentDecision};
use crate::engine::trace::{RuleOutcome, Trace};
use crate::engine::{self, Engine};
use crate::metrics::Metrics;
use crate::store::{ClaimedEvent, DynStore, StoreError, StoreResult, StoredTrace};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What one processing attempt saw and planned (filled in as it goes).
#[derive(Debug, Default)]
pub struct Processed {
    /// The (workflow, rule) pairs its plan came from, for per-rule metrics.
    pub rules: Vec<(String, String)>,
    /// `group/project#iid`, once known.
    pub issue_ref: String,
    /// The issue's web address, for links to notes.
    pub issue_url: String,
    pub issue_title: String,
    pub trace: Option<Trace>,
    pub actions: Vec<PlannedAction>,
    /// What the execution found in or wrote to the ledger, by key (read again if missing).
    pub ledger: std::collections::HashMap<String, String>,
}

/// The stored body of an event's trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRecordBody {
    /// The issue's title when the event was processed.
    #[serde(default)]
    pub title: String,
    /// How the event ended, in plain words ("done", "parked: …").
    pub outcome: String,
    #[serde(default)]
    pub trace: Option<Trace>,
    #[serde(default)]
    pub actions: Vec<TakenAction>,
}

/// One planned action and whether it happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TakenAction {
    pub workflow: String,
    pub rule: String,
    /// In plain words ("add ~\"needs-info\"").
    pub what: String,
    pub done: bool,
    /// Done, but before this event (a `once` rule that already ran).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub earlier: bool,
    /// What it created or changed on GitLab, when it has an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl EventRecordBody {
    /// One line for histories: the event, the rules that fired, the actions done.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.trace {
            parts.push(t.event.clone());
            let fired: Vec<String> = t
                .rule_outcomes()
                .filter(|(_, r)| r.outcome == RuleOutcome::Fired)
                .map(|(w, r)| format!("{w}/{}", r.rule))
                .collect();
            if !fired.is_empty() {
                parts.push(format!("fired {}", fired.join(", ")));
            }
        }
        let done: Vec<&str> = self
            .actions
            .iter()
            .filter(|a| a.done && !a.earlier)
            .map(|a| a.what.as_str())
            .collect();
        if done.is_empty() {
            parts.push("nothing done".to_string());
        } else {
            parts.push(format!("did: {}", done.join(", ")));
        }
        if self.outcome != "done" {
            parts.push(self.outcome.clone());
        }
        parts.join("; ")
    }
}

/// Where a ledger result points: a created issue, or a note on the issue.
fn link(result: &str, issue_url: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(result).ok()?;
    if let Some(url) = v["web_url"].as_str() {
        return Some(url.to_string());
    }
    let note = v["note_id"].as_u64()?;
    (!issue_url.is_empty()).then(|| format!("{issue_url}#note_{note}"))
}

/// The actions of `processed` with what the ledger says of each.
pub async fn taken(store: &DynStore, processed: &Processed) -> StoreResult<Vec<TakenAction>> {
    let mut out = Vec::with_capacity(processed.actions.len());
    let ran_before = |pa: &PlannedAction| {
        processed.trace.as_ref().is_some_and(|t| {
            t.rule_outcomes().any(|(w, r)| {
                w == pa.workflow && r.rule == pa.rule && r.outcome == RuleOutcome::OnceDone
            })
        })
    };
    for pa in &processed.actions {
        let result = match processed.ledger.get(&pa.key) {
            Some(r) => Some(r.clone()),
            None => store.ledger_get(&pa.key).await?,
        };
        out.push(TakenAction {
            workflow: pa.workflow.clone(),
            rule: pa.rule.clone(),
            what: pa.action.to_string(),
            done: result.is_some(),
            earlier: ran_before(pa),
            link: result
                .as_deref()
                .and_then(|r| link(r, &processed.issue_url)),
        });
    }
    Ok(out)
}

/// The last `n` decisions on an issue, for `explain`. Events set aside before planning (the
/// bot's own changes, edits no workflow looks at) are not decisions and are left out.
pub async fn recent(
    store: &DynStore,
    issue_ref: &str,
    n: usize,
) -> StoreResult<Vec<RecentDecision>> {
    let traces = store.traces_for_issue(issue_ref, 50).await?;
    let mut out: Vec<RecentDecision> = traces
        .iter()
        .filter_map(|t| {
            let body = serde_json::from_str::<EventRecordBody>(&t.body).ok();
            let set_aside =
                t.outcome == "ignored" && body.as_ref().is_some_and(|b| b.trace.is_none());
            (!set_aside).then(|| recent_decision(t, body))
        })
        .collect();
    let skip = out.len().saturating_sub(n);
    out.drain(..skip);
    Ok(out)
}

fn recent_decision(t: &StoredTrace, body: Option<EventRecordBody>) -> RecentDecision {
    let summary = body
        .map(|b| b.summary())
        .unwrap_or_else(|| "(the stored record could not be read)".to_string());
    RecentDecision {
        event_id: t.event_id,
        at: t.recorded_at,
        outcome: t.outcome.clone(),
        summary,
    }
}

/// Stores what the attempt saw and did (`outcome`: how it ended, in plain words), for
/// `events show`, `events list --issue` and `explain`; counts the rule outcomes. A failure
/// here loses only the explanation.
#[allow(clippy::too_many_arguments)]
pub(super) async fn keep(
    store: &DynStore,
    metrics: &Metrics,
    ev: &ClaimedEvent,
    label: &str,
    outcome: String,
    processed: Processed,
    now: DateTime<Utc>,
) {
    if let Some(trace) = &processed.trace
        && label != "retry"
    {
        for (workflow, r) in trace.rule_outcomes() {
            metrics.rule_outcome(workflow, &r.rule, r.outcome.as_str());
        }
    }
    let actions = match taken(store, &processed).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the ledger for the event's record");
            Vec::new()
        }
    };
    let mut workflows: Vec<&str> = processed.rules.iter().map(|(w, _)| w.as_str()).collect();
    workflows.sort_unstable();
    workflows.dedup();
    let workflows = if workflows.is_empty() {
        String::new()
    } else {
        format!(",{},", workflows.join(","))
    };
    let body = EventRecordBody {
        title: processed.issue_title.clone(),
        outcome,
        trace: processed.trace,
        actions,
    };
    let stored = StoredTrace {
        event_id: ev.id,
        issue_key: ev.issue_key.clone(),
        issue_ref: if processed.issue_ref.is_empty() {
            ev.issue_key.clone()
        } else {
            processed.issue_ref
        },
        outcome: label.to_string(),
        body: serde_json::to_string(&body).unwrap_or_default(),
        recorded_at: now,
        workflows,
    };
    if let Err(e) = store.trace_put(stored).await {
        tracing::warn!(error = %e, "could not store the event's decision trace");
    }
}

/// What `explain` needs from the store, read only when the comment asks for it.
pub(super) async fn history(
    store: &DynStore,
    engine: &Engine,
    event: &Event,
    issue: &IssueState,
) -> Result<IssueHistory, StoreError> {
    if !engine::planner::asks_explain(engine, event) {
        return Ok(IssueHistory::default());
    }
    let followups = store
        .followups_for_issue(&issue.key().to_string())
        .await?
        .into_iter()
        .map(|f| (f.name, f.due_at))
        .collect();
    let issue_ref = format!("{}#{}", issue.project_path, issue.iid);
    Ok(IssueHistory {
        followups,
        recent: recent(store, &issue_ref, 5).await?,
        known: true,
    })
}

/// Marks in the trace the `once` rules whose actions the ledger already holds: they ran
/// for this issue before, and say when and by which event.
pub(super) async fn note_once_done(
    store: &DynStore,
    trace: &mut Trace,
    actions: &[PlannedAction],
    issue_key: &str,
) -> Result<(), StoreError> {
    let once: Vec<(String, String)> = trace
        .rule_outcomes()
        .filter(|(_, r)| r.once && r.outcome == RuleOutcome::Fired)
        .map(|(w, r)| (w.to_string(), r.rule.clone()))
        .collect();
    for (workflow, rule) in once {
        let keys: Vec<&PlannedAction> = actions
            .iter()
            .filter(|a| a.workflow == workflow && a.rule == rule)
            .collect();
        let Some(first) = keys.first() else {
            continue;
        };
        let mut all_done = true;
        for a in &keys {
            if store.ledger_get(&a.key).await?.is_none() {
                all_done = false;
                break;
            }
        }
        if !all_done {
            continue;
        }
        let Some(entry) = store.ledger_entry(issue_key, &first.key).await? else {
            continue;
        };
        let by = entry
            .event_id
            .map(|id| format!(" by event {id}"))
            .unwrap_or_default();
        trace.set_outcome(
            &workflow,
            &rule,
            RuleOutcome::OnceDone,
            format!(
                "it runs once per issue and already ran{by} on {}",
                entry.recorded_at.format("%Y-%m-%d %H:%M UTC")
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_point_at_created_issues_and_notes() {
        assert_eq!(
            link(
                r#"{"web_url":"https://gl/x/-/issues/3","iid":3}"#,
                "https://gl/a/-/issues/1"
            ),
            Some("https://gl/x/-/issues/3".to_string())
        );
        assert_eq!(
            link(r#"{"note_id":42}"#, "https://gl/a/-/issues/1"),
            Some("https://gl/a/-/issues/1#note_42".to_string())
        );
        assert_eq!(link("{}", "https://gl/a/-/issues/1"), None);
    }
}
