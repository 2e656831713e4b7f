//! What a bench run measured, as one serialisable record (written as JSON and rendered as the
//! markdown for `BENCHMARKS.md`).

use crate::burst::BurstResult;
use crate::e2e::E2eResult;
use crate::load::LoadResult;
use crate::processing::ProcessingResult;
use crate::procs::Memory;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub rates: Vec<f64>,
    pub rate_seconds: f64,
    pub saturation_seconds: f64,
    pub connections: usize,
    pub duplicate_percent: u32,
    pub body_bytes: usize,
    pub e2e_events: usize,
    pub e2e_rate: f64,
    pub sim_latencies_ms: Vec<u64>,
    pub labelflow_workers: usize,
    pub processing_events: usize,
    pub processing_seconds: f64,
}

/// Everything measured for one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceResults {
    pub name: String,
    /// Spawn → first healthy answer.
    pub startup_ms: f64,
    /// Spawn → the service has checked its GitLab token (labelflow's `GET /user`).
    pub gitlab_connected_ms: Option<f64>,
    /// `--idle-seconds` after start-up, nothing sent yet.
    pub idle: Memory,
    /// After the end-to-end runs.
    pub after_e2e: Memory,
    /// After the ingest runs (for labelflow: the ingest-only instance).
    pub after_ingest: Memory,
    pub fixed_rates: Vec<LoadResult>,
    pub saturation: Option<LoadResult>,
    pub e2e: Vec<E2eResult>,
}

impl ServiceResults {
    pub fn new(name: &str) -> ServiceResults {
        ServiceResults {
            name: name.to_string(),
            startup_ms: 0.0,
            gitlab_connected_ms: None,
            idle: Memory::default(),
            after_e2e: Memory::default(),
            after_ingest: Memory::default(),
            fixed_rates: Vec::new(),
            saturation: None,
            e2e: Vec::new(),
        }
    }

    pub fn rate(&self, offered: f64) -> Option<&LoadResult> {
        self.fixed_rates
            .iter()
            .find(|r| (r.offered_per_s - offered).abs() < 0.5)
    }

    pub fn e2e_at(&self, latency_ms: u64) -> Option<&E2eResult> {
        self.e2e.iter().find(|e| e.sim_latency_ms == latency_ms)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub settings: Settings,
    pub labelflow: ServiceResults,
    pub peer: Option<ServiceResults>,
    /// The minimal durable receiver (`benches/ceiling`): ingest only.
    pub ceiling: Option<ServiceResults>,
    /// labelflow's processing runs (workers × simulator latency).
    pub processing: Vec<ProcessingResult>,
    /// The rate-limit phase (labelflow only).
    pub rate_limits: Option<BurstResult>,
}
