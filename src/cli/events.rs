//! `labelflow events`: inspect the inbox and re-run parked events.

use crate::clock::Clock;
use crate::store::{self, EventStatus};

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
    /// List events, newest first.
    List {
        /// Only events in this status: pending, running, done, parked.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one event.
    Show { id: i64 },
    /// Put a parked event back in the queue (a running `labelflow serve` picks it up).
    Retry { id: i64 },
}

pub async fn run(args: EventsArgs) -> anyhow::Result<i32> {
    let store = store::connect(&args.database).await?;
    match args.command {
        EventsCommand::List {
            status,
            limit,
            json,
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
        EventsCommand::Show { id } => match store.get_event(id).await? {
            Some(r) => {
                println!("{}", serde_json::to_string_pretty(&r)?);
                Ok(0)
            }
            None => {
                eprintln!("no event {id}");
                Ok(1)
            }
        },
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
