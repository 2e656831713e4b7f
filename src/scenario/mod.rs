//! `labelflow test`: workflow scenarios written as data (docs/testing-workflows.md), played
//! against the simulated GitLab in this process through the service's own ingest, worker,
//! planner, executor and sweeper.
//!
//! - [`model`]: the file format; [`load`]: finding and checking files;
//! - [`world`]: the simulated GitLab and the service's parts for one scenario;
//! - [`run`]: playing a scenario's steps; [`expect`]: checking what they left;
//! - [`explain`]: what the planner decided for a failed step; [`report`]: text and JUnit.

mod engine;
pub mod expect;
pub mod explain;
pub mod load;
pub mod model;
pub mod report;
pub mod run;
pub mod world;

use futures::StreamExt;
use std::path::{Path, PathBuf};

pub use engine::engine_for;
pub use run::{Failure, Outcome};

/// How many scenarios play at once.
const PARALLEL: usize = 8;

/// Where scenarios live by default: `scenarios/` next to the configuration.
pub fn default_dir(config: &Path) -> PathBuf {
    config.parent().unwrap_or(Path::new(".")).join("scenarios")
}

/// Options of one `labelflow test` run.
pub struct RunOptions {
    pub config: PathBuf,
    pub paths: Vec<PathBuf>,
    pub update_snapshots: bool,
}

/// Loads every scenario file (stopping at the first that cannot be used) and plays every
/// scenario, in file order.
pub async fn run_all(opts: &RunOptions) -> Result<Vec<Outcome>, load::LoadError> {
    let paths = if opts.paths.is_empty() {
        vec![default_dir(&opts.config)]
    } else {
        opts.paths.clone()
    };
    let mut files = Vec::new();
    for p in load::discover(&paths)? {
        files.push(load::load(&p)?);
    }
    // Loaded once and shared by every scenario without directory overrides.
    let base =
        std::sync::Arc::new(engine_for(&opts.config, None).map_err(|e| load::LoadError {
            file: opts.config.clone(),
            line: None,
            scenario: None,
            message: format!("{e:#}"),
        })?);
    let contexts: Vec<run::Context<'_>> = files
        .iter()
        .map(|f| run::Context {
            config: &opts.config,
            file: &f.path,
            file_directory: f.file.directory.as_ref(),
            file_cla_registry: f.file.cla_registry.as_deref(),
            update_snapshots: opts.update_snapshots,
            base: base.clone(),
        })
        .collect();
    // Each scenario has a world of its own, so several play at once; most of a step is
    // waiting on loopback HTTP and the store. `buffered` keeps the file order.
    let plays = contexts
        .iter()
        .zip(&files)
        .flat_map(|(ctx, f)| f.file.scenarios.iter().map(move |sc| run::run(ctx, sc)));
    let outcomes: Vec<Outcome> = futures::stream::iter(plays)
        .buffered(PARALLEL)
        .collect()
        .await;
    Ok(outcomes)
}
