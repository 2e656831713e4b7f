//! YAML syntax errors in the reader's terms: the parser's message without the location it
//! repeats, plus a hint at the usual cause.

/// The message for a parse error of the configuration.
pub(super) fn message(parser_message: &str) -> String {
    with_hint(yaml_message(parser_message))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// The YAML parser's message without its own `error: line N column M:` prefix: the location
/// is already reported as `file:line:column`, and saying it twice reads as two errors.
pub fn yaml_message(s: &str) -> String {
    let line = first_line(s);
    let rest = line.strip_prefix("error: ").unwrap_or(&line);
    match rest.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((location, message))
            if location.split_once(" column ").is_some_and(|(l, c)| {
                l.chars().all(|ch| ch.is_ascii_digit()) && c.chars().all(|ch| ch.is_ascii_digit())
            }) =>
        {
            message.to_string()
        }
        _ => line,
    }
}

/// A YAML syntax message with what usually causes it, in the reader's terms.
fn with_hint(message: String) -> String {
    const HINTS: &[(&str, &str)] = &[
        (
            "mapping values are not allowed",
            "a value that contains `: ` must be quoted, for example 'labelflow: bot'",
        ),
        (
            "did not find expected key",
            "check the indentation: the keys of one mapping start in the same column, and a line indented less ends the mapping",
        ),
        (
            "tabs disallowed",
            "indent with spaces; YAML does not allow tabs",
        ),
        (
            "unexpected character",
            "a value starting with `@`, `` ` ``, `%` or `*` must be quoted, for example \"@labelflow\"",
        ),
        (
            "expected string scalar",
            "a value starting with `{` or `[` (a `{{…}}` template, say) must be quoted, for example \"severity::{{args.severity}}\"",
        ),
        (
            "unclosed bracket",
            "a `[` list or `{` mapping written on one line needs its closing bracket on that line or below it",
        ),
        (
            "unknown variant `",
            "a trigger or action name followed by other words usually means a missing line break or a wrong indentation after it",
        ),
    ];
    match HINTS.iter().find(|(needle, _)| message.contains(needle)) {
        Some((needle, hint)) if *needle != "unknown variant `" || two_word_variant(&message) => {
            format!("{message} (hint: {hint})")
        }
        _ => message,
    }
}

/// `unknown variant `edited do``: two words where one name was expected.
fn two_word_variant(message: &str) -> bool {
    message
        .split_once("unknown variant `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .is_some_and(|(variant, _)| variant.contains(' '))
}

#[cfg(test)]
mod tests {
    use super::{message, yaml_message};

    #[test]
    fn yaml_messages_drop_the_location_already_reported() {
        assert_eq!(
            yaml_message(
                "error: line 412 column 9: unknown field `when`, expected one of name, on\nmore"
            ),
            "unknown field `when`, expected one of name, on"
        );
        assert_eq!(
            yaml_message("line 3 column 1: did not find expected key"),
            "did not find expected key"
        );
        assert_eq!(
            yaml_message("invalid type: string \"x\", expected a map"),
            "invalid type: string \"x\", expected a map"
        );
    }

    #[test]
    fn syntax_errors_carry_a_hint() {
        assert_eq!(
            message("line 2 column 2: tabs disallowed within this context (block indentation)"),
            "tabs disallowed within this context (block indentation) (hint: indent with spaces; YAML does not allow tabs)"
        );
        assert!(message("line 7 column 28: expected string scalar").contains("must be quoted"));
        assert!(message("unexpected character: `@'").contains("\"@labelflow\""));
        let two = message("unknown variant `edited do`, expected one of edited, tick");
        assert!(two.contains("missing line break"), "{two}");
        // A plain misspelling: the list of names says it all.
        assert_eq!(
            message("unknown variant `edite`, expected one of edited, tick"),
            "unknown variant `edite`, expected one of edited, tick"
        );
    }
}
