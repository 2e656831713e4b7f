//! Operability: `/metrics` after a scripted sequence, `/readyz` when the store goes away,
//! `labelflow setup` against the simulated GitLab, configuration reload, and secrets kept out
//! of the real binary's logs.

#[path = "common/mod.rs"]
mod common;

#[path = "ops/scrape.rs"]
mod scrape;

#[path = "ops/logs.rs"]
mod logs;
#[path = "ops/metrics.rs"]
mod metrics;
#[path = "ops/readyz.rs"]
mod readyz;
#[path = "ops/reload.rs"]
mod reload;
#[path = "ops/setup.rs"]
mod setup;
#[path = "ops/setup_safety.rs"]
mod setup_safety;
