//! Repository files and public profile data: what the CLA check reads from GitLab.

use super::error::ForgeError;
use super::gitlab::GitlabForge;
use gitlab::api::{self, AsyncQuery, projects::repository::files::FileRaw, users};
use serde::Deserialize;

#[derive(Deserialize)]
struct UserId {
    id: u64,
    username: String,
}

#[derive(Deserialize)]
struct UserProfile {
    #[serde(default)]
    public_email: Option<String>,
}

fn invalid(e: impl std::fmt::Display) -> ForgeError {
    ForgeError::Permanent {
        status: 0,
        message: format!("invalid request: {e}"),
    }
}

impl GitlabForge {
    /// The raw content of `file_path` in `project` (path or id) at `git_ref` (branch, tag or
    /// commit), through the repository files API.
    pub async fn repository_file(
        &self,
        project: &str,
        file_path: &str,
        git_ref: &str,
    ) -> Result<Vec<u8>, ForgeError> {
        let endpoint = FileRaw::builder()
            .project(project)
            .file_path(file_path)
            .ref_(git_ref)
            .build()
            .map_err(invalid)?;
        Ok(api::raw(endpoint).query_async(self.client()).await?)
    }

    /// The public email a user chose to show on their profile (GitLab only lets a verified
    /// address be public), or `None` when they show none or do not exist.
    pub async fn public_email(&self, username: &str) -> Result<Option<String>, ForgeError> {
        let found: Vec<UserId> = users::Users::builder()
            .username(username)
            .build()
            .map_err(invalid)?
            .query_async(self.client())
            .await?;
        let Some(user) = found
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
        else {
            return Ok(None);
        };
        let profile: UserProfile = users::User::builder()
            .user(user.id)
            .build()
            .map_err(invalid)?
            .query_async(self.client())
            .await?;
        Ok(profile.public_email.filter(|e| !e.trim().is_empty()))
    }
}
