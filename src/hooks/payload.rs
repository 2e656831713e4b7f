//! Serde structs for the GitLab webhook payloads labelflow reads: Issue Hook (issues and work
//! items) and Note Hook (comments on issues).
//!
//! Only the fields labelflow uses are declared; unknown fields are ignored. Everything not
//! strictly needed is optional, because GitLab's payloads changed over the years (the 11.x-era
//! Issue Hook has no `event_type`, no `user.id` and no `object_attributes.labels`). Dates use
//! [`HookDate`], which accepts GitLab's several formats (`2013-12-03T17:15:43Z`,
//! `2015-05-17 17:06:40 UTC`, …).

use gitlab::hooktypes::HookDate;
use serde::Deserialize;
use serde::de::IgnoredAny;

/// Just enough of any payload to decide what it is, before the full parse.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a GitLab webhook object")]
pub(crate) struct Envelope {
    #[serde(default)]
    pub object_kind: Option<String>,
    #[serde(default)]
    pub object_attributes: Option<EnvelopeAttributes>,
}

/// The note fields that decide whether a Note Hook concerns labelflow. Kept as raw values so
/// that other kinds, whose `object_attributes` may use these names differently, never fail here.
#[derive(Debug, Deserialize)]
pub(crate) struct EnvelopeAttributes {
    #[serde(default)]
    pub noteable_type: Option<serde_json::Value>,
    #[serde(default)]
    pub system: Option<serde_json::Value>,
}

/// Who triggered the event. `id` is missing in old payloads.
#[derive(Debug, Clone, Deserialize)]
pub struct HookUser {
    #[serde(default)]
    pub id: Option<u64>,
    pub username: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The project the event belongs to.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HookProject {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub path_with_namespace: Option<String>,
    #[serde(default)]
    pub web_url: Option<String>,
}

/// A label object (GitLab sends full objects; labelflow matches on titles).
#[derive(Debug, Clone, Deserialize)]
pub struct HookLabel {
    #[serde(default)]
    pub id: Option<u64>,
    pub title: String,
}

/// `{ "previous": X, "current": Y }`, as GitLab reports every changed attribute.
#[derive(Debug, Clone, Deserialize)]
pub struct Change<T> {
    #[serde(default)]
    pub previous: Option<T>,
    #[serde(default)]
    pub current: Option<T>,
}

/// The `changes` object of an Issue Hook. Title and description only matter by presence.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IssueChanges {
    #[serde(default)]
    pub labels: Option<Change<Vec<HookLabel>>>,
    #[serde(default)]
    pub title: Option<IgnoredAny>,
    #[serde(default)]
    pub description: Option<IgnoredAny>,
    /// Work item status (GitLab 18.2+ captures): `{previous, current}` status objects (boxed:
    /// most deliveries have none, and the hook enum stays small).
    #[serde(default)]
    pub status: Option<Box<Change<HookStatus>>>,
}

/// A work item status as work item webhooks carry it (`id` is a global ID).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HookStatus {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub category: Option<String>,
}

impl HookStatus {
    pub fn to_domain(&self) -> crate::domain::WorkItemStatus {
        crate::domain::WorkItemStatus {
            id: self.id.clone(),
            name: self.name.clone(),
            category: self.category.clone().unwrap_or_default().to_lowercase(),
        }
    }
}

/// An Issue Hook body (`object_kind` `issue` or `work_item`).
#[derive(Debug, Clone, Deserialize)]
pub struct IssuePayload {
    pub object_kind: String,
    /// `issue`, `confidential_issue`, `work_item`, …; absent before GitLab 12.
    #[serde(default)]
    pub event_type: Option<String>,
    pub user: HookUser,
    #[serde(default)]
    pub project: Option<HookProject>,
    pub object_attributes: IssueAttributes,
    /// The full current label set (older payloads have it only here).
    #[serde(default)]
    pub labels: Option<Vec<HookLabel>>,
    #[serde(default)]
    pub changes: Option<IssueChanges>,
}

/// `object_attributes` of an Issue Hook.
#[derive(Debug, Clone, Deserialize)]
pub struct IssueAttributes {
    #[serde(default)]
    pub id: Option<u64>,
    pub iid: u64,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// `open`, `close`, `reopen`, `update`.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub confidential: Option<bool>,
    #[serde(default)]
    pub created_at: Option<HookDate>,
    /// Required: it identifies the change (`change_id`) so replays map to the same actions.
    pub updated_at: HookDate,
    #[serde(default)]
    pub labels: Option<Vec<HookLabel>>,
    #[serde(default)]
    pub url: Option<String>,
    /// Work item type (`Issue`, `Task`, `Incident`, …); GitLab 17.2+.
    #[serde(default, rename = "type")]
    pub work_item_type: Option<String>,
    /// The current work item status (GitLab 18.2+ captures).
    #[serde(default)]
    pub status: Option<Box<HookStatus>>,
}

/// A Note Hook body for a comment on an issue (`noteable_type: Issue`).
#[derive(Debug, Clone, Deserialize)]
pub struct NotePayload {
    pub object_kind: String,
    /// `note`, or `confidential_note` for notes on confidential issues.
    #[serde(default)]
    pub event_type: Option<String>,
    pub user: HookUser,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub project: Option<HookProject>,
    pub object_attributes: NoteAttributes,
    /// The issue commented on; required, since it carries the issue's iid.
    pub issue: NoteIssue,
}

/// `object_attributes` of a Note Hook.
#[derive(Debug, Clone, Deserialize)]
pub struct NoteAttributes {
    pub id: u64,
    /// The comment body.
    pub note: String,
    #[serde(default)]
    pub noteable_type: Option<String>,
    #[serde(default)]
    pub system: Option<bool>,
    /// Internal note (visible to project members only).
    #[serde(default)]
    pub internal: Option<bool>,
    /// `create` or `update` (GitLab 16.11+).
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub created_at: Option<HookDate>,
    #[serde(default)]
    pub updated_at: Option<HookDate>,
    #[serde(default)]
    pub url: Option<String>,
}

/// The `issue` object of a Note Hook.
#[derive(Debug, Clone, Deserialize)]
pub struct NoteIssue {
    #[serde(default)]
    pub id: Option<u64>,
    pub iid: u64,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub confidential: Option<bool>,
    #[serde(default)]
    pub labels: Option<Vec<HookLabel>>,
}
