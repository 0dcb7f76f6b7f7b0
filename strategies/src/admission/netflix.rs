//! The limiter of Netflix concurrency-limits (`SimpleLimiter` over an `AbstractLimit`), shared
//! by `gradient2` and `vegas`, which differ only in how a sample moves the limit.
//!
//! A request is admitted while fewer than `⌊limit⌋` are in flight. Its reply is a sample
//! `(rtt, inflight at its start, dropped)`: a success is a sample, a 429 a dropped one
//! (`onDropped`), anything else is ignored (`onIgnore`: the permit comes back, the limit does not
//! move). A sample with an RTT of 0 is ignored too (the library requires `rtt > 0`).

use std::collections::BTreeMap;

use crate::config::Checker;
use crate::strategy::Hints;
use crate::{Admit, Nanos, Outcome, RequestInfo, Response, Strategy};

/// Checks the limits both kinds take: `max_concurrency` (1..=1e6), and `min_limit` (when the
/// kind has one) and `initial_limit` within 1..=max.
pub(super) fn check_limits(c: &mut Checker, initial: u32, min: Option<u32>, max: u32) {
    c.integer("max_concurrency", u64::from(max), 1, 1_000_000);
    let top = u64::from(max.max(1));
    if let Some(min) = min {
        c.integer("min_limit", u64::from(min), 1, top);
    }
    c.integer("initial_limit", u64::from(initial), 1, top);
}

/// How one sample moves a concurrency limit: the library's `_update`.
pub trait LimitAlgorithm {
    /// The limit now (the limiter admits while in flight < ⌊limit⌋).
    fn limit(&self) -> f64;
    /// One sample of `client`'s: the attempt's RTT (ns, > 0), the requests in flight when it
    /// started (itself included) and whether it was dropped (a 429).
    fn update(&mut self, client: u32, rtt: Nanos, inflight: u32, dropped: bool);
}

/// `SimpleLimiter` over a limit algorithm.
#[derive(Clone, Debug)]
pub struct ConcurrencyLimiter<L> {
    algorithm: L,
    in_flight: u32,
    /// In flight when each attempt in flight started (itself included), by (request, attempt).
    /// Never iterated, only looked up.
    started_with: BTreeMap<(u64, u32), u32>,
}

impl<L: LimitAlgorithm> ConcurrencyLimiter<L> {
    /// A limiter over `algorithm`, nothing in flight.
    pub fn new(algorithm: L) -> Self {
        ConcurrencyLimiter {
            algorithm,
            in_flight: 0,
            started_with: BTreeMap::new(),
        }
    }

    /// The algorithm (its limit and state).
    pub fn algorithm(&self) -> &L {
        &self.algorithm
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    fn admits(&self) -> bool {
        f64::from(self.in_flight) < libm::floor(self.algorithm.limit())
    }
}

impl<L: LimitAlgorithm> Strategy for ConcurrencyLimiter<L> {
    fn poll_admit(&mut self, _now: Nanos, _req: &RequestInfo) -> Admit {
        if self.admits() {
            Admit::Now
        } else {
            Admit::WhenSomethingCompletes
        }
    }
    fn on_send(&mut self, _now: Nanos, req: &RequestInfo) {
        self.in_flight += 1;
        self.started_with
            .insert((req.id, req.attempt), self.in_flight);
    }
    fn on_response(&mut self, _now: Nanos, resp: &Response) {
        let r = resp.request;
        let Some(inflight) = self.started_with.remove(&(r.id, r.attempt)) else {
            return; // not one of ours (never sent through this layer)
        };
        self.in_flight = self.in_flight.saturating_sub(1);
        let dropped = match resp.outcome {
            Outcome::Success => false,
            Outcome::RateLimited => true,
            _ => return, // ignored: the permit is back, the limit stays
        };
        if resp.latency > 0 {
            self.algorithm
                .update(r.client, resp.latency, inflight, dropped);
        }
    }
    /// Every reply gives a permit back.
    fn response_changes_admission(&self) -> bool {
        true
    }
    fn hints(&self) -> Hints {
        Hints::HEARS_REPLIES
    }
}
