//! Playing one scenario: its starting issues, then each step and its expectations.

use super::engine::engine_for;
use super::expect::{self, Checked, Mismatch, Observed, SnapshotMode};
use super::explain::{StepEvent, followup_names, step_explanation};
use super::model::{DescriptionEdit, Scenario, StartIssue, Step};
use super::world::World;
use crate::sim::{IssueView, NewIssue, SimError};
use serde_saphyr::Spanned;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How one scenario went.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: PathBuf,
    pub name: String,
    pub line: u64,
    pub duration: Duration,
    pub failure: Option<Failure>,
    /// Snapshot files `--update-snapshots` wrote.
    pub snapshots_written: Vec<PathBuf>,
}

/// Why a scenario failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The step (1-based) and its line, when a step failed (none: setting up failed).
    pub step: Option<(usize, u64)>,
    /// The step in words (`@alice adds ~"x"`) or what could not be set up.
    pub what: String,
    pub mismatches: Vec<Mismatch>,
    /// What went wrong in the service during the step.
    pub problems: Vec<String>,
    /// What the planner made of the step's events.
    pub explanation: Vec<String>,
}

pub struct Context<'a> {
    pub config: &'a Path,
    pub file: &'a Path,
    pub file_directory: Option<&'a super::model::DirectoryOverride>,
    pub file_cla_registry: Option<&'a str>,
    pub update_snapshots: bool,
    /// The configuration's engine, for scenarios without directory overrides.
    pub base: std::sync::Arc<crate::engine::Engine>,
}

pub async fn run(ctx: &Context<'_>, sc: &Spanned<Scenario>) -> Outcome {
    let started = Instant::now();
    let mut written = Vec::new();
    let failure = match play(ctx, &sc.value, &mut written).await {
        Ok(f) => f,
        Err(e) => Some(Failure {
            step: None,
            what: format!("{e:#}"),
            mismatches: vec![],
            problems: vec![],
            explanation: vec![],
        }),
    };
    Outcome {
        file: ctx.file.to_path_buf(),
        name: sc.value.name.clone(),
        line: sc.referenced.line(),
        duration: started.elapsed(),
        failure,
        snapshots_written: written,
    }
}

async fn play(
    ctx: &Context<'_>,
    sc: &Scenario,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<Option<Failure>> {
    let directory = match (ctx.file_directory, &sc.directory) {
        (Some(a), Some(b)) => Some(a.merged(b)),
        (a, b) => a.or(b.as_ref()).cloned(),
    };
    let engine = match &directory {
        None => ctx.base.clone(),
        Some(d) => std::sync::Arc::new(engine_for(ctx.config, Some(d))?),
    };
    let registry = sc.cla_registry.as_deref().or(ctx.file_cla_registry);
    let world = World::start(engine, registry).await?;
    let result = play_in(ctx, sc, &world, written).await;
    world.shutdown().await;
    result
}

async fn play_in(
    ctx: &Context<'_>,
    sc: &Scenario,
    world: &World,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<Option<Failure>> {
    let mut issues: Vec<(String, u64, u64)> = Vec::new();
    world.sim.mute_hooks(true);
    for i in &sc.issues {
        let (project, iid) = open_issue(world, &i.value).map_err(|e| {
            anyhow::anyhow!("line {}: issue `{}`: {e}", i.referenced.line(), i.value.id)
        })?;
        issues.push((i.value.id.clone(), project, iid));
    }
    world.sim.wait_hooks_idle(Duration::from_secs(10)).await;
    world.sim.mute_hooks(false);
    let snapshots = SnapshotMode {
        dir: ctx.file.parent().unwrap_or(Path::new(".")),
        update: ctx.update_snapshots,
    };
    for (n, step) in sc.steps.iter().enumerate() {
        let s = &step.value;
        let (project, iid) = match &s.issue {
            Some(id) => issues
                .iter()
                .find(|(i, ..)| i == id)
                .map(|(_, p, n)| (*p, *n))
                .expect("checked on loading"),
            None => (issues[0].1, issues[0].2),
        };
        // A minute between steps, as between people's actions: GitLab stamps issue changes to
        // the second, and two changes in one second look like one change to the ledger.
        world.clock.advance(chrono::Duration::minutes(1));
        let before = Before::take(world, project, iid);
        let what = describe(s);
        let mut problems = Vec::new();
        if let Err(e) = act(world, s, project, iid).await {
            problems.push(format!("the step could not be taken: {e:#}"));
        }
        match world.settle().await {
            Ok(p) => problems.extend(p),
            Err(e) => problems.push(format!("{e:#}")),
        }
        let observed = before.observe(world, project, iid);
        let mut mismatches = Vec::new();
        for e in &s.expect {
            match expect::check(&e.value, e.referenced.line(), &observed, &snapshots) {
                Checked::Pass => {}
                Checked::Fail(m) => mismatches.push(m),
                Checked::Updated(p) => written.push(p),
            }
        }
        if !mismatches.is_empty() || !problems.is_empty() {
            let due = world.followups_due(project, iid, before.at).await;
            let explanation = explain(world, s, &before, due);
            return Ok(Some(Failure {
                step: Some((n + 1, step.referenced.line())),
                what,
                mismatches,
                problems,
                explanation,
            }));
        }
    }
    Ok(None)
}

fn open_issue(world: &World, i: &StartIssue) -> Result<(u64, u64), String> {
    let project = world.project(&i.project).ok_or_else(|| {
        format!(
            "no project `{}` in the configuration's `projects:` (give one of its names or paths)",
            i.project
        )
    })?;
    let author = i.author.as_deref().unwrap_or("scenario-author");
    world.ensure_person(author);
    let mut assignee_ids = Vec::new();
    for a in &i.assignees {
        world.ensure_person(a);
        assignee_ids.push(world.sim.user(a).map(|u| u.id).unwrap_or_default());
    }
    let mut description: Vec<String> = i.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    if let Some(d) = &i.description {
        description.push(d.clone());
    }
    let iid = world
        .sim
        .as_user(author)
        .create_issue_with(
            project,
            NewIssue {
                title: i.title.clone(),
                description: description.join("\n"),
                labels: i.labels.clone(),
                assignee_ids,
                confidential: i.confidential,
                work_item_type: None,
            },
        )
        .map_err(|e| format!("the simulated GitLab refused it: {e}"))?;
    Ok((project, iid))
}

async fn act(world: &World, s: &Step, project: u64, iid: u64) -> anyhow::Result<()> {
    let sim_err = |e: SimError| anyhow::anyhow!("the simulated GitLab refused it: {e}");
    if let Some(by) = &s.by {
        world.ensure_person(by);
    }
    let as_by = || world.sim.as_user(s.by.as_deref().unwrap_or_default());
    if let Some(l) = &s.add_label {
        let labels = l.list();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        as_by().add_labels(project, iid, &refs).map_err(sim_err)?;
    } else if let Some(l) = &s.remove_label {
        let labels = l.list();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        as_by()
            .remove_labels(project, iid, &refs)
            .map_err(sim_err)?;
    } else if let Some(body) = &s.comment {
        as_by().comment(project, iid, body).map_err(sim_err)?;
    } else if let Some(edit) = &s.edit_description {
        let now = world
            .sim
            .issue_state(project, iid)
            .map(|i| i.description)
            .unwrap_or_default();
        as_by()
            .edit_description(project, iid, &edited(&now, edit))
            .map_err(sim_err)?;
    } else if let Some(days) = s.wait_days {
        world.advance_days(days).await?;
    } else if s.sweep == Some(true) {
        let report = world.sweep().await;
        if let Some(why) = &report.aborted {
            anyhow::bail!("the sweep stopped early: {why}");
        }
        if let Some(f) = report.failures.first() {
            anyhow::bail!("the sweep failed on an item: {f}");
        }
    }
    Ok(())
}

/// The description with `edit` applied: each field's `Name: value` line replaced (or added),
/// or the whole text replaced.
pub fn edited(description: &str, edit: &DescriptionEdit) -> String {
    let mut lines: Vec<String> = match &edit.text {
        Some(t) => t.lines().map(str::to_string).collect(),
        None => description.lines().map(str::to_string).collect(),
    };
    for (field, value) in &edit.fields {
        let prefix = format!("{}:", field.to_lowercase());
        let new = format!("{field}: {value}");
        match lines
            .iter_mut()
            .find(|l| l.trim_start().to_lowercase().starts_with(&prefix))
        {
            Some(l) => *l = new,
            None => lines.push(new),
        }
    }
    lines.join("\n")
}

fn describe(s: &Step) -> String {
    let by = s.by.as_deref().unwrap_or_default();
    let labels = |l: &super::model::Labels| {
        l.list()
            .iter()
            .map(|x| format!("~\"{x}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(l) = &s.add_label {
        format!("@{by} adds {}", labels(l))
    } else if let Some(l) = &s.remove_label {
        format!("@{by} removes {}", labels(l))
    } else if let Some(c) = &s.comment {
        format!("@{by} comments \"{}\"", c.trim())
    } else if let Some(e) = &s.edit_description {
        if e.text.is_some() {
            format!("@{by} rewrites the description")
        } else {
            let names: Vec<&str> = e.fields.keys().map(String::as_str).collect();
            format!("@{by} edits the description ({})", names.join(", "))
        }
    } else if let Some(d) = s.wait_days {
        format!("{d} days pass")
    } else {
        "a sweep runs".into()
    }
}

/// What the world held before a step.
struct Before {
    notes: BTreeSet<u64>,
    issues: BTreeSet<(u64, u64)>,
    deliveries: usize,
    issue: Option<IssueView>,
    at: chrono::DateTime<chrono::Utc>,
}

impl Before {
    fn take(world: &World, project: u64, iid: u64) -> Before {
        let mut notes = BTreeSet::new();
        let mut issues = BTreeSet::new();
        for p in project_ids(world) {
            for i in world.sim.issues(p) {
                issues.insert((p, i.iid));
                notes.extend(world.sim.notes(p, i.iid).iter().map(|n| n.id));
            }
        }
        Before {
            notes,
            issues,
            deliveries: world.sim.deliveries().len(),
            issue: world.sim.issue_state(project, iid),
            at: world.clock.now(),
        }
    }

    fn observe(&self, world: &World, project: u64, iid: u64) -> Observed {
        let mut comments = Vec::new();
        let mut bot_activity = Vec::new();
        let mut created = Vec::new();
        for p in project_ids(world) {
            for i in world.sim.issues(p) {
                let view = world.sim.issue_state(p, i.iid);
                if !self.issues.contains(&(p, i.iid))
                    && let Some(v) = &view
                {
                    created.push(v.clone());
                }
                let path = view.map(|v| v.project_path).unwrap_or_default();
                for n in world.sim.notes(p, i.iid) {
                    if self.notes.contains(&n.id) || n.author_id != world.bot_id {
                        continue;
                    }
                    let body = without_markers(&n.body);
                    if p == project && i.iid == iid && !n.system {
                        comments.push(body.clone());
                    }
                    bot_activity.push(format!("{path}#{}: {body}", i.iid));
                }
            }
        }
        Observed {
            issue: world
                .sim
                .issue_state(project, iid)
                .expect("the scenario's issue exists"),
            comments,
            bot_activity,
            created,
            project_paths: world.engine.config.projects.clone(),
        }
    }
}

/// A bot comment as people read it: without the hidden `<!-- labelflow:… -->` marker lines
/// and trailing blank lines.
fn without_markers(body: &str) -> String {
    body.lines()
        .filter(|l| !l.trim_start().starts_with("<!-- labelflow:"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

fn project_ids(world: &World) -> Vec<u64> {
    let ids: BTreeSet<u64> = world.projects.values().copied().collect();
    ids.into_iter().collect()
}

/// The planner's view of the step's events ([`step_explanation`]).
fn explain(world: &World, s: &Step, before: &Before, followups_due: usize) -> Vec<String> {
    let now = world.clock.now();
    let deliveries = world.sim.deliveries();
    let issue_state = before.issue.as_ref().map(to_state);
    let mut events: Vec<StepEvent<'_>> = deliveries
        .iter()
        .skip(before.deliveries)
        .filter(|d| !d.redelivery)
        .map(|d| StepEvent::Hook {
            event: &d.event,
            body: &d.body,
        })
        .collect();
    if let Some(issue) = &issue_state {
        if s.sweep == Some(true) {
            events.push(StepEvent::Tick {
                issue,
                followup: None,
            });
        }
        // Which follow-up came due is not on record, only that one did: each the
        // configuration knows is planned.
        if followups_due > 0 {
            for name in followup_names(&world.engine) {
                events.push(StepEvent::Tick {
                    issue,
                    followup: Some(name),
                });
            }
        }
    }
    step_explanation(&world.engine, &events, now)
}

fn to_state(v: &IssueView) -> crate::domain::IssueState {
    crate::domain::IssueState {
        id: v.id,
        iid: v.iid,
        project_id: v.project_id,
        project_path: v.project_path.clone(),
        title: v.title.clone(),
        description: v.description.clone(),
        state: match v.state {
            crate::sim::IssueStatus::Opened => crate::domain::IssueStatus::Opened,
            crate::sim::IssueStatus::Closed => crate::domain::IssueStatus::Closed,
        },
        labels: v.labels.clone(),
        assignees: v.assignees.clone(),
        author: v.author.clone(),
        confidential: v.confidential,
        web_url: v.web_url.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        status: None,
        work_item_type: "Issue".to_string(),
        custom_fields: Default::default(),
    }
}
