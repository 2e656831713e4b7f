//! Work item statuses and types through GitLab's GraphQL API: the Issues REST API has no status
//! (gitlab issue 560083), so reading and setting one takes the work item widgets.
//!
//! Requests go through the same [`RetryingClient`](super::retry::RetryingClient) as REST (one
//! retry and rate-limit policy). The `gitlab` crate's own `graphql_async` would bypass it, so the
//! bodies are `graphql_client`'s [`QueryBody`] sent with the client's `rest_async`, and the
//! answers are read into typed structs below. Shapes follow GitLab's GraphQL reference:
//! `WorkItem.widgets` / `WorkItemWidgetStatus.status` (`WorkItemStatus`: `id`, `name`,
//! `category`), `WorkItemWidgetDefinitionStatus.allowedStatuses`, and
//! `workItemUpdate(input: {id, statusWidget: {status}})`; custom fields through
//! `WorkItemWidgetCustomFields.customFieldValues` (`customField { id name fieldType
//! selectOptions }`, and the value by type: `WorkItemTextFieldValue.value`,
//! `WorkItemNumberFieldValue.value`, `WorkItemSelectFieldValue.selectedOptions`) and
//! `workItemUpdate(input: {id, customFieldsWidget: [{customFieldId, textValue | numberValue |
//! selectedOptionIds}]})`.

use super::error::ForgeError;
use super::gitlab::GitlabForge;
use super::retry::RetryingClient;
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
    /// The custom fields the item's type has, with their values.
    pub custom_fields: Vec<CustomFieldValue>,
}

/// One custom field of a work item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomFieldValue {
    /// `gid://gitlab/Issuables::CustomField/N`.
    pub id: String,
    pub name: String,
    /// `TEXT`, `NUMBER`, `SINGLE_SELECT`, `MULTI_SELECT`.
    pub field_type: String,
    /// (option id, option name) of select fields.
    pub options: Vec<(String, String)>,
    /// The value as text (`None`: unset); select options joined with `, `.
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlCustomField {
    id: String,
    name: String,
    field_type: String,
    #[serde(default)]
    select_options: Option<Vec<GqlOption>>,
}

#[derive(Debug, Deserialize)]
struct GqlOption {
    id: String,
    value: String,
}

/// A `CustomFieldValueInterface`; the query aliases each type's `value` (a float, a string)
/// so the two never share a response name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlFieldValue {
    custom_field: GqlCustomField,
    #[serde(default)]
    number_value: Option<f64>,
    #[serde(default)]
    text_value: Option<String>,
    #[serde(default)]
    selected_options: Option<Vec<GqlOption>>,
}

impl GqlFieldValue {
    fn into_value(self) -> CustomFieldValue {
        let value = match (self.number_value, self.text_value, self.selected_options) {
            (Some(n), _, _) => Some(number_text(n)),
            (_, Some(t), _) => Some(t),
            (_, _, Some(opts)) if !opts.is_empty() => Some(
                opts.iter()
                    .map(|o| o.value.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => None,
        };
        CustomFieldValue {
            id: self.custom_field.id,
            name: self.custom_field.name,
            field_type: self.custom_field.field_type,
            options: self
                .custom_field
                .select_options
                .unwrap_or_default()
                .into_iter()
                .map(|o| (o.id, o.value))
                .collect(),
            value,
        }
    }
}

/// A number as people write it: `12`, not `12.0`.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
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
    #[serde(default)]
    custom_field_values: Option<Vec<GqlFieldValue>>,
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
        let mut status = None;
        let mut custom_fields = Vec::new();
        for w in self.widgets {
            status = status.or(w.status.map(GqlStatus::into_domain));
            custom_fields.extend(
                w.custom_field_values
                    .into_iter()
                    .flatten()
                    .map(GqlFieldValue::into_value),
            );
        }
        WorkItemFacts {
            gid: self.id,
            work_item_type: self.work_item_type.name,
            status,
            custom_fields,
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

impl UpdateData {
    /// The mutation's payload, or why GitLab did not make the change (`what`: "the status").
    fn accepted(self, what: &str) -> Result<UpdatePayload, ForgeError> {
        let refused = |message: String| ForgeError::Permanent {
            status: 200,
            message,
        };
        let payload = self
            .work_item_update
            .ok_or_else(|| refused("GraphQL `workItemUpdate` returned nothing".to_string()))?;
        if payload.errors.is_empty() {
            Ok(payload)
        } else {
            Err(refused(format!(
                "GitLab did not set {what}: {}",
                payload.errors.join("; ")
            )))
        }
    }
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
     widgets { type \
     ... on WorkItemWidgetStatus { status { id name category } } \
     ... on WorkItemWidgetCustomFields { customFieldValues { \
     customField { id name fieldType selectOptions { id value } } \
     ... on WorkItemNumberFieldValue { numberValue: value } \
     ... on WorkItemTextFieldValue { textValue: value } \
     ... on WorkItemSelectFieldValue { selectedOptions { id value } } } } } \
     } } } }";

const SET_FIELD_MUTATION: &str = "mutation labelflowSetField($id: WorkItemID!, \
     $values: [WorkItemWidgetCustomFieldValueInputType!]) { \
     workItemUpdate(input: { id: $id, customFieldsWidget: $values }) { errors } }";

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
            self.add_work_item_facts(&mut issue).await?;
        }
        Ok(issue)
    }

    /// Fills in what only GraphQL has: the status, the type and the custom field values.
    pub async fn add_work_item_facts(&self, issue: &mut IssueState) -> Result<(), ForgeError> {
        let facts = self.work_item(&issue.project_path, issue.iid).await?;
        issue.status = facts.status;
        issue.work_item_type = facts.work_item_type;
        issue.custom_fields = facts
            .custom_fields
            .into_iter()
            .filter_map(|f| Some((f.name, f.value?)))
            .collect();
        Ok(())
    }

    /// The work item's global ID, type and status.
    pub async fn work_item(
        &self,
        project_path: &str,
        iid: u64,
    ) -> Result<WorkItemFacts, ForgeError> {
        let data: ProjectWorkItems = graphql(
            self.client(),
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
        allowed_statuses(self.client(), project_path).await
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
        let data: UpdateData = graphql(
            self.client(),
            "labelflowSetStatus",
            SET_STATUS_MUTATION,
            json!({ "id": item.gid, "status": target }),
        )
        .await?;
        let payload = data.accepted("the status")?;
        Ok(payload
            .work_item
            .map(GqlWorkItem::into_facts)
            .unwrap_or(item))
    }

    /// Sets the custom field named `name` (case-insensitively) to `value`: text as is, a
    /// number parsed, a select field by option name (a multi-select: names separated by
    /// commas). Check before set: a field that has the value already is not sent.
    pub async fn set_custom_field(
        &self,
        project_path: &str,
        iid: u64,
        name: &str,
        value: &str,
    ) -> Result<(), ForgeError> {
        let item = self.work_item(project_path, iid).await?;
        let refuse = |message: String| ForgeError::Permanent { status: 0, message };
        let field = item
            .custom_fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                refuse(format!(
                    "{}s in `{project_path}` have no custom field \"{name}\"",
                    item.work_item_type
                ))
            })?;
        if field.value.as_deref().map(str::trim) == Some(value.trim()) {
            return Ok(());
        }
        let input = match field.field_type.as_str() {
            "NUMBER" => {
                let n: f64 = value.trim().parse().map_err(|_| {
                    refuse(format!(
                        "the custom field \"{}\" takes a number, not \"{value}\"",
                        field.name
                    ))
                })?;
                json!({ "customFieldId": field.id, "numberValue": n })
            }
            "SINGLE_SELECT" | "MULTI_SELECT" => {
                let mut ids = Vec::new();
                for wanted in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                    let (id, _) = field
                        .options
                        .iter()
                        .find(|(_, o)| o.eq_ignore_ascii_case(wanted))
                        .ok_or_else(|| {
                            refuse(format!(
                                "the custom field \"{}\" has no option \"{wanted}\"",
                                field.name
                            ))
                        })?;
                    ids.push(id.clone());
                }
                json!({ "customFieldId": field.id, "selectedOptionIds": ids })
            }
            _ => json!({ "customFieldId": field.id, "textValue": value }),
        };
        let data: UpdateData = graphql(
            self.client(),
            "labelflowSetField",
            SET_FIELD_MUTATION,
            json!({ "id": item.gid, "values": [input] }),
        )
        .await?;
        data.accepted("the field").map(|_| ())
    }
}

/// Sends one GraphQL operation through the retrying client and reads its `data`.
async fn graphql<T: DeserializeOwned>(
    client: &RetryingClient,
    operation: &'static str,
    query: &'static str,
    variables: serde_json::Value,
) -> Result<T, ForgeError> {
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

/// The statuses each work item type of the project allows (its lifecycle), by type name.
pub async fn allowed_statuses(
    client: &RetryingClient,
    project_path: &str,
) -> Result<Vec<(String, Vec<WorkItemStatus>)>, ForgeError> {
    let data: ProjectTypes = graphql(
        client,
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
