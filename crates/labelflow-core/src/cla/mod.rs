//! CLA registries as data: the configuration section, the registry model and its parser,
//! name normalisation and lookups. Reading a registry from GitLab, GitHub or disk, caching it
//! and checking an issue against it is the service's (`labelflow::cla`).

pub mod config;
pub mod lookup;
pub mod model;
pub mod normalise;
pub mod parse;
pub mod spec;

pub use model::{Agreement, AgreementStatus, Registry, Version};
pub use parse::{RegistryError, RegistryFormat};
pub use spec::{CheckSettings, GithubApi, SourceSpec, Subjects};
