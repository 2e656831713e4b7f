//! What GitLab would act on in text the bot writes: quick-action lines and live mentions.
//! Shared by the injection tests and the fuzz targets.
#![allow(dead_code)]

/// Lines of `text` that GitLab would run as quick actions.
pub fn quick_action_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('/'))
        .collect()
}

/// Mentions GitLab would act on (an `@` not defused by a word joiner): the name, and whether
/// a `/` follows it (a group or subgroup path).
pub fn live_mentions(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        // GitLab's `User.reference_pattern` is `(?<!\w)@…`: after a word character (an
        // e-mail address) an `@` mentions nobody.
        let after_word = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        rest = &rest[at + 1..];
        if after_word || rest.starts_with('\u{2060}') {
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        if end > 0 {
            out.push((rest[..end].to_string(), rest[end..].starts_with('/')));
        }
    }
    out
}

/// GitLab's special mentions that notify every member.
pub fn is_mass_mention(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "all" | "here" | "channel" | "everyone"
    )
}
