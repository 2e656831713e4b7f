//! Records the simulator keeps. They are public (and `Clone`) so tests can inspect a snapshot
//! of the simulated GitLab without going through HTTP.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// An issue as GitLab's issue API shows it: usernames instead of ids, the project's path and
/// the issue's web address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueView {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    pub project_path: String,
    pub title: String,
    pub description: String,
    pub state: IssueStatus,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub author: String,
    pub confidential: bool,
    pub web_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Open or closed, as GitLab's API says (`state`: `opened` / `closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueStatus {
    Opened,
    Closed,
}

/// GitLab access levels, as the members API reports them.
pub mod access {
    pub const GUEST: u32 = 10;
    /// GitLab 17.7+.
    pub const PLANNER: u32 = 15;
    pub const REPORTER: u32 = 20;
    pub const DEVELOPER: u32 = 30;
    pub const MAINTAINER: u32 = 40;
    pub const OWNER: u32 = 50;
}

/// A user and the personal access token that authenticates as them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimUser {
    pub id: u64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub token: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLabel {
    pub id: u64,
    /// `0` for a group label.
    pub project_id: u64,
    /// The group of a group label.
    pub group_id: Option<u64>,
    pub title: String,
    pub color: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One file version on one branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFile {
    pub content: Vec<u8>,
    pub last_commit_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimProject {
    pub id: u64,
    /// `group/sub/project`.
    pub path_with_namespace: String,
    pub name: String,
    pub default_branch: String,
    /// user id → access level.
    pub members: BTreeMap<u64, u32>,
    pub labels: Vec<SimLabel>,
    /// (branch, file path) → file.
    pub files: BTreeMap<(String, String), SimFile>,
    /// Protected branch name (or `*` wildcard) → the lowest access level that may push
    /// (`0`: no one). GitLab protects the default branch with "Maintainers" by default.
    pub protected_branches: BTreeMap<String, u32>,
    pub created_at: DateTime<Utc>,
    pub(crate) next_iid: u64,
}

impl SimProject {
    pub fn label(&self, title: &str) -> Option<&SimLabel> {
        self.labels.iter().find(|l| l.title == title)
    }

    /// The group path the project is in (`a/b` for `a/b/app`).
    pub fn namespace(&self) -> &str {
        self.path_with_namespace
            .rsplit_once('/')
            .map_or("", |(ns, _)| ns)
    }

    /// The push access level a protected branch requires (`0`: no one); `None` when it is not
    /// protected. Several matching rules: the most permissive applies, as GitLab's protected
    /// branches docs say.
    pub fn push_level(&self, branch: &str) -> Option<u32> {
        let levels: Vec<u32> = self
            .protected_branches
            .iter()
            .filter(|(pattern, _)| wildcard_match(pattern, branch))
            .map(|(_, level)| *level)
            .collect();
        let open = levels.iter().copied().filter(|l| *l > 0).min();
        open.or_else(|| levels.first().map(|_| 0))
    }
}

/// GitLab's protected-branch wildcards: `*` matches any run of characters.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            let Some(tail) = name.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| wildcard_match(rest, &tail[i..]))
        }
    }
}

/// A group (and, through its path, its subgroups' and projects' parent): members and labels
/// that every project below it inherits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimGroup {
    pub id: u64,
    /// `parent/child`.
    pub full_path: String,
    /// user id → access level.
    pub members: BTreeMap<u64, u32>,
    pub labels: Vec<SimLabel>,
    pub created_at: DateTime<Utc>,
}

impl SimGroup {
    /// Whether this group is `path` or one of its ancestors.
    pub fn contains(&self, path: &str) -> bool {
        path == self.full_path
            || path
                .strip_prefix(&self.full_path)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimIssue {
    /// Global id (unique across projects), as GitLab's `id`.
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    pub title: String,
    pub description: String,
    pub state: IssueStatus,
    /// Label titles in the order they were applied.
    pub labels: Vec<String>,
    pub assignee_ids: Vec<u64>,
    pub author_id: u64,
    pub confidential: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by_id: Option<u64>,
    pub updated_by_id: Option<u64>,
    pub last_edited_at: Option<DateTime<Utc>>,
    pub last_edited_by_id: Option<u64>,
    pub milestone: Option<SimMilestone>,
    /// Work item type: `Issue`, `Task`, `Incident`, …
    pub work_item_type: String,
    /// Configurable status (GitLab 18.2+; issues and tasks only).
    pub status: Option<SimStatus>,
    /// Custom field values by field global ID: a string (text), a number, or an array of
    /// option global IDs (select fields).
    pub custom_values: BTreeMap<String, serde_json::Value>,
}

/// A custom field of a top-level group (GitLab 18.0+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCustomField {
    /// `gid://gitlab/Issuables::CustomField/N`.
    pub gid: String,
    pub name: String,
    /// `TEXT`, `NUMBER`, `SINGLE_SELECT`, `MULTI_SELECT` (`CustomFieldTypeEnum`).
    pub field_type: String,
    /// (`gid://gitlab/Issuables::CustomFieldSelectOption/N`, value) of select fields.
    pub options: Vec<(String, String)>,
    /// The work item types that have the field.
    pub work_item_types: Vec<String>,
}

/// One change of a custom field value, as the simulator recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimFieldChange {
    pub issue_id: u64,
    pub field: String,
    pub user_id: u64,
    pub value: serde_json::Value,
}

/// One status of a lifecycle, as GraphQL's `WorkItemStatus` and work item webhooks show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimStatus {
    /// Global ID: `gid://gitlab/WorkItems::Statuses::SystemDefined::Status/3` (system-defined)
    /// or `gid://gitlab/WorkItems::Statuses::Custom::Status/N`.
    pub gid: String,
    pub name: String,
    /// `triage`, `to_do`, `in_progress`, `done`, `canceled`.
    pub category: String,
    pub color: String,
    pub description: Option<String>,
}

impl SimStatus {
    /// Done and canceled statuses close the item; the others keep it open.
    pub fn closes(&self) -> bool {
        matches!(self.category.as_str(), "done" | "canceled")
    }
}

/// A project milestone an issue is in (only what issue listings show and filter on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMilestone {
    pub id: u64,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimNote {
    pub id: u64,
    /// Global id of the issue the note is on.
    pub issue_id: u64,
    pub body: String,
    pub author_id: u64,
    pub system: bool,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether a resource label event added or removed its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelAction {
    Add,
    Remove,
}

impl LabelAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelAction::Add => "add",
            LabelAction::Remove => "remove",
        }
    }
}

/// Who added or removed which label when (GitLab's resource label events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLabelEvent {
    pub id: u64,
    pub issue_id: u64,
    pub user_id: u64,
    pub label_id: u64,
    pub action: LabelAction,
    pub created_at: DateTime<Utc>,
}

/// A link between two issues; visible from both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimIssueLink {
    pub id: u64,
    pub source_issue_id: u64,
    pub target_issue_id: u64,
    pub link_type: String,
    pub created_at: DateTime<Utc>,
}

/// A project webhook as configured (through [`crate::SimGitlab::add_hook`] or the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    pub url: String,
    pub push_events: bool,
    /// Sent as `X-Gitlab-Token`.
    pub token: Option<String>,
    /// `whsec_` + base64 key; signs deliveries with `webhook-signature`.
    pub signing_token: Option<String>,
    pub issues_events: bool,
    pub confidential_issues_events: bool,
    pub note_events: bool,
    pub confidential_note_events: bool,
}

impl HookConfig {
    /// A hook with every event flag off (the API, like GitLab, turns `push_events` on when the
    /// request does not say).
    pub fn new(url: impl Into<String>) -> Self {
        HookConfig {
            url: url.into(),
            push_events: false,
            token: None,
            signing_token: None,
            issues_events: false,
            confidential_issues_events: false,
            note_events: false,
            confidential_note_events: false,
        }
    }

    /// A hook subscribed to issue and note events, confidential ones included.
    pub fn issues_and_notes(url: impl Into<String>) -> Self {
        HookConfig {
            issues_events: true,
            confidential_issues_events: true,
            note_events: true,
            confidential_note_events: true,
            ..HookConfig::new(url)
        }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn with_signing_token(mut self, signing_token: impl Into<String>) -> Self {
        self.signing_token = Some(signing_token.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimHook {
    pub id: u64,
    pub project_id: u64,
    pub config: HookConfig,
    pub created_at: DateTime<Utc>,
}
