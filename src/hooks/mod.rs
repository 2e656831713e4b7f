//! GitLab webhook payloads and their normalisation into domain events.
//! (Placeholder until the ingest branch lands.)

use crate::domain::{Event, IssueKey};

pub enum Hook {}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HookError(String);

pub fn parse(_event_header: Option<&str>, _body: &[u8]) -> Result<Option<Hook>, HookError> {
    Err(HookError("not implemented".into()))
}

impl Hook {
    pub fn issue_key(&self) -> IssueKey {
        match *self {}
    }
    pub fn kind_name(&self) -> &'static str {
        match *self {}
    }
}

pub fn normalise(hook: &Hook) -> Event {
    match *hook {}
}
