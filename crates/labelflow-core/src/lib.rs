//! labelflow's pure core: the domain, the workflow configuration (model, loading, validation,
//! compiled form), the planner, the action vocabulary with its keys and markers, rendering,
//! and CLA registries as data. It performs no I/O: the compiler keeps it so, as this crate
//! depends on no runtime, database, HTTP or forge crate.

pub mod actions;
pub mod cla;
pub mod domain;
pub mod engine;
pub mod render;
pub mod spanned;
