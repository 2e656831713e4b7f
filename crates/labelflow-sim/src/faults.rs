//! Things going wrong on purpose: fault rules tests switch on at run time, and GitLab's rate
//! limits: the authenticated-API limit with its `RateLimit-*` headers, and the application
//! limits on issue and note creation, which send no such headers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which requests a rule applies to.
#[derive(Debug, Clone)]
pub enum PathMatch {
    Any,
    /// The path (without query) contains this text.
    Contains(String),
    /// The path (without query) matches this regex.
    Regex(regex::Regex),
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Any => true,
            PathMatch::Contains(s) => path.contains(s.as_str()),
            PathMatch::Regex(r) => r.is_match(path),
        }
    }
}

/// When a matching request is hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// The next `n` matching requests; the rule is spent afterwards.
    Count(u32),
    /// Each matching request with probability `p`, drawn from a generator seeded with `seed`
    /// so a run can be reproduced.
    Probability { p: f64, seed: u64 },
}

/// What happens to a hit request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer this status (500, 502, 503, …) with a JSON `{"message": …}` body.
    Status(u16),
    /// Answer 429 `Retry later`, with `Retry-After` when given, and with the `RateLimit-*`
    /// headers only when `rate_limit_headers` (GitLab's application limits send none).
    TooManyRequests {
        retry_after: Option<u64>,
        rate_limit_headers: bool,
    },
    /// Hold the request this long without answering (longer than any client waits).
    Timeout { hold: Duration },
    /// Wait, then answer normally.
    Latency(Duration),
    /// Perform the request, then wait before answering: the change is made even if the client
    /// gives up or goes away meanwhile (GitLab applied it; the answer was lost).
    SlowResponse(Duration),
    /// Perform the request, then answer this status instead of the real answer (a proxy's 502
    /// after GitLab created the object).
    StatusAfterApply(u16),
    /// Perform the request and answer its status and headers with the body cut in half: a
    /// proxy or a broken connection garbling a `200` page.
    Malformed,
}

/// A fault rule. Build with [`FaultRule::new`] and the narrowing methods:
/// `FaultRule::new(FaultKind::Status(503)).method("PUT").path_contains("/issues/").times(2)`.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub method: Option<String>,
    /// Only writes (POST, PUT, PATCH, DELETE), whatever `method` says.
    pub writes_only: bool,
    /// Matching requests to let through before the rule starts firing.
    pub skip: u32,
    pub path: PathMatch,
    pub trigger: Trigger,
    pub kind: FaultKind,
}

impl FaultRule {
    /// A rule hitting the next matching request (any method, any path until narrowed).
    pub fn new(kind: FaultKind) -> Self {
        FaultRule {
            method: None,
            writes_only: false,
            skip: 0,
            path: PathMatch::Any,
            trigger: Trigger::Count(1),
            kind,
        }
    }

    pub fn status(code: u16) -> Self {
        Self::new(FaultKind::Status(code))
    }

    /// A 429 with `Retry-After: secs` and the `RateLimit-*` headers.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(FaultKind::TooManyRequests {
            retry_after: Some(retry_after_secs),
            rate_limit_headers: true,
        })
    }

    /// Holds the request for ten minutes.
    pub fn timeout() -> Self {
        Self::new(FaultKind::Timeout {
            hold: Duration::from_secs(600),
        })
    }

    pub fn latency(delay: Duration) -> Self {
        Self::new(FaultKind::Latency(delay))
    }

    /// Performs the request, then holds the answer for `delay`.
    pub fn slow_response(delay: Duration) -> Self {
        Self::new(FaultKind::SlowResponse(delay))
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only writes: POST, PUT, PATCH and DELETE.
    pub fn writes(mut self) -> Self {
        self.writes_only = true;
        self
    }

    /// Lets the first `n` matching requests through (to hit the k-th write of a step, skip
    /// k - 1).
    pub fn after(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }

    pub fn path_contains(mut self, text: &str) -> Self {
        self.path = PathMatch::Contains(text.to_string());
        self
    }

    /// Errors on an invalid regex.
    pub fn path_regex(mut self, pattern: &str) -> Result<Self, regex::Error> {
        self.path = PathMatch::Regex(regex::Regex::new(pattern)?);
        Ok(self)
    }

    pub fn times(mut self, n: u32) -> Self {
        self.trigger = Trigger::Count(n);
        self
    }

    pub fn probability(mut self, p: f64, seed: u64) -> Self {
        self.trigger = Trigger::Probability {
            p: p.clamp(0.0, 1.0),
            seed,
        };
        self
    }
}

/// Handle to remove one rule again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultId(pub u64);

#[derive(Debug)]
struct ActiveRule {
    id: FaultId,
    rule: FaultRule,
    rng: StdRng,
    remaining: Option<u32>,
    skip: u32,
}

/// The active rules, consulted for every request in the order they were added.
#[derive(Debug, Default)]
pub struct Faults {
    next_id: u64,
    rules: Vec<ActiveRule>,
}

impl Faults {
    pub fn add(&mut self, rule: FaultRule) -> FaultId {
        self.next_id += 1;
        let id = FaultId(self.next_id);
        let (rng, remaining) = match rule.trigger {
            Trigger::Count(n) => (StdRng::seed_from_u64(0), Some(n)),
            Trigger::Probability { seed, .. } => (StdRng::seed_from_u64(seed), None),
        };
        let skip = rule.skip;
        self.rules.push(ActiveRule {
            id,
            rule,
            rng,
            remaining,
            skip,
        });
        id
    }

    pub fn remove(&mut self, id: FaultId) {
        self.rules.retain(|r| r.id != id);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The fault to apply to this request, if a rule fires (the first firing rule wins).
    pub fn check(&mut self, method: &str, path: &str) -> Option<FaultKind> {
        let mut fired = None;
        for r in &mut self.rules {
            let method_ok = r
                .rule
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            let write = matches!(
                method.to_ascii_uppercase().as_str(),
                "POST" | "PUT" | "PATCH" | "DELETE"
            );
            if !method_ok || (r.rule.writes_only && !write) || !r.rule.path.matches(path) {
                continue;
            }
            if r.skip > 0 {
                r.skip -= 1;
                continue;
            }
            let fires = match (&mut r.remaining, r.rule.trigger) {
                (Some(n), _) if *n > 0 => {
                    *n -= 1;
                    true
                }
                (None, Trigger::Probability { p, .. }) => r.rng.random_bool(p),
                _ => false,
            };
            if fires {
                fired = Some(r.rule.kind);
                break;
            }
        }
        self.rules.retain(|r| r.remaining != Some(0));
        fired
    }
}

/// GitLab's authenticated API limit: `limit` requests per `window` per token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
    /// Reported as `RateLimit-Name`.
    pub name: String,
}

impl RateLimit {
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimit {
            limit,
            window,
            name: "throttle_authenticated_api".to_string(),
        }
    }

    pub fn per_minute(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    /// Names the limit (`RateLimit-Name` for the API limit; the application limits' keys).
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// GitLab.com: 2,000 authenticated API requests a minute per user.
    pub fn gitlab_com_api() -> Self {
        Self::per_minute(2000)
    }

    /// GitLab.com: 200 issue creations a minute per user (`issues_create`).
    pub fn gitlab_com_issue_creations() -> Self {
        Self::per_minute(200).named("issues_create")
    }

    /// GitLab.com: 60 note creations a minute per user (`notes_create`).
    pub fn gitlab_com_note_creations() -> Self {
        Self::per_minute(60).named("notes_create")
    }
}

/// The outcome of counting one request against the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub name: String,
    pub observed: u32,
    pub remaining: u32,
    /// When the window resets (wall-clock time: clients sleep in real time).
    pub reset_at: DateTime<Utc>,
    pub retry_after_secs: u64,
}

impl RateDecision {
    /// The headers every response carries while a limit is set.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-name", self.name.clone()),
            ("ratelimit-observed", self.observed.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", reset_seconds(self.reset_at).to_string()),
        ]
    }

    /// The extra headers of a 429.
    pub fn throttled_headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("retry-after", self.retry_after_secs.to_string()),
            ("ratelimit-resettime", http_date(self.reset_at)),
        ]
    }
}

/// The reset as whole Unix seconds, rounded up: a client that waits until then finds the
/// window really over (rounding down would send it back early, into a 429).
fn reset_seconds(t: DateTime<Utc>) -> i64 {
    let secs = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

/// RFC 2616 date, as `RateLimit-ResetTime` uses.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[derive(Debug)]
struct Window {
    started: Instant,
    started_wall: DateTime<Utc>,
    count: u32,
}

/// Fixed-window counters per key (the token for the API limit, the user for the application
/// limits). A window starts with the first request after the last one ended; rejected
/// requests count too, as in GitLab.
#[derive(Debug, Default)]
pub struct RateLimiter {
    pub config: Option<RateLimit>,
    windows: HashMap<String, Window>,
}

impl RateLimiter {
    pub fn set(&mut self, config: Option<RateLimit>) {
        self.config = config;
        self.windows.clear();
    }

    /// A limiter with this limit (or none).
    pub fn with(config: Option<RateLimit>) -> Self {
        let mut r = RateLimiter::default();
        r.set(config);
        r
    }

    /// Counts a request for `token`; `None` when no limit is set.
    pub fn observe(&mut self, token: &str) -> Option<RateDecision> {
        let cfg = self.config.clone()?;
        let now = Instant::now();
        let window = self.windows.entry(token.to_string()).or_insert(Window {
            started: now,
            started_wall: Utc::now(),
            count: 0,
        });
        if now.duration_since(window.started) >= cfg.window {
            *window = Window {
                started: now,
                started_wall: Utc::now(),
                count: 0,
            };
        }
        window.count = window.count.saturating_add(1);
        let reset_at = window.started_wall
            + chrono::Duration::from_std(cfg.window).unwrap_or(chrono::Duration::seconds(60));
        let left = cfg
            .window
            .saturating_sub(now.duration_since(window.started));
        Some(RateDecision {
            allowed: window.count <= cfg.limit,
            limit: cfg.limit,
            name: cfg.name.clone(),
            observed: window.count,
            remaining: cfg.limit.saturating_sub(window.count),
            reset_at,
            retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_rules_fire_n_times_then_vanish() {
        let mut f = Faults::default();
        f.add(
            FaultRule::status(500)
                .method("put")
                .path_contains("/issues/")
                .times(2),
        );
        assert_eq!(f.check("GET", "/api/v4/projects/1/issues/1"), None);
        assert_eq!(f.check("PUT", "/api/v4/projects/1/labels"), None);
        assert_eq!(
            f.check("PUT", "/api/v4/projects/1/issues/1"),
            Some(FaultKind::Status(500))
        );
        assert_eq!(
            f.check("PUT", "/api/v4/projects/1/issues/2"),
            Some(FaultKind::Status(500))
        );
        assert_eq!(f.check("PUT", "/api/v4/projects/1/issues/3"), None);
        assert_eq!(f.rules.len(), 0);
    }

    #[test]
    fn probability_rules_are_reproducible_by_seed() {
        let run = |seed| {
            let mut f = Faults::default();
            f.add(FaultRule::status(503).probability(0.5, seed));
            (0..64)
                .map(|_| f.check("GET", "/x").is_some())
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        let hits = a.iter().filter(|h| **h).count();
        assert!(hits > 10 && hits < 54, "hits {hits}");
    }

    #[test]
    fn rate_limiter_counts_per_token() {
        let mut r = RateLimiter::default();
        assert_eq!(r.observe("a"), None);
        r.set(Some(RateLimit::per_minute(2)));
        let first = r.observe("a").expect("limit set");
        assert_eq!(
            (first.allowed, first.observed, first.remaining),
            (true, 1, 1)
        );
        assert!(
            r.observe("a")
                .is_some_and(|d| d.allowed && d.remaining == 0)
        );
        let third = r.observe("a").expect("limit set");
        assert_eq!(
            (third.allowed, third.observed, third.remaining),
            (false, 3, 0)
        );
        assert!(third.retry_after_secs >= 1 && third.retry_after_secs <= 60);
        assert!(r.observe("b").is_some_and(|d| d.allowed));
    }
}
