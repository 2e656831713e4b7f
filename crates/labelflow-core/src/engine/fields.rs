//! Reads the fields people fill in an issue description made from a template: `Field: value`
//! lines (also `**Field:** value` and list items) and `## Field` sections.
//!
//! Hand-written rather than a Markdown parser: we need only these two shapes and want to keep
//! the rest of the text untouched; a full CommonMark AST would not make this simpler.

use std::collections::BTreeMap;

/// Normalises a field name for lookup: lower case, runs of non-alphanumerics become `_`.
/// `Product area` and `product-area` both become `product_area`.
pub fn field_key(name: &str) -> String {
    let mut out = String::new();
    let mut pending_sep = false;
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.extend(c.to_lowercase());
        } else {
            pending_sep = true;
        }
    }
    out
}

/// Field values by [`field_key`]. Empty values (and template placeholders such as `_TBD_`,
/// `<!-- … -->`, `N/A`) are recorded as empty strings so "present but empty" is visible.
pub fn parse_fields(description: &str) -> BTreeMap<String, String> {
    let text = strip_html_comments(description);
    let mut fields = BTreeMap::new();
    let mut section: Option<(String, Vec<&str>)> = None;
    let mut in_fence = false;

    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        if !in_fence && let Some(heading) = heading_text(trimmed) {
            if let Some((name, body)) = section.take() {
                insert_section(&mut fields, &name, &body);
            }
            section = Some((heading.to_string(), Vec::new()));
            continue;
        }
        if !in_fence && let Some((name, value)) = field_line(trimmed) {
            // A `Field: value` line ends the section above it.
            if let Some((sname, body)) = section.take() {
                insert_section(&mut fields, &sname, &body);
            }
            fields
                .entry(field_key(name))
                .or_insert_with(|| clean_value(value));
            continue;
        }
        if let Some((_, body)) = section.as_mut() {
            body.push(line);
        }
    }
    if let Some((name, body)) = section.take() {
        insert_section(&mut fields, &name, &body);
    }
    fields
}

fn insert_section(fields: &mut BTreeMap<String, String>, name: &str, body: &[&str]) {
    let value = clean_value(body.join("\n").trim());
    let key = field_key(name);
    // A `Field: value` line wins over an empty section of the same name.
    match fields.get(&key) {
        Some(existing) if !existing.is_empty() => {}
        _ => {
            fields.insert(key, value);
        }
    }
}

fn heading_text(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches('#');
    let level = line.len() - rest.len();
    if (1..=6).contains(&level) && rest.starts_with(' ') {
        Some(rest.trim().trim_end_matches('#').trim())
    } else {
        None
    }
}

/// `Field: value`, `- Field: value`, `* **Field:** value`, `**Field**: value`.
fn field_line(line: &str) -> Option<(&str, &str)> {
    let line = line
        .trim_start_matches(['-', '*', '+'])
        .trim_start()
        .trim_start_matches("[ ]")
        .trim_start();
    let (name, value) = line.split_once(':')?;
    let name = name.trim().trim_matches('*').trim_matches('_').trim();
    let value = value
        .trim()
        .trim_start_matches("**")
        .trim_start_matches("__");
    // A field name is a short label, not a sentence or a URL scheme.
    if name.is_empty()
        || name.len() > 60
        || name.contains("//")
        || value.starts_with("//")
        || !name.chars().next().is_some_and(char::is_alphabetic)
        || name.split_whitespace().count() > 6
    {
        return None;
    }
    Some((name, value.trim()))
}

fn clean_value(value: &str) -> String {
    let v = value.trim();
    let placeholder = v.is_empty()
        || v.chars()
            .all(|c| c == '_' || c == '-' || c == '.' || c == '?')
        || ["tbd", "_tbd_", "n/a", "none", "todo", "<>"].contains(&v.to_lowercase().as_str());
    if placeholder {
        String::new()
    } else {
        v.to_string()
    }
}

fn strip_html_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses a number out of a field value: `5`, `5 seats`, `$12,500.00`, `EUR 3 000`.
pub fn parse_number(value: &str) -> Option<f64> {
    let start = value.find(|c: char| c.is_ascii_digit())?;
    let digits: String = value[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | ' ' | '\u{a0}' | '_'))
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let negative = value[..start].trim_end().ends_with('-');
    let n: f64 = digits.trim_end_matches('.').parse().ok()?;
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_normalise() {
        assert_eq!(field_key("Product area"), "product_area");
        assert_eq!(field_key("  CSM "), "csm");
        assert_eq!(
            field_key("Customer's willingness"),
            "customer_s_willingness"
        );
    }

    #[test]
    fn reads_lines_and_sections() {
        let d = "## Customer\nAcme Corp\n\n## Problem\nSlow pipelines\nand more\n\n\
                 CSM: @jane\n- **SA:** @sam\n* AE: \nNote: see https://x\n\
                 <!-- Product area: hidden -->\n```\nFake: field\n```\n";
        let f = parse_fields(d);
        assert_eq!(f["customer"], "Acme Corp");
        assert_eq!(f["problem"], "Slow pipelines\nand more");
        assert_eq!(f["csm"], "@jane");
        assert_eq!(f["sa"], "@sam");
        assert_eq!(f["ae"], "");
        assert_eq!(f["note"], "see https://x");
        assert!(!f.contains_key("product_area"));
        assert!(!f.contains_key("fake"));
    }

    #[test]
    fn placeholders_are_empty() {
        let f = parse_fields("Customer: _TBD_\nBudget: ___\n");
        assert_eq!(f["customer"], "");
        assert_eq!(f["budget"], "");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("5"), Some(5.0));
        assert_eq!(parse_number("11 seats"), Some(11.0));
        assert_eq!(parse_number("$12,500.00"), Some(12500.0));
        assert_eq!(parse_number("unknown"), None);
    }
}
