//! The workflow engine: configuration, template registry, and the pure planner.

pub mod cla_plan;
pub mod command;
pub mod command_args;
pub mod compiled;
pub mod condition_text;
pub mod conditions;
pub mod config;
pub mod context;
pub mod custom_fields;
pub mod explain;
pub mod fields;
pub mod label_section;
pub mod load;
pub mod patterns;
pub mod planner;
pub mod schema;
pub mod stale;
pub mod statuses;
pub mod trace;
pub mod work_item_config;

pub use compiled::Engine;
pub use load::{ConfigError, ConfigErrors};
pub use planner::{Plan, plan, plan_with_history};
