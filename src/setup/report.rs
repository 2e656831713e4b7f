//! What setup found, planned and did, in one shape for the dry run, a refusal, a failure and
//! success: people read it as text, tools as JSON. Printing the same report in every case is
//! what lets a user see what a failed run already changed.

use secrecy::SecretString;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Label,
    /// A label of an ancestor group, inherited by the project.
    GroupLabel,
    Template,
    Webhook,
}

/// What the plan says about one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Create,
    Update,
    Unchanged,
    /// Not for this project (a template whose labels no workflow here uses).
    Skip,
    /// Differs from the configuration but is not setup's to change (a group label).
    LeftAlone,
    /// Cannot serve labelflow as it is, and setup was not asked to fix it.
    Problem,
}

impl Verdict {
    pub fn is_write(self) -> bool {
        matches!(self, Verdict::Create | Verdict::Update)
    }
}

/// How far a planned write got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not attempted: a dry run, a refusal, or nothing to write.
    Planned,
    Done,
    Failed,
    /// Not attempted because an earlier write failed.
    NotDone,
}

/// Where a role is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum Place {
    Project(String),
    Group(String),
    /// The ancestor group of this project that owns an inherited label: its labels could not
    /// be read, so which one is not known.
    UnknownGroup(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Project(p) => write!(f, "project {p}"),
            Place::Group(g) => write!(f, "group {g}"),
            Place::UnknownGroup(p) => write!(
                f,
                "the ancestor group of {p} that owns it (its labels could not be read)"
            ),
        }
    }
}

/// A role a write needs, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Need {
    /// GitLab access level (10 Guest … 50 Owner).
    pub level: u32,
    pub place: Place,
    /// Why this role: GitLab's rule, in words.
    pub because: String,
}

/// One thing setup looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub kind: ItemKind,
    pub name: String,
    pub verdict: Verdict,
    pub status: Status,
    /// What differs, what will be written, or why nothing is.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<Need>,
}

impl Item {
    pub fn new(kind: ItemKind, name: impl Into<String>, verdict: Verdict) -> Self {
        Item {
            kind,
            name: name.into(),
            verdict,
            status: Status::Planned,
            detail: String::new(),
            needs: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn needs(mut self, level: u32, place: Place, because: &str) -> Self {
        self.needs = Some(Need {
            level,
            place,
            because: because.to_string(),
        });
        self
    }

    fn verb(&self, dry_run: bool) -> String {
        let (done, todo) = match self.verdict {
            Verdict::Create => ("created", "create"),
            Verdict::Update => ("updated", "update"),
            Verdict::Unchanged => return "unchanged".into(),
            Verdict::Skip => return "skipped".into(),
            Verdict::LeftAlone => return "left alone".into(),
            Verdict::Problem => return "PROBLEM".into(),
        };
        match (self.status, dry_run) {
            (Status::Done, _) => done.into(),
            (Status::Failed, _) => format!("FAILED to {todo}"),
            (Status::NotDone, _) => format!("not done: {todo}"),
            (Status::Planned, _) => format!("would {todo}"),
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    DryRun,
    /// A write needs a role the bot lacks: nothing was written.
    Refused,
    Done,
    /// A write failed; the writes before it stay.
    Failed {
        error: String,
    },
}

/// The tokens of a webhook setup created or fixed: shown once, never stored or logged.
pub struct WebhookTokens {
    /// For `LABELFLOW_WEBHOOK_SIGNING_TOKEN` (`webhook-signature`, GitLab 19.0+).
    pub signing_token: SecretString,
    /// For `LABELFLOW_WEBHOOK_SECRET` (`X-Gitlab-Token`, which older GitLab versions send).
    pub secret_token: SecretString,
}

impl fmt::Debug for WebhookTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookTokens { .. }")
    }
}

/// Everything setup found, planned and did.
#[derive(Debug, Serialize)]
pub struct SetupReport {
    pub project: String,
    pub branch: String,
    /// `@username (Maintainer in the project)`.
    pub bot: String,
    pub dry_run: bool,
    pub items: Vec<Item>,
    /// Missing roles, one line each; any of them refuses the live run before its first write.
    pub permission_problems: Vec<String>,
    pub warnings: Vec<String>,
    pub outcome: Outcome,
    /// Set when a webhook was created or given new tokens.
    #[serde(skip)]
    pub webhook_tokens: Option<WebhookTokens>,
}

impl SetupReport {
    /// Items that were (or would be) created or updated.
    pub fn changes(&self) -> usize {
        self.items.iter().filter(|i| i.verdict.is_write()).count()
    }

    pub fn count(&self, kind: ItemKind, verdict: Verdict) -> usize {
        self.items
            .iter()
            .filter(|i| i.kind == kind && i.verdict == verdict)
            .count()
    }

    fn with_status(&self, status: Status) -> usize {
        self.items
            .iter()
            .filter(|i| i.verdict.is_write() && i.status == status)
            .count()
    }

    /// Problems left for a person (hooks that cannot serve labelflow).
    pub fn problems(&self) -> usize {
        self.count_verdict(Verdict::Problem)
    }

    fn count_verdict(&self, verdict: Verdict) -> usize {
        self.items.iter().filter(|i| i.verdict == verdict).count()
    }

    /// Whether the run should exit successfully.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, Outcome::Done | Outcome::DryRun)
            && self.permission_problems.is_empty()
            && self.problems() == 0
    }

    /// The report as JSON, for tools.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(
            |e| serde_json::json!({ "error": format!("the report could not be written: {e}") }),
        )
    }
}

impl fmt::Display for SetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Setup of {} (templates on branch {}), as {}:",
            self.project, self.branch, self.bot
        )?;
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        for i in &self.items {
            let kind = match i.kind {
                ItemKind::Label => "label",
                ItemKind::GroupLabel => "group label",
                ItemKind::Template => "template",
                ItemKind::Webhook => "webhook",
            };
            let line = format!(
                "{kind:<11} {:<40} {:<17} {}",
                i.name,
                i.verb(self.dry_run),
                i.detail
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        if !self.permission_problems.is_empty() {
            writeln!(f, "Permission problems:")?;
            for p in &self.permission_problems {
                writeln!(f, "  - {p}")?;
            }
        }
        let project = &self.project;
        let changes = self.changes();
        match &self.outcome {
            Outcome::DryRun if self.permission_problems.is_empty() => write!(
                f,
                "Dry run: {changes} change(s) would be made to {project}; nothing was written."
            )?,
            Outcome::DryRun => write!(
                f,
                "Dry run: {changes} change(s) planned for {project}, but the live run would refuse \
                 (permission problems above); nothing was written."
            )?,
            Outcome::Refused => write!(
                f,
                "Refused: the bot lacks a role this setup needs (above); nothing was written to \
                 {project}. Left to do: {changes} change(s)."
            )?,
            Outcome::Done if changes == 0 => write!(
                f,
                "Nothing to change: {project} is already set up ({} labels, {} issue templates).",
                self.count_kind(&[ItemKind::Label, ItemKind::GroupLabel]),
                self.count_kind(&[ItemKind::Template]) - self.count_verdict(Verdict::Skip),
            )?,
            Outcome::Done => write!(f, "Made {changes} change(s) to {project}.")?,
            Outcome::Failed { error } => write!(
                f,
                "Failed: made {} change(s) to {project}, then {error}. Left to do: {} change(s) \
                 (marked `FAILED` / `not done`); run setup again once the cause is fixed.",
                self.with_status(Status::Done),
                self.with_status(Status::Failed) + self.with_status(Status::NotDone),
            )?,
        }
        if self.problems() > 0 {
            write!(
                f,
                "\n{} problem(s) need attention (marked `PROBLEM`).",
                self.problems()
            )?;
        }
        Ok(())
    }
}

impl SetupReport {
    fn count_kind(&self, kinds: &[ItemKind]) -> usize {
        self.items
            .iter()
            .filter(|i| kinds.contains(&i.kind))
            .count()
    }
}
