//! `concurrency`: at most `max_in_flight` requests being served at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ratelab_strategies::config::{Checker, Unit};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::Nanos;
use serde::{Deserialize, Serialize};

use super::{Limit, LimitKind};

/// `{ kind = "concurrency", max_in_flight }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyLimitConfig {
    /// Requests served at once.
    pub max_in_flight: u32,
}

impl Kind for ConcurrencyLimitConfig {
    const DOC: KindDoc = KindDoc {
        about: "at most max_in_flight requests being served",
        fields: &[FieldDoc::required("max_in_flight")],
        example: r#"{ kind = "concurrency", max_in_flight = 5 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.integer("max_in_flight", u64::from(self.max_in_flight), 1, 1_000_000);
    }
    /// A count: nothing to scale.
    fn scale(&mut self, _k: f64) {}
}

impl LimitKind for ConcurrencyLimitConfig {
    type State = ConcurrencyLimit;
    fn build(&self) -> ConcurrencyLimit {
        ConcurrencyLimit {
            max: self.max_in_flight as usize,
            ends: BinaryHeap::new(),
        }
    }
    fn unit(&self) -> Unit {
        Unit::Requests
    }
    /// Max in flight over the mean latency (Little's law).
    fn capacity_rps(&self, _mean_tokens: f64, mean_latency_ms: f64) -> Option<f64> {
        (mean_latency_ms > 0.0).then(|| f64::from(self.max_in_flight) * 1000.0 / mean_latency_ms)
    }
}

/// The ends of service of the requests being served.
#[derive(Clone, Debug)]
pub struct ConcurrencyLimit {
    max: usize,
    ends: BinaryHeap<Reverse<Nanos>>,
}

impl ConcurrencyLimit {
    /// Drops the requests whose service ended by `now` (a slot is free at the instant of its
    /// reply).
    fn expire(&mut self, now: Nanos) {
        while self.ends.peek().is_some_and(|Reverse(e)| *e <= now) {
            self.ends.pop();
        }
    }
}

impl Limit for ConcurrencyLimit {
    fn by_tokens(&self) -> bool {
        false
    }
    fn needs_end_of_service(&self) -> bool {
        true
    }
    fn never_fits(&self, _tokens: u64) -> bool {
        false
    }
    fn wait(&mut self, now: Nanos, _tokens: u64) -> Nanos {
        self.expire(now);
        if self.ends.len() < self.max {
            0
        } else {
            self.ends.peek().map_or(0, |Reverse(e)| e - now)
        }
    }
    fn commit(&mut self, now: Nanos, _tokens: u64, end: Nanos) {
        self.expire(now);
        self.ends.push(Reverse(end));
    }
    fn headroom(&mut self, now: Nanos) -> (u64, Nanos) {
        self.expire(now);
        (
            self.max.saturating_sub(self.ends.len()) as u64,
            self.ends
                .iter()
                .map(|Reverse(e)| e - now)
                .max()
                .unwrap_or(0),
        )
    }
    fn capacity(&self) -> u64 {
        self.max as u64
    }
    /// The requests being served carry over.
    fn retune(&mut self, _at: Nanos, next: Self) {
        self.max = next.max;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_frees_a_slot_at_the_instant_of_the_reply() {
        let mut l = ConcurrencyLimitConfig { max_in_flight: 1 }.build();
        l.commit(0, 1, 200);
        assert_eq!(l.wait(100, 1), 100);
        assert_eq!(l.wait(200, 1), 0);
    }
}
