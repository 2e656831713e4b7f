//! The label set a project needs, derived from the configuration: every label a workflow that
//! applies to the project triggers on, tests, adds, removes, guards, restricts (literal names)
//! or requires, plus the labels `create_issue` puts on issues it opens in the project, plus
//! the labels of the sweep (stale policies, visits, summary) where it uses them, plus the
//! literal entries of the `labels:` section. Colours and descriptions come from `labels:`
//! (a label's own entry, else its `scope::*` family's); labels without one get a colour picked
//! per scope, so a scoped family reads as one colour on the board.

use crate::engine::Engine;
use crate::engine::command_args::action_labels;
use crate::engine::config::{ActionSpec, Condition, ConfigFile, LabelSpec, Sp, Trigger, Workflow};
pub use crate::engine::label_section::{is_hex_color, is_pattern, problems};
use crate::engine::stale::{nudge_label, stale_label};
use std::collections::{BTreeMap, BTreeSet};

/// GitLab's own suggested label colours, minus the two too pale to read on white.
const PALETTE: &[&str] = &[
    "#009966", "#8fbc8f", "#3cb371", "#00b140", "#013220", "#6699cc", "#0000ff", "#9400d3",
    "#330066", "#808080", "#36454f", "#c21e56", "#cc338b", "#dc143c", "#ff0000", "#cd5b45",
    "#eee600", "#ed9121", "#c39953",
];

/// A label as setup wants it in the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredLabel {
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
    pub description: String,
    /// The colour comes from `labels:` and is enforced on an existing label; a derived colour
    /// is only used when creating (people may have picked their own since).
    pub color_configured: bool,
    /// Likewise for the description.
    pub description_configured: bool,
    /// Workflows that use the label (empty for labels only listed under `labels:`).
    pub used_by: BTreeSet<String>,
}

/// The labels `project_path` needs, sorted by name.
pub fn desired_labels(engine: &Engine, project_path: &str) -> Vec<DesiredLabel> {
    let config = &engine.config;
    let mut here: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut anywhere: BTreeSet<String> = BTreeSet::new();
    for (wf_name, wf) in &config.workflows {
        let mut used = BTreeSet::new();
        for r in &wf.restricted_labels {
            used.extend(r.labels.iter().filter(|l| !is_pattern(&l.value)).map(val));
        }
        for g in &wf.guards {
            used.insert(g.label.value.clone());
            used.extend(g.revert_to.iter().map(val));
            for req in &g.requires {
                condition_labels(&req.condition, &mut used);
            }
        }
        for rf in &wf.required_fields {
            used.insert(rf.when_label.value.clone());
            used.insert(rf.label.clone());
        }
        for rule in &wf.rules {
            match &rule.on {
                Trigger::LabelAdded(l) | Trigger::LabelRemoved(l) => {
                    used.insert(l.clone());
                }
                Trigger::FieldsCompleted(ls) => used.extend(ls.all().iter().cloned()),
                _ => {}
            }
            for c in &rule.conditions {
                condition_labels(c, &mut used);
            }
            for a in &rule.actions {
                match a {
                    // Templated names (`severity::{{args.severity}}`): every label they produce.
                    ActionSpec::AddLabels(ls) | ActionSpec::RemoveLabels(ls) => {
                        used.extend(action_labels(&rule.on, ls));
                    }
                    ActionSpec::CreateIssue(spec) => {
                        let target = engine.project_path(&spec.project.value);
                        let labels = spec.labels.iter().map(val);
                        if target.is_some_and(|t| t.eq_ignore_ascii_case(project_path)) {
                            for l in labels {
                                anywhere.insert(l.clone());
                                here.entry(l).or_default().insert(wf_name.clone());
                            }
                        } else {
                            anywhere.extend(labels);
                        }
                    }
                    // The three outcome labels a CLA check may set.
                    ActionSpec::ClaCheck(_) => {
                        if let Some(cla) = &config.cla {
                            used.extend(cla.labels.all().map(str::to_string));
                        }
                    }
                    _ => {}
                }
            }
        }
        anywhere.extend(used.iter().cloned());
        if engine.workflow_applies(wf, project_path) {
            for l in used {
                here.entry(l).or_default().insert(wf_name.clone());
            }
        }
        for (label, target) in sweep_labels(engine, wf_name, wf, project_path) {
            if target {
                here.entry(label.clone())
                    .or_default()
                    .insert(wf_name.clone());
            }
            anywhere.insert(label);
        }
    }
    // Labels only named under `labels:` are for people to apply by hand: every project.
    for name in config.labels.keys() {
        if !is_pattern(name) && !anywhere.contains(name) {
            here.entry(name.clone()).or_default();
        }
    }
    here.into_iter()
        .filter(|(name, _)| !name.trim().is_empty())
        .map(|(name, used_by)| describe(config, name, used_by))
        .collect()
}

/// The labels the sweep reads and writes for a workflow, each with whether `project_path`
/// needs it: a stale policy's stage, nudge, stale and exemption labels and the visit labels
/// where they are swept (their `projects` / `groups`, else the workflow's projects), and the
/// summary issue's labels in the summary project.
fn sweep_labels(
    engine: &Engine,
    wf_name: &str,
    wf: &Workflow,
    project_path: &str,
) -> Vec<(String, bool)> {
    let swept_here = |projects: &[Sp], groups: &[Sp]| {
        if projects.is_empty() && groups.is_empty() {
            return engine.workflow_applies(wf, project_path);
        }
        projects.iter().any(|p| {
            engine
                .project_path(&p.value)
                .is_some_and(|path| path.eq_ignore_ascii_case(project_path))
        }) || groups.iter().any(|g| {
            project_path.len() > g.value.len()
                && project_path[..g.value.len()].eq_ignore_ascii_case(&g.value)
                && project_path[g.value.len()..].starts_with('/')
        })
    };
    let mut out = Vec::new();
    for p in &wf.stale {
        let here = swept_here(&p.projects, &p.groups);
        let names = [
            p.stage.value.clone(),
            nudge_label(wf_name, p),
            stale_label(wf_name, p),
        ];
        out.extend(names.into_iter().map(|l| (l, here)));
        out.extend(p.exempt.labels.iter().map(|l| (val(l), here)));
    }
    if let Some(v) = &wf.sweep_visits {
        let here = swept_here(&v.projects, &v.groups);
        out.extend(v.labels.iter().map(|l| (val(l), here)));
    }
    if let Some(s) = &wf.sweep_summary {
        let here = engine
            .project_path(&s.project.value)
            .is_some_and(|path| path.eq_ignore_ascii_case(project_path));
        out.extend(s.labels.iter().map(|l| (val(l), here)));
    }
    out
}

fn describe(config: &ConfigFile, name: String, used_by: BTreeSet<String>) -> DesiredLabel {
    let own = config.labels.get(&name);
    let family = scope(&name).and_then(|s| config.labels.get(&format!("{s}::*")));
    let pick = |f: fn(&LabelSpec) -> Option<String>| own.and_then(f).or_else(|| family.and_then(f));
    let color = pick(|s| s.color.as_ref().map(|c| c.value.to_ascii_lowercase()));
    let description = pick(|s| s.description.clone());
    DesiredLabel {
        color_configured: color.is_some(),
        description_configured: description.is_some(),
        color: color.unwrap_or_else(|| derived_color(&name)),
        description: description.unwrap_or_else(|| default_description(&used_by)),
        name,
        used_by,
    }
}

fn default_description(used_by: &BTreeSet<String>) -> String {
    if used_by.is_empty() {
        "Managed by labelflow".to_string()
    } else {
        let names: Vec<&str> = used_by.iter().map(String::as_str).collect();
        format!("labelflow workflow: {}", names.join(", "))
    }
}

/// The scope of a scoped label (`a::b::c` → `a::b`, as GitLab nests scopes).
pub fn scope(name: &str) -> Option<&str> {
    name.rsplit_once("::")
        .map(|(s, _)| s)
        .filter(|s| !s.is_empty())
}

/// One palette colour per scope (per name for unscoped labels), stable across runs.
pub fn derived_color(name: &str) -> String {
    let key = scope(name).unwrap_or(name);
    // FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    PALETTE[(h % PALETTE.len() as u64) as usize].to_string()
}

fn val(s: &Sp) -> String {
    s.value.clone()
}

fn condition_labels(c: &Condition, out: &mut BTreeSet<String>) {
    match c {
        Condition::HasLabel(l) | Condition::LacksLabel(l) => {
            out.insert(l.value.clone());
        }
        Condition::HasAnyLabel(ls) => out.extend(ls.iter().map(val)),
        Condition::All(cs) | Condition::Any(cs) => {
            for c in cs {
                condition_labels(c, out);
            }
        }
        Condition::Not(c) => condition_labels(c, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r##"
bot: { username: labelflow }
projects:
  opportunities: co-create/opportunities
  triage: contributor-success/triage
directory:
  roles:
    cs: [lead]
labels:
  "cocreate::*": { color: "#1F75CB", description: "Co-Create stage" }
  "needs-info": { color: "#dc143c" }
  "cocreate::presented": { description: "Presented to the customer" }
  "hand-applied": { description: "Applied by people" }
workflows:
  cocreate:
    projects: [opportunities]
    restricted_labels:
      - labels: ["cocreate-pathway::*", "vip"]
        roles: [cs]
    guards:
      - label: "cocreate::presented"
        revert_to: "cocreate::triage"
        requires:
          - if: { any: [ { has_label: "pm-buy-in::approved" }, { not: { lacks_label: "eng::allocated" } } ] }
            missing: "buy-in"
    required_fields:
      - when_label: "cocreate::identified"
        fields: [Customer]
    rules:
      - name: qualification
        on: { label_added: "cocreate::qualification" }
        if: [ { has_any_label: ["cocreate-pathway::minor"] } ]
        do:
          - add_labels: ["workflow::started"]
          - remove_labels: ["stale"]
          - create_issue:
              id: t
              project: triage
              title: "Triage"
              template: t.md.hbs
              labels: ["cocreate-triage"]
"##;

    fn engine() -> Engine {
        let dir = tempfile::tempdir().expect("tempdir");
        let templates = dir.path().join("templates");
        std::fs::create_dir_all(&templates).expect("mkdir");
        std::fs::write(templates.join("t.md.hbs"), "Triage of {{issue.reference}}").expect("write");
        let path = dir.path().join("labelflow.yml");
        std::fs::write(&path, CONFIG).expect("write");
        Engine::load(&path).unwrap_or_else(|e| panic!("config loads: {e}"))
    }

    fn names(labels: &[DesiredLabel]) -> Vec<&str> {
        labels.iter().map(|l| l.name.as_str()).collect()
    }

    #[test]
    fn the_workflow_project_gets_every_label_its_rules_use() {
        let labels = desired_labels(&engine(), "co-create/opportunities");
        assert_eq!(
            names(&labels),
            vec![
                "cocreate-pathway::minor",
                "cocreate::identified",
                "cocreate::presented",
                "cocreate::qualification",
                "cocreate::triage",
                "eng::allocated",
                "hand-applied",
                "needs-info",
                "pm-buy-in::approved",
                "stale",
                "vip",
                "workflow::started",
            ]
        );
    }

    #[test]
    fn created_issue_labels_go_to_the_target_project_only() {
        let labels = desired_labels(&engine(), "contributor-success/triage");
        assert_eq!(names(&labels), vec!["cocreate-triage", "hand-applied"]);
        assert_eq!(labels[0].used_by, BTreeSet::from(["cocreate".to_string()]));
    }

    #[test]
    fn colours_come_from_the_label_then_its_family_then_the_scope() {
        let labels = desired_labels(&engine(), "co-create/opportunities");
        let get = |n: &str| labels.iter().find(|l| l.name == n).cloned().expect(n);
        let presented = get("cocreate::presented");
        assert_eq!(presented.color, "#1f75cb");
        assert!(presented.color_configured);
        assert_eq!(presented.description, "Presented to the customer");
        let identified = get("cocreate::identified");
        assert_eq!(identified.color, "#1f75cb");
        assert_eq!(identified.description, "Co-Create stage");
        let needs = get("needs-info");
        assert_eq!(needs.color, "#dc143c");
        assert!(!needs.description_configured);
        assert_eq!(needs.description, "labelflow workflow: cocreate");
        let minor = get("cocreate-pathway::minor");
        assert!(!minor.color_configured);
        assert_eq!(minor.color, derived_color("cocreate-pathway::other"));
        assert!(PALETTE.contains(&minor.color.as_str()));
    }

    #[test]
    fn bad_colours_and_patterns_are_configuration_errors() {
        let text = CONFIG.replace("\"#dc143c\"", "red").replace(
            "\"hand-applied\": {",
            "\"team-*\": { color: \"#000000\" }\n  \"x\": {",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let templates = dir.path().join("templates");
        std::fs::create_dir_all(&templates).expect("mkdir");
        std::fs::write(templates.join("t.md.hbs"), "x").expect("write");
        let err = Engine::from_yaml(&text, &dir.path().join("labelflow.yml"))
            .expect_err("invalid labels section");
        let messages: Vec<&str> = err.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "labels: `needs-info`: colour `red` is not of the form #RRGGBB",
                "labels: `team-*`: only whole scoped families (`scope::*`) may use a pattern",
            ]
        );
        assert!(err.0[0].line.is_some(), "colour errors point at their line");
    }

    const SWEEP_CONFIG: &str = r##"
bot: { username: labelflow }
projects:
  opportunities: co-create/opportunities
  reports: co-create/reports
  archive: co-create/archive
directory:
  roles:
    cs: [lead]
workflows:
  cocreate:
    projects: [opportunities]
    rules:
      - name: recheck
        on: tick
        do: [add_labels: ["rechecked"]]
    stale:
      - stage: "cocreate::triage"
        owner_role: cs
        idle_days: 14
        grace_days: 7
        exempt: { labels: ["on-hold"] }
      - stage: "cocreate::archived"
        owner_role: cs
        idle_days: 30
        grace_days: 30
        stale_label: "archive::stale"
        groups: [co-create/old]
    sweep_visits:
      labels: ["cla::unknown"]
    sweep_summary:
      project: reports
      labels: ["sweep-summary"]
"##;

    #[test]
    fn sweep_labels_go_where_the_sweep_uses_them() {
        let engine = Engine::from_yaml(SWEEP_CONFIG, std::path::Path::new("/x/labelflow.yml"))
            .unwrap_or_else(|e| panic!("config loads: {e}"));
        assert_eq!(
            names(&desired_labels(&engine, "co-create/opportunities")),
            vec![
                "cla::unknown",
                "cocreate-sweep::nudged",
                "cocreate-sweep::stale",
                "cocreate::triage",
                "on-hold",
                "rechecked",
            ]
        );
        assert_eq!(
            names(&desired_labels(&engine, "co-create/reports")),
            vec!["sweep-summary"]
        );
        // The second policy sweeps a group: its projects get its labels, others do not.
        assert_eq!(
            names(&desired_labels(&engine, "co-create/old/2023")),
            vec![
                "archive::stale",
                "cocreate-sweep::nudged",
                "cocreate::archived"
            ]
        );
        assert!(desired_labels(&engine, "co-create/archive").is_empty());
        assert!(desired_labels(&engine, "co-create/older").is_empty());
    }

    #[test]
    fn scopes_nest_like_gitlab() {
        assert_eq!(scope("a::b::c"), Some("a::b"));
        assert_eq!(scope("plain"), None);
        assert_eq!(derived_color("a::x"), derived_color("a::y"));
    }
}
