//! The fuzz driver: a seeded, reproducible loop of generate → check, on stable Rust.
//!
//! Case `i` of a run draws everything from its own generator, seeded from the run's seed and
//! `i`, so any failure is replayed alone with `LABELFLOW_FUZZ_SEED` and `LABELFLOW_FUZZ_CASE`.
//! A check fails by returning an error or by panicking (caught, and reported with the input).
//!
//! Depth: `LABELFLOW_FUZZ_DEPTH` is the number of webhook cases; every other target runs a
//! tenth of it. Unset, the test command's smoke depth runs.

use rand::SeedableRng;
use rand::rngs::StdRng;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Webhook cases at smoke depth (the test command).
const SMOKE_DEPTH: u64 = 500;
/// The seed when none is given: smoke runs are the same every time.
const DEFAULT_SEED: u64 = 0x1abe_1f10;
/// A run stops after this many failures (each is printed in full).
const MAX_FAILURES: usize = 5;

fn env_u64(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    match raw.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name} must be a whole number, not {raw:?}"),
    }
}

/// Cases for a target: the depth divided by `divisor` (at least one).
pub fn cases(divisor: u64) -> u64 {
    (env_u64("LABELFLOW_FUZZ_DEPTH").unwrap_or(SMOKE_DEPTH) / divisor).max(1)
}

/// The generator of case `case` of a run seeded `seed`.
pub fn case_rng(seed: u64, case: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Runs `cases` cases of `target` (or only `LABELFLOW_FUZZ_CASE` when set): `generate` makes
/// an input from the case's generator, `check` judges it. Prints the count and the time;
/// panics with every failure's input and how to replay it.
pub fn run<I: Debug>(
    target: &str,
    cases: u64,
    mut generate: impl FnMut(&mut StdRng) -> I,
    mut check: impl FnMut(&I) -> Result<(), String>,
) {
    let seed = env_u64("LABELFLOW_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let only = env_u64("LABELFLOW_FUZZ_CASE");
    let range = match only {
        Some(case) => case..case + 1,
        None => 0..cases,
    };
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut ran = 0u64;
    for case in range {
        let input = generate(&mut case_rng(seed, case));
        ran += 1;
        let verdict = catch_unwind(AssertUnwindSafe(|| check(&input)))
            .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_text(&panic))));
        if let Err(why) = verdict {
            let mut shown = format!("{input:?}");
            if shown.len() > 4_000 {
                let cut = (0..=4_000)
                    .rev()
                    .find(|&i| shown.is_char_boundary(i))
                    .unwrap_or(0);
                shown.truncate(cut);
                shown.push_str("… (replay the case for all of it)");
            }
            failures.push(format!(
                "case {case} (replay: LABELFLOW_FUZZ_SEED={seed} LABELFLOW_FUZZ_CASE={case}): {why}\ninput: {shown}"
            ));
            if failures.len() >= MAX_FAILURES {
                break;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz {target}: {ran} cases in {secs:.1} s ({:.0} cases/s), seed {seed}, {} failures",
        ran as f64 / secs.max(1e-9),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "fuzz {target}: {} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A count a target keeps of what its cases reached (plans with text, configurations that
/// loaded), printed after the run so a depth that only scratches the surface shows.
pub struct Tally(AtomicU64);

impl Tally {
    pub const fn new() -> Tally {
        Tally(AtomicU64::new(0))
    }

    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".to_string())
}
