//! Declared command arguments (`args: [{ name: severity, one_of: [low, high] }]`): reading
//! the words after a command into named values, the usage line people get when they are
//! wrong, and label names templated from them (`severity::{{args.severity}}`).
//!
//! Label templates are deliberately tiny: only `{{args.<name>}}` placeholders, and only for
//! arguments with a `one_of` list, so check-config can list every label a rule may apply and
//! `setup` can create them all.

use super::config::{ArgSpec, CommandTrigger, Sp, Trigger};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{\{\s*args\.([A-Za-z0-9_-]+)\s*\}\}").expect("placeholder pattern compiles")
});

/// Named argument values (configured spelling for `one_of` arguments).
pub type ArgValues = BTreeMap<String, String>;

/// Reads `words` (what follows the command) against the declared arguments. `Err` says in
/// plain words what is wrong.
pub fn parse(specs: &[ArgSpec], words: &[String]) -> Result<ArgValues, String> {
    let mut out = ArgValues::new();
    for (i, spec) in specs.iter().enumerate() {
        if spec.rest {
            let rest = words.get(i..).unwrap_or_default().join(" ");
            if rest.is_empty() {
                return Err(format!("is missing its {}", spec.name));
            }
            out.insert(spec.name.clone(), rest);
            return Ok(out);
        }
        let Some(word) = words.get(i) else {
            return Err(format!("is missing its {}", spec.name));
        };
        let value = if spec.one_of.is_empty() {
            word.clone()
        } else {
            match spec.one_of.iter().find(|v| v.eq_ignore_ascii_case(word)) {
                Some(v) => v.clone(),
                None => {
                    // No code span: the reply escapes user text, and backticks with it.
                    return Err(format!("does not take {word} as its {}", spec.name));
                }
            }
        };
        out.insert(spec.name.clone(), value);
    }
    match words.get(specs.len()..) {
        Some(extra) if !extra.is_empty() => Err(format!(
            "takes {} word(s) after the command, not {}",
            specs.len(),
            words.len()
        )),
        _ => Ok(out),
    }
}

/// The usage line for a command with declared arguments: "`severity` followed by one of
/// `low`, `medium`, `high`". No angle brackets: the reply must not look like HTML.
pub fn usage(cmd: &CommandTrigger) -> String {
    if let Some(u) = &cmd.usage {
        return u.clone();
    }
    let parts: Vec<String> = cmd
        .args
        .iter()
        .map(|a| {
            if !a.one_of.is_empty() {
                let values: Vec<String> = a.one_of.iter().map(|v| format!("`{v}`")).collect();
                format!("one of {}", values.join(", "))
            } else if a.rest {
                format!("the {} (the rest of the line)", a.name)
            } else {
                format!("the {} (one word)", a.name)
            }
        })
        .collect();
    format!("`{}` followed by {}", cmd.name, parts.join(", then "))
}

/// The argument names a label template uses, or what is wrong with it (a `{{` that is not an
/// `{{args.<name>}}` placeholder).
pub fn label_placeholders(label: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = PLACEHOLDER
        .captures_iter(label)
        .map(|c| c[1].to_string())
        .collect();
    let rest = PLACEHOLDER.replace_all(label, "");
    if rest.contains("{{") || rest.contains("}}") {
        return Err(format!(
            "`{label}`: a label name may only contain `{{{{args.<name>}}}}` placeholders"
        ));
    }
    Ok(names)
}

/// Whether a label name is templated.
pub fn is_templated(label: &str) -> bool {
    label.contains("{{")
}

/// Fills a label template's placeholders.
pub fn fill(label: &str, values: &ArgValues) -> String {
    PLACEHOLDER
        .replace_all(label, |c: &regex::Captures| {
            values.get(&c[1]).cloned().unwrap_or_default()
        })
        .into_owned()
}

/// Every label a label template can produce with these declared arguments, or why it cannot
/// be listed (an unknown argument, or one without `one_of`).
pub fn expansions(label: &str, specs: &[ArgSpec]) -> Result<Vec<String>, String> {
    let names = label_placeholders(label)?;
    let mut out = vec![ArgValues::new()];
    for name in &names {
        let Some(spec) = specs.iter().find(|s| &s.name == name) else {
            let declared: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "`{label}` uses `args.{name}`, which the command does not declare (declared: {})",
                if declared.is_empty() {
                    "none".to_string()
                } else {
                    declared.join(", ")
                }
            ));
        };
        if spec.one_of.is_empty() || spec.rest {
            return Err(format!(
                "`{label}` uses `args.{name}`, which has no `one_of` list: a label template may only use arguments whose values are listed, so every label it can produce is known"
            ));
        }
        if out.iter().any(|v| v.contains_key(name)) {
            continue;
        }
        out = out
            .into_iter()
            .flat_map(|v| {
                spec.one_of.iter().map(move |choice| {
                    let mut v = v.clone();
                    v.insert(name.clone(), choice.clone());
                    v
                })
            })
            .collect();
    }
    Ok(out.iter().map(|v| fill(label, v)).collect())
}

/// The label names an `add_labels` / `remove_labels` list of a rule triggered by `on` may
/// apply: literal names as written, templated ones expanded (for `setup`).
pub fn action_labels(on: &Trigger, labels: &[Sp]) -> Vec<String> {
    let args: &[ArgSpec] = match on {
        Trigger::Command(c) => &c.args,
        _ => &[],
    };
    labels
        .iter()
        .flat_map(|l| {
            if is_templated(&l.value) {
                expansions(&l.value, args).unwrap_or_default()
            } else {
                vec![l.value.clone()]
            }
        })
        .collect()
}

/// Sample values for check-config's renders: the first listed value, else `sample`.
pub fn sample_values(specs: &[ArgSpec]) -> ArgValues {
    specs
        .iter()
        .map(|s| {
            let v = s.one_of.first().cloned().unwrap_or_else(|| "sample".into());
            (s.name.clone(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn severity() -> Vec<ArgSpec> {
        vec![ArgSpec {
            name: "severity".into(),
            one_of: vec!["low".into(), "high".into()],
            rest: false,
        }]
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_declared_arguments() {
        let v = parse(&severity(), &words("HIGH")).unwrap();
        assert_eq!(v["severity"], "high");
        assert_eq!(
            parse(&severity(), &words("")).unwrap_err(),
            "is missing its severity"
        );
        assert_eq!(
            parse(&severity(), &words("urgent")).unwrap_err(),
            "does not take urgent as its severity"
        );
        assert!(parse(&severity(), &words("high now")).is_err());
        let rest = vec![ArgSpec {
            name: "reason".into(),
            one_of: vec![],
            rest: true,
        }];
        assert_eq!(
            parse(&rest, &words("not this year")).unwrap()["reason"],
            "not this year"
        );
    }

    #[test]
    fn label_templates_expand_to_every_choice() {
        assert_eq!(
            expansions("severity::{{args.severity}}", &severity()).unwrap(),
            vec!["severity::low", "severity::high"]
        );
        assert!(expansions("severity::{{args.level}}", &severity()).is_err());
        assert!(label_placeholders("severity::{{command.args}}").is_err());
        let mut v = ArgValues::new();
        v.insert("severity".into(), "high".into());
        assert_eq!(fill("severity::{{ args.severity }}", &v), "severity::high");
    }

    #[test]
    fn usage_lists_the_choices() {
        let cmd = CommandTrigger {
            name: "severity".into(),
            allow: None,
            min_args: 0,
            usage: None,
            args: severity(),
        };
        assert_eq!(usage(&cmd), "`severity` followed by one of `low`, `high`");
    }
}
