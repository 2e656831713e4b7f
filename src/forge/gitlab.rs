//! Typed GitLab operations over the `gitlab` crate's endpoints. Responses are read into our own
//! minimal structs (the crate lets the caller pick the type), tolerant of fields GitLab adds.

use super::error::ForgeError;
use super::retry::{RetryPolicy, RetryingClient};
use crate::domain::{IssueState, IssueStatus};
use crate::metrics::Metrics;
use chrono::{DateTime, Utc};
use gitlab::api::{self, AsyncQuery, Pagination, projects::issues, users};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Deserialize)]
struct ApiUser {
    id: u64,
    username: String,
}

#[derive(Debug, Deserialize)]
struct ApiReferences {
    full: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiIssue {
    id: u64,
    iid: u64,
    project_id: u64,
    title: String,
    #[serde(default)]
    description: Option<String>,
    state: String,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    assignees: Vec<ApiUser>,
    author: ApiUser,
    #[serde(default)]
    confidential: bool,
    web_url: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    references: Option<ApiReferences>,
}

impl ApiIssue {
    /// `group/project` from `references.full` (`group/project#12`), else from the web URL.
    fn project_path(&self) -> String {
        if let Some(full) = self.references.as_ref().and_then(|r| r.full.as_deref())
            && let Some((path, _)) = full.rsplit_once('#')
        {
            return path.to_string();
        }
        project_path_from_url(&self.web_url)
    }

    fn into_state(self) -> IssueState {
        let project_path = self.project_path();
        IssueState {
            id: self.id,
            iid: self.iid,
            project_id: self.project_id,
            project_path,
            title: self.title,
            description: self.description.unwrap_or_default(),
            state: if self.state == "closed" {
                IssueStatus::Closed
            } else {
                IssueStatus::Opened
            },
            labels: self.labels,
            assignees: self.assignees.into_iter().map(|u| u.username).collect(),
            author: self.author.username,
            confidential: self.confidential,
            web_url: self.web_url,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status: None,
            work_item_type: "Issue".to_string(),
            custom_fields: Default::default(),
        }
    }
}

/// Reads an issue as GitLab's REST API returns it (`GET /projects/:id/issues/:iid`).
pub fn issue_from_json(text: &str) -> Result<IssueState, serde_json::Error> {
    serde_json::from_str::<ApiIssue>(text).map(ApiIssue::into_state)
}

/// Reads an issue from a JSON value a listing already parsed (sweeps stream them).
pub fn issue_from_value(value: serde_json::Value) -> Result<IssueState, serde_json::Error> {
    serde_json::from_value::<ApiIssue>(value).map(ApiIssue::into_state)
}

/// `https://host/group/sub/project/-/issues/12` → `group/sub/project`.
fn project_path_from_url(url: &str) -> String {
    let after_host = url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(url)
        .split_once('/')
        .map(|(_, r)| r)
        .unwrap_or("");
    let path = after_host
        .split("/-/")
        .next()
        .unwrap_or(after_host)
        .split("/issues/")
        .next()
        .unwrap_or("");
    path.trim_matches('/').to_string()
}

#[derive(Debug, Deserialize)]
struct ApiNote {
    id: u64,
    body: String,
    author: ApiUser,
}

#[derive(Debug, Deserialize)]
struct ApiProject {
    id: u64,
    path_with_namespace: String,
}

/// An issue the bot created.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CreatedIssue {
    pub project_id: u64,
    pub iid: u64,
    pub web_url: String,
    /// `group/project#12`.
    pub reference: String,
}

/// An issue linked to another (GitLab's "linked items").
#[derive(Debug, Clone)]
pub struct LinkedIssue {
    pub project_id: u64,
    pub project_path: String,
    pub iid: u64,
    pub author: String,
    pub web_url: String,
}

/// A change to an issue, sent as one `PUT`.
#[derive(Debug, Clone, Default)]
pub struct IssueEdit {
    pub add_labels: Vec<String>,
    pub remove_labels: Vec<String>,
    pub close: Option<bool>,
    pub assignee_ids: Option<Vec<u64>>,
    pub confidential: Option<bool>,
}

/// GitLab, as the rest of labelflow sees it.
#[derive(Clone)]
pub struct GitlabForge {
    client: RetryingClient,
    bot_username: String,
    user_ids: Arc<Mutex<HashMap<String, u64>>>,
    project_ids: Arc<Mutex<HashMap<String, u64>>>,
}

impl GitlabForge {
    /// Connects to the GitLab at `base_url` (`https://gitlab.example.com`, or `http://…` for a
    /// local simulator) with the bot's token. The `gitlab` crate checks the token with
    /// `GET /user` here; the answer tells us the bot's username.
    pub async fn connect(
        base_url: &str,
        token: &str,
        policy: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ForgeError> {
        let url = url::Url::parse(base_url).map_err(|e| ForgeError::Permanent {
            status: 0,
            message: format!("invalid GitLab URL `{base_url}`: {e}"),
        })?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => {
                return Err(ForgeError::Permanent {
                    status: 0,
                    message: format!("GitLab URL `{base_url}` has no host"),
                });
            }
        };
        // Built without the token, so the crate does not check it with a `GET /user` of its
        // own: the one below checks it and tells us the bot's username.
        let mut builder = gitlab::GitlabBuilder::new_unauthenticated(host);
        if url.scheme() == "http" {
            builder.insecure();
        }
        let inner = tokio::time::timeout(policy.request_timeout * 2, builder.build_async())
            .await
            .map_err(|_| ForgeError::Transient(format!("GitLab at {base_url} did not answer")))?
            .map_err(|e| {
                ForgeError::Transient(format!("cannot reach GitLab at {base_url}: {e}"))
            })?;
        let client = RetryingClient::new(inner, policy, metrics)
            .with_token(token)
            .map_err(|e| ForgeError::Permanent {
                status: 0,
                message: e.to_string(),
            })?;
        let me: ApiUser = users::CurrentUser::builder()
            .build()
            .map_err(builder_err)?
            .query_async(&client)
            .await
            .map_err(|e| match ForgeError::from(e) {
                ForgeError::Permanent { status: 401, .. } => ForgeError::Permanent {
                    status: 401,
                    message: "GitLab rejected the bot token (401 Unauthorized)".into(),
                },
                other => other,
            })?;
        Ok(GitlabForge {
            client,
            bot_username: me.username,
            user_ids: Arc::default(),
            project_ids: Arc::default(),
        })
    }

    /// The username of the account whose token we use.
    pub fn bot_username(&self) -> &str {
        &self.bot_username
    }

    pub fn client(&self) -> &RetryingClient {
        &self.client
    }

    pub async fn get_issue(&self, project_id: u64, iid: u64) -> Result<IssueState, ForgeError> {
        let issue: ApiIssue = issues::Issue::builder()
            .project(project_id)
            .issue(iid)
            .build()
            .map_err(builder_err)?
            .query_async(&self.client)
            .await?;
        Ok(issue.into_state())
    }

    pub async fn project_id(&self, path: &str) -> Result<u64, ForgeError> {
        if let Some(id) = lock(&self.project_ids).get(path) {
            return Ok(*id);
        }
        let p: ApiProject = api::projects::Project::builder()
            .project(path)
            .build()
            .map_err(builder_err)?
            .query_async(&self.client)
            .await?;
        lock(&self.project_ids).insert(p.path_with_namespace.clone(), p.id);
        lock(&self.project_ids).insert(path.to_string(), p.id);
        Ok(p.id)
    }

    /// User ids for usernames (assignments take ids). Unknown users are a permanent error
    /// naming them, so a typo in the directory is visible.
    pub async fn user_ids(&self, usernames: &[String]) -> Result<Vec<u64>, ForgeError> {
        let mut out = Vec::new();
        for name in usernames {
            if let Some(id) = lock(&self.user_ids).get(name) {
                out.push(*id);
                continue;
            }
            let found: Vec<ApiUser> = users::Users::builder()
                .username(name.as_str())
                .build()
                .map_err(builder_err)?
                .query_async(&self.client)
                .await?;
            let user = found
                .into_iter()
                .find(|u| u.username.eq_ignore_ascii_case(name))
                .ok_or_else(|| ForgeError::Permanent {
                    status: 404,
                    message: format!(
                        "no GitLab user `{name}` (check the directory in the configuration)"
                    ),
                })?;
            lock(&self.user_ids).insert(name.clone(), user.id);
            out.push(user.id);
        }
        Ok(out)
    }

    pub async fn create_note(
        &self,
        project_id: u64,
        iid: u64,
        body: &str,
    ) -> Result<u64, ForgeError> {
        let note: ApiNote = issues::notes::CreateIssueNote::builder()
            .project(project_id)
            .issue(iid)
            .body(body)
            .build()
            .map_err(builder_err)?
            .query_async(&self.client)
            .await?;
        Ok(note.id)
    }

    /// Replaces a note's text (the explain comment, kept up to date in place).
    pub async fn edit_note(
        &self,
        project_id: u64,
        iid: u64,
        note_id: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let _: ApiNote = issues::notes::EditIssueNote::builder()
            .project(project_id)
            .issue(iid)
            .note(note_id)
            .body(body)
            .build()
            .map_err(builder_err)?
            .query_async(&self.client)
            .await?;
        Ok(())
    }

    /// The bot's own note ending with the marker `<!-- labelflow:MARKER_ID -->`, if any.
    /// Notes by anyone else are ignored, and so is a marker id quoted inside a bot note (user
    /// text the bot rendered), so pasting a marker cannot suppress a real action.
    pub async fn find_bot_note(
        &self,
        project_id: u64,
        iid: u64,
        marker_id: &str,
    ) -> Result<Option<u64>, ForgeError> {
        let notes: Vec<ApiNote> = api::paged(
            issues::notes::IssueNotes::builder()
                .project(project_id)
                .issue(iid)
                .build()
                .map_err(builder_err)?,
            Pagination::All,
        )
        .query_async(&self.client)
        .await?;
        Ok(notes
            .into_iter()
            .find(|n| {
                n.author.username == self.bot_username && ends_with_marker(&n.body, marker_id)
            })
            .map(|n| n.id))
    }

    pub async fn create_issue(
        &self,
        project_path: &str,
        title: &str,
        description: &str,
        labels: &[String],
        assignee_ids: &[u64],
        confidential: bool,
    ) -> Result<CreatedIssue, ForgeError> {
        let mut b = issues::CreateIssue::builder();
        b.project(project_path)
            .title(title)
            .description(description)
            .confidential(confidential);
        if !labels.is_empty() {
            b.labels(labels.iter().map(String::as_str));
        }
        if !assignee_ids.is_empty() {
            b.assignee_ids(assignee_ids.iter().copied());
        }
        let issue: ApiIssue = b
            .build()
            .map_err(builder_err)?
            .query_async(&self.client)
            .await?;
        Ok(created(issue))
    }

    /// An issue the bot created in `project_path` whose description ends with the marker
    /// `<!-- labelflow:MARKER_ID -->` (searched by the id, then checked exactly).
    pub async fn find_bot_issue(
        &self,
        project_path: &str,
        marker_id: &str,
    ) -> Result<Option<CreatedIssue>, ForgeError> {
        let found: Vec<ApiIssue> = issues::Issues::builder()
            .project(project_path)
            .search(marker_id)
            .search_in(issues::IssueSearchScope::Description)
            .build()
            .map_err(builder_err)?
            .query_async(&self.client)
            .await?;
        Ok(found
            .into_iter()
            .find(|i| {
                i.author.username == self.bot_username
                    && i.description
                        .as_deref()
                        .is_some_and(|d| ends_with_marker(d, marker_id))
            })
            .map(created))
    }

    pub async fn link_issues(
        &self,
        project_id: u64,
        iid: u64,
        target_project_id: u64,
        target_iid: u64,
    ) -> Result<(), ForgeError> {
        let r = api::ignore(
            issues::links::CreateIssueLink::builder()
                .project(project_id)
                .issue(iid)
                .target_project(target_project_id)
                .target_issue(target_iid)
                .build()
                .map_err(builder_err)?,
        )
        .query_async(&self.client)
        .await;
        match r.map_err(ForgeError::from) {
            Ok(()) => Ok(()),
            // GitLab answers 409 when the link already exists: that is what we wanted.
            Err(ForgeError::Permanent { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn linked_issues(
        &self,
        project_id: u64,
        iid: u64,
    ) -> Result<Vec<LinkedIssue>, ForgeError> {
        let found: Vec<ApiIssue> = issues::links::IssueLinks::builder()
            .project(project_id)
            .issue(iid)
            .build()
            .map_err(builder_err)?
            .query_async(&self.client)
            .await?;
        Ok(found
            .into_iter()
            .map(|i| LinkedIssue {
                project_id: i.project_id,
                project_path: i.project_path(),
                iid: i.iid,
                author: i.author.username.clone(),
                web_url: i.web_url.clone(),
            })
            .collect())
    }

    pub async fn edit_issue(
        &self,
        project_id: u64,
        iid: u64,
        edit: &IssueEdit,
    ) -> Result<(), ForgeError> {
        let mut b = issues::EditIssue::builder();
        b.project(project_id).issue(iid);
        for l in &edit.add_labels {
            b.add_label(l.as_str());
        }
        for l in &edit.remove_labels {
            b.remove_label(l.as_str());
        }
        if let Some(close) = edit.close {
            b.state_event(if close {
                issues::IssueStateEvent::Close
            } else {
                issues::IssueStateEvent::Reopen
            });
        }
        if let Some(ids) = &edit.assignee_ids {
            b.assignee_ids(ids.iter().copied());
        }
        if let Some(c) = edit.confidential {
            b.confidential(c);
        }
        api::ignore(b.build().map_err(builder_err)?)
            .query_async(&self.client)
            .await?;
        Ok(())
    }
}

/// Whether `body` ends with the hidden marker the executor appends. Only the whole comment
/// at the very end counts: user text the bot rendered is escaped (no `<!--`) and never last.
fn ends_with_marker(body: &str, marker_id: &str) -> bool {
    body.trim_end()
        .ends_with(&labelflow_core::actions::marker(marker_id))
}

fn created(i: ApiIssue) -> CreatedIssue {
    let reference = format!("{}#{}", i.project_path(), i.iid);
    CreatedIssue {
        project_id: i.project_id,
        iid: i.iid,
        web_url: i.web_url,
        reference,
    }
}

fn builder_err(e: impl std::fmt::Display) -> ForgeError {
    ForgeError::Permanent {
        status: 0,
        message: format!("invalid request: {e}"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_from_urls() {
        assert_eq!(
            project_path_from_url("https://gitlab.com/group/sub/proj/-/issues/12"),
            "group/sub/proj"
        );
        assert_eq!(
            project_path_from_url("http://example.com/diaspora/issues/23"),
            "diaspora"
        );
    }
}
