//! The `[workload]` table: how many requests, how many clients, when they arrive
//! ([`arrival`]), how heavy they are ([`tokens`]).

pub mod arrival;
pub mod tokens;

pub use arrival::ArrivalSpec;
pub use tokens::TokensSpec;

use std::path::Path;
use std::sync::Arc;

use arrival::Trace;
use ratelab_strategies::config::Checker;
use ratelab_strategies::draws::Draws;
use ratelab_strategies::time::Nanos;
use serde::{Deserialize, Serialize};

/// The `[workload]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Requests per client.
    pub requests: u64,
    /// Copies of the strategy and workload sharing one API (default 1).
    #[serde(default = "one")]
    pub clients: u32,
    /// When requests become ready (default: all at t = 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<ArrivalSpec>,
    /// Size of each request in tokens (default: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokensSpec>,
}

fn one() -> u32 {
    1
}

/// Most requests per client.
pub const MAX_REQUESTS: u64 = 1_000_000_000;
/// Most clients.
pub const MAX_CLIENTS: u32 = 10_000;

impl WorkloadSpec {
    /// Checks every field (`c` prefixed `workload`).
    pub fn check(&self, c: &mut Checker) {
        c.integer("requests", self.requests, 1, MAX_REQUESTS);
        c.integer(
            "clients",
            u64::from(self.clients),
            1,
            u64::from(MAX_CLIENTS),
        );
        if let Some(a) = &self.arrival {
            a.check(&mut c.nested("arrival"));
        }
        if let Some(t) = &self.tokens {
            t.check(&mut c.nested("tokens"));
        }
        if let Some(ArrivalSpec::Ramp(r)) = &self.arrival
            && let Some(most) = r.most_requests()
            && self.requests > most
        {
            c.fail(
                "requests",
                format!(
                    "{} requests per client, but a ramp down to to_per_s = 0 only ever sends \
                     {most}",
                    self.requests
                ),
            );
        }
    }

    /// Checks what depends on the scenario's horizon and on several fields at once: a trace's
    /// rows against `requests`, `tokens` and `horizon` (`c` prefixed `workload`).
    pub fn check_within(&self, horizon: Nanos, c: &mut Checker) {
        if let Some(ArrivalSpec::Trace(t)) = &self.arrival {
            t.check_against(self.requests, self.tokens.is_some(), horizon, c);
        }
    }

    /// Reads the files the workload names (a trace), relative to `dir`: the scenario file's
    /// folder. What cannot be read is reported by [`WorkloadSpec::check`].
    pub fn read_files(&mut self, dir: &Path) {
        if let Some(ArrivalSpec::Trace(t)) = &mut self.arrival {
            t.read_from(dir);
        }
    }

    /// The same workload `k` times faster: arrival rates × k.
    pub fn scale(&mut self, k: f64) {
        if let Some(a) = &mut self.arrival {
            a.scale(k);
        }
        if let Some(t) = &mut self.tokens {
            t.scale(k);
        }
    }

    /// Requests over all clients.
    pub fn total_requests(&self) -> u64 {
        self.requests * u64::from(self.clients)
    }

    /// Mean tokens per request (of the requests used, with a trace's `tokens` column; 1 for a
    /// trace not read, as in a scenario read back from a JSON result).
    pub fn mean_tokens(&self) -> f64 {
        match (&self.tokens, self.trace()) {
            (Some(t), _) => t.mean(),
            (None, Some(trace)) => trace.mean_tokens(self.requests),
            (None, None) => 1.0,
        }
    }

    /// The tokens of request `id` of `client` (the same under every strategy).
    #[inline]
    pub fn tokens_of(&self, draws: &Draws, client: u32, id: u64) -> u64 {
        match &self.tokens {
            Some(t) => t.tokens_of(draws, client, id),
            None => self.trace().and_then(|t| t.tokens_of(id)).unwrap_or(1),
        }
    }

    /// How requests are weighed, for a run to keep: [`WorkloadSpec::tokens_of`] without looking
    /// through the workload each time.
    pub fn weights(&self) -> Weights {
        match (&self.tokens, &self.arrival) {
            (Some(t), _) => Weights::Kind(t.clone()),
            (None, Some(ArrivalSpec::Trace(t))) => match t.shared() {
                Some(trace) if trace.has_tokens() => Weights::Trace(trace),
                _ => Weights::One,
            },
            _ => Weights::One,
        }
    }

    /// The trace the requests replay, once read.
    pub fn trace(&self) -> Option<&Trace> {
        match &self.arrival {
            Some(ArrivalSpec::Trace(t)) => t.trace(),
            _ => None,
        }
    }

    /// The gap before request `id` of `client` arrives (after the previous one), or `None` when
    /// everything is ready at t = 0.
    #[inline]
    pub fn arrival_gap(&self, draws: &Draws, client: u32, id: u64) -> Option<Nanos> {
        self.arrival.as_ref().and_then(|a| a.gap(draws, client, id))
    }
}

/// How requests are weighed: 1 token each, a `[workload] tokens` kind, or a trace's `tokens`
/// column (see [`WorkloadSpec::weights`]).
#[derive(Clone, Debug)]
pub enum Weights {
    /// Every request weighs 1.
    One,
    /// A `[workload] tokens` kind.
    Kind(TokensSpec),
    /// A trace's `tokens` column.
    Trace(Arc<Trace>),
}

impl Weights {
    /// The tokens of request `id` of `client` (the same as [`WorkloadSpec::tokens_of`]).
    #[inline]
    pub fn tokens_of(&self, draws: &Draws, client: u32, id: u64) -> u64 {
        match self {
            Weights::One => 1,
            Weights::Kind(t) => t.tokens_of(draws, client, id),
            Weights::Trace(t) => t.tokens_of(id).unwrap_or(1),
        }
    }
}
