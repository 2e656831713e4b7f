//! Work item statuses and types through GitLab's GraphQL API: the Issues REST API has no status
//! (gitlab issue 560083), so reading and setting one takes the work item widgets.
//!
//! Requests go through the same [`RetryingClient`](super::retry::RetryingClient) as REST (one
//! retry and rate-limit policy). The `gitlab` crate's own `graphql_async` would bypass it, so the
//! bodies are `graphql_client`'s [`QueryBody`] sent with the client's `rest_async`, and the
//! answers are read into typed structs below. Shapes follow GitLab's GraphQL reference:
//! `WorkItem.widgets` / `WorkItemWidgetStatus.status` (`WorkItemStatus`: `id`, `name`,
//! `category`), `WorkItemWidgetDefinitionStatus.allowedStatuses`, and
//! `workItemUpdate(input: {id, statusWidget: {status}})`.

use super::error::ForgeError;
use super::gitlab::GitlabForge;
use crate::domain::{IssueState, WorkItemStatus};
use gitlab::api::{AsyncClient, RestClient};
use graphql_client::{QueryBody, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A work item as the status features need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItemFacts {
    /// `gid://gitlab/WorkItem/123`, which the update mutation takes.
    pub gid: String,
    pub work_item_type: String,
    pub status: Option<WorkItemStatus>,
}

#[derive(Debug, Deserialize)]
struct GqlStatus {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    category: Option<String>,
}

impl GqlStatus {
    fn into_domain(self) -> WorkItemStatus {
        WorkItemStatus {
            id: self.id,
            name: self.name,
            // GraphQL writes the enum upper case (`IN_PROGRESS`), webhooks lower case.
            category: self.category.unwrap_or_default().to_lowercase(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlWidget {
    #[serde(default)]
    status: Option<GqlStatus>,
}

#[derive(Debug, Deserialize)]
struct GqlName {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlWorkItem {
    id: String,
    work_item_type: GqlName,
    #[serde(default)]
    widgets: Vec<GqlWidget>,
}

impl GqlWorkItem {
    fn into_facts(self) -> WorkItemFacts {
        WorkItemFacts {
            gid: self.id,
            work_item_type: self.work_item_type.name,
            status: self
                .widgets
                .into_iter()
                .find_map(|w| w.status)
                .map(GqlStatus::into_domain),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectWorkItems {
    project: Option<ProjectWorkItemsInner>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectWorkItemsInner {
    work_items: Option<Nodes<GqlWorkItem>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectTypes {
    project: Option<ProjectTypesInner>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectTypesInner {
    work_item_types: Nodes<GqlType>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlType {
    name: String,
    #[serde(default)]
    widget_definitions: Vec<GqlDefinition>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlDefinition {
    #[serde(default)]
    allowed_statuses: Option<Vec<GqlStatus>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateData {
    work_item_update: Option<UpdatePayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatePayload {
    #[serde(default)]
    work_item: Option<GqlWorkItem>,
    #[serde(default)]
    errors: Vec<String>,
}

const WORK_ITEM_QUERY: &str = "query labelflowWorkItem($fullPath: ID!, $iid: String!) { \
     project(fullPath: $fullPath) { workItems(iid: $iid) { nodes { \
     id workItemType { name } \
     widgets { type ... on WorkItemWidgetStatus { status { id name category } } } \
     } } } }";

const ALLOWED_STATUSES_QUERY: &str = "query labelflowStatuses($fullPath: ID!) { \
     project(fullPath: $fullPath) { workItemTypes { nodes { name \
     widgetDefinitions { type ... on WorkItemWidgetDefinitionStatus { \
     allowedStatuses { id name category } } } } } } }";

const SET_STATUS_MUTATION: &str = "mutation labelflowSetStatus($id: WorkItemID!, \
     $status: WorkItemsStatusesStatusID!) { \
     workItemUpdate(input: { id: $id, statusWidget: { status: $status } }) { \
     workItem { id workItemType { name } \
     widgets { type ... on WorkItemWidgetStatus { status { id name category } } } } \
     errors } }";

impl GitlabForge {
    /// The issue as REST has it; with `work_item`, its status and type from GraphQL too.
    pub async fn get_item(
        &self,
        project_id: u64,
        iid: u64,
        work_item: bool,
    ) -> Result<IssueState, ForgeError> {
        let mut issue = self.get_issue(project_id, iid).await?;
        if work_item {
            let facts = self.work_item(&issue.project_path, iid).await?;
            issue.status = facts.status;
            issue.work_item_type = facts.work_item_type;
        }
        Ok(issue)
    }

    /// Sends one GraphQL operation through the retrying client and reads its `data`.
    async fn graphql<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        query: &'static str,
        variables: serde_json::Value,
    ) -> Result<T, ForgeError> {
        let client = self.client();
        let url = client
            .instance_endpoint("api/graphql")
            .map_err(ForgeError::from)?;
        let body = serde_json::to_vec(&QueryBody {
            variables,
            query,
            operation_name: operation,
        })
        .map_err(|e| ForgeError::Transient(format!("cannot encode a GraphQL request: {e}")))?;
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json");
        let rsp = client.rest_async(request, body).await?;
        let status = rsp.status();
        if !status.is_success() {
            let message = super::body_excerpt(rsp.body());
            return Err(match status.as_u16() {
                s if s >= 500 => ForgeError::Transient(format!("{status}: {message}")),
                s => ForgeError::Permanent { status: s, message },
            });
        }
        let parsed: Response<T> = serde_json::from_slice(rsp.body()).map_err(|_| {
            ForgeError::Transient(format!(
                "GitLab's GraphQL answer to `{operation}` did not have the expected shape"
            ))
        })?;
        if let Some(errors) = parsed.errors.filter(|e| !e.is_empty()) {
            let message = errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(ForgeError::Permanent {
                status: 200,
                message: format!("GraphQL `{operation}` failed: {message}"),
            });
        }
        parsed.data.ok_or_else(|| ForgeError::Permanent {
            status: 200,
            message: format!("GraphQL `{operation}` returned no data"),
        })
    }

    /// The work item's global ID, type and status.
    pub async fn work_item(
        &self,
        project_path: &str,
        iid: u64,
    ) -> Result<WorkItemFacts, ForgeError> {
        let data: ProjectWorkItems = self
            .graphql(
                "labelflowWorkItem",
                WORK_ITEM_QUERY,
                json!({ "fullPath": project_path, "iid": iid.to_string() }),
            )
            .await?;
        data.project
            .and_then(|p| p.work_items)
            .and_then(|w| w.nodes.into_iter().next())
            .map(GqlWorkItem::into_facts)
            .ok_or_else(|| ForgeError::NotFound(format!("work item {project_path}#{iid}")))
    }

    /// The statuses each work item type of the project allows (its lifecycle), by type name.
    pub async fn allowed_statuses(
        &self,
        project_path: &str,
    ) -> Result<Vec<(String, Vec<WorkItemStatus>)>, ForgeError> {
        let data: ProjectTypes = self
            .graphql(
                "labelflowStatuses",
                ALLOWED_STATUSES_QUERY,
                json!({ "fullPath": project_path }),
            )
            .await?;
        let project = data
            .project
            .ok_or_else(|| ForgeError::NotFound(format!("project {project_path}")))?;
        Ok(project
            .work_item_types
            .nodes
            .into_iter()
            .map(|t| {
                let statuses = t
                    .widget_definitions
                    .into_iter()
                    .filter_map(|d| d.allowed_statuses)
                    .flatten()
                    .map(GqlStatus::into_domain)
                    .collect();
                (t.name, statuses)
            })
            .collect())
    }

    /// Sets the work item's status to the one named `name` (case-insensitively, as GitLab
    /// resolves names) and returns the item as GitLab has it afterwards.
    ///
    /// Check before set: the item is read first, and a status it already has is not sent again
    /// (no second system note, no second webhook).
    pub async fn set_status(
        &self,
        project_path: &str,
        iid: u64,
        name: &str,
    ) -> Result<WorkItemFacts, ForgeError> {
        let item = self.work_item(project_path, iid).await?;
        if item.status.as_ref().is_some_and(|s| s.is(name)) {
            return Ok(item);
        }
        let lifecycle = self.allowed_statuses(project_path).await?;
        let allowed: Vec<WorkItemStatus> = lifecycle
            .into_iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(&item.work_item_type))
            .map(|(_, s)| s)
            .unwrap_or_default();
        let Some(target) = allowed
            .iter()
            .find(|s| s.is(name))
            .and_then(|s| s.id.clone())
        else {
            let names: Vec<String> = allowed.iter().map(|s| format!("\"{}\"", s.name)).collect();
            return Err(ForgeError::Permanent {
                status: 0,
                message: format!(
                    "the status \"{name}\" is not in the lifecycle of {}s in `{project_path}` (it has {})",
                    item.work_item_type,
                    if names.is_empty() {
                        "no statuses".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            });
        };
        let data: UpdateData = self
            .graphql(
                "labelflowSetStatus",
                SET_STATUS_MUTATION,
                json!({ "id": item.gid, "status": target }),
            )
            .await?;
        let payload = data.work_item_update.ok_or_else(|| ForgeError::Permanent {
            status: 200,
            message: "GraphQL `workItemUpdate` returned nothing".to_string(),
        })?;
        if !payload.errors.is_empty() {
            return Err(ForgeError::Permanent {
                status: 200,
                message: format!(
                    "GitLab did not set the status: {}",
                    payload.errors.join("; ")
                ),
            });
        }
        Ok(payload
            .work_item
            .map(GqlWorkItem::into_facts)
            .unwrap_or(item))
    }
}
