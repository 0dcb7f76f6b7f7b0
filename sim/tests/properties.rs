//! Property tests of the API models and of the simulator itself, over generated scenarios
//! (strategies, API models, latencies, arrival patterns). A failing case is shrunk by proptest
//! and its message ends with the scenario as TOML and the seed, replayable with
//! `ratelab run case.toml --seed N`. `PROPTEST_CASES=N` overrides the default case counts.

#[macro_use]
mod support;

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ratelab_sim::api::limits::FixedWindowLimitConfig;
use ratelab_sim::api::{ApiSpec, LatencySpec, Limit, LimitSpec, RetryAfterPrecision};
use ratelab_sim::{Scenario, run_scenario, run_strategy};
use ratelab_strategies::draws::{DrawCache, Purpose, unit_open};
use ratelab_strategies::time::{Nanos, SECOND, ms_to_nanos, secs_to_nanos};
use ratelab_strategies::{Draws, RequestInfo};
use support::*;

fn fail(problem: String, scenario: &Scenario, seed: u64) -> TestCaseError {
    TestCaseError::fail(format!("{problem}{}", replay(scenario, seed)))
}

/// Time steps: often the same instant, mostly short, sometimes long.
fn step() -> impl Strategy<Value = Nanos> {
    prop_oneof![
        2 => Just(0u64),
        4 => 0u64..50_000_000,
        3 => 0u64..2 * SECOND,
        1 => 0u64..30 * SECOND,
    ]
}

/// Time steps paired with `other`: free, or all whole milliseconds (so that requests land
/// exactly on window edges, bucket refills and ban expiries, which are whole milliseconds too).
fn steps<T: std::fmt::Debug + Clone>(
    other: impl Strategy<Value = T> + Clone,
    n: std::ops::Range<usize>,
) -> impl Strategy<Value = Vec<(Nanos, T)>> {
    let aligned = prop_oneof![
        2 => Just(0u64),
        3 => (0u64..100).prop_map(|k| k * 1_000_000),
        3 => (0u64..40).prop_map(|k| k * 50_000_000),
        1 => (0u64..30).prop_map(|k| k * SECOND),
    ];
    prop_oneof![
        prop::collection::vec((step(), other.clone()), n.clone()),
        prop::collection::vec((aligned, other), n),
    ]
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

proptest! {
    #![proptest_config(config(256))]

    /// Every generated scenario is valid and survives a round trip through TOML unchanged (so a
    /// failing case printed as TOML is the very case that failed).
    #[test]
    fn scenarios_survive_a_toml_round_trip(sc in scenario(30, 4, 3)) {
        prop_assert_eq!(sc.problems(), vec![], "the generator made an invalid scenario");
        let text = sc.to_toml();
        let back = Scenario::parse(&text, "generated.toml".as_ref());
        prop_assert!(back.is_ok(), "{}\n{}", back.unwrap_err(), text);
        prop_assert_eq!(back.unwrap(), sc, "{}", text);
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator, observed through the recording seam.

proptest! {
    #![proptest_config(config(192))]

    /// For any valid scenario, every strategy's run: terminates within the horizon without
    /// panicking; time never goes backwards; every request ends in at most one final state and
    /// succeeded + dead-lettered + rejected + in flight = requests, per client and in total (by
    /// the result and by an independent tally of the calls); attempts never exceed
    /// max_attempts; retries go when the policy said and never undercut an honoured
    /// Retry-After; every admitted attempt has the latency drawn for its (client, request,
    /// attempt); the API admitted no more than each of its limits allows; every admission
    /// layer and the breaker keep their invariants. The recording seam changes nothing: it gives
    /// the engine no hints (it neither says that it ignores the rate-limit headers nor that a
    /// reply leaves its answer alone), so this also checks that the engine's shortcuts for the
    /// built-ins' hints are exact.
    #[test]
    fn simulator_keeps_its_invariants(sc in scenario(20, 3, 2)) {
        let seed = sc.seed;
        for spec in &sc.strategies {
            let (res, log) = run_recorded(&sc, spec, seed);
            let plain = run_strategy(&sc, spec, seed, None);
            if res != plain {
                return Err(fail(format!("{}: the recording seam changed the result", spec.name), &sc, seed));
            }
            check_run(&sc, spec, seed, &res, &log)
                .map_err(|e| fail(format!("strategy {}: {e}", spec.name), &sc, seed))?;
        }
    }

}

proptest! {
    #![proptest_config(config(48))]

    /// The same invariants on fewer, bigger scenarios: more requests and clients.
    #[test]
    fn simulator_keeps_its_invariants_at_scale(sc in scenario(120, 5, 1)) {
        let seed = sc.seed;
        let spec = &sc.strategies[0];
        let (res, log) = run_recorded(&sc, spec, seed);
        check_run(&sc, spec, seed, &res, &log)
            .map_err(|e| fail(format!("strategy {}: {e}", spec.name), &sc, seed))?;
    }

}

proptest! {
    #![proptest_config(config(96))]

    /// The same inputs twice give identical results, and identical JSON bytes; progress
    /// reporting does not change a run.
    #[test]
    fn runs_are_deterministic(sc in scenario(15, 3, 2)) {
        let seed = sc.seed;
        let a = run_scenario(&sc, seed, None);
        let mut reports = 0;
        let mut progress = |_: usize, _| reports += 1;
        let b = run_scenario(&sc, seed, Some(&mut progress));
        if a != b {
            return Err(fail("two runs differ".into(), &sc, seed));
        }
        let (ja, jb) = (serde_json::to_vec(&a).unwrap(), serde_json::to_vec(&b).unwrap());
        if ja != jb {
            return Err(fail("two runs serialise to different bytes".into(), &sc, seed));
        }
    }

    /// Common random numbers: the same (client, request, attempt) draws the same API latency and
    /// the same server-error decision under every strategy of a scenario.
    #[test]
    fn every_strategy_sees_the_same_draws(sc in scenario(20, 2, 3)) {
        let seed = sc.seed;
        let mut seen: BTreeMap<(u32, u64, u32), (Nanos, u16, String)> = BTreeMap::new();
        for spec in &sc.strategies {
            let (_, log) = run_recorded(&sc, spec, seed);
            for ev in log {
                if let Ev::Response { resp, .. } = ev
                    && !matches!(resp.status, 0 | 413 | 429)
                {
                    let r = resp.request;
                    let key = (r.client, r.id, r.attempt);
                    let mine = (resp.latency, resp.status, spec.name.clone());
                    if let Some(first) = seen.get(&key) {
                        if (first.0, first.1) != (mine.0, mine.1) {
                            return Err(fail(format!(
                                "{key:?}: {} saw latency {} status {}, {} saw {} status {}",
                                first.2, first.0, first.1, mine.2, mine.0, mine.1
                            ), &sc, seed));
                        }
                    } else {
                        seen.insert(key, mine);
                    }
                }
            }
        }
    }

    /// Independence: adding a second client does not change the first client's draws: the
    /// tokens of its requests, the API latency of its attempts and its retry jitter.
    #[test]
    fn adding_a_client_changes_nobody_elses_draws(sc in scenario(20, 1, 1)) {
        let seed = sc.seed;
        let spec = &sc.strategies[0];
        let mut two = sc.clone();
        two.workload.clients = 2;
        let draws_of = |s: &Scenario| {
            let (_, log) = run_recorded(s, spec, seed);
            let mut tokens = BTreeMap::new();
            let mut latency = BTreeMap::new();
            let mut jitter = BTreeMap::new();
            for ev in log {
                match ev {
                    Ev::Send { req, .. } if req.client == 0 => {
                        tokens.insert(req.id, req.tokens);
                    }
                    Ev::Response { resp, .. } if resp.request.client == 0 && !matches!(resp.status, 0 | 413 | 429) => {
                        latency.insert((resp.request.id, resp.request.attempt), resp.latency);
                    }
                    Ev::Retry { t, resp, at: Ok(at) } if resp.request.client == 0 && resp.retry_after.is_none() => {
                        jitter.insert((resp.request.id, resp.request.attempt), at - t);
                    }
                    _ => {}
                }
            }
            (tokens, latency, jitter)
        };
        let (t1, l1, j1) = draws_of(&sc);
        let (t2, l2, j2) = draws_of(&two);
        fn agree<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
            what: &str, a: &BTreeMap<K, V>, b: &BTreeMap<K, V>,
        ) -> Result<(), String> {
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    ensure!(v == w, "{what} of client 0's {k:?}: {v:?} alone, {w:?} with a second client");
                }
            }
            Ok(())
        }
        for (what, r) in [
            ("tokens", agree("tokens", &t1, &t2)),
            ("latency", agree("latency", &l1, &l2)),
            ("jitter", agree("jitter", &j1, &j2)),
        ] {
            r.map_err(|e| fail(format!("{what}: {e}"), &two, seed))?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Latency draws.

proptest! {
    #![proptest_config(config(256))]

    /// `LatencySpec::sample` stays within its model's bounds (fixed: exactly; uniform: within
    /// [min, max]; exponential: at least the offset; lognormal: positive; plus per-token time;
    /// never above the one-day cap plus per-token time) and is addressed: a key's latency is
    /// the same whether or not other clients' and requests' latencies were drawn first.
    #[test]
    fn latency_samples_are_bounded_and_addressed(
        spec in latency_spec(),
        seed in any::<u64>(),
        keys in prop::collection::vec((0u32..17, 0u64..100, 1u32..4, 1u64..50), 1..40),
    ) {
        let draws = Draws::new(seed);
        let first: Vec<Nanos> = keys.iter().map(|&(c, id, a, t)| spec.sample(&draws, c, id, a, t)).collect();
        // The stateful path the API model uses, asked in the other order.
        let mut cache = DrawCache::new(draws, Purpose::Latency);
        for (i, &(c, id, a, tokens)) in keys.iter().enumerate().rev() {
            let again = spec.sampler().sample_cached(&mut cache, c, id, a, tokens);
            prop_assert_eq!(first[i], again);
            let ms = first[i] as f64 / 1e6;
            let (lo, hi, per_token) = match &spec {
                LatencySpec::Fixed(f) => (f.ms, f.ms, f.per_token_ms),
                LatencySpec::Uniform(u) => (u.min_ms, u.max_ms, u.per_token_ms),
                LatencySpec::Exponential(e) => (e.offset_ms, f64::INFINITY, e.per_token_ms),
                LatencySpec::Lognormal(l) => (0.0, f64::INFINITY, l.per_token_ms),
            };
            let extra = per_token * tokens as f64;
            let hi = hi.min(86_400_000.0) + extra;
            prop_assert!(ms >= lo + extra - 1e-6 && ms <= hi + 1e-6, "{} ms outside [{}, {}] ms", ms, lo + extra, hi);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// API models, driven directly.

/// Requests sent to an API: (step, client, tokens).
fn request_stream() -> impl Strategy<Value = Vec<(Nanos, (u32, u64))>> {
    steps(
        (0u32..3, prop_oneof![3 => Just(1u64), 2 => 1u64..25]),
        1..80,
    )
}

fn limits_api() -> impl Strategy<Value = ApiSpec> {
    (api_spec(), prop::collection::vec(shared_limit_spec(), 1..4)).prop_map(|(mut api, limits)| {
        api.limits = limits;
        api
    })
}

/// `Retry-After` for a `wait`: rounded up to whole seconds (at least 1 s), or to whole
/// milliseconds with `retry_after_precision = "ms"`.
fn rounded_retry_after(api: &ApiSpec, wait: Nanos) -> Nanos {
    let unit = if api.retry_after_precision == RetryAfterPrecision::Milliseconds {
        1_000_000
    } else {
        SECOND
    };
    wait.div_ceil(unit).max(1) * unit
}

/// A naive ban: every limit 429 of a client kept in a vector; the client is banned when, since
/// its last ban began, `after_429` of them fall within `within_s`.
#[derive(Default)]
struct NaiveBan {
    rejections: Vec<Nanos>,
    since_ban: usize,
    until: Nanos,
}

proptest! {
    #![proptest_config(config(256))]

    /// Each limit (`sim::api::Limit`) agrees with a deliberately naive reference (logs kept as
    /// vectors, checked by brute force; the bucket replayed in i128 rational arithmetic with
    /// waits by binary search) on every decision: never fits, how long until it admits, and the
    /// headroom it reports (units left, time until fully available).
    #[test]
    fn each_limit_agrees_with_a_naive_reference(
        spec in limit_spec(),
        ops in steps((1u64..20, any::<bool>(), 0u64..3 * SECOND), 1..80),
    ) {
        let mut real = spec.build();
        let mut naive = NaiveLimit::new(&spec);
        let mut now = 0;
        for (dt, (tokens, force, latency)) in ops {
            now += dt;
            prop_assert_eq!(real.never_fits(tokens), naive.never_fits(tokens));
            if naive.never_fits(tokens) {
                continue;
            }
            prop_assert_eq!(real.headroom(now), naive.headroom(now), "headroom at {}", now);
            let expected = naive.wait(now, tokens);
            prop_assert_eq!(real.wait(now, tokens), expected, "wait at {} for {} tokens", now, tokens);
            // Commit what passes; with `force`, what does not too (count_rejected), except on a
            // concurrency limit, which only admitted requests occupy.
            if expected == 0 || (force && !naive.is_concurrency()) {
                let end = if expected == 0 { now + latency } else { now };
                real.commit(now, tokens, end);
                naive.commit(now, tokens, end);
            }
        }
    }

    /// `ApiModel::handle` answers every request exactly as naive limits, a naive ban and a
    /// naive error draw say: 429 with `Retry-After` = the ban's remaining whole seconds while
    /// banned; 413 when it can never fit; 429 with `Retry-After` = max(1, ⌈longest wait⌉ s);
    /// otherwise admitted with the drawn latency, as 200 or as the configured server error with
    /// the configured probability. It commits to all limits only when all admit (and the
    /// rejected too with `count_rejected`); the rate-limit headers give the tightest limit's
    /// headroom. And what it admitted respects every member of its combined limits: token
    /// bucket ≤ burst + rate·T in any window, fixed window ≤ limit per window, sliding window ≤
    /// limit in ANY window of its length, concurrency ≤ max in flight, token-weighted limits
    /// counting tokens.
    #[test]
    fn api_model_agrees_with_naive_limits_and_respects_them(
        api in limits_api(),
        seed in any::<u64>(),
        stream in request_stream(),
    ) {
        let draws = Draws::new(seed);
        let mut model = api.build(draws, 3);
        let mut naive: Vec<NaiveLimit> = api.limits.iter().map(NaiveLimit::new).collect();
        let mut bans: Vec<NaiveBan> = (0..3).map(|_| NaiveBan::default()).collect();
        let rejected_latency = ms_to_nanos(api.rejected_latency_ms);
        let mut admitted = vec![];
        let mut now = 0;
        for (id, (dt, (client, tokens))) in stream.into_iter().enumerate() {
            now += dt;
            let id = id as u64;
            let req = RequestInfo { client, id, attempt: 1, tokens };
            let reply = model.handle(now, &req);
            let ban = &mut bans[client as usize];
            if api.ban.is_some() && ban.until > now {
                prop_assert_eq!(reply.status, 429);
                prop_assert!(reply.banned);
                prop_assert_eq!(reply.latency, rejected_latency);
                prop_assert_eq!(reply.retry_after, api.retry_after.then(|| rounded_retry_after(&api, ban.until - now)));
                continue;
            }
            prop_assert!(!reply.banned, "banned at {} without cause", now);
            if naive.iter().any(|l| l.never_fits(tokens)) {
                prop_assert_eq!(reply.status, 413);
                prop_assert_eq!(reply.latency, rejected_latency);
                continue;
            }
            let wait = naive.iter().map(|l| l.wait(now, tokens)).max().unwrap_or(0);
            if wait > 0 {
                prop_assert_eq!(reply.status, 429, "naive wait {} at {}", wait, now);
                prop_assert_eq!(reply.latency, rejected_latency);
                prop_assert_eq!(reply.retry_after, api.retry_after.then(|| rounded_retry_after(&api, wait)));
                if api.count_rejected {
                    for l in naive.iter_mut().filter(|l| !l.is_concurrency()) {
                        l.commit(now, tokens, now);
                    }
                }
                if let Some(b) = &api.ban {
                    ban.rejections.push(now);
                    let within = secs_to_nanos(b.within_s);
                    let recent = ban.rejections[ban.since_ban..]
                        .iter()
                        .filter(|&&t| t + within > now)
                        .count();
                    if recent >= b.after_429 as usize {
                        ban.until = now + secs_to_nanos(b.duration_s);
                        ban.since_ban = ban.rejections.len();
                    }
                }
            } else {
                let latency = api.latency.sample(&draws, client, id, 1, tokens);
                prop_assert_eq!(reply.latency, latency);
                let status = match &api.errors {
                    Some(e) if unit_open(draws.u64(Purpose::ServerError, client, id, 1)) < e.probability => e.status,
                    _ => 200,
                };
                prop_assert_eq!(reply.status, status, "admitted at {}", now);
                for l in &mut naive {
                    l.commit(now, tokens, now + latency);
                }
                admitted.push(Admitted { sent: now, tokens, end: Some(now + latency) });
            }
            // Headers: the tightest limit of each unit (the first of equals).
            let mut expected = [None, None];
            if api.headers {
                for l in &naive {
                    let (left, reset) = l.headroom(now);
                    let slot = &mut expected[usize::from(l.by_tokens())];
                    if slot.is_none_or(|(r, _)| left < r) {
                        *slot = Some((left, reset));
                    }
                }
            }
            prop_assert_eq!(reply.has_headers, api.headers);
            let h = if reply.has_headers { model.headers(now) } else { Default::default() };
            prop_assert_eq!(h.remaining_requests, expected[0].map(|e| e.0));
            prop_assert_eq!(h.reset_requests, expected[0].map(|e| e.1));
            prop_assert_eq!(h.remaining_tokens, expected[1].map(|e| e.0));
            prop_assert_eq!(h.reset_tokens, expected[1].map(|e| e.1));
        }
        for limit in &api.limits {
            if let Err(e) = check_limit(limit, &admitted) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}

/// A fixed window admits `limit` at the end of one window and `limit` again at the start of
/// the next: the property above checks aligned windows only, as documented.
#[test]
fn fixed_window_allows_a_double_burst_across_a_boundary() {
    let spec = LimitSpec::FixedWindow(FixedWindowLimitConfig {
        limit: 2,
        window_s: 1.0,
        unit: Default::default(),
    });
    let mut l = spec.build();
    for t in [SECOND - 2, SECOND - 1, SECOND, SECOND + 1] {
        assert_eq!(l.wait(t, 1), 0);
        l.commit(t, 1, t);
    }
    assert!(l.wait(SECOND + 2, 1) > 0);
}

/// The memory limit to the request around retries: Poisson arrivals into a slow API that
/// answers many 429s, with a limit a run meets, over many seeds. A retry holds no more than the
/// attempt it follows, so it is sent even at the limit; a fresh send that would hold more is
/// refused and stops the run (checked by `check_run`).
#[test]
fn the_memory_limit_is_exact_around_retries() {
    let sc = Scenario::parse(
        r#"
        name = "held"
        max_requests_held = 12
        horizon_s = 60
        [workload]
        requests = 200
        arrival = { kind = "poisson", rate_per_s = 40 }
        [api]
        limits = [{ kind = "token_bucket", rate_per_s = 10, burst = 5 }]
        latency = { kind = "exponential", mean_ms = 150 }
        rejected_latency_ms = 20
        [[strategy]]
        name = "unpaced"
        retry = { kind = "exponential", base_ms = 50, cap_ms = 400, max_attempts = 6 }
        "#,
        "held.toml".as_ref(),
    )
    .unwrap();
    let mut stops = 0;
    for seed in 0..200 {
        let (res, log) = run_recorded(&sc, &sc.strategies[0], seed);
        check_run(&sc, &sc.strategies[0], seed, &res, &log)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        stops += u32::from(res.stop == ratelab_sim::result::StopReason::MemoryLimit);
    }
    assert!(stops > 100, "the limit stopped only {stops} of 200 runs");
}

/// Each generator draws every kind its family registers, so a kind that is added is generated
/// (or this test names it): 2 000 draws of each, against the registry's catalog.
#[test]
fn generators_draw_every_registered_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use ratelab_sim::workload::{ArrivalSpec, TokensSpec};
    use ratelab_strategies::{AdmissionSpec, RetrySpec};
    use std::collections::BTreeSet;

    fn drawn<T>(
        family: &str,
        strategy: impl Strategy<Value = T>,
        kind: fn(&T) -> &'static str,
        registered: &[ratelab_strategies::kind::KindEntry],
    ) {
        let mut runner = TestRunner::deterministic();
        let seen: BTreeSet<&str> = (0..2000)
            .map(|_| kind(&strategy.new_tree(&mut runner).unwrap().current()))
            .collect();
        let all: BTreeSet<&str> = registered.iter().map(|k| k.name).collect();
        assert_eq!(seen, all, "{family}: kinds drawn against kinds registered");
    }
    drawn(
        "admission",
        admission_spec(),
        AdmissionSpec::kind,
        AdmissionSpec::KINDS,
    );
    drawn("retry", retry_spec(), RetrySpec::kind, RetrySpec::KINDS);
    drawn("limits", limit_spec(), LimitSpec::kind, LimitSpec::KINDS);
    drawn(
        "latency",
        latency_spec(),
        LatencySpec::kind,
        LatencySpec::KINDS,
    );
    drawn(
        "arrival",
        arrival_spec(),
        ArrivalSpec::kind,
        ArrivalSpec::KINDS,
    );
    drawn("tokens", tokens_spec(), TokensSpec::kind, TokensSpec::KINDS);
}
