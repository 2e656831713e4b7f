//! What a sweep is asked to do and what it reports back.

use super::summary::RunCounts;
use crate::actions::PlannedAction;
use crate::domain::IssueState;
use crate::worker::DrainReport;
use serde::Serialize;

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Plan and report, write nothing (the store is only read).
    pub dry_run: bool,
    /// Ceiling on actions per run (items are never split: an item whose actions do not fit
    /// waits for the next run).
    pub max_actions: usize,
    /// Only these workflows; empty = every workflow with stale policies.
    pub workflows: Vec<String>,
}

impl SweepOptions {
    /// Whether the run takes `workflow`'s steps.
    pub fn includes(&self, workflow: &str) -> bool {
        self.workflows.is_empty() || self.workflows.iter().any(|w| w == workflow)
    }
}

/// What happened to a workflow's summary issue.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryOutcome {
    pub workflow: String,
    /// `created`, `updated` or `unchanged` (dry run: what would happen).
    pub outcome: String,
    pub title: String,
    pub web_url: Option<String>,
    /// The description written (or that would be).
    pub body: String,
}

/// Follow-ups that came due.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FollowupPass {
    /// Moved into the inbox (dry run: due and not yet fired).
    pub due: u64,
    /// Inbox events the worker pass handled (none in a dry run).
    pub worker: DrainReport,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub dry_run: bool,
    pub max_actions: usize,
    /// Day of the run (UTC): part of every action's idempotency key.
    pub day: String,
    pub items_seen: u64,
    pub items_exempt: u64,
    /// Actions taken (dry run: that would be taken).
    pub actions: usize,
    pub counts: RunCounts,
    /// Distinct items with actions the ceiling left for the next run.
    pub remaining_items: usize,
    pub ceiling_reached: bool,
    /// Steps an earlier run started and did not finish, finished by this one (dry run: the
    /// unfinished steps on record).
    pub half_done_finished: u64,
    /// Items another sweep or the service was working on: left to it.
    pub items_busy: Vec<String>,
    pub followups: FollowupPass,
    pub summaries: Vec<SummaryOutcome>,
    /// Problems that did not stop the run and left nothing undone (a count GitLab could not
    /// give, shown as unknown in the summary).
    pub warnings: Vec<String>,
    /// Items that failed (the run went on with the others).
    pub failures: Vec<String>,
    /// Why the run stopped early, if it did (rate limited for too long, GitLab down).
    pub aborted: Option<String>,
}

impl SweepReport {
    /// Whether the run should fail its CI job: something went wrong, not merely "more to do".
    pub fn failed(&self) -> bool {
        self.aborted.is_some() || !self.failures.is_empty()
    }
}

/// One item's planned actions, as the sweep hands them to its caller (printed by the CLI).
pub struct ItemPlan<'a> {
    pub issue: &'a IssueState,
    pub actions: &'a [PlannedAction],
    /// Why, from the planner's decision trace: each rule that fired and its reason.
    pub why: &'a [String],
}
