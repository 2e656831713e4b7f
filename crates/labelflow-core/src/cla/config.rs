//! The optional top-level `cla:` section of `labelflow.yml`: where the registry is, what is
//! required, who to contact, which labels to use and who the subject of a check is.

use super::model::Version;
use super::parse::RegistryFormat;
use super::spec::{CheckSettings, GithubApi, SourceSpec};
use crate::spanned::Sp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaConfig {
    pub source: SourceConfig,
    /// `auto` (by file name), `yaml` or `csv`.
    #[serde(default)]
    pub format: RegistryFormat,
    /// How long a read registry is trusted before it is read again.
    #[serde(default = "default_ttl")]
    pub cache_ttl_seconds: u64,
    /// Signatures of older versions count as missing.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub required_version: Option<Sp>,
    /// How to start an agreement: the CLA managers' address (email or URL), quoted in the
    /// `missing` comment.
    pub managers: String,
    /// GitHub API for GitHub sources and organisation membership checks.
    #[serde(default)]
    pub github: GithubApi,
    #[serde(default)]
    pub labels: ClaLabels,
    /// Default subject of `cla_check` actions (each action may override it).
    #[serde(default)]
    pub subject: SubjectConfig,
}

fn default_ttl() -> u64 {
    300
}

/// Where the registry file is.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A file in a GitLab repository (project name from `projects:` or a path).
    Gitlab {
        #[schemars(with = "String")]
        project: Sp,
        path: String,
        #[serde(rename = "ref", default = "default_ref")]
        git_ref: String,
    },
    /// A file in a GitHub repository (`owner/name`).
    Github {
        #[schemars(with = "String")]
        repo: Sp,
        path: String,
        #[serde(rename = "ref", default)]
        git_ref: Option<String>,
    },
    /// A file on disk, relative to the configuration file.
    Local { path: String },
}

fn default_ref() -> String {
    "main".to_string()
}

/// The three outcome labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaLabels {
    #[serde(default = "signed_label")]
    pub signed: String,
    #[serde(default = "missing_label")]
    pub missing: String,
    #[serde(default = "unknown_label")]
    pub unknown: String,
}

fn signed_label() -> String {
    "cla::signed".to_string()
}
fn missing_label() -> String {
    "cla::missing".to_string()
}
fn unknown_label() -> String {
    "cla::unknown".to_string()
}

impl Default for ClaLabels {
    fn default() -> Self {
        ClaLabels {
            signed: signed_label(),
            missing: missing_label(),
            unknown: unknown_label(),
        }
    }
}

impl ClaLabels {
    pub fn all(&self) -> [&str; 3] {
        [&self.signed, &self.missing, &self.unknown]
    }
}

/// Which description fields name the subject of a check.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectConfig {
    /// Field holding the company name (`Customer`).
    #[serde(default)]
    pub company_field: Option<String>,
    /// Field listing GitLab usernames (`@alice, @bob`).
    #[serde(default)]
    pub usernames_field: Option<String>,
    /// Field listing GitHub usernames.
    #[serde(default)]
    pub github_users_field: Option<String>,
}

/// `cla_check` in a rule: `{}` uses the `cla.subject` defaults; fields given here override.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaCheckSpec {
    #[serde(default)]
    pub company_field: Option<String>,
    #[serde(default)]
    pub usernames_field: Option<String>,
    #[serde(default)]
    pub github_users_field: Option<String>,
}

impl ClaCheckSpec {
    /// The subject fields after applying the section defaults.
    pub fn resolve(&self, defaults: &SubjectConfig) -> SubjectConfig {
        SubjectConfig {
            company_field: self
                .company_field
                .clone()
                .or_else(|| defaults.company_field.clone()),
            usernames_field: self
                .usernames_field
                .clone()
                .or_else(|| defaults.usernames_field.clone()),
            github_users_field: self
                .github_users_field
                .clone()
                .or_else(|| defaults.github_users_field.clone()),
        }
    }
}

impl ClaConfig {
    /// The check settings with names resolved: GitLab project names through `projects`,
    /// local paths against the configuration file's directory.
    pub fn settings(
        &self,
        config_path: &Path,
        projects: &BTreeMap<String, String>,
    ) -> CheckSettings {
        let source = match &self.source {
            SourceConfig::Gitlab {
                project,
                path,
                git_ref,
            } => SourceSpec::Gitlab {
                project: projects
                    .get(&project.value)
                    .cloned()
                    .unwrap_or_else(|| project.value.clone()),
                path: path.clone(),
                git_ref: git_ref.clone(),
            },
            SourceConfig::Github {
                repo,
                path,
                git_ref,
            } => SourceSpec::Github {
                repo: repo.value.clone(),
                path: path.clone(),
                git_ref: git_ref.clone(),
            },
            SourceConfig::Local { path } => SourceSpec::Local {
                path: config_path.parent().unwrap_or(Path::new(".")).join(path),
            },
        };
        CheckSettings {
            source,
            format: self.format,
            cache_ttl_seconds: self.cache_ttl_seconds,
            github: self.github.clone(),
            required_version: self.required_version.as_ref().map(|v| v.value.clone()),
        }
    }

    /// Problems in the section, with the value to point at when there is one.
    pub fn problems(&self, projects: &BTreeMap<String, String>) -> Vec<(Option<&Sp>, String)> {
        let mut out = Vec::new();
        if let Some(v) = &self.required_version
            && let Err(e) = Version::parse(&v.value)
        {
            out.push((Some(v), format!("cla.required_version: {e}")));
        }
        match &self.source {
            SourceConfig::Gitlab { project, .. }
                if !projects.contains_key(&project.value) && !project.value.contains('/') =>
            {
                out.push((
                    Some(project),
                    format!(
                        "cla.source: unknown project `{}` (expected a name from `projects:` or a group/project path)",
                        project.value
                    ),
                ));
            }
            SourceConfig::Github { repo, .. } if repo.value.split('/').count() != 2 => {
                out.push((
                    Some(repo),
                    format!(
                        "cla.source: `{}` is not an owner/repository name",
                        repo.value
                    ),
                ));
            }
            _ => {}
        }
        if self.managers.trim().is_empty() {
            out.push((
                None,
                "cla.managers: empty (the `missing` comment must say whom to contact)".to_string(),
            ));
        }
        let labels = self.labels.all();
        for l in labels {
            if l.trim().is_empty() || l.contains(',') || l.trim() != l {
                out.push((None, format!("cla.labels: `{l}` is not a valid label name")));
            }
        }
        if labels[0] == labels[1] || labels[1] == labels[2] || labels[0] == labels[2] {
            out.push((None, "cla.labels: the three labels must differ".to_string()));
        }
        out
    }
}
