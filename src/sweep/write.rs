//! Writing a workflow's weekly summary issue, once even when two runs finish together: the
//! summary is held like an item (under a key of its own), and a run that finds it held waits
//! for the other to finish, then finds the issue the other created and adds its row to it.

use super::step::Held;
use super::summary::{self, WorkflowSummary};
use super::{Run, SummaryOutcome, Sweeper, day_start};
use crate::actions::marker_id;
use crate::forge::ForgeError;
use std::time::Duration;

/// How long a run waits for another run's summary write.
const SUMMARY_WAIT: Duration = Duration::from_secs(120);
const SUMMARY_POLL: Duration = Duration::from_millis(200);

impl Sweeper {
    pub(super) async fn write_summary(
        &self,
        run: &Run<'_>,
        project: &str,
        labels: &[String],
        sum: &mut WorkflowSummary,
    ) -> Result<SummaryOutcome, ForgeError> {
        if run.opts.dry_run {
            return self.summary_now(run, project, labels, sum).await;
        }
        let key = format!(
            "summary:{project}:{}",
            summary::summary_key(&sum.workflow, run.now)
        );
        let started = std::time::Instant::now();
        loop {
            let held = self
                .with_hold(run, &key, self.summary_now(run, project, labels, sum))
                .await
                .map_err(|e| ForgeError::Transient(e.0))?;
            match held {
                Held::Done(outcome) => return outcome,
                Held::Busy if started.elapsed() < SUMMARY_WAIT => {
                    tokio::time::sleep(SUMMARY_POLL).await;
                }
                Held::Busy => {
                    return Err(ForgeError::Transient(format!(
                        "another run kept the summary busy for more than {}",
                        crate::forge::plain_duration(SUMMARY_WAIT)
                    )));
                }
            }
        }
    }

    /// Finds the week's summary by its marker and creates or updates it.
    async fn summary_now(
        &self,
        run: &Run<'_>,
        project: &str,
        labels: &[String],
        sum: &mut WorkflowSummary,
    ) -> Result<SummaryOutcome, ForgeError> {
        let forge = self.executor.forge();
        let key = summary::summary_key(&sum.workflow, run.now);
        let mid = marker_id(&key);
        let existing = summary::find(forge, project, &mid).await?;
        let mut runs = existing
            .as_ref()
            .and_then(|e| e.description.as_deref())
            .map(summary::parse_run_rows)
            .unwrap_or_default();
        if !sum.run.is_empty() {
            runs.push(summary::run_row(run.now, &sum.run));
        }
        let body = sum.render(day_start(run.now), &runs);
        let title = sum.title(run.now);
        let (outcome, web_url) = match &existing {
            Some(e) if summary::unchanged(e, &body, &mid) => ("unchanged", Some(e.web_url.clone())),
            Some(e) => {
                if !run.opts.dry_run {
                    summary::update(forge, e, &body, &mid).await?;
                }
                ("updated", Some(e.web_url.clone()))
            }
            None if run.opts.dry_run => ("created", None),
            None => {
                let c = summary::create(forge, project, &title, &body, &mid, labels).await?;
                ("created", Some(c.web_url))
            }
        };
        Ok(SummaryOutcome {
            workflow: sum.workflow.clone(),
            outcome: outcome.to_string(),
            title,
            web_url,
            body,
        })
    }
}
