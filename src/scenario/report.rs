//! Reporting a run: one line per scenario and a readable account of each failure, or a JUnit
//! XML report for GitLab's `artifacts:reports:junit`.

use super::run::{Failure, Outcome};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write as _;
use std::path::Path;

/// The text report.
pub fn text(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let mark = if o.failure.is_some() { "FAIL" } else { "ok  " };
        let _ = writeln!(
            out,
            "{mark} {}:{}: {} ({} ms)",
            o.file.display(),
            o.line,
            o.name,
            o.duration.as_millis()
        );
        for p in &o.snapshots_written {
            let _ = writeln!(out, "     snapshot written: {}", p.display());
        }
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    for o in &failed {
        let _ = writeln!(out, "\n--- {} ({}:{})", o.name, o.file.display(), o.line);
        if let Some(f) = &o.failure {
            out.push_str(&failure_text(f, &o.file));
        }
    }
    let _ = writeln!(
        out,
        "\n{} scenarios: {} passed, {} failed",
        outcomes.len(),
        outcomes.len() - failed.len(),
        failed.len()
    );
    out
}

/// One failure in words: the step, each expectation that did not hold with what happened
/// instead, and what the planner decided.
pub fn failure_text(f: &Failure, file: &Path) -> String {
    let mut out = String::new();
    match f.step {
        Some((n, line)) => {
            let _ = writeln!(out, "step {n} ({}:{line}): {}", file.display(), f.what);
        }
        None => {
            let _ = writeln!(out, "could not set the scenario up: {}", f.what);
        }
    }
    for m in &f.mismatches {
        let _ = writeln!(out, "  expected (line {}): {}", m.line, m.expected);
        let mut first = true;
        for a in &m.actual {
            let _ = writeln!(out, "  {} {a}", if first { "actual:" } else { "       " });
            first = false;
        }
    }
    for p in &f.problems {
        let _ = writeln!(out, "  problem: {p}");
    }
    if !f.explanation.is_empty() {
        let _ = writeln!(out, "  what the planner decided in this step:");
        for line in &f.explanation {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// The JUnit XML report: a test suite per scenario file, a test case per scenario.
pub fn junit(outcomes: &[Outcome]) -> String {
    let mut report = Report::new("labelflow test");
    let mut files: Vec<&Path> = outcomes.iter().map(|o| o.file.as_path()).collect();
    files.dedup();
    for file in files {
        let name = file.display().to_string();
        let mut suite = TestSuite::new(name.as_str());
        for o in outcomes.iter().filter(|o| o.file == file) {
            let status = match &o.failure {
                None => TestCaseStatus::success(),
                Some(f) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let headline = match f.step {
                        Some((n, line)) => format!("step {n} (line {line}): {}", f.what),
                        None => format!("could not set the scenario up: {}", f.what),
                    };
                    s.set_message(headline.as_str());
                    s.set_type("scenario failed");
                    s.set_description(failure_text(f, file).as_str());
                    s
                }
            };
            let mut case = TestCase::new(o.name.as_str(), status);
            case.set_classname(name.as_str());
            case.set_time(o.duration);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    match report.to_string() {
        // quick-junit counts skipped tests on <testsuites> too, an attribute the Surefire
        // schema (tests/fixtures/junit/junit-10.xsd) allows only on <testsuite>. Scenarios
        // are never skipped, so it is always 0: it is dropped from that one start tag.
        Ok(xml) => match xml.split_once("<testsuite ") {
            Some((head, rest)) => format!(
                "{}<testsuite {rest}",
                head.replacen(" skipped=\"0\"", "", 1)
            ),
            None => xml.replacen(" skipped=\"0\"", "", 1),
        },
        Err(e) => format!("<!-- the JUnit report could not be written: {e} -->"),
    }
}
