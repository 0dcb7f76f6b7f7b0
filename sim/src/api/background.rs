//! Other tenants (`[api] background = { rate_per_s, tokens }`): Poisson traffic that is not a
//! client of the run but draws on the same limits and servers. Its arrivals are addressed draws
//! of the reserved client [`BACKGROUND_CLIENT`], so they are the same under every strategy.

use ratelab_strategies::config::{Checker, MAX_RATE};
use ratelab_strategies::draws::{BACKGROUND_CLIENT, Draws, Purpose};
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use crate::sampling;

/// `background = { rate_per_s, tokens = 1 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundSpec {
    /// Mean requests per second of the other tenants together.
    pub rate_per_s: f64,
    /// Tokens of each of their requests (default 1).
    #[serde(default = "one")]
    pub tokens: u64,
}

fn one() -> u64 {
    1
}

impl BackgroundSpec {
    /// Checks the fields (`c` prefixed `api.background`).
    pub fn check(&self, c: &mut Checker) {
        c.number("rate_per_s", self.rate_per_s, 0.001, MAX_RATE);
        c.integer("tokens", self.tokens, 1, 1 << 40);
    }
}

/// The other tenants' arrivals, generated in time order as the API reaches them.
#[derive(Clone, Debug)]
pub struct Background {
    rate_per_s: f64,
    /// Their tokens per request.
    pub tokens: u64,
    draws: Draws,
    /// Index of the next arrival.
    pub next_id: u64,
    /// Its time.
    pub next_at: Nanos,
}

impl Background {
    /// The arrivals of `spec` under `draws`.
    pub fn new(spec: &BackgroundSpec, draws: Draws) -> Self {
        let mut b = Background {
            rate_per_s: spec.rate_per_s,
            tokens: spec.tokens,
            draws,
            next_id: 0,
            next_at: 0,
        };
        b.next_at = b.gap(0);
        b
    }

    fn gap(&self, id: u64) -> Nanos {
        let more =
            sampling::further_words(self.draws, Purpose::Background, BACKGROUND_CLIENT, id, 0);
        let word = self
            .draws
            .u64(Purpose::Background, BACKGROUND_CLIENT, id, 0);
        secs_to_nanos(sampling::exponential(word, more) / self.rate_per_s)
    }

    /// Moves to the next arrival.
    pub fn advance(&mut self) {
        self.next_id += 1;
        self.next_at = self.next_at.saturating_add(self.gap(self.next_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_have_the_rate_asked_for() {
        let spec = BackgroundSpec {
            rate_per_s: 50.0,
            tokens: 1,
        };
        let mut b = Background::new(&spec, Draws::new(3));
        let mut last = 0;
        while b.next_at < secs_to_nanos(200.0) {
            assert!(b.next_at >= last, "in time order");
            last = b.next_at;
            b.advance();
        }
        // 10 000 expected; a Poisson count's deviation is 100.
        assert!((9_600..10_400).contains(&b.next_id), "{}", b.next_id);
    }
}
