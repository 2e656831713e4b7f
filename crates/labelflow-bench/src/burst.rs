//! Rate limits: a burst of label events, each needing one note, against the simulator's
//! GitLab limits scaled so the run takes about a minute. labelflow must finish within 1.1×
//! the time the limits allow, with no 429.

use crate::load::Endpoint;
use crate::setup::{Bench, LABELFLOW_BOT, RecordedHook};
use chrono::{DateTime, Utc};
use labelflow_sim::{RateLimit, SimGitlab};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::task::JoinSet;

/// The simulator's limits for the run: GitLab.com's, all scaled by the same factor, enforced
/// in windows of `window_seconds`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BurstLimits {
    pub notes_per_minute: u32,
    pub issues_per_minute: u32,
    pub api_per_minute: u32,
    pub window_seconds: u64,
}

impl BurstLimits {
    /// GitLab.com's proportions (2,000 API requests, 200 issues, 60 notes a minute) scaled
    /// so notes go at `notes_per_minute`.
    pub fn scaled(notes_per_minute: u32, window_seconds: u64) -> BurstLimits {
        let f = f64::from(notes_per_minute) / 60.0;
        BurstLimits {
            notes_per_minute,
            issues_per_minute: (200.0 * f).round() as u32,
            api_per_minute: (2000.0 * f).round() as u32,
            window_seconds,
        }
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.window_seconds.max(1))
    }

    /// A per-minute limit as the simulator's per-window one.
    fn per_window(&self, per_minute: u32) -> u32 {
        ((f64::from(per_minute) * self.window().as_secs_f64() / 60.0).floor() as u32).max(1)
    }

    pub fn apply(&self, sim: &SimGitlab) {
        let w = self.window();
        sim.set_rate_limit(Some(RateLimit::new(
            self.per_window(self.api_per_minute),
            w,
        )));
        sim.set_issue_creation_limit(Some(
            RateLimit::new(self.per_window(self.issues_per_minute), w).named("issues_create"),
        ));
        sim.set_note_creation_limit(Some(
            RateLimit::new(self.per_window(self.notes_per_minute), w).named("notes_create"),
        ));
    }

    /// labelflow's flags for the same limits.
    pub fn labelflow_args(&self) -> Vec<String> {
        vec![
            "--gitlab-issue-creations-per-minute".into(),
            self.issues_per_minute.to_string(),
            "--gitlab-note-creations-per-minute".into(),
            self.notes_per_minute.to_string(),
            "--gitlab-rate-window-seconds".into(),
            self.window_seconds.to_string(),
        ]
    }

    /// The soonest the last of `notes` notes can exist, counted from the first send: a fixed
    /// window lets `per_window` through, so `ceil(notes / per_window) - 1` windows must pass
    /// (and likewise for `api_calls` requests under the API limit).
    pub fn minimum(&self, notes: usize, api_calls: usize) -> Duration {
        let windows = |n: usize, per: u32| n.div_ceil(per.max(1) as usize).saturating_sub(1);
        let w = windows(notes, self.per_window(self.notes_per_minute))
            .max(windows(api_calls, self.per_window(self.api_per_minute)));
        self.window() * w as u32
    }
}

/// What the burst run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BurstResult {
    pub limits: BurstLimits,
    pub events: usize,
    /// Issues with exactly one bot comment.
    pub commented: usize,
    /// Issues with more than one (must be 0).
    pub duplicated: usize,
    /// First webhook sent → last note created, seconds.
    pub seconds: f64,
    /// What the limits allow for the same work, seconds.
    pub minimum_seconds: f64,
    pub ratio: f64,
    /// 429s the simulator answered the bot during the run.
    pub too_many_requests: usize,
    /// Requests the bot made during the run, by `METHOD status`.
    pub requests: BTreeMap<String, usize>,
}

/// Sends every hook at once (32 at a time) and waits, up to `timeout`, for the notes.
pub async fn run(
    bench: &Bench,
    endpoint: &Endpoint,
    hooks: &[RecordedHook],
    limits: BurstLimits,
    timeout: Duration,
) -> BurstResult {
    let sim = &bench.sim;
    sim.clear_requests();
    let first_send = Utc::now();
    let mut tasks = JoinSet::new();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    for hook in hooks {
        let endpoint = endpoint.clone();
        let body = hook.body.clone();
        let gate = gate.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let id = uuid::Uuid::new_v4().to_string();
            endpoint
                .deliver("Issue Hook", &id, body.into_bytes().into())
                .await
        });
    }
    tasks.join_all().await;
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline && notes_created(sim).len() < hooks.len() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let created = notes_created(sim);
    let last: Option<DateTime<Utc>> = created.iter().max().copied();
    let seconds = last
        .map(|t| (t - first_send).num_milliseconds() as f64 / 1000.0)
        .unwrap_or(f64::NAN);
    let project = hooks.first().map(|h| h.project_id).unwrap_or(0);
    let bot_id = sim.user(LABELFLOW_BOT).map(|u| u.id).unwrap_or(0);
    let (mut commented, mut duplicated) = (0, 0);
    for h in hooks {
        let n = sim
            .notes(project, h.iid)
            .iter()
            .filter(|n| n.author_id == bot_id && !n.system)
            .count();
        match n {
            0 => {}
            1 => commented += 1,
            _ => duplicated += 1,
        }
    }
    let mut requests = BTreeMap::new();
    let mut too_many_requests = 0;
    let mut answered = 0;
    for r in sim
        .requests()
        .iter()
        .filter(|r| r.username.as_deref() == Some(LABELFLOW_BOT))
    {
        *requests
            .entry(format!("{} {}", r.method, r.status))
            .or_insert(0) += 1;
        if r.status == 429 {
            too_many_requests += 1;
        } else {
            answered += 1;
        }
    }
    let minimum = limits.minimum(hooks.len(), answered);
    BurstResult {
        limits,
        events: hooks.len(),
        commented,
        duplicated,
        seconds,
        minimum_seconds: minimum.as_secs_f64(),
        ratio: if minimum.is_zero() {
            f64::NAN
        } else {
            seconds / minimum.as_secs_f64()
        },
        too_many_requests,
        requests,
    }
}

fn notes_created(sim: &SimGitlab) -> Vec<DateTime<Utc>> {
    crate::e2e::note_creations(sim, LABELFLOW_BOT)
}

/// The markdown section for `BENCHMARKS.md`.
pub fn markdown(b: &BurstResult) -> String {
    let l = &b.limits;
    let mut out =
        String::from("### Rate limits: a burst of label events, each needing one note\n\n");
    out.push_str(&format!(
        "{} label-change webhooks sent at once. The simulator enforces GitLab.com's limits \
         scaled by the same factor: {} notes, {} issues and {} API requests a minute per user, \
         counted in fixed windows of {} s; labelflow is given the same application limits \
         (`--gitlab-note-creations-per-minute {}`, `--gitlab-rate-window-seconds {}`) and paces \
         API calls by the `RateLimit-*` headers. The minimum is what the windows allow: \
         (⌈notes ÷ notes per window⌉ − 1) windows.\n\n",
        b.events,
        l.notes_per_minute,
        l.issues_per_minute,
        l.api_per_minute,
        l.window_seconds,
        l.notes_per_minute,
        l.window_seconds
    ));
    out.push_str(
        "| events | commented once | duplicates | first send → last note, s | minimum, s | ratio | 429s | target met (≤ 1.1×, no 429) |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    let met = b.ratio <= 1.1 && b.too_many_requests == 0 && b.commented == b.events;
    out.push_str(&format!(
        "| {} | {} | {} | {:.1} | {:.1} | {:.3} | {} | {} |\n",
        b.events,
        b.commented,
        b.duplicated,
        b.seconds,
        b.minimum_seconds,
        b.ratio,
        b.too_many_requests,
        if met { "yes" } else { "**no**" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_scale_like_gitlab_com_and_the_minimum_counts_windows() {
        let l = BurstLimits::scaled(1000, 3);
        assert_eq!((l.issues_per_minute, l.api_per_minute), (3333, 33333));
        assert_eq!(l.per_window(l.notes_per_minute), 50);
        // 1,000 notes, 50 a window: the last batch goes after 19 windows of 3 s.
        assert_eq!(l.minimum(1000, 2000), Duration::from_secs(57));
        assert_eq!(l.minimum(50, 100), Duration::ZERO);
    }
}
