//! What of GitLab's answers may appear in a message a person reads: GitLab's own short error
//! text (`message` / `error`), one line, cut short; never the rest of a body, which may be an
//! issue's title or description (a confidential one, even) and would end up in CI logs.

use serde_json::Value;
use std::time::Duration;

/// Longest excerpt quoted.
const MAX_EXCERPT: usize = 200;

/// `text` on one line, at most [`MAX_EXCERPT`] characters.
pub(crate) fn short_line(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX_EXCERPT {
        return line;
    }
    let cut: String = line.chars().take(MAX_EXCERPT).collect();
    format!("{cut}…")
}

/// GitLab's error text from a JSON error body (`{"message": …}` or `{"error": …}`), else a
/// note of the body's size.
pub fn body_excerpt(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => value_excerpt(&v),
        Err(_) => format!("an answer of {} bytes that is not shown", body.len()),
    }
}

/// The `message` / `error` member of a JSON error body, shortened; other shapes are not
/// quoted.
pub(crate) fn value_excerpt(v: &Value) -> String {
    let text = ["message", "error"]
        .iter()
        .find_map(|k| v.get(*k))
        .map(|m| match m {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    match text {
        Some(t) => short_line(&t),
        None => "an answer that is not shown".to_string(),
    }
}

/// The message for a success answer that is not the JSON it should be.
pub(crate) fn malformed(status: u16, bytes: usize) -> String {
    format!("GitLab sent a malformed answer ({status}, {bytes} bytes; not shown)")
}

/// A duration in plain words: `60 seconds`, `2 minutes 5 seconds`, `300 ms`.
pub fn plain_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{} ms", d.as_millis());
    }
    let unit = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match (secs / 60, secs % 60) {
        (0, s) => unit(s, "second"),
        (m, 0) => unit(m, "minute"),
        (m, s) => format!("{} {}", unit(m, "minute"), unit(s, "second")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_quoted_only_by_their_error_text() {
        assert_eq!(
            body_excerpt(br#"{"message":"403 Forbidden"}"#),
            "403 Forbidden"
        );
        assert_eq!(
            body_excerpt(br#"[{"title":"Secret merger"}]"#),
            "an answer that is not shown"
        );
        assert_eq!(
            body_excerpt(b"[{\"title\":\"Secret"),
            "an answer of 17 bytes that is not shown"
        );
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(5000));
        assert!(body_excerpt(long.as_bytes()).chars().count() <= MAX_EXCERPT + 1);
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(plain_duration(Duration::from_secs(60)), "1 minute");
        assert_eq!(plain_duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(
            plain_duration(Duration::from_secs(125)),
            "2 minutes 5 seconds"
        );
        assert_eq!(plain_duration(Duration::from_millis(300)), "300 ms");
    }
}
