//! The second example configuration, `examples/security/labelflow.yml` (vulnerability reports):
//! it loads, and its plans do what its comments say, confidentiality first.

#[path = "common/plan_fixtures.rs"]
mod plan_fixtures;

use chrono::{DateTime, TimeZone, Utc};
use labelflow::actions::{Action, PlannedAction};
use labelflow::domain::{Event, IssueState, IssueStatus};
use labelflow::engine::{Engine, Plan, plan};
use labelflow::setup::labels::desired_labels;
use plan_fixtures::{comment, edited, labels_changed, opened};
use std::path::Path;
use std::sync::OnceLock;

const REPORTS: &str = "security/vulnerability-reports";
const COMPLETE: &str = "Summary: Stored XSS in wiki titles\nAffected component: Wiki\n\
Affected versions: 17.0 to 17.3\nSteps to reproduce: create a page titled <script>\nImpact: session theft\n";
const INCOMPLETE: &str = "Summary: Stored XSS in wiki titles\nAffected component: Wiki\n";

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/security/labelflow.yml");
        Engine::load(&path).unwrap_or_else(|e| panic!("security example: {e}"))
    })
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn report(labels: &[&str], description: &str) -> IssueState {
    IssueState {
        id: 31,
        iid: 4,
        project_id: 77,
        project_path: REPORTS.to_string(),
        title: "XSS in wiki".to_string(),
        description: description.to_string(),
        state: IssueStatus::Opened,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        assignees: vec![],
        author: "reporter".to_string(),
        confidential: false,
        web_url: format!("https://gitlab.example.com/{REPORTS}/-/issues/4"),
        created_at: now(),
        updated_at: now(),
        status: None,
        work_item_type: "Issue".to_string(),
        custom_fields: Default::default(),
    }
}

/// A label applied by `actor` (already on `issue`).
fn labelled(issue: &IssueState, actor: &str, added: &str) -> Event {
    labels_changed(issue, actor, &[added], &[])
}

fn run(ev: &Event, issue: &IssueState) -> Plan {
    plan(engine(), ev, issue, now()).unwrap_or_else(|e| panic!("plan failed: {e}"))
}

fn kinds(p: &Plan) -> Vec<&'static str> {
    p.actions.iter().map(|a| a.action.kind()).collect()
}

fn body(a: &PlannedAction) -> &str {
    match &a.action {
        Action::Comment { body } => body,
        other => panic!("expected a comment, got {other:?}"),
    }
}

#[test]
fn the_example_loads() {
    let e = engine();
    let wf = &e.config.workflows["security"];
    assert_eq!(wf.rules.len(), 7);
}

#[test]
fn an_incomplete_report_turns_confidential_before_the_missing_fields_comment() {
    let i = report(&["vuln::reported"], INCOMPLETE);
    let p = run(&opened(&i), &i);
    assert_eq!(
        kinds(&p),
        vec!["set_confidential", "add_labels", "comment"],
        "{p:?}"
    );
    assert_eq!(
        p.actions[0].action,
        Action::SetConfidential { confidential: true }
    );
    let b = body(&p.actions[2]);
    assert!(b.contains("Affected versions"), "{b}");
    assert!(b.contains("Steps to reproduce"), "{b}");
    // Keys come from rule and action index, not from the position in the plan.
    assert!(
        p.actions[0].key.starts_with("security/confidential/"),
        "{}",
        p.actions[0].key
    );
}

#[test]
fn a_complete_report_is_confidential_then_acknowledged_and_assigned() {
    let i = report(&["vuln::reported"], COMPLETE);
    let p = run(&opened(&i), &i);
    assert_eq!(
        kinds(&p),
        vec!["set_confidential", "assign", "comment", "schedule_followup"]
    );
    assert!(body(&p.actions[2]).starts_with("Thank you @reporter for the report."));
}

#[test]
fn completing_the_fields_acknowledges_once_without_a_second_rule() {
    let mut i = report(&["vuln::reported", "needs-info"], COMPLETE);
    i.confidential = true;
    let p = run(&edited(&i, &i.author), &i);
    assert_eq!(
        kinds(&p),
        vec!["remove_labels", "assign", "comment", "schedule_followup"]
    );
    assert_eq!(p.actions[1].rule, "acknowledge");

    // Still incomplete: nothing fires.
    let i = report(&["vuln::reported", "needs-info"], INCOMPLETE);
    assert!(run(&edited(&i, &i.author), &i).actions.is_empty());
}

#[test]
fn severity_command_applies_the_templated_label() {
    let i = report(&["vuln::reported"], COMPLETE);
    let p = run(
        &comment(&i, "example-triager", "@labelflow severity HIGH"),
        &i,
    );
    assert_eq!(kinds(&p), vec!["add_labels", "comment"]);
    assert_eq!(
        p.actions[0].action,
        Action::AddLabels {
            labels: vec!["severity::high".to_string()]
        }
    );
    assert_eq!(
        body(&p.actions[1]),
        "@example-triager rated this report **high** (~\"severity::high\").\n"
    );
}

#[test]
fn a_wrong_or_missing_severity_gets_the_allowed_values() {
    let i = report(&["vuln::reported"], COMPLETE);
    let usage = "Usage: `severity` followed by one of `low`, `medium`, `high`, `critical`. Nothing was changed.";
    let p = run(
        &comment(&i, "example-triager", "@labelflow severity urgent"),
        &i,
    );
    assert_eq!(kinds(&p), vec!["comment"]);
    assert_eq!(p.actions[0].rule, "severity:usage");
    let b = body(&p.actions[0]);
    assert!(
        b.starts_with("@example-triager, `severity urgent` does not take urgent as its severity."),
        "{b}"
    );
    assert!(b.contains(usage), "{b}");

    let p = run(&comment(&i, "example-triager", "@labelflow severity"), &i);
    let b = body(&p.actions[0]);
    assert!(b.contains("`severity` is missing its severity."), "{b}");
    assert!(b.contains(usage), "{b}");

    // Someone outside the triage team is refused, whatever the value.
    let p = run(&comment(&i, "reporter", "@labelflow severity low"), &i);
    assert_eq!(p.actions[0].rule, "severity:refused");
}

#[test]
fn critical_opens_a_confidential_incident() {
    let i = report(&["vuln::reported", "severity::critical"], COMPLETE);
    let p = run(&labelled(&i, "example-triager", "severity::critical"), &i);
    assert_eq!(kinds(&p), vec!["create_issue", "comment"]);
    match &p.actions[0].action {
        Action::CreateIssue {
            project,
            confidential,
            title,
            ..
        } => {
            assert_eq!(project, "security/incidents");
            assert!(confidential);
            assert_eq!(title, "Security incident: Stored XSS in wiki titles");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn confirmed_is_restricted_and_fixed_is_guarded() {
    let i = report(&["vuln::confirmed"], COMPLETE);
    let p = run(&labelled(&i, "reporter", "vuln::confirmed"), &i);
    assert_eq!(kinds(&p), vec!["remove_labels", "comment"]);

    let i = report(&["vuln::confirmed", "vuln::fixed"], COMPLETE);
    let p = run(&labelled(&i, "example-appsec-engineer", "vuln::fixed"), &i);
    assert_eq!(kinds(&p), vec!["remove_labels", "add_labels", "comment"]);
    assert!(body(&p.actions[2]).contains("Fix MR"));

    let with_fix = format!("{COMPLETE}Fix MR: !812\n");
    let i = report(&["vuln::confirmed", "vuln::fixed"], &with_fix);
    let p = run(&labelled(&i, "example-appsec-engineer", "vuln::fixed"), &i);
    assert_eq!(kinds(&p), vec!["comment", "close"]);
}

#[test]
fn setup_creates_every_severity_label_the_command_can_apply() {
    let names: Vec<String> = desired_labels(engine(), REPORTS)
        .into_iter()
        .map(|l| l.name)
        .filter(|n| n.starts_with("severity::"))
        .collect();
    assert_eq!(
        names,
        vec![
            "severity::critical",
            "severity::high",
            "severity::low",
            "severity::medium"
        ]
    );
}

/// A small configuration of commands only (no templates), loaded from text.
fn commands_engine(rules: &str) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("labelflow.yml");
    let text = format!("bot: {{ username: labelflow }}\nworkflows:\n  w:\n    rules:\n{rules}");
    let engine = Engine::from_yaml(&text, &path).unwrap_or_else(|e| panic!("{e}"));
    (dir, engine)
}

#[test]
fn commands_match_whole_words_and_the_longest_name_wins() {
    let (_dir, e) = commands_engine(concat!(
        "      - name: any-severity\n",
        "        on: { command: { name: severity, min_args: 1 } }\n",
        "        do: [add_labels: [rated]]\n",
        "      - name: high\n",
        "        on: { command: { name: severity high } }\n",
        "        do: [add_labels: [\"severity::high\"]]\n",
    ));
    let i = report(&[], COMPLETE);
    let p = plan(
        &e,
        &comment(&i, "someone", "@labelflow severity high"),
        &i,
        now(),
    )
    .unwrap();
    let rules: Vec<&str> = p.actions.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(
        rules,
        vec!["high"],
        "one reply, from the longer name: {p:?}"
    );

    let p = plan(
        &e,
        &comment(&i, "someone", "@labelflow severity low"),
        &i,
        now(),
    )
    .unwrap();
    let rules: Vec<&str> = p.actions.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(rules, vec!["any-severity"]);

    // `severityx` is not `severity`.
    let p = plan(
        &e,
        &comment(&i, "someone", "@labelflow severityx high"),
        &i,
        now(),
    )
    .unwrap();
    let rules: Vec<&str> = p.actions.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(rules, vec!["command-reply:0"]);
}

#[test]
fn a_bare_first_word_gets_the_commands_it_starts() {
    let (_dir, e) = commands_engine(concat!(
        "      - name: low\n",
        "        on: { command: { name: priority low } }\n",
        "        do: [add_labels: [\"priority::low\"]]\n",
        "      - name: high\n",
        "        on: { command: { name: priority high } }\n",
        "        do: [add_labels: [\"priority::high\"]]\n",
    ));
    let i = report(&[], COMPLETE);
    let p = plan(
        &e,
        &comment(&i, "someone", "@labelflow priority"),
        &i,
        now(),
    )
    .unwrap();
    assert_eq!(p.actions.len(), 1, "{p:?}");
    assert_eq!(
        body(&p.actions[0]),
        "@someone, `priority` needs more: one of priority high, priority low. Nothing was changed.\n"
    );
}

#[test]
fn the_issue_template_asks_for_every_required_field() {
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/security/templates/issue_templates/vulnerability-report.md"),
    )
    .expect("issue template");
    assert!(template.contains("/label ~\"vuln::reported\""));
    assert!(template.contains("/confidential"));
    // GitLab runs the quick actions and leaves their lines out of the description.
    let template: String = template
        .lines()
        .filter(|l| !l.starts_with('/'))
        .map(|l| format!("{l}\n"))
        .collect();
    let filled = template
        .replace(
            "<!-- one line: what is vulnerable, and how -->",
            "Stored XSS in wiki titles",
        )
        .replace("<!-- e.g. Wiki, Merge requests, Runner -->", "Wiki")
        .replace("<!-- e.g. 17.0 to 17.3 -->", "17.0 to 17.3")
        .replace("<!-- what an attacker gains -->", "session theft")
        .replace(
            "<!-- numbered steps, with a proof of concept if you have one -->",
            "1. Create a page titled <script>",
        );
    let i = report(&["vuln::reported"], &filled);
    assert_eq!(
        kinds(&run(&opened(&i), &i)),
        vec!["set_confidential", "assign", "comment", "schedule_followup"]
    );
    // As it comes, unfilled: every field is asked for.
    let i = report(&["vuln::reported"], &template);
    let p = run(&opened(&i), &i);
    assert_eq!(kinds(&p), vec!["set_confidential", "add_labels", "comment"]);
    for field in [
        "Summary",
        "Affected component",
        "Affected versions",
        "Steps to reproduce",
        "Impact",
    ] {
        assert!(body(&p.actions[2]).contains(field), "{field}");
    }
}
