//! The data templates see. Built the same way for live runs, dry runs and `check-config`'s
//! sample renders, so a template that renders in `check-config` renders live.

use super::conditions::Facts;
use super::config::VarSpec;
use super::fields::parse_number;
use crate::actions::created_placeholder;
use chrono::{DateTime, Months, Utc};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// What varies per rendering besides the issue.
pub struct Extra<'a> {
    pub workflow: &'a str,
    pub rule: &'a str,
    pub bot: &'a str,
    pub now: DateTime<Utc>,
    /// Every field name the workflow knows (as `field_key`s): present in `fields` even when
    /// the description lacks them, so strict mode only rejects true typos.
    pub known_fields: &'a BTreeSet<String>,
    pub vars: &'a BTreeMap<String, VarSpec>,
    /// `(command words, argument text)` when a command triggered the rule.
    pub command: Option<(&'a str, String)>,
    /// Ids of issues created earlier in this rule (their URLs are placeholders until then).
    pub created: &'a [String],
    /// What is missing (guards, required fields).
    pub missing: &'a [String],
    /// Labels the comment talks about (restricted / guarded label).
    pub label: Option<&'a str>,
}

pub fn build(facts: &Facts, x: &Extra) -> Value {
    let issue = facts.issue;
    let mut fields = Map::new();
    for k in x.known_fields {
        fields.insert(k.clone(), Value::String(String::new()));
    }
    for (k, v) in facts.fields {
        fields.insert(k.clone(), Value::String(v.clone()));
    }
    let (pg_label, pg_pms) = facts
        .product_group()
        .map(|(l, p)| (l.to_string(), p.to_vec()))
        .unwrap_or_default();
    let mut created = Map::new();
    for id in x.created {
        created.insert(
            id.clone(),
            json!({
                "web_url": created_placeholder(id, "web_url"),
                "reference": created_placeholder(id, "reference"),
            }),
        );
    }
    let (cmd_name, cmd_args) = x.command.clone().unwrap_or_default();
    json!({
        "workflow": x.workflow,
        "rule": x.rule,
        "bot": x.bot,
        "now": x.now.format("%Y-%m-%d").to_string(),
        "issue": {
            "iid": issue.iid,
            "title": issue.title,
            "description": issue.description,
            "web_url": issue.web_url,
            "reference": format!("{}#{}", issue.project_path, issue.iid),
            "project_path": issue.project_path,
            "author": issue.author,
            "labels": issue.labels,
            "assignees": issue.assignees,
            "state": match issue.state { crate::domain::IssueStatus::Opened => "opened", crate::domain::IssueStatus::Closed => "closed" },
            "confidential": issue.confidential,
            "type": issue.work_item_type,
            "status": issue.status.as_ref().map(|st| st.name.as_str()).unwrap_or(""),
            "status_category": issue.status.as_ref().map(|st| st.category.as_str()).unwrap_or(""),
        },
        "actor": { "username": facts.actor, "mention": format!("@{}", facts.actor) },
        "issue_author": format!("@{}", issue.author),
        "fields": fields,
        "vars": compute_vars(facts, x.vars, x.now),
        "product_group": { "label": pg_label, "pms": pg_pms },
        "command": { "name": cmd_name, "args": cmd_args },
        "created": created,
        "missing": x.missing,
        "label": x.label.unwrap_or(""),
    })
}

/// A command's declared arguments, as `args.<name>` (only rules whose command declares
/// arguments have `args`: elsewhere strict mode rejects it).
pub fn add_args(ctx: &mut Value, values: &BTreeMap<String, String>) {
    ctx["args"] = json!(values);
}

fn compute_vars(facts: &Facts, vars: &BTreeMap<String, VarSpec>, now: DateTime<Utc>) -> Value {
    let mut out = Map::new();
    for (name, spec) in vars {
        let v = match spec {
            VarSpec::Field {
                field,
                default,
                allowed,
            } => {
                let raw = facts.field(field).trim();
                let ok = !raw.is_empty()
                    && (allowed.is_empty() || allowed.iter().any(|a| a.eq_ignore_ascii_case(raw)));
                let chosen = if ok {
                    // Use the configured spelling of an allowed value.
                    allowed
                        .iter()
                        .find(|a| a.eq_ignore_ascii_case(raw))
                        .cloned()
                        .unwrap_or_else(|| raw.to_string())
                } else {
                    default.clone().unwrap_or_default()
                };
                Value::String(chosen)
            }
            VarSpec::Number { field, default } => {
                let n = parse_number(facts.field(field)).unwrap_or(*default);
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    json!(n as i64)
                } else {
                    json!(n)
                }
            }
            VarSpec::DateFromNow { months, days } => {
                // Validation keeps it within 100 years; checked, it cannot panic anyway.
                let d = now
                    .checked_add_months(Months::new(*months))
                    .and_then(|d| d.checked_add_signed(chrono::Duration::days(i64::from(*days))))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                Value::String(d.format("%Y-%m-%d").to_string())
            }
        };
        out.insert(name.clone(), v);
    }
    Value::Object(out)
}
