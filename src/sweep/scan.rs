//! Walking one listing. Keyset pages are streamed: the cursor follows the last item read, so
//! items the run moves out of the listing shift nothing. Page-number listings shift (marking an
//! item stale takes it out of page 1, and page 2 then starts one item later), so the run reads
//! the whole listing before acting on it, and lists again after acting until a listing shows no
//! item it has not met: nothing is skipped, whatever moved meanwhile.

use super::listing::{IssueListing, ListQuery, Scope};
use super::pages::{Pages, Paging};
use super::summary::WorkflowSummary;
use super::{Abort, ItemPlan, Run, Sweeper};
use crate::engine::config::StalePolicy;
use crate::forge::ForgeError;
use serde_json::Value;
use std::collections::HashSet;

impl Sweeper {
    /// Lists `q` in `scope` and hands each item to [`Sweeper::item`]. `p` is the stale policy
    /// the listing serves; `None` for a visit listing.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn scan(
        &self,
        run: &mut Run<'_>,
        scope: &Scope,
        q: &ListQuery,
        wf_name: &str,
        p: Option<&StalePolicy>,
        sum: &mut WorkflowSummary,
        on_item: &mut (dyn FnMut(ItemPlan<'_>) + Send),
    ) -> Result<(), Abort> {
        let client = self.executor.forge().client();
        let listing =
            IssueListing::new(scope, q).map_err(|e| Abort(format!("listing {scope}: {e}")))?;
        let failed = |e: ForgeError| {
            Abort(format!(
                "listing `{}` in {scope}: {e}",
                q.labels.join("`, `")
            ))
        };
        let mut pages = Pages::new(client, &listing).map_err(failed)?;
        let first = pages.next_page().await.map_err(failed)?.unwrap_or_default();
        if pages.paging() != Some(Paging::PageNumber) {
            for value in first {
                self.item(run, value, wf_name, p, sum, on_item).await?;
            }
            while let Some(page) = pages.next_page().await.map_err(failed)? {
                for value in page {
                    self.item(run, value, wf_name, p, sum, on_item).await?;
                }
            }
            return Ok(());
        }
        let mut met: HashSet<u64> = HashSet::new();
        let mut batch = first;
        while let Some(page) = pages.next_page().await.map_err(failed)? {
            batch.extend(page);
        }
        let without_id = batch.iter().filter(|v| v["id"].as_u64().is_none()).count();
        if without_id > 0 {
            run.report.failures.push(format!(
                "{without_id} issues GitLab listed in {scope} had no id and were left alone"
            ));
        }
        loop {
            let unmet: Vec<Value> = batch
                .into_iter()
                .filter(|v| v["id"].as_u64().is_some_and(|id| met.insert(id)))
                .collect();
            if unmet.is_empty() {
                return Ok(());
            }
            for value in unmet {
                self.item(run, value, wf_name, p, sum, on_item).await?;
            }
            batch = Vec::new();
            let mut again = Pages::new(client, &listing).map_err(failed)?;
            while let Some(page) = again.next_page().await.map_err(failed)? {
                batch.extend(page);
            }
        }
    }
}
