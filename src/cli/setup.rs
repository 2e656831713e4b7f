//! `labelflow setup`: labels, issue templates and (optionally) the webhook of one project.

use super::config_arg::ConfigArg;
use crate::engine::Engine;
use crate::forge::{GitlabForge, RetryPolicy};
use crate::metrics::Metrics;
use crate::setup::{self, SetupOptions};
use secrecy::ExposeSecret;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The project to set up, `group/project`.
    #[arg(long)]
    pub project: String,
    /// Show the whole plan, permission problems included, without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Also create the project webhook pointing at this URL (`https://…/webhooks/gitlab`);
    /// its new tokens are printed once.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Branch to commit the issue templates to (default: the project's default branch); one
    /// that does not exist yet is started from the default branch.
    #[arg(long)]
    pub branch: Option<String>,
    /// Directory of `*.md` issue templates (default: `issue_templates/` in the
    /// configuration's templates directory).
    #[arg(long)]
    pub issue_templates: Option<PathBuf>,
    /// Fix an existing hook at `--webhook-url` that cannot serve labelflow (turns on issue and
    /// comment events; sets new secrets, printed once, when it has none). Existing secrets are
    /// never read or printed.
    #[arg(long)]
    pub fix_webhook: bool,
    /// Correct inherited group labels whose colour or description differs from the
    /// configuration. This changes them for every project in the group, so it is off by
    /// default: differences are reported and left alone.
    #[arg(long)]
    pub update_group_labels: bool,
    /// `text` for people, `json` for tools (the same report either way).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub gitlab: super::gitlab_args::GitlabArgs,
}

pub async fn run(args: SetupArgs) -> anyhow::Result<i32> {
    let engine = match Engine::load(&args.config.config) {
        Ok(e) => e,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("error: the configuration is invalid; fix it before running setup");
            return Ok(1);
        }
    };
    let token = args.gitlab.token()?;
    let forge = GitlabForge::connect(
        args.gitlab.url()?,
        token.expose_secret(),
        RetryPolicy::default(),
        Metrics::new(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("connecting to GitLab: {e}"))?;
    let options = SetupOptions {
        project: args.project,
        dry_run: args.dry_run,
        webhook_url: args.webhook_url,
        fix_webhook: args.fix_webhook,
        update_group_labels: args.update_group_labels,
        branch: args.branch,
        issue_templates: args.issue_templates,
    };
    let report = match setup::run(forge.client(), &engine, &options).await {
        Ok(r) => r,
        Err(e) => {
            // Always a report on stdout, even when nothing could be planned.
            match args.format {
                Format::Text => println!("Setup of {}: {e}", options.project),
                Format::Json => println!(
                    "{}",
                    serde_json::json!({
                        "project": options.project,
                        "items": [],
                        "outcome": { "result": "read_failed", "error": e.to_string() },
                    })
                ),
            }
            eprintln!("error: setting up {}: {e}", options.project);
            return Ok(1);
        }
    };
    match args.format {
        Format::Text => {
            println!("{report}");
            if let Some(t) = &report.webhook_tokens {
                // Printed once, to stdout only: GitLab never shows them again.
                println!();
                println!(
                    "Webhook secrets set. Give the service these values (they are not shown again):"
                );
                println!(
                    "  LABELFLOW_WEBHOOK_SIGNING_TOKEN={}",
                    t.signing_token.expose_secret()
                );
                println!(
                    "  LABELFLOW_WEBHOOK_SECRET={}",
                    t.secret_token.expose_secret()
                );
            }
        }
        Format::Json => {
            let mut json = report.to_json();
            if let (Some(t), Some(obj)) = (&report.webhook_tokens, json.as_object_mut()) {
                obj.insert(
                    "webhook_tokens".into(),
                    serde_json::json!({
                        "LABELFLOW_WEBHOOK_SIGNING_TOKEN": t.signing_token.expose_secret(),
                        "LABELFLOW_WEBHOOK_SECRET": t.secret_token.expose_secret(),
                    }),
                );
            }
            println!("{json:#}");
        }
    }
    if !report.succeeded() {
        eprintln!(
            "error: setup of {} did not complete (see the report on stdout)",
            report.project
        );
        return Ok(1);
    }
    Ok(0)
}
