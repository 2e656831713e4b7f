//! `labelflow sweep`: the scheduled stale-item sweep (run it from a GitLab CI schedule).
//! Prints every action as it is taken — or, with `--dry-run`, every action a live run would
//! take, from the same planner — then what is left for the next run.

use super::config_arg::ConfigArg;
use crate::actions::executor::Executor;
use crate::clock::Clock;
use crate::engine::Engine;
use crate::forge::{GitlabForge, RetryPolicy};
use crate::metrics::Metrics;
use crate::store;
use crate::sweep::{ItemPlan, SweepOptions, SweepReport, Sweeper};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    /// One JSON object per line: each action, then the run's report.
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 the run went through (the ceiling may have left work for \
the next run); 1 invalid configuration or command line; 2 some items failed or the run stopped \
early (each is printed); 3 the run could not start (GitLab or the database unreachable, token \
refused)."
)]
pub struct SweepArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Database holding the action ledger and follow-ups: the service's own (`postgres://…`)
    /// so due follow-ups run and a re-run the same day is recognised, or a SQLite path.
    #[arg(long, env = "LABELFLOW_DATABASE", default_value = "labelflow.db")]
    pub database: String,
    #[command(flatten)]
    pub gitlab: super::gitlab_args::GitlabArgs,
    /// Print the actions a live run would take; change nothing.
    #[arg(long, env = "LABELFLOW_SWEEP_DRY_RUN")]
    pub dry_run: bool,
    /// Most actions one run takes (an item's actions are never split); the rest wait for the
    /// next run, which finds them again.
    #[arg(long, env = "LABELFLOW_SWEEP_MAX_ACTIONS", default_value_t = 100)]
    pub max_actions: usize,
    /// Only this workflow (repeatable); default every workflow with `stale:` policies.
    #[arg(long = "workflow")]
    pub workflows: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Per-request timeout for GitLab API calls, seconds.
    #[arg(long, env = "LABELFLOW_GITLAB_TIMEOUT_SECONDS", default_value_t = 30)]
    pub gitlab_timeout_seconds: u64,
}

pub async fn run(args: SweepArgs) -> anyhow::Result<i32> {
    let engine = match Engine::load(&args.config.config) {
        Ok(e) => e,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(1);
        }
    };
    for w in &args.workflows {
        if !engine.config.workflows.contains_key(w) {
            anyhow::bail!("no workflow `{w}` in {}", args.config.config.display());
        }
    }
    if args.max_actions == 0 {
        anyhow::bail!("--max-actions must be at least 1 (use --dry-run to change nothing)");
    }
    let token = args.gitlab.token()?;
    let gitlab_url = args.gitlab.url()?;
    let store = match store::connect(&args.database).await {
        Ok(s) => s,
        Err(e) => {
            return Ok(could_not_start(&format!(
                "opening the database `{}`: {e}",
                crate::service::redact_url(&args.database)
            )));
        }
    };
    let metrics = Metrics::new();
    let retry = RetryPolicy {
        request_timeout: Duration::from_secs(args.gitlab_timeout_seconds.max(1)),
        ..RetryPolicy::default()
    };
    let forge =
        match GitlabForge::connect(gitlab_url, token.expose_secret(), retry, metrics.clone()).await
        {
            Ok(f) => f,
            Err(e) => {
                return Ok(could_not_start(&format!(
                    "connecting to GitLab at {gitlab_url}: {e}"
                )));
            }
        };
    let sweeper = Sweeper {
        engine: Arc::new(engine),
        executor: Executor::new(forge, store, metrics, Clock::system()),
    };
    let opts = SweepOptions {
        dry_run: args.dry_run,
        max_actions: args.max_actions,
        workflows: args.workflows,
    };
    let format = args.format;
    if format == Format::Text {
        println!(
            "{} (ceiling {} actions)",
            if opts.dry_run {
                "dry run: actions a live sweep would take"
            } else {
                "sweep: actions taken"
            },
            opts.max_actions
        );
    }
    let mut print = |item: ItemPlan<'_>| print_item(format, &item);
    let report = sweeper.run(&opts, &mut print).await;
    match format {
        Format::Json => println!("{}", json!({ "report": report })),
        Format::Text => print_report(&report),
    }
    Ok(if report.failed() { EXIT_PARTWAY } else { 0 })
}

/// Exit status: the run went wrong part-way (items failed, or it stopped early).
pub const EXIT_PARTWAY: i32 = 2;
/// Exit status: the run could not start (GitLab or the database unreachable, token refused).
pub const EXIT_NO_START: i32 = 3;

fn could_not_start(why: &str) -> i32 {
    eprintln!("error: the sweep could not start: {why}");
    EXIT_NO_START
}

/// One item's actions, in the same shape `labelflow plan` uses.
pub fn print_item(format: Format, item: &ItemPlan<'_>) {
    let reference = format!("{}#{}", item.issue.project_path, item.issue.iid);
    for a in item.actions {
        match format {
            Format::Json => {
                let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
                v["issue"] = Value::String(reference.clone());
                v["why"] = json!(item.why);
                println!("{v}");
            }
            Format::Text => {
                println!(
                    "{reference}: {} ({}/{})",
                    a.action.kind(),
                    a.workflow,
                    a.rule
                );
                super::plan::print_fields(a, &["kind", "workflow", "rule", "key"]);
            }
        }
    }
    if format == Format::Text {
        for w in item.why {
            println!("   why: {w}");
        }
    }
}

fn print_report(r: &SweepReport) {
    let verb = if r.dry_run { "would take" } else { "took" };
    println!();
    println!(
        "{} items seen ({} exempt by milestone); {verb} {} actions: {} nudged, {} marked stale, {} closed, {} other",
        r.items_seen,
        r.items_exempt,
        r.actions,
        r.counts.nudged,
        r.counts.marked_stale,
        r.counts.closed,
        r.counts.other_actions
    );
    if r.ceiling_reached {
        println!(
            "ceiling of {} actions reached: {} actions on {} items remain; the next run continues with them",
            r.max_actions, r.counts.remaining_actions, r.remaining_items
        );
    }
    if r.followups.due > 0 || r.followups.worker.done > 0 {
        println!(
            "follow-ups due: {}; worker pass: {} done, {} ignored, {} to retry, {} parked",
            r.followups.due,
            r.followups.worker.done,
            r.followups.worker.ignored,
            r.followups.worker.retry,
            r.followups.worker.parked
        );
    }
    for s in &r.summaries {
        println!(
            "summary `{}`: {}{}",
            s.title,
            if r.dry_run {
                format!("would be {}", s.outcome)
            } else {
                s.outcome.clone()
            },
            s.web_url
                .as_deref()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default()
        );
        if r.dry_run {
            for line in s.body.lines() {
                println!("   | {line}");
            }
        }
    }
    if r.half_done_finished > 0 {
        println!(
            "{} steps an earlier run left half-done {}",
            r.half_done_finished,
            if r.dry_run {
                "are on record (a live run finishes them first)"
            } else {
                "were finished"
            }
        );
    }
    if !r.items_busy.is_empty() {
        println!(
            "{} items were being handled by another sweep or by the service and were left to it: {}",
            r.items_busy.len(),
            r.items_busy.join(", ")
        );
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    for f in &r.failures {
        println!("failed: {f}");
    }
    if let Some(why) = &r.aborted {
        println!("stopped early: {why}");
    }
}
