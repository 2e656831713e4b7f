//! `labelflow test`: the shipped scenarios pass; two breakages of the shipped configuration
//! fail the scenario that guards against them, with a readable diff; the JUnit report
//! validates against the JUnit schema GitLab reads (tests/fixtures/junit/SOURCE.md).

use labelflow::scenario::{self, Outcome, RunOptions, report};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

async fn run(config: &Path) -> Vec<Outcome> {
    scenario::run_all(&RunOptions {
        config: config.to_path_buf(),
        paths: vec![repo("scenarios")],
        update_snapshots: false,
    })
    .await
    .unwrap_or_else(|e| panic!("the shipped scenarios load: {e}"))
}

/// The shipped configuration with `from` replaced by `to`, in a temporary file that still
/// finds the shipped templates.
fn broken_config(dir: &Path, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo("labelflow.yml")).expect("labelflow.yml");
    assert_eq!(
        text.matches(from).count(),
        1,
        "the breakage applies once: {from}"
    );
    let text = text.replace(from, to).replace(
        "templates_dir: templates",
        &format!("templates_dir: {}", repo("templates").display()),
    );
    let path = dir.join("labelflow.yml");
    std::fs::write(&path, text).expect("write the broken configuration");
    path
}

fn failed(outcomes: &[Outcome]) -> Vec<&str> {
    outcomes
        .iter()
        .filter(|o| o.failure.is_some())
        .map(|o| o.name.as_str())
        .collect()
}

/// No Rust debug formatting reaches people.
fn assert_readable(text: &str) {
    for debug in ["Some(", "None", "[\"", "\\n", "Spanned", "IssueView {"] {
        assert!(
            !text.contains(debug),
            "debug formatting `{debug}` in:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_scenarios_pass() {
    let outcomes = run(&repo("labelflow.yml")).await;
    assert!(outcomes.len() >= 50, "{} scenarios", outcomes.len());
    assert!(failed(&outcomes).is_empty(), "{}", report::text(&outcomes));
}

/// Removes `from` from the shipped configuration, plays every shipped scenario, and checks
/// that exactly `scenario` fails, with each of `lines` in the report.
async fn assert_breakage_fails(from: &str, scenario: &str, lines: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let config = broken_config(dir.path(), from, "");
    let outcomes = run(&config).await;
    assert_eq!(failed(&outcomes), vec![scenario]);
    let text = report::text(&outcomes);
    assert_readable(&text);
    for line in lines {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_presented_guards_buy_in_requirement_fails_its_scenario() {
    assert_breakage_fails(
        "          - if: { any: [{ lacks_label: \"cocreate-pathway::major\" }, { has_label: \"pm-buy-in::approved\" }] }\n            missing: \"for the major pathway: the product managers' buy-in (pm-buy-in::approved)\"\n",
        "presenting a major pathway needs the buy-in and an allocated engineer",
        &[
            "FAIL ",
            "step 1 (",
            "cocreate-guards.yml:",
            "@example-cs-lead adds ~\"cocreate::presented\"",
            "  expected (line ",
            "): ~\"cocreate::presented\" taken off again, with a bot comment containing \"for the major pathway: the product managers' buy-in (pm-buy-in::approved)\"",
            "  actual: the bot commented:",
            "| - for the major pathway: an engineer allocated by engineering (engineering::allocated)",
            "  what the planner decided in this step:",
            "planned: remove_labels (rule cocreate/guard:cocreate::presented)",
            // The decision trace of the step: the guard that reverted, and what it missed.
            "  why:",
            "guard on `cocreate::presented`: reverted: applied before its prerequisites: missing for the major pathway: an engineer allocated by engineering (engineering::allocated)",
            "55 passed, 1 failed",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letting_anyone_acknowledge_the_mdf_credit_fails_its_scenario() {
    assert_breakage_fails(
        "    restricted_labels:\n      # Seed step 3: future credit acknowledgement is the production team lead's.\n      - labels: [\"mdf::credit-acknowledged\"]\n        roles: [production-team-lead]\n",
        "only the production team lead acknowledges the future credit",
        &[
            "@example-alliances-lead adds ~\"mdf::credit-acknowledged\"",
            "): ~\"mdf::credit-acknowledged\" taken off again, with a bot comment containing \"can only be applied by\"",
            "~\"mdf::credit-acknowledged\" is still on the issue",
            "): labels on the issue: ~\"mdf::partner-approved\"",
            "): no bot comment containing \"Future credit acknowledged\"",
            "| **Future credit acknowledged** by the production team lead @example-alliances-lead",
            "planned: comment (rule mdf/credit-acknowledged)",
            "rule `credit-acknowledged`: fired: triggered by `label_added: mdf::credit-acknowledged`",
        ],
    )
    .await;
}

fn labelflow_test(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .arg("test")
        .arg("--config")
        .arg(repo("labelflow.yml"))
        .args(args)
        .output()
        .expect("labelflow runs")
}

#[test]
fn the_command_prints_a_line_per_scenario_and_exits_1_on_a_failure() {
    let fixture = repo("tests/fixtures/scenarios/one-pass-one-fail.yml");
    let out = labelflow_test(&[fixture.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_readable(&stdout);
    assert!(
        stdout.contains(":3: a guard moves a premature stage back ("),
        "{stdout}"
    );
    assert!(stdout.starts_with("ok   "), "{stdout}");
    assert!(stdout.contains("\nFAIL "), "{stdout}");
    assert!(
        stdout.contains(
            "expected (line 21): a bot comment containing \"Presented to the customer.\""
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 scenarios: 1 passed, 1 failed"),
        "{stdout}"
    );
}

#[test]
fn the_junit_report_validates_against_the_junit_schema() {
    if Command::new("xmllint").arg("--version").output().is_err() {
        // .ci/run installs Debian's libxml2-utils; a developer machine may lack it.
        eprintln!("xmllint not installed (Debian: libxml2-utils); skipping the schema check");
        assert!(std::env::var_os("CI").is_none(), "CI must have xmllint");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("report.xml");
    let fixture = repo("tests/fixtures/scenarios/one-pass-one-fail.yml");
    let out = labelflow_test(&[
        "--format",
        "junit",
        "--output",
        xml.to_str().unwrap(),
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = std::fs::read_to_string(&xml).expect("the report is written");
    assert!(
        report.contains("<failure message=\"step 1 (line 18)"),
        "{report}"
    );
    assert!(
        report.contains("&lt;&amp; &quot;quoted&quot;&gt;"),
        "{report}"
    );
    let check = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(repo("tests/fixtures/junit/junit-10.xsd"))
        .arg(&xml)
        .output()
        .expect("xmllint runs");
    assert!(
        check.status.success(),
        "the report does not validate:\n{}\n{report}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn a_bad_scenario_file_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(
        &file,
        "scenarios:\n  - name: typo\n    issues: [{project: opportunities}]\n    steps:\n      - add_label: x\n        by: someone\n        expect:\n          - lables: [x]\n",
    )
    .unwrap();
    let out = labelflow_test(&[file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("bad.yml:8"), "{stderr}");
    assert!(stderr.contains("lables"), "{stderr}");
}

fn labelflow_plan(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_labelflow"))
        .arg("plan")
        .arg("--config")
        .arg(repo("labelflow.yml"))
        .arg("--issue")
        .arg(repo("tests/fixtures/plan/triage_issue.json"))
        .args(args)
        .output()
        .expect("labelflow runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plan_previews_a_followup_and_a_sweep_visit_offline() {
    let (code, out, _) = labelflow_plan(&["--followup", "buy-in-reminder"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "the follow-up `cocreate/buy-in-reminder` came due on co-create/opportunities#12"
        ),
        "{out}"
    );
    assert!(
        out.contains("1. comment (cocreate/buy-in-reminder)"),
        "{out}"
    );
    assert!(
        out.contains("@example-pm-code-review, please answer"),
        "{out}"
    );

    // Updated 2026-03-02: 11 idle days at triage is past the policy's 10.
    let (code, out, _) = labelflow_plan(&["--tick", "--now", "2026-03-13T10:00:00Z"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("a sweep visit on co-create/opportunities#12"),
        "{out}"
    );
    assert!(
        out.contains("1. comment (cocreate/stale:cocreate::triage:nudge)"),
        "{out}"
    );
    assert!(
        out.contains("at ~\"cocreate::triage\" for 11 days"),
        "{out}"
    );
    let (_, out, _) = labelflow_plan(&["--tick", "--now", "2026-03-05T10:00:00Z"]);
    assert!(out.contains("no actions"), "{out}");

    let (code, _, err) = labelflow_plan(&["--followup", "nope"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no rule waits for a follow-up named `nope` (the configuration's follow-ups: cocreate/buy-in-reminder)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_snapshots_writes_the_comment_and_then_it_matches() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.yml");
    std::fs::write(
        &file,
        "scenarios:\n  - name: presented\n    issues:\n      - project: opportunities\n        labels: [\"cocreate::triage\", \"cocreate-pathway::minor\"]\n    steps:\n      - add_label: \"cocreate::presented\"\n        by: example-cs-lead\n        expect:\n          - snapshot: { file: presented.md }\n",
    )
    .unwrap();
    let opts = |update| RunOptions {
        config: repo("labelflow.yml"),
        paths: vec![file.clone()],
        update_snapshots: update,
    };
    let missing = scenario::run_all(&opts(false)).await.unwrap();
    let text = report::text(&missing);
    assert!(
        text.contains("presented.md does not exist (run with --update-snapshots to write it)"),
        "{text}"
    );

    let written = scenario::run_all(&opts(true)).await.unwrap();
    assert!(written[0].failure.is_none());
    assert_eq!(
        written[0].snapshots_written,
        vec![dir.path().join("presented.md")]
    );
    let snapshot = std::fs::read_to_string(dir.path().join("presented.md")).unwrap();
    assert!(
        snapshot.starts_with("**Presented to the customer.** @example-cs-lead applied"),
        "{snapshot}"
    );
    assert!(!snapshot.contains("<!-- labelflow:"), "{snapshot}");

    std::fs::write(
        dir.path().join("presented.md"),
        snapshot.replace("Presented", "Shown"),
    )
    .unwrap();
    let changed = scenario::run_all(&opts(false)).await.unwrap();
    let text = report::text(&changed);
    assert!(
        text.contains("difference (- snapshot, + comment):"),
        "{text}"
    );
    assert!(text.contains("  - **Shown to the customer.**"), "{text}");
    assert!(
        text.contains("  + **Presented to the customer.**"),
        "{text}"
    );
}
