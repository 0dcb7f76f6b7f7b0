//! Shared pieces of the simulator's property tests: the proptest configuration, generators of
//! valid scenarios, a recording seam around the real strategies, naive reference limits and the
//! invariant checkers.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use ratelab_sim::api::{ApiSpec, BanSpec};
use ratelab_sim::api::{ErrorsSpec, LatencySpec, LimitSpec};
use ratelab_sim::result::StopReason;
use ratelab_sim::scenario::{DEFAULT_MAX_REQUESTS_HELD, Scenario};
use ratelab_sim::workload::{ArrivalSpec, TokensSpec, WorkloadSpec};
use ratelab_sim::{ClientSetup, StrategyResult, simulate};
use ratelab_strategies::breaker::BreakerState;
use ratelab_strategies::bucket::Rate;
use ratelab_strategies::spec::{
    AdmissionSpec, BreakerSpec, JitterSpec, OnOpen, RateSpec, RetryOnSpec, RetrySpec, StrategySpec,
    Unit,
};
use ratelab_strategies::time::{Nanos, SECOND, ms_to_nanos, secs_to_nanos};
use ratelab_strategies::{Admit, Draws, Layer, RequestInfo, Response, Retry, RetryPolicy, Stack};

/// `cases` unless `PROPTEST_CASES` is set (then proptest's own reading of it wins); regressions
/// are kept in `sim/proptest-regressions/properties.txt`.
pub fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c.max_shrink_iters = 4096;
    c.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/proptest-regressions/properties.txt"
    ))));
    c
}

/// How to replay a failing case with the CLI.
pub fn replay(scenario: &Scenario, seed: u64) -> String {
    let mut s = scenario.clone();
    s.seed = seed;
    format!(
        "\nreplay: save the scenario below as case.toml and run \
         `ratelab run case.toml --seed {seed}`\n--- case.toml ---\n{}--- end ---",
        s.to_toml()
    )
}

// ---------------------------------------------------------------------------------------------
// Generators. Every number is a whole number of thousandths, so rates are exact and TOML writes
// it back unchanged. Scenarios are small so that a case runs in milliseconds.

/// `lo/1000 ..= hi/1000` in steps of 1/1000, hitting the bounds themselves one time in ten
/// each (zero latencies, zero delays and the like are where same-instant bugs hide).
pub fn milli(lo: u64, hi: u64) -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(lo),
        1 => Just(hi),
        8 => lo..=hi,
    ]
    .prop_map(|m| m as f64 / 1000.0)
}

fn unit() -> impl Strategy<Value = Unit> {
    prop_oneof![3 => Just(Unit::Requests), 1 => Just(Unit::Tokens)]
}

/// `(rate_per_s, rate_per_min)`, exactly one given.
fn rate_pair() -> impl Strategy<Value = (Option<f64>, Option<f64>)> {
    prop_oneof![
        3 => milli(500, 40_000).prop_map(|r| (Some(r), None)),
        1 => milli(30_000, 2_400_000).prop_map(|r| (None, Some(r))),
    ]
}

/// One API limit.
pub fn limit_spec() -> impl Strategy<Value = LimitSpec> {
    prop_oneof![
        (rate_pair(), 1u64..15, unit()).prop_map(|((rate_per_s, rate_per_min), burst, unit)| {
            LimitSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                burst,
                unit,
            }
        }),
        (1u64..15, milli(50, 5_000), unit()).prop_map(|(limit, window_s, unit)| {
            LimitSpec::FixedWindow {
                limit,
                window_s,
                unit,
            }
        }),
        (1u64..15, milli(50, 5_000), unit()).prop_map(|(limit, window_s, unit)| {
            LimitSpec::SlidingWindow {
                limit,
                window_s,
                unit,
            }
        }),
        (1u32..8).prop_map(|max_in_flight| LimitSpec::Concurrency { max_in_flight }),
    ]
}

fn per_token_ms() -> impl Strategy<Value = f64> {
    prop_oneof![3 => Just(0.0), 1 => milli(0, 5_000)]
}

/// A latency model.
pub fn latency_spec() -> impl Strategy<Value = LatencySpec> {
    prop_oneof![
        (milli(0, 400_000), per_token_ms())
            .prop_map(|(ms, per_token_ms)| LatencySpec::Fixed { ms, per_token_ms }),
        (0u64..300_000, 0u64..300_000, per_token_ms()).prop_map(|(a, b, per_token_ms)| {
            LatencySpec::Uniform {
                min_ms: a as f64 / 1000.0,
                max_ms: (a + b) as f64 / 1000.0,
                per_token_ms,
            }
        }),
        (milli(0, 300_000), milli(0, 100_000), per_token_ms()).prop_map(
            |(mean_ms, offset_ms, per_token_ms)| LatencySpec::Exponential {
                mean_ms,
                offset_ms,
                per_token_ms,
            }
        ),
        (1u64..300_000, 0u64..900_000, per_token_ms()).prop_map(|(m, extra, per_token_ms)| {
            LatencySpec::Lognormal {
                median_ms: m as f64 / 1000.0,
                p99_ms: (m + extra) as f64 / 1000.0,
                per_token_ms,
            }
        }),
    ]
}

/// An `[api]` table.
pub fn api_spec() -> impl Strategy<Value = ApiSpec> {
    let errors = proptest::option::weighted(
        0.25,
        (0u64..=1000, 500u16..600).prop_map(|(p, status)| ErrorsSpec {
            probability: p as f64 / 1000.0,
            status,
        }),
    );
    let ban = proptest::option::weighted(
        0.15,
        (1u32..10, milli(500, 60_000), milli(500, 120_000)).prop_map(
            |(after_429, within_s, duration_s)| BanSpec {
                after_429,
                within_s,
                duration_s,
            },
        ),
    );
    (
        prop::collection::vec(limit_spec(), 0..4),
        latency_spec(),
        milli(0, 20_000),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        errors,
        ban,
    )
        .prop_map(
            |(
                limits,
                latency,
                rejected_latency_ms,
                count_rejected,
                retry_after,
                headers,
                errors,
                ban,
            )| ApiSpec {
                limits,
                latency,
                rejected_latency_ms,
                count_rejected,
                retry_after,
                headers,
                errors,
                ban,
            },
        )
}

/// A `[workload]` of at most `max_requests` per client and `max_clients` clients.
pub fn workload_spec(max_requests: u64, max_clients: u32) -> impl Strategy<Value = WorkloadSpec> {
    let arrival = prop_oneof![
        2 => Just(None),
        1 => Just(Some(ArrivalSpec::AtOnce)),
        2 => milli(500, 100_000).prop_map(|rate_per_s| Some(ArrivalSpec::Poisson { rate_per_s })),
    ];
    let tokens = prop_oneof![
        2 => Just(None),
        1 => (1u64..40).prop_map(|n| Some(TokensSpec::Fixed { n })),
        1 => (1u64..25, 0u64..25).prop_map(|(min, d)| Some(TokensSpec::Uniform { min, max: min + d })),
    ];
    (1..=max_requests, 1..=max_clients, arrival, tokens).prop_map(
        |(requests, clients, arrival, tokens)| WorkloadSpec {
            requests,
            clients,
            arrival,
            tokens,
        },
    )
}

/// One admission layer.
pub fn admission_spec() -> impl Strategy<Value = AdmissionSpec> {
    prop_oneof![
        Just(AdmissionSpec::Unlimited),
        milli(0, 300_000).prop_map(|delay_ms| AdmissionSpec::FixedDelay { delay_ms }),
        (1u32..8).prop_map(|permits| AdmissionSpec::Semaphore { permits }),
        (rate_pair(), 1u64..10, unit()).prop_map(|((rate_per_s, rate_per_min), burst, unit)| {
            AdmissionSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                burst,
                unit,
            }
        }),
        milli(500, 40_000).prop_map(|rate_per_s| AdmissionSpec::LeakyBucket { rate_per_s }),
        (
            1u64..4,
            0u64..20,
            0u64..=1000,
            milli(100, 3_000),
            milli(50, 950)
        )
            .prop_map(
                |(min, span, frac, increase, decrease)| AdmissionSpec::Aimd {
                    initial: (min * 1000 + span * frac) as f64 / 1000.0,
                    min: min as f64,
                    max: (min + span) as f64,
                    increase,
                    decrease,
                }
            ),
    ]
}

fn retry_on() -> impl Strategy<Value = Vec<RetryOnSpec>> {
    (
        proptest::bool::weighted(0.85),
        proptest::bool::weighted(0.6),
        proptest::bool::weighted(0.6),
    )
        .prop_map(|(a, b, c)| {
            let mut v = vec![];
            if a {
                v.push(RetryOnSpec::RateLimited);
            }
            if b {
                v.push(RetryOnSpec::ServerError);
            }
            if c {
                v.push(RetryOnSpec::Timeout);
            }
            v
        })
}

/// A retry policy.
pub fn retry_spec() -> impl Strategy<Value = RetrySpec> {
    let jitter = prop_oneof![
        Just(JitterSpec::None),
        Just(JitterSpec::Full),
        Just(JitterSpec::Equal),
        Just(JitterSpec::Decorrelated),
    ];
    prop_oneof![
        1 => Just(RetrySpec::None),
        2 => (milli(0, 3_000_000), 1u32..6, any::<bool>(), retry_on()).prop_map(
            |(delay_ms, max_attempts, honor_retry_after, on)| RetrySpec::Fixed {
                delay_ms,
                max_attempts,
                honor_retry_after,
                on,
            }
        ),
        4 => (
            0u64..2_000_000,
            0u64..20_000_000,
            milli(1_000, 4_000),
            jitter,
            1u32..7,
            any::<bool>(),
            retry_on()
        )
            .prop_map(|(base, extra, multiplier, jitter, max_attempts, honor, on)| {
                RetrySpec::Exponential {
                    base_ms: base as f64 / 1000.0,
                    cap_ms: (base + extra) as f64 / 1000.0,
                    multiplier,
                    jitter,
                    max_attempts,
                    honor_retry_after: honor,
                    on,
                }
            }),
    ]
}

/// A circuit breaker.
pub fn breaker_spec() -> impl Strategy<Value = BreakerSpec> {
    (
        1u32..5,
        milli(0, 20_000_000),
        1u32..3,
        prop_oneof![Just(OnOpen::Wait), Just(OnOpen::Fail)],
    )
        .prop_map(
            |(consecutive_failures, open_ms, half_open_probes, on_open)| BreakerSpec {
                consecutive_failures,
                open_ms,
                half_open_probes,
                on_open,
            },
        )
}

/// A `[[strategy]]` named `name`.
pub fn strategy_spec(name: String) -> impl Strategy<Value = StrategySpec> {
    (
        prop::collection::vec(admission_spec(), 0..3),
        retry_spec(),
        proptest::option::weighted(0.3, breaker_spec()),
        proptest::option::weighted(0.25, milli(1_000, 2_000_000)),
    )
        .prop_map(
            move |(admission, retry, breaker, timeout_ms)| StrategySpec {
                name: name.clone(),
                admission,
                retry,
                breaker,
                timeout_ms,
            },
        )
}

/// A valid scenario with up to `max_requests` requests per client, `max_clients` clients and
/// `max_strategies` strategies.
pub fn scenario(
    max_requests: u64,
    max_clients: u32,
    max_strategies: usize,
) -> impl Strategy<Value = Scenario> {
    let strategies = (1..=max_strategies, text(8)).prop_flat_map(|(n, stem)| {
        (0..n)
            .map(|i| strategy_spec(format!("{stem}{i}")))
            .collect::<Vec<_>>()
    });
    (
        any::<u64>(),
        prop_oneof![milli(100, 5_000), milli(1_000, 400_000)],
        (text(12), prop_oneof![Just(String::new()), text(40)]),
        workload_spec(max_requests, max_clients),
        api_spec(),
        strategies,
        // Mostly the default; sometimes low enough for a run to stop at it, often right at it.
        prop_oneof![4 => Just(DEFAULT_MAX_REQUESTS_HELD), 1 => 1..=6u64, 1 => 1..=100u64],
    )
        .prop_map(
            |(seed, horizon_s, (name, description), workload, api, strategies, max_held)| {
                Scenario {
                    name,
                    description,
                    seed,
                    horizon_s,
                    max_requests_held: max_held,
                    workload,
                    api,
                    strategies,
                }
            },
        )
}

/// A name or description: mostly plain, sometimes with quotes, backslashes, tabs, newlines,
/// TOML punctuation, control characters and non-ASCII text, which TOML must escape and read
/// back unchanged. Never blank.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    let plain = format!("[a-z][a-z0-9-]{{0,{max}}}");
    let class = r#"[a-zA-Z0-9 _'"\\\t\n#=\[\]{}éß日本🚀\x7f\x01]"#;
    let wild = format!("{class}{{1,{max}}}");
    prop_oneof![
        3 => proptest::string::string_regex(&plain).unwrap(),
        1 => proptest::string::string_regex(&wild).unwrap(),
    ]
    .prop_filter("not blank", |s| !s.trim().is_empty())
}

// ---------------------------------------------------------------------------------------------
// The recording seam: the real built strategies and retry policies, wrapped so that every call
// the engine makes is logged (with the AIMD windows and breaker state around it). The engine is
// not changed.

/// One call the engine made into a client's strategy or retry policy.
#[derive(Clone, Debug)]
pub enum Ev {
    /// `poll_admit(t, req)` answered `admit`.
    Poll {
        t: Nanos,
        req: RequestInfo,
        admit: Admit,
    },
    /// `on_send(t, req)`; AIMD windows and breaker state just before.
    Send {
        t: Nanos,
        req: RequestInfo,
        aimd: Vec<f64>,
        breaker: Option<BreakerState>,
    },
    /// `on_response(t, resp)`; AIMD windows and breaker state before and after.
    Response {
        t: Nanos,
        resp: Response,
        aimd_before: Vec<f64>,
        aimd_after: Vec<f64>,
        breaker_before: Option<BreakerState>,
        breaker_after: Option<BreakerState>,
    },
    /// `retry_at(t, resp)` answered `at`.
    Retry {
        t: Nanos,
        resp: Response,
        at: Option<Nanos>,
    },
}

impl Ev {
    /// When it happened.
    pub fn t(&self) -> Nanos {
        match self {
            Ev::Poll { t, .. }
            | Ev::Send { t, .. }
            | Ev::Response { t, .. }
            | Ev::Retry { t, .. } => *t,
        }
    }
}

/// The log shared by every client of a run, in call order.
pub type Log = Rc<RefCell<Vec<Ev>>>;

/// A built strategy stack that logs every call.
pub struct Recording {
    log: Log,
    inner: Stack,
}

impl Recording {
    fn aimd(&self) -> Vec<f64> {
        self.inner
            .layers()
            .iter()
            .filter_map(|l| match l {
                Layer::Aimd(a) => Some(a.window()),
                _ => None,
            })
            .collect()
    }

    fn breaker(&self, now: Nanos) -> Option<BreakerState> {
        self.inner.layers().iter().find_map(|l| match l {
            Layer::Breaker(b) => Some(b.state_at(now)),
            _ => None,
        })
    }
}

impl ratelab_strategies::Strategy for Recording {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        let admit = self.inner.poll_admit(now, req);
        self.log.borrow_mut().push(Ev::Poll {
            t: now,
            req: *req,
            admit,
        });
        admit
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        let ev = Ev::Send {
            t: now,
            req: *req,
            aimd: self.aimd(),
            breaker: self.breaker(now),
        };
        self.log.borrow_mut().push(ev);
        self.inner.on_send(now, req);
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        let (aimd_before, breaker_before) = (self.aimd(), self.breaker(now));
        self.inner.on_response(now, resp);
        let ev = Ev::Response {
            t: now,
            resp: *resp,
            aimd_before,
            aimd_after: self.aimd(),
            breaker_before,
            breaker_after: self.breaker(now),
        };
        self.log.borrow_mut().push(ev);
    }
}

/// A built retry policy that logs every call.
pub struct RecordingRetry {
    log: Log,
    inner: Retry,
}

impl RetryPolicy for RecordingRetry {
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Option<Nanos> {
        let at = self.inner.retry_at(now, resp);
        self.log.borrow_mut().push(Ev::Retry {
            t: now,
            resp: *resp,
            at,
        });
        at
    }
}

/// Runs one strategy of a scenario through the real engine with the recording seam.
pub fn run_recorded(
    scenario: &Scenario,
    spec: &StrategySpec,
    seed: u64,
) -> (StrategyResult, Vec<Ev>) {
    let log: Log = Rc::default();
    let draws = Draws::new(seed);
    let result = simulate(
        scenario,
        seed,
        &spec.name,
        |_client| {
            let built = spec.build(draws);
            ClientSetup {
                strategy: Recording {
                    log: log.clone(),
                    inner: built.stack,
                },
                retry: RecordingRetry {
                    log: log.clone(),
                    inner: built.retry,
                },
                timeout: built.timeout,
            }
        },
        None,
    );
    let events = log.borrow().clone();
    (result, events)
}

// ---------------------------------------------------------------------------------------------
// Naive reference limits: logs kept as plain vectors, every decision by brute force.

/// A naive version of one API limit.
#[derive(Clone, Debug)]
pub enum NaiveLimit {
    /// Every take kept and replayed from t = 0 in i128 rational arithmetic; waits by binary
    /// search (no rounded division).
    Bucket {
        milli: i128,
        unit: i128,
        burst: i128,
        by_tokens: bool,
        takes: Vec<(Nanos, u64)>,
    },
    /// Every counted entry; the window of `t` is `t / window`.
    Fixed {
        limit: u64,
        window: Nanos,
        by_tokens: bool,
        log: Vec<(Nanos, u64)>,
    },
    /// Every counted entry; an entry at `t` counts while `now < t + window`.
    Sliding {
        limit: u64,
        window: Nanos,
        by_tokens: bool,
        log: Vec<(Nanos, u64)>,
    },
    /// The end of every admitted request.
    Concurrency { max: usize, ends: Vec<Nanos> },
}

impl NaiveLimit {
    /// The reference for a limit spec.
    pub fn new(spec: &LimitSpec) -> Self {
        let by_tokens = spec.unit() == Unit::Tokens;
        match spec {
            LimitSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                burst,
                ..
            } => {
                let rate = RateSpec::of(*rate_per_s, *rate_per_min).rate();
                NaiveLimit::Bucket {
                    milli: i128::from(rate.milli_per_period),
                    unit: i128::from(rate.period) * 1000,
                    burst: i128::from(*burst),
                    by_tokens,
                    takes: vec![],
                }
            }
            LimitSpec::FixedWindow {
                limit, window_s, ..
            } => NaiveLimit::Fixed {
                limit: *limit,
                window: secs_to_nanos(*window_s).max(1),
                by_tokens,
                log: vec![],
            },
            LimitSpec::SlidingWindow {
                limit, window_s, ..
            } => NaiveLimit::Sliding {
                limit: *limit,
                window: secs_to_nanos(*window_s).max(1),
                by_tokens,
                log: vec![],
            },
            LimitSpec::Concurrency { max_in_flight } => NaiveLimit::Concurrency {
                max: *max_in_flight as usize,
                ends: vec![],
            },
        }
    }

    fn cost(&self, tokens: u64) -> u64 {
        let by_tokens = match self {
            NaiveLimit::Bucket { by_tokens, .. }
            | NaiveLimit::Fixed { by_tokens, .. }
            | NaiveLimit::Sliding { by_tokens, .. } => *by_tokens,
            NaiveLimit::Concurrency { .. } => false,
        };
        if by_tokens { tokens } else { 1 }
    }

    /// Heavier than the limit can ever hold.
    pub fn never_fits(&self, tokens: u64) -> bool {
        let n = self.cost(tokens);
        match self {
            NaiveLimit::Bucket { burst, .. } => i128::from(n) > *burst,
            NaiveLimit::Fixed { limit, .. } | NaiveLimit::Sliding { limit, .. } => n > *limit,
            NaiveLimit::Concurrency { .. } => false,
        }
    }

    fn bucket_level(
        milli: i128,
        unit: i128,
        burst: i128,
        takes: &[(Nanos, u64)],
        now: Nanos,
    ) -> i128 {
        let cap = burst * unit;
        let (mut level, mut t0) = (cap, 0);
        for &(t, n) in takes.iter().filter(|(t, _)| *t <= now) {
            level = (level + milli * i128::from(t - t0)).min(cap) - i128::from(n) * unit;
            t0 = t;
        }
        (level + milli * i128::from(now - t0)).min(cap)
    }

    /// How long from `now` until a request of `tokens` would pass this limit (0: now).
    pub fn wait(&self, now: Nanos, tokens: u64) -> Nanos {
        let n = self.cost(tokens);
        match self {
            NaiveLimit::Bucket {
                milli,
                unit,
                burst,
                takes,
                ..
            } => {
                let need = i128::from(n) * unit;
                let ok =
                    |d: Nanos| Self::bucket_level(*milli, *unit, *burst, takes, now + d) >= need;
                if ok(0) {
                    return 0;
                }
                // Up to 2^62 ns (146 years): a deep run found a 13-day wait (a debt at 0.001/min)
                // beyond an earlier bound of 2^50 ns.
                let (mut lo, mut hi) = (0u64, 1u64 << 62);
                while lo + 1 < hi {
                    let mid = lo + (hi - lo) / 2;
                    if ok(mid) { hi = mid } else { lo = mid }
                }
                hi
            }
            NaiveLimit::Fixed {
                limit, window, log, ..
            } => {
                let index = now / window;
                let used: u64 = log
                    .iter()
                    .filter(|(t, _)| t / window == index)
                    .map(|e| e.1)
                    .sum();
                if used + n <= *limit {
                    0
                } else {
                    (index + 1) * window - now
                }
            }
            NaiveLimit::Sliding {
                limit, window, log, ..
            } => {
                let used_at = |at: Nanos| -> u64 {
                    log.iter()
                        .filter(|(t, _)| at < t + window)
                        .map(|e| e.1)
                        .sum()
                };
                let mut candidates: Vec<Nanos> = log
                    .iter()
                    .filter(|(t, _)| now < t + window)
                    .map(|(t, _)| t + window - now)
                    .collect();
                candidates.push(0);
                candidates.sort_unstable();
                candidates
                    .into_iter()
                    .find(|&d| used_at(now + d) + n <= *limit)
                    .unwrap_or(0)
            }
            NaiveLimit::Concurrency { max, ends } => {
                let mut active: Vec<Nanos> = ends.iter().copied().filter(|&e| e > now).collect();
                if active.len() < *max {
                    0
                } else {
                    active.sort_unstable();
                    active[active.len() - max] - now
                }
            }
        }
    }

    /// Counts a request of `tokens` at `now`, served until `end`.
    pub fn commit(&mut self, now: Nanos, tokens: u64, end: Nanos) {
        let n = self.cost(tokens);
        match self {
            NaiveLimit::Bucket { takes, .. } => takes.push((now, n)),
            NaiveLimit::Fixed { log, .. } | NaiveLimit::Sliding { log, .. } => log.push((now, n)),
            NaiveLimit::Concurrency { ends, .. } => ends.push(end),
        }
    }

    /// Is this the concurrency limit?
    pub fn is_concurrency(&self) -> bool {
        matches!(self, NaiveLimit::Concurrency { .. })
    }

    /// Does it count tokens?
    pub fn by_tokens(&self) -> bool {
        match self {
            NaiveLimit::Bucket { by_tokens, .. }
            | NaiveLimit::Fixed { by_tokens, .. }
            | NaiveLimit::Sliding { by_tokens, .. } => *by_tokens,
            NaiveLimit::Concurrency { .. } => false,
        }
    }

    /// Units left at `now` and the time until the limit is fully available again.
    pub fn headroom(&self, now: Nanos) -> (u64, Nanos) {
        match self {
            NaiveLimit::Bucket {
                milli,
                unit,
                burst,
                takes,
                ..
            } => {
                let level = Self::bucket_level(*milli, *unit, *burst, takes, now);
                let full = |d: Nanos| {
                    Self::bucket_level(*milli, *unit, *burst, takes, now + d) >= burst * unit
                };
                let reset = if full(0) {
                    0
                } else {
                    let (mut lo, mut hi) = (0u64, 1u64 << 62);
                    while lo + 1 < hi {
                        let mid = lo + (hi - lo) / 2;
                        if full(mid) { hi = mid } else { lo = mid }
                    }
                    hi
                };
                ((level.max(0) / unit) as u64, reset)
            }
            NaiveLimit::Fixed {
                limit, window, log, ..
            } => {
                let index = now / window;
                let used: u64 = log
                    .iter()
                    .filter(|(t, _)| t / window == index)
                    .map(|e| e.1)
                    .sum();
                let reset = if used == 0 {
                    0
                } else {
                    (index + 1) * window - now
                };
                (limit.saturating_sub(used), reset)
            }
            NaiveLimit::Sliding {
                limit, window, log, ..
            } => {
                let active: Vec<&(Nanos, u64)> =
                    log.iter().filter(|(t, _)| now < t + window).collect();
                let used: u64 = active.iter().map(|e| e.1).sum();
                let reset = active
                    .iter()
                    .map(|(t, _)| t + window - now)
                    .max()
                    .unwrap_or(0);
                (limit.saturating_sub(used), reset)
            }
            NaiveLimit::Concurrency { max, ends } => {
                let active: Vec<Nanos> = ends.iter().copied().filter(|&e| e > now).collect();
                let reset = active.iter().map(|e| e - now).max().unwrap_or(0);
                (max.saturating_sub(active.len()) as u64, reset)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Invariant checkers. Each returns a description of the first violation.

/// `Err(message)` unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {{
        let ok: bool = $cond;
        if !ok {
            return Err(format!($($fmt)+));
        }
    }};
}

/// An attempt the API admitted: sent at `sent`, weighing `tokens`, served until `end` (`None`
/// when the client timed out first and the end is unknown).
#[derive(Clone, Copy, Debug)]
pub struct Admitted {
    pub sent: Nanos,
    pub tokens: u64,
    pub end: Option<Nanos>,
}

/// The limit's promise over admitted attempts (sorted by `sent`): a token bucket never more than
/// burst + rate·T in any window of length T, a fixed window never more than its limit per
/// aligned window, a sliding window never more than its limit in ANY window of its length, a
/// concurrency limit never more than max in flight. Token-weighted limits count tokens.
pub fn check_limit(spec: &LimitSpec, admitted: &[Admitted]) -> Result<(), String> {
    let by_tokens = spec.unit() == Unit::Tokens;
    let cost = |a: &Admitted| if by_tokens { a.tokens } else { 1 };
    match spec {
        LimitSpec::TokenBucket {
            rate_per_s,
            rate_per_min,
            burst,
            ..
        } => {
            let rate: Rate = RateSpec::of(*rate_per_s, *rate_per_min).rate();
            let unit = u128::from(rate.period) * 1000;
            for i in 0..admitted.len() {
                let mut sum = 0u128;
                for j in i..admitted.len() {
                    sum += u128::from(cost(&admitted[j]));
                    let dt = u128::from(admitted[j].sent - admitted[i].sent);
                    ensure!(
                        sum.saturating_sub(u128::from(*burst)) * unit
                            <= u128::from(rate.milli_per_period) * dt,
                        "{spec:?}: {sum} admitted in {dt} ns (attempts {i}..={j}), more than burst + rate·T"
                    );
                }
            }
        }
        LimitSpec::FixedWindow {
            limit, window_s, ..
        } => {
            let w = secs_to_nanos(*window_s).max(1);
            let mut per: BTreeMap<Nanos, u64> = BTreeMap::new();
            for a in admitted {
                *per.entry(a.sent / w).or_default() += cost(a);
            }
            for (k, n) in per {
                ensure!(
                    n <= *limit,
                    "{spec:?}: {n} admitted in window {k}, limit {limit}"
                );
            }
        }
        LimitSpec::SlidingWindow {
            limit, window_s, ..
        } => {
            // Any window's content is a subset of the window starting at its first attempt.
            let w = secs_to_nanos(*window_s).max(1);
            for (i, a) in admitted.iter().enumerate() {
                let n: u64 = admitted[i..]
                    .iter()
                    .take_while(|b| b.sent < a.sent + w)
                    .map(cost)
                    .sum();
                ensure!(
                    n <= *limit,
                    "{spec:?}: {n} admitted in [{}, {}+{w}), limit {limit}",
                    a.sent,
                    a.sent
                );
            }
        }
        LimitSpec::Concurrency { max_in_flight } => {
            for a in admitted {
                let n = admitted
                    .iter()
                    .filter(|b| b.sent <= a.sent && b.end.is_some_and(|e| e > a.sent))
                    .count();
                ensure!(
                    n <= *max_in_flight as usize,
                    "{spec:?}: {n} in flight at {}",
                    a.sent
                );
            }
        }
    }
    Ok(())
}

/// For sends (time, cost) of one client, sorted: cost in every window ≤ burst + rate·T.
fn check_client_bucket(sends: &[(Nanos, u64)], rate: Rate, burst: u64) -> Result<(), String> {
    let unit = u128::from(rate.period) * 1000;
    for i in 0..sends.len() {
        let mut sum = 0u128;
        for j in i..sends.len() {
            sum += u128::from(sends[j].1);
            let dt = u128::from(sends[j].0 - sends[i].0);
            ensure!(
                sum.saturating_sub(u128::from(burst)) * unit
                    <= u128::from(rate.milli_per_period) * dt,
                "client token bucket {rate:?} burst {burst}: cost {sum} sent in {dt} ns"
            );
        }
    }
    Ok(())
}

/// What a request ended as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Final {
    Succeeded,
    DeadLettered,
    Rejected,
}

fn max_attempts(spec: &StrategySpec) -> u32 {
    match spec.retry {
        RetrySpec::None => 1,
        RetrySpec::Fixed { max_attempts, .. } | RetrySpec::Exponential { max_attempts, .. } => {
            max_attempts
        }
    }
}

fn honors_retry_after(spec: &StrategySpec) -> bool {
    match spec.retry {
        RetrySpec::None => false,
        RetrySpec::Fixed {
            honor_retry_after, ..
        }
        | RetrySpec::Exponential {
            honor_retry_after, ..
        } => honor_retry_after,
    }
}

/// Checks one recorded run of `spec` against everything the engine, the API model, the
/// strategy's layers and the result promise.
pub fn check_run(
    sc: &Scenario,
    spec: &StrategySpec,
    seed: u64,
    res: &StrategyResult,
    log: &[Ev],
) -> Result<(), String> {
    let wl = &sc.workload;
    let draws = Draws::new(seed);
    let horizon = sc.horizon();
    let timeout = spec.build(draws).timeout;
    let mut reference_retry = spec.retry.build(draws);
    let max_attempts = max_attempts(spec);
    let rejected_latency = ms_to_nanos(sc.api.rejected_latency_ms);

    let mut last_t = 0;
    // What the engine holds: a slab slot for each attempt ever in flight at once (the slab only
    // grows) plus the retries waiting (`due`). A send that needs a new slot is refused when the
    // requests held would then be more than `max_requests_held`, and a retry that makes them
    // more stops the run; either way nothing more is sent (a client still being asked at that
    // instant is refused), and the run ends with that instant.
    let max_held = sc.max_requests_held;
    let (mut in_flight, mut peak_in_flight) = (0u64, 0u64);
    // A poll answered `Now` whose send has not been seen yet.
    let mut admitted_now: Option<RequestInfo> = None;
    // When the limit stopped the run.
    let mut held_stop: Option<Nanos> = None;
    let mut sent: BTreeMap<(u32, u64, u32), Nanos> = BTreeMap::new();
    let mut flying: BTreeSet<(u32, u64, u32)> = BTreeSet::new();
    let mut due: BTreeMap<(u32, u64, u32), Nanos> = BTreeMap::new();
    let mut finals: BTreeMap<(u32, u64), Final> = BTreeMap::new();
    let mut next_fresh = vec![0u64; wl.clients as usize];
    let mut admitted: Vec<Admitted> = vec![];
    let (mut sends, mut http_429) = (0u64, 0u64);
    let mut last_reply_at: BTreeMap<(u32, u64, u32), Nanos> = BTreeMap::new();
    // (time, attempts, final, end-to-end latency of a success) of every final state.
    let mut final_log: Vec<(Nanos, u32, u32, Final, Nanos)> = vec![];
    let mut send_times: Vec<Nanos> = vec![];
    // (time, client, +1 for a send / -1 for a reply): attempts in flight over time.
    let mut flight_changes: Vec<(Nanos, u32, i64)> = vec![];
    let mut replies: Vec<(Nanos, u32, Response)> = vec![];
    // When each request is ready: t = 0, or the sum of its client's Poisson gaps so far.
    let ready: Vec<Vec<Nanos>> = (0..wl.clients)
        .map(|c| {
            let mut at = 0u64;
            (0..wl.requests)
                .map(|id| {
                    at = at.saturating_add(wl.arrival_gap(&draws, c, id).unwrap_or(0));
                    at
                })
                .collect()
        })
        .collect();

    // A poll answered `Now` and not sent: the engine refused it for want of memory.
    let refused = |req: RequestInfo, in_flight: u64, peak: u64, waiting: u64| {
        let held = peak + 1 + waiting - u64::from(req.attempt > 1);
        ensure!(
            in_flight == peak && held > max_held,
            "{req:?} admitted but not sent, holding {peak} slots ({in_flight} in flight) and \
             {waiting} retries of max_requests_held = {max_held}"
        );
        Ok(())
    };
    for ev in log {
        let t = ev.t();
        if let Some(req) = admitted_now.take()
            && !matches!(ev, Ev::Send { req: sent, .. } if *sent == req)
            && held_stop.is_none()
        {
            refused(req, in_flight, peak_in_flight, due.len() as u64)?;
            held_stop = Some(last_t);
        }
        if let Some(at) = held_stop {
            ensure!(
                t == at && !matches!(ev, Ev::Send { .. }),
                "{ev:?} after the memory limit stopped the run at {at}"
            );
        }
        ensure!(
            t >= last_t,
            "virtual time went backwards: {t} after {last_t} ({ev:?})"
        );
        ensure!(t <= horizon, "an event at {t}, after the horizon {horizon}");
        last_t = t;
        match ev {
            Ev::Poll { req, admit, .. } => {
                let key = (req.client, req.id);
                ensure!(!finals.contains_key(&key), "polled a final request {req:?}");
                if *admit == Admit::Reject {
                    ensure!(
                        spec.breaker
                            .as_ref()
                            .is_some_and(|b| b.on_open == OnOpen::Fail),
                        "Reject without a fail-fast breaker"
                    );
                    finals.insert(key, Final::Rejected);
                    final_log.push((t, req.client, req.attempt - 1, Final::Rejected, 0));
                    if req.attempt == 1 {
                        let nf = &mut next_fresh[req.client as usize];
                        ensure!(
                            req.id == *nf,
                            "fresh request {} out of order (next {nf})",
                            req.id
                        );
                        *nf += 1;
                    } else {
                        due.remove(&(req.client, req.id, req.attempt));
                    }
                }
            }
            Ev::Send { req, .. } => {
                let key = (req.client, req.id, req.attempt);
                ensure!(
                    !finals.contains_key(&(req.client, req.id)),
                    "sent a final request {req:?}"
                );
                ensure!(sent.insert(key, t).is_none(), "attempt sent twice: {req:?}");
                ensure!(
                    req.attempt >= 1 && req.attempt <= max_attempts,
                    "attempt {} beyond max_attempts {max_attempts}",
                    req.attempt
                );
                ensure!(
                    req.tokens == wl.tokens_of(&draws, req.client, req.id),
                    "request {req:?} does not weigh its drawn tokens"
                );
                if req.attempt == 1 {
                    let nf = &mut next_fresh[req.client as usize];
                    ensure!(
                        req.id == *nf,
                        "fresh request {} out of order (next {nf})",
                        req.id
                    );
                    *nf += 1;
                    let arrives = ready[req.client as usize][req.id as usize];
                    ensure!(
                        t >= arrives,
                        "{req:?} sent at {t} before it arrived at {arrives}"
                    );
                    let waiting = due
                        .iter()
                        .find(|((c, _, _), d)| *c == req.client && **d <= t);
                    ensure!(
                        waiting.is_none(),
                        "fresh request {} sent at {t} while retry {waiting:?} was due",
                        req.id
                    );
                } else {
                    let at = due.remove(&key);
                    ensure!(
                        at.is_some_and(|at| t >= at),
                        "retry {req:?} sent at {t}, due {at:?}"
                    );
                    if honors_retry_after(spec)
                        && let Some(prev) =
                            last_reply_at.get(&(req.client, req.id, req.attempt - 1))
                    {
                        ensure!(t >= *prev, "Retry-After undercut for {req:?}");
                    }
                }
                flying.insert(key);
                sends += 1;
                send_times.push(t);
                flight_changes.push((t, req.client, 1));
            }
            Ev::Response { resp, .. } => {
                let r = resp.request;
                let key = (r.client, r.id, r.attempt);
                ensure!(
                    flying.remove(&key),
                    "a reply to an attempt not in flight: {r:?}"
                );
                ensure!(
                    sent.get(&key) == Some(&resp.sent_at),
                    "reply's sent_at is wrong: {resp:?}"
                );
                ensure!(
                    t == resp.sent_at + resp.latency,
                    "reply at {t} is not sent + latency: {resp:?}"
                );
                match resp.status {
                    0 => ensure!(
                        Some(resp.latency) == timeout,
                        "timeout after {} not {timeout:?}",
                        resp.latency
                    ),
                    429 | 413 => {
                        ensure!(
                            resp.latency == rejected_latency,
                            "rejection latency {} not {rejected_latency}",
                            resp.latency
                        );
                        if resp.status == 429 {
                            http_429 += 1;
                            ensure!(
                                resp.retry_after.is_some() == sc.api.retry_after
                                    && resp
                                        .retry_after
                                        .is_none_or(|ra| ra >= SECOND && ra % SECOND == 0),
                                "Retry-After {:?} with retry_after = {}",
                                resp.retry_after,
                                sc.api.retry_after
                            );
                        }
                    }
                    _ => {
                        let expected = sc
                            .api
                            .latency
                            .sample(&draws, r.client, r.id, r.attempt, r.tokens);
                        ensure!(
                            resp.latency == expected,
                            "common random numbers: latency of {r:?} is {} not the drawn {expected}",
                            resp.latency
                        );
                        ensure!(
                            timeout.is_none_or(|l| resp.latency <= l),
                            "reply slower than the timeout"
                        );
                        admitted.push(Admitted {
                            sent: resp.sent_at,
                            tokens: r.tokens,
                            end: Some(t),
                        });
                    }
                }
                // A timed-out attempt may or may not have been admitted: it is left out of the
                // API checks (a subset of what was admitted must respect the limits too).
                if resp.outcome == ratelab_strategies::Outcome::Success {
                    ensure!(
                        finals.insert((r.client, r.id), Final::Succeeded).is_none(),
                        "{r:?} reached a second final state"
                    );
                    let e2e = t - ready[r.client as usize][r.id as usize];
                    final_log.push((t, r.client, r.attempt, Final::Succeeded, e2e));
                }
                replies.push((t, r.client, *resp));
                flight_changes.push((t, r.client, -1));
                last_reply_at.insert(
                    key,
                    t + if honors_retry_after(spec) {
                        resp.retry_after.unwrap_or(0)
                    } else {
                        0
                    },
                );
            }
            Ev::Retry { resp, at, .. } => {
                let r = resp.request;
                ensure!(
                    resp.outcome != ratelab_strategies::Outcome::Success,
                    "retry_at asked about a success"
                );
                let expected = reference_retry.retry_at(t, resp);
                ensure!(
                    *at == expected,
                    "retry policy answered {at:?}, reference {expected:?}"
                );
                match at {
                    Some(at) => {
                        ensure!(*at >= t, "retry scheduled in the past");
                        ensure!(r.attempt < max_attempts, "retry beyond max_attempts");
                        if honors_retry_after(spec)
                            && let Some(ra) = resp.retry_after
                        {
                            ensure!(
                                *at >= t + ra,
                                "Retry-After {ra} undercut: retry at {at}, reply at {t}"
                            );
                        }
                        due.insert((r.client, r.id, r.attempt + 1), *at);
                    }
                    None => {
                        ensure!(
                            finals
                                .insert((r.client, r.id), Final::DeadLettered)
                                .is_none(),
                            "{r:?} reached a second final state"
                        );
                        final_log.push((t, r.client, r.attempt, Final::DeadLettered, 0));
                    }
                }
            }
        }
        match ev {
            Ev::Poll {
                req,
                admit: Admit::Now,
                ..
            } => admitted_now = Some(*req),
            Ev::Send { .. } => in_flight += 1,
            Ev::Response { .. } => in_flight -= 1,
            _ => {}
        }
        peak_in_flight = peak_in_flight.max(in_flight);
        if peak_in_flight + due.len() as u64 > max_held && held_stop.is_none() {
            // Only a retry can make it more, and it stops the run.
            ensure!(
                matches!(ev, Ev::Retry { at: Some(_), .. }),
                "{} requests held after {ev:?}, over max_requests_held = {max_held}",
                peak_in_flight + due.len() as u64
            );
            held_stop = Some(t);
        }
    }
    if let Some(req) = admitted_now
        && held_stop.is_none()
    {
        refused(req, in_flight, peak_in_flight, due.len() as u64)?;
        held_stop = Some(last_t);
    }

    // Conservation, by our own tally and by the result's.
    let count = |c: Option<u32>, f: Final| {
        finals
            .iter()
            .filter(|((cl, _), v)| **v == f && c.is_none_or(|c| c == *cl))
            .count() as u64
    };
    let total = wl.requests * u64::from(wl.clients);
    ensure!(
        res.requests == total,
        "requests {} != {total}",
        res.requests
    );
    ensure!(
        res.succeeded == count(None, Final::Succeeded),
        "succeeded {} but {} observed",
        res.succeeded,
        count(None, Final::Succeeded)
    );
    ensure!(
        res.dead_lettered == count(None, Final::DeadLettered),
        "dead_lettered {} but {} observed",
        res.dead_lettered,
        count(None, Final::DeadLettered)
    );
    ensure!(
        res.rejected_by_breaker == count(None, Final::Rejected),
        "rejected_by_breaker {} but {} observed",
        res.rejected_by_breaker,
        count(None, Final::Rejected)
    );
    ensure!(
        res.succeeded + res.dead_lettered + res.rejected_by_breaker + res.in_flight_at_horizon
            == total,
        "conservation: {} + {} + {} + {} != {total}",
        res.succeeded,
        res.dead_lettered,
        res.rejected_by_breaker,
        res.in_flight_at_horizon
    );
    ensure!(
        res.finished == (res.in_flight_at_horizon == 0),
        "finished = {} with {} not final",
        res.finished,
        res.in_flight_at_horizon
    );
    ensure!(
        res.attempts == sends,
        "attempts {} but {sends} sends",
        res.attempts
    );
    ensure!(
        res.http_429 == http_429,
        "http_429 {} but {http_429} seen",
        res.http_429
    );
    if wl.clients > 1 {
        ensure!(
            res.clients.len() == wl.clients as usize,
            "{} client results",
            res.clients.len()
        );
        let (mut s, mut d, mut r, mut f) = (0, 0, 0, 0);
        for cr in &res.clients {
            let c = Some(cr.client);
            ensure!(
                cr.requests == wl.requests,
                "client {} requests {}",
                cr.client,
                cr.requests
            );
            ensure!(
                cr.succeeded == count(c, Final::Succeeded),
                "client {} succeeded",
                cr.client
            );
            ensure!(
                cr.dead_lettered == count(c, Final::DeadLettered),
                "client {} dead_lettered",
                cr.client
            );
            ensure!(
                cr.rejected_by_breaker == count(c, Final::Rejected),
                "client {} rejected",
                cr.client
            );
            ensure!(
                cr.succeeded + cr.dead_lettered + cr.rejected_by_breaker + cr.in_flight_at_horizon
                    == cr.requests,
                "client {} does not add up",
                cr.client
            );
            s += cr.succeeded;
            d += cr.dead_lettered;
            r += cr.rejected_by_breaker;
            f += cr.in_flight_at_horizon;
        }
        ensure!(
            (s, d, r, f)
                == (
                    res.succeeded,
                    res.dead_lettered,
                    res.rejected_by_breaker,
                    res.in_flight_at_horizon
                ),
            "clients do not add up to the total"
        );
    }

    // When the run ended: its last final state, the instant it met its memory limit, or the
    // horizon.
    let end = if res.finished {
        final_log.iter().map(|f| f.0).max().unwrap_or(0)
    } else if let Some(at) = held_stop {
        ensure!(
            res.stop == StopReason::MemoryLimit,
            "the memory limit stopped the run at {at}, but the result says {:?}",
            res.stop
        );
        at
    } else {
        horizon
    };
    ensure!(
        (res.stop == StopReason::MemoryLimit) == (held_stop.is_some() && !res.finished),
        "stop {:?}, but the memory limit {} the run",
        res.stop,
        if held_stop.is_some() {
            "stopped"
        } else {
            "never stopped"
        }
    );
    check_metrics(res, &send_times, &replies, &final_log, end)?;
    check_in_flight(
        "series.in_flight",
        &res.series.in_flight,
        &flight_changes,
        None,
        end,
    )?;
    for cr in &res.clients {
        check_in_flight(
            &format!("clients[{}].series.in_flight", cr.client),
            &cr.series.in_flight,
            &flight_changes,
            Some(cr.client),
            end,
        )?;
    }

    // The API's limits hold over what it admitted (all clients together).
    admitted.sort_by_key(|a| a.sent);
    for limit in &sc.api.limits {
        check_limit(limit, &admitted)?;
    }

    // Each client's layers keep their promises.
    for c in 0..wl.clients {
        check_layers(spec, c, log)?;
    }
    Ok(())
}

/// The result's metrics against the calls observed: per-second series, attempts histograms,
/// dead letters, status counts, makespan, goodput and the end-to-end latency summary.
fn check_metrics(
    res: &StrategyResult,
    send_times: &[Nanos],
    replies: &[(Nanos, u32, Response)],
    final_log: &[(Nanos, u32, u32, Final, Nanos)],
    end: Nanos,
) -> Result<(), String> {
    use ratelab_strategies::Outcome;
    let per_second = |times: &mut dyn Iterator<Item = Nanos>| {
        let mut v: Vec<u64> = vec![];
        for t in times {
            let i = (t / SECOND) as usize;
            if v.len() <= i {
                v.resize(i + 1, 0);
            }
            v[i] += 1;
        }
        v
    };
    let trim = |v: &[u64]| {
        let n = v.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
        v[..n].to_vec()
    };
    ensure!(
        !matches!(res.stop, StopReason::Stalled),
        "the run stalled: work pending and nothing left to happen"
    );
    let sends = per_second(&mut send_times.iter().copied());
    ensure!(
        trim(&res.series.sends) == sends,
        "series.sends {:?} but sends per second {sends:?}",
        res.series.sends
    );
    let successes = per_second(
        &mut final_log
            .iter()
            .filter(|f| f.3 == Final::Succeeded)
            .map(|f| f.0),
    );
    ensure!(
        trim(&res.series.successes) == successes,
        "series.successes {:?} but {successes:?}",
        res.series.successes
    );
    let limited = per_second(
        &mut replies
            .iter()
            .filter(|r| r.2.outcome == Outcome::RateLimited)
            .map(|r| r.0),
    );
    ensure!(
        trim(&res.series.http_429) == limited,
        "series.http_429 {:?} but {limited:?}",
        res.series.http_429
    );
    let lens = [
        res.series.sends.len(),
        res.series.successes.len(),
        res.series.http_429.len(),
        res.series.in_flight.len(),
    ];
    ensure!(
        lens.iter().all(|&l| l == lens[0]),
        "series of different lengths {lens:?}"
    );
    ensure!(
        res.series.in_flight.iter().all(|&x| x >= 0.0),
        "negative in-flight"
    );

    let count = |f: &dyn Fn(&Response) -> bool| replies.iter().filter(|r| f(&r.2)).count() as u64;
    ensure!(
        res.http_5xx == count(&|r| r.outcome == Outcome::ServerError),
        "http_5xx {}",
        res.http_5xx
    );
    ensure!(
        res.http_413 == count(&|r| r.status == 413),
        "http_413 {}",
        res.http_413
    );
    ensure!(
        res.timeouts == count(&|r| r.outcome == Outcome::Timeout),
        "timeouts {}",
        res.timeouts
    );

    let histogram = |kind: Final| {
        let mut v: Vec<u64> = vec![];
        for f in final_log.iter().filter(|f| f.3 == kind) {
            let i = f.2.max(1) as usize - 1;
            if v.len() <= i {
                v.resize(i + 1, 0);
            }
            v[i] += 1;
        }
        v
    };
    ensure!(
        res.attempts_histogram.succeeded == histogram(Final::Succeeded),
        "attempts_histogram.succeeded {:?} but {:?}",
        res.attempts_histogram.succeeded,
        histogram(Final::Succeeded)
    );
    ensure!(
        res.attempts_histogram.dead_lettered == histogram(Final::DeadLettered),
        "attempts_histogram.dead_lettered {:?} but {:?}",
        res.attempts_histogram.dead_lettered,
        histogram(Final::DeadLettered)
    );
    let by_status: u64 = res.dead_letter.by_last_status.values().sum();
    ensure!(
        by_status == res.dead_lettered,
        "dead letters by status add up to {by_status}"
    );
    ensure!(
        res.dead_letter.first.len() as u64 == res.dead_lettered.min(20),
        "{} dead letters listed",
        res.dead_letter.first.len()
    );

    let makespan = end;
    ensure!(
        res.makespan_s == makespan as f64 / 1e9,
        "makespan_s {} but {} (finished {})",
        res.makespan_s,
        makespan as f64 / 1e9,
        res.finished
    );
    let goodput = if res.makespan_s > 0.0 {
        res.succeeded as f64 / res.makespan_s
    } else {
        0.0
    };
    ensure!(
        res.goodput_rps == goodput,
        "goodput_rps {} but {goodput}",
        res.goodput_rps
    );

    let e2e: Vec<Nanos> = final_log
        .iter()
        .filter(|f| f.3 == Final::Succeeded)
        .map(|f| f.4)
        .collect();
    let l = &res.latency_s;
    ensure!(
        l.count == e2e.len() as u64,
        "latency_s.count {} but {} successes",
        l.count,
        e2e.len()
    );
    if let Some(&max) = e2e.iter().max() {
        let max_s = max as f64 / 1e9;
        ensure!(
            l.max == max_s,
            "latency_s.max {} but the slowest success took {max_s} s",
            l.max
        );
        ensure!(
            l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
            "latency percentiles out of order: {l:?}"
        );
        let sum: u128 = e2e.iter().map(|&x| u128::from(x)).sum();
        let mean = sum as f64 / e2e.len() as f64 / 1e9;
        ensure!(
            (l.mean - mean).abs() <= mean * 1e-12 && l.mean <= l.max,
            "latency_s.mean {} but the successes' mean is {mean} s",
            l.mean
        );
    }
    Ok(())
}

/// The per-second mean of attempts in flight (time-weighted, to a thousandth) against the
/// exact integral of the observed sends and replies up to `end`.
fn check_in_flight(
    what: &str,
    series: &[f64],
    changes: &[(Nanos, u32, i64)],
    client: Option<u32>,
    end: Nanos,
) -> Result<(), String> {
    let mut integral: Vec<u128> = vec![];
    let (mut level, mut since) = (0i64, 0u64);
    let mut add = |from: Nanos, to: Nanos, level: i64| {
        let mut t = from;
        while t < to {
            let sec = t / SECOND;
            let stop = to.min((sec + 1) * SECOND);
            let i = sec as usize;
            if integral.len() <= i {
                integral.resize(i + 1, 0);
            }
            integral[i] += level as u128 * u128::from(stop - t);
            t = stop;
        }
    };
    for &(t, c, d) in changes {
        if client.is_some_and(|x| x != c) {
            continue;
        }
        if level > 0 {
            add(since, t, level);
        }
        since = t;
        level += d;
        ensure!(level >= 0, "{what}: more replies than sends at {t}");
    }
    if level > 0 {
        add(since, end, level);
    }
    for (i, &got) in series.iter().enumerate() {
        let ns = integral.get(i).copied().unwrap_or(0);
        let covered = end.saturating_sub(i as u64 * SECOND).clamp(1, SECOND);
        let expected = (ns as f64 / covered as f64 * 1000.0).round() / 1000.0;
        ensure!(
            got == expected,
            "{what}[{i}] = {got}, the calls give {expected}"
        );
    }
    ensure!(
        integral.iter().skip(series.len()).all(|&x| x == 0),
        "{what}: {} seconds, but attempts were in flight later",
        series.len()
    );
    Ok(())
}

/// The invariants of every admission layer and of the breaker, over one client's calls.
fn check_layers(spec: &StrategySpec, c: u32, log: &[Ev]) -> Result<(), String> {
    let mine = |e: &&Ev| match e {
        Ev::Poll { req, .. } | Ev::Send { req, .. } => req.client == c,
        Ev::Response { resp, .. } | Ev::Retry { resp, .. } => resp.request.client == c,
    };
    let events: Vec<&Ev> = log.iter().filter(mine).collect();
    let sends: Vec<(Nanos, RequestInfo)> = events
        .iter()
        .filter_map(|e| match e {
            Ev::Send { t, req, .. } => Some((*t, *req)),
            _ => None,
        })
        .collect();
    let mut aimd_index = 0;
    for layer in &spec.admission {
        match layer {
            AdmissionSpec::Unlimited => {}
            AdmissionSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                burst,
                unit,
            } => {
                let costs: Vec<(Nanos, u64)> = sends
                    .iter()
                    .map(|(t, r)| {
                        (
                            *t,
                            if *unit == Unit::Tokens {
                                r.tokens.min(*burst)
                            } else {
                                1
                            },
                        )
                    })
                    .collect();
                check_client_bucket(
                    &costs,
                    RateSpec::of(*rate_per_s, *rate_per_min).rate(),
                    *burst,
                )?;
            }
            AdmissionSpec::LeakyBucket { rate_per_s } => {
                let rate = RateSpec::of(Some(*rate_per_s), None).rate();
                let gap =
                    (u128::from(rate.period) * 1000).div_ceil(u128::from(rate.milli_per_period));
                for w in sends.windows(2) {
                    let d = u128::from(w[1].0 - w[0].0);
                    ensure!(
                        d >= gap,
                        "leaky bucket: sends {d} ns apart, 1/rate = {gap} ns"
                    );
                }
            }
            AdmissionSpec::Semaphore { .. } | AdmissionSpec::FixedDelay { .. } => {
                let (limit, delay) = match layer {
                    AdmissionSpec::Semaphore { permits: p } => (*p, 0),
                    AdmissionSpec::FixedDelay { delay_ms } => (1, ms_to_nanos(*delay_ms)),
                    _ => unreachable!(),
                };
                let mut in_flight = 0u32;
                let mut last_reply: Option<Nanos> = None;
                for e in &events {
                    match e {
                        Ev::Send { t, .. } => {
                            in_flight += 1;
                            ensure!(
                                in_flight <= limit,
                                "{layer:?}: {in_flight} in flight at {t}"
                            );
                            if let Some(r) = last_reply {
                                ensure!(
                                    *t >= r + delay,
                                    "{layer:?}: sent at {t}, {} after the reply",
                                    t - r
                                );
                            }
                        }
                        Ev::Response { t, .. } => {
                            in_flight -= 1;
                            last_reply = Some(*t);
                        }
                        _ => {}
                    }
                }
            }
            AdmissionSpec::Aimd {
                min, max, decrease, ..
            } => {
                let i = aimd_index;
                aimd_index += 1;
                let mut in_flight = 0u32;
                let mut last_decrease: Option<Nanos> = None;
                for e in &events {
                    match e {
                        Ev::Send { t, aimd, .. } => {
                            ensure!(
                                f64::from(in_flight) < aimd[i].floor(),
                                "AIMD: sent at {t} with {in_flight} in flight, window {}",
                                aimd[i]
                            );
                            in_flight += 1;
                        }
                        Ev::Response {
                            t,
                            resp,
                            aimd_before,
                            aimd_after,
                            ..
                        } => {
                            in_flight -= 1;
                            let (b, a) = (aimd_before[i], aimd_after[i]);
                            ensure!(
                                a >= *min && a <= *max,
                                "AIMD window {a} outside [{min}, {max}]"
                            );
                            match resp.outcome {
                                ratelab_strategies::Outcome::Success => {
                                    ensure!(a >= b, "AIMD shrank on a success: {b} -> {a}")
                                }
                                ratelab_strategies::Outcome::RateLimited
                                    if last_decrease.is_none_or(|d| resp.sent_at >= d) =>
                                {
                                    ensure!(
                                        a == (b * decrease).max(*min),
                                        "AIMD: 429 took {b} to {a}"
                                    );
                                    last_decrease = Some(*t);
                                }
                                _ => ensure!(
                                    a == b,
                                    "AIMD moved {b} -> {a} on {:?} (sent {}, last decrease {last_decrease:?})",
                                    resp.outcome,
                                    resp.sent_at
                                ),
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    if let Some(b) = &spec.breaker {
        let open_for = ms_to_nanos(b.open_ms);
        let mut opened_at: Option<Nanos> = None;
        for e in &events {
            match e {
                Ev::Send { t, breaker, .. } => {
                    ensure!(
                        !matches!(breaker, Some(BreakerState::Open { .. })),
                        "breaker: admitted at {t} while open"
                    );
                    if *breaker == Some(BreakerState::HalfOpen) {
                        ensure!(
                            opened_at.is_some_and(|o| *t >= o + open_for),
                            "breaker: half-open at {t}, opened at {opened_at:?} for {open_for}"
                        );
                    }
                }
                Ev::Response {
                    t,
                    breaker_before,
                    breaker_after,
                    ..
                } => {
                    let opened = match breaker_after {
                        Some(BreakerState::Open { until }) => {
                            breaker_before != breaker_after && {
                                if *until != t + open_for {
                                    return Err(format!("breaker opened at {t} until {until}"));
                                }
                                true
                            }
                        }
                        // Opened for 0 ms: half-open at once.
                        Some(BreakerState::HalfOpen) => {
                            open_for == 0 && breaker_before != breaker_after
                        }
                        _ => false,
                    };
                    if opened {
                        opened_at = Some(*t);
                    }
                }
                Ev::Poll {
                    t,
                    admit: Admit::Reject,
                    ..
                } => {
                    ensure!(
                        b.on_open == OnOpen::Fail,
                        "breaker rejected at {t} without fail-fast"
                    );
                }
                _ => {}
            }
        }
    }
    Ok(())
}
