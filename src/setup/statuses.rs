//! What `labelflow setup` says about work item statuses: the configuration's status names
//! that the project's lifecycle lacks. It creates none, because lifecycles belong to the
//! top-level group's settings (and GitLab offers no API to write them here); the report's
//! warnings name them so an owner can add them.

use crate::engine::Engine;
use crate::engine::statuses::used_statuses;
use crate::forge::ForgeError;
use crate::forge::graphql::allowed_statuses;
use crate::forge::retry::RetryingClient;

/// One warning per status the configuration uses that no work item type of the project has.
pub async fn missing_statuses(
    client: &RetryingClient,
    engine: &Engine,
    project_path: &str,
) -> Result<Vec<String>, ForgeError> {
    let used = used_statuses(&engine.config);
    if used.is_empty() {
        return Ok(Vec::new());
    }
    let lifecycle = allowed_statuses(client, project_path).await?;
    let known: Vec<&str> = lifecycle
        .iter()
        .flat_map(|(_, statuses)| statuses.iter().map(|s| s.name.as_str()))
        .collect();
    Ok(missing_from(&used, &known, project_path))
}

/// The warnings for `used` names not in `known` (compared case-insensitively, as GitLab does).
fn missing_from(used: &[String], known: &[&str], project_path: &str) -> Vec<String> {
    used.iter()
        .filter(|u| !known.iter().any(|k| k.eq_ignore_ascii_case(u)))
        .map(|u| {
            format!(
                "the status \"{u}\" is used by the configuration but not in the status lifecycle of {project_path}; \
                 statuses belong to the top-level group's settings, so setup does not create them (add it there)"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case() {
        let used = vec!["In progress".to_string(), "Blocked".to_string()];
        let w = missing_from(&used, &["in progress", "Done"], "g/p");
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("the status \"Blocked\" is used"),
            "{}",
            w[0]
        );
    }
}
