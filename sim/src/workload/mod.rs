//! The `[workload]` table: how many requests, how many clients, when they arrive
//! ([`arrival`]), how heavy they are ([`tokens`]).

pub mod arrival;
pub mod tokens;

pub use arrival::ArrivalSpec;
pub use tokens::TokensSpec;

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

    /// Mean tokens per request.
    pub fn mean_tokens(&self) -> f64 {
        self.tokens.as_ref().map_or(1.0, TokensSpec::mean)
    }

    /// The tokens of request `id` of `client` (the same under every strategy).
    #[inline]
    pub fn tokens_of(&self, draws: &Draws, client: u32, id: u64) -> u64 {
        self.tokens
            .as_ref()
            .map_or(1, |t| t.tokens_of(draws, client, id))
    }

    /// The gap before request `id` of `client` arrives (after the previous one), or `None` when
    /// everything is ready at t = 0.
    #[inline]
    pub fn arrival_gap(&self, draws: &Draws, client: u32, id: u64) -> Option<Nanos> {
        self.arrival.as_ref().and_then(|a| a.gap(draws, client, id))
    }
}
