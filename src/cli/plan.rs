//! `labelflow plan`: the actions one webhook payload would cause, from the same planner the
//! live path uses, without touching GitLab or the store.

use super::config_arg::ConfigArg;
use crate::engine::{self, Engine};
use crate::hooks;
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// A GitLab webhook body (Issue Hook or Note Hook JSON); not with `--tick`/`--followup`.
    #[arg(required_unless_present_any = ["tick", "followup"])]
    pub payload: Option<PathBuf>,
    /// The issue as GitLab's API returns it now (`GET /projects/:id/issues/:iid`). Without it,
    /// the issue's state is taken from the payload.
    #[arg(long)]
    pub issue: Option<PathBuf>,
    /// The `X-Gitlab-Event` header the payload came with, if known.
    #[arg(long)]
    pub event: Option<String>,
    /// Plan as if it were this time (RFC 3339); default now.
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Preview the follow-up NAME coming due for the `--issue` (at `--now`), instead of a
    /// payload.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["payload", "tick", "event"], requires = "issue")]
    pub followup: Option<String>,
    /// Preview a sweep visiting the `--issue` (at `--now`), instead of a payload. Milestone
    /// exemptions are the sweep's own and not shown.
    #[arg(long, conflicts_with_all = ["payload", "event"], requires = "issue")]
    pub tick: bool,
}

pub fn run(args: PlanArgs) -> anyhow::Result<i32> {
    let engine = match Engine::load(&args.config.config) {
        Ok(e) => e,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(1);
        }
    };
    let Some(payload) = &args.payload else {
        return super::plan_tick::run(&engine, &args);
    };
    let body = std::fs::read(payload).with_context(|| format!("reading {}", payload.display()))?;
    let hook = match hooks::parse(args.event.as_deref(), &body) {
        Ok(Some(h)) => h,
        Ok(None) => {
            match args.format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({
                        "actions": [],
                        "trace": { "event": "not an issue or issue-comment event", "notes": ["labelflow ignores it"], "workflows": [] },
                    })
                ),
                Format::Text => println!(
                    "not an issue or issue-comment event: labelflow ignores it (no actions)"
                ),
            }
            return Ok(0);
        }
        Err(e) => {
            eprintln!("error: {}: {e}", payload.display());
            return Ok(1);
        }
    };
    let event = hooks::normalise(&hook);
    let issue = match &args.issue {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            crate::forge::gitlab::issue_from_json(&text).with_context(|| {
                format!("{} is not an issue as GitLab's API returns it", p.display())
            })?
        }
        None => hooks::issue_from_payload(&body, &event)?,
    };
    let now = args.now.unwrap_or_else(Utc::now);
    let plan = engine::plan(&engine, &event, &issue, now).map_err(|e| anyhow::anyhow!(e))?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "actions": plan.actions,
                "trace": plan.trace,
            }))?
        ),
        Format::Text => {
            print_text(&plan, &event);
            if let Some(why) = no_workflow_note(&engine, &issue.project_path) {
                println!("note: {why}");
            }
        }
    }
    Ok(0)
}

pub(super) fn print_text(plan: &engine::Plan, event: &crate::domain::Event) {
    let issue = if event.project_path.is_empty() {
        format!("issue {}", event.issue)
    } else {
        format!("{}#{}", event.project_path, event.issue.iid)
    };
    println!(
        "event: {} on {issue} by @{}; labels added: {}; labels removed: {}",
        event.kind,
        event.actor.username,
        crate::domain::label_list(&event.labels_added),
        crate::domain::label_list(&event.labels_removed)
    );
    if plan.actions.is_empty() {
        println!("no actions");
    }
    for (i, a) in plan.actions.iter().enumerate() {
        println!("{}. {} ({}/{})", i + 1, a.action.kind(), a.workflow, a.rule);
        print_fields(a, &["kind", "workflow", "rule"]);
    }
    println!("why:");
    for line in plan.trace.to_text().lines() {
        println!("  {line}");
    }
}

/// An action's fields, one per line, in plain words (multi-line text as a quoted block),
/// leaving out `skip`.
pub fn print_fields(a: &crate::actions::PlannedAction, skip: &[&str]) {
    let Ok(Value::Object(map)) = serde_json::to_value(a) else {
        return;
    };
    for (k, v) in map {
        if skip.contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::String(s) if s.contains('\n') => {
                println!("   {k}:");
                for line in s.lines() {
                    println!("     | {line}");
                }
            }
            other => println!("   {k}: {}", plain(&other)),
        }
    }
}

/// A JSON value in plain words: strings unquoted, lists comma-separated, objects as
/// `key: value` pairs.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".to_string(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", plain(v)))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Null => "none".to_string(),
        other => other.to_string(),
    }
}

/// Says so when no workflow covers the issue's project: otherwise an empty plan for a payload
/// from the wrong project looks the same as "nothing to do".
pub(super) fn no_workflow_note(engine: &Engine, project_path: &str) -> Option<String> {
    let workflows = &engine.config.workflows;
    if workflows
        .values()
        .any(|wf| engine.workflow_applies(wf, project_path))
    {
        return None;
    }
    let mut covered: Vec<String> = workflows
        .values()
        .flat_map(|wf| wf.projects.iter())
        .filter_map(|p| engine.project_path(&p.value))
        .collect();
    covered.sort();
    covered.dedup();
    Some(format!(
        "no workflow applies to project `{project_path}` (the configuration covers: {})",
        covered.join(", ")
    ))
}
