//! The project, label and file calls `labelflow setup` makes, over the `gitlab` crate's
//! endpoints and the one retrying client (hooks: [`super::hook_api`]; roles and group labels:
//! [`super::access_api`]).

use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gitlab::api::projects::Project;
use gitlab::api::projects::labels::{CreateLabel, EditLabel, Labels};
use gitlab::api::projects::repository::files::{CreateFile, File, UpdateFile};
use gitlab::api::{self, AsyncQuery, Pagination};
use serde::Deserialize;

pub(crate) fn builder_err(e: impl std::fmt::Display) -> ForgeError {
    ForgeError::Permanent {
        status: 0,
        message: format!("cannot build the request: {e}"),
    }
}

/// The parts of a project setup needs.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiProject {
    pub id: u64,
    pub path_with_namespace: String,
    /// `None` for a project with an empty repository.
    #[serde(default)]
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiLabel {
    pub id: u64,
    pub name: String,
    pub color: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `false` for a label inherited from an ancestor group (the list includes them by default:
    /// `include_ancestor_groups` is true unless said otherwise). Older GitLab omits the field.
    #[serde(default = "yes")]
    pub is_project_label: bool,
}

fn yes() -> bool {
    true
}

/// A repository file's text and the commit that last changed it.
#[derive(Debug, Clone)]
pub struct RepoFile {
    pub content: Vec<u8>,
    pub last_commit_id: String,
}

#[derive(Debug, Deserialize)]
struct ApiFile {
    content: String,
    #[serde(default)]
    encoding: Option<String>,
    last_commit_id: String,
}

pub async fn project(client: &RetryingClient, path: &str) -> Result<ApiProject, ForgeError> {
    Ok(Project::builder()
        .project(path)
        .build()
        .map_err(builder_err)?
        .query_async(client)
        .await?)
}

/// Every project label (all pages).
pub async fn labels(client: &RetryingClient, project: u64) -> Result<Vec<ApiLabel>, ForgeError> {
    let endpoint = Labels::builder()
        .project(project)
        .build()
        .map_err(builder_err)?;
    Ok(api::paged(endpoint, Pagination::All)
        .query_async(client)
        .await?)
}

/// `#rrggbb` → the crate's colour type.
fn color(hex: &str) -> Result<(u8, u8, u8), ForgeError> {
    let part = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(|| builder_err(format!("`{hex}` is not a #RRGGBB colour")))
    };
    if hex.len() != 7 || !hex.starts_with('#') {
        return Err(builder_err(format!("`{hex}` is not a #RRGGBB colour")));
    }
    Ok((part(1)?, part(3)?, part(5)?))
}

pub async fn create_label(
    client: &RetryingClient,
    project: u64,
    name: &str,
    hex: &str,
    description: &str,
) -> Result<(), ForgeError> {
    let endpoint = CreateLabel::builder()
        .project(project)
        .name(name)
        .color(color(hex)?)
        .description(description)
        .build()
        .map_err(builder_err)?;
    api::ignore(endpoint).query_async(client).await?;
    Ok(())
}

/// Sets the colour and/or description of an existing label.
pub async fn edit_label(
    client: &RetryingClient,
    project: u64,
    label_id: u64,
    hex: Option<&str>,
    description: Option<&str>,
) -> Result<(), ForgeError> {
    let mut b = EditLabel::builder();
    b.project(project).label(label_id);
    if let Some(h) = hex {
        b.color(color(h)?);
    }
    if let Some(d) = description {
        b.description(d);
    }
    let endpoint = b.build().map_err(builder_err)?;
    api::ignore(endpoint).query_async(client).await?;
    Ok(())
}

/// The file at `path` on `branch`; `None` when it (or the branch) does not exist.
pub async fn file(
    client: &RetryingClient,
    project: u64,
    path: &str,
    branch: &str,
) -> Result<Option<RepoFile>, ForgeError> {
    let endpoint = File::builder()
        .project(project)
        .file_path(path)
        .ref_(branch)
        .build()
        .map_err(builder_err)?;
    let f: ApiFile = match endpoint.query_async(client).await {
        Ok(f) => f,
        Err(e) => {
            return match ForgeError::from(e) {
                ForgeError::NotFound(_) => Ok(None),
                other => Err(other),
            };
        }
    };
    let content = match f.encoding.as_deref() {
        Some("base64") => STANDARD
            .decode(f.content.trim().replace('\n', ""))
            .map_err(|e| ForgeError::Permanent {
                status: 200,
                message: format!("GitLab sent {path} in invalid base64: {e}"),
            })?,
        _ => f.content.into_bytes(),
    };
    Ok(Some(RepoFile {
        content,
        last_commit_id: f.last_commit_id,
    }))
}

/// Commits a new file; `start_branch` creates `branch` from it first.
pub async fn create_file(
    client: &RetryingClient,
    project: u64,
    path: &str,
    branch: &str,
    start_branch: Option<&str>,
    content: &[u8],
    message: &str,
) -> Result<(), ForgeError> {
    let mut b = CreateFile::builder();
    b.project(project)
        .file_path(path)
        .branch(branch)
        .content(content)
        .commit_message(message);
    if let Some(start) = start_branch {
        b.start_branch(start);
    }
    let endpoint = b.build().map_err(builder_err)?;
    api::ignore(endpoint).query_async(client).await?;
    Ok(())
}

/// Updates a file, refusing (GitLab answers 400) if it changed since `last_commit_id`.
pub async fn update_file(
    client: &RetryingClient,
    project: u64,
    path: &str,
    branch: &str,
    content: &[u8],
    message: &str,
    last_commit_id: &str,
) -> Result<(), ForgeError> {
    let endpoint = UpdateFile::builder()
        .project(project)
        .file_path(path)
        .branch(branch)
        .content(content)
        .commit_message(message)
        .last_commit_id(last_commit_id)
        .build()
        .map_err(builder_err)?;
    api::ignore(endpoint).query_async(client).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_as_rgb() {
        assert_eq!(color("#1f75CB").expect("valid"), (0x1f, 0x75, 0xcb));
        assert!(color("red").is_err());
        assert!(color("#12345").is_err());
        assert!(color("#12345g").is_err());
    }
}
