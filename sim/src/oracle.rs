//! The oracle: a client that knows the API's limits exactly, so that a run can say how close a
//! strategy came to what the API allows.
//!
//! It holds a private copy of the API's limits, fed the same sends as the API, and sends each
//! request at the first instant every limit admits it (a concurrency limit learns each request's
//! end of service from the same latency draw the API will make). Its clients share the one copy
//! (the API's limits are shared too) and nothing is retried. Its makespan on the scenario's
//! workload and draws is the *ideal makespan*: a strategy's efficiency is `ideal / makespan`.

use std::sync::{Arc, Mutex, MutexGuard};

use ratelab_strategies::draws::{DrawCache, Purpose};
use ratelab_strategies::retry::Retry;
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{Admit, Draws, Layer, RequestInfo, Response, Stack, Strategy};

use crate::api::latency::LatencySampler;
use crate::api::{Limit, LimitState};
use crate::engine::{ClientSetup, simulate};
use crate::scenario::Scenario;

/// The limits as the oracle tracks them.
struct Shadow {
    limits: Vec<LimitState>,
    latency: LatencySampler,
    /// The API's latency draws, cached as the API model caches them (the same values).
    draws: DrawCache,
}

/// One client's view of the shared copy. (An `Arc<Mutex>` in a `Stack`, although the run is
/// single-threaded: so the oracle runs the one instantiation of the engine every strategy runs,
/// and a second one does not change how the compiler inlines the hot path.)
struct Oracle(Arc<Mutex<Shadow>>);

impl Oracle {
    fn shadow(&self) -> MutexGuard<'_, Shadow> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Strategy for Oracle {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        let mut copy = self.shadow();
        if copy.limits.iter().any(|l| l.never_fits(req.tokens)) {
            return Admit::Now; // a 413 whenever it goes
        }
        let wait = copy
            .limits
            .iter_mut()
            .map(|l| l.wait(now, req.tokens))
            .max()
            .unwrap_or(0);
        if wait == 0 {
            Admit::Now
        } else {
            Admit::At(now.saturating_add(wait))
        }
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        let mut copy = self.shadow();
        let Shadow {
            limits,
            latency,
            draws,
        } = &mut *copy;
        if limits.iter().any(|l| l.never_fits(req.tokens)) {
            return;
        }
        let served = latency.sample_cached(draws, req.client, req.id, req.attempt, req.tokens);
        let end = now.saturating_add(served);
        for l in limits.iter_mut() {
            l.commit(now, req.tokens, end);
        }
    }
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
}

/// The ideal makespan of `scenario` with `seed`, in seconds: the oracle's, when it finishes every
/// request within the horizon and the memory limit; `None` otherwise, or when the API has no
/// limits (nothing to be ideal against).
pub fn ideal_makespan_s(scenario: &Scenario, seed: u64) -> Option<f64> {
    if scenario.api.limits.is_empty() {
        return None;
    }
    let copy = Arc::new(Mutex::new(Shadow {
        limits: scenario.api.limits.iter().map(|l| l.build()).collect(),
        latency: scenario.api.latency.sampler(),
        draws: DrawCache::new(Draws::new(seed), Purpose::Latency),
    }));
    let result = simulate(
        scenario,
        seed,
        "oracle",
        |_client| ClientSetup {
            strategy: Stack::new(vec![Layer::Custom(Box::new(Oracle(Arc::clone(&copy))))]),
            retry: Retry::never(),
            timeout: None,
        },
        None,
    );
    result.finished.then_some(result.makespan_s)
}

/// The ideal makespan with no horizon to speak of (the longest a scenario may set): how long the
/// API's limits need for the whole workload, to say by how much a horizon cut a run short.
pub fn ideal_beyond_horizon_s(scenario: &Scenario, seed: u64) -> Option<f64> {
    let mut unbounded = scenario.clone();
    unbounded.horizon_s = crate::scenario::MAX_HORIZON_S;
    ideal_makespan_s(&unbounded, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(api: &str, workload: &str) -> Scenario {
        Scenario::parse(
            &format!(
                "name = \"o\"\n[workload]\n{workload}\n[api]\n{api}\n[[strategy]]\nname = \"s\"\n"
            ),
            Path::new("o.toml"),
        )
        .unwrap()
    }

    #[test]
    fn a_token_bucket_is_used_exactly() {
        // 10 at once, then one every 100 ms: the 30th is sent at 2.0 s, answered 50 ms later.
        let sc = scenario(
            "limits = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 10 }]\nlatency = { kind = \"fixed\", ms = 50 }",
            "requests = 30",
        );
        assert_eq!(ideal_makespan_s(&sc, 1), Some(2.05));
    }

    #[test]
    fn a_concurrency_cap_is_kept_full() {
        // 4 in flight, 100 ms each: 20 requests in 5 rounds.
        let sc = scenario(
            "limits = [{ kind = \"concurrency\", max_in_flight = 4 }]\nlatency = { kind = \"fixed\", ms = 100 }",
            "requests = 20",
        );
        assert_eq!(ideal_makespan_s(&sc, 1), Some(0.5));
    }

    #[test]
    fn clients_share_the_one_copy_and_no_limit_means_no_ideal() {
        let sc = scenario(
            "limits = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 10 }]\nlatency = { kind = \"fixed\", ms = 50 }",
            "requests = 15\nclients = 2",
        );
        // 30 requests in all against the one bucket: as one client of 30.
        assert_eq!(ideal_makespan_s(&sc, 1), Some(2.05));
        let free = scenario("latency = { kind = \"fixed\", ms = 50 }", "requests = 3");
        assert_eq!(ideal_makespan_s(&free, 1), None);
    }
}
