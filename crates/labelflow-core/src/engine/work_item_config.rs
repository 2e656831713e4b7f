//! The configuration's shapes for work item statuses, types and custom fields (a leaf:
//! `config` uses them, and `statuses` / `custom_fields` act on them).

use crate::domain::WorkItemStatus;
use serde::{Deserialize, Serialize};

/// GitLab's five status categories; `done` and `canceled` close the item.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StatusCategory {
    Triage,
    ToDo,
    InProgress,
    Done,
    Canceled,
}

impl StatusCategory {
    /// The category's name as webhooks write it (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCategory::Triage => "triage",
            StatusCategory::ToDo => "to_do",
            StatusCategory::InProgress => "in_progress",
            StatusCategory::Done => "done",
            StatusCategory::Canceled => "canceled",
        }
    }

    /// Whether `status` is in this category (GraphQL writes categories upper case, webhooks
    /// lower case).
    pub fn holds_for(self, status: &WorkItemStatus) -> bool {
        status.category.eq_ignore_ascii_case(self.as_str())
    }
}

/// `status_changed`: the item's status moved, optionally to / from a status (by name, compared
/// case-insensitively) or a category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChangeTrigger {
    /// The status it moved to (`In progress`).
    #[serde(default)]
    pub to: Option<String>,
    /// The status it moved from.
    #[serde(default)]
    pub from: Option<String>,
    /// The category it moved to (`done`).
    #[serde(default)]
    pub to_category: Option<StatusCategory>,
    /// The category it moved from.
    #[serde(default)]
    pub from_category: Option<StatusCategory>,
}

/// Where a workflow's `fields.*` come from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FieldSource {
    /// `Field: value` lines and `## Field` sections of the description.
    #[default]
    Description,
    /// GitLab custom fields only.
    CustomFields,
    /// Custom fields; a field without a value falls back to the description.
    CustomFieldsThenDescription,
}

/// `set_field: { field, value }`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetFieldSpec {
    /// The custom field's name, as GitLab shows it.
    pub field: String,
    /// The value: text, a number, or a select option's name.
    pub value: String,
}
