//! End to end: a label-change webhook is sent → the bot's comment exists in the simulator.
//! Also counts the GitLab requests the bot made per step (the simulator's request log).

use crate::load::Endpoint;
use crate::setup::RecordedHook;
use crate::stats::Summary;
use chrono::{DateTime, Utc};
use labelflow_sim::SimGitlab;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What one end-to-end run saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct E2eResult {
    pub sim_latency_ms: u64,
    pub events: usize,
    /// Issues that got exactly one bot comment.
    pub commented: usize,
    /// Issues with more than one bot comment (must be 0).
    pub duplicated: usize,
    pub ack: Summary,
    /// Webhook sent → comment created in the simulator.
    pub end_to_end: Summary,
    pub api: ApiEconomy,
}

/// GitLab requests the bot made during the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApiEconomy {
    /// `METHOD /path/with/:id` → count.
    pub by_route: BTreeMap<String, usize>,
    pub reads: usize,
    pub writes: usize,
    pub per_step: f64,
}

/// Sends the recorded hooks at `rate` per second and waits (up to `timeout`) for the comments.
pub async fn run(
    sim: &SimGitlab,
    endpoint: &Endpoint,
    bot: &str,
    hooks: &[RecordedHook],
    rate: f64,
    timeout: Duration,
) -> E2eResult {
    sim.clear_requests();
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (n, hook) in hooks.iter().enumerate() {
        tokio::time::sleep_until(start + Duration::from_secs_f64(n as f64 / rate)).await;
        let endpoint = endpoint.clone();
        let hook = hook.clone();
        tasks.spawn(async move {
            let sent_at = Utc::now();
            let sent = Instant::now();
            let id = uuid::Uuid::new_v4().to_string();
            let status = endpoint
                .deliver("Issue Hook", &id, hook.body.into_bytes().into())
                .await;
            (hook.iid, sent_at, status, sent.elapsed())
        });
    }
    let sends = tasks.join_all().await;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && comments_posted(sim, bot) < hooks.len() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let project = hooks.first().map(|h| h.project_id).unwrap_or(0);
    let bot_id = sim.user(bot).map(|u| u.id).unwrap_or(0);
    let mut result = E2eResult {
        events: hooks.len(),
        ..E2eResult::default()
    };
    let mut acks = Vec::new();
    let mut latencies = Vec::new();
    for (iid, sent_at, status, ack) in sends {
        if status.is_some_and(|s| (200..300).contains(&s)) {
            acks.push(ack);
        }
        let created: Vec<DateTime<Utc>> = sim
            .notes(project, iid)
            .iter()
            .filter(|n| n.author_id == bot_id && !n.system)
            .map(|n| n.created_at)
            .collect();
        match created.as_slice() {
            [] => {}
            [at] => {
                result.commented += 1;
                latencies.push((*at - sent_at).to_std().unwrap_or_default());
            }
            _ => result.duplicated += 1,
        }
    }
    result.ack = Summary::of(&acks);
    result.end_to_end = Summary::of(&latencies);
    result.api = economy(sim, bot, hooks.len());
    result
}

/// Bot comments created so far (from the simulator's request log, without copying it).
pub fn comments_posted(sim: &SimGitlab, bot: &str) -> usize {
    sim.count_requests(|r| is_note_creation(r, bot))
}

/// When each of `bot`'s notes was created (its `POST …/notes` answered 201).
pub fn note_creations(sim: &SimGitlab, bot: &str) -> Vec<DateTime<Utc>> {
    sim.requests()
        .iter()
        .filter(|r| is_note_creation(r, bot))
        .map(|r| r.at)
        .collect()
}

fn is_note_creation(r: &labelflow_sim::RequestRecord, bot: &str) -> bool {
    r.username.as_deref() == Some(bot)
        && r.method == "POST"
        && r.path.ends_with("/notes")
        && r.status == 201
}

fn economy(sim: &SimGitlab, bot: &str, steps: usize) -> ApiEconomy {
    let mut api = ApiEconomy::default();
    for r in sim
        .requests()
        .iter()
        .filter(|r| r.username.as_deref() == Some(bot))
    {
        *api.by_route
            .entry(format!("{} {}", r.method, route(&r.path)))
            .or_default() += 1;
        if r.is_write() {
            api.writes += 1;
        } else {
            api.reads += 1;
        }
    }
    api.per_step = (api.reads + api.writes) as f64 / steps.max(1) as f64;
    api
}

/// `/api/v4/projects/12/issues/3/notes` → `/api/v4/projects/:id/issues/:id/notes`.
fn route(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                ":id"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_hide_ids() {
        assert_eq!(
            route("/api/v4/projects/12/issues/3/notes"),
            "/api/v4/projects/:id/issues/:id/notes"
        );
        assert_eq!(route("/api/v4/user"), "/api/v4/user");
    }
}
