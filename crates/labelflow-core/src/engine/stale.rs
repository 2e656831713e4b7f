//! Stale policies, the pure part: which step an item is due for on a sweep tick (nudge, mark
//! stale, close), and which sweep labels a human's activity removes on the event path.
//!
//! State is only what GitLab shows: the stage label, the policy's nudge and stale labels, and
//! the issue's `updated_at`. Every step the sweep takes writes to the issue, which moves
//! `updated_at`, so "days since `updated_at`" on a nudged item is "days since the nudge with
//! nothing else happening" — the bot's own steps anchor the clock instead of resetting it.
//! Human activity (a comment, a label change, an edit, a reopen) removes the sweep labels on the
//! event path, so the next idle period starts over with a fresh nudge.

use super::compiled::Engine;
use super::conditions::Facts;
use super::config::{StalePolicy, Workflow};
use super::context::{self, Extra};
use super::load::render_error;
use super::planner::PlanError;
use crate::actions::Action;
use crate::domain::{Event, EventKind, IssueState, IssueStatus};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;

pub const NUDGE_TEMPLATE: &str = "builtin/stale_nudge.md.hbs";
pub const MARKED_TEMPLATE: &str = "builtin/stale_marked.md.hbs";
pub const CLOSED_TEMPLATE: &str = "builtin/stale_closed.md.hbs";

/// The label marking a nudged item: the policy's, else `<workflow>-sweep::nudged`.
pub fn nudge_label(workflow: &str, p: &StalePolicy) -> String {
    p.nudge_label
        .as_ref()
        .map(|l| l.value.clone())
        .unwrap_or_else(|| format!("{workflow}-sweep::nudged"))
}

/// The label marking a stale item: the policy's, else `<workflow>-sweep::stale`. Not
/// `<workflow>::stale`: stage labels usually live in the `<workflow>::` scope, and GitLab would
/// drop the stage label when a label of the same scope is added.
pub fn stale_label(workflow: &str, p: &StalePolicy) -> String {
    p.stale_label
        .as_ref()
        .map(|l| l.value.clone())
        .unwrap_or_else(|| format!("{workflow}-sweep::stale"))
}

/// The step a sweep takes on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleStep {
    Nudge,
    MarkStale,
    Close,
}

impl StaleStep {
    pub fn name(self) -> &'static str {
        match self {
            StaleStep::Nudge => "nudge",
            StaleStep::MarkStale => "mark",
            StaleStep::Close => "close",
        }
    }
}

/// Whole days since the issue last changed (never negative).
pub fn idle_days(issue: &IssueState, now: DateTime<Utc>) -> i64 {
    (now - issue.updated_at).num_days().max(0)
}

/// Exempt by label or confidentiality (milestones are checked by the sweep, which sees them).
pub fn exempt_by_issue(p: &StalePolicy, issue: &IssueState) -> bool {
    (p.exempt.confidential && issue.confidential)
        || p.exempt.labels.iter().any(|l| issue.has_label(&l.value))
}

/// Exempt by milestone (`None`: the item has no milestone).
pub fn exempt_by_milestone(p: &StalePolicy, milestone: Option<&str>) -> bool {
    match milestone {
        None => false,
        Some(m) => p.exempt.any_milestone || p.exempt.milestones.iter().any(|x| x.value == m),
    }
}

/// The step `issue` is due for under policy `p` at `now`, if any.
pub fn due_step(
    workflow: &str,
    p: &StalePolicy,
    issue: &IssueState,
    now: DateTime<Utc>,
) -> Option<StaleStep> {
    if issue.state != IssueStatus::Opened
        || !issue.has_label(&p.stage.value)
        || exempt_by_issue(p, issue)
    {
        return None;
    }
    let idle = idle_days(issue, now);
    if issue.has_label(&stale_label(workflow, p)) {
        let close = i64::from(p.close_after_days?);
        (idle >= close).then_some(StaleStep::Close)
    } else if issue.has_label(&nudge_label(workflow, p)) {
        (idle >= i64::from(p.grace_days)).then_some(StaleStep::MarkStale)
    } else {
        (idle >= i64::from(p.idle_days)).then_some(StaleStep::Nudge)
    }
}

/// An action a stale step plans: rule name (part of the idempotency key), index, action.
pub type StaleAction = (String, usize, Action);

/// Rule name of a policy's step, as it appears in idempotency keys and metrics.
pub fn rule_name(p: &StalePolicy, step: &str) -> String {
    format!("stale:{}:{step}", p.stage.value)
}

/// The actions of the steps `issue` is due for on a sweep tick, over every policy of the
/// workflow (a policy applies only while the issue carries its stage label).
pub fn tick_actions(
    engine: &Engine,
    wf_name: &str,
    wf: &Workflow,
    facts: &Facts,
    now: DateTime<Utc>,
) -> Result<Vec<StaleAction>, PlanError> {
    let issue = facts.issue;
    let mut out = Vec::new();
    for p in &wf.stale {
        let Some(step) = due_step(wf_name, p, issue, now) else {
            continue;
        };
        let rule = rule_name(p, step.name());
        let nudge = nudge_label(wf_name, p);
        let stale = stale_label(wf_name, p);
        let template = match step {
            StaleStep::Nudge => NUDGE_TEMPLATE,
            StaleStep::MarkStale => MARKED_TEMPLATE,
            StaleStep::Close => CLOSED_TEMPLATE,
        };
        let body = render(engine, wf_name, &rule, template, facts, p, now)?;
        out.push((rule.clone(), 0, Action::Comment { body }));
        match step {
            StaleStep::Nudge => out.push((
                rule,
                1,
                Action::AddLabels {
                    labels: vec![nudge],
                },
            )),
            StaleStep::MarkStale => {
                out.push((
                    rule.clone(),
                    1,
                    Action::AddLabels {
                        labels: vec![stale],
                    },
                ));
                out.push((
                    rule,
                    2,
                    Action::RemoveLabels {
                        labels: vec![nudge],
                    },
                ));
            }
            StaleStep::Close => out.push((
                rule,
                1,
                Action::Close {
                    target: crate::actions::Target::This,
                },
            )),
        }
    }
    Ok(out)
}

/// Renders one of the stale templates with the policy's facts under `stale.*`.
fn render(
    engine: &Engine,
    wf_name: &str,
    rule: &str,
    template: &str,
    facts: &Facts,
    p: &StalePolicy,
    now: DateTime<Utc>,
) -> Result<String, PlanError> {
    let vars = BTreeMap::new();
    let extra = Extra {
        workflow: wf_name,
        rule,
        bot: engine.bot(),
        now,
        known_fields: &engine.known_fields[wf_name],
        vars: &vars,
        command: None,
        created: &[],
        missing: &[],
        label: None,
    };
    let mut ctx = context::build(facts, &extra);
    ctx["stale"] = template_facts(engine, wf_name, p, facts.issue, now);
    engine
        .renderer
        .render(template, &ctx)
        .map_err(|e| PlanError {
            workflow: wf_name.to_string(),
            rule: rule.to_string(),
            template: template.to_string(),
            message: render_error(&e),
        })
}

/// What stale templates see as `stale.*`.
pub fn template_facts(
    engine: &Engine,
    wf_name: &str,
    p: &StalePolicy,
    issue: &IssueState,
    now: DateTime<Utc>,
) -> serde_json::Value {
    let owners = engine
        .config
        .directory
        .roles
        .get(&p.owner_role.value)
        .cloned()
        .unwrap_or_default();
    json!({
        "stage": p.stage.value,
        "owner_role": p.owner_role.value,
        "owners": owners,
        "idle_days": idle_days(issue, now),
        "nudge_after_days": p.idle_days,
        "grace_days": p.grace_days,
        "close_after_days": p.close_after_days.unwrap_or(0),
        "nudge_label": nudge_label(wf_name, p),
        "stale_label": stale_label(wf_name, p),
    })
}

/// Whether the event is a person doing something on the issue: a comment, a label change, an
/// edit of the description or title, a reopen. (The planner already drops the bot's own events.)
fn is_human_activity(event: &Event) -> bool {
    match &event.kind {
        EventKind::Comment { .. } | EventKind::Reopened => true,
        EventKind::Updated => {
            !event.labels_added.is_empty()
                || !event.labels_removed.is_empty()
                || event.description_changed
                || event.title_changed
        }
        EventKind::Opened | EventKind::Closed | EventKind::Tick { .. } => false,
    }
}

/// On the event path: a person's activity removes the workflow's nudge and stale labels, so
/// the item's idle clock starts over. A change that itself adds one of those labels (someone
/// marking an item stale by hand) is left alone.
pub fn unmark_actions(
    wf_name: &str,
    wf: &Workflow,
    event: &Event,
    issue: &IssueState,
) -> Vec<StaleAction> {
    if wf.stale.is_empty() || !is_human_activity(event) {
        return Vec::new();
    }
    let mut sweep_labels: Vec<String> = Vec::new();
    for p in &wf.stale {
        for l in [nudge_label(wf_name, p), stale_label(wf_name, p)] {
            if !sweep_labels.contains(&l) {
                sweep_labels.push(l);
            }
        }
    }
    if event.labels_added.iter().any(|l| sweep_labels.contains(l)) {
        return Vec::new();
    }
    let present: Vec<String> = sweep_labels
        .into_iter()
        .filter(|l| issue.has_label(l))
        .collect();
    if present.is_empty() {
        return Vec::new();
    }
    vec![(
        "stale:activity".to_string(),
        0,
        Action::RemoveLabels { labels: present },
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, IssueKey};
    use chrono::Duration;
    use std::path::Path;

    const CONFIG: &str = r#"
bot: { username: labelflow }
projects: { opps: co-create/opportunities }
directory:
  roles:
    contributor-success: [cs-lead, cs-engineer]
workflows:
  cocreate:
    projects: [opps]
    stale:
      - stage: "cocreate::triage"
        owner_role: contributor-success
        idle_days: 14
        grace_days: 7
        close_after_days: 30
        exempt:
          labels: ["priority::1"]
          milestones: ["FY25"]
          confidential: true
"#;

    fn engine() -> Engine {
        match Engine::from_yaml(CONFIG, Path::new("/nonexistent/labelflow.yml")) {
            Ok(e) => e,
            Err(e) => panic!("config loads: {e}"),
        }
    }

    fn issue(labels: &[&str], idle: i64, now: DateTime<Utc>) -> IssueState {
        IssueState {
            id: 100,
            iid: 7,
            project_id: 3,
            project_path: "co-create/opportunities".into(),
            title: "Acme".into(),
            description: String::new(),
            state: IssueStatus::Opened,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            assignees: vec![],
            author: "alice".into(),
            confidential: false,
            web_url: "http://gitlab/co-create/opportunities/-/issues/7".into(),
            created_at: now - Duration::days(100),
            updated_at: now - Duration::days(idle),
            status: None,
            work_item_type: "Issue".to_string(),
            custom_fields: Default::default(),
        }
    }

    fn event(kind: EventKind, added: &[&str], removed: &[&str]) -> Event {
        Event {
            issue: IssueKey {
                project_id: 3,
                iid: 7,
            },
            project_path: "co-create/opportunities".into(),
            actor: Actor {
                id: Some(9),
                username: "alice".into(),
            },
            kind,
            labels_added: added.iter().map(|s| s.to_string()).collect(),
            labels_removed: removed.iter().map(|s| s.to_string()).collect(),
            title_changed: false,
            description_changed: false,
            change_id: "c1".into(),
            confidential: false,
            occurred_at: None,
            changes_unknown: false,
            labels_now: None,
            status_change: None,
        }
    }

    #[test]
    fn steps_follow_labels_and_idle_days() {
        let e = engine();
        let p = &e.config.workflows["cocreate"].stale[0];
        let now = Utc::now();
        let t = "cocreate::triage";
        let n = "cocreate-sweep::nudged";
        let s = "cocreate-sweep::stale";
        assert_eq!(due_step("cocreate", p, &issue(&[t], 13, now), now), None);
        assert_eq!(
            due_step("cocreate", p, &issue(&[t], 14, now), now),
            Some(StaleStep::Nudge)
        );
        assert_eq!(due_step("cocreate", p, &issue(&[t, n], 6, now), now), None);
        assert_eq!(
            due_step("cocreate", p, &issue(&[t, n], 7, now), now),
            Some(StaleStep::MarkStale)
        );
        assert_eq!(due_step("cocreate", p, &issue(&[t, s], 29, now), now), None);
        assert_eq!(
            due_step("cocreate", p, &issue(&[t, s], 30, now), now),
            Some(StaleStep::Close)
        );
        // Not at the stage, exempt, confidential or closed: nothing.
        assert_eq!(due_step("cocreate", p, &issue(&["x"], 99, now), now), None);
        assert_eq!(
            due_step("cocreate", p, &issue(&[t, "priority::1"], 99, now), now),
            None
        );
        let mut conf = issue(&[t], 99, now);
        conf.confidential = true;
        assert_eq!(due_step("cocreate", p, &conf, now), None);
        let mut closed = issue(&[t], 99, now);
        closed.state = IssueStatus::Closed;
        assert_eq!(due_step("cocreate", p, &closed, now), None);
        assert!(exempt_by_milestone(p, Some("FY25")));
        assert!(!exempt_by_milestone(p, Some("FY26")));
        assert!(!exempt_by_milestone(p, None));
    }

    #[test]
    fn human_activity_removes_sweep_labels_but_not_a_manual_mark() {
        let e = engine();
        let wf = &e.config.workflows["cocreate"];
        let now = Utc::now();
        let i = issue(&["cocreate::triage", "cocreate-sweep::stale"], 3, now);
        let comment = event(
            EventKind::Comment {
                note_id: 1,
                body: "still on it".into(),
                internal: false,
            },
            &[],
            &[],
        );
        let acts = unmark_actions("cocreate", wf, &comment, &i);
        assert_eq!(
            acts,
            vec![(
                "stale:activity".to_string(),
                0,
                Action::RemoveLabels {
                    labels: vec!["cocreate-sweep::stale".to_string()]
                }
            )]
        );
        let manual = event(EventKind::Updated, &["cocreate-sweep::stale"], &[]);
        assert!(unmark_actions("cocreate", wf, &manual, &i).is_empty());
        let closed = event(EventKind::Closed, &[], &[]);
        assert!(unmark_actions("cocreate", wf, &closed, &i).is_empty());
        let mut edit = event(EventKind::Updated, &[], &[]);
        assert!(unmark_actions("cocreate", wf, &edit, &i).is_empty());
        edit.description_changed = true;
        assert_eq!(unmark_actions("cocreate", wf, &edit, &i).len(), 1);
    }
}
