//! `labelflow demo`: the real service against a built-in simulated GitLab.

use super::config_arg::ConfigArg;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<i32> {
    crate::demo::run(args.config.config).await
}
