//! Talking to GitLab: the `gitlab` crate's async client under one retry policy
//! ([`retry`]) and one process-wide pacer for GitLab's rate limits ([`pacer`]), and the typed operations the executor, worker, sweeps and setup need
//! ([`gitlab`]).

mod error;
mod excerpt;
pub mod files;
pub mod gitlab;
pub mod graphql;
pub mod pacer;
pub mod retry;

pub use excerpt::{body_excerpt, plain_duration};

pub use self::gitlab::{CreatedIssue, GitlabForge, IssueEdit, LinkedIssue};
pub use error::ForgeError;
pub use pacer::Pacing;
pub use retry::RetryPolicy;
