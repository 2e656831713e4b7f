//! `labelflow setup`: makes a GitLab project ready for the configuration, through the API.
//!
//! Plan first, then act. Setup reads everything it needs ([`facts`]): the bot's roles, the
//! project's labels with the group labels it inherits, the issue templates' files, the
//! branch's protection and the hooks. It computes the whole plan ([`plan`]), checks every
//! role the plan needs ([`check`]) and refuses before any write if one is missing. Only then
//! does it write ([`execute`]). The same [`SetupReport`] comes out of a dry run, a refusal, a
//! failure half-way and a success, so a user always sees what was done and what is left.
//! Idempotent: only differences are written, so a second run makes no write.

pub mod access_api;
pub mod api;
pub mod check;
pub mod execute;
pub mod facts;
pub mod hook_api;
pub mod labels;
pub mod plan;
pub mod report;
pub mod roles;
pub mod statuses;
pub mod templates;

use crate::engine::Engine;
use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::path::PathBuf;

pub use report::{Item, ItemKind, Outcome, SetupReport, Status, Verdict, WebhookTokens};

/// Where issue templates go in the project (GitLab reads them from there).
pub const ISSUE_TEMPLATES_DIR: &str = ".gitlab/issue_templates";

/// What to set up.
#[derive(Debug, Clone, Default)]
pub struct SetupOptions {
    /// `group/project`.
    pub project: String,
    /// Read, plan and report; write nothing.
    pub dry_run: bool,
    /// Create the project webhook pointing here (`https://…/webhooks/gitlab`).
    pub webhook_url: Option<String>,
    /// Fix a hook at that URL that cannot serve labelflow (events, missing secrets).
    pub fix_webhook: bool,
    /// Correct inherited group labels that differ from the configuration (for the whole group).
    pub update_group_labels: bool,
    /// Branch for the templates; default: the project's default branch.
    pub branch: Option<String>,
    /// Directory of `*.md` issue templates; default: `issue_templates/` in the configuration's
    /// templates directory.
    pub issue_templates: Option<PathBuf>,
}

/// Why setup could not even plan: nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{step}: {source} (nothing was written)")]
    Gitlab { step: String, source: ForgeError },
    #[error("{0}")]
    Local(String),
}

/// Sets up `options.project` for `engine`'s configuration. `Err` only when reading failed
/// (nothing written); a refusal or a failed write is in the report's outcome.
pub async fn run(
    client: &RetryingClient,
    engine: &Engine,
    options: &SetupOptions,
) -> Result<SetupReport, SetupError> {
    let dir = options
        .issue_templates
        .clone()
        .unwrap_or_else(|| templates::default_dir(engine));
    let all_templates = templates::read_dir(&dir).map_err(SetupError::Local)?;
    // The configuration names projects by path: plan for the path GitLab gives (the option may
    // be an id, or differ in case).
    let project = api::project(client, &options.project)
        .await
        .map_err(|source| SetupError::Gitlab {
            step: format!("reading project {}", options.project),
            source,
        })?;
    let desired = labels::desired_labels(engine, &project.path_with_namespace);
    let used = plan::used_here(&desired);
    let wanted = facts::Wanted {
        project,
        branch: options.branch.as_deref(),
        labels: desired.iter().map(|l| l.name.as_str()).collect(),
        template_paths: plan::templates_here(&all_templates, &used)
            .into_iter()
            .map(plan::template_path)
            .collect(),
        webhook: options.webhook_url.is_some(),
    };
    let facts = facts::gather(client, &wanted)
        .await
        .map_err(|(step, source)| SetupError::Gitlab { step, source })?;

    let mut warnings = Vec::new();
    if desired.iter().all(|l| l.used_by.is_empty()) {
        warnings.push(format!(
            "no workflow in {} applies to {} (check `projects:` and the workflows' `projects`)",
            engine.path.display(),
            facts.project.path_with_namespace
        ));
    }
    // Statuses belong to the top-level group's lifecycle: reported, never created. A lifecycle
    // that cannot be read (GitLab before 18.2, a tier without statuses) is said, not fatal.
    match statuses::missing_statuses(client, engine, &facts.project.path_with_namespace).await {
        Ok(missing) => warnings.extend(missing),
        Err(e) => warnings.push(format!(
            "could not read the status lifecycle of {} to check the configuration's statuses: {e}",
            facts.project.path_with_namespace
        )),
    }
    if all_templates.is_empty() {
        warnings.push(format!("no issue templates (*.md) in {}", dir.display()));
    }
    let mut steps = plan::labels(&desired, &facts, options);
    steps.extend(plan::templates(&all_templates, &used, &facts));
    steps.extend(plan::webhook(&facts, options));
    let permission_problems = check::permission_problems(&steps, &facts);

    let (outcome, webhook_tokens) = if options.dry_run {
        (Outcome::DryRun, None)
    } else if !permission_problems.is_empty() {
        (Outcome::Refused, None)
    } else {
        execute::run(
            client,
            facts.project.id,
            &facts.branch,
            options.webhook_url.as_deref(),
            &mut steps,
        )
        .await
    };
    let bot = format!(
        "@{} ({} in the project)",
        facts.bot.username,
        roles::role_name(facts.project_level)
    );
    Ok(SetupReport {
        project: facts.project.path_with_namespace.clone(),
        branch: facts.branch.clone(),
        bot,
        dry_run: options.dry_run,
        items: steps.into_iter().map(|s| s.item).collect(),
        permission_problems,
        warnings,
        outcome,
        webhook_tokens,
    })
}

/// `whsec_` + base64 of 32 random bytes: the Standard Webhooks form GitLab expects.
pub fn new_signing_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// 32 random bytes as hex, for `X-Gitlab-Token`.
pub fn new_secret_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}
