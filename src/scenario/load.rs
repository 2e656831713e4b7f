//! Finding and reading scenario files, with errors that name the file, the scenario and the
//! line.

use super::model::{ScenarioFile, Step};
use crate::engine::load::yaml_message;
use std::fmt;
use std::path::{Path, PathBuf};

/// A scenario file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub scenario: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(s) = &self.scenario {
            write!(f, ": scenario \"{s}\"")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A parsed, checked scenario file.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub file: ScenarioFile,
}

/// The scenario files under `paths` (files as given, directories searched for `.yml` and
/// `.yaml`, in name order).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(LoadError {
                file: p.clone(),
                line: None,
                scenario: None,
                message: "no such file or directory".into(),
            });
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let err = |e: std::io::Error| LoadError {
        file: dir.to_path_buf(),
        line: None,
        scenario: None,
        message: format!("cannot read the directory: {e}"),
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads and checks one file.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        file: path.to_path_buf(),
        line: None,
        scenario: None,
        message: format!("cannot read the file: {e}"),
    })?;
    parse(&text, path)
}

/// Parses and checks scenario text; `path` names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Loaded, LoadError> {
    let file: ScenarioFile = serde_saphyr::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line() as usize);
        LoadError {
            file: path.to_path_buf(),
            line,
            scenario: line.and_then(|l| scenario_at_line(text, l)),
            message: yaml_message(&e.to_string()),
        }
    })?;
    if file.scenarios.is_empty() {
        return Err(LoadError {
            file: path.to_path_buf(),
            line: None,
            scenario: None,
            message: "the file has no scenarios (`scenarios:` is empty)".into(),
        });
    }
    for s in &file.scenarios {
        let err = |line: u64, message: String| LoadError {
            file: path.to_path_buf(),
            line: Some(line as usize),
            scenario: Some(s.value.name.clone()),
            message,
        };
        let sc = &s.value;
        if sc.issues.is_empty() {
            return Err(err(
                s.referenced.line(),
                "a scenario needs at least one issue under `issues:`".into(),
            ));
        }
        let mut ids = Vec::new();
        for i in &sc.issues {
            if ids.contains(&i.value.id) {
                return Err(err(
                    i.referenced.line(),
                    format!("two issues have the id `{}`", i.value.id),
                ));
            }
            ids.push(i.value.id.clone());
        }
        for (n, step) in sc.steps.iter().enumerate() {
            let line = step.referenced.line();
            check_step(&step.value, &ids).map_err(|m| err(line, format!("step {}: {m}", n + 1)))?;
        }
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        file,
    })
}

/// Exactly one action, a person for a person's action, an issue that exists.
fn check_step(step: &Step, ids: &[String]) -> Result<(), String> {
    let actions = [
        ("add_label", step.add_label.is_some()),
        ("remove_label", step.remove_label.is_some()),
        ("comment", step.comment.is_some()),
        ("edit_description", step.edit_description.is_some()),
        ("wait_days", step.wait_days.is_some()),
        ("sweep", step.sweep.is_some()),
    ];
    let given: Vec<&str> = actions.iter().filter(|a| a.1).map(|a| a.0).collect();
    match given.as_slice() {
        [] => {
            return Err(
                "no action: give one of add_label, remove_label, comment, edit_description, wait_days, sweep"
                    .into(),
            );
        }
        [one] => {
            let by_person = !matches!(*one, "wait_days" | "sweep");
            if by_person && step.by.is_none() {
                return Err(format!(
                    "`{one}` needs `by:` (the username taking the step)"
                ));
            }
            if !by_person && step.by.is_some() {
                return Err(format!("`{one}` is not taken by a person: remove `by:`"));
            }
        }
        many => {
            return Err(format!(
                "one action per step, this one has {}",
                many.join(", ")
            ));
        }
    }
    if step.sweep == Some(false) {
        return Err("`sweep: false` does nothing: write `sweep: true` or remove the step".into());
    }
    if let Some(id) = &step.issue
        && !ids.contains(id)
    {
        return Err(format!(
            "no issue `{id}` in this scenario (its issues: {})",
            ids.join(", ")
        ));
    }
    Ok(())
}

/// The scenario a line of the file belongs to: the last `- name:` at or before it (only
/// scenarios have names), for errors the parser reports by line alone.
fn scenario_at_line(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter_map(|l| l.trim_start().strip_prefix("- name:"))
        .last()
        .map(|n| n.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, Path::new("s.yml")).unwrap_err().to_string()
    }

    #[test]
    fn a_misspelt_key_names_file_and_line() {
        let e = err(
            "scenarios:\n  - name: a\n    issues: [{project: p}]\n    steps:\n      - add_lable: x\n        by: u\n",
        );
        assert!(e.starts_with("s.yml:5: scenario \"a\": "), "{e}");
        assert!(e.contains("add_lable"), "{e}");
        assert!(!e.contains("line 5"), "the location is said once: {e}");
    }

    #[test]
    fn a_step_without_an_action_names_the_scenario_and_step() {
        let e = err(
            "scenarios:\n  - name: first\n    issues: [{project: p}]\n    steps:\n      - by: u\n",
        );
        assert_eq!(
            e,
            "s.yml:5: scenario \"first\": step 1: no action: give one of add_label, remove_label, comment, edit_description, wait_days, sweep"
        );
    }

    #[test]
    fn two_actions_and_unknown_issues_are_refused() {
        let e = err(
            "scenarios:\n  - name: x\n    issues: [{project: p}]\n    steps:\n      - {add_label: a, comment: hi, by: u}\n",
        );
        assert!(
            e.contains("one action per step, this one has add_label, comment"),
            "{e}"
        );
        let e = err(
            "scenarios:\n  - name: x\n    issues: [{project: p}]\n    steps:\n      - {sweep: true, issue: other}\n",
        );
        assert!(e.contains("no issue `other`"), "{e}");
    }

    #[test]
    fn a_complete_file_parses() {
        let text = r#"
cla_registry: "agreements: []"
scenarios:
  - name: full
    directory: { roles: { r: [a] }, product_groups: { "group::x": [pm] } }
    issues:
      - project: p
        labels: [a, b]
        fields: { Seats: 20, Customer: Acme }
    steps:
      - add_label: x
        by: u
        expect:
          - labels: [x]
          - no_labels: [y]
          - comment: hello
          - snapshot: { file: s.md }
          - created: { project: q, title: t, labels: [l], assignees: [a] }
          - confidential: true
          - closed: false
          - reverted: { label: x, message: m }
          - assignees: [a]
          - nothing
      - wait_days: 5
      - sweep: true
      - edit_description: { fields: { Budget: USD 5 } }
        by: u
      - remove_label: [a, b]
        by: u
"#;
        let l = parse(text, Path::new("s.yml")).expect("parses");
        let s = &l.file.scenarios[0].value;
        assert_eq!(s.issues[0].value.fields["Seats"], "20");
        assert_eq!(s.steps.len(), 5);
        assert_eq!(s.steps[0].value.expect.len(), 10);
        assert_eq!(s.steps[0].value.expect[1].referenced.line(), 15);
    }
}
