//! The `--config` flag several commands share.

use std::path::PathBuf;

/// The configuration path flag shared by several commands.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// Workflow configuration file.
    #[arg(long, env = "LABELFLOW_CONFIG", default_value = "labelflow.yml")]
    pub config: PathBuf,
}
