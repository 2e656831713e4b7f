//! The issue as a webhook payload describes it, for planning offline (`labelflow plan`
//! without `--issue`, and the explanation of a failed scenario step).

use crate::domain::{Event, IssueState, IssueStatus};
use chrono::Utc;
use serde_json::Value;

/// The issue as the payload describes it (`labelflow plan` uses it when no `--issue` is given).
pub fn issue_from_payload(body: &[u8], event: &Event) -> Result<IssueState, serde_json::Error> {
    let v: Value = serde_json::from_slice(body)?;
    let attrs = if v["object_kind"] == "note" {
        &v["issue"]
    } else {
        &v["object_attributes"]
    };
    let labels: Vec<String> = v["changes"]["labels"]["current"]
        .as_array()
        .or_else(|| attrs["labels"].as_array())
        .or_else(|| v["labels"].as_array())
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l["title"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let assignees = v["assignees"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["username"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let date = |k: &str| {
        attrs[k]
            .as_str()
            .and_then(|s| {
                serde_json::from_value::<gitlab::hooktypes::HookDate>(Value::String(s.to_string()))
                    .ok()
            })
            .map(|d| *d.as_ref())
            .unwrap_or_else(Utc::now)
    };
    Ok(IssueState {
        id: attrs["id"].as_u64().unwrap_or(0),
        iid: event.issue.iid,
        project_id: event.issue.project_id,
        project_path: event.project_path.clone(),
        title: attrs["title"].as_str().unwrap_or("").to_string(),
        description: attrs["description"].as_str().unwrap_or("").to_string(),
        state: if attrs["state"] == "closed" {
            IssueStatus::Closed
        } else {
            IssueStatus::Opened
        },
        labels,
        assignees,
        // Payloads carry only the author's id; the acting user stands in.
        author: event.actor.username.clone(),
        confidential: attrs["confidential"]
            .as_bool()
            .unwrap_or(event.confidential),
        web_url: attrs["url"].as_str().unwrap_or("").to_string(),
        created_at: date("created_at"),
        updated_at: date("updated_at"),
        status: serde_json::from_value::<super::payload::HookStatus>(attrs["status"].clone())
            .ok()
            .map(|s| s.to_domain()),
        work_item_type: attrs["type"]
            .as_str()
            .unwrap_or(crate::domain::ISSUE_TYPE)
            .to_string(),
        // Webhooks carry no custom field values; the live path reads them through GraphQL.
        custom_fields: Default::default(),
    })
}
