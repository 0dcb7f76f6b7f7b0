//! The JSON result of a run (README.md, "The JSON result"): everything a table or a report
//! needs, and nothing that varies between runs of the same scenario and seed (no paths, no
//! timestamps).

use crate::verdict::Verdict;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// The version of the result shapes ratelab writes, as `schema_version`: the multi-seed result
/// of `ratelab run --seeds N` (N > 1) carries it at its top level. (A single run's JSON, whose
/// bytes existing results and tests pin, does not carry it yet.)
pub const SCHEMA_VERSION: u32 = 1;

/// The result of `ratelab run`: one entry per strategy, in file order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The scenario as run (its `seed` is the seed used).
    pub scenario: Scenario,
    /// The scenario's description.
    pub description: String,
    /// The seed used.
    pub seed: u64,
    /// ratelab's version.
    pub version: String,
    /// `"sim"` for the simulator.
    pub mode: String,
    /// Sustainable requests per second the API's limits imply, when they imply one.
    pub api_capacity_rps: Option<f64>,
    /// Which strategy to pick, and why.
    #[serde(default)]
    pub verdict: Option<Verdict>,
    /// One per strategy.
    pub results: Vec<StrategyResult>,
}

impl RunOutput {
    /// Picks again under `objective` (`None`: the default).
    pub fn judge(&mut self, objective: Option<&crate::objective::Objective>) {
        self.verdict = Some(crate::verdict::verdict(&self.results, objective));
    }

    /// The result as written by `ratelab run --json`: pretty JSON and a final newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every request reached a final state.
    #[default]
    AllFinal,
    /// The horizon came first.
    Horizon,
    /// Nothing was left to happen but work was pending (a strategy that never admits).
    Stalled,
    /// The run would have held more requests at once (in flight or waiting to retry) than the
    /// scenario's `max_requests_held`: it stopped at that instant.
    MemoryLimit,
    /// A live run was interrupted (Ctrl-C): what was pending then is counted as in flight.
    Interrupted,
}

/// The outcome of one strategy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StrategyResult {
    /// The strategy's name.
    pub strategy: String,
    /// Requests over all clients.
    pub requests: u64,
    /// Final: succeeded.
    pub succeeded: u64,
    /// Final: out of attempts, or a failure that is not retried.
    pub dead_lettered: u64,
    /// Final: failed fast by an open breaker.
    pub rejected_by_breaker: u64,
    /// Final: shed by the client's own throttle (`sre_throttle`), never sent.
    #[serde(default)]
    pub rejected_by_throttle: u64,
    /// Not final at the horizon: queued, waiting to retry or awaiting a reply.
    pub in_flight_at_horizon: u64,
    /// Every request is final.
    pub finished: bool,
    /// Why the run stopped.
    pub stop: StopReason,
    /// Requests that reached the API, retries included.
    pub attempts: u64,
    /// Attempts per request.
    pub attempts_per_request: f64,
    /// 429 replies received.
    pub http_429: u64,
    /// 5xx replies received.
    pub http_5xx: u64,
    /// 413 replies received (heavier than a limit's burst).
    pub http_413: u64,
    /// 408 replies received.
    #[serde(default)]
    pub http_408: u64,
    /// 409 replies received.
    #[serde(default)]
    pub http_409: u64,
    /// Client timeouts.
    pub timeouts: u64,
    /// Attempts that got no HTTP reply: connection refused or reset.
    #[serde(default)]
    pub transport_errors: u64,
    /// Time of the last final state, or the horizon, s.
    pub makespan_s: f64,
    /// The makespan of an oracle client on the same workload and draws (the API's limits as
    /// client buckets, no retries), s; `None` when the API has no limits or the oracle does not
    /// finish either.
    #[serde(default)]
    pub ideal_makespan_s: Option<f64>,
    /// Successes per second of makespan.
    pub goodput_rps: f64,
    /// End-to-end latency of successes (ready → success), s.
    pub latency_s: LatencySummary,
    /// Events the loop processed.
    pub events: u64,
    /// Requests that were given up on.
    pub dead_letter: DeadLetters,
    /// How many attempts requests needed.
    pub attempts_histogram: AttemptsHistogram,
    /// End-to-end latency percentile curve of successes.
    pub latency_curve: Vec<QuantilePoint>,
    /// Per-second series.
    pub series: Series,
    /// Per client, when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<ClientResult>,
}

impl StrategyResult {
    /// 429s per attempt (0 without attempts).
    pub fn rate_429(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            self.http_429 as f64 / self.attempts as f64
        }
    }

    /// Requests that did not succeed: dead-lettered, rejected, or still pending at the horizon.
    pub fn lost(&self) -> u64 {
        self.requests - self.succeeded
    }

    /// `ideal_makespan_s / makespan_s`, when nothing was lost and the ideal is known.
    pub fn efficiency(&self) -> Option<f64> {
        let ideal = self.ideal_makespan_s?;
        (self.lost() == 0 && self.makespan_s > 0.0).then(|| ideal / self.makespan_s)
    }
}

/// Percentiles of end-to-end latency, s (all 0 when nothing succeeded).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Successes measured.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// A point of the latency percentile curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantilePoint {
    /// Quantile, 0..=1.
    pub q: f64,
    /// Latency at that quantile, s.
    pub s: f64,
}

/// Dead-lettered requests: counts by last status and the first few ids.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeadLetters {
    /// Count by the status of the last attempt (`"429"`, `"500"`, `"413"`, `"timeout"`).
    pub by_last_status: BTreeMap<String, u64>,
    /// Count by why the retry policy gave up (`"attempts"`, `"not_retryable"`,
    /// `"retry_after_too_long"`).
    pub by_reason: BTreeMap<String, u64>,
    /// The first dead-lettered requests, in the order they were given up.
    pub first: Vec<DeadLetter>,
}

/// One dead-lettered request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its client.
    pub client: u32,
    /// Its index in the client's workload.
    pub id: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Status of the last attempt.
    pub last_status: String,
    /// Why it was given up (as in [`DeadLetters::by_reason`]).
    pub reason: String,
    /// When it was given up, s.
    pub at_s: f64,
}

/// Attempts per final request: element `i` counts requests that took `i + 1` attempts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttemptsHistogram {
    /// Requests that succeeded.
    pub succeeded: Vec<u64>,
    /// Requests that were dead-lettered.
    pub dead_lettered: Vec<u64>,
}

/// Per-second series; element `i` covers `[i·step_s, (i + 1)·step_s)` seconds. `step_s` is 1
/// unless the horizon is so long (or the clients so many) that one bucket per second would not
/// fit in memory; then it is the smallest power of two that does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Width of each element in seconds (1 for all but very long runs).
    #[serde(default = "one_second")]
    pub step_s: u64,
    /// Attempts sent.
    pub sends: Vec<u64>,
    /// Successes received.
    pub successes: Vec<u64>,
    /// 429s received.
    pub http_429: Vec<u64>,
    /// Mean attempts in flight (time-weighted).
    pub in_flight: Vec<f64>,
    /// Tokens of the attempts sent (retries included); empty when every attempt weighed one
    /// token (a workload without token sizes), where it would repeat `sends`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<u64>,
    /// Other tenants' requests that reached the API (`[api] background`); empty without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub background: Vec<u64>,
    /// Of those, the ones answered 429.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub background_429: Vec<u64>,
    /// Most requests waiting for a server (`[api] servers`); empty without servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<u64>,
}

impl Series {
    /// Adds what the API itself did (other tenants, its queue), cut or padded to the length of
    /// the run's series (what the API generated past the end is dropped).
    pub fn set_api(&mut self, api: crate::api::ApiSeries) {
        let n = self.sends.len();
        let fit = |mut v: Vec<u64>, keep: bool| {
            if keep {
                v.resize(n, 0);
                v
            } else {
                Vec::new()
            }
        };
        let background = !api.background.is_empty();
        self.background = fit(api.background, background);
        self.background_429 = fit(api.background_429, background);
        self.queue = fit(api.queue.clone(), !api.queue.is_empty());
    }
}

fn one_second() -> u64 {
    1
}

impl Default for Series {
    fn default() -> Self {
        Series {
            step_s: 1,
            sends: Vec::new(),
            successes: Vec::new(),
            http_429: Vec::new(),
            in_flight: Vec::new(),
            tokens: Vec::new(),
            background: Vec::new(),
            background_429: Vec::new(),
            queue: Vec::new(),
        }
    }
}

/// The outcome of one client of a multi-client run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientResult {
    /// The client, from 0.
    pub client: u32,
    /// Its requests.
    pub requests: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Dead-lettered.
    pub dead_lettered: u64,
    /// Rejected by the breaker.
    pub rejected_by_breaker: u64,
    /// Shed by the client's own throttle.
    #[serde(default)]
    pub rejected_by_throttle: u64,
    /// Not final at the horizon.
    pub in_flight_at_horizon: u64,
    /// Attempts sent.
    pub attempts: u64,
    /// 429s received.
    pub http_429: u64,
    /// Time of its last final state, s.
    pub makespan_s: f64,
    /// Successes per second of its own makespan (how fast it got its own work done).
    pub goodput_rps: f64,
    /// End-to-end latency of its successes.
    pub latency_s: LatencySummary,
    /// Its per-second series.
    pub series: Series,
}
