//! Visit listings: open items carrying a label (`sweep_visits.labels`), handed to the planner
//! as a `Tick` on every run whatever their idle time, so `on: tick` rules can act on them —
//! the shipped Co-Create workflow rechecks `cla::missing` and `cla::unknown` this way.
//!
//! Stale policies only list items idle long enough for a step; a recheck must not wait for an
//! item to go quiet. A visit takes the item's non-stale actions only (the policies' own
//! listings take the stale steps), under the same ceiling, ledger and idempotency keys: an item
//! both listings meet is acted on once.

use super::listing::ListQuery;
use super::summary::WorkflowSummary;
use super::{Abort, ItemPlan, Run, Sweeper};
use crate::engine::config::{SweepVisits, Workflow};

impl Sweeper {
    /// Streams each visit label's open items (oldest update first) through the planner.
    pub(super) async fn visits(
        &self,
        run: &mut Run<'_>,
        wf_name: &str,
        wf: &Workflow,
        v: &SweepVisits,
        sum: &mut WorkflowSummary,
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> Result<(), Abort> {
        let scopes = self.scopes_of(wf, &v.projects, &v.groups);
        // GitLab's `labels=` means all of them: one listing per label.
        for label in &v.labels {
            let q = ListQuery {
                labels: vec![label.value.clone()],
                ..ListQuery::default()
            };
            for scope in &scopes {
                self.scan(run, scope, &q, wf_name, None, sum, on_item)
                    .await?;
            }
        }
        Ok(())
    }
}
