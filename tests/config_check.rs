//! The shipped `labelflow.yml` loads cleanly, and broken variants fail with errors (or warn)
//! naming the file, the line and what was expected. Over 600 lines on purpose: every case is
//! a variant of the shipped configuration built with the helpers below.

use labelflow::cla::SourceSpec;
use labelflow::engine::{ConfigError, Engine};
use labelflow::setup::labels::desired_labels;
use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_text() -> String {
    std::fs::read_to_string(repo().join("labelflow.yml")).expect("labelflow.yml is readable")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// A copy of the shipped configuration and templates in a temp dir, with `config` as its
/// `labelflow.yml`; `edit_templates` may change the copied templates first.
struct Variant {
    _dir: tempfile::TempDir,
    config: PathBuf,
}

fn variant(config: &str, edit_templates: impl FnOnce(&Path)) -> Variant {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo().join("templates"), &dir.path().join("templates"));
    edit_templates(&dir.path().join("templates"));
    let path = dir.path().join("labelflow.yml");
    std::fs::write(&path, config).expect("write config");
    Variant {
        _dir: dir,
        config: path,
    }
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u64 {
    let idx = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the configuration"));
    idx as u64 + 1
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once");
    text.replacen(from, to, 1)
}

fn load_errors(v: &Variant) -> Vec<ConfigError> {
    match Engine::load(&v.config) {
        Ok(_) => panic!("broken configuration loaded without errors"),
        Err(e) => e.0,
    }
}

fn single_error(v: &Variant) -> ConfigError {
    let errors = load_errors(v);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().expect("one error")
}

#[test]
fn shipped_config_loads() {
    let engine = match Engine::load(&repo().join("labelflow.yml")) {
        Ok(e) => e,
        Err(e) => panic!("shipped configuration has errors:\n{e}"),
    };
    let names: Vec<&str> = engine.config.workflows.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["alliances", "cocreate", "license", "mdf"]);
    assert_eq!(engine.bot(), "labelflow");
    let rules: Vec<usize> = engine
        .config
        .workflows
        .values()
        .map(|w| w.rules.len())
        .collect();
    assert_eq!(rules, vec![15, 15, 4, 4]);
}

#[test]
fn shipped_cla_check_reads_the_legal_registry_and_names_the_seeds_managers() {
    let engine = Engine::load(&repo().join("labelflow.yml")).expect("shipped config loads");
    let cla = engine.config.cla.as_ref().expect("a `cla:` section");
    assert_eq!(cla.managers, "cla_managers@gitlab.com");
    let settings = cla.settings(&engine.path, &engine.config.projects);
    assert_eq!(
        settings.source,
        SourceSpec::Gitlab {
            project: "legal/cla-registry".to_string(),
            path: "registry.yml".to_string(),
            git_ref: "main".to_string(),
        }
    );
    assert_eq!(settings.required_version, None);
    assert_eq!(cla.subject.company_field.as_deref(), Some("Customer"));
    assert_eq!(
        cla.subject.usernames_field.as_deref(),
        Some("Customer engineers")
    );
}

#[test]
fn shipped_cla_labels_are_set_up_where_the_check_runs_only() {
    let engine = Engine::load(&repo().join("labelflow.yml")).expect("shipped config loads");
    let opportunities = desired_labels(&engine, "co-create/opportunities");
    let cla: Vec<(&str, &str)> = opportunities
        .iter()
        .filter(|l| l.name.starts_with("cla::"))
        .map(|l| (l.name.as_str(), l.color.as_str()))
        .collect();
    assert_eq!(
        cla,
        vec![
            ("cla::missing", "#dd2b0e"),
            ("cla::signed", "#108548"),
            ("cla::unknown", "#ab6100"),
        ]
    );
    for project in ["alliances/partners", "legal/cla-registry"] {
        let labels = desired_labels(&engine, project);
        assert!(
            labels.iter().all(|l| !l.name.starts_with("cla::")),
            "{project}: {:?}",
            labels.iter().map(|l| &l.name).collect::<Vec<_>>()
        );
    }
    assert!(desired_labels(&engine, "legal/cla-registry").is_empty());
}

#[test]
fn cla_source_in_an_unknown_project_is_located() {
    let text = replace_once(
        &shipped_text(),
        "gitlab: { project: cla_registry,",
        "gitlab: { project: cla_registries,",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(e.file, v.config);
    assert_eq!(e.line, Some(line_of(&text, "project: cla_registries")));
    assert!(
        e.message.contains(
            "cla.source: unknown project `cla_registries` (expected a name from `projects:` or a group/project path)"
        ),
        "{e}"
    );
}

#[test]
fn cla_check_without_a_cla_section_is_rejected() {
    let text = shipped_text();
    let start = text.find("\ncla:\n").expect("a `cla:` section") + 1;
    let end = start + text[start..].find("\n\n").expect("the section ends") + 1;
    let text = format!("{}{}", &text[..start], &text[end..]);
    let v = variant(&text, |_| {});
    let errors = load_errors(&v);
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "workflow `cocreate` rule `identified`: uses `cla_check` but the configuration has no `cla:` section",
            "workflow `cocreate` rule `cla-recheck`: uses `cla_check` but the configuration has no `cla:` section",
            "workflow `cocreate` rule `cla-sweep`: uses `cla_check` but the configuration has no `cla:` section",
        ],
        "{errors:?}"
    );
    let lines: Vec<Option<u64>> = errors.iter().map(|e| e.line).collect();
    assert_eq!(
        lines,
        vec![
            Some(line_of(&text, "- name: identified")),
            Some(line_of(&text, "- name: cla-recheck")),
            Some(line_of(&text, "- name: cla-sweep")),
        ]
    );
}

/// The shipped stale policies: where items stall, who owns them, and the timings
/// (stage, owner, idle days, grace days, close after), in funnel order; nothing closes by itself
/// and `on-hold` exempts everywhere.
#[test]
fn shipped_stale_policies_cover_the_stages_where_items_stall() {
    let engine = Engine::load(&repo().join("labelflow.yml")).expect("shipped config loads");
    let policies = |wf: &str| -> Vec<(String, String, u32, u32, Option<u32>)> {
        engine.config.workflows[wf]
            .stale
            .iter()
            .map(|p| {
                let exempt: Vec<&str> = p.exempt.labels.iter().map(|l| l.value.as_str()).collect();
                assert_eq!(exempt, vec!["on-hold"], "{wf} {}", p.stage.value);
                assert!(p.projects.is_empty() && p.groups.is_empty());
                (
                    p.stage.value.clone(),
                    p.owner_role.value.clone(),
                    p.idle_days,
                    p.grace_days,
                    p.close_after_days,
                )
            })
            .collect()
    };
    let p = |stage: &str, owner: &str, idle: u32, grace: u32| {
        (stage.to_string(), owner.to_string(), idle, grace, None)
    };
    assert_eq!(
        policies("cocreate"),
        vec![
            p("cocreate::qualification", "contributor-success", 7, 7),
            p("cocreate::triage", "contributor-success", 10, 7),
            p("cocreate::presented", "contributor-success", 14, 14),
            p("cocreate::onboarding", "contributor-success", 14, 14),
        ]
    );
    assert_eq!(
        policies("alliances"),
        vec![
            p("alliances::inbound", "alliances", 3, 4),
            p("alliances::lead-assigned", "alliances", 14, 14),
        ]
    );
    assert_eq!(
        policies("mdf"),
        vec![
            p("mdf::requested", "alliances", 7, 7),
            p("mdf::partner-approved", "production-team-lead", 5, 5),
        ]
    );
    assert_eq!(
        policies("license"),
        vec![p("license::in-progress", "license-admin", 3, 4)]
    );
    for (wf, project) in [
        ("cocreate", "contributor-success/co-create-reports"),
        ("alliances", "alliances/reports"),
        ("mdf", "alliances/reports"),
        ("license", "alliances/reports"),
    ] {
        let s = engine.config.workflows[wf]
            .sweep_summary
            .as_ref()
            .unwrap_or_else(|| panic!("{wf} has a sweep summary"));
        assert_eq!(
            engine.project_path(&s.project.value).as_deref(),
            Some(project)
        );
        assert_eq!(s.labels.len(), 1);
        assert_eq!(s.labels[0].value, "sweep-summary");
    }
    let visits = engine.config.workflows["cocreate"]
        .sweep_visits
        .as_ref()
        .expect("cocreate visits CLA items");
    let labels: Vec<&str> = visits.labels.iter().map(|l| l.value.as_str()).collect();
    assert_eq!(labels, vec!["cla::missing", "cla::unknown"]);
    for wf in ["alliances", "mdf", "license"] {
        assert!(engine.config.workflows[wf].sweep_visits.is_none(), "{wf}");
    }
}

/// `labelflow setup` creates the sweep's labels where the sweep uses them, with the colours
/// and descriptions of the `labels:` section.
#[test]
fn shipped_sweep_labels_are_set_up() {
    let engine = Engine::load(&repo().join("labelflow.yml")).expect("shipped config loads");
    let sweep_labels = |project: &str| -> Vec<(String, String)> {
        desired_labels(&engine, project)
            .into_iter()
            .filter(|l| {
                l.name.contains("-sweep::") || l.name == "on-hold" || l.name == "sweep-summary"
            })
            .map(|l| {
                assert!(l.color_configured && l.description_configured, "{l:?}");
                (l.name, l.color)
            })
            .collect()
    };
    let tan = "#c39953".to_string();
    let s = |n: &str, c: &str| (n.to_string(), c.to_string());
    assert_eq!(
        sweep_labels("co-create/opportunities"),
        vec![
            s("cocreate-sweep::nudged", &tan),
            s("cocreate-sweep::stale", &tan),
            s("on-hold", "#808080"),
        ]
    );
    assert_eq!(
        sweep_labels("alliances/partners"),
        vec![
            s("alliances-sweep::nudged", &tan),
            s("alliances-sweep::stale", &tan),
            s("license-sweep::nudged", &tan),
            s("license-sweep::stale", &tan),
            s("mdf-sweep::nudged", &tan),
            s("mdf-sweep::stale", &tan),
            s("on-hold", "#808080"),
        ]
    );
    for reports in ["contributor-success/co-create-reports", "alliances/reports"] {
        let all: Vec<String> = desired_labels(&engine, reports)
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(all, vec!["sweep-summary".to_string()], "{reports}");
    }
    // The stages a policy watches are set up too (the license's `in-progress` is only ever
    // added by rules, and the sweep lists by it).
    let partners: Vec<String> = desired_labels(&engine, "alliances/partners")
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(partners.contains(&"license::in-progress".to_string()));
}

#[test]
fn shipped_directory_names_no_real_people() {
    let engine = Engine::load(&repo().join("labelflow.yml")).expect("shipped config loads");
    let d = &engine.config.directory;
    let users = d
        .roles
        .values()
        .flatten()
        .chain(d.product_groups.values().flat_map(|g| g.pms.iter()));
    for u in users {
        assert!(u.starts_with("example-"), "`{u}` is not a placeholder");
    }
    for role in [
        "contributor-success",
        "developer-relations",
        "onsite-coordinator",
        "engineering-manager",
        "alliances",
        "production-team-lead",
        "license-admin",
        "corporate-development",
    ] {
        assert!(d.roles.contains_key(role), "role `{role}` missing");
    }
}

#[test]
fn unknown_key_is_located_and_lists_the_expected_keys() {
    let text = replace_once(
        &shipped_text(),
        "      - name: done\n",
        "      - name: done\n        when: now\n",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(e.file, v.config);
    assert_eq!(e.line, Some(line_of(&text, "when: now")));
    assert_eq!(e.column, Some(9));
    assert!(e.message.contains("unknown field `when`"), "{e}");
    assert!(
        e.message
            .contains("expected one of name, on, if, once, vars, do"),
        "{e}"
    );
}

#[test]
fn missing_template_names_the_reference_and_the_path_looked_at() {
    let text = replace_once(
        &shipped_text(),
        "template: mdf/done.md.hbs",
        "template: mdf/finished.md.hbs",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(e.file, v.config);
    assert_eq!(e.line, Some(line_of(&text, "mdf/finished.md.hbs")));
    assert!(
        e.message
            .starts_with("workflow `mdf` rule `done`: missing template `mdf/finished.md.hbs`"),
        "{e}"
    );
    assert!(e.message.contains("templates/mdf/finished.md.hbs"), "{e}");
}

#[test]
fn undefined_role_lists_the_defined_ones() {
    let text = replace_once(
        &shipped_text(),
        "assign_roles: [corporate-development]",
        "assign_roles: [corp-dev]",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(e.file, v.config);
    assert_eq!(e.line, Some(line_of(&text, "[corp-dev]")));
    assert!(
        e.message.contains(
            "workflow `alliances` rule `acquisition`: undefined role `corp-dev` \
             (expected one of the roles in `directory.roles`: alliances, contributor-success"
        ),
        "{e}"
    );
}

#[test]
fn template_with_an_unknown_variable_fails_at_load() {
    let text = shipped_text();
    let v = variant(&text, |templates| {
        let path = templates.join("mdf/done.md.hbs");
        let mut src = std::fs::read_to_string(&path).expect("read template");
        src.push_str("\nBudget owner: {{fields.budget_owner}}\n");
        std::fs::write(&path, src).expect("write template");
    });
    let e = single_error(&v);
    assert_eq!(e.file, v.config);
    assert_eq!(e.line, Some(line_of(&text, "template: mdf/done.md.hbs")));
    assert!(
        e.message
            .starts_with("workflow `mdf` rule `done`: template `mdf/done.md.hbs`:"),
        "{e}"
    );
    assert!(e.message.contains("fields.budget_owner"), "{e}");
    assert!(e.message.contains("(template line 3)"), "{e}");
}

#[test]
fn bad_yaml_is_located() {
    let text = replace_once(
        &shipped_text(),
        "  username: labelflow\n",
        "  username: labelflow: bot\n",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(e.file, v.config);
    assert_eq!(e.line, Some(line_of(&text, "username: labelflow: bot")));
    assert!(e.message.contains("mapping values are not allowed"), "{e}");
    assert!(
        e.message.ends_with(
            "(hint: a value that contains `: ` must be quoted, for example 'labelflow: bot')"
        ),
        "{e}"
    );
}

#[test]
fn several_problems_are_reported_together() {
    let text = replace_once(
        &shipped_text(),
        "assign_roles: [corporate-development]",
        "assign_roles: [corp-dev]",
    );
    let text = replace_once(
        &text,
        "template: mdf/done.md.hbs",
        "template: mdf/finished.md.hbs",
    );
    let v = variant(&text, |_| {});
    let errors = load_errors(&v);
    let lines: Vec<Option<u64>> = errors.iter().map(|e| e.line).collect();
    let mut expected = vec![
        Some(line_of(&text, "[corp-dev]")),
        Some(line_of(&text, "mdf/finished.md.hbs")),
    ];
    expected.sort();
    let mut got = lines.clone();
    got.sort();
    assert_eq!(got, expected, "{errors:?}");
}

#[test]
fn restricted_labels_nobody_may_apply_are_rejected() {
    let text = replace_once(
        &shipped_text(),
        "      - labels: [\"mdf::credit-acknowledged\"]\n        roles: [production-team-lead]\n",
        "      - labels: [\"mdf::credit-acknowledged\"]\n",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(
        e.line,
        Some(line_of(&text, "- labels: [\"mdf::credit-acknowledged\"]"))
    );
    assert!(
        e.message.contains(
            "workflow `mdf` restricted_labels: nobody may apply these labels (expected `roles:` or `product_pms: true`)"
        ),
        "{e}"
    );
}

#[test]
fn a_templated_label_outside_a_command_with_arguments_is_rejected() {
    let text = replace_once(
        &shipped_text(),
        "          - add_labels: [\"pm-buy-in::approved\"]\n",
        "          - add_labels: [\"severity::{{command.args}}\"]\n",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(e.line, Some(line_of(&text, "severity::{{command.args}}")));
    assert!(
        e.message
            .contains("`severity::{{command.args}}` is not a template"),
        "{e}"
    );
}

#[test]
fn a_label_template_may_only_use_listed_arguments() {
    let rule = "      - name: buy-in-approve\n        on:\n          command:\n            name: buy-in approve\n";
    let text = replace_once(
        &shipped_text(),
        rule,
        "      - name: buy-in-approve\n        on:\n          command:\n            args: [{ name: note }]\n            name: buy-in approve\n",
    );
    let text = replace_once(
        &text,
        "          - add_labels: [\"pm-buy-in::approved\"]\n",
        "          - add_labels: [\"pm-buy-in::{{args.note}}\", \"x::{{args.level}}\"]\n",
    );
    let v = variant(&text, |_| {});
    let errors = load_errors(&v);
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(errors.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains("`args.note`, which has no `one_of` list"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("`args.level`, which the command does not declare (declared: note)"),
        "{messages:?}"
    );
    assert_eq!(
        errors[0].line,
        Some(line_of(&text, "pm-buy-in::{{args.note}}"))
    );
}

#[test]
fn braces_in_text_that_is_not_a_template_are_rejected() {
    let text = replace_once(
        &shipped_text(),
        "missing: \"a complete request (see the needs-info comment)\"",
        "missing: \"a complete request from {{issue.author}}\"",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert!(e.message.contains("this text is not a template"), "{e}");
}

#[test]
fn fields_completed_needs_a_required_fields_entry() {
    let text = replace_once(
        &shipped_text(),
        "on: { fields_completed: \"mdf::requested\" }",
        "on: { fields_completed: \"mdf::request\" }",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(e.line, Some(line_of(&text, "- name: requested")));
    assert!(
        e.message.contains("`fields_completed` needs one of its labels (mdf::request) to have a `required_fields` entry"),
        "{e}"
    );
}

fn load_warnings(v: &Variant) -> Vec<ConfigError> {
    match Engine::load(&v.config) {
        Ok(engine) => engine.warnings,
        Err(e) => panic!("configuration has errors:\n{e}"),
    }
}

#[test]
fn shipped_config_has_no_warnings() {
    let v = variant(&shipped_text(), |_| {});
    assert_eq!(load_warnings(&v), vec![]);
}

#[test]
fn a_guard_on_a_label_nothing_applies_is_a_warning() {
    let text = replace_once(
        &shipped_text(),
        "      - label: \"mdf::done\"\n",
        "      - label: \"mdf::finished\"\n",
    );
    let text = replace_once(
        &text,
        "      - labels: [\"engineering::allocated\"]\n",
        "      - labels: [\"engineering::alocated\"]\n",
    );
    let v = variant(&text, |_| {});
    let w = load_warnings(&v);
    let got: Vec<(Option<u64>, &str)> = w.iter().map(|w| (w.line, w.message.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (
                Some(line_of(&text, "engineering::alocated")),
                "workflow `cocreate` restricted_labels: `engineering::alocated` matches no label that a rule, trigger, condition, stale policy or `labels:` entry mentions, so nothing applies it (a typo?)"
            ),
            (
                Some(line_of(&text, "mdf::finished")),
                "workflow `mdf` guard on `mdf::finished`: no rule, trigger, condition, stale policy or `labels:` entry mentions this label, so nothing applies it (a typo?)"
            ),
        ]
    );
}

#[test]
fn command_args_in_a_command_without_arguments_is_a_warning() {
    let text = shipped_text();
    let v = variant(&text, |templates| {
        let path = templates.join("cocreate/buy_in_approved.md.hbs");
        let mut src = std::fs::read_to_string(&path).expect("read template");
        src.push_str("\nNote: {{command.args}}\n");
        std::fs::write(&path, src).expect("write template");
    });
    let w = load_warnings(&v);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        w[0].line,
        Some(line_of(&text, "template: cocreate/buy_in_approved.md.hbs"))
    );
    assert!(
        w[0].message.starts_with("workflow `cocreate` rule `buy-in-approve`: template `cocreate/buy_in_approved.md.hbs`: reads `command.args`"),
        "{}",
        w[0]
    );
    assert!(w[0].message.contains("declares no arguments"), "{}", w[0]);
}

#[test]
fn a_helper_given_an_unknown_value_is_a_warning() {
    let v = variant(&shipped_text(), |templates| {
        let path = templates.join("mdf/done.md.hbs");
        let mut src = std::fs::read_to_string(&path).expect("read template");
        src.push_str("\nHi {{mention issue.asignees}}, status?\n");
        std::fs::write(&path, src).expect("write template");
    });
    let w = load_warnings(&v);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].message.contains("`mention` is given `issue.asignees`, which does not exist, so it gets nothing (template line 3); known here: "),
        "{}",
        w[0]
    );
    assert!(w[0].message.contains("issue.assignees"), "{}", w[0]);
}

#[test]
fn every_unknown_variable_of_a_template_is_reported_in_plain_words() {
    let v = variant(&shipped_text(), |templates| {
        let path = templates.join("mdf/done.md.hbs");
        let mut src = std::fs::read_to_string(&path).expect("read template");
        src.push_str("\n{{fields.severty}} and {{issue.titel}}\n");
        std::fs::write(&path, src).expect("write template");
    });
    let errors = load_errors(&v);
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0]
            .contains("unknown variable `fields.severty` (template line 3); known here: fields."),
        "{messages:?}"
    );
    assert!(
        messages[1].contains(
            "unknown variable `issue.titel` (template line 3); known here: issue.assignees"
        ),
        "{messages:?}"
    );
    assert!(
        messages.iter().all(|m| !m.contains("Some(")),
        "{messages:?}"
    );
}

#[test]
fn the_security_example_loads_without_warnings() {
    let engine = Engine::load(&repo().join("examples/security/labelflow.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(engine.warnings, vec![]);
}

#[test]
fn braces_in_a_trigger_label_are_rejected() {
    let text = replace_once(
        &shipped_text(),
        "on: { label_added: \"mdf::done\" }",
        "on: { label_added: \"mdf::{{args.stage}}\" }",
    );
    let v = variant(&text, |_| {});
    let e = single_error(&v);
    assert_eq!(e.line, Some(line_of(&text, "- name: done")));
    assert!(
        e.message
            .contains("`mdf::{{args.stage}}` contains `{{`, but this text is not a template"),
        "{e}"
    );
}
