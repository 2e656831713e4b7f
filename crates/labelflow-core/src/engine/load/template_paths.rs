//! Every variable a template names, checked against the data it will get, before any render:
//! so one check-config run reports all of a template's unknown variables (a render stops at
//! the first), and also the values handed to helpers (`{{mention issue.asignees}}`), which
//! strict mode lets through as empty.
//!
//! Paths inside `#each` / `#with` blocks are relative to the item, not to the data, and are
//! left to the render itself.

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{Path, PathSeg};
use serde_json::Value;

/// A variable a template names that its data lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPath {
    pub path: String,
    /// 1-based template line.
    pub line: usize,
    /// Handed to a helper (`{{mention x}}`, `{{#if x}}`) rather than printed: strict mode
    /// does not catch these; the helper gets nothing.
    pub helper: Option<String>,
    /// Nearby names that do exist (the keys of the deepest object found on the way).
    pub known: Vec<String>,
}

/// The unknown variables of `t` against `data`, in template order.
pub fn unknown_paths(
    t: &Template,
    data: &Value,
    is_helper: &dyn Fn(&str) -> bool,
) -> Vec<UnknownPath> {
    let mut out = Vec::new();
    walk(t, data, is_helper, &mut out);
    out
}

fn walk(t: &Template, data: &Value, is_helper: &dyn Fn(&str) -> bool, out: &mut Vec<UnknownPath>) {
    for (i, el) in t.elements.iter().enumerate() {
        let line = t.mapping.get(i).map(|m| m.0).unwrap_or(0);
        match el {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                expression(h, line, data, is_helper, out)
            }
            TemplateElement::HelperBlock(h) => {
                let name = h.name.as_name().unwrap_or_default().to_string();
                params(h, &name, line, data, out);
                // `if` / `unless` keep the context; other blocks change it.
                if matches!(name.as_str(), "if" | "unless") {
                    for inner in h.template.iter().chain(h.inverse.iter()) {
                        walk(inner, data, is_helper, out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn expression(
    h: &HelperTemplate,
    line: usize,
    data: &Value,
    is_helper: &dyn Fn(&str) -> bool,
    out: &mut Vec<UnknownPath>,
) {
    let plain = h.params.is_empty() && h.hash.is_empty();
    match &h.name {
        Parameter::Name(n) if plain && !is_helper(n) => check(n, line, None, data, out),
        Parameter::Path(p) if plain => {
            if let Some(raw) = relative(p) {
                check(raw, line, None, data, out);
            }
        }
        other => {
            let name = other.as_name().unwrap_or_default().to_string();
            params(h, &name, line, data, out);
        }
    }
}

fn params(h: &HelperTemplate, helper: &str, line: usize, data: &Value, out: &mut Vec<UnknownPath>) {
    for p in h.params.iter().chain(h.hash.values()) {
        if let Parameter::Path(p) = p
            && let Some(raw) = relative(p)
        {
            check(raw, line, Some(helper), data, out);
        }
    }
}

/// The raw text of a path from the data's root (not `this`, `../x` or `@index`).
fn relative(p: &Path) -> Option<&str> {
    match p {
        Path::Relative((segs, raw))
            if segs.iter().all(|s| matches!(s, PathSeg::Named(_)))
                && !raw.starts_with("this")
                && !raw.starts_with('.')
                && !raw.starts_with('@') =>
        {
            Some(raw)
        }
        _ => None,
    }
}

fn check(raw: &str, line: usize, helper: Option<&str>, data: &Value, out: &mut Vec<UnknownPath>) {
    let mut cur = data;
    for seg in raw.split(['.', '/']) {
        let key = seg.trim_start_matches('[').trim_end_matches(']');
        match cur {
            Value::Object(m) => match m.get(key) {
                Some(v) => cur = v,
                None => {
                    out.push(UnknownPath {
                        path: raw.to_string(),
                        line,
                        helper: helper.map(str::to_string),
                        known: m.keys().cloned().collect(),
                    });
                    return;
                }
            },
            // Indexes into lists (`missing.[0]`) depend on the data: not checkable here.
            Value::Array(_) => return,
            _ => {
                out.push(UnknownPath {
                    path: raw.to_string(),
                    line,
                    helper: helper.map(str::to_string),
                    known: Vec::new(),
                });
                return;
            }
        }
    }
}

impl UnknownPath {
    /// The problem in plain words.
    pub fn describe(&self) -> String {
        let mut s = match &self.helper {
            None => format!(
                "unknown variable `{}` (template line {})",
                self.path, self.line
            ),
            Some(h) => format!(
                "`{}` is given `{}`, which does not exist, so it gets nothing (template line {})",
                h, self.path, self.line
            ),
        };
        if !self.known.is_empty() {
            let parent = self.path.rsplit_once('.').map(|(p, _)| p);
            let names: Vec<String> = self
                .known
                .iter()
                .map(|k| match parent {
                    Some(p) => format!("{p}.{k}"),
                    None => k.clone(),
                })
                .collect();
            s.push_str(&format!("; known here: {}", names.join(", ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unknown(src: &str) -> Vec<String> {
        let t = Template::compile(src).unwrap();
        let data = json!({ "issue": { "assignees": [], "title": "t" }, "fields": { "severity": "" }, "missing": [] });
        let helper = |n: &str| n == "mention";
        unknown_paths(&t, &data, &helper)
            .iter()
            .map(UnknownPath::describe)
            .collect()
    }

    #[test]
    fn finds_every_unknown_variable_and_helper_argument() {
        let got = unknown(
            "Hi {{mention issue.asignees}}, status?\n{{fields.severty}} {{issue.title}}\n{{#if fields.sevrity}}x{{/if}}{{#each issue.assignees}}{{this}}{{nope}}{{/each}}{{missing.[0]}}",
        );
        assert_eq!(
            got,
            vec![
                "`mention` is given `issue.asignees`, which does not exist, so it gets nothing (template line 1); known here: issue.assignees, issue.title",
                "unknown variable `fields.severty` (template line 2); known here: fields.severity",
                "`if` is given `fields.sevrity`, which does not exist, so it gets nothing (template line 3); known here: fields.severity",
            ]
        );
    }
}
