//! `labelflow plan --tick` / `--followup NAME`: what a sweep visit or a follow-up coming due
//! would do to one issue, offline, from the same planner.

use super::plan::{Format, PlanArgs, no_workflow_note, print_text};
use crate::engine::{self, Engine};
use crate::scenario::explain::{resolve_followup, tick_event};
use anyhow::Context;
use chrono::Utc;

pub fn run(engine: &Engine, args: &PlanArgs) -> anyhow::Result<i32> {
    let path = args
        .issue
        .as_ref()
        .context("--tick and --followup need --issue (the issue as GitLab's API returns it)")?;
    let followup = match args
        .followup
        .as_deref()
        .map(|n| resolve_followup(engine, n))
    {
        None => None,
        Some(Ok(name)) => Some(name),
        Some(Err(why)) => {
            eprintln!("error: {why}");
            return Ok(1);
        }
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let issue = crate::forge::gitlab::issue_from_json(&text).with_context(|| {
        format!(
            "{} is not an issue as GitLab's API returns it",
            path.display()
        )
    })?;
    let now = args.now.unwrap_or_else(Utc::now);
    let event = tick_event(&issue, followup, now);
    let plan = engine::plan(engine, &event, &issue, now).map_err(|e| anyhow::anyhow!(e))?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&plan.actions)?),
        Format::Text => {
            print_text(&plan, &event);
            if let Some(why) = no_workflow_note(engine, &issue.project_path) {
                println!("note: {why}");
            }
        }
    }
    Ok(0)
}
