//! What a change to an issue asks for (the parameters of the issue routes), and small helpers
//! the changes share. A leaf: it knows the model only.

use super::model::IssueStatus;
use serde_json::{Value, json};

/// Parameters of `POST /projects/:id/issues`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIssue {
    pub title: String,
    pub description: String,
    pub labels: Vec<String>,
    pub assignee_ids: Vec<u64>,
    pub confidential: bool,
    /// Work item type (`Task`, `Incident`, …); `None` = `Issue`.
    pub work_item_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateEvent {
    Close,
    Reopen,
}

/// Parameters of `PUT /projects/:id/issues/:iid` (absent = unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    /// Replaces every label (empty clears).
    pub labels: Option<Vec<String>>,
    pub add_labels: Vec<String>,
    pub remove_labels: Vec<String>,
    pub state_event: Option<StateEvent>,
    /// Replaces the assignees (`0` or empty clears).
    pub assignee_ids: Option<Vec<u64>>,
    pub confidential: Option<bool>,
}

pub(crate) fn change(previous: Value, current: Value) -> Value {
    json!({ "previous": previous, "current": current })
}

pub(crate) fn state_id(s: IssueStatus) -> u8 {
    match s {
        IssueStatus::Opened => 1,
        IssueStatus::Closed => 2,
    }
}
