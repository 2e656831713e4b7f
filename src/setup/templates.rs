//! Which issue templates go to which project. A template's `/label` quick actions apply labels
//! when someone opens an issue from it; in a project where no workflow uses those labels they
//! would start nothing (or create stray labels), so a template goes only to the projects whose
//! workflows use every label it applies. Templates that apply no label go everywhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::engine::Engine;

/// One issue template file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueTemplate {
    pub name: String,
    pub content: Vec<u8>,
    /// The labels its `/label` quick actions apply.
    pub labels: Vec<String>,
}

/// The labels `/label ~a ~"b c"` lines apply (GitLab's label reference forms: `~word` and
/// `~"quoted words"`), in order, without repeats.
pub fn applied_labels(content: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in content.lines() {
        let Some(rest) = line.trim_start().strip_prefix("/label") else {
            continue;
        };
        if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let mut rest = rest.trim_start();
        while let Some(after) = rest.strip_prefix('~') {
            let (label, tail) = match after.strip_prefix('"') {
                Some(q) => match q.split_once('"') {
                    Some((label, tail)) => (label, tail),
                    None => (q, ""),
                },
                None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
            };
            if !label.is_empty() && !out.iter().any(|l| l == label) {
                out.push(label.to_string());
            }
            rest = tail.trim_start();
        }
    }
    out
}

/// The labels of `used_here` a template applies that the project's workflows do not use.
pub fn missing_labels<'a>(template: &'a IssueTemplate, used_here: &BTreeSet<&str>) -> Vec<&'a str> {
    template
        .labels
        .iter()
        .map(String::as_str)
        .filter(|l| !used_here.contains(l))
        .collect()
}

/// `<config dir>/<templates_dir>/issue_templates`.
pub fn default_dir(engine: &Engine) -> PathBuf {
    engine
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&engine.config.templates_dir)
        .join("issue_templates")
}

/// The `*.md` files of `dir`, sorted by name; none when the directory does not exist.
pub fn read_dir(dir: &Path) -> Result<Vec<IssueTemplate>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("reading {}: {e}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !path.is_file() || !name.ends_with(".md") {
            continue;
        }
        let content =
            std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let labels = applied_labels(&String::from_utf8_lossy(&content));
        out.push(IssueTemplate {
            name: name.to_string(),
            content,
            labels,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_quick_actions_in_both_reference_forms() {
        let text = "## Customer\n\n/label ~\"cocreate::identified\" ~needs-info\n/labels ~x\n\
                    not /label ~y\n  /label ~\"license-type::self-managed\" ~needs-info\n";
        assert_eq!(
            applied_labels(text),
            vec![
                "cocreate::identified",
                "needs-info",
                "license-type::self-managed"
            ]
        );
        assert!(applied_labels("/assign @me\n").is_empty());
    }

    #[test]
    fn a_template_is_missing_what_the_project_does_not_use() {
        let t = IssueTemplate {
            name: "mdf.md".into(),
            content: Vec::new(),
            labels: vec!["mdf::requested".into(), "alliances".into()],
        };
        let here = BTreeSet::from(["alliances", "cocreate::identified"]);
        assert_eq!(missing_labels(&t, &here), vec!["mdf::requested"]);
    }
}
