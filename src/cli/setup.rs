//! `labelflow setup`: labels, issue templates and (optionally) the webhook of one project.

use super::ConfigArg;
use super::serve::read_token;
use crate::engine::Engine;
use crate::forge::{GitlabForge, RetryPolicy};
use crate::metrics::Metrics;
use crate::setup::{self, SetupOptions};
use secrecy::ExposeSecret;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The project to set up, `group/project`.
    #[arg(long)]
    pub project: String,
    /// Show what would change without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Also create the project webhook pointing at this URL (`https://…/webhooks/gitlab`);
    /// its new tokens are printed once.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Branch to commit the issue templates to (default: the project's default branch).
    #[arg(long)]
    pub branch: Option<String>,
    /// Directory of `*.md` issue templates (default: `issue_templates/` in the
    /// configuration's templates directory).
    #[arg(long)]
    pub issue_templates: Option<PathBuf>,
    /// GitLab base URL, e.g. `https://gitlab.com`.
    #[arg(long, env = "LABELFLOW_GITLAB_URL")]
    pub gitlab_url: String,
    /// A token with the `api` scope of a Maintainer of the project (labels, files, hooks).
    #[arg(long, env = "LABELFLOW_GITLAB_TOKEN", hide_env_values = true)]
    pub gitlab_token: Option<String>,
    /// File holding that token.
    #[arg(long, env = "LABELFLOW_GITLAB_TOKEN_FILE")]
    pub gitlab_token_file: Option<PathBuf>,
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
    let token = read_token(args.gitlab_token, args.gitlab_token_file.as_ref())?;
    let forge = GitlabForge::connect(
        &args.gitlab_url,
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
        branch: args.branch,
        issue_templates: args.issue_templates,
    };
    let report = setup::run(forge.client(), &engine, &options)
        .await
        .map_err(|e| anyhow::anyhow!("setting up {}: {e}", options.project))?;
    println!("{report}");
    if let Some(t) = &report.webhook_tokens {
        // Printed once, to stdout only: GitLab never shows them again.
        println!();
        println!("Webhook created. Give the service these values (they are not shown again):");
        println!(
            "  LABELFLOW_WEBHOOK_SIGNING_TOKEN={}",
            t.signing_token.expose_secret()
        );
        println!(
            "  LABELFLOW_WEBHOOK_SECRET={}",
            t.secret_token.expose_secret()
        );
    }
    Ok(0)
}
