//! What `explain` works with: the store's part (history) and its findings (standings).

use chrono::{DateTime, Utc};

/// What the store knows about the issue, which the planner cannot read itself.
#[derive(Debug, Clone, Default)]
pub struct IssueHistory {
    /// Follow-ups not yet come due: name (`workflow/name`) and due time.
    pub followups: Vec<(String, DateTime<Utc>)>,
    /// The last decisions on this issue, oldest first.
    pub recent: Vec<RecentDecision>,
    /// False in previews (`labelflow plan`), where the store is not read.
    pub known: bool,
}

/// One earlier decision, as the store recorded it.
#[derive(Debug, Clone)]
pub struct RecentDecision {
    pub event_id: i64,
    pub at: DateTime<Utc>,
    /// done, ignored, retry or parked.
    pub outcome: String,
    /// What happened, in plain words.
    pub summary: String,
}

/// One workflow's view of the issue.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowStanding {
    pub workflow: String,
    /// The stage label the issue carries, if any.
    pub current: Option<String>,
    /// The stages after the current one (all of them when the issue has none).
    pub next: Vec<Readiness>,
    /// Guarded or restricted labels outside the stage scope that the issue lacks.
    pub other: Vec<Readiness>,
}

/// What applying `label` now would meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    pub label: String,
    /// Guard prerequisites that do not hold: applying the label now is reverted naming these.
    pub guard_missing: Vec<String>,
    /// Description fields (and checks) the label's required-fields check would ask for.
    pub fields_missing: Vec<String>,
    /// Who may apply it, when it is restricted.
    pub restricted_to: Option<String>,
}

impl Readiness {
    /// Nothing would revert it (restrictions aside: they depend on who applies it).
    pub fn ready(&self) -> bool {
        self.guard_missing.is_empty()
    }
}
