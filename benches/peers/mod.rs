//! Peers of the simulator for `benches/simulator.rs`: the same `bulk` model written two other
//! ways, to time the simulator against and to check that all three agree on the outcome.

pub mod hand_loop;
pub mod tokio_model;

/// What a run of the bulk model produced, in the terms every peer can report.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// Requests that reached the API, retries included.
    pub attempts: u64,
    /// 429 replies.
    pub http_429: u64,
    /// Requests that succeeded.
    pub succeeded: u64,
    /// Requests given up on.
    pub dead_lettered: u64,
    /// Time of the last final state, s.
    pub makespan_s: f64,
    /// Median end-to-end latency of successes, s.
    pub p50_s: f64,
    /// 99th percentile end-to-end latency of successes, s.
    pub p99_s: f64,
    /// Events processed (each peer counts its own kind).
    pub events: u64,
}
