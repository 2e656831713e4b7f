//! `labelflow events`: inspect the inbox and re-run parked events.

use crate::clock::Clock;
use crate::store::{self, DynStore, EventRecord, EventStatus, StoredTrace};
use crate::worker::record::EventRecordBody;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Database: a SQLite path or `sqlite://PATH`, or `postgres://…`.
    #[arg(long, env = "LABELFLOW_DATABASE", default_value = "labelflow.db")]
    pub database: String,
    #[command(subcommand)]
    pub command: EventsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EventsCommand {
    /// List events, newest first; with `--issue`, one issue's story, oldest first.
    List {
        /// Only events in this status: pending, running, done, parked.
        #[arg(long)]
        status: Option<String>,
        /// One issue (`group/project#iid`): each event, its outcome, the actions taken and
        /// links to what they created, oldest first.
        #[arg(long)]
        issue: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one event and why labelflow did what it did.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Put a parked event back in the queue (a running `labelflow serve` picks it up).
    Retry { id: i64 },
}

pub async fn run(args: EventsArgs) -> anyhow::Result<i32> {
    let store = store::connect(&args.database).await?;
    match args.command {
        EventsCommand::List {
            issue: Some(issue),
            limit,
            json,
            ..
        } => issue_story(&store, &issue, limit, json).await,
        EventsCommand::List {
            status,
            limit,
            json,
            issue: None,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some(s) => Some(EventStatus::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown status `{s}` (expected pending, running, done or parked)"
                    )
                })?),
            };
            let rows = store.list_events(status, limit).await?;
            if json {
                for r in &rows {
                    println!("{}", serde_json::to_string(r)?);
                }
            } else {
                println!(
                    "{:>6}  {:<8}  {:>3}  {:<12}  {:<18}  {:<20}  last error or note",
                    "id", "status", "try", "issue", "kind", "received"
                );
                for r in &rows {
                    println!(
                        "{:>6}  {:<8}  {:>3}  {:<12}  {:<18}  {:<20}  {}",
                        r.id,
                        r.status.as_str(),
                        r.attempts,
                        r.issue_key,
                        r.event_kind,
                        r.received_at.format("%Y-%m-%d %H:%M:%S"),
                        r.last_error
                            .as_deref()
                            .or(r.detail.as_deref())
                            .unwrap_or("")
                    );
                }
                if rows.is_empty() {
                    println!("(no events)");
                }
            }
            Ok(0)
        }
        EventsCommand::Show { id, format } => {
            let Some(event) = store.get_event(id).await? else {
                eprintln!("no event {id}");
                return Ok(1);
            };
            let trace = store.trace_get(id).await?;
            let record = trace.as_ref().and_then(|t| body(t).ok());
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "event": event,
                        "issue": trace.as_ref().map(|t| &t.issue_ref),
                        "record": record,
                    }))?
                ),
                Format::Text => print_event(&event, trace.as_ref(), record.as_ref()),
            }
            Ok(0)
        }
        EventsCommand::Retry { id } => {
            if store.retry_parked(id, Clock::system().now()).await? {
                println!("event {id} is queued again");
                Ok(0)
            } else {
                match store.get_event(id).await? {
                    Some(r) => eprintln!(
                        "event {id} is {}, not parked: nothing to retry",
                        r.status.as_str()
                    ),
                    None => eprintln!("no event {id}"),
                }
                Ok(1)
            }
        }
    }
}

fn body(t: &StoredTrace) -> serde_json::Result<EventRecordBody> {
    serde_json::from_str(&t.body)
}

fn print_event(e: &EventRecord, t: Option<&StoredTrace>, record: Option<&EventRecordBody>) {
    let issue = t.map_or(e.issue_key.as_str(), |t| t.issue_ref.as_str());
    println!("event {} on {issue}: {}", e.id, e.status.as_str());
    println!(
        "  received {}, {} tr{}, delivery {}",
        e.received_at.format("%Y-%m-%d %H:%M:%S UTC"),
        e.attempts,
        if e.attempts == 1 { "y" } else { "ies" },
        e.delivery_id
    );
    if let Some(err) = &e.last_error {
        println!("  last error: {err}");
    }
    if let Some(d) = &e.detail {
        println!("  note: {d}");
    }
    let Some(record) = record else {
        println!(
            "no decision trace is kept for this event (not processed yet, or pruned past its retention)"
        );
        return;
    };
    println!("outcome: {}", record.outcome);
    print_actions(record, "");
    if let Some(trace) = &record.trace {
        println!("what happened: {}", trace.event);
        println!("why:");
        for line in trace.to_text().lines() {
            println!("  {line}");
        }
    }
}

fn print_actions(record: &EventRecordBody, indent: &str) {
    if record.actions.is_empty() {
        println!("{indent}actions: none");
        return;
    }
    println!("{indent}actions:");
    for (i, a) in record.actions.iter().enumerate() {
        let state = match (a.done, a.earlier) {
            (true, true) => "done earlier, not again",
            (true, false) => "done",
            (false, _) => "not done",
        };
        let link = a
            .link
            .as_deref()
            .map(|l| format!(": {l}"))
            .unwrap_or_default();
        println!(
            "{indent}  {}. {} ({}/{}): {state}{link}",
            i + 1,
            a.what,
            a.workflow,
            a.rule
        );
    }
}

/// One issue's events, oldest first, from their stored records.
async fn issue_story(store: &DynStore, issue: &str, limit: i64, json: bool) -> anyhow::Result<i32> {
    let traces = store.traces_for_issue(issue, limit).await?;
    if json {
        for t in &traces {
            let record = body(t).ok();
            println!(
                "{}",
                serde_json::json!({
                    "event_id": t.event_id,
                    "recorded_at": t.recorded_at,
                    "outcome": t.outcome,
                    "record": record,
                })
            );
        }
        return Ok(0);
    }
    if traces.is_empty() {
        println!(
            "no recorded events for {issue} (name it as group/project#iid; records are kept for the retention period)"
        );
        return Ok(0);
    }
    println!("{issue}, oldest first:");
    for t in &traces {
        let Ok(record) = body(t) else {
            println!("event {}: the stored record could not be read", t.event_id);
            continue;
        };
        let what = record
            .trace
            .as_ref()
            .map_or("(no trace)", |tr| tr.event.as_str());
        println!(
            "event {} at {}: {}: {what}",
            t.event_id,
            t.recorded_at.format("%Y-%m-%d %H:%M:%S UTC"),
            record.outcome
        );
        print_actions(&record, "  ");
    }
    Ok(0)
}
