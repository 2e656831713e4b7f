//! Executing a `cla_check`: look the subjects up, then set exactly one of the three labels and
//! say so once.
//!
//! Comments: `missing` and `unknown` are posted when the issue moves into that state (or when
//! someone asked with `cla recheck`), so sweeps that recheck quietly never repeat them;
//! `signed` is posted only in answer to a recheck (the label says it otherwise). An unknown
//! caused by an unreadable source fails the event with [`ExecError::ClaUnknown`], so the worker
//! retries it with backoff; the unknown comment is recorded under its own ledger key and is
//! not posted again by the retries.

use super::executor::{ExecError, Executor};
use super::{PlannedAction, marker, marker_id};
use crate::cla::check::Checker;
use crate::cla::{Verdict, VerdictStatus};
use crate::domain::IssueState;
use crate::forge::IssueEdit;
use serde_json::json;

pub use labelflow_core::actions::cla::{ClaCheck, ClaComments, cla_placeholder};

impl Executor {
    /// Runs the check; returns the ledger result, or `ClaUnknown` for a retry.
    pub(super) async fn cla_check(
        &self,
        pa: &PlannedAction,
        c: &ClaCheck,
        issue: &IssueState,
        recovering: bool,
    ) -> Result<String, ExecError> {
        let verdict = Checker {
            runtime: &self.cla,
            forge: Some(&self.forge),
            settings: &c.settings,
            fresh: c.recheck,
            now: self.clock.now(),
        }
        .check(&c.subjects)
        .await;
        let (label, template) = match verdict.status {
            VerdictStatus::Signed => (&c.labels.signed, &c.comments.signed),
            VerdictStatus::Missing => (&c.labels.missing, &c.comments.missing),
            VerdictStatus::Unknown => (&c.labels.unknown, &c.comments.unknown),
        };
        let entering = !issue.has_label(label);
        let announce = c.recheck || (entering && verdict.status != VerdictStatus::Signed);
        if announce {
            let body = fill(template, &verdict);
            let sub_key = format!("{}#{}", pa.key, verdict.status.as_str());
            self.comment_once(&sub_key, &body, issue, recovering)
                .await?;
        }
        let remove: Vec<String> = c
            .labels
            .all()
            .into_iter()
            .filter(|l| *l != label.as_str() && issue.has_label(l))
            .map(str::to_string)
            .collect();
        if entering || !remove.is_empty() {
            let edit = IssueEdit {
                add_labels: if entering {
                    vec![label.clone()]
                } else {
                    vec![]
                },
                remove_labels: remove,
                ..IssueEdit::default()
            };
            self.forge
                .edit_issue(issue.project_id, issue.iid, &edit)
                .await?;
        }
        tracing::info!(
            key = %pa.key,
            status = verdict.status.as_str(),
            registry = %verdict.origin,
            "CLA check"
        );
        if verdict.status == VerdictStatus::Unknown && verdict.retryable {
            return Err(ExecError::ClaUnknown(
                verdict
                    .reason
                    .clone()
                    .or_else(|| {
                        verdict
                            .subjects
                            .iter()
                            .flat_map(|s| s.reasons.first())
                            .next()
                            .cloned()
                    })
                    .unwrap_or_else(|| "CLA status unknown".to_string()),
            ));
        }
        Ok(json!({
            "status": verdict.status,
            "agreements": verdict.subjects.iter().filter_map(|s| s.agreement.as_ref().map(|a| a.summary())).collect::<Vec<_>>(),
        })
        .to_string())
    }

    /// Posts `body` under its own ledger key (and marker), at most once.
    async fn comment_once(
        &self,
        key: &str,
        body: &str,
        issue: &IssueState,
        recovering: bool,
    ) -> Result<(), ExecError> {
        if self.store.ledger_get(key).await?.is_some() {
            return Ok(());
        }
        let id = marker_id(key);
        if recovering
            && let Some(note) = self
                .forge
                .find_bot_note(issue.project_id, issue.iid, &id)
                .await?
        {
            self.store
                .ledger_put(
                    key,
                    &issue.key().to_string(),
                    &json!({ "note_id": note, "found": true }).to_string(),
                    self.clock.now(),
                )
                .await?;
            return Ok(());
        }
        let note = self
            .forge
            .create_note(
                issue.project_id,
                issue.iid,
                &format!("{body}\n\n{}", marker(&id)),
            )
            .await?;
        self.store
            .ledger_put(
                key,
                &issue.key().to_string(),
                &json!({ "note_id": note }).to_string(),
                self.clock.now(),
            )
            .await?;
        Ok(())
    }
}

/// Substitutes the lookup's results into a rendered comment.
fn fill(template: &str, verdict: &Verdict) -> String {
    template
        .replace(&cla_placeholder("details"), &verdict.details())
        .replace(&cla_placeholder("agreements"), &verdict.agreements())
}
