//! Domain types shared by every stage of the pipeline: the normalised [`Event`] a webhook
//! becomes, and the [`IssueState`] the worker re-reads from GitLab before planning.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies one issue across the system: GitLab's project id plus the issue's iid.
///
/// Its string form (`"14#23"`) is the ordering key in the inbox: events with the same key are
/// processed one at a time, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IssueKey {
    pub project_id: u64,
    pub iid: u64,
}

impl fmt::Display for IssueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.project_id, self.iid)
    }
}

impl std::str::FromStr for IssueKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (p, i) = s
            .split_once('#')
            .ok_or_else(|| format!("issue key `{s}` is not of the form PROJECT_ID#IID"))?;
        Ok(IssueKey {
            project_id: p.parse().map_err(|_| format!("bad project id in `{s}`"))?,
            iid: i.parse().map_err(|_| format!("bad issue iid in `{s}`"))?,
        })
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: Option<u64>,
    pub username: String,
}

/// What happened, as far as workflows care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The issue was opened (labels present at creation count as added).
    Opened,
    Closed,
    Reopened,
    /// Labels, description, title or anything else changed.
    Updated,
    /// A comment on the issue. Commands (`@bot ...`) are parsed by the engine, which knows the
    /// bot's name.
    Comment {
        note_id: u64,
        body: String,
        internal: bool,
    },
    /// A scheduled look at the issue: a sweep, or a delayed follow-up coming due (`followup`
    /// names it).
    Tick {
        followup: Option<String>,
    },
}

impl fmt::Display for EventKind {
    /// In plain words, for people (`labelflow plan`, event records).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Opened => write!(f, "the issue was opened"),
            EventKind::Closed => write!(f, "the issue was closed"),
            EventKind::Reopened => write!(f, "the issue was reopened"),
            EventKind::Updated => write!(f, "the issue was changed"),
            EventKind::Comment { note_id, .. } => write!(f, "a comment (note {note_id})"),
            EventKind::Tick {
                followup: Some(name),
            } => write!(f, "the follow-up `{name}` came due"),
            EventKind::Tick { followup: None } => write!(f, "a sweep visit"),
        }
    }
}

/// Labels as GitLab writes references to them (`~"a", ~"b"`), or `none`.
pub fn label_list(labels: &[String]) -> String {
    if labels.is_empty() {
        return "none".to_string();
    }
    labels
        .iter()
        .map(|l| format!("~\"{l}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A webhook (or sweep tick) normalised into what the planner needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub issue: IssueKey,
    /// `namespace/project` of the issue's project.
    pub project_path: String,
    pub actor: Actor,
    pub kind: EventKind,
    /// Label titles added by this change (for `Opened`: every label at creation).
    pub labels_added: Vec<String>,
    /// Label titles removed by this change.
    pub labels_removed: Vec<String>,
    pub title_changed: bool,
    pub description_changed: bool,
    /// Stable identity of the triggering change, used in action idempotency keys so that a
    /// replayed delivery (even under a new webhook id) maps to the same actions. Built from the
    /// issue's `updated_at` at the change, the note id, or the follow-up name.
    pub change_id: String,
    /// Whether GitLab delivered it as a confidential issue / note event.
    pub confidential: bool,
    pub occurred_at: Option<DateTime<Utc>>,
    /// An update GitLab delivered without `changes` (GitLab before 8.x): which labels changed
    /// is not in the payload, and the worker works it out from what it last saw.
    #[serde(default)]
    pub changes_unknown: bool,
    /// The labels the payload lists as the issue's after the change (`None`: it lists none).
    #[serde(default)]
    pub labels_now: Option<Vec<String>>,
    /// The work item status this change moved from and to (`changes.status`), if it did.
    #[serde(default)]
    pub status_change: Option<StatusChange>,
}

/// A configurable work item status (GitLab 18.2+), as webhooks and GraphQL report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItemStatus {
    /// Global ID (`gid://gitlab/WorkItems::Statuses::SystemDefined::Status/3`), when known.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// `triage`, `to_do`, `in_progress`, `done` or `canceled` (lower case, as webhooks send it).
    pub category: String,
}

impl WorkItemStatus {
    /// Status names compare case-insensitively, as GitLab resolves them.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// `changes.status` of a work item webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub from: Option<WorkItemStatus>,
    pub to: Option<WorkItemStatus>,
}

/// The work item type issues have (`object_kind: issue`).
pub const ISSUE_TYPE: &str = "Issue";

fn issue_type() -> String {
    ISSUE_TYPE.to_string()
}

/// Open or closed, as GitLab reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    Opened,
    Closed,
}

/// The issue as GitLab has it now. The tracker is the truth: the worker re-reads this before
/// planning, because webhooks can arrive late, twice or out of order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueState {
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
    /// The work item status, when GitLab has statuses for this item and it was read.
    #[serde(default)]
    pub status: Option<WorkItemStatus>,
    /// The work item type (`Issue`, `Task`, `Incident`, …).
    #[serde(default = "issue_type")]
    pub work_item_type: String,
    /// Custom field values by field name (GitLab 18.0+), as text: a number as written, a
    /// multi-select's options joined with `, `. Only fields with a value are listed.
    #[serde(default)]
    pub custom_fields: std::collections::BTreeMap<String, String>,
}

impl IssueState {
    pub fn key(&self) -> IssueKey {
        IssueKey {
            project_id: self.project_id,
            iid: self.iid,
        }
    }

    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }

    /// The value of scoped label `scope::value` for `scope`, if any (everything before the last
    /// `::` is the scope, as in GitLab).
    pub fn scoped_value(&self, scope: &str) -> Option<&str> {
        self.labels.iter().find_map(|l| match split_scoped(l) {
            Some((s, v)) if s == scope => Some(v),
            _ => None,
        })
    }
}

/// Splits a scoped label into (scope, value) at its last `::`, as GitLab does.
pub fn split_scoped(label: &str) -> Option<(&str, &str)> {
    let idx = label.rfind("::")?;
    let (scope, value) = (&label[..idx], &label[idx + 2..]);
    if scope.is_empty() || value.is_empty() {
        None
    } else {
        Some((scope, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_labels_split_at_last_separator() {
        assert_eq!(
            split_scoped("cocreate::identified"),
            Some(("cocreate", "identified"))
        );
        assert_eq!(
            split_scoped("workflow::backend::review"),
            Some(("workflow::backend", "review"))
        );
        assert_eq!(split_scoped("plain"), None);
        assert_eq!(split_scoped("::x"), None);
    }

    #[test]
    fn issue_key_round_trips() {
        let k: IssueKey = "14#23".parse().unwrap();
        assert_eq!(
            k,
            IssueKey {
                project_id: 14,
                iid: 23
            }
        );
        assert_eq!(k.to_string(), "14#23");
        assert!("14-23".parse::<IssueKey>().is_err());
    }
}
