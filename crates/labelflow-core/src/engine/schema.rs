//! The JSON Schema of `labelflow.yml`, generated from the configuration types, so editors
//! can complete and check keys (`# yaml-language-server: $schema=labelflow.schema.json`).
//! `labelflow.schema.json` at the repository root is this text; a test keeps it so.

use super::config::ConfigFile;

/// The schema as pretty-printed JSON, with a final newline.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(ConfigFile);
    schema.insert(
        "title".to_string(),
        "labelflow configuration (labelflow.yml)".into(),
    );
    schema.insert(
        "description".to_string(),
        "Workflows for labelflow: labels are the buttons. Reference: docs/configuration.md.".into(),
    );
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
