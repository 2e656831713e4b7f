//! A planned `cla_check`: everything the executor needs, nothing it must look up in the
//! configuration (so a reload mid-event cannot change what a retry does).

use crate::cla::config::ClaLabels;
use crate::cla::spec::{CheckSettings, Subjects};
use serde::{Deserialize, Serialize};

/// A planned CLA check: everything the executor needs, nothing it must look up in the
/// configuration (so a reload mid-event cannot change what a retry does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaCheck {
    pub settings: CheckSettings,
    pub subjects: Subjects,
    pub labels: ClaLabels,
    pub comments: ClaComments,
    /// Triggered by a command: bypass caches and always answer.
    pub recheck: bool,
}

/// The three comments, rendered by the planner with [`cla_placeholder`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaComments {
    pub signed: String,
    pub missing: String,
    pub unknown: String,
}

/// Placeholder for a value only the lookup knows (`details`, `agreements`).
pub fn cla_placeholder(field: &str) -> String {
    format!("⟦cla.{field}⟧")
}
