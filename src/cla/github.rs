//! GitHub through octocrab: registry files in a repository, and organisation membership for
//! agreements that cover a whole organisation.

use base64::Engine as _;
use octocrab::Octocrab;

pub use labelflow_core::cla::spec::GithubApi;

/// A connected GitHub client.
#[derive(Clone)]
pub struct GithubClient {
    crab: Octocrab,
    api_url: String,
}

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Why GitHub could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub client: {0}")]
    Setup(String),
    #[error("not found on GitHub: {0}")]
    NotFound(String),
    #[error("GitHub did not answer: {0}")]
    Unavailable(String),
}

impl GithubClient {
    pub fn connect(api: &GithubApi) -> Result<GithubClient, GithubError> {
        let api_url = api
            .api_url
            .clone()
            .unwrap_or_else(|| "https://api.github.com".to_string());
        let mut builder = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|e| GithubError::Setup(format!("invalid API URL `{api_url}`: {e}")))?;
        if let Some(var) = &api.token_env {
            match std::env::var(var) {
                Ok(token) if !token.trim().is_empty() => {
                    builder = builder.personal_token(token.trim().to_string());
                }
                _ => {
                    return Err(GithubError::Setup(format!(
                        "environment variable `{var}` (the GitHub token) is not set"
                    )));
                }
            }
        }
        let crab = builder
            .build()
            .map_err(|e| GithubError::Setup(e.to_string()))?;
        Ok(GithubClient { crab, api_url })
    }

    /// The text of `path` in `owner/repo` at `git_ref` (the default branch when `None`).
    pub async fn file(
        &self,
        repo: &str,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<String, GithubError> {
        let (owner, name) = repo.split_once('/').ok_or_else(|| {
            GithubError::Setup(format!("`{repo}` is not an owner/repository name"))
        })?;
        let repos = self.crab.repos(owner, name);
        let mut req = repos.get_content().path(path);
        if let Some(r) = git_ref {
            req = req.r#ref(r);
        }
        let items = req.send().await.map_err(|e| classify(e, repo, path))?;
        let item = items
            .items
            .into_iter()
            .next()
            .ok_or_else(|| GithubError::NotFound(format!("{repo}/{path} is not a file")))?;
        // Decoded here rather than with octocrab's `decoded_content`, which panics on bad
        // base64.
        let content = item.content.unwrap_or_default();
        let compact: Vec<u8> = content
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| {
                GithubError::Unavailable(format!("{repo}/{path}: content is not base64: {e}"))
            })?;
        String::from_utf8(bytes)
            .map_err(|_| GithubError::Unavailable(format!("{repo}/{path} is not UTF-8 text")))
    }

    /// Whether `user` is a member of `org` (privately, when the token may see that).
    pub async fn is_org_member(&self, org: &str, user: &str) -> Result<bool, GithubError> {
        self.crab
            .orgs(org)
            .check_membership(user)
            .await
            .map_err(|e| classify(e, org, user))
    }
}

fn classify(e: octocrab::Error, a: &str, b: &str) -> GithubError {
    match &e {
        octocrab::Error::GitHub { source, .. } if source.status_code.as_u16() == 404 => {
            GithubError::NotFound(format!("{a}/{b}"))
        }
        octocrab::Error::GitHub { source, .. } => GithubError::Unavailable(format!(
            "{a}/{b}: {} {}",
            source.status_code,
            first_line(&source.message)
        )),
        _ => GithubError::Unavailable(format!("{a}/{b}: {}", first_line(&e.to_string()))),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
