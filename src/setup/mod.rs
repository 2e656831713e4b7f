//! `labelflow setup`: makes a GitLab project ready for the configuration, through the API.
//! Creates or updates the labels the workflows use ([`labels`]), commits the shipped issue
//! templates into `.gitlab/issue_templates/`, and optionally creates the project webhook with
//! freshly generated tokens. Idempotent: everything is read first and only differences are
//! written, so a second run makes no write and says so. `--dry-run` stops after the reads.

pub mod api;
pub mod labels;

use crate::engine::Engine;
use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use labels::DesiredLabel;
use secrecy::SecretString;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where issue templates go in the project (GitLab reads them from there).
pub const ISSUE_TEMPLATES_DIR: &str = ".gitlab/issue_templates";

/// What to set up.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// `group/project`.
    pub project: String,
    /// Read and report, write nothing.
    pub dry_run: bool,
    /// Create the project webhook pointing here (`https://…/webhooks/gitlab`).
    pub webhook_url: Option<String>,
    /// Branch for the templates; default: the project's default branch.
    pub branch: Option<String>,
    /// Directory of `*.md` issue templates; default: `issue_templates/` in the configuration's
    /// templates directory.
    pub issue_templates: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Label,
    Template,
    Webhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Create,
    Update,
    Unchanged,
}

/// One thing setup looked at, and what it did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: ItemKind,
    pub name: String,
    pub verdict: Verdict,
    /// What differs, or why nothing does.
    pub detail: String,
}

/// The tokens of a webhook setup created: shown once, never stored or logged.
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

/// Everything setup did.
#[derive(Debug)]
pub struct SetupReport {
    pub project: String,
    pub branch: String,
    pub dry_run: bool,
    pub items: Vec<Item>,
    pub warnings: Vec<String>,
    /// Set when a webhook was created.
    pub webhook_tokens: Option<WebhookTokens>,
}

impl SetupReport {
    /// Items that were (or would be) created or updated.
    pub fn changes(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.verdict != Verdict::Unchanged)
            .count()
    }

    pub fn count(&self, kind: ItemKind, verdict: Verdict) -> usize {
        self.items
            .iter()
            .filter(|i| i.kind == kind && i.verdict == verdict)
            .count()
    }
}

impl fmt::Display for SetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        for i in &self.items {
            let kind = match i.kind {
                ItemKind::Label => "label",
                ItemKind::Template => "template",
                ItemKind::Webhook => "webhook",
            };
            let verb = match (i.verdict, self.dry_run) {
                (Verdict::Create, false) => "created",
                (Verdict::Create, true) => "would create",
                (Verdict::Update, false) => "updated",
                (Verdict::Update, true) => "would update",
                (Verdict::Unchanged, _) => "unchanged",
            };
            writeln!(f, "{kind:<8} {:<40} {verb:<13} {}", i.name, i.detail)?;
        }
        let labels = self
            .items
            .iter()
            .filter(|i| i.kind == ItemKind::Label)
            .count();
        let templates = self
            .items
            .iter()
            .filter(|i| i.kind == ItemKind::Template)
            .count();
        match (self.changes(), self.dry_run) {
            (0, _) => write!(
                f,
                "Nothing to change: {} is already set up ({labels} labels, {templates} issue templates).",
                self.project
            ),
            (n, true) => write!(
                f,
                "Dry run: {n} change(s) would be made to {}; nothing was written.",
                self.project
            ),
            (n, false) => write!(f, "Made {n} change(s) to {}.", self.project),
        }
    }
}

/// A failed setup step: what was being done, and GitLab's answer.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{step}: {source}{}", hint(source))]
    Gitlab { step: String, source: ForgeError },
    #[error("{0}")]
    Local(String),
}

/// Points at the usual cause of a refusal.
fn hint(e: &ForgeError) -> &'static str {
    match e {
        ForgeError::Permanent {
            status: 401 | 403, ..
        } => " (setup needs a token of a Maintainer of the project, with the `api` scope)",
        _ => "",
    }
}

/// Names the step a GitLab error happened in.
fn step(what: impl Into<String>) -> impl FnOnce(ForgeError) -> SetupError {
    let step = what.into();
    move |source| SetupError::Gitlab { step, source }
}

/// Sets up `options.project` for `engine`'s configuration.
pub async fn run(
    client: &RetryingClient,
    engine: &Engine,
    options: &SetupOptions,
) -> Result<SetupReport, SetupError> {
    let project = api::project(client, &options.project)
        .await
        .map_err(step(format!("reading project {}", options.project)))?;
    let branch = options
        .branch
        .clone()
        .or_else(|| project.default_branch.clone())
        .unwrap_or_else(|| "main".to_string());
    let mut report = SetupReport {
        project: project.path_with_namespace.clone(),
        branch: branch.clone(),
        dry_run: options.dry_run,
        items: Vec::new(),
        warnings: Vec::new(),
        webhook_tokens: None,
    };

    let desired = labels::desired_labels(engine, &project.path_with_namespace);
    if desired.iter().all(|l| l.used_by.is_empty()) {
        report.warnings.push(format!(
            "no workflow in {} applies to {} (check `projects:` and the workflows' `projects`)",
            engine.path.display(),
            project.path_with_namespace
        ));
    }
    setup_labels(client, project.id, &desired, options.dry_run, &mut report).await?;

    let dir = options
        .issue_templates
        .clone()
        .unwrap_or_else(|| default_issue_templates_dir(engine));
    let templates = read_issue_templates(&dir).map_err(SetupError::Local)?;
    if templates.is_empty() {
        report
            .warnings
            .push(format!("no issue templates (*.md) in {}", dir.display()));
    }
    for (name, content) in &templates {
        let item = setup_template(client, project.id, &branch, name, content, options).await?;
        report.items.push(item);
    }

    if let Some(url) = &options.webhook_url {
        setup_webhook(client, project.id, url, options.dry_run, &mut report).await?;
    }
    Ok(report)
}

async fn setup_labels(
    client: &RetryingClient,
    project: u64,
    desired: &[DesiredLabel],
    dry_run: bool,
    report: &mut SetupReport,
) -> Result<(), SetupError> {
    let existing = api::labels(client, project)
        .await
        .map_err(step("listing the project's labels"))?;
    for want in desired {
        // GitLab treats label titles case-insensitively when checking for duplicates.
        let found = existing.iter().find(|l| l.name == want.name).or_else(|| {
            existing
                .iter()
                .find(|l| l.name.eq_ignore_ascii_case(&want.name))
        });
        let Some(have) = found else {
            if !dry_run {
                api::create_label(client, project, &want.name, &want.color, &want.description)
                    .await
                    .map_err(step(format!("creating label `{}`", want.name)))?;
            }
            report.items.push(Item {
                kind: ItemKind::Label,
                name: want.name.clone(),
                verdict: Verdict::Create,
                detail: format!("{} \"{}\"", want.color, want.description),
            });
            continue;
        };
        let color = (want.color_configured && !have.color.eq_ignore_ascii_case(&want.color))
            .then_some(want.color.as_str());
        let description = (want.description_configured
            && have.description.as_deref().unwrap_or("") != want.description)
            .then_some(want.description.as_str());
        if color.is_none() && description.is_none() {
            report.items.push(Item {
                kind: ItemKind::Label,
                name: want.name.clone(),
                verdict: Verdict::Unchanged,
                detail: String::new(),
            });
            continue;
        }
        if !dry_run {
            api::edit_label(client, project, have.id, color, description)
                .await
                .map_err(step(format!("updating label `{}`", want.name)))?;
        }
        let mut detail = Vec::new();
        if let Some(c) = color {
            detail.push(format!("colour {} → {c}", have.color));
        }
        if let Some(d) = description {
            detail.push(format!("description → \"{d}\""));
        }
        report.items.push(Item {
            kind: ItemKind::Label,
            name: want.name.clone(),
            verdict: Verdict::Update,
            detail: detail.join(", "),
        });
    }
    Ok(())
}

async fn setup_template(
    client: &RetryingClient,
    project: u64,
    branch: &str,
    name: &str,
    content: &[u8],
    options: &SetupOptions,
) -> Result<Item, SetupError> {
    let path = format!("{ISSUE_TEMPLATES_DIR}/{name}");
    let current = api::file(client, project, &path, branch)
        .await
        .map_err(step(format!("reading {path} on {branch}")))?;
    let (verdict, detail) = match &current {
        None => (Verdict::Create, format!("on {branch}")),
        Some(f) if f.content == content => (Verdict::Unchanged, String::new()),
        Some(_) => (Verdict::Update, format!("on {branch}: content differs")),
    };
    if !options.dry_run {
        match &current {
            None => {
                let message = format!("Add issue template {name} (labelflow setup)");
                api::create_file(client, project, &path, branch, content, &message)
                    .await
                    .map_err(step(format!("committing {path} to {branch}")))?;
            }
            Some(f) if verdict == Verdict::Update => {
                let message = format!("Update issue template {name} (labelflow setup)");
                api::update_file(
                    client,
                    project,
                    &path,
                    branch,
                    content,
                    &message,
                    &f.last_commit_id,
                )
                .await
                .map_err(step(format!("committing {path} to {branch}")))?;
            }
            Some(_) => {}
        }
    }
    Ok(Item {
        kind: ItemKind::Template,
        name: path,
        verdict,
        detail,
    })
}

async fn setup_webhook(
    client: &RetryingClient,
    project: u64,
    url: &str,
    dry_run: bool,
    report: &mut SetupReport,
) -> Result<(), SetupError> {
    let hooks = api::hooks(client, project)
        .await
        .map_err(step("listing the project's webhooks"))?;
    if hooks.iter().any(|h| h.url == url) {
        report.items.push(Item {
            kind: ItemKind::Webhook,
            name: url.to_string(),
            verdict: Verdict::Unchanged,
            detail: "exists (GitLab never returns its tokens; rotate them in GitLab's settings)"
                .to_string(),
        });
        return Ok(());
    }
    if !dry_run {
        let signing = new_signing_token();
        let secret = new_secret_token();
        api::create_hook(client, project, url, &signing, &secret)
            .await
            .map_err(step("creating the webhook"))?;
        report.webhook_tokens = Some(WebhookTokens {
            signing_token: SecretString::from(signing),
            secret_token: SecretString::from(secret),
        });
    }
    report.items.push(Item {
        kind: ItemKind::Webhook,
        name: url.to_string(),
        verdict: Verdict::Create,
        detail: "issue and note events, with a new signing token and secret token".to_string(),
    });
    Ok(())
}

/// `whsec_` + base64 of 32 random bytes: the Standard Webhooks form GitLab expects.
pub fn new_signing_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// 32 random bytes as hex, for `X-Gitlab-Token`.
pub fn new_secret_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<config dir>/<templates_dir>/issue_templates`.
pub fn default_issue_templates_dir(engine: &Engine) -> PathBuf {
    engine
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&engine.config.templates_dir)
        .join("issue_templates")
}

/// The `*.md` files of `dir`, sorted by name; none when the directory does not exist.
pub fn read_issue_templates(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("reading {}: {e}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !path.is_file() || !name.ends_with(".md") {
            continue;
        }
        let content =
            std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        out.push((name.to_string(), content));
    }
    out.sort();
    Ok(out)
}
