//! The GitLab connection arguments `serve`, `sweep`, `setup` and `cla check` share.

use anyhow::Context;
use secrecy::SecretString;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct GitlabArgs {
    /// GitLab base URL, e.g. `https://gitlab.com`.
    #[arg(long, env = "LABELFLOW_GITLAB_URL")]
    pub gitlab_url: Option<String>,
    /// The bot account's API token (scope `api`). Prefer the environment (a masked CI
    /// variable) or --gitlab-token-file.
    #[arg(long, env = "LABELFLOW_GITLAB_TOKEN", hide_env_values = true)]
    pub gitlab_token: Option<String>,
    /// File holding the bot's API token.
    #[arg(long, env = "LABELFLOW_GITLAB_TOKEN_FILE")]
    pub gitlab_token_file: Option<PathBuf>,
}

impl GitlabArgs {
    /// The base URL, or a plain error saying how to give it.
    pub fn url(&self) -> anyhow::Result<&str> {
        self.gitlab_url.as_deref().filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            anyhow::anyhow!("no GitLab URL: set --gitlab-url or LABELFLOW_GITLAB_URL (for example https://gitlab.com)")
        })
    }

    /// The token, from the argument or the environment, else from the file.
    pub fn token(&self) -> anyhow::Result<SecretString> {
        match (&self.gitlab_token, &self.gitlab_token_file) {
            (Some(t), _) if !t.trim().is_empty() => Ok(SecretString::from(t.trim().to_string())),
            (_, Some(f)) => {
                let t = std::fs::read_to_string(f)
                    .with_context(|| format!("reading the GitLab token file {}", f.display()))?;
                Ok(SecretString::from(t.trim().to_string()))
            }
            _ => anyhow::bail!(
                "no GitLab token: set LABELFLOW_GITLAB_TOKEN or LABELFLOW_GITLAB_TOKEN_FILE (the bot account's token with the `api` scope)"
            ),
        }
    }
}
