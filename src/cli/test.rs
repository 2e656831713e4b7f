//! `labelflow test`: plays workflow scenarios against a simulated GitLab in this process
//! (docs/testing-workflows.md). Exit status 0 when every scenario passes, 1 otherwise.

use super::config_arg::ConfigArg;
use crate::scenario::{self, RunOptions};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A line per scenario, then each failure explained.
    Text,
    /// A JUnit XML report (GitLab's `artifacts:reports:junit`).
    Junit,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Scenario files or directories (searched for .yml/.yaml); default `scenarios/` next to
    /// the configuration.
    pub paths: Vec<PathBuf>,
    /// What to print: `text` for people, `junit` for CI.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// With `--format junit`, write the report to this file instead of standard output (the
    /// text report then goes to standard output).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Rewrite comment snapshot files that differ from (or lack) the bot's comment.
    #[arg(long)]
    pub update_snapshots: bool,
}

pub async fn run(args: TestArgs) -> anyhow::Result<i32> {
    let opts = RunOptions {
        config: args.config.config.clone(),
        paths: args.paths,
        update_snapshots: args.update_snapshots,
    };
    let outcomes = match scenario::run_all(&opts).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    if outcomes.is_empty() {
        eprintln!("error: no scenarios found");
        return Ok(1);
    }
    let failed = outcomes.iter().any(|o| o.failure.is_some());
    match (args.format, &args.output) {
        (Format::Text, _) => print!("{}", scenario::report::text(&outcomes)),
        (Format::Junit, None) => print!("{}", scenario::report::junit(&outcomes)),
        (Format::Junit, Some(path)) => {
            std::fs::write(path, scenario::report::junit(&outcomes))
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            print!("{}", scenario::report::text(&outcomes));
        }
    }
    Ok(i32::from(failed))
}
