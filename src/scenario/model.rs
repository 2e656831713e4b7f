//! The scenario file format (docs/testing-workflows.md). Typed, and every unknown key is an
//! error, so a misspelt step or expectation cannot pass silently.

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// One scenario file: shared settings, then its scenarios.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Directory overrides for every scenario of the file.
    #[serde(default)]
    pub directory: Option<DirectoryOverride>,
    /// The CLA registry's text, written where the configuration's `cla.source` points.
    #[serde(default)]
    pub cla_registry: Option<String>,
    pub scenarios: Vec<Spanned<Scenario>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// For people reading the file; not used.
    #[serde(default)]
    pub about: Option<String>,
    /// Overrides on top of the file's (a role or group named here replaces the configured one).
    #[serde(default)]
    pub directory: Option<DirectoryOverride>,
    #[serde(default)]
    pub cla_registry: Option<String>,
    pub issues: Vec<Spanned<StartIssue>>,
    pub steps: Vec<Spanned<Step>>,
}

/// Replaces roles and product groups of the configuration's `directory:`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryOverride {
    /// Role → usernames.
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
    /// Product-group label → its product managers.
    #[serde(default)]
    pub product_groups: BTreeMap<String, Vec<String>>,
}

impl DirectoryOverride {
    /// `self` with `other`'s entries on top.
    pub fn merged(&self, other: &DirectoryOverride) -> DirectoryOverride {
        let mut out = self.clone();
        out.roles
            .extend(other.roles.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.product_groups.extend(
            other
                .product_groups
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        out
    }
}

/// An issue as it stands before the first step (the bot has not seen it being made).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartIssue {
    /// How steps and expectations name it; default `issue`.
    #[serde(default = "default_issue_id")]
    pub id: String,
    /// A project's name or path from the configuration's `projects:`.
    pub project: String,
    #[serde(default = "default_title")]
    pub title: String,
    /// Default `scenario-author`.
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Description fields, written as `Name: value` lines.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// More description text, after the fields.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub assignees: Vec<String>,
    #[serde(default)]
    pub confidential: bool,
}

fn default_issue_id() -> String {
    "issue".to_string()
}

fn default_title() -> String {
    "Scenario issue".to_string()
}

/// One label or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Labels {
    One(String),
    Many(Vec<String>),
}

impl Labels {
    pub fn list(&self) -> Vec<String> {
        match self {
            Labels::One(l) => vec![l.clone()],
            Labels::Many(ls) => ls.clone(),
        }
    }
}

/// One step: exactly one of the actions, who takes it (`by`), on which issue, and what must
/// hold afterwards.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub add_label: Option<Labels>,
    #[serde(default)]
    pub remove_label: Option<Labels>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub edit_description: Option<DescriptionEdit>,
    /// Time moves on this many days; follow-ups that come due run.
    #[serde(default)]
    pub wait_days: Option<u32>,
    /// `sweep: true`: a `labelflow sweep` run.
    #[serde(default)]
    pub sweep: Option<bool>,
    /// The username taking a person's step.
    #[serde(default)]
    pub by: Option<String>,
    /// The issue (an `id` from `issues:`); default the first.
    #[serde(default)]
    pub issue: Option<String>,
    #[serde(default)]
    pub expect: Vec<Spanned<Expectation>>,
}

/// A description edit: fields set (a line `Name: value` replaced or added), or the whole
/// text replaced.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescriptionEdit {
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub text: Option<String>,
}

/// What must hold after a step. Comments, reverts and created issues are those of this step.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// These labels are on the issue.
    Labels(Vec<String>),
    /// These labels are not on the issue.
    NoLabels(Vec<String>),
    /// A bot comment on the issue contains this text.
    Comment(String),
    /// No bot comment on the issue contains this text.
    NoComment(String),
    /// A bot comment on the issue equals a snapshot file.
    Snapshot(SnapshotSpec),
    /// These people are assigned.
    Assignees(Vec<String>),
    /// The bot opened an issue.
    Created(CreatedSpec),
    Confidential(bool),
    Closed(bool),
    /// A label was taken off again by its guard (or restriction), with a comment saying why.
    Reverted(RevertedSpec),
    /// The bot did nothing: no comment, no change, no issue.
    Nothing,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSpec {
    /// Relative to the scenario file.
    pub file: String,
    /// Which comment, when the step has several: the one containing this text.
    #[serde(default)]
    pub containing: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatedSpec {
    pub project: String,
    /// Text the title contains.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub assignees: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertedSpec {
    pub label: String,
    /// Text the bot's comment contains (the guard's `missing:` message, or who may apply it).
    pub message: String,
}
