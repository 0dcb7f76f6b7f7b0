//! The `[workload]` table: how many requests, how many clients, when they arrive, how heavy.

use ratelab_strategies::draws::{Draws, Purpose, uniform_upto};
use ratelab_strategies::spec::{Checker, MAX_RATE};
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use crate::sampling;

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

ratelab_strategies::kind_enum! {
    /// `arrival = { kind = … }`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub enum ArrivalSpec {
        /// Everything ready at t = 0 (the default).
        AtOnce,
        /// A Poisson process per client.
        Poisson {
            /// Mean arrivals per second.
            rate_per_s: f64,
        },
    }
}

ratelab_strategies::kind_enum! {
    /// `tokens = { kind = … }`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub enum TokensSpec {
        /// Every request weighs `n` tokens.
        Fixed {
            /// Tokens per request.
            n: u64,
        },
        /// Uniform in `min..=max` tokens.
        Uniform {
            /// Fewest tokens.
            min: u64,
            /// Most tokens.
            max: u64,
        },
    }
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
        if let Some(ArrivalSpec::Poisson { rate_per_s }) = &self.arrival {
            c.nested("arrival")
                .number("rate_per_s", *rate_per_s, 0.001, MAX_RATE);
        }
        match &self.tokens {
            Some(TokensSpec::Fixed { n }) => c.nested("tokens").integer("n", *n, 1, 1_000_000_000),
            Some(TokensSpec::Uniform { min, max }) => {
                let mut c = c.nested("tokens");
                c.integer("min", *min, 1, 1_000_000_000);
                c.integer("max", *max, 1, 1_000_000_000);
                if max < min {
                    c.fail("max", format!("must be at least min = {min} (got {max})"));
                }
            }
            None => {}
        }
    }

    /// Requests over all clients.
    pub fn total_requests(&self) -> u64 {
        self.requests * u64::from(self.clients)
    }

    /// Mean tokens per request.
    pub fn mean_tokens(&self) -> f64 {
        match self.tokens {
            None => 1.0,
            Some(TokensSpec::Fixed { n }) => n as f64,
            Some(TokensSpec::Uniform { min, max }) => (min + max) as f64 / 2.0,
        }
    }

    /// The tokens of request `id` of `client` (the same under every strategy).
    pub fn tokens_of(&self, draws: &Draws, client: u32, id: u64) -> u64 {
        match self.tokens {
            None => 1,
            Some(TokensSpec::Fixed { n }) => n,
            Some(TokensSpec::Uniform { min, max }) => {
                min + uniform_upto(draws.u64(Purpose::Tokens, client, id, 0), max - min)
            }
        }
    }

    /// The gap before request `id` of `client` arrives (after the previous one), or `None` when
    /// everything is ready at t = 0.
    pub fn arrival_gap(&self, draws: &Draws, client: u32, id: u64) -> Option<Nanos> {
        match self.arrival {
            None | Some(ArrivalSpec::AtOnce) => None,
            Some(ArrivalSpec::Poisson { rate_per_s }) => {
                let more = sampling::further_words(*draws, Purpose::Arrival, client, id, 0);
                let word = draws.u64(Purpose::Arrival, client, id, 0);
                Some(secs_to_nanos(
                    sampling::exponential(word, more) / rate_per_s,
                ))
            }
        }
    }
}
