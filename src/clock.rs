//! Time source. Production uses the system clock; tests and sweeps can shift it so that
//! "five days later" needs no sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A clock that reads system time plus an adjustable offset (milliseconds).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock running `offset` ahead of (or, negative, behind) system time.
    pub fn with_offset(offset: Duration) -> Self {
        let c = Self::default();
        c.advance(offset);
        c
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_all_clones() {
        let c = Clock::system();
        let c2 = c.clone();
        let before = c2.now();
        c.advance(Duration::days(5));
        assert!(c2.now() - before >= Duration::days(5));
    }
}
