//! Where the registry is read from, behind one trait: a file in a GitLab repository, in a
//! GitHub repository, or on local disk.

use super::github::GithubClient;
use super::parse::RegistryError;
use crate::forge::{ForgeError, GitlabForge};
use async_trait::async_trait;
pub use labelflow_core::cla::spec::SourceSpec;
use std::path::PathBuf;

/// Why the registry could not be used. Every case means "unknown", never "missing".
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error("{origin}: cannot read the CLA registry: {message}")]
    Unreachable { origin: String, message: String },
    #[error("malformed CLA registry: {0}")]
    Malformed(RegistryError),
    #[error("CLA registry source not usable: {0}")]
    NotConfigured(String),
}

/// Reads the registry file's text.
#[async_trait]
pub trait RegistrySource: Send + Sync {
    fn origin(&self) -> String;
    async fn read(&self) -> Result<String, SourceError>;
}

pub struct LocalFile {
    pub path: PathBuf,
}

#[async_trait]
impl RegistrySource for LocalFile {
    fn origin(&self) -> String {
        self.path.display().to_string()
    }
    async fn read(&self) -> Result<String, SourceError> {
        tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|e| SourceError::Unreachable {
                origin: self.origin(),
                message: e.to_string(),
            })
    }
}

pub struct GitlabFile {
    pub forge: GitlabForge,
    pub project: String,
    pub path: String,
    pub git_ref: String,
}

#[async_trait]
impl RegistrySource for GitlabFile {
    fn origin(&self) -> String {
        SourceSpec::Gitlab {
            project: self.project.clone(),
            path: self.path.clone(),
            git_ref: self.git_ref.clone(),
        }
        .origin()
    }
    async fn read(&self) -> Result<String, SourceError> {
        let bytes = self
            .forge
            .repository_file(&self.project, &self.path, &self.git_ref)
            .await
            .map_err(|e| SourceError::Unreachable {
                origin: self.origin(),
                message: match e {
                    ForgeError::NotFound(_) => "file or project not found".to_string(),
                    other => other.to_string(),
                },
            })?;
        String::from_utf8(bytes).map_err(|_| SourceError::Unreachable {
            origin: self.origin(),
            message: "the file is not UTF-8 text".to_string(),
        })
    }
}

pub struct GithubFile {
    pub client: GithubClient,
    pub repo: String,
    pub path: String,
    pub git_ref: Option<String>,
}

#[async_trait]
impl RegistrySource for GithubFile {
    fn origin(&self) -> String {
        SourceSpec::Github {
            repo: self.repo.clone(),
            path: self.path.clone(),
            git_ref: self.git_ref.clone(),
        }
        .origin()
    }
    async fn read(&self) -> Result<String, SourceError> {
        self.client
            .file(&self.repo, &self.path, self.git_ref.as_deref())
            .await
            .map_err(|e| SourceError::Unreachable {
                origin: self.origin(),
                message: e.to_string(),
            })
    }
}

/// The source for `spec`. A GitLab source needs the forge (absent for a CLI run without
/// GitLab settings); a GitHub source needs a client for `github`.
pub fn open(
    spec: &SourceSpec,
    forge: Option<&GitlabForge>,
    github: impl FnOnce() -> Result<GithubClient, String>,
) -> Result<Box<dyn RegistrySource>, SourceError> {
    Ok(match spec {
        SourceSpec::Local { path } => Box::new(LocalFile { path: path.clone() }),
        SourceSpec::Gitlab {
            project,
            path,
            git_ref,
        } => {
            let forge = forge.ok_or_else(|| {
                SourceError::NotConfigured(format!(
                    "the registry is in GitLab ({}) but no GitLab connection is configured",
                    spec.origin()
                ))
            })?;
            Box::new(GitlabFile {
                forge: forge.clone(),
                project: project.clone(),
                path: path.clone(),
                git_ref: git_ref.clone(),
            })
        }
        SourceSpec::Github {
            repo,
            path,
            git_ref,
        } => Box::new(GithubFile {
            client: github().map_err(SourceError::NotConfigured)?,
            repo: repo.clone(),
            path: path.clone(),
            git_ref: git_ref.clone(),
        }),
    })
}
