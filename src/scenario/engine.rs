//! The engine a scenario plays with: the configuration, with the scenario's directory
//! overrides.

use super::model::DirectoryOverride;
use crate::engine::Engine;
use std::path::Path;

/// The engine for `config`, with the directory overrides applied (the configuration is
/// loaded again with them, so templates see the same roles as the rules).
pub fn engine_for(config: &Path, overrides: Option<&DirectoryOverride>) -> anyhow::Result<Engine> {
    let invalid = |e: crate::engine::ConfigErrors| anyhow::anyhow!("invalid configuration:\n{e}");
    let Some(o) = overrides else {
        return Engine::load(config).map_err(invalid);
    };
    let text = std::fs::read_to_string(config)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", config.display()))?;
    let mut value: serde_json::Value = serde_saphyr::from_str(&text)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", config.display()))?;
    let dir = &mut value["directory"];
    if !dir.is_object() {
        *dir = serde_json::json!({});
    }
    for (role, users) in &o.roles {
        dir["roles"][role] = serde_json::json!(users);
    }
    for (group, pms) in &o.product_groups {
        dir["product_groups"][group] = serde_json::json!({ "pms": pms });
    }
    // JSON is YAML: the same loader and checks as the file itself.
    Engine::from_yaml(&value.to_string(), config).map_err(invalid)
}
