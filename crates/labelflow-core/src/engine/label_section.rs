//! The `labels:` section: names, colours and descriptions `labelflow setup` gives the labels a
//! configuration uses. Checked when the configuration loads.

use super::config::{ConfigFile, Sp};

/// A label name with a glob in it (`cla::*`).
pub fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Problems in the `labels:` section, for configuration validation.
pub fn problems(config: &ConfigFile) -> Vec<(Option<&Sp>, String)> {
    let mut out = Vec::new();
    for (name, spec) in &config.labels {
        if name.trim().is_empty() {
            out.push((None, "labels: a label name is empty".to_string()));
        }
        if is_pattern(name) {
            let family_ok = name
                .strip_suffix("::*")
                .is_some_and(|s| !s.is_empty() && !is_pattern(s));
            if !family_ok {
                out.push((
                    spec.color.as_ref(),
                    format!(
                        "labels: `{name}`: only whole scoped families (`scope::*`) may use a pattern"
                    ),
                ));
            }
        }
        if let Some(c) = &spec.color
            && !is_hex_color(&c.value)
        {
            out.push((
                Some(c),
                format!(
                    "labels: `{name}`: colour `{}` is not of the form #RRGGBB",
                    c.value
                ),
            ));
        }
    }
    out
}

/// `#RRGGBB`, the one form every GitLab version accepts.
pub fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}
