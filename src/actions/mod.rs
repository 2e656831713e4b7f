//! Performing actions: the executor, the CLA check and plans decided once. The vocabulary
//! (what an action is, its key and marker) is the core's.

pub use labelflow_core::actions::*;

pub mod cla;
pub mod executor;
mod plan_once;

pub use plan_once::{Decision, PlanRun, plan_key};
