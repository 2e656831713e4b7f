//! The command line: one function per subcommand.

pub mod check_config;
pub mod cla;
mod config_arg;
pub mod demo;
pub mod events;
pub mod gitlab_args;
pub mod plan;
mod plan_tick;
pub mod serve;
pub mod setup;
pub mod sweep;
pub mod test;

pub use config_arg::ConfigArg;

use clap::{Parser, Subcommand};

/// GitLab-native workflow automation: labels are the buttons.
#[derive(Debug, Parser)]
#[command(name = "labelflow", version, about)]
pub struct Cli {
    /// Log format: `pretty` for people, `json` for log pipelines.
    #[arg(
        long,
        global = true,
        env = "LABELFLOW_LOG_FORMAT",
        default_value = "pretty"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive GitLab webhooks and run the workflows.
    Serve(serve::ServeArgs),
    /// Run the service against a built-in simulated GitLab and walk through the workflows.
    Demo(demo::DemoArgs),
    /// Print the actions one webhook payload would cause, without side effects.
    Plan(plan::PlanArgs),
    /// Validate the configuration and every template.
    CheckConfig(check_config::CheckConfigArgs),
    /// Inspect and re-run stored events (`list`, `show`, `retry`).
    Events(events::EventsArgs),
    /// Create the labels, issue templates and webhook a project needs: plans, checks the bot's
    /// roles, then writes only what differs (idempotent).
    Setup(setup::SetupArgs),
    /// CLA registry tools (`check`).
    Cla(cla::ClaArgs),
    /// Nudge, mark and close stale items, run due follow-ups, update the weekly summary (run it
    /// from a scheduled CI pipeline; `--dry-run` prints what it would do).
    Sweep(sweep::SweepArgs),
    /// Print the JSON Schema of the configuration file (for editors; `labelflow.schema.json`).
    Schema,
    /// Play workflow scenarios (steps and expectations written as YAML) against a simulated
    /// GitLab in this process; exit 1 when one fails (`--format junit` for CI).
    Test(test::TestArgs),
}

/// Sets up logging (stderr), honouring `RUST_LOG`.
pub fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Runs the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Serve(a) => {
            init_logging(cli.log_format, "info");
            serve::run(a).await
        }
        Command::Demo(a) => {
            // The demo prints its own story; only errors would add to it.
            init_logging(cli.log_format, "error");
            demo::run(a).await
        }
        Command::Plan(a) => {
            init_logging(cli.log_format, "warn");
            plan::run(a)
        }
        Command::CheckConfig(a) => {
            init_logging(cli.log_format, "warn");
            check_config::run(a)
        }
        Command::Events(a) => {
            init_logging(cli.log_format, "warn");
            events::run(a).await
        }
        Command::Setup(a) => {
            init_logging(cli.log_format, "warn");
            setup::run(a).await
        }
        Command::Cla(a) => {
            init_logging(cli.log_format, "warn");
            cla::run(a).await
        }
        Command::Sweep(a) => {
            init_logging(cli.log_format, "warn");
            sweep::run(a).await
        }
        Command::Schema => {
            print!("{}", crate::engine::schema::json_schema());
            Ok(0)
        }
        Command::Test(a) => {
            init_logging(cli.log_format, "error");
            test::run(a).await
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
