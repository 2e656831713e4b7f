//! Target 4: the renderer's escaping. Every shipped template (built-in messages, rule
//! comments, created issues and their titles) is rendered with the data the planner gives it,
//! built from an issue with hostile fields, and then with user text in every field of that
//! data (a handful of templates a case). `missing`, `cla` and `stale` are left as they are: they come from the configuration,
//! and the built-in templates print parts of them raw on purpose.
//!
//! The escape functions are also fuzzed alone: their output never has a live mention, a line
//! break, HTML, a code-span or table delimiter, or a leading quick action or fence.

use super::mutate;
use super::shipped;
use super::text::live_mentions;
use labelflow::domain::IssueState;
use labelflow::engine::conditions::Facts;
use labelflow::engine::config::ActionSpec;
use labelflow::engine::context::{self, Extra};
use labelflow::engine::fields::parse_fields;
use labelflow::engine::load::BUILTIN_TEMPLATES;
use labelflow::engine::{Engine, config::VarSpec};
use labelflow::render::{escape_title_text, escape_user_text};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Every template of the shipped configuration, with the rule variables it is rendered with.
pub fn templates() -> &'static [(String, BTreeMap<String, VarSpec>)] {
    static ALL: OnceLock<Vec<(String, BTreeMap<String, VarSpec>)>> = OnceLock::new();
    ALL.get_or_init(|| {
        let engine = shipped::engine();
        let mut out: Vec<(String, BTreeMap<String, VarSpec>)> = BUILTIN_TEMPLATES
            .iter()
            .map(|(name, _)| (name.to_string(), BTreeMap::new()))
            .collect();
        for (wf_name, wf) in &engine.config.workflows {
            for rule in &wf.rules {
                for a in &rule.actions {
                    match a {
                        ActionSpec::Comment(t) | ActionSpec::Chat(t) => {
                            out.push((t.template.value.clone(), rule.vars.clone()))
                        }
                        ActionSpec::CreateIssue(c) => {
                            let title = Engine::title_template(wf_name, &rule.name.value, &c.id);
                            out.push((title, rule.vars.clone()));
                            out.push((c.template.value.clone(), rule.vars.clone()));
                        }
                        _ => {}
                    }
                }
            }
        }
        out
    })
}

/// The parts of a template's data that can carry what users wrote (`bot`, `workflow`, `rule`
/// and `now` come from the configuration and the clock).
const USER_TEXT: &[&str] = &[
    "issue",
    "actor",
    "issue_author",
    "fields",
    "vars",
    "product_group",
    "command",
    "created",
    "label",
];

/// Templates rendered per case (a different handful each time).
const PER_CASE: usize = 6;

#[derive(Debug, Clone)]
pub struct Case {
    pub issue: IssueState,
    pub actor: String,
    pub command_args: String,
    pub label: String,
    /// A seed for the text put in every field.
    pub fill_seed: u64,
    /// Raw text for the escape functions.
    pub raw: String,
}

pub fn generate(rng: &mut StdRng) -> Case {
    Case {
        issue: shipped::issue(rng),
        actor: mutate::text(rng, 2),
        command_args: mutate::text(rng, 4),
        label: mutate::text(rng, 2),
        fill_seed: rng.random(),
        raw: mutate::text(rng, 8),
    }
}

pub fn check(c: &Case) -> Result<(), String> {
    check_escapes(&c.raw)?;
    let engine = shipped::engine();
    let fields = parse_fields(&c.issue.description);
    let facts = Facts {
        issue: &c.issue,
        fields: &fields,
        actor: &c.actor,
        directory: &engine.config.directory,
        labels_removed: &[],
        patterns: &engine.patterns,
    };
    let known: BTreeSet<String> = engine.known_fields.values().flatten().cloned().collect();
    // Up to two, as the planner gives them: what is missing, or a problem and the usage line.
    let missing = vec![
        "`@labelflow claim`".to_string(),
        "`severity` followed by one of `low`, `high`".to_string(),
    ];
    let created: Vec<String> = engine
        .config
        .workflows
        .values()
        .flat_map(|wf| &wf.rules)
        .flat_map(|rule| &rule.actions)
        .filter_map(|a| match a {
            ActionSpec::CreateIssue(c) => Some(c.id.clone()),
            _ => None,
        })
        .collect();
    let mut fill = shipped::rng(c.fill_seed);
    let all = templates();
    for _ in 0..PER_CASE {
        let (name, vars) = all.choose(&mut fill).expect("templates");
        let extra = Extra {
            workflow: "cocreate",
            rule: "rule",
            bot: engine.bot(),
            now: shipped::now(),
            known_fields: &known,
            vars,
            command: Some(("buy-in decline", c.command_args.clone())),
            created: &created,
            missing: &missing,
            label: Some(&c.label),
        };
        let mut data = context::build(&facts, &extra);
        data["cla"] = json!({
            "labels": { "signed": "cla::signed", "missing": "cla::missing", "unknown": "cla::unknown" },
            "managers": "cla_managers@gitlab.com",
            "required_version": "2.0",
            "details": "⟦cla.details⟧",
            "agreements": "⟦cla.agreements⟧",
        });
        data["stale"] = json!({
            "stage": "cocreate::triage", "owner_role": "contributor-success",
            "owners": ["example-cs-lead"], "idle_days": 20, "nudge_after_days": 14,
            "grace_days": 7, "close_after_days": 30,
            "nudge_label": "cocreate-sweep::nudged", "stale_label": "cocreate-sweep::stale",
        });
        let what = if name.starts_with(labelflow::render::TITLE_PREFIX) {
            "issue title"
        } else {
            "template"
        };
        let out = engine
            .renderer
            .render(name, &data)
            .map_err(|e| format!("{name} failed on the planner's data: {e}"))?;
        shipped::check_text(what, &out).map_err(|e| format!("{name}: {e}"))?;
        for key in USER_TEXT {
            hostile_leaves(&mut fill, &mut data[key]);
        }
        let out = engine
            .renderer
            .render(name, &data)
            .map_err(|e| format!("{name} failed with user text in every field: {e}"))?;
        shipped::check_text(what, &out).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// Replaces every string in `v` with hostile text.
fn hostile_leaves(rng: &mut StdRng, v: &mut Value) {
    match v {
        Value::String(s) => *s = mutate::text(rng, 5),
        Value::Array(items) => items.iter_mut().for_each(|i| hostile_leaves(rng, i)),
        Value::Object(m) => m.values_mut().for_each(|i| hostile_leaves(rng, i)),
        _ => {}
    }
}

/// The escapes alone.
fn check_escapes(raw: &str) -> Result<(), String> {
    let e = escape_user_text(raw);
    let bad = ['<', '>', '`', '|', '\n', '\r', '"'];
    if let Some(c) = e.chars().find(|c| bad.contains(c)) {
        return Err(format!("escape_user_text left {c:?} in {e:?}"));
    }
    let head = e.trim_start();
    if head.starts_with('/') || head.starts_with("~~~") {
        return Err(format!(
            "escape_user_text starts with a quick action or fence: {e:?}"
        ));
    }
    if !live_mentions(&e).is_empty() {
        return Err(format!("escape_user_text left a live mention: {e:?}"));
    }
    let t = escape_title_text(raw);
    if t.contains(['\n', '\r']) || !live_mentions(&t).is_empty() {
        return Err(format!(
            "escape_title_text left a line break or a mention: {t:?}"
        ));
    }
    Ok(())
}
