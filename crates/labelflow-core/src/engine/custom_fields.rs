//! GitLab custom fields (18.0+) as a source of `fields.*`, and the `set_field` action.
//! Teams used to write structured values as `Field: value` lines in descriptions; custom
//! fields hold them in GitLab itself. Templates, `required_fields` and conditions read the
//! same `fields.*` whichever source a workflow chooses.

use super::config::{ActionSpec, ConfigFile, Workflow};
use super::fields::{field_key, parse_fields};
pub use super::work_item_config::{FieldSource, SetFieldSpec};
use crate::domain::IssueState;
use std::collections::BTreeMap;

/// The `fields.*` of `issue` for workflow `wf` (keys normalised like description fields).
pub fn workflow_fields(wf: &Workflow, issue: &IssueState) -> BTreeMap<String, String> {
    let custom = || -> BTreeMap<String, String> {
        issue
            .custom_fields
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (field_key(k), v.clone()))
            .collect()
    };
    match wf.fields_from {
        FieldSource::Description => parse_fields(&issue.description),
        FieldSource::CustomFields => custom(),
        FieldSource::CustomFieldsThenDescription => {
            let mut fields = parse_fields(&issue.description);
            fields.extend(custom());
            fields
        }
    }
}

/// `set_field`'s check before setting: nothing to do when the field has that value already.
pub fn needs_value(issue: &IssueState, spec: &SetFieldSpec) -> bool {
    !issue
        .custom_fields
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(&spec.field) && v.trim() == spec.value.trim())
}

/// Whether any workflow reads or writes custom fields (the worker then reads them through
/// GraphQL).
pub fn config_uses_custom_fields(config: &ConfigFile) -> bool {
    config.workflows.values().any(|wf| {
        wf.fields_from != FieldSource::Description
            || wf
                .rules
                .iter()
                .flat_map(|r| &r.actions)
                .any(|a| matches!(a, ActionSpec::SetField(_)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(source: &str) -> Workflow {
        serde_saphyr::from_str(&format!("fields_from: {source}")).unwrap()
    }

    fn issue() -> IssueState {
        let at = chrono::DateTime::UNIX_EPOCH;
        IssueState {
            id: 1,
            iid: 1,
            project_id: 1,
            project_path: "g/p".to_string(),
            title: "t".to_string(),
            description: "Customer: Acme\nBudget: 10\n".to_string(),
            state: crate::domain::IssueStatus::Opened,
            labels: Vec::new(),
            assignees: Vec::new(),
            author: "a".to_string(),
            confidential: false,
            web_url: String::new(),
            created_at: at,
            updated_at: at,
            status: None,
            work_item_type: "Issue".to_string(),
            custom_fields: BTreeMap::from([
                ("Budget".to_string(), "25".to_string()),
                ("Risk".to_string(), String::new()),
            ]),
        }
    }

    #[test]
    fn each_source_gives_its_fields() {
        let i = issue();
        let d = workflow_fields(&wf("description"), &i);
        assert_eq!(d.get("budget").map(String::as_str), Some("10"));
        let c = workflow_fields(&wf("custom_fields"), &i);
        assert_eq!(c.get("budget").map(String::as_str), Some("25"));
        assert_eq!(c.get("customer"), None);
        assert_eq!(c.get("risk"), None, "an empty custom field is no value");
        let both = workflow_fields(&wf("custom_fields_then_description"), &i);
        assert_eq!(both.get("budget").map(String::as_str), Some("25"));
        assert_eq!(both.get("customer").map(String::as_str), Some("Acme"));
    }

    #[test]
    fn an_unknown_source_is_refused() {
        assert!(serde_saphyr::from_str::<Workflow>("fields_from: labels").is_err());
    }

    #[test]
    fn setting_the_value_a_field_has_is_nothing_to_do() {
        let i = issue();
        let spec = |v: &str| SetFieldSpec {
            field: "budget".to_string(),
            value: v.to_string(),
        };
        assert!(!needs_value(&i, &spec("25")));
        assert!(needs_value(&i, &spec("30")));
    }
}
