//! Conditions in words: as the configuration writes them, and what they saw when evaluated,
//! for the decision trace and `@labelflow explain`.

use super::conditions::{Facts, describe_allow};
use super::config::{Allow, Condition};
use super::trace::ConditionTrace;
use crate::domain::IssueStatus;

/// The condition in the configuration's own words (`fields_present [Customer, CSM]`).
pub fn describe(c: &Condition) -> String {
    let list = |ls: &mut dyn Iterator<Item = &str>| ls.collect::<Vec<_>>().join(", ");
    match c {
        Condition::HasLabel(l) => format!("has_label {}", l.value),
        Condition::LacksLabel(l) => format!("lacks_label {}", l.value),
        Condition::HasAnyLabel(ls) => format!(
            "has_any_label [{}]",
            list(&mut ls.iter().map(|l| l.value.as_str()))
        ),
        Condition::HasScope(s) => format!("has_scope {s}"),
        Condition::ChangedFrom(ls) => format!(
            "changed_from [{}]",
            list(&mut ls.iter().map(|l| l.value.as_str()))
        ),
        Condition::FieldsPresent(fs) => {
            format!(
                "fields_present [{}]",
                list(&mut fs.iter().map(String::as_str))
            )
        }
        Condition::FieldsMissing(fs) => {
            format!(
                "fields_missing [{}]",
                list(&mut fs.iter().map(String::as_str))
            )
        }
        Condition::FieldMatches { field, pattern } => {
            format!("field_matches {field} /{}/", pattern.value)
        }
        Condition::FieldNotMatches { field, pattern } => {
            format!("field_not_matches {field} /{}/", pattern.value)
        }
        Condition::FieldAbove { field, value } => format!("field_above {field} {value}"),
        Condition::FieldEquals { field, value } => format!("field_equals {field} \"{value}\""),
        Condition::Actor(a) => format!("actor {}", describe_allow_spec(a)),
        Condition::NotActor(a) => format!("not_actor {}", describe_allow_spec(a)),
        Condition::State(s) => format!("state {}", state_word(*s)),
        Condition::Confidential(b) => format!("confidential {b}"),
        Condition::Status(s) => format!("status \"{s}\""),
        Condition::StatusCategory(c) => format!("status_category {}", c.as_str()),
        Condition::WorkItemType(ts) => {
            format!(
                "work_item_type [{}]",
                list(&mut ts.iter().map(String::as_str))
            )
        }
        Condition::All(cs) => format!("all [{}]", join(cs)),
        Condition::Any(cs) => format!("any [{}]", join(cs)),
        Condition::Not(c) => format!("not {}", describe(c)),
    }
}

fn join(cs: &[Condition]) -> String {
    cs.iter().map(describe).collect::<Vec<_>>().join(", ")
}

fn state_word(s: IssueStatus) -> &'static str {
    match s {
        IssueStatus::Opened => "opened",
        IssueStatus::Closed => "closed",
    }
}

/// An `allow` as written: roles, product PMs, author.
fn describe_allow_spec(a: &Allow) -> String {
    let mut parts = Vec::new();
    if !a.roles.is_empty() {
        parts.push(format!("roles [{}]", a.roles.join(", ")));
    }
    if a.product_pms {
        parts.push("product_pms".to_string());
    }
    if a.author {
        parts.push("author".to_string());
    }
    if parts.is_empty() {
        "nobody".to_string()
    } else {
        parts.join(" or ")
    }
}

/// Evaluates `c` and says what it saw.
pub fn explain(c: &Condition, facts: &Facts) -> ConditionTrace {
    ConditionTrace {
        condition: describe(c),
        holds: facts.holds(c),
        seen: seen(c, facts),
    }
}

/// The first false condition of `cs`, as "`cond` is false: what it saw".
pub fn first_false(cs: &[Condition], facts: &Facts) -> Option<String> {
    cs.iter()
        .find(|c| !facts.holds(c))
        .map(|c| format!("`{}` is false: {}", describe(c), seen(c, facts)))
}

fn labels_seen(facts: &Facts) -> String {
    if facts.issue.labels.is_empty() {
        "the issue has no labels".to_string()
    } else {
        format!(
            "the issue's labels are {}",
            facts
                .issue
                .labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn field_seen(facts: &Facts, name: &str) -> String {
    let v = facts.field(name);
    if v.is_empty() {
        format!("`{name}` is missing")
    } else {
        format!("`{name}` is \"{}\"", shorten(v))
    }
}

/// Field values can be long paragraphs: the trace keeps their start.
fn shorten(v: &str) -> String {
    let one_line = v.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

fn seen(c: &Condition, facts: &Facts) -> String {
    match c {
        Condition::HasLabel(_)
        | Condition::LacksLabel(_)
        | Condition::HasAnyLabel(_)
        | Condition::HasScope(_) => labels_seen(facts),
        Condition::ChangedFrom(_) => {
            if facts.labels_removed.is_empty() {
                "this change removed no label".to_string()
            } else {
                format!(
                    "this change removed {}",
                    facts
                        .labels_removed
                        .iter()
                        .map(|l| format!("`{l}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
        Condition::FieldsPresent(fs) | Condition::FieldsMissing(fs) => {
            let missing: Vec<String> = fs
                .iter()
                .filter(|f| facts.field(f).is_empty())
                .map(|f| format!("`{f}`"))
                .collect();
            match missing.len() {
                0 => "all of them are filled in".to_string(),
                1 => format!("{} is missing", missing[0]),
                _ => format!("{} are missing", missing.join(", ")),
            }
        }
        Condition::FieldMatches { field, .. }
        | Condition::FieldNotMatches { field, .. }
        | Condition::FieldAbove { field, .. }
        | Condition::FieldEquals { field, .. } => field_seen(facts, field),
        Condition::Actor(a) | Condition::NotActor(a) => {
            let verdict = if facts.permits(a) { "is" } else { "is not" };
            format!(
                "`{}` {verdict} one of {}",
                facts.actor,
                describe_allow(a, facts)
            )
        }
        Condition::State(_) => format!("the issue is {}", state_word(facts.issue.state)),
        Condition::Confidential(_) => {
            if facts.issue.confidential {
                "the issue is confidential".to_string()
            } else {
                "the issue is not confidential".to_string()
            }
        }
        Condition::Status(_) | Condition::StatusCategory(_) => match &facts.issue.status {
            Some(s) => format!(
                "the status is \"{}\" ({})",
                s.name,
                s.category.to_lowercase()
            ),
            None => "the item has no status".to_string(),
        },
        Condition::WorkItemType(_) => format!("the item is a {}", facts.issue.work_item_type),
        Condition::All(cs) | Condition::Any(cs) => cs
            .iter()
            .map(|c| {
                let verdict = if facts.holds(c) { "true" } else { "false" };
                format!("`{}` is {verdict} ({})", describe(c), seen(c, facts))
            })
            .collect::<Vec<_>>()
            .join("; "),
        Condition::Not(inner) => seen(inner, facts),
    }
}
