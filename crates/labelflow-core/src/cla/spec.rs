//! What a CLA check needs, as data: where the registry is, how to reach GitHub, what is
//! required, and whom the check is about. The reading itself is the service's.

use super::parse::RegistryFormat;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A resolved source (project names and relative paths already resolved), as carried by a
/// planned `cla_check` action and used as the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceSpec {
    /// A file in a GitLab repository at a ref (branch, tag or commit).
    Gitlab {
        project: String,
        path: String,
        git_ref: String,
    },
    /// A file in a GitHub repository (`owner/name`); the default branch when no ref.
    Github {
        repo: String,
        path: String,
        git_ref: Option<String>,
    },
    /// A file on the service's disk.
    Local { path: PathBuf },
}

impl SourceSpec {
    /// Where the registry is, for messages, in the forge's own URL path style (no `@`, which
    /// comments would have to defuse): `gitlab:legal/cla/-/blob/main/registry.yml`.
    pub fn origin(&self) -> String {
        match self {
            SourceSpec::Gitlab {
                project,
                path,
                git_ref,
            } => format!("gitlab:{project}/-/blob/{git_ref}/{path}"),
            SourceSpec::Github {
                repo,
                path,
                git_ref,
            } => format!(
                "github:{repo}/blob/{}/{path}",
                git_ref.as_deref().unwrap_or("HEAD")
            ),
            SourceSpec::Local { path } => path.display().to_string(),
        }
    }
}

/// Which GitHub API to use and where its token is (an environment variable name: the token
/// itself never appears in configuration, plans or logs).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct GithubApi {
    /// `https://api.github.com` when absent; GitHub Enterprise or a test server otherwise.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Environment variable holding a token. Without one, only public data is visible
    /// (public files, public organisation membership).
    #[serde(default)]
    pub token_env: Option<String>,
}

/// Where to look and what is required: resolved from the `cla:` configuration section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSettings {
    pub source: SourceSpec,
    pub format: RegistryFormat,
    pub cache_ttl_seconds: u64,
    /// Client for GitHub sources and organisation membership checks.
    pub github: GithubApi,
    /// Older signed versions count as missing.
    pub required_version: Option<String>,
}

/// Who the check is about, as named on the issue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subjects {
    pub company: Option<String>,
    pub gitlab_users: Vec<String>,
    pub github_users: Vec<String>,
}

impl Subjects {
    pub fn is_empty(&self) -> bool {
        self.company.is_none() && self.gitlab_users.is_empty() && self.github_users.is_empty()
    }
}
