//! labelflow: GitLab-native workflow automation. Labels are the buttons.
//!
//! The modules follow the pipeline: [`ingest`] (verify, parse, dedupe, durable append) →
//! [`store`] (inbox, ledger, follow-ups) → [`worker`] (claims, per-issue order, retries) →
//! [`hooks`] (payloads → domain [`domain::Event`]) → [`engine`] (config, pure planner) →
//! [`actions`] (idempotent executor) → [`forge`] (GitLab client, one retry policy).
//! [`cla`] checks contributor agreements for the `cla_check` action.
//! [`sweep`] runs the scheduled stale-item sweeps through the same planner and executor.
//! [`sim`] is the stateful simulated GitLab used by the tests and `labelflow demo`.

pub mod actions;
pub mod admin;
pub mod cla;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod forge;
pub mod hooks;
pub mod ingest;
pub mod metrics;
pub mod reload;
pub mod scenario;
pub mod service;
pub mod setup;
pub mod store;
pub mod sweep;
pub mod worker;

// The pure core, under the names the pipeline uses.
pub use labelflow_core::{domain, engine, render};

/// The simulated GitLab (its own crate), for `labelflow demo` and tests.
pub use labelflow_sim as sim;
