//! The weekly summary issue of a workflow's sweep: counts per stage, a Mermaid funnel, the
//! stale list with owners and idle days, and a log of what the runs of the week did.
//!
//! There is one issue per workflow per ISO week, found again by its hidden marker (so a
//! repeated run updates it in place), and the run log is read back from that issue: nothing
//! about the summary lives outside GitLab. A run that changes nothing leaves the issue alone.

use crate::actions::marker;
use crate::forge::{CreatedIssue, ForgeError, GitlabForge};
use crate::render::escape_user_text;
use chrono::{DateTime, Datelike, Utc};
use gitlab::api::projects::issues;
use gitlab::api::{self, AsyncQuery};
use serde::{Deserialize, Serialize};

/// Stale rows shown in the issue (the rest are counted): keeps the issue readable and the
/// sweep's memory flat however many items are stale.
pub const MAX_STALE_ROWS: usize = 100;
/// Run-log rows kept (a week of hourly runs fits).
const MAX_RUN_ROWS: usize = 200;
const RUNS_START: &str = "<!-- labelflow:runs -->";
const RUNS_END: &str = "<!-- labelflow:runs-end -->";

/// One stage's line in the funnel.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StageCount {
    pub stage: String,
    /// Open items at the stage (`None` when not counted).
    pub open: Option<u64>,
    /// GitLab failed to count one of the stage's scopes: the open figure is unknown.
    pub count_failed: bool,
    pub stale: u64,
}

/// One stale item.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StaleRow {
    /// `group/project#12`.
    pub reference: String,
    pub title: String,
    pub stage: String,
    /// Assignees, else the policy's owner role.
    pub owners: Vec<String>,
    pub idle_days: i64,
}

/// What a run did, per kind of step.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct RunCounts {
    pub nudged: usize,
    pub marked_stale: usize,
    pub closed: usize,
    /// Actions of other rules (`on: tick` rules, required fields) run on swept items.
    pub other_actions: usize,
    /// Actions left for the next run by the ceiling.
    pub remaining_actions: usize,
}

impl RunCounts {
    pub fn is_empty(&self) -> bool {
        self.nudged + self.marked_stale + self.closed + self.other_actions == 0
    }
}

/// Everything one workflow's summary shows, gathered while streaming (bounded memory).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkflowSummary {
    pub workflow: String,
    pub stages: Vec<StageCount>,
    pub stale_total: u64,
    /// The longest-idle stale items, at most [`MAX_STALE_ROWS`].
    pub stale_rows: Vec<StaleRow>,
    pub run: RunCounts,
}

impl WorkflowSummary {
    pub fn new(workflow: &str, stages: impl Iterator<Item = String>) -> Self {
        WorkflowSummary {
            workflow: workflow.to_string(),
            stages: stages
                .map(|stage| StageCount {
                    stage,
                    ..StageCount::default()
                })
                .collect(),
            ..WorkflowSummary::default()
        }
    }

    pub fn add_open(&mut self, stage: &str, n: u64) {
        if let Some(s) = self.stages.iter_mut().find(|s| s.stage == stage) {
            s.open = Some(s.open.unwrap_or(0) + n);
        }
    }

    /// Notes that GitLab could not count the stage's open items in one scope: the summary
    /// says "unknown" there rather than a figure that is too low.
    pub fn open_unknown(&mut self, stage: &str) {
        if let Some(s) = self.stages.iter_mut().find(|s| s.stage == stage) {
            s.count_failed = true;
        }
    }

    /// Counts a stale item and keeps it if it is among the longest idle.
    pub fn add_stale(&mut self, row: StaleRow) {
        if let Some(s) = self.stages.iter_mut().find(|s| s.stage == row.stage) {
            s.stale += 1;
        }
        self.stale_total += 1;
        self.stale_rows.push(row);
        if self.stale_rows.len() >= 2 * MAX_STALE_ROWS {
            self.trim_rows();
        }
    }

    fn trim_rows(&mut self) {
        self.stale_rows.sort_by(|a, b| {
            b.idle_days
                .cmp(&a.idle_days)
                .then_with(|| a.reference.cmp(&b.reference))
        });
        self.stale_rows.truncate(MAX_STALE_ROWS);
    }

    /// The issue's title.
    pub fn title(&self, now: DateTime<Utc>) -> String {
        let w = now.iso_week();
        format!(
            "Stale sweep: {} — week {}-W{:02}",
            self.workflow,
            w.year(),
            w.week()
        )
    }

    /// The issue's description: everything but the marker. `runs` is the run log so far
    /// (this run's row included when it did something).
    pub fn render(&mut self, now: DateTime<Utc>, runs: &[String]) -> String {
        self.trim_rows();
        let mut out = String::new();
        out.push_str(&format!(
            "Weekly summary of the `{}` stale sweep, kept up to date by labelflow (as of {}).\n\n",
            code(&self.workflow),
            now.format("%Y-%m-%d")
        ));
        out.push_str("### Items per stage\n\n| Stage | Open | Stale |\n|---|---:|---:|\n");
        for s in &self.stages {
            let open = match s.open {
                _ if s.count_failed => "unknown".to_string(),
                Some(n) => n.to_string(),
                None => "–".to_string(),
            };
            out.push_str(&format!(
                "| ~\"{}\" | {open} | {} |\n",
                label_text(&s.stage),
                s.stale
            ));
        }
        if self.stages.iter().any(|s| s.count_failed) {
            out.push_str(
                "\nGitLab could not count some stages' open items during this run: they show as unknown.\n",
            );
        }
        out.push_str("\n```mermaid\nflowchart LR\n");
        for (i, s) in self.stages.iter().enumerate() {
            let open = match s.open {
                Some(n) if !s.count_failed => n.to_string(),
                _ => "?".to_string(),
            };
            out.push_str(&format!(
                "  s{i}[\"{}<br/>{open} open, {} stale\"]\n",
                mermaid_text(&s.stage),
                s.stale
            ));
        }
        for i in 1..self.stages.len() {
            out.push_str(&format!("  s{} --> s{i}\n", i - 1));
        }
        out.push_str("```\n\n");
        out.push_str(&format!("### Stale items ({})\n\n", self.stale_total));
        if self.stale_rows.is_empty() {
            out.push_str("None.\n");
        } else {
            out.push_str(
                "| Item | Stage | Owners | Days without activity (at least) |\n|---|---|---|---:|\n",
            );
            for r in &self.stale_rows {
                let owners: Vec<String> =
                    r.owners.iter().map(|o| format!("`{}`", code(o))).collect();
                out.push_str(&format!(
                    "| {} {} | ~\"{}\" | {} | {} |\n",
                    escape_user_text(&r.reference),
                    escape_user_text(&r.title),
                    label_text(&r.stage),
                    if owners.is_empty() {
                        "–".to_string()
                    } else {
                        owners.join(", ")
                    },
                    r.idle_days
                ));
            }
            let hidden = self
                .stale_total
                .saturating_sub(self.stale_rows.len() as u64);
            if hidden > 0 {
                out.push_str(&format!(
                    "\n…and {hidden} more (the longest idle are listed).\n"
                ));
            }
        }
        out.push_str("\n### What the sweep did this week\n\n");
        out.push_str(RUNS_START);
        out.push_str(
            "\n| Run | Nudged | Marked stale | Closed | Other actions | Left for next run |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for r in runs {
            out.push_str(r);
            out.push('\n');
        }
        out.push_str(RUNS_END);
        out.push('\n');
        out
    }
}

/// This run's row of the run log.
pub fn run_row(now: DateTime<Utc>, c: &RunCounts) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} |",
        now.format("%Y-%m-%d %H:%M UTC"),
        c.nudged,
        c.marked_stale,
        c.closed,
        c.other_actions,
        c.remaining_actions
    )
}

/// The run-log rows of an existing summary. Only rows of exactly the shape [`run_row`] writes
/// are kept (dates and numbers), so an edit of the issue cannot smuggle text into the next
/// update.
pub fn parse_run_rows(description: &str) -> Vec<String> {
    let Some(start) = description.find(RUNS_START) else {
        return Vec::new();
    };
    let rest = &description[start..];
    let section = rest.find(RUNS_END).map(|e| &rest[..e]).unwrap_or(rest);
    let re = regex::Regex::new(
        r"^\| \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC \| \d{1,9} \| \d{1,9} \| \d{1,9} \| \d{1,9} \| \d{1,9} \|$",
    );
    let Ok(re) = re else {
        return Vec::new();
    };
    let mut rows: Vec<String> = section
        .lines()
        .map(str::trim)
        .filter(|l| re.is_match(l))
        .map(str::to_string)
        .collect();
    if rows.len() > MAX_RUN_ROWS {
        rows.drain(..rows.len() - MAX_RUN_ROWS);
    }
    rows
}

/// Idempotency key of a workflow's summary for the week of `now`.
pub fn summary_key(workflow: &str, now: DateTime<Utc>) -> String {
    let w = now.iso_week();
    format!("sweep-summary/{workflow}/{}-W{:02}", w.year(), w.week())
}

/// Text inside a code span (backticks would end it).
fn code(s: &str) -> String {
    s.replace('`', "'")
}

/// A label name inside `~"…"`.
fn label_text(s: &str) -> String {
    s.replace(['"', '\n', '|', '<', '>'], " ")
}

/// Text inside a Mermaid `["…"]` node.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace('\n', " ")
}

/// The summary issue as found on GitLab.
#[derive(Debug, Clone, Deserialize)]
pub struct ExistingSummary {
    pub project_id: u64,
    pub iid: u64,
    #[serde(default)]
    pub description: Option<String>,
    pub web_url: String,
    author: Author,
}

#[derive(Debug, Clone, Deserialize)]
struct Author {
    username: String,
}

fn builder_err(e: impl std::fmt::Display) -> ForgeError {
    ForgeError::Permanent {
        status: 0,
        message: format!("invalid request: {e}"),
    }
}

/// The bot's summary issue carrying `marker_id` in `project`, if any (issues by anyone else
/// are ignored, so a pasted marker cannot hijack the summary).
pub async fn find(
    forge: &GitlabForge,
    project: &str,
    marker_id: &str,
) -> Result<Option<ExistingSummary>, ForgeError> {
    let found: Vec<ExistingSummary> = issues::Issues::builder()
        .project(project)
        .search(marker_id)
        .search_in(issues::IssueSearchScope::Description)
        .build()
        .map_err(builder_err)?
        .query_async(forge.client())
        .await?;
    Ok(found.into_iter().find(|i| {
        i.author.username == forge.bot_username()
            && i.description
                .as_deref()
                .is_some_and(|d| d.contains(marker_id))
    }))
}

/// Opens the summary issue.
pub async fn create(
    forge: &GitlabForge,
    project: &str,
    title: &str,
    body: &str,
    marker_id: &str,
    labels: &[String],
) -> Result<CreatedIssue, ForgeError> {
    let description = format!("{body}\n{}", marker(marker_id));
    forge
        .create_issue(project, title, &description, labels, &[], false)
        .await
}

/// Replaces the summary's description.
pub async fn update(
    forge: &GitlabForge,
    existing: &ExistingSummary,
    body: &str,
    marker_id: &str,
) -> Result<(), ForgeError> {
    let description = format!("{body}\n{}", marker(marker_id));
    api::ignore(
        issues::EditIssue::builder()
            .project(existing.project_id)
            .issue(existing.iid)
            .description(description.as_str())
            .build()
            .map_err(builder_err)?,
    )
    .query_async(forge.client())
    .await?;
    Ok(())
}

/// Whether an existing summary already says `body` (so no write is needed).
pub fn unchanged(existing: &ExistingSummary, body: &str, marker_id: &str) -> bool {
    existing.description.as_deref().map(str::trim)
        == Some(format!("{body}\n{}", marker(marker_id)).trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(reference: &str, idle: i64) -> StaleRow {
        StaleRow {
            reference: reference.into(),
            title: "T".into(),
            stage: "cocreate::triage".into(),
            owners: vec!["cs-lead".into()],
            idle_days: idle,
        }
    }

    #[test]
    fn render_counts_funnel_rows_and_log() {
        let now = match Utc.with_ymd_and_hms(2024, 5, 1, 6, 0, 0) {
            chrono::LocalResult::Single(t) => t,
            _ => panic!("valid time"),
        };
        let mut s = WorkflowSummary::new(
            "cocreate",
            ["cocreate::identified", "cocreate::triage"]
                .into_iter()
                .map(String::from),
        );
        s.add_open("cocreate::identified", 12);
        s.add_open("cocreate::triage", 30);
        s.add_stale(StaleRow {
            title: "/close @all <!-- labelflow:x -->".into(),
            ..row("g/p#3", 9)
        });
        assert_eq!(s.title(now), "Stale sweep: cocreate — week 2024-W18");
        let runs = vec![run_row(
            now,
            &RunCounts {
                nudged: 4,
                marked_stale: 1,
                closed: 0,
                other_actions: 0,
                remaining_actions: 2,
            },
        )];
        let body = s.render(now, &runs);
        assert!(
            body.contains("| ~\"cocreate::triage\" | 30 | 1 |"),
            "{body}"
        );
        assert!(
            body.contains("| ~\"cocreate::identified\" | 12 | 0 |"),
            "{body}"
        );
        assert!(body.contains("s0[\"cocreate::identified<br/>12 open, 0 stale\"]"));
        assert!(body.contains("s0 --> s1"));
        assert!(body.contains("### Stale items (1)"));
        assert!(body.contains("| 2024-05-01 06:00 UTC | 4 | 1 | 0 | 0 | 2 |"));
        // User text is defused: no quick action, mention or marker gets through.
        assert!(!body.contains("\n/close"));
        assert!(!body.contains("@all"));
        assert!(!body.contains("<!-- labelflow:x"));
        assert_eq!(parse_run_rows(&body), runs);
    }

    #[test]
    fn run_log_keeps_only_well_formed_rows() {
        let text = format!(
            "{RUNS_START}\n| 2024-05-01 06:00 UTC | 1 | 2 | 3 | 4 | 5 |\n| 2024-05-02 06:00 UTC | 1 | 2 | 3 | 4 | /close |\n/label ~x\n{RUNS_END}\n| 2024-05-03 06:00 UTC | 1 | 1 | 1 | 1 | 1 |"
        );
        assert_eq!(
            parse_run_rows(&text),
            vec!["| 2024-05-01 06:00 UTC | 1 | 2 | 3 | 4 | 5 |".to_string()]
        );
        assert!(parse_run_rows("no log here").is_empty());
    }

    #[test]
    fn stale_rows_are_bounded_and_longest_idle_first() {
        let mut s = WorkflowSummary::new("w", std::iter::once("cocreate::triage".to_string()));
        for i in 0..1000 {
            s.add_stale(row(&format!("g/p#{i}"), i));
            assert!(s.stale_rows.len() < 2 * MAX_STALE_ROWS);
        }
        let now = Utc::now();
        let body = s.render(now, &[]);
        assert_eq!(s.stale_total, 1000);
        assert_eq!(s.stale_rows.len(), MAX_STALE_ROWS);
        assert_eq!(s.stale_rows[0].idle_days, 999);
        assert!(body.contains("…and 900 more"));
    }
}
