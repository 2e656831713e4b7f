//! Custom fields (GitLab 18.0+): defined on the top-level group for chosen work item types,
//! typed (text, number, single- and multi-select), read and written only through GraphQL's
//! work item widgets. Setting a field to the value it has changes nothing.

use serde_json::{Value, json};

use super::model::{SimCustomField, SimFieldChange, SimIssue};
use super::state::{SimError, SimState};

impl SimState {
    fn top_group(&self, project_id: u64) -> String {
        self.projects
            .get(&project_id)
            .and_then(|p| p.path_with_namespace.split('/').next())
            .unwrap_or_default()
            .to_string()
    }

    /// Adds a custom field to the top-level group; returns it (with its global IDs).
    pub fn add_custom_field(
        &mut self,
        top_group: &str,
        name: &str,
        field_type: &str,
        options: &[&str],
        work_item_types: &[&str],
    ) -> SimCustomField {
        let id = self.next_id();
        let options = options
            .iter()
            .map(|o| {
                let oid = self.next_id();
                (
                    format!("gid://gitlab/Issuables::CustomFieldSelectOption/{oid}"),
                    o.to_string(),
                )
            })
            .collect();
        let field = SimCustomField {
            gid: format!("gid://gitlab/Issuables::CustomField/{id}"),
            name: name.to_string(),
            field_type: field_type.to_string(),
            options,
            work_item_types: work_item_types.iter().map(|t| t.to_string()).collect(),
        };
        self.custom_fields
            .entry(top_group.to_string())
            .or_default()
            .push(field.clone());
        field
    }

    /// The custom fields items of this type in this project have.
    pub fn fields_for(&self, project_id: u64, work_item_type: &str) -> Vec<SimCustomField> {
        self.custom_fields
            .get(&self.top_group(project_id))
            .into_iter()
            .flatten()
            .filter(|f| {
                f.work_item_types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(work_item_type))
            })
            .cloned()
            .collect()
    }

    /// Sets a field from a `WorkItemWidgetCustomFieldValueInputType` object as `actor_id`.
    pub fn set_custom_value(
        &mut self,
        actor_id: u64,
        issue: &SimIssue,
        input: &Value,
    ) -> Result<(), SimError> {
        if !self.can_set_metadata(issue.project_id, actor_id) {
            return Err(SimError::Forbidden);
        }
        let gid = input["customFieldId"].as_str().unwrap_or_default();
        let field = self
            .fields_for(issue.project_id, &issue.work_item_type)
            .into_iter()
            .find(|f| f.gid == gid)
            .ok_or_else(|| SimError::BadRequest("Custom field not found".into()))?;
        let value = match field.field_type.as_str() {
            "NUMBER" => input["numberValue"].clone(),
            "TEXT" => input["textValue"].clone(),
            _ => {
                let ids: Vec<&str> = input["selectedOptionIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if ids
                    .iter()
                    .any(|id| !field.options.iter().any(|(o, _)| o == id))
                {
                    return Err(SimError::BadRequest("Invalid select option".into()));
                }
                if field.field_type == "SINGLE_SELECT" && ids.len() > 1 {
                    return Err(SimError::BadRequest(
                        "A custom field of type single select may only have a single selected option"
                            .into(),
                    ));
                }
                json!(ids)
            }
        };
        let current = self
            .issues
            .get(&issue.id)
            .and_then(|i| i.custom_values.get(&field.gid))
            .cloned()
            .unwrap_or(Value::Null);
        if current == value {
            return Ok(());
        }
        let now = self.now();
        if let Some(i) = self.issues.get_mut(&issue.id) {
            i.custom_values.insert(field.gid.clone(), value.clone());
            i.updated_at = now;
            i.updated_by_id = Some(actor_id);
        }
        self.field_changes.push(SimFieldChange {
            issue_id: issue.id,
            field: field.gid,
            user_id: actor_id,
            value,
        });
        Ok(())
    }
}
