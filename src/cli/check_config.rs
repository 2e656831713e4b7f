//! `labelflow check-config`: validate the configuration and every template.

use super::config_arg::ConfigArg;
use crate::engine::Engine;

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

pub fn run(args: CheckConfigArgs) -> anyhow::Result<i32> {
    match Engine::load(&args.config.config) {
        Ok(engine) => {
            let rules: usize = engine
                .config
                .workflows
                .values()
                .map(|w| w.rules.len())
                .sum();
            println!(
                "{}: OK ({} workflows, {} rules, {} roles)",
                args.config.config.display(),
                engine.config.workflows.len(),
                rules,
                engine.config.directory.roles.len()
            );
            Ok(0)
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error: {e}");
            }
            eprintln!(
                "{} error(s); the configuration was not accepted",
                errors.0.len()
            );
            Ok(1)
        }
    }
}
