//! A parsed webhook labelflow acts on, with its issue key resolved.

use super::payload::{IssuePayload, NotePayload};
use crate::domain::IssueKey;

pub(super) const ISSUE_HOOK: &str = "Issue Hook";
pub(super) const NOTE_HOOK: &str = "Note Hook";

/// A webhook labelflow acts on.
#[derive(Debug, Clone)]
pub enum Hook {
    Issue(IssueHook),
    Note(NoteHook),
}

/// An Issue Hook (issue or work item), with its issue key resolved.
#[derive(Debug, Clone)]
pub struct IssueHook {
    pub key: IssueKey,
    /// `X-Gitlab-Event` said `Confidential Issue Hook`.
    pub delivered_as_confidential: bool,
    pub payload: IssuePayload,
}

/// A Note Hook for a comment on an issue, with its issue key resolved.
#[derive(Debug, Clone)]
pub struct NoteHook {
    pub key: IssueKey,
    /// `X-Gitlab-Event` said `Confidential Note Hook`.
    pub delivered_as_confidential: bool,
    pub payload: NotePayload,
}

impl Hook {
    /// The issue this hook is about (the inbox's ordering key).
    pub fn issue_key(&self) -> IssueKey {
        match self {
            Hook::Issue(h) => h.key,
            Hook::Note(h) => h.key,
        }
    }

    /// The inbox's `event_kind`: `"Issue Hook"` or `"Note Hook"`. Confidential deliveries map
    /// onto these; their payload still says confidential (`event_type`), so nothing is lost.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Hook::Issue(_) => ISSUE_HOOK,
            Hook::Note(_) => NOTE_HOOK,
        }
    }
}
