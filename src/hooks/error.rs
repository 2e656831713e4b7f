//! Why a webhook body could not be read, worded for the operator who reads GitLab's "Recent
//! events" page: it names the line and column, or the field path, of the problem.

/// A webhook body labelflow cannot use. The `Display` text is what ingest answers with (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// Not JSON at all (or cut short).
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A field labelflow needs is absent; `path` is the full dotted path.
    #[error("missing field `{path}`")]
    MissingField { path: String },
    /// A field has the wrong type or an unreadable value.
    #[error("field `{path}`: {message}")]
    InvalidField { path: String, message: String },
    /// The body is JSON but not an object; `found` names what it is (`an array`, …).
    #[error("invalid payload: expected a JSON object, got {found}")]
    NotAnObject { found: &'static str },
    /// Any other problem with the payload as a whole.
    #[error("invalid payload: {message}")]
    Invalid { message: String },
    /// `object_kind` says issue, but no project id is anywhere in the payload.
    #[error("no project id: neither `object_attributes.project_id` nor `project.id` is set")]
    NoProjectId,
}

impl HookError {
    /// Turns a serde error (with the path where it happened) into a message naming the problem.
    pub(crate) fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        Self::from_json(&path, &err.into_inner())
    }

    /// `path` is where the error happened (`.` for the root), as serde_path_to_error prints it.
    pub(crate) fn from_json(path: &str, inner: &serde_json::Error) -> Self {
        let message = message_without_position(inner);
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                HookError::Syntax {
                    line: inner.line(),
                    column: inner.column(),
                    message,
                }
            }
            _ => {
                let at_root = path == ".";
                if let Some(field) = missing_field_name(&message) {
                    let path = if at_root {
                        field.to_string()
                    } else {
                        format!("{path}.{field}")
                    };
                    HookError::MissingField { path }
                } else if at_root {
                    HookError::Invalid { message }
                } else {
                    HookError::InvalidField {
                        path: path.to_string(),
                        message,
                    }
                }
            }
        }
    }
}

/// serde_json appends " at line L column C" to its messages; the position is reported
/// separately (or replaced by the field path), so drop it.
fn message_without_position(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match full.strip_suffix(&suffix) {
        Some(message) => message.to_string(),
        None => full,
    }
}

/// `missing field `iid`` → `iid`.
fn missing_field_name(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
}
