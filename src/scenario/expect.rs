//! Checking a step's expectations against what the simulated GitLab shows afterwards, and
//! saying in plain words what was expected and what happened instead.

use super::model::{CreatedSpec, Expectation, RevertedSpec, SnapshotSpec};
use crate::sim::{IssueStatus, IssueView};
use std::path::{Path, PathBuf};

/// What a step left behind.
pub struct Observed {
    /// The step's issue, now.
    pub issue: IssueView,
    /// The bot's comments on the step's issue during the step (system notes left out).
    pub comments: Vec<String>,
    /// Everything the bot wrote during the step, anywhere (system notes included), as
    /// `project#iid: text`.
    pub bot_activity: Vec<String>,
    /// Issues opened during the step.
    pub created: Vec<IssueView>,
    /// The configuration's project names → paths (`created:` takes either).
    pub project_paths: std::collections::BTreeMap<String, String>,
}

/// One expectation that did not hold.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// Line of the expectation in the scenario file.
    pub line: u64,
    pub expected: String,
    pub actual: Vec<String>,
}

pub enum Checked {
    Pass,
    Fail(Mismatch),
    /// `--update-snapshots` wrote this snapshot file.
    Updated(PathBuf),
}

/// Where snapshot files are and whether to rewrite them.
pub struct SnapshotMode<'a> {
    pub dir: &'a Path,
    pub update: bool,
}

pub fn check(e: &Expectation, line: u64, o: &Observed, snap: &SnapshotMode<'_>) -> Checked {
    let fail = |expected: String, actual: Vec<String>| {
        Checked::Fail(Mismatch {
            line,
            expected,
            actual,
        })
    };
    let labels_now = || vec![format!("labels now: {}", list(&o.issue.labels))];
    match e {
        Expectation::Labels(want) => {
            let missing: Vec<&String> = want.iter().filter(|l| !has(&o.issue.labels, l)).collect();
            if missing.is_empty() {
                return Checked::Pass;
            }
            fail(format!("labels on the issue: {}", list(want)), labels_now())
        }
        Expectation::NoLabels(unwanted) => {
            let present: Vec<&String> = unwanted
                .iter()
                .filter(|l| has(&o.issue.labels, l))
                .collect();
            if present.is_empty() {
                return Checked::Pass;
            }
            fail(
                format!("labels not on the issue: {}", list(unwanted)),
                labels_now(),
            )
        }
        Expectation::Comment(text) => {
            if o.comments.iter().any(|c| c.contains(text.as_str())) {
                return Checked::Pass;
            }
            fail(
                format!("a bot comment containing \"{text}\""),
                comments_seen(&o.comments),
            )
        }
        Expectation::NoComment(text) => match o.comments.iter().find(|c| c.contains(text.as_str()))
        {
            None => Checked::Pass,
            Some(c) => fail(
                format!("no bot comment containing \"{text}\""),
                quoted("the bot commented:", c),
            ),
        },
        Expectation::Snapshot(spec) => snapshot(spec, line, o, snap),
        Expectation::Assignees(want) => {
            if want.iter().all(|u| has(&o.issue.assignees, u)) {
                return Checked::Pass;
            }
            fail(
                format!("assigned: {}", people(want)),
                vec![format!("assigned now: {}", people(&o.issue.assignees))],
            )
        }
        Expectation::Created(spec) => {
            created(spec, o).map_or(Checked::Pass, |(exp, act)| fail(exp, act))
        }
        Expectation::Confidential(want) => {
            if o.issue.confidential == *want {
                return Checked::Pass;
            }
            fail(
                format!(
                    "the issue {}",
                    if *want {
                        "confidential"
                    } else {
                        "not confidential"
                    }
                ),
                vec![format!(
                    "the issue is {}",
                    if o.issue.confidential {
                        "confidential"
                    } else {
                        "not confidential"
                    }
                )],
            )
        }
        Expectation::Closed(want) => {
            let closed = o.issue.state == IssueStatus::Closed;
            if closed == *want {
                return Checked::Pass;
            }
            fail(
                format!("the issue {}", if *want { "closed" } else { "open" }),
                vec![format!(
                    "the issue is {}",
                    if closed { "closed" } else { "open" }
                )],
            )
        }
        Expectation::Reverted(spec) => {
            reverted(spec, o).map_or(Checked::Pass, |(exp, act)| fail(exp, act))
        }
        Expectation::Nothing => {
            if o.bot_activity.is_empty() && o.created.is_empty() {
                return Checked::Pass;
            }
            let mut actual = vec!["the bot did this:".to_string()];
            for a in &o.bot_activity {
                actual.extend(indent(a));
            }
            for i in &o.created {
                actual.push(format!(
                    "  opened {}#{}: {}",
                    i.project_path, i.iid, i.title
                ));
            }
            fail("the bot does nothing".into(), actual)
        }
    }
}

fn reverted(spec: &RevertedSpec, o: &Observed) -> Option<(String, Vec<String>)> {
    let expected = format!(
        "~\"{}\" taken off again, with a bot comment containing \"{}\"",
        spec.label, spec.message
    );
    let still_on = has(&o.issue.labels, &spec.label);
    let said = o
        .comments
        .iter()
        .any(|c| c.contains(spec.message.as_str()) && c.contains(spec.label.as_str()));
    if !still_on && said {
        return None;
    }
    let mut actual = Vec::new();
    if still_on {
        actual.push(format!("~\"{}\" is still on the issue", spec.label));
    }
    actual.extend(comments_seen(&o.comments));
    Some((expected, actual))
}

fn created(spec: &CreatedSpec, o: &Observed) -> Option<(String, Vec<String>)> {
    let mut expected = format!("an issue opened in {}", spec.project);
    if let Some(t) = &spec.title {
        expected.push_str(&format!(", its title containing \"{t}\""));
    }
    if !spec.labels.is_empty() {
        expected.push_str(&format!(", labelled {}", list(&spec.labels)));
    }
    if !spec.assignees.is_empty() {
        expected.push_str(&format!(", assigned to {}", people(&spec.assignees)));
    }
    let path = o.project_paths.get(&spec.project).unwrap_or(&spec.project);
    let fits = |i: &IssueView| {
        i.project_path == *path
            && spec
                .title
                .as_ref()
                .is_none_or(|t| i.title.contains(t.as_str()))
            && spec.labels.iter().all(|l| has(&i.labels, l))
            && spec.assignees.iter().all(|u| has(&i.assignees, u))
    };
    if o.created.iter().any(fits) {
        return None;
    }
    let mut actual: Vec<String> = o
        .created
        .iter()
        .map(|i| {
            format!(
                "opened {}#{}: \"{}\", labels {}, assigned {}",
                i.project_path,
                i.iid,
                i.title,
                list(&i.labels),
                people(&i.assignees)
            )
        })
        .collect();
    if actual.is_empty() {
        actual.push("no issue was opened".into());
    }
    Some((expected, actual))
}

fn snapshot(spec: &SnapshotSpec, line: u64, o: &Observed, snap: &SnapshotMode<'_>) -> Checked {
    let path = snap.dir.join(&spec.file);
    let candidates: Vec<&String> = o
        .comments
        .iter()
        .filter(|c| {
            spec.containing
                .as_ref()
                .is_none_or(|t| c.contains(t.as_str()))
        })
        .collect();
    let fail = |expected: String, actual: Vec<String>| {
        Checked::Fail(Mismatch {
            line,
            expected,
            actual,
        })
    };
    let expected_text = std::fs::read_to_string(&path).ok();
    if let Some(want) = &expected_text
        && candidates.iter().any(|c| normalise(c) == normalise(want))
    {
        return Checked::Pass;
    }
    match candidates.as_slice() {
        [] => fail(
            format!("a bot comment as in {}", path.display()),
            comments_seen(&o.comments),
        ),
        [one] if snap.update => match std::fs::write(&path, format!("{}\n", normalise(one))) {
            Ok(()) => Checked::Updated(path),
            Err(e) => fail(
                format!("{} written", path.display()),
                vec![format!("cannot write it: {e}")],
            ),
        },
        [one, ..] => {
            let mut actual = Vec::new();
            if candidates.len() > 1 {
                actual.push(format!(
                    "the step has {} bot comments; add `containing:` to pick one. The first, against the snapshot:",
                    candidates.len()
                ));
            }
            match &expected_text {
                None => {
                    actual.push(format!(
                        "{} does not exist (run with --update-snapshots to write it)",
                        path.display()
                    ));
                }
                Some(want) => {
                    actual.push("difference (- snapshot, + comment):".into());
                    actual.extend(line_diff(&normalise(want), &normalise(one)));
                }
            }
            fail(format!("a bot comment as in {}", path.display()), actual)
        }
    }
}

/// A comment as compared with its snapshot: trailing blanks and line ends ignored.
fn normalise(s: &str) -> String {
    s.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

/// A line diff, changed lines with a little context.
pub fn line_diff(old: &str, new: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = Vec::new();
    for group in diff.grouped_ops(1) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => "-",
                    similar::ChangeTag::Insert => "+",
                    similar::ChangeTag::Equal => " ",
                };
                out.push(format!(
                    "  {sign} {}",
                    change.value().trim_end_matches('\n')
                ));
            }
        }
    }
    out
}

fn has(items: &[String], wanted: &str) -> bool {
    items.iter().any(|i| i.eq_ignore_ascii_case(wanted))
}

fn list(labels: &[String]) -> String {
    crate::domain::label_list(labels)
}

fn people(users: &[String]) -> String {
    if users.is_empty() {
        return "nobody".into();
    }
    users
        .iter()
        .map(|u| format!("@{u}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn comments_seen(comments: &[String]) -> Vec<String> {
    if comments.is_empty() {
        return vec!["the bot did not comment on the issue in this step".into()];
    }
    let mut out = Vec::new();
    for c in comments {
        out.extend(quoted("the bot commented:", c));
    }
    out
}

fn quoted(title: &str, text: &str) -> Vec<String> {
    let mut out = vec![title.to_string()];
    out.extend(indent(text));
    out
}

fn indent(text: &str) -> Vec<String> {
    text.lines().map(|l| format!("  | {l}")).collect()
}
