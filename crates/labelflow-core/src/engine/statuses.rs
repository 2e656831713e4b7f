//! Work item statuses and types (GitLab 18.2+): the `status_changed` trigger, the `status`,
//! `status_category` and `work_item_type` conditions, and `set_status`. Statuses are treated
//! like stage labels, but GitLab reads and writes them only through GraphQL, so the planner sees
//! them as the worker re-read them and the executor sets them through the forge.

use super::config::{ActionSpec, Condition, ConfigFile, Trigger};
pub use super::work_item_config::{StatusCategory, StatusChangeTrigger};
use crate::domain::{Event, IssueState, WorkItemStatus};

fn side_matches(
    status: Option<&WorkItemStatus>,
    name: Option<&str>,
    category: Option<StatusCategory>,
) -> bool {
    let by_name = name.is_none_or(|n| status.is_some_and(|s| s.is(n)));
    let by_category = category.is_none_or(|c| status.is_some_and(|s| c.holds_for(s)));
    by_name && by_category
}

/// Whether `event` moved the status as `trigger` asks and the item still has the status the
/// change moved to (the re-read is the truth: a later change may have moved it on).
pub fn status_change_triggers(
    trigger: &StatusChangeTrigger,
    event: &Event,
    issue: &IssueState,
) -> bool {
    let Some(change) = &event.status_change else {
        return false;
    };
    let to = change.to.as_ref();
    let still_there = match (to, &issue.status) {
        (Some(t), Some(now)) => now.is(&t.name),
        (None, None) => true,
        _ => false,
    };
    still_there
        && side_matches(to, trigger.to.as_deref(), trigger.to_category)
        && side_matches(
            change.from.as_ref(),
            trigger.from.as_deref(),
            trigger.from_category,
        )
}

/// `status_changed: …` in plain words, for traces.
pub fn describe_trigger(t: &StatusChangeTrigger) -> String {
    let side = |name: &Option<String>, cat: &Option<StatusCategory>| match (name, cat) {
        (Some(n), _) => Some(format!("\"{n}\"")),
        (None, Some(c)) => Some(format!("a status in `{}`", c.as_str())),
        (None, None) => None,
    };
    let mut s = "a status change".to_string();
    if let Some(f) = side(&t.from, &t.from_category) {
        s.push_str(&format!(" from {f}"));
    }
    if let Some(to) = side(&t.to, &t.to_category) {
        s.push_str(&format!(" to {to}"));
    }
    s
}

/// The issue's status for messages: its name, or "no status".
pub fn status_text(issue: &IssueState) -> String {
    match &issue.status {
        Some(s) => format!("\"{}\"", s.name),
        None => "no status".to_string(),
    }
}

/// Whether the item's type is one of `types` (compared case-insensitively); empty = any.
pub fn type_is_one_of(issue: &IssueState, types: &[String]) -> bool {
    types.is_empty()
        || types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&issue.work_item_type))
}

/// `set_status`'s check before setting: nothing to do when the item has that status already.
pub fn needs_status(issue: &IssueState, name: &str) -> bool {
    !issue.status.as_ref().is_some_and(|s| s.is(name))
}

/// Whether the configuration looks at statuses or work item types anywhere: only then does
/// the worker spend a GraphQL read on each item (REST has neither).
pub fn config_uses_work_items(config: &ConfigFile) -> bool {
    fn condition(c: &Condition) -> bool {
        match c {
            Condition::Status(_) | Condition::StatusCategory(_) | Condition::WorkItemType(_) => {
                true
            }
            Condition::All(cs) | Condition::Any(cs) => cs.iter().any(condition),
            Condition::Not(c) => condition(c),
            _ => false,
        }
    }
    config.workflows.values().any(|wf| {
        !wf.work_item_types.is_empty()
            || !wf.status_guards.is_empty()
            || !wf.restricted_statuses.is_empty()
            || wf.rules.iter().any(|r| {
                matches!(r.on, Trigger::StatusChanged(_))
                    || r.conditions.iter().any(condition)
                    || r.actions
                        .iter()
                        .any(|a| matches!(a, ActionSpec::SetStatus(_)))
            })
            || wf
                .guards
                .iter()
                .flat_map(|g| &g.requires)
                .chain(wf.status_guards.iter().flat_map(|g| &g.requires))
                .chain(wf.required_fields.iter().flat_map(|r| &r.requires))
                .any(|req| condition(&req.condition))
    })
}

/// Whether planning needs each item's GraphQL facts (status, type, custom fields): the
/// worker and sweeps then read them beside the REST issue.
pub fn reads_work_items(config: &ConfigFile) -> bool {
    config_uses_work_items(config) || super::custom_fields::config_uses_custom_fields(config)
}

/// Every status name the configuration uses (triggers, conditions, `set_status`, guards,
/// restricted statuses), once each whatever its case, in first-use order: what `labelflow
/// setup` checks against the project's lifecycle.
pub fn used_statuses(config: &ConfigFile) -> Vec<String> {
    fn condition(c: &Condition, out: &mut Vec<String>) {
        match c {
            Condition::Status(s) => out.push(s.clone()),
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| condition(c, out)),
            Condition::Not(c) => condition(c, out),
            _ => {}
        }
    }
    let mut out: Vec<String> = Vec::new();
    for wf in config.workflows.values() {
        for r in &wf.restricted_statuses {
            out.extend(r.statuses.iter().map(|s| s.value.clone()));
        }
        for g in &wf.status_guards {
            out.push(g.status.value.clone());
        }
        let requirements = wf
            .guards
            .iter()
            .flat_map(|g| &g.requires)
            .chain(wf.status_guards.iter().flat_map(|g| &g.requires))
            .chain(wf.required_fields.iter().flat_map(|r| &r.requires));
        for req in requirements {
            condition(&req.condition, &mut out);
        }
        for rule in &wf.rules {
            if let Trigger::StatusChanged(t) = &rule.on {
                out.extend(t.to.iter().chain(&t.from).cloned());
            }
            rule.conditions.iter().for_each(|c| condition(c, &mut out));
            for a in &rule.actions {
                if let ActionSpec::SetStatus(s) = a {
                    out.push(s.clone());
                }
            }
        }
    }
    let mut seen: Vec<String> = Vec::new();
    out.retain(|s| {
        let key = s.to_lowercase();
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StatusChange;

    fn status(name: &str, category: &str) -> WorkItemStatus {
        WorkItemStatus {
            id: None,
            name: name.to_string(),
            category: category.to_string(),
        }
    }

    fn trigger(yaml: &str) -> StatusChangeTrigger {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn names_and_categories_match_either_case() {
        let s = status("In progress", "IN_PROGRESS");
        assert!(side_matches(Some(&s), Some("in PROGRESS"), None));
        assert!(side_matches(
            Some(&s),
            None,
            Some(StatusCategory::InProgress)
        ));
        assert!(!side_matches(Some(&s), None, Some(StatusCategory::Done)));
        assert!(!side_matches(None, Some("In progress"), None));
        assert!(side_matches(None, None, None));
    }

    #[test]
    fn unknown_trigger_keys_and_categories_are_refused() {
        assert!(serde_saphyr::from_str::<StatusChangeTrigger>("too: Done").is_err());
        assert!(serde_saphyr::from_str::<StatusChangeTrigger>("to_category: finished").is_err());
        assert_eq!(
            trigger("to_category: in_progress").to_category,
            Some(StatusCategory::InProgress)
        );
    }

    #[test]
    fn setup_checks_every_status_the_configuration_names_once() {
        let config: ConfigFile = serde_saphyr::from_str(
            r#"
bot: { username: bot }
directory: { roles: { leads: [lead] } }
workflows:
  w:
    restricted_statuses: [{ statuses: ["Won't do"], roles: [leads] }]
    status_guards: [{ status: Done, requires: [{ if: { status: "In review" }, missing: review }] }]
    rules:
      - name: r
        on: { status_changed: { to: "in progress", from: "To do" } }
        if: [ { not: { status: "done" } } ]
        do: [ { set_status: "In progress" } ]
"#,
        )
        .unwrap();
        assert_eq!(
            used_statuses(&config),
            ["Won't do", "Done", "In review", "in progress", "To do"]
        );
        assert!(config_uses_work_items(&config));
    }

    #[test]
    fn describes_both_sides() {
        let t = trigger("from: To do\nto_category: done");
        assert_eq!(
            describe_trigger(&t),
            "a status change from \"To do\" to a status in `done`"
        );
    }

    #[test]
    fn change_counts_only_while_the_item_keeps_the_new_status() {
        let change = StatusChange {
            from: Some(status("To do", "to_do")),
            to: Some(status("In progress", "in_progress")),
        };
        let t = trigger("to: In progress\nfrom_category: to_do");
        assert!(side_matches(
            change.to.as_ref(),
            t.to.as_deref(),
            t.to_category
        ));
        assert!(!side_matches(change.from.as_ref(), Some("Done"), None));
    }
}
