//! Actions: the vocabulary of what the planner decides and the executor (in the service)
//! performs. Each carries an idempotency
//! key so a replayed event or a re-run never performs it twice.

pub mod cla;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which issue an action applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Target {
    /// The issue the event is about.
    This,
    /// An issue an earlier `create_issue` with this id opened for this issue (found through
    /// the ledger, or through GitLab's issue links when the ledger does not know it).
    Linked { id: String, project: String },
}

/// One concrete, rendered step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    Comment {
        body: String,
    },
    CreateIssue {
        /// Name later templates use (`created.<id>`).
        id: String,
        project: String,
        title: String,
        description: String,
        labels: Vec<String>,
        assignees: Vec<String>,
        confidential: bool,
    },
    AddLabels {
        labels: Vec<String>,
    },
    RemoveLabels {
        labels: Vec<String>,
    },
    Close {
        target: Target,
    },
    Reopen {
        target: Target,
    },
    Assign {
        usernames: Vec<String>,
    },
    SetConfidential {
        confidential: bool,
    },
    ScheduleFollowup {
        name: String,
        due_at: DateTime<Utc>,
    },
    Chat {
        url_env: String,
        text: String,
    },
    /// Look the issue's company / people up in the CLA registry and label the outcome.
    ClaCheck(Box<cla::ClaCheck>),
    /// The answer to `@labelflow explain`: one comment per issue, edited in place when asked
    /// again (found by [`EXPLAIN_MARKER_ID`]).
    ExplainComment {
        body: String,
    },
    /// Set the work item's status (by name), through GraphQL.
    SetStatus {
        status: String,
    },
    /// Set a custom field (by name) to a value, through GraphQL.
    SetField {
        field: String,
        value: String,
    },
}

/// The marker id of the one explain comment each issue has.
pub const EXPLAIN_MARKER_ID: &str = "explain";

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Comment { .. } => "comment",
            Action::CreateIssue { .. } => "create_issue",
            Action::AddLabels { .. } => "add_labels",
            Action::RemoveLabels { .. } => "remove_labels",
            Action::Close { .. } => "close",
            Action::Reopen { .. } => "reopen",
            Action::Assign { .. } => "assign",
            Action::SetConfidential { .. } => "set_confidential",
            Action::ScheduleFollowup { .. } => "schedule_followup",
            Action::Chat { .. } => "chat",
            Action::ClaCheck(_) => "cla_check",
            Action::ExplainComment { .. } => "explain_comment",
            Action::SetStatus { .. } => "set_status",
            Action::SetField { .. } => "set_field",
        }
    }
}

impl std::fmt::Display for Action {
    /// What the action does, in plain words (event histories, the operator's view).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code_list = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Action::Comment { .. } => write!(f, "comment on the issue"),
            Action::CreateIssue { title, project, .. } => {
                write!(f, "open the issue \"{title}\" in `{project}`")
            }
            Action::AddLabels { labels } => {
                write!(f, "add {}", crate::domain::label_list(labels))
            }
            Action::RemoveLabels { labels } => {
                write!(f, "remove {}", crate::domain::label_list(labels))
            }
            Action::Close {
                target: Target::This,
            } => write!(f, "close the issue"),
            Action::Close {
                target: Target::Linked { id, .. },
            } => write!(f, "close the linked `{id}` issue"),
            Action::Reopen {
                target: Target::This,
            } => write!(f, "reopen the issue"),
            Action::Reopen {
                target: Target::Linked { id, .. },
            } => write!(f, "reopen the linked `{id}` issue"),
            Action::Assign { usernames } => write!(f, "assign {}", code_list(usernames)),
            Action::SetConfidential { confidential: true } => {
                write!(f, "make the issue confidential")
            }
            Action::SetConfidential {
                confidential: false,
            } => write!(f, "make the issue public"),
            Action::ScheduleFollowup { name, due_at } => write!(
                f,
                "schedule the follow-up `{name}` for {}",
                due_at.format("%Y-%m-%d %H:%M UTC")
            ),
            Action::Chat { .. } => write!(f, "post to the chat channel"),
            Action::ClaCheck(_) => write!(f, "check the contributor agreement registry"),
            Action::ExplainComment { .. } => {
                write!(f, "answer `explain` (one comment, kept up to date)")
            }
            Action::SetStatus { status } => write!(f, "set the status to \"{status}\""),
            Action::SetField { field, value } => {
                write!(f, "set the field \"{field}\" to \"{value}\"")
            }
        }
    }
}

/// An action with its provenance and idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAction {
    /// `workflow/rule/project#iid/change/index`: the same change always yields the same key.
    pub key: String,
    pub workflow: String,
    pub rule: String,
    #[serde(flatten)]
    pub action: Action,
}

impl PlannedAction {
    /// The hidden marker id put into what this action creates: a short hash of the key, so it
    /// is a single searchable word and reveals nothing.
    pub fn marker_id(&self) -> String {
        marker_id(&self.key)
    }
}

pub fn marker_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("lf{}", hex::encode(&digest[..12]))
}

/// The HTML comment appended to bot-created notes and issues.
pub fn marker(marker_id: &str) -> String {
    format!("<!-- labelflow:{marker_id} -->")
}

/// Placeholder for a value only known once an earlier action in the same plan has run (the
/// URL of a created issue). Rendered plans show it as is; the executor substitutes it.
pub fn created_placeholder(id: &str, field: &str) -> String {
    format!("⟦created.{id}.{field}⟧")
}
