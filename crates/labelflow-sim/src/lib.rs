//! A stateful simulated GitLab for tests and `labelflow demo`: its own implementation of
//! GitLab's rules, written from GitLab's documentation, importing nothing of labelflow.
//!
//! [`SimGitlab::start`] serves GitLab's REST API (`/api/v4/...`) on loopback, so the real
//! `gitlab` crate client talks to it over HTTP, and fires Issue / Note Hooks back at configured
//! URLs the way GitLab does. Tests set it up, act as people through [`Actor`], inject faults
//! and rate limits, and inspect state, requests and deliveries through this type.

mod actor;
mod clock;
mod custom_fields;
mod faults;
mod groups;
mod hook_payload;
mod hook_sender;
mod http;
mod issue_changes;
mod issue_ops;
mod json;
mod labels;
mod model;
mod note_ops;
mod pagination;
mod quick_actions;
mod state;
mod timefmt;
mod work_items;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

pub use actor::Actor;
pub use faults::{FaultId, FaultKind, FaultRule, PathMatch, RateLimit, Trigger};
pub use hook_payload::{HookEvent, HookKind};
pub use hook_sender::{DeliveryRecord, GITLAB_VERSION, new_signing_token, sign};
pub use http::RequestRecord;
pub use issue_changes::{IssueUpdate, NewIssue, StateEvent};
pub use model::{
    HookConfig, IssueStatus, IssueView, LabelAction, SimCustomField, SimFieldChange, SimFile,
    SimGroup, SimHook, SimIssue, SimIssueLink, SimLabel, SimLabelEvent, SimMilestone, SimNote,
    SimProject, SimStatus, SimUser, access,
};
pub use note_ops::NoteOutcome;
pub use quick_actions::{Extracted, QuickAction, extract as extract_quick_actions};
pub use state::SimError;
pub use work_items::system_defined as system_defined_statuses;

pub use clock::Clock;
use faults::{Faults, RateLimiter};
use hook_sender::HookSender;
use http::{Inner, lock};
use state::SimState;

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Source of every timestamp (issues, notes, `webhook-timestamp`).
    pub clock: Clock,
    /// The authenticated-API limit per token, with `RateLimit-*` headers (default GitLab.com's).
    pub rate_limit: Option<RateLimit>,
    /// Issue creations per user (default GitLab.com's); its 429s carry no `RateLimit-*` headers.
    pub issue_creation_limit: Option<RateLimit>,
    /// Note creations per user (default GitLab.com's); its 429s carry no `RateLimit-*` headers.
    pub note_creation_limit: Option<RateLimit>,
    /// How long a hook receiver may take (GitLab.com: 10 s).
    pub hook_timeout: Duration,
    /// Added to every request.
    pub latency: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: Clock::system(),
            rate_limit: Some(RateLimit::gitlab_com_api()),
            issue_creation_limit: Some(RateLimit::gitlab_com_issue_creations()),
            note_creation_limit: Some(RateLimit::gitlab_com_note_creations()),
            hook_timeout: Duration::from_secs(10),
            latency: Duration::ZERO,
        }
    }
}

impl SimOptions {
    /// Takes time from `now` (share the clock of the code under test).
    pub fn with_clock(mut self, now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Clock::from_fn(now);
        self
    }

    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    pub fn with_issue_creation_limit(mut self, limit: RateLimit) -> Self {
        self.issue_creation_limit = Some(limit);
        self
    }

    pub fn with_note_creation_limit(mut self, limit: RateLimit) -> Self {
        self.note_creation_limit = Some(limit);
        self
    }

    /// No rate limit at all (for runs that measure something else).
    pub fn without_rate_limits(mut self) -> Self {
        self.rate_limit = None;
        self.issue_creation_limit = None;
        self.note_creation_limit = None;
        self
    }

    pub fn with_hook_timeout(mut self, timeout: Duration) -> Self {
        self.hook_timeout = timeout;
        self
    }
}

/// A running simulated GitLab. Dropping it stops the server and the hook sender.
pub struct SimGitlab {
    inner: Arc<Inner>,
    addr: SocketAddr,
    clock: Clock,
    server: JoinHandle<()>,
}

impl SimGitlab {
    /// Binds the address, serves the REST API and starts the hook sender.
    pub async fn start(options: SimOptions) -> anyhow::Result<SimGitlab> {
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .with_context(|| format!("binding the simulated GitLab to {}", options.addr))?;
        let addr = listener
            .local_addr()
            .context("reading the simulated GitLab's bound address")?;
        let base_url = format!("http://{addr}");
        let inner = Arc::new(Inner {
            state: Mutex::new(SimState::new(options.clock.clone(), base_url.clone())),
            faults: Mutex::new(Faults::default()),
            limiter: Mutex::new(RateLimiter::with(options.rate_limit)),
            issue_creations: Mutex::new(RateLimiter::with(options.issue_creation_limit)),
            note_creations: Mutex::new(RateLimiter::with(options.note_creation_limit)),
            latency: Mutex::new(options.latency),
            project_issues_keyset: std::sync::atomic::AtomicBool::new(true),
            requests: Mutex::new(Vec::new()),
            sender: HookSender::start(
                base_url.clone(),
                options.clock.clone(),
                options.hook_timeout,
            ),
            base_url,
        });
        let app = http::router(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulated GitLab server stopped");
            }
        });
        Ok(SimGitlab {
            inner,
            addr,
            clock: options.clock,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// `127.0.0.1:PORT`, for `GitlabBuilder::new(host, token).insecure()`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    // ---- set-up ----

    /// Adds a user (or returns the existing one); its `token` authenticates as it.
    pub fn add_user(&self, username: &str) -> SimUser {
        lock(&self.inner.state).add_user(username)
    }

    pub fn user(&self, username: &str) -> Option<SimUser> {
        lock(&self.inner.state).user_by_username(username).cloned()
    }

    /// Adds a project at `group/name` (or returns the existing one's id).
    pub fn add_project(&self, path: &str) -> u64 {
        lock(&self.inner.state).add_project(path)
    }

    /// Makes `username` a member with `access_level` (see [`access`]); creates the user if new.
    pub fn add_member(
        &self,
        project: u64,
        username: &str,
        access_level: u32,
    ) -> Result<SimUser, SimError> {
        let mut state = lock(&self.inner.state);
        let user = state.add_user(username);
        state
            .project_mut(project)?
            .members
            .insert(user.id, access_level);
        Ok(user)
    }

    /// Gives the top-level group `top_group` a custom status lifecycle (as its owner would in
    /// the group's settings); its items use it instead of the system-defined one.
    pub fn set_lifecycle(&self, top_group: &str, statuses: Vec<SimStatus>) {
        lock(&self.inner.state)
            .lifecycles
            .insert(top_group.to_string(), statuses);
    }

    /// Adds a custom field to the top-level group `top_group` (as its owner would): `field_type`
    /// `TEXT`, `NUMBER`, `SINGLE_SELECT` or `MULTI_SELECT`, for these work item types.
    pub fn add_custom_field(
        &self,
        top_group: &str,
        name: &str,
        field_type: &str,
        options: &[&str],
        work_item_types: &[&str],
    ) -> SimCustomField {
        lock(&self.inner.state).add_custom_field(
            top_group,
            name,
            field_type,
            options,
            work_item_types,
        )
    }

    /// Every custom field value change so far.
    pub fn field_changes(&self) -> Vec<SimFieldChange> {
        lock(&self.inner.state).field_changes.clone()
    }

    /// Adds a project label with a colour and description (as an admin would, no hooks).
    pub fn add_label(
        &self,
        project: u64,
        title: &str,
        color: &str,
        description: &str,
    ) -> Result<SimLabel, SimError> {
        let mut state = lock(&self.inner.state);
        let mut label = match state.project(project)?.label(title) {
            Some(l) => l.clone(),
            None => state.create_project_label(project, title)?,
        };
        label.color = color.to_string();
        label.description = Some(description.to_string()).filter(|d| !d.is_empty());
        if let Some(slot) = state
            .project_mut(project)?
            .labels
            .iter_mut()
            .find(|l| l.id == label.id)
        {
            *slot = label.clone();
        }
        Ok(label)
    }

    /// Puts an issue in a milestone (by title; `None` takes it out), as set-up: no hook and no
    /// `updated_at` change. Milestones of the same title in a project share an id.
    pub fn set_milestone(
        &self,
        project: u64,
        iid: u64,
        title: Option<&str>,
    ) -> Result<(), SimError> {
        let mut state = lock(&self.inner.state);
        let id = state.issue(project, iid)?.id;
        let milestone = match title {
            None => None,
            Some(t) => {
                let existing = state.issues.values().find_map(|i| {
                    i.milestone
                        .as_ref()
                        .filter(|m| i.project_id == project && m.title == t)
                        .map(|m| m.id)
                });
                let mid = match existing {
                    Some(m) => m,
                    None => state.next_id(),
                };
                Some(SimMilestone {
                    id: mid,
                    title: t.to_string(),
                })
            }
        };
        if let Some(issue) = state.issues.get_mut(&id) {
            issue.milestone = milestone;
        }
        Ok(())
    }

    /// Sets an issue's `updated_at` directly (set-up: backdating items without waiting).
    pub fn set_updated_at(
        &self,
        project: u64,
        iid: u64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), SimError> {
        let mut state = lock(&self.inner.state);
        let id = state.issue(project, iid)?.id;
        if let Some(issue) = state.issues.get_mut(&id) {
            issue.updated_at = at;
        }
        Ok(())
    }

    /// Adds a project hook; returns its id.
    pub fn add_hook(&self, project: u64, hook: HookConfig) -> Result<u64, SimError> {
        let mut state = lock(&self.inner.state);
        state.project(project)?;
        let id = state.next_id();
        let created_at = state.now();
        state.hooks.insert(
            id,
            SimHook {
                id,
                project_id: project,
                config: hook,
                created_at,
            },
        );
        Ok(id)
    }

    /// Writes a repository file on a branch; returns the commit id.
    pub fn put_file(
        &self,
        project: u64,
        path: &str,
        branch: &str,
        content: &str,
    ) -> Result<String, SimError> {
        lock(&self.inner.state).write_file(project, branch, path, content.as_bytes().to_vec())
    }

    /// Acts as `username` (who must exist) through the same code paths as the REST API.
    pub fn as_user(&self, username: &str) -> Actor<'_> {
        Actor {
            inner: &self.inner,
            username: username.to_string(),
        }
    }

    // ---- inspection ----

    pub fn issue(&self, project: u64, iid: u64) -> Option<SimIssue> {
        lock(&self.inner.state).issue(project, iid).ok().cloned()
    }

    /// The project's issues by iid.
    pub fn issues(&self, project: u64) -> Vec<SimIssue> {
        let state = lock(&self.inner.state);
        let mut out: Vec<SimIssue> = state
            .issues
            .values()
            .filter(|i| i.project_id == project)
            .cloned()
            .collect();
        out.sort_by_key(|i| i.iid);
        out
    }

    /// The issue as GitLab's issue API shows it (usernames resolved).
    pub fn issue_state(&self, project: u64, iid: u64) -> Option<IssueView> {
        let state = lock(&self.inner.state);
        let i = state.issue(project, iid).ok()?;
        let p = state.project(project).ok()?;
        Some(IssueView {
            id: i.id,
            iid: i.iid,
            project_id: i.project_id,
            project_path: p.path_with_namespace.clone(),
            title: i.title.clone(),
            description: i.description.clone(),
            state: i.state,
            labels: i.labels.clone(),
            assignees: state.usernames(&i.assignee_ids),
            author: state
                .user(i.author_id)
                .map(|u| u.username.clone())
                .unwrap_or_default(),
            confidential: i.confidential,
            web_url: state.issue_web_url(i),
            created_at: i.created_at,
            updated_at: i.updated_at,
        })
    }

    /// Notes on the issue, oldest first, system notes included.
    pub fn notes(&self, project: u64, iid: u64) -> Vec<SimNote> {
        let state = lock(&self.inner.state);
        let Ok(issue) = state.issue(project, iid) else {
            return Vec::new();
        };
        state
            .notes
            .values()
            .filter(|n| n.issue_id == issue.id)
            .cloned()
            .collect()
    }

    pub fn label_events(&self, project: u64, iid: u64) -> Vec<SimLabelEvent> {
        let state = lock(&self.inner.state);
        let Ok(issue) = state.issue(project, iid) else {
            return Vec::new();
        };
        state
            .label_events
            .iter()
            .filter(|e| e.issue_id == issue.id)
            .cloned()
            .collect()
    }

    pub fn labels(&self, project: u64) -> Vec<SimLabel> {
        lock(&self.inner.state)
            .project(project)
            .map(|p| p.labels.clone())
            .unwrap_or_default()
    }

    /// Every issue link, in creation order.
    pub fn links(&self) -> Vec<SimIssueLink> {
        lock(&self.inner.state).links.clone()
    }

    /// A repository file's text, if present and UTF-8.
    pub fn file(&self, project: u64, branch: &str, path: &str) -> Option<String> {
        let state = lock(&self.inner.state);
        let file = state
            .project(project)
            .ok()?
            .files
            .get(&(branch.to_string(), path.to_string()))?;
        String::from_utf8(file.content.clone()).ok()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.inner.requests).clone()
    }

    /// How many logged requests match `pred`, without copying the log (for polling loops).
    pub fn count_requests(&self, pred: impl Fn(&RequestRecord) -> bool) -> usize {
        lock(&self.inner.requests)
            .iter()
            .filter(|r| pred(r))
            .count()
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.requests).clear();
    }

    /// Completed hook deliveries (first sends and resends), in order.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.inner.sender.records()
    }

    /// Resends a recorded delivery (same `webhook-id`, fresh timestamp and signature).
    pub fn redeliver(&self, delivery_id: usize) -> bool {
        self.inner.sender.redeliver(delivery_id)
    }

    /// Holds outgoing hooks in the queue until [`SimGitlab::resume_hooks`].
    pub fn pause_hooks(&self) {
        self.inner.sender.set_paused(true);
    }

    pub fn resume_hooks(&self) {
        self.inner.sender.set_paused(false);
    }

    /// While muted, changes fire no hooks at all (a test then delivers a payload of its own
    /// shape, as an older GitLab would have sent it).
    pub fn mute_hooks(&self, muted: bool) {
        self.inner.sender.set_muted(muted);
    }

    /// Hooks queued or in flight.
    pub fn pending_hooks(&self) -> usize {
        self.inner.sender.pending()
    }

    /// Waits until every queued hook has been delivered (or failed); false on timeout.
    pub async fn wait_hooks_idle(&self, timeout: Duration) -> bool {
        self.inner.sender.wait_idle(timeout).await
    }

    // ---- faults ----

    pub fn add_fault(&self, rule: FaultRule) -> FaultId {
        lock(&self.inner.faults).add(rule)
    }

    pub fn remove_fault(&self, id: FaultId) {
        lock(&self.inner.faults).remove(id);
    }

    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Sets (or with `None`, lifts) the per-token rate limit; counters restart.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        lock(&self.inner.limiter).set(limit);
    }

    /// Sets (or lifts) the per-user limit on issue creations; counters restart.
    pub fn set_issue_creation_limit(&self, limit: Option<RateLimit>) {
        lock(&self.inner.issue_creations).set(limit);
    }

    /// Sets (or lifts) the per-user limit on note creations; counters restart.
    pub fn set_note_creation_limit(&self, limit: Option<RateLimit>) {
        lock(&self.inner.note_creations).set(limit);
    }

    /// Requests answered 429 so far (any limit or fault), from the request log.
    pub fn too_many_requests_count(&self) -> usize {
        lock(&self.inner.requests)
            .iter()
            .filter(|r| r.status == 429)
            .count()
    }

    /// Delay added to every request.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.inner.latency) = latency;
    }

    /// Whether project issue listings honour `pagination=keyset` (default yes). `false` acts
    /// like a GitLab from before keyset pagination of project issues: the parameter is
    /// ignored and pages are numbered, as group issue listings always are.
    pub fn set_project_issues_keyset(&self, on: bool) {
        self.inner
            .project_issues_keyset
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for SimGitlab {
    fn drop(&mut self) {
        self.server.abort();
    }
}
