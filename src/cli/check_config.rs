//! `labelflow check-config`: validate the configuration and every template.

use super::config_arg::ConfigArg;
use crate::engine::Engine;

#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Fail (exit 1) on warnings too: for CI.
    #[arg(long)]
    pub deny_warnings: bool,
}

pub fn run(args: CheckConfigArgs) -> anyhow::Result<i32> {
    match Engine::load(&args.config.config) {
        Ok(engine) => {
            for w in &engine.warnings {
                eprintln!("warning: {w}");
            }
            let rules: usize = engine
                .config
                .workflows
                .values()
                .map(|w| w.rules.len())
                .sum();
            let warnings = engine.warnings.len();
            if warnings > 0 && args.deny_warnings {
                eprintln!(
                    "{warnings} warning(s); the configuration was not accepted (--deny-warnings)"
                );
                return Ok(1);
            }
            let note = if warnings > 0 {
                format!(", {warnings} warning(s)")
            } else {
                String::new()
            };
            println!(
                "{}: OK ({} workflows, {} rules, {} roles{note})",
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
