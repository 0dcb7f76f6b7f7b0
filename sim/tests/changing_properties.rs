//! Property tests of APIs that change: limits are never exceeded under any schedule, nothing is
//! lost across outages, other tenants and queues (conservation), the servers' queue keeps FIFO
//! order and its capacity, and runs with all of it stay deterministic.

#[allow(unused_imports)]
mod support;

use proptest::prelude::*;
use ratelab_sim::api::{
    ApiSpec, BackgroundSpec, LatencySpec, LimitSpec, OutageMode, OutageSpec, ScheduleEntry,
};
use ratelab_sim::ratelab_strategies::time::{Nanos, SECOND};
use ratelab_sim::ratelab_strategies::{Draws, RequestInfo};
use ratelab_sim::{Scenario, run_scenario};
use support::*;

/// Requests in time order: (gap before it, tokens); bursts of simultaneous ones are common.
fn stream() -> impl Strategy<Value = Vec<(Nanos, u64)>> {
    let gap = prop_oneof![3 => Just(0u64), 2 => 0u64..SECOND / 10, 1 => 0u64..2 * SECOND];
    prop::collection::vec((gap, 1u64..6), 1..160)
}

/// Up to four schedule entries within `span_s`, in order, each replacing the limits.
fn limit_schedule(span_s: f64) -> impl Strategy<Value = Vec<ScheduleEntry>> {
    prop::collection::vec(
        (
            0.0..span_s,
            prop::collection::vec(shared_limit_spec(), 1..3),
        ),
        0..4,
    )
    .prop_map(|mut entries| {
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        entries
            .into_iter()
            .map(|(at_s, limits)| ScheduleEntry {
                at_s: (at_s * 1000.0).round() / 1000.0,
                limits: Some(limits),
                latency: None,
                errors: None,
                servers: None,
            })
            .collect()
    })
}

/// Non-overlapping outages within `span_s`.
fn outages(span_s: f64) -> impl Strategy<Value = Vec<OutageSpec>> {
    prop::collection::vec(
        (
            0u64..(span_s as u64 * 10),
            1u64..40,
            prop_oneof![
                Just(OutageMode::Unavailable),
                Just(OutageMode::Refuse),
                Just(OutageMode::Hang)
            ],
        ),
        0..3,
    )
    .prop_map(|mut v| {
        v.sort_by_key(|o| (o.0, o.1));
        let mut out: Vec<OutageSpec> = Vec::new();
        for (at, len, mode) in v {
            let at_s = at as f64 / 10.0;
            if out.last().is_none_or(|o| o.at_s + o.for_s <= at_s) {
                out.push(OutageSpec {
                    at_s,
                    for_s: len as f64 / 10.0,
                    mode,
                });
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(config(192))]

    /// Under any schedule, the attempts the API admitted while an entry was in force never
    /// exceed that entry's limits (each checked over the attempts of its own interval: what
    /// carries over from before only makes the API stricter).
    #[test]
    fn limits_are_never_exceeded_under_any_schedule(
        base in api_spec(),
        limits in prop::collection::vec(shared_limit_spec(), 1..3),
        schedule in limit_schedule(12.0),
        requests in stream(),
        background in proptest::option::of(1u64..20),
    ) {
        let mut api: ApiSpec = base;
        api.limits = limits;
        api.schedule = schedule;
        api.ban = None;
        api.errors = None;
        api.background = background.map(|r| BackgroundSpec { rate_per_s: r as f64, tokens: 1 });
        let mut model = api.build(Draws::new(7), 1);
        let mut admitted = Vec::new();
        let mut now = 0;
        for (i, &(gap, tokens)) in requests.iter().enumerate() {
            now += gap;
            let req = RequestInfo { client: 0, id: i as u64, attempt: 1, tokens };
            let reply = model.handle(now, &req);
            if reply.status == 200 {
                admitted.push(Admitted { sent: now, tokens, end: Some(now + reply.latency) });
            }
        }
        let bounds: Vec<(Nanos, &Vec<LimitSpec>)> = std::iter::once((0, &api.limits))
            .chain(api.schedule.iter().map(|e| (e.at(), e.limits.as_ref().unwrap())))
            .collect();
        for (k, &(start, specs)) in bounds.iter().enumerate() {
            let end = bounds.get(k + 1).map_or(Nanos::MAX, |b| b.0);
            let within: Vec<Admitted> = admitted
                .iter()
                .copied()
                .filter(|a| a.sent >= start && a.sent < end)
                .collect();
            for spec in specs {
                check_limit(spec, &within).map_err(|e| TestCaseError::fail(format!(
                    "entry {k} from {start} ns: {e}\napi: {api:?}"
                )))?;
            }
        }
    }

    /// Outages, other tenants and servers lose nothing: every request of every strategy ends
    /// in exactly one final state (or is still in flight at the horizon), the series add up,
    /// and the same seed gives the same bytes.
    #[test]
    fn nothing_is_lost_across_outages_tenants_and_queues(
        sc in scenario(20, 3, 2),
        outages in outages(20.0),
        background in proptest::option::of(1u64..30),
        servers in proptest::option::of((1u32..4, proptest::option::of(0u64..6))),
    ) {
        let mut sc: Scenario = sc;
        sc.horizon_s = sc.horizon_s.max(30.0);
        sc.api.outages = outages;
        sc.api.background = background.map(|r| BackgroundSpec { rate_per_s: r as f64, tokens: 1 });
        if let Some((s, q)) = servers {
            sc.api.servers = Some(s);
            sc.api.queue_limit = q;
        }
        prop_assert!(sc.problems().is_empty(), "{:?}", sc.problems());
        let out = run_scenario(&sc, sc.seed, None);
        for r in &out.results {
            let finals = r.succeeded + r.dead_lettered + r.rejected_by_breaker
                + r.rejected_by_throttle + r.in_flight_at_horizon;
            prop_assert_eq!(finals, r.requests, "{}: final states add up{}", r.strategy, replay(&sc, sc.seed));
            prop_assert_eq!(r.series.sends.iter().sum::<u64>(), r.attempts, "{}", r.strategy);
            prop_assert_eq!(r.series.successes.iter().sum::<u64>(), r.succeeded, "{}", r.strategy);
            if sc.api.servers.is_some() && r.attempts > 0 {
                prop_assert_eq!(r.series.queue.len(), r.series.sends.len());
            }
        }
        let again = run_scenario(&sc, sc.seed, None);
        prop_assert_eq!(
            serde_json::to_string(&out).unwrap(),
            serde_json::to_string(&again).unwrap(),
            "deterministic{}", replay(&sc, sc.seed)
        );
    }

    /// The servers' queue: at most `servers` requests in service at any time, service begins in
    /// arrival order, a request waits only when every server is busy, at most `queue_limit` wait,
    /// and a 503 comes only from a full queue.
    #[test]
    fn the_queue_keeps_fifo_order_and_its_capacity(
        servers in 1u32..5,
        queue_limit in 0u64..8,
        service_ms in 1u64..400,
        requests in stream(),
    ) {
        let api: ApiSpec = toml::from_str(&format!(
            "latency = {{ kind = \"fixed\", ms = {service_ms} }}\nservers = {servers}\nqueue_limit = {queue_limit}"
        )).unwrap();
        let service = service_ms * 1_000_000;
        let mut model = api.build(Draws::new(1), 1);
        // (arrival, start) of each request served.
        let mut served: Vec<(Nanos, Nanos)> = Vec::new();
        let mut now = 0;
        for (i, &(gap, _)) in requests.iter().enumerate() {
            now += gap;
            let req = RequestInfo { client: 0, id: i as u64, attempt: 1, tokens: 1 };
            let reply = model.handle(now, &req);
            let busy = served.iter().filter(|&&(_, s)| s <= now && now < s + service).count();
            let waiting = served.iter().filter(|&&(_, s)| s > now).count() as u64;
            match reply.status {
                200 => {
                    let start = now + reply.latency - service;
                    prop_assert!(start >= now);
                    if start > now {
                        prop_assert_eq!(busy, servers as usize, "waits only when all are busy");
                        prop_assert!(waiting < queue_limit, "room in the queue");
                    }
                    if let Some(&(_, last)) = served.last() {
                        prop_assert!(start >= last, "FIFO: {} before {}", start, last);
                    }
                    served.push((now, start));
                }
                503 => {
                    prop_assert_eq!(waiting, queue_limit, "a 503 only from a full queue");
                    prop_assert_eq!(busy, servers as usize);
                }
                s => prop_assert!(false, "unexpected status {}", s),
            }
        }
        // Never more than `servers` in service: check at every start.
        for &(_, s) in &served {
            let n = served.iter().filter(|&&(_, t)| t <= s && s < t + service).count();
            prop_assert!(n <= servers as usize, "{} in service at {}", n, s);
        }
    }
}

/// A schedule that changes the latency and the servers is applied at its instants and keeps
/// the run's counts.
#[test]
fn a_latency_and_servers_schedule_is_applied_at_its_instants() {
    let mut api: ApiSpec = toml::from_str(
        r#"latency = { kind = "fixed", ms = 100 }
           servers = 1"#,
    )
    .unwrap();
    api.schedule = vec![ScheduleEntry {
        at_s: 1.0,
        limits: None,
        latency: Some(LatencySpec::Fixed(
            ratelab_sim::api::latency::FixedLatencyConfig {
                ms: 10.0,
                per_token_ms: 0.0,
            },
        )),
        errors: None,
        servers: Some(2),
    }];
    let mut m = api.build(Draws::new(1), 1);
    let req = |id| RequestInfo {
        client: 0,
        id,
        attempt: 1,
        tokens: 1,
    };
    assert_eq!(m.handle(0, &req(0)).latency, 100_000_000);
    assert_eq!(
        m.handle(0, &req(1)).latency,
        200_000_000,
        "one server: waits"
    );
    assert_eq!(
        m.handle(SECOND, &req(2)).latency,
        10_000_000,
        "new latency at 1 s"
    );
    assert_eq!(
        m.handle(SECOND, &req(3)).latency,
        10_000_000,
        "two servers at 1 s"
    );
}
