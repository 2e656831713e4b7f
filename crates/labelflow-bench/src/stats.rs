//! Latency summaries. Percentiles are nearest-rank over every sample (no histogram buckets), so
//! a reported p99 is a latency some request really had.

use serde::Serialize;
use std::time::Duration;

/// p50 / p99 / max of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Summary {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Summary {
    pub fn of(samples: &[Duration]) -> Summary {
        if samples.is_empty() {
            return Summary::default();
        }
        let mut micros: Vec<u64> = samples.iter().map(|d| d.as_micros() as u64).collect();
        micros.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let total: u64 = micros.iter().sum();
        Summary {
            samples: micros.len(),
            p50_ms: ms(nearest_rank(&micros, 50.0)),
            p99_ms: ms(nearest_rank(&micros, 99.0)),
            max_ms: ms(micros[micros.len() - 1]),
            mean_ms: ms(total / micros.len() as u64),
        }
    }
}

/// The smallest sample with at least `pct` percent of the samples at or below it.
fn nearest_rank(sorted: &[u64], pct: f64) -> u64 {
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Summary::of(&samples);
        assert_eq!(s.samples, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert_eq!(s.mean_ms, 50.5);
    }

    #[test]
    fn empty_and_single_sample() {
        assert_eq!(Summary::of(&[]), Summary::default());
        let s = Summary::of(&[Duration::from_micros(1500)]);
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (1.5, 1.5, 1.5));
    }
}
