#![allow(dead_code)] // each test file uses its own subset
//! Building planner inputs for pure planner tests of the shipped configuration: the engine,
//! a fixed "now", issues and the events GitLab would send about them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use labelflow::domain::{Actor, Event, EventKind, IssueKey, IssueState, IssueStatus};
use labelflow::engine::{Engine, Plan, plan};
use std::path::Path;
use std::sync::OnceLock;

pub const OPPORTUNITIES: &str = "co-create/opportunities";
pub const ALLIANCES: &str = "alliances/partners";

pub const CS: &[&str] = &["example-cs-lead", "example-cs-engineer"];

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("labelflow.yml");
        Engine::load(&path).unwrap_or_else(|e| panic!("shipped configuration: {e}"))
    })
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()
}

pub fn issue(project: &str, labels: &[&str], description: &str) -> IssueState {
    IssueState {
        id: 900,
        iid: 7,
        project_id: if project == OPPORTUNITIES { 14 } else { 21 },
        project_path: project.to_string(),
        title: "Faster merge request diffs".to_string(),
        description: description.to_string(),
        state: IssueStatus::Opened,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        assignees: vec![],
        author: "requester".to_string(),
        confidential: false,
        web_url: format!("https://gitlab.example.com/{project}/-/issues/7"),
        created_at: now() - Duration::days(10),
        updated_at: now(),
        status: None,
        work_item_type: "Issue".to_string(),
        custom_fields: Default::default(),
    }
}

pub fn event(issue: &IssueState, actor: &str, kind: EventKind) -> Event {
    Event {
        issue: IssueKey {
            project_id: issue.project_id,
            iid: issue.iid,
        },
        project_path: issue.project_path.clone(),
        actor: Actor {
            id: Some(1),
            username: actor.to_string(),
        },
        kind,
        labels_added: vec![],
        labels_removed: vec![],
        title_changed: false,
        description_changed: false,
        change_id: "2024-06-03T12:00:00Z".to_string(),
        confidential: false,
        occurred_at: Some(now()),
        changes_unknown: false,
        labels_now: None,
        status_change: None,
    }
}

/// Labels changed in the UI (or by quick action): `added` must already be on `issue`.
pub fn labels_changed(issue: &IssueState, actor: &str, added: &[&str], removed: &[&str]) -> Event {
    let mut e = event(issue, actor, EventKind::Updated);
    e.labels_added = added.iter().map(|s| s.to_string()).collect();
    e.labels_removed = removed.iter().map(|s| s.to_string()).collect();
    e
}

/// Created from an issue template whose quick actions applied its labels.
pub fn opened(issue: &IssueState) -> Event {
    let mut e = event(issue, &issue.author, EventKind::Opened);
    e.labels_added = issue.labels.clone();
    e
}

pub fn edited(issue: &IssueState, actor: &str) -> Event {
    let mut e = event(issue, actor, EventKind::Updated);
    e.description_changed = true;
    e
}

pub fn comment(issue: &IssueState, actor: &str, body: &str) -> Event {
    let mut e = event(
        issue,
        actor,
        EventKind::Comment {
            note_id: 5001,
            body: body.to_string(),
            internal: false,
        },
    );
    e.change_id = "note:5001".to_string();
    e
}

pub fn followup(issue: &IssueState, name: &str) -> Event {
    let mut e = event(
        issue,
        "labelflow-scheduler",
        EventKind::Tick {
            followup: Some(name.to_string()),
        },
    );
    e.change_id = format!("followup:{name}");
    e
}

pub fn run(ev: &Event, issue: &IssueState) -> Plan {
    plan(engine(), ev, issue, now()).unwrap_or_else(|e| panic!("plan failed: {e}"))
}
