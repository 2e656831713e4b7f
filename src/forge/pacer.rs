//! Paces GitLab calls so a busy process uses GitLab's rate limits to the full without a 429.
//!
//! One [`Pacer`] per process, shared by every worker through the [`super::retry::RetryingClient`]
//! clones:
//! - API calls by the `RateLimit-*` headers: the first half of a window's budget may go at
//!   once (a short burst is not slowed down); below that, what remains is spread evenly over
//!   the time until `RateLimit-Reset`, so a long run never meets the wall.
//! - Issue and note creations by the application limits we are configured with, because
//!   GitLab does not announce those in headers: at most `limit` creations in any stretch of
//!   `window` (a sliding window), which no fixed window on GitLab's side can exceed, while a
//!   burst up to the limit still goes at once.
//!
//! Written by hand: `governor` (GCRA) allows a burst *and* a refill inside one window, which
//! overruns GitLab's fixed windows, and its waiting runs on its own clock, which tokio's
//! paused test clock cannot drive. The state here is a queue of send times and a few numbers.

use http::HeaderMap;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Application limits on creations: at most `per_window` in any stretch of `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreationLimit {
    pub per_window: u32,
    pub window: Duration,
}

impl CreationLimit {
    /// `per_minute` scaled to `window` (GitLab's window is a minute), at least one; `None`
    /// for 0 (no limit).
    pub fn per_minute(per_minute: u32, window: Duration) -> Option<CreationLimit> {
        if per_minute == 0 {
            return None;
        }
        let scaled = (f64::from(per_minute) * window.as_secs_f64() / 60.0).floor() as u32;
        Some(CreationLimit {
            per_window: scaled.max(1),
            window,
        })
    }
}

/// What the pacer is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacing {
    /// Issue creations (GitLab.com: 200 a minute per user); `None`: not paced.
    pub issue_creations: Option<CreationLimit>,
    /// Note creations (GitLab.com: 60 a minute per user); `None`: not paced.
    pub note_creations: Option<CreationLimit>,
    /// Pace API calls by the `RateLimit-*` headers.
    pub by_headers: bool,
    /// Added to each creation window: a request that was slow on the way must not land in
    /// the same GitLab window as one sent a window later that went fast.
    pub margin: Duration,
}

impl Default for Pacing {
    /// GitLab.com's limits.
    fn default() -> Self {
        Pacing::per_minute(200, 60, Duration::from_secs(60))
    }
}

impl Pacing {
    /// Creation limits per minute (0: none), enforced in windows of `window`.
    pub fn per_minute(issues: u32, notes: u32, window: Duration) -> Pacing {
        Pacing {
            issue_creations: CreationLimit::per_minute(issues, window),
            note_creations: CreationLimit::per_minute(notes, window),
            by_headers: true,
            margin: (window / 50).clamp(Duration::from_millis(20), Duration::from_secs(1)),
        }
    }

    /// No pacing at all (the simulator runs without limits).
    pub fn off() -> Pacing {
        Pacing {
            issue_creations: None,
            note_creations: None,
            by_headers: false,
            margin: Duration::ZERO,
        }
    }
}

/// Which application limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Creation {
    Issue,
    Note,
}

impl Creation {
    /// `POST projects/:id/issues` and `POST projects/:id/issues/:id/notes` (metrics labels).
    pub fn of(method: &http::Method, endpoint: &str) -> Option<Creation> {
        if method != http::Method::POST {
            return None;
        }
        match endpoint {
            "projects/:id/issues" => Some(Creation::Issue),
            "projects/:id/issues/:id/notes" => Some(Creation::Note),
            _ => None,
        }
    }
}

/// Sliding-window slots for one application limit.
#[derive(Debug)]
struct Slots {
    limit: CreationLimit,
    margin: Duration,
    /// Send times of the last `per_window` creations.
    sent: VecDeque<Instant>,
    /// Nothing before this (GitLab answered 429 and said how long to wait).
    blocked_until: Option<Instant>,
}

impl Slots {
    fn new(limit: CreationLimit, margin: Duration) -> Self {
        Slots {
            limit,
            margin,
            sent: VecDeque::with_capacity(limit.per_window as usize),
            blocked_until: None,
        }
    }

    /// Whether a slot is free now, else when to look again. Nothing is reserved ahead: a
    /// caller cut off while waiting (the worker's lease budget) wastes no slot.
    fn check(&self, now: Instant) -> Result<(), Instant> {
        if let Some(until) = self.blocked_until.filter(|b| *b > now) {
            return Err(until);
        }
        if self.sent.len() >= self.limit.per_window as usize
            && let Some(oldest) = self.sent.front()
        {
            let free_at = *oldest + self.limit.window + self.margin;
            if free_at > now {
                return Err(free_at);
            }
        }
        Ok(())
    }

    /// Takes the slot [`Slots::check`] found free.
    fn take(&mut self, now: Instant) {
        if self.sent.len() >= self.limit.per_window as usize {
            self.sent.pop_front();
        }
        self.sent.push_back(now);
    }
}

/// The last `RateLimit-*` headers seen.
#[derive(Debug, Default)]
struct Budget {
    limit: u64,
    remaining: u64,
    reset_at: Option<Instant>,
    /// Requests sent whose answer has not come back (not counted in `remaining` yet).
    in_flight: u64,
    next_slot: Option<Instant>,
}

impl Budget {
    fn observe(&mut self, h: &HeaderMap, now: Instant, unix_now_ms: i64) {
        let (Some(limit), Some(remaining), Some(reset)) = (
            header_u64(h, "ratelimit-limit"),
            header_u64(h, "ratelimit-remaining"),
            header_u64(h, "ratelimit-reset"),
        ) else {
            return;
        };
        let until = (reset as i64 * 1000 - unix_now_ms).max(0) as u64;
        let reset_at = now + Duration::from_millis(until);
        // Answers of one window agree on the reset to the second; any other reset is news
        // (a new window, or a 429 saying when this one really ends).
        let new_window = self.reset_at.is_none_or(|old| {
            let gap = if reset_at > old {
                reset_at - old
            } else {
                old - reset_at
            };
            gap > Duration::from_millis(1500)
        });
        if new_window {
            self.limit = limit;
            self.remaining = remaining;
            self.reset_at = Some(reset_at);
            self.next_slot = None;
        } else {
            // Answers arrive out of order: the lowest count is the latest.
            self.remaining = self.remaining.min(remaining);
        }
    }

    /// Lets an API call go now (counted as in flight), or says when to look again.
    fn try_take(&mut self, now: Instant) -> Result<(), Instant> {
        let Some(reset_at) = self.reset_at.filter(|r| *r > now) else {
            self.in_flight += 1;
            return Ok(());
        };
        let left = self.remaining.saturating_sub(self.in_flight);
        if left > self.limit / 2 {
            self.in_flight += 1;
            return Ok(());
        }
        if left == 0 {
            return Err(reset_at);
        }
        if let Some(next) = self.next_slot.filter(|n| *n > now) {
            return Err(next);
        }
        self.next_slot = Some(now + (reset_at - now) / (left as u32).max(1));
        self.in_flight += 1;
        Ok(())
    }
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[derive(Debug)]
struct State {
    api: Budget,
    issues: Option<Slots>,
    notes: Option<Slots>,
}

impl State {
    fn slots(&mut self, creation: Option<Creation>) -> Option<&mut Slots> {
        match creation {
            Some(Creation::Issue) => self.issues.as_mut(),
            Some(Creation::Note) => self.notes.as_mut(),
            None => None,
        }
    }
}

/// The process-wide pacer; cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Pacer {
    pacing: Pacing,
    state: Arc<Mutex<State>>,
}

/// A request under way: its API slot is released when the answer is seen or it is dropped.
pub struct Permit {
    state: Arc<Mutex<State>>,
    done: bool,
}

impl Permit {
    fn release(&mut self) {
        if !self.done {
            self.done = true;
            let mut s = lock(&self.state);
            s.api.in_flight = s.api.in_flight.saturating_sub(1);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.release();
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pacer {
    pub fn new(pacing: Pacing) -> Pacer {
        let state = State {
            api: Budget::default(),
            issues: pacing.issue_creations.map(|l| Slots::new(l, pacing.margin)),
            notes: pacing.note_creations.map(|l| Slots::new(l, pacing.margin)),
        };
        Pacer {
            pacing,
            state: Arc::new(Mutex::new(state)),
        }
    }

    pub fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    /// Waits for this request's turn; returns how long it waited and the permit to hand
    /// back with the answer.
    pub async fn acquire(&self, creation: Option<Creation>) -> (Duration, Permit) {
        let start = Instant::now();
        let mut slept = false;
        loop {
            let now = Instant::now();
            let next = {
                let mut s = lock(&self.state);
                let slot = s.slots(creation).map_or(Ok(()), |sl| sl.check(now));
                // The creation slot is taken only together with the API budget.
                let next = slot.and_then(|()| {
                    if self.pacing.by_headers {
                        s.api.try_take(now)
                    } else {
                        s.api.in_flight += 1;
                        Ok(())
                    }
                });
                if next.is_ok()
                    && let Some(sl) = s.slots(creation)
                {
                    sl.take(now);
                }
                next
            };
            match next {
                Ok(()) => {
                    let permit = Permit {
                        state: self.state.clone(),
                        done: false,
                    };
                    let waited = if slept {
                        start.elapsed()
                    } else {
                        Duration::ZERO
                    };
                    return (waited, permit);
                }
                Err(at) => {
                    slept = true;
                    tokio::time::sleep_until(at.max(now + Duration::from_millis(1))).await;
                }
            }
        }
    }

    /// Reads the answer's headers: the API budget, and for a 429 without them (an
    /// application limit) blocks that kind of creation for `retry_after`.
    pub fn observe(
        &self,
        mut permit: Permit,
        creation: Option<Creation>,
        status: u16,
        headers: &HeaderMap,
        retry_after: Duration,
    ) {
        permit.release();
        let now = Instant::now();
        let mut s = lock(&self.state);
        if self.pacing.by_headers {
            s.api
                .observe(headers, now, chrono::Utc::now().timestamp_millis());
        }
        let app_limited = status == 429 && header_u64(headers, "ratelimit-remaining").is_none();
        if app_limited && let Some(slots) = s.slots(creation) {
            let until = now + retry_after;
            slots.blocked_until = Some(slots.blocked_until.map_or(until, |b| b.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(limit: u64, remaining: u64, reset_in_s: i64) -> (HeaderMap, i64) {
        let now_ms = 1_700_000_000_000;
        let mut h = HeaderMap::new();
        h.insert("ratelimit-limit", limit.to_string().parse().unwrap());
        h.insert(
            "ratelimit-remaining",
            remaining.to_string().parse().unwrap(),
        );
        h.insert(
            "ratelimit-reset",
            (now_ms / 1000 + reset_in_s).to_string().parse().unwrap(),
        );
        (h, now_ms)
    }

    #[tokio::test(start_paused = true)]
    async fn creations_burst_to_the_limit_then_wait_a_window() {
        let pacer = Pacer::new(Pacing {
            note_creations: Some(CreationLimit {
                per_window: 3,
                window: Duration::from_secs(10),
            }),
            margin: Duration::from_millis(100),
            ..Pacing::off()
        });
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..7 {
            let (_, permit) = pacer.acquire(Some(Creation::Note)).await;
            sent.push(start.elapsed());
            drop(permit);
        }
        let ms: Vec<u128> = sent.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![0, 0, 0, 10_100, 10_100, 10_100, 20_200]);
        // Other calls are not held by the note limit.
        let (waited, _) = pacer.acquire(None).await;
        assert_eq!(waited, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn no_stretch_of_a_window_holds_more_than_the_limit() {
        let limit = CreationLimit {
            per_window: 5,
            window: Duration::from_secs(3),
        };
        let pacer = Pacer::new(Pacing {
            issue_creations: Some(limit),
            margin: Duration::from_millis(60),
            ..Pacing::off()
        });
        let start = Instant::now();
        let mut tasks = Vec::new();
        for k in 0..40u64 {
            let p = pacer.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(k * 37)).await;
                let _ = p.acquire(Some(Creation::Issue)).await;
                start.elapsed()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        for (i, t) in times.iter().enumerate().skip(5) {
            assert!(*t >= times[i - 5] + limit.window, "{times:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_application_429_blocks_that_kind_of_creation() {
        let pacer = Pacer::new(Pacing::default());
        let (_, permit) = pacer.acquire(Some(Creation::Note)).await;
        pacer.observe(
            permit,
            Some(Creation::Note),
            429,
            &HeaderMap::new(),
            Duration::from_secs(7),
        );
        let (waited, _) = pacer.acquire(Some(Creation::Issue)).await;
        assert_eq!(waited, Duration::ZERO);
        let (waited, _) = pacer.acquire(Some(Creation::Note)).await;
        assert_eq!(waited, Duration::from_secs(7));
    }

    #[test]
    fn budget_bursts_half_then_spreads_the_rest_to_the_reset() {
        let now = Instant::now();
        let mut b = Budget::default();
        let (h, unix) = headers(100, 80, 10);
        b.observe(&h, now, unix);
        // 80 left, more than half the limit: no wait.
        assert_eq!(b.try_take(now), Ok(()));
        b.in_flight = 0;
        let (h, unix) = headers(100, 40, 10);
        b.observe(&h, now, unix);
        // 40 left for 10 s: one every 250 ms.
        assert_eq!(b.try_take(now), Ok(()));
        assert_eq!(b.try_take(now), Err(now + Duration::from_millis(250)));
        // Nothing left: wait for the reset.
        b.in_flight = 0;
        let (h, unix) = headers(100, 0, 10);
        b.observe(&h, now, unix);
        assert_eq!(b.try_take(now), Err(now + Duration::from_secs(10)));
        // A 429 whose reset is sooner says when the window really ends.
        let (h, unix) = headers(100, 0, 2);
        b.observe(&h, now, unix);
        assert_eq!(b.try_take(now), Err(now + Duration::from_secs(2)));
        // A new window (later reset) starts over.
        let (h, unix) = headers(100, 99, 20);
        b.observe(&h, now, unix);
        assert_eq!(b.try_take(now), Ok(()));
    }

    #[test]
    fn out_of_order_answers_keep_the_lowest_count() {
        let now = Instant::now();
        let mut b = Budget::default();
        let (h, unix) = headers(100, 30, 10);
        b.observe(&h, now, unix);
        let (h, unix) = headers(100, 35, 10);
        b.observe(&h, now, unix);
        assert_eq!(b.remaining, 30);
    }

    #[test]
    fn per_minute_limits_scale_to_the_window() {
        let l = CreationLimit::per_minute(1000, Duration::from_secs(3)).unwrap();
        assert_eq!(l.per_window, 50);
        assert_eq!(CreationLimit::per_minute(0, Duration::from_secs(60)), None);
        assert_eq!(
            CreationLimit::per_minute(1, Duration::from_secs(3))
                .unwrap()
                .per_window,
            1
        );
        assert_eq!(
            Creation::of(&http::Method::POST, "projects/:id/issues/:id/notes"),
            Some(Creation::Note)
        );
        assert_eq!(
            Creation::of(&http::Method::GET, "projects/:id/issues"),
            None
        );
    }
}
