//! Performs planned actions exactly once.
//!
//! Three layers keep "nothing twice": the action ledger (idempotency key → result) skips what
//! was done; everything the bot creates carries a hidden marker (`<!-- labelflow:ID -->`) and,
//! when an earlier attempt may have created it without recording it (a crash, a timed-out POST),
//! is looked up before being created again; and label / state edits are idempotent in GitLab.

use super::plan_once::{Decision, PlanRun};
use super::{Action, EXPLAIN_MARKER_ID, PlannedAction, Target, created_placeholder, marker};
use crate::clock::Clock;
use crate::domain::IssueState;
use crate::forge::{CreatedIssue, ForgeError, GitlabForge, IssueEdit};
use crate::metrics::Metrics;
use crate::store::{DynStore, FollowupPayload, NewFollowup, NewPlan, StoreError};
use chrono::Duration;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Why execution stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Forge(#[from] ForgeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The loop guard tripped: too many actions on this issue in the window.
    #[error(
        "loop guard: {count} actions on issue {issue} in the last {window_minutes} minutes (limit {max}); \
         parked so a rule loop cannot spam the issue — check the rules, then `labelflow events retry`"
    )]
    LoopGuard {
        issue: String,
        count: i64,
        max: u32,
        window_minutes: u32,
    },
    /// A chat post failed in a way retrying may fix.
    #[error("chat webhook failed: {0}")]
    Chat(String),
    /// The CLA registry could not be read: the status is `unknown` until a retry succeeds.
    #[error("CLA status unknown: {0}")]
    ClaUnknown(String),
    /// A stored plan could not be read or settled.
    #[error("{0}")]
    Plan(String),
}

/// Limits for the loop guard.
#[derive(Debug, Clone, Copy)]
pub struct LoopLimit {
    pub max_actions: u32,
    pub window_minutes: u32,
}

/// What an execution did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecReport {
    pub executed: usize,
    pub skipped: usize,
    /// Ledger key → recorded result, for every action this execution found done or did (so
    /// the event's record need not read the ledger again).
    pub ledger: HashMap<String, String>,
}

/// Performs actions; shared (cheaply cloned) by the worker and the sweep.
#[derive(Clone)]
pub struct Executor {
    pub(super) forge: GitlabForge,
    pub(super) store: DynStore,
    pub(super) metrics: Arc<Metrics>,
    pub(super) clock: Clock,
    /// For chat posts.
    pub(super) http: reqwest::Client,
    /// Cached CLA registries and GitHub clients.
    pub(super) cla: crate::cla::ClaRuntime,
}

impl Executor {
    pub fn new(forge: GitlabForge, store: DynStore, metrics: Arc<Metrics>, clock: Clock) -> Self {
        Executor {
            forge,
            store,
            metrics,
            clock,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            cla: crate::cla::ClaRuntime::default(),
        }
    }

    /// The GitLab connection actions go through.
    pub fn forge(&self) -> &GitlabForge {
        &self.forge
    }

    /// The store holding the ledger and plans.
    pub fn store(&self) -> &DynStore {
        &self.store
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Executes `actions` for `issue` in order. `recovering` is true when an earlier attempt
    /// at this event may have run some actions without recording them: then creations are
    /// looked up by marker first.
    pub async fn execute(
        &self,
        actions: &[PlannedAction],
        issue: &IssueState,
        recovering: bool,
        limit: LoopLimit,
    ) -> Result<ExecReport, ExecError> {
        let mut report = ExecReport::default();
        let mut created: HashMap<String, CreatedIssue> = HashMap::new();
        let issue_key = issue.key().to_string();
        let mut i = 0;
        while i < actions.len() {
            let pa = &actions[i];
            if let Some(result) = self.store.ledger_get(&pa.key).await? {
                if let Action::CreateIssue { id, .. } = &pa.action
                    && let Ok(c) = serde_json::from_str::<CreatedIssue>(&result)
                {
                    created.insert(id.clone(), c);
                }
                report.ledger.insert(pa.key.clone(), result);
                self.metrics
                    .action(&pa.workflow, &pa.rule, pa.action.kind(), "skipped");
                report.skipped += 1;
                i += 1;
                continue;
            }
            self.loop_guard(&issue_key, limit).await?;

            // Consecutive edits of this issue go out as one PUT.
            let batch_end = edit_batch_end(actions, i);
            if batch_end > i + 1 {
                let mut batch = Vec::new();
                for pa in &actions[i..batch_end] {
                    match self.store.ledger_get(&pa.key).await? {
                        None => batch.push(pa),
                        Some(result) => {
                            report.ledger.insert(pa.key.clone(), result);
                            report.skipped += 1;
                        }
                    }
                }
                let mut edit = IssueEdit::default();
                for pa in &batch {
                    add_to_edit(&mut edit, &pa.action);
                }
                let started = std::time::Instant::now();
                self.forge
                    .edit_issue(issue.project_id, issue.iid, &edit)
                    .await?;
                self.metrics.action_latency("edit_issue", started.elapsed());
                let now = self.clock.now();
                for pa in &batch {
                    self.store
                        .ledger_put(&pa.key, &issue_key, "{}", now)
                        .await?;
                    report.ledger.insert(pa.key.clone(), "{}".to_string());
                    self.metrics
                        .action(&pa.workflow, &pa.rule, pa.action.kind(), "done");
                    report.executed += 1;
                }
                i = batch_end;
                continue;
            }

            let started = std::time::Instant::now();
            let result = self.perform(pa, issue, recovering, &mut created).await?;
            self.metrics
                .action_latency(pa.action.kind(), started.elapsed());
            self.store
                .ledger_put(&pa.key, &issue_key, &result, self.clock.now())
                .await?;
            report.ledger.insert(pa.key.clone(), result);
            self.metrics
                .action(&pa.workflow, &pa.rule, pa.action.kind(), "done");
            report.executed += 1;
            i += 1;
        }
        Ok(report)
    }

    async fn loop_guard(&self, issue_key: &str, limit: LoopLimit) -> Result<(), ExecError> {
        let since = self.clock.now() - Duration::minutes(i64::from(limit.window_minutes));
        let count = self.store.actions_since(issue_key, since).await?;
        if count >= i64::from(limit.max_actions) {
            return Err(ExecError::LoopGuard {
                issue: issue_key.to_string(),
                count,
                max: limit.max_actions,
                window_minutes: limit.window_minutes,
            });
        }
        Ok(())
    }

    /// Runs one action; returns the JSON result recorded in the ledger.
    async fn perform(
        &self,
        pa: &PlannedAction,
        issue: &IssueState,
        recovering: bool,
        created: &mut HashMap<String, CreatedIssue>,
    ) -> Result<String, ExecError> {
        let mark = marker(&pa.marker_id());
        match &pa.action {
            Action::Comment { body } => {
                let body = format!("{}\n\n{mark}", substitute(body, created));
                if recovering
                    && let Some(id) = self
                        .forge
                        .find_bot_note(issue.project_id, issue.iid, &pa.marker_id())
                        .await?
                {
                    tracing::info!(key = %pa.key, note = id, "comment already exists; not posting again");
                    return Ok(json!({ "note_id": id, "found": true }).to_string());
                }
                let id = self
                    .forge
                    .create_note(issue.project_id, issue.iid, &body)
                    .await?;
                Ok(json!({ "note_id": id }).to_string())
            }
            Action::ExplainComment { body } => {
                // Always looked up first: the one explain comment of the issue is edited in
                // place, so asking again (or a retry) never adds a second.
                let body = format!("{body}\n\n{}", marker(EXPLAIN_MARKER_ID));
                match self
                    .forge
                    .find_bot_note(issue.project_id, issue.iid, EXPLAIN_MARKER_ID)
                    .await?
                {
                    Some(id) => {
                        self.forge
                            .edit_note(issue.project_id, issue.iid, id, &body)
                            .await?;
                        Ok(json!({ "note_id": id, "edited": true }).to_string())
                    }
                    None => {
                        let id = self
                            .forge
                            .create_note(issue.project_id, issue.iid, &body)
                            .await?;
                        Ok(json!({ "note_id": id }).to_string())
                    }
                }
            }
            Action::CreateIssue {
                id,
                project,
                title,
                description,
                labels,
                assignees,
                confidential,
            } => {
                let existing = if recovering {
                    self.forge.find_bot_issue(project, &pa.marker_id()).await?
                } else {
                    None
                };
                let new = match existing {
                    Some(c) => {
                        tracing::info!(key = %pa.key, issue = %c.reference, "issue already exists; not creating again");
                        c
                    }
                    None => {
                        let ids = self.forge.user_ids(assignees).await?;
                        let description = format!("{}\n\n{mark}", substitute(description, created));
                        self.forge
                            .create_issue(
                                project,
                                &substitute(title, created),
                                &description,
                                labels,
                                &ids,
                                *confidential,
                            )
                            .await?
                    }
                };
                // Linked both ways: GitLab's issue links show on both issues.
                self.forge
                    .link_issues(issue.project_id, issue.iid, new.project_id, new.iid)
                    .await?;
                created.insert(id.clone(), new.clone());
                Ok(serde_json::to_string(&new).unwrap_or_default())
            }
            Action::Close { target } | Action::Reopen { target } => {
                let close = matches!(pa.action, Action::Close { .. });
                let edit = IssueEdit {
                    close: Some(close),
                    ..IssueEdit::default()
                };
                match target {
                    Target::This => {
                        self.forge
                            .edit_issue(issue.project_id, issue.iid, &edit)
                            .await?;
                    }
                    Target::Linked { id, project } => {
                        let targets = self.linked_targets(issue, id, project, created).await?;
                        for (pid, iid) in &targets {
                            self.forge.edit_issue(*pid, *iid, &edit).await?;
                        }
                        return Ok(json!({ "targets": targets }).to_string());
                    }
                }
                Ok("{}".to_string())
            }
            Action::Assign { usernames } => {
                let mut all = issue.assignees.clone();
                for u in usernames {
                    if !all.contains(u) {
                        all.push(u.clone());
                    }
                }
                let ids = self.forge.user_ids(&all).await?;
                let edit = IssueEdit {
                    assignee_ids: Some(ids),
                    ..IssueEdit::default()
                };
                self.forge
                    .edit_issue(issue.project_id, issue.iid, &edit)
                    .await?;
                Ok("{}".to_string())
            }
            Action::AddLabels { .. }
            | Action::RemoveLabels { .. }
            | Action::SetConfidential { .. } => {
                let mut edit = IssueEdit::default();
                add_to_edit(&mut edit, &pa.action);
                self.forge
                    .edit_issue(issue.project_id, issue.iid, &edit)
                    .await?;
                Ok("{}".to_string())
            }
            Action::SetStatus { status } => {
                // Check before set inside: a status the item already has is not sent again.
                let item = self
                    .forge
                    .set_status(&issue.project_path, issue.iid, status)
                    .await?;
                let now = item.status.map(|s| s.name).unwrap_or_default();
                Ok(json!({ "status": now }).to_string())
            }
            Action::SetField { field, value } => {
                // Check before set inside: a value the field has already is not sent again.
                self.forge
                    .set_custom_field(&issue.project_path, issue.iid, field, value)
                    .await?;
                Ok("{}".to_string())
            }
            Action::ScheduleFollowup { name, due_at } => {
                let payload = FollowupPayload {
                    followup: name.clone(),
                    project_id: issue.project_id,
                    iid: issue.iid,
                    project_path: issue.project_path.clone(),
                    key: pa.key.clone(),
                };
                let inserted = self
                    .store
                    .schedule_followup(NewFollowup {
                        key: pa.key.clone(),
                        issue_key: issue.key().to_string(),
                        due_at: *due_at,
                        payload,
                    })
                    .await?;
                Ok(json!({ "scheduled": inserted, "due_at": due_at }).to_string())
            }
            Action::ClaCheck(c) => self.cla_check(pa, c, issue, recovering).await,
            Action::Chat { url_env, text } => {
                let Ok(url) = std::env::var(url_env) else {
                    tracing::warn!(env = %url_env, "chat webhook URL not set; chat post skipped");
                    return Ok(json!({ "skipped": format!("{url_env} not set") }).to_string());
                };
                let resp = self
                    .http
                    .post(&url)
                    .json(&json!({ "text": substitute(text, created) }))
                    .send()
                    .await
                    .map_err(|e| ExecError::Chat(e.without_url().to_string()))?;
                if resp.status().is_server_error() || resp.status().as_u16() == 429 {
                    return Err(ExecError::Chat(format!(
                        "chat webhook answered {}",
                        resp.status()
                    )));
                }
                if !resp.status().is_success() {
                    // A 4xx will not get better by retrying: record and move on.
                    tracing::warn!(status = %resp.status(), "chat webhook refused the post");
                }
                Ok(json!({ "status": resp.status().as_u16() }).to_string())
            }
        }
    }

    /// The issues an earlier `create_issue` with `id` opened for `issue`: from this run, else
    /// from GitLab's issue links (bot-authored issues in that project).
    async fn linked_targets(
        &self,
        issue: &IssueState,
        id: &str,
        project: &str,
        created: &HashMap<String, CreatedIssue>,
    ) -> Result<Vec<(u64, u64)>, ExecError> {
        if let Some(c) = created.get(id) {
            return Ok(vec![(c.project_id, c.iid)]);
        }
        let bot = self.forge.bot_username();
        Ok(self
            .forge
            .linked_issues(issue.project_id, issue.iid)
            .await?
            .into_iter()
            .filter(|l| l.author == bot && l.project_path.eq_ignore_ascii_case(project))
            .map(|l| (l.project_id, l.iid))
            .collect())
    }
}

fn is_plain_edit(a: &Action) -> bool {
    matches!(
        a,
        Action::AddLabels { .. }
            | Action::RemoveLabels { .. }
            | Action::SetConfidential { .. }
            | Action::Close {
                target: Target::This
            }
            | Action::Reopen {
                target: Target::This
            }
    )
}

/// End (exclusive) of the run of plain edits starting at `start`. A run never holds two
/// conflicting changes of the same kind (GitLab applies one PUT's fields together).
fn edit_batch_end(actions: &[PlannedAction], start: usize) -> usize {
    let mut end = start;
    let mut state_set = false;
    let mut conf_set = false;
    let mut touched: Vec<&str> = Vec::new();
    while end < actions.len() && is_plain_edit(&actions[end].action) {
        match &actions[end].action {
            Action::Close { .. } | Action::Reopen { .. } => {
                if state_set {
                    break;
                }
                state_set = true;
            }
            Action::SetConfidential { .. } => {
                if conf_set {
                    break;
                }
                conf_set = true;
            }
            Action::AddLabels { labels } | Action::RemoveLabels { labels } => {
                if labels.iter().any(|l| touched.contains(&l.as_str())) {
                    break;
                }
                touched.extend(labels.iter().map(String::as_str));
            }
            _ => {}
        }
        end += 1;
    }
    end
}

fn add_to_edit(edit: &mut IssueEdit, a: &Action) {
    match a {
        Action::AddLabels { labels } => edit.add_labels.extend(labels.iter().cloned()),
        Action::RemoveLabels { labels } => edit.remove_labels.extend(labels.iter().cloned()),
        Action::SetConfidential { confidential } => edit.confidential = Some(*confidential),
        Action::Close { .. } => edit.close = Some(true),
        Action::Reopen { .. } => edit.close = Some(false),
        _ => {}
    }
}

/// Replaces `⟦created.ID.FIELD⟧` placeholders with what this run (or the ledger) knows.
fn substitute(text: &str, created: &HashMap<String, CreatedIssue>) -> String {
    let mut out = text.to_string();
    for (id, c) in created {
        out = out
            .replace(&created_placeholder(id, "web_url"), &c.web_url)
            .replace(&created_placeholder(id, "reference"), &c.reference);
    }
    out
}

/// The plan to store for `run`.
fn new_plan(run: &PlanRun, actions: &[PlannedAction]) -> NewPlan {
    NewPlan {
        plan_key: run.plan_key.clone(),
        issue_key: run.issue_key.clone(),
        source: run.source,
        event_id: run.event_id,
        actions: super::plan_once::encode(actions),
    }
}

/// Plans decided once (see [`super::plan_once`]).
impl Executor {
    /// Decides what to execute for a change: the stored plan if one of its actions already
    /// ran (or nothing if it finished), otherwise `fresh`, stored first. `remember_empty`
    /// stores an empty plan too, so that a second delivery of a command note says nothing.
    pub async fn decide_once(
        &self,
        run: &PlanRun,
        fresh: Vec<PlannedAction>,
        remember_empty: bool,
    ) -> Result<Decision, ExecError> {
        let now = self.clock.now();
        // Most changes are new: storing the plan first answers in one write, and only a
        // change seen before (the insert finds a plan) reads what is stored.
        if !fresh.is_empty() && self.store.plan_put(new_plan(run, &fresh), now).await? {
            return Ok(Decision::Fresh(fresh));
        }
        for _ in 0..2 {
            let Some(stored) = self.store.plan_get(&run.plan_key).await? else {
                if fresh.is_empty() && !remember_empty {
                    return Ok(Decision::Fresh(fresh));
                }
                if self.store.plan_put(new_plan(run, &fresh), now).await? {
                    return Ok(Decision::Fresh(fresh));
                }
                // Another decider stored one first: use that.
                continue;
            };
            if stored.finished {
                return Ok(Decision::AlreadyHandled {
                    event_id: stored.event_id,
                });
            }
            let actions = super::plan_once::decode(&stored.actions).map_err(ExecError::Plan)?;
            if self.any_ran(&actions).await? {
                return Ok(Decision::Resumed(actions));
            }
            // Nothing of it ran: the plan may be made again from what GitLab shows now.
            if actions != fresh {
                self.store
                    .plan_replace(
                        &run.plan_key,
                        &super::plan_once::encode(&fresh),
                        run.event_id,
                        now,
                    )
                    .await?;
            }
            return Ok(Decision::Fresh(fresh));
        }
        Err(ExecError::Plan(format!(
            "the stored plan `{}` changed while it was being read; retrying",
            run.plan_key
        )))
    }

    /// Marks a stored plan finished (every action is in the ledger).
    pub async fn finish_plan(&self, run: &PlanRun) -> Result<(), ExecError> {
        Ok(self
            .store
            .plan_finish(&run.plan_key, self.clock.now())
            .await?)
    }

    async fn any_ran(&self, actions: &[PlannedAction]) -> Result<bool, ExecError> {
        for a in actions {
            if self.store.ledger_get(&a.key).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
