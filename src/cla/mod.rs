//! CLA status: is the contributor covered by a signed Corporate Contributor Agreement?
//!
//! The registry of agreements lives where the legal team keeps it: a YAML or CSV file in a
//! GitLab repository, in a GitHub repository, or on local disk ([`source`]). It is parsed
//! strictly ([`parse`], errors name the file and line), cached with a TTL ([`cache`]), and
//! looked up by company name (normalised, [`normalise`]), GitLab username, public email domain,
//! GitHub username or GitHub organisation membership ([`lookup`], [`check`]).
//!
//! A registry that cannot be read or parsed gives `unknown`, never `missing`: telling a
//! customer they have no agreement because a file server was down is the failure users of
//! cla-assistant and EasyCLA complain about most.

pub mod cache;
pub mod check;
pub mod github;
pub mod source;

pub use labelflow_core::cla::{config, lookup, model, normalise, parse};

pub use cache::ClaRuntime;
pub use check::{SubjectResult, Subjects, Verdict, VerdictStatus};
pub use model::{Agreement, AgreementStatus, Registry, Version};
pub use parse::{RegistryError, RegistryFormat};
pub use source::{SourceError, SourceSpec};
