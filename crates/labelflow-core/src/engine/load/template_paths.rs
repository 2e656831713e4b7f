//! Every variable a template names, checked against the data it will get, before any render:
//! so one check-config run reports all of a template's unknown variables (a render stops at
//! the first), and also the values handed to helpers (`{{mention issue.asignees}}`), which
//! strict mode lets through as empty.
//!
//! Inside `#with` / `#each` blocks paths are relative to the block's value (`../` climbs
//! out); a block over an empty sample list is left to the render, since its items' shape is
//! unknown.

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
    walk(t, &[data], is_helper, &mut out);
    out
}

/// `scopes`: the data at the root, then the value of each enclosing `#with` / `#each` block
/// (the last is the current context; `../` climbs one).
fn walk(
    t: &Template,
    scopes: &[&Value],
    is_helper: &dyn Fn(&str) -> bool,
    out: &mut Vec<UnknownPath>,
) {
    for (i, el) in t.elements.iter().enumerate() {
        let line = t.mapping.get(i).map(|m| m.0).unwrap_or(0);
        match el {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                expression(h, line, scopes, is_helper, out)
            }
            TemplateElement::HelperBlock(h) => {
                let name = h.name.as_name().unwrap_or_default().to_string();
                params(h, &name, line, scopes, out);
                let inner_scope = match name.as_str() {
                    // `as |item|` names are the block's own: not checkable here.
                    _ if h.block_param.is_some() => None,
                    // `if` / `unless` keep the context.
                    "if" | "unless" => Some(None),
                    // `with x`: x; `each xs`: a sample item (none in an empty sample list,
                    // whose items' shape is unknown: left to the render).
                    "with" | "each" => Some(block_value(h, scopes, &name)),
                    _ => None,
                };
                if let Some(inner) = inner_scope {
                    let mut nested: Vec<&Value> = scopes.to_vec();
                    match inner {
                        None => {}
                        Some(v) => nested.push(v),
                    }
                    let keep = name != "with" && name != "each" || nested.len() > scopes.len();
                    if keep {
                        for inner in h.template.iter() {
                            walk(inner, &nested, is_helper, out);
                        }
                    }
                    for inner in h.inverse.iter() {
                        walk(inner, scopes, is_helper, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The context inside a `#with` / `#each` block, when the sample data has one.
fn block_value<'v>(h: &HelperTemplate, scopes: &[&'v Value], name: &str) -> Option<&'v Value> {
    let Some(Parameter::Path(p)) = h.params.first() else {
        return None;
    };
    let raw = relative(p)?;
    let v = resolve(raw, scopes).ok()?;
    match (name, v) {
        ("each", Value::Array(items)) => items.first(),
        ("each", Value::Object(m)) => m.values().next(),
        ("with", v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

fn expression(
    h: &HelperTemplate,
    line: usize,
    scopes: &[&Value],
    is_helper: &dyn Fn(&str) -> bool,
    out: &mut Vec<UnknownPath>,
) {
    let plain = h.params.is_empty() && h.hash.is_empty();
    match &h.name {
        Parameter::Name(n) if plain && !is_helper(n) => check(n, line, None, scopes, out),
        Parameter::Path(p) if plain => {
            if let Some(raw) = relative(p) {
                check(raw, line, None, scopes, out);
            }
        }
        other => {
            let name = other.as_name().unwrap_or_default().to_string();
            params(h, &name, line, scopes, out);
        }
    }
}

fn params(
    h: &HelperTemplate,
    helper: &str,
    line: usize,
    scopes: &[&Value],
    out: &mut Vec<UnknownPath>,
) {
    for p in h.params.iter().chain(h.hash.values()) {
        if let Parameter::Path(p) = p
            && let Some(raw) = relative(p)
        {
            check(raw, line, Some(helper), scopes, out);
        }
    }
}

/// The raw text of a named path (`a.b`, `../a`, `@root.a`), not `this` or `@index`.
fn relative(p: &Path) -> Option<&str> {
    match p {
        Path::Relative((segs, raw))
            if (raw.starts_with("../") || segs.iter().all(|s| matches!(s, PathSeg::Named(_))))
                && !raw.starts_with("this")
                && !raw.starts_with("./")
                && (!raw.starts_with('@') || raw.starts_with("@root.")) =>
        {
            Some(raw)
        }
        _ => None,
    }
}

/// Looks `raw` up: `Err` holds the keys of the deepest object reached (for the message).
fn resolve<'v>(raw: &str, scopes: &[&'v Value]) -> Result<&'v Value, Vec<String>> {
    let mut rest = raw;
    let mut depth = scopes.len() - 1;
    if let Some(r) = rest.strip_prefix("@root.") {
        rest = r;
        depth = 0;
    }
    while let Some(r) = rest.strip_prefix("../") {
        rest = r;
        depth = depth.saturating_sub(1);
    }
    let mut cur = scopes[depth];
    for seg in rest.split(['.', '/']) {
        let key = seg.trim_start_matches('[').trim_end_matches(']');
        match cur {
            Value::Object(m) => match m.get(key) {
                Some(v) => cur = v,
                None => return Err(m.keys().cloned().collect()),
            },
            // Indexes into lists (`missing.[0]`) depend on the data: not checkable here.
            Value::Array(_) => return Ok(cur),
            _ => return Err(Vec::new()),
        }
    }
    Ok(cur)
}

fn check(
    raw: &str,
    line: usize,
    helper: Option<&str>,
    scopes: &[&Value],
    out: &mut Vec<UnknownPath>,
) {
    if let Err(known) = resolve(raw, scopes) {
        out.push(UnknownPath {
            path: raw.to_string(),
            line,
            helper: helper.map(str::to_string),
            known,
        });
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
            "Hi {{mention issue.asignees}}, status?\n{{fields.severty}} {{issue.title}}\n{{#if fields.sevrity}}x{{/if}}{{#each issue.assignees}}{{this}}{{nope}}{{/each}}{{missing.[0]}}\n{{#with issue}}{{titel}} {{../fields.severty}} {{@root.issue.title}}{{/with}}",
        );
        assert_eq!(
            got,
            vec![
                "`mention` is given `issue.asignees`, which does not exist, so it gets nothing (template line 1); known here: issue.assignees, issue.title",
                "unknown variable `fields.severty` (template line 2); known here: fields.severity",
                "`if` is given `fields.sevrity`, which does not exist, so it gets nothing (template line 3); known here: fields.severity",
                "unknown variable `titel` (template line 4); known here: assignees, title",
                "unknown variable `../fields.severty` (template line 4); known here: ../fields.severity",
            ]
        );
    }
}
