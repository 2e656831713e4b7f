//! The reads that tell setup what the bot may do, and the group-label calls the `gitlab` crate
//! has no endpoint for. Shapes from GitLab's REST docs: Users API (`GET /user`, `is_admin`
//! only for administrators), Members API (`GET /projects/:id/members/all/:user_id` and
//! `/groups/:id/members/all/:user_id`: inherited members included, 404 for non-members;
//! access levels 10 Guest, 15 Planner, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner),
//! Group labels API (`GET /groups/:id/labels`, `PUT /groups/:id/labels/:label_id`) and
//! Protected branches API (`GET /projects/:id/protected_branches`, `push_access_levels`; it
//! needs Maintainer) and Branches API (`GET /projects/:id/repository/branches/:branch`:
//! `protected`, `developers_can_push`, `can_push`; Reporters may read it).

use super::api::builder_err;
use crate::forge::ForgeError;
use crate::forge::retry::RetryingClient;
use gitlab::api::projects::members::AllProjectMember;
use gitlab::api::projects::protected_branches::ProtectedBranches;
use gitlab::api::projects::repository::branches::Branch;
use gitlab::api::users::CurrentUser;
use gitlab::api::{self, AsyncQuery, BodyError, Endpoint, FormParams, Pageable, Pagination};
use gitlab::api::{QueryParams, common::NameOrId};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Deserialize)]
pub struct ApiUser {
    pub id: u64,
    pub username: String,
    #[serde(default)]
    pub is_admin: bool,
}

#[derive(Debug, Deserialize)]
struct ApiMember {
    access_level: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiGroupLabel {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiAccessLevel {
    pub access_level: u32,
    #[serde(default)]
    pub user_id: Option<u64>,
    #[serde(default)]
    pub group_id: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiProtectedBranch {
    pub name: String,
    #[serde(default)]
    pub push_access_levels: Vec<ApiAccessLevel>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiBranch {
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub developers_can_push: bool,
}

/// What the Branches API says about a branch.
#[derive(Debug, Clone)]
pub enum BranchInfo {
    Found(ApiBranch),
    Missing,
    /// The bot may not read the repository.
    Unreadable,
}

pub async fn branch(
    client: &RetryingClient,
    project: u64,
    name: &str,
) -> Result<BranchInfo, ForgeError> {
    let endpoint = Branch::builder()
        .project(project)
        .branch(name)
        .build()
        .map_err(builder_err)?;
    match endpoint.query_async(client).await {
        Ok(b) => Ok(BranchInfo::Found(b)),
        Err(e) => match ForgeError::from(e) {
            ForgeError::NotFound(_) => Ok(BranchInfo::Missing),
            ForgeError::Permanent { status: 403, .. } => Ok(BranchInfo::Unreadable),
            other => Err(other),
        },
    }
}

pub async fn current_user(client: &RetryingClient) -> Result<ApiUser, ForgeError> {
    Ok(CurrentUser::builder()
        .build()
        .map_err(builder_err)?
        .query_async(client)
        .await?)
}

/// A 404 means "not a member": level 0.
fn level_or_zero(r: Result<ApiMember, ForgeError>) -> Result<u32, ForgeError> {
    match r {
        Ok(m) => Ok(m.access_level),
        Err(ForgeError::NotFound(_)) => Ok(0),
        Err(e) => Err(e),
    }
}

/// The bot's role in the project, inherited ones included.
pub async fn project_access(
    client: &RetryingClient,
    project: u64,
    user: u64,
) -> Result<u32, ForgeError> {
    let endpoint = AllProjectMember::builder()
        .project(project)
        .user(user)
        .build()
        .map_err(builder_err)?;
    level_or_zero(endpoint.query_async(client).await.map_err(Into::into))
}

/// `GET` of a path with query parameters: for the endpoints the crate lacks.
struct Get<'a> {
    path: String,
    params: &'a [(&'a str, &'a str)],
}

impl Endpoint for Get<'_> {
    fn method(&self) -> http::Method {
        http::Method::GET
    }

    fn endpoint(&self) -> Cow<'static, str> {
        self.path.clone().into()
    }

    fn parameters(&self) -> QueryParams<'_> {
        let mut params = QueryParams::default();
        for (k, v) in self.params {
            params.push(*k, *v);
        }
        params
    }
}

impl Pageable for Get<'_> {}

fn group_path(group: &str) -> String {
    NameOrId::from(group).to_string()
}

/// The bot's role in the group (inherited from its parents too); 0 when not a member or when
/// the group cannot be read.
pub async fn group_access(
    client: &RetryingClient,
    group: &str,
    user: u64,
) -> Result<u32, ForgeError> {
    let endpoint = Get {
        path: format!("groups/{}/members/all/{user}", group_path(group)),
        params: &[],
    };
    match level_or_zero(endpoint.query_async(client).await.map_err(Into::into)) {
        Err(ForgeError::Permanent { status: 403, .. }) => Ok(0),
        other => other,
    }
}

/// The group's own labels (not its parents'); `None` when the group cannot be read.
pub async fn own_group_labels(
    client: &RetryingClient,
    group: &str,
) -> Result<Option<Vec<ApiGroupLabel>>, ForgeError> {
    let endpoint = Get {
        path: format!("groups/{}/labels", group_path(group)),
        params: &[("include_ancestor_groups", "false")],
    };
    match api::paged(endpoint, Pagination::All)
        .query_async(client)
        .await
    {
        Ok(labels) => Ok(Some(labels)),
        Err(e) => match ForgeError::from(e) {
            ForgeError::NotFound(_) | ForgeError::Permanent { status: 403, .. } => Ok(None),
            other => Err(other),
        },
    }
}

/// The project's protected branches; `None` when the bot may not read them.
pub async fn protected_branches(
    client: &RetryingClient,
    project: u64,
) -> Result<Option<Vec<ApiProtectedBranch>>, ForgeError> {
    let endpoint = ProtectedBranches::builder()
        .project(project)
        .build()
        .map_err(builder_err)?;
    match api::paged(endpoint, Pagination::All)
        .query_async(client)
        .await
    {
        Ok(b) => Ok(Some(b)),
        Err(e) => match ForgeError::from(e) {
            ForgeError::Permanent { status: 403, .. } => Ok(None),
            other => Err(other),
        },
    }
}

/// `PUT /groups/:id/labels/:label_id` with a colour and/or description.
struct EditGroupLabel<'a> {
    group: &'a str,
    label: u64,
    color: Option<&'a str>,
    description: Option<&'a str>,
}

impl Endpoint for EditGroupLabel<'_> {
    fn method(&self) -> http::Method {
        http::Method::PUT
    }

    fn endpoint(&self) -> Cow<'static, str> {
        format!("groups/{}/labels/{}", group_path(self.group), self.label).into()
    }

    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, BodyError> {
        let mut params = FormParams::default();
        params
            .push_opt("color", self.color)
            .push_opt("description", self.description);
        params.into_body()
    }
}

pub async fn edit_group_label(
    client: &RetryingClient,
    group: &str,
    label: u64,
    color: Option<&str>,
    description: Option<&str>,
) -> Result<(), ForgeError> {
    let endpoint = EditGroupLabel {
        group,
        label,
        color,
        description,
    };
    api::ignore(endpoint).query_async(client).await?;
    Ok(())
}
