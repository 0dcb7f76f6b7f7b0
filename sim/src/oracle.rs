//! The oracle: a client that knows the API's limits exactly, so that a run can say how close a
//! strategy came to what the API allows.
//!
//! It holds a private copy of the API model, fed the same sends as the API, and sends each
//! request at the first instant the copy would serve it at once ([`ApiModel::admit_wait`]: every
//! limit admits it, a server is free, no outage is on). The copy is the API itself — its
//! schedule, outages and other tenants included, with the same draws — so the oracle knows them
//! all in advance. Its clients share the one copy (the API's limits are shared too) and nothing
//! is retried. Its makespan on the scenario's workload and draws is the *ideal makespan*: a
//! strategy's efficiency is `ideal / makespan`.

use std::sync::{Arc, Mutex, MutexGuard};

use ratelab_strategies::retry::Retry;
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{Admit, Draws, Layer, RequestInfo, Response, Stack, Strategy};

use crate::api::ApiModel;
use crate::engine::{ClientSetup, simulate};
use crate::scenario::Scenario;

/// One client's view of the shared copy. (An `Arc<Mutex>` in a `Stack`, although the run is
/// single-threaded: so the oracle runs the one instantiation of the engine every strategy runs,
/// and a second one does not change how the compiler inlines the hot path.)
struct Oracle(Arc<Mutex<ApiModel>>);

impl Oracle {
    fn copy(&self) -> MutexGuard<'_, ApiModel> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Strategy for Oracle {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        match self.copy().admit_wait(now, req.tokens) {
            0 => Admit::Now,
            wait => Admit::At(now.saturating_add(wait)),
        }
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.copy().handle(now, req);
    }
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
}

/// The ideal makespan of `scenario` with `seed`, in seconds: the oracle's, when it finishes every
/// request within the horizon and the memory limit; `None` otherwise, or when the API has no
/// limits and no servers (nothing to be ideal against), or when its limit is a row under
/// optimistic concurrency (whose conflicts a client cannot know in advance).
pub fn ideal_makespan_s(scenario: &Scenario, seed: u64) -> Option<f64> {
    let api = &scenario.api;
    let occ = api
        .limits
        .iter()
        .any(|l| matches!(l, crate::api::LimitSpec::OptimisticConcurrency(_)));
    if occ || (api.limits.is_empty() && api.servers.is_none()) {
        return None;
    }
    let copy = Arc::new(Mutex::new(
        scenario
            .api
            .build(Draws::new(seed), scenario.workload.clients),
    ));
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
