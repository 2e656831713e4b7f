//! Evaluating rule conditions and permissions: pure functions of the issue, its fields and
//! the actor.

use super::config::{Allow, Condition, Directory};
use super::fields::{field_key, parse_number};
use super::patterns::Patterns;
use crate::domain::{IssueState, split_scoped};
use std::collections::BTreeMap;

/// Everything a condition may look at.
pub struct Facts<'a> {
    pub issue: &'a IssueState,
    pub fields: &'a BTreeMap<String, String>,
    pub actor: &'a str,
    pub directory: &'a Directory,
    /// Labels the triggering change removed (for `changed_from`).
    pub labels_removed: &'a [String],
    /// The configuration's compiled patterns.
    pub patterns: &'a Patterns,
}

impl Facts<'_> {
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(&field_key(name))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The issue's product-group label and its PMs, if the directory knows it.
    pub fn product_group(&self) -> Option<(&str, &[String])> {
        self.issue.labels.iter().find_map(|l| {
            self.directory
                .product_groups
                .get(l)
                .map(|g| (l.as_str(), g.pms.as_slice()))
        })
    }

    /// Whether the actor holds `allow`. Usernames compare exactly (GitLab reports them as
    /// registered); a username that merely equals a role's name grants nothing.
    pub fn permits(&self, allow: &Allow) -> bool {
        let actor = self.actor;
        let in_role = allow.roles.iter().any(|role| {
            self.directory
                .roles
                .get(role)
                .is_some_and(|users| users.iter().any(|u| u == actor))
        });
        let is_pm = allow.product_pms
            && self
                .product_group()
                .is_some_and(|(_, pms)| pms.iter().any(|u| u == actor));
        let is_author = allow.author && self.issue.author == actor;
        in_role || is_pm || is_author
    }

    pub fn holds(&self, c: &Condition) -> bool {
        match c {
            Condition::HasLabel(l) => self.issue.has_label(&l.value),
            Condition::LacksLabel(l) => !self.issue.has_label(&l.value),
            Condition::HasAnyLabel(ls) => ls.iter().any(|l| self.issue.has_label(&l.value)),
            Condition::HasScope(scope) => self
                .issue
                .labels
                .iter()
                .any(|l| split_scoped(l).is_some_and(|(s, _)| s == scope)),
            Condition::ChangedFrom(ls) => ls.iter().any(|l| self.labels_removed.contains(&l.value)),
            Condition::FieldsPresent(names) => names.iter().all(|n| !self.field(n).is_empty()),
            Condition::FieldsMissing(names) => names.iter().any(|n| self.field(n).is_empty()),
            Condition::FieldMatches { field, pattern } => {
                let v = self.field(field);
                !v.is_empty() && self.patterns.regex_matches(&pattern.value, v)
            }
            Condition::FieldNotMatches { field, pattern } => {
                let v = self.field(field);
                v.is_empty() || !self.patterns.regex_matches(&pattern.value, v)
            }
            Condition::FieldEquals { field, value } => {
                self.field(field).trim().eq_ignore_ascii_case(value.trim())
            }
            Condition::FieldAbove { field, value } => {
                parse_number(self.field(field)).is_some_and(|n| n > *value)
            }
            Condition::Actor(allow) => self.permits(allow),
            Condition::NotActor(allow) => !self.permits(allow),
            Condition::State(s) => self.issue.state == *s,
            Condition::Confidential(b) => self.issue.confidential == *b,
            Condition::Status(name) => self.issue.status.as_ref().is_some_and(|s| s.is(name)),
            Condition::StatusCategory(c) => {
                self.issue.status.as_ref().is_some_and(|s| c.holds_for(s))
            }
            Condition::WorkItemType(types) => super::statuses::type_is_one_of(self.issue, types),
            Condition::All(cs) => cs.iter().all(|c| self.holds(c)),
            Condition::Any(cs) => cs.iter().any(|c| self.holds(c)),
            Condition::Not(c) => !self.holds(c),
        }
    }
}

/// Describes who holds `allow`, for refusal replies (usernames in code spans: no pings).
pub fn describe_allow(allow: &Allow, facts: &Facts) -> String {
    let mut parts = Vec::new();
    if allow.product_pms {
        match facts.product_group() {
            Some((label, pms)) => parts.push(format!(
                "the product managers of `{label}` ({})",
                code_list(pms)
            )),
            None => parts.push(
                "the product managers of the issue's product group (the issue has no known \
                 `group::` label)"
                    .to_string(),
            ),
        }
    }
    for role in &allow.roles {
        let users = facts.directory.roles.get(role).cloned().unwrap_or_default();
        parts.push(format!("the {role} role ({})", code_list(&users)));
    }
    if allow.author {
        parts.push("the issue's author".to_string());
    }
    if parts.is_empty() {
        "nobody".to_string()
    } else {
        parts.join(" or ")
    }
}

fn code_list(users: &[String]) -> String {
    if users.is_empty() {
        return "nobody configured".to_string();
    }
    users
        .iter()
        .map(|u| format!("`{}`", u.replace('`', "")))
        .collect::<Vec<_>>()
        .join(", ")
}
