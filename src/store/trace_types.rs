//! The values decision traces are stored and read as (no queries here: `traces.rs`).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// An event's stored trace (stored again by a later try of the same event).
#[derive(Debug, Clone, Serialize)]
pub struct StoredTrace {
    pub event_id: i64,
    pub issue_key: String,
    /// `group/project#iid`.
    pub issue_ref: String,
    /// done, ignored, retry or parked.
    pub outcome: String,
    /// `,cocreate,mdf,`: the workflows whose rules acted.
    pub workflows: String,
    /// JSON (`crate::worker::record::EventRecordBody`).
    pub body: String,
    pub recorded_at: DateTime<Utc>,
}

/// Which events the operator page lists (each filter optional).
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub status: Option<String>,
    /// `group/project`.
    pub project: Option<String>,
    /// `group/project#iid`.
    pub issue: Option<String>,
    pub workflow: Option<String>,
}

/// How long traces (and finished plans) are kept, and how many traces at most.
#[derive(Debug, Clone, Copy)]
pub struct TraceRetention {
    pub max_age: chrono::Duration,
    pub max_count: i64,
}

impl Default for TraceRetention {
    fn default() -> Self {
        TraceRetention {
            max_age: chrono::Duration::days(30),
            max_count: 100_000,
        }
    }
}

/// What one prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub traces: u64,
    pub plans: u64,
}

/// When an action key was first recorded in the ledger, and by which event's plan (when the
/// plan is still kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub recorded_at: DateTime<Utc>,
    pub event_id: Option<i64>,
}

/// A follow-up of one issue not yet come due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingFollowup {
    /// `workflow/name`.
    pub name: String,
    pub due_at: DateTime<Utc>,
}
