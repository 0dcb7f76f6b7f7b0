//! Generators of valid scenarios. Every number is a whole number of thousandths, so rates are
//! exact and TOML writes it back unchanged. Scenarios are small so that a case runs in
//! milliseconds. Each family's generator draws every kind of its registry:
//! `generators_draw_every_registered_kind` (sim/tests/properties.rs) fails when a kind is added
//! without a generator here.

use proptest::prelude::*;
use ratelab_sim::api::latency::{
    ExponentialLatencyConfig, FixedLatencyConfig, LognormalLatencyConfig, UniformLatencyConfig,
};
use ratelab_sim::api::limits::{
    ConcurrencyLimitConfig, FixedWindowLimitConfig, OptimisticConcurrencyConfig,
    SlidingWindowLimitConfig, TokenBucketLimitConfig,
};
use ratelab_sim::api::{ApiSpec, BanSpec, ErrorsSpec, LatencySpec, LimitSpec, RetryAfterPrecision};
use ratelab_sim::scenario::{DEFAULT_MAX_REQUESTS_HELD, Scenario};
use ratelab_sim::workload::arrival::{
    AtOnceConfig, BurstsConfig, PoissonConfig, RampConfig, TraceConfig,
};
use ratelab_sim::workload::tokens::{FixedTokensConfig, UniformTokensConfig};
use ratelab_sim::workload::{ArrivalSpec, TokensSpec, WorkloadSpec};
use ratelab_strategies::admission::{
    AdmissionSpec, AimdConfig, AimdRateConfig, AwsAdaptiveConfig, FixedDelayConfig,
    Gradient2Config, HeaderPacingConfig, LeakyBucketConfig, OpenAiCookbookConfig, SemaphoreConfig,
    SreThrottleConfig, Start, TokenBucketConfig, UnlimitedConfig, VegasConfig,
};
use ratelab_strategies::breaker::{BreakerCheck, BreakerSpec, OnOpen};
use ratelab_strategies::config::Unit;
use ratelab_strategies::retry::{
    AnthropicPythonConfig, AwsStandardConfig, BudgetSpec, ExponentialConfig, FixedConfig, Jitter,
    NoRetryConfig, OpenAiPythonConfig, QuotaSpec, RetryAfter, RetryAfterFields, RetryOnSpec,
    RetrySpec, TenacityConfig,
};
use ratelab_strategies::spec::StrategySpec;

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
            LimitSpec::TokenBucket(TokenBucketLimitConfig {
                rate_per_s,
                rate_per_min,
                burst,
                unit,
            })
        }),
        (1u64..15, milli(50, 5_000), unit()).prop_map(|(limit, window_s, unit)| {
            LimitSpec::FixedWindow(FixedWindowLimitConfig {
                limit,
                window_s,
                unit,
            })
        }),
        (1u64..15, milli(50, 5_000), unit()).prop_map(|(limit, window_s, unit)| {
            LimitSpec::SlidingWindow(SlidingWindowLimitConfig {
                limit,
                window_s,
                unit,
            })
        }),
        (1u32..8).prop_map(
            |max_in_flight| LimitSpec::Concurrency(ConcurrencyLimitConfig { max_in_flight })
        ),
        (0u64..30_000, 0u64..10_000).prop_map(|(mean, sd)| {
            LimitSpec::OptimisticConcurrency(OptimisticConcurrencyConfig {
                hop_mean_ms: mean as f64 / 1000.0,
                hop_sd_ms: sd as f64 / 1000.0,
            })
        }),
    ]
}

/// A limit of the kinds that share an API with others: every kind but `optimistic_concurrency`,
/// which models the whole API alone (its invariants have their own property).
pub fn shared_limit_spec() -> impl Strategy<Value = LimitSpec> {
    limit_spec().prop_filter("optimistic_concurrency is alone", |l| {
        !matches!(l, LimitSpec::OptimisticConcurrency(_))
    })
}

fn per_token_ms() -> impl Strategy<Value = f64> {
    prop_oneof![3 => Just(0.0), 1 => milli(0, 5_000)]
}

/// A latency model.
pub fn latency_spec() -> impl Strategy<Value = LatencySpec> {
    prop_oneof![
        (milli(0, 400_000), per_token_ms()).prop_map(|(ms, per_token_ms)| LatencySpec::Fixed(
            FixedLatencyConfig { ms, per_token_ms }
        )),
        (0u64..300_000, 0u64..300_000, per_token_ms()).prop_map(|(a, b, per_token_ms)| {
            LatencySpec::Uniform(UniformLatencyConfig {
                min_ms: a as f64 / 1000.0,
                max_ms: (a + b) as f64 / 1000.0,
                per_token_ms,
            })
        }),
        (milli(0, 300_000), milli(0, 100_000), per_token_ms()).prop_map(
            |(mean_ms, offset_ms, per_token_ms)| LatencySpec::Exponential(
                ExponentialLatencyConfig {
                    mean_ms,
                    offset_ms,
                    per_token_ms,
                }
            )
        ),
        (1u64..300_000, 0u64..900_000, per_token_ms()).prop_map(|(m, extra, per_token_ms)| {
            LatencySpec::Lognormal(LognormalLatencyConfig {
                median_ms: m as f64 / 1000.0,
                p99_ms: (m + extra) as f64 / 1000.0,
                per_token_ms,
            })
        }),
    ]
}

/// An `[api]` table.
pub fn api_spec() -> impl Strategy<Value = ApiSpec> {
    let errors = proptest::option::weighted(
        0.25,
        (
            0u64..=1000,
            prop_oneof![4 => 500u16..600, 1 => Just(408u16), 1 => Just(409u16)],
        )
            .prop_map(|(p, status)| ErrorsSpec {
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
        prop::collection::vec(shared_limit_spec(), 0..4),
        latency_spec(),
        milli(0, 20_000),
        any::<bool>(),
        (any::<bool>(), any::<bool>()),
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
                (retry_after, ms),
                headers,
                errors,
                ban,
            )| ApiSpec {
                limits,
                latency,
                rejected_latency_ms,
                count_rejected,
                retry_after,
                retry_after_precision: if ms {
                    RetryAfterPrecision::Milliseconds
                } else {
                    RetryAfterPrecision::Seconds
                },
                headers,
                errors,
                ban,
                servers: None,
                queue_limit: None,
                background: None,
                outages: Vec::new(),
                schedule: Vec::new(),
            },
        )
}

/// The trace files the generator replays (in `sim/tests/data`, named from the crate's folder,
/// where tests run): 120 rows each, all within 0.1 s (the shortest horizon drawn); the second
/// has a `tokens` column.
pub const TRACE_FILES: [&str; 2] = ["tests/data/trace-small.csv", "tests/data/trace-tokens.csv"];

/// A trace of `file`, read from the current directory (as `Scenario::parse` of a bare name
/// reads it).
pub fn trace(file: &str) -> ArrivalSpec {
    let mut t = TraceConfig::new(file);
    t.read_from(std::path::Path::new(""));
    ArrivalSpec::Trace(t)
}

/// When requests arrive.
pub fn arrival_spec() -> impl Strategy<Value = ArrivalSpec> {
    prop_oneof![
        1 => Just(ArrivalSpec::AtOnce(AtOnceConfig {})),
        2 => milli(500, 100_000).prop_map(|rate_per_s| ArrivalSpec::Poisson(PoissonConfig {
            rate_per_s
        })),
        1 => (milli(1, 5_000), 1u64..=20)
            .prop_map(|(every_s, size)| ArrivalSpec::Bursts(BurstsConfig { every_s, size })),
        1 => (milli(0, 100_000), milli(0, 100_000), milli(1, 10_000))
            .prop_filter("a rate above 0", |(from, to, _)| *from > 0.0 || *to > 0.0)
            .prop_map(|(from_per_s, to_per_s, over_s)| ArrivalSpec::Ramp(RampConfig {
                from_per_s,
                to_per_s,
                over_s,
            })),
        1 => proptest::sample::select(&TRACE_FILES[..]).prop_map(trace),
    ]
}

/// How heavy requests are.
pub fn tokens_spec() -> impl Strategy<Value = TokensSpec> {
    prop_oneof![
        (1u64..40).prop_map(|n| TokensSpec::Fixed(FixedTokensConfig { n })),
        (1u64..25, 0u64..25)
            .prop_map(|(min, d)| TokensSpec::Uniform(UniformTokensConfig { min, max: min + d })),
    ]
}

/// A `[workload]` of at most `max_requests` per client and `max_clients` clients.
pub fn workload_spec(max_requests: u64, max_clients: u32) -> impl Strategy<Value = WorkloadSpec> {
    (
        1..=max_requests,
        1..=max_clients,
        proptest::option::weighted(0.6, arrival_spec()),
        proptest::option::weighted(0.5, tokens_spec()),
    )
        .prop_map(|(requests, clients, arrival, tokens)| {
            let mut requests = requests;
            let mut tokens = tokens;
            match &arrival {
                // A ramp down to 0 sends a finite number of requests.
                Some(ArrivalSpec::Ramp(r)) => {
                    requests = requests.min(r.most_requests().unwrap_or(u64::MAX));
                }
                // A trace's tokens column replaces `[workload] tokens`.
                Some(ArrivalSpec::Trace(t)) if t.trace().is_some_and(|t| t.has_tokens()) => {
                    tokens = None;
                }
                _ => {}
            }
            WorkloadSpec {
                requests,
                clients,
                arrival,
                tokens,
            }
        })
}

/// One admission layer.
pub fn admission_spec() -> BoxedStrategy<AdmissionSpec> {
    prop_oneof![
        Just(AdmissionSpec::Unlimited(UnlimitedConfig {})),
        milli(0, 300_000)
            .prop_map(|delay_ms| AdmissionSpec::FixedDelay(FixedDelayConfig { delay_ms })),
        (1u32..8, proptest::bool::weighted(0.3)).prop_map(|(permits, hold_during_backoff)| {
            AdmissionSpec::Semaphore(SemaphoreConfig {
                permits,
                hold_during_backoff,
            })
        }),
        (
            rate_pair(),
            1u64..10,
            unit(),
            any::<bool>(),
            proptest::bool::weighted(0.3)
        )
            .prop_map(|((rate_per_s, rate_per_min), burst, unit, empty, shared)| {
                AdmissionSpec::TokenBucket(TokenBucketConfig {
                    rate_per_s,
                    rate_per_min,
                    burst,
                    unit,
                    start: if empty { Start::Empty } else { Start::Full },
                    shared,
                    on_store_error: None,
                    store_timeout_ms: None,
                })
            }),
        milli(500, 40_000)
            .prop_map(|rate_per_s| AdmissionSpec::LeakyBucket(LeakyBucketConfig { rate_per_s })),
        (
            1u64..4,
            0u64..20,
            0u64..=1000,
            milli(100, 3_000),
            milli(50, 950)
        )
            .prop_map(|(min, span, frac, increase, decrease)| {
                AdmissionSpec::Aimd(AimdConfig {
                    initial: (min * 1000 + span * frac) as f64 / 1000.0,
                    min: min as f64,
                    max: (min + span) as f64,
                    increase,
                    decrease,
                })
            }),
        (
            (milli(10, 1_000), milli(0, 100_000), milli(1, 50_000)),
            milli(10, 20_000),
            milli(50, 950),
            unit()
        )
            .prop_map(|((min, span, frac), increase_per_s, decrease, unit)| {
                let min_per_s = min;
                let max_per_s = min + span;
                AdmissionSpec::AimdRate(AimdRateConfig {
                    initial_per_s: (min_per_s + (max_per_s - min_per_s) * (frac / 50.0).min(1.0))
                        .min(max_per_s),
                    min_per_s,
                    max_per_s,
                    increase_per_s,
                    decrease,
                    unit,
                })
            }),
        (
            milli(100, 950),
            milli(10, 5_000),
            milli(100, 1_000),
            milli(10, 3_000),
            milli(10, 5_000)
        )
            .prop_map(
                |(beta, scale_constant, smoothing, bucket_s, min_rate_per_s)| {
                    AdmissionSpec::AwsAdaptive(AwsAdaptiveConfig {
                        beta,
                        scale_constant,
                        smoothing,
                        bucket_s,
                        min_rate_per_s,
                    })
                }
            ),
        (
            (1u32..30, 1u32..30, 0u32..40),
            milli(1, 1_000),
            (0u32..8, 1u32..700),
            milli(500, 3_000)
        )
            .prop_map(
                |((initial, min, extra), smoothing, (queue_size, long_window), rtt_tolerance)| {
                    let max_concurrency = initial.max(min) + extra;
                    AdmissionSpec::Gradient2(Gradient2Config {
                        initial_limit: initial,
                        min_limit: min,
                        max_concurrency,
                        smoothing,
                        queue_size,
                        long_window,
                        rtt_tolerance,
                    })
                }
            ),
        (1u32..30, 0u32..40, milli(1, 1_000), 1u32..40).prop_map(
            |(initial_limit, extra, smoothing, probe_multiplier)| {
                AdmissionSpec::Vegas(VegasConfig {
                    initial_limit,
                    max_concurrency: initial_limit + extra,
                    smoothing,
                    probe_multiplier,
                })
            }
        ),
        (milli(1_000, 5_000), milli(100, 200_000)).prop_map(|(k, window_s)| {
            AdmissionSpec::SreThrottle(SreThrottleConfig { k, window_s })
        }),
        milli(1, 1_000)
            .prop_map(|headroom| AdmissionSpec::HeaderPacing(HeaderPacingConfig { headroom })),
        (
            milli(1_000, 3_000_000),
            milli(1_000, 300_000_000),
            milli(0, 20_000),
            milli(0, 3_000)
        )
            .prop_map(|(rpm, tpm, pause, loop_ms)| {
                AdmissionSpec::OpenAiCookbook(OpenAiCookbookConfig {
                    max_requests_per_minute: rpm,
                    max_tokens_per_minute: tpm,
                    pause_after_429_s: pause,
                    loop_ms,
                })
            }),
    ]
    .boxed()
}

fn retry_on() -> impl Strategy<Value = Vec<RetryOnSpec>> {
    (
        proptest::bool::weighted(0.85),
        proptest::bool::weighted(0.6),
        proptest::bool::weighted(0.6),
        proptest::bool::weighted(0.5),
    )
        .prop_map(|(a, b, c, d)| {
            let mut v = vec![];
            if d {
                v.extend([
                    RetryOnSpec::RequestTimeout,
                    RetryOnSpec::Conflict,
                    RetryOnSpec::Connection,
                ]);
            }
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

/// How a policy treats `Retry-After`: both spellings, and sometimes a longest wait.
fn retry_after_fields() -> impl Strategy<Value = RetryAfterFields> {
    let mode = prop_oneof![
        Just(RetryAfter::Ignore),
        Just(RetryAfter::AtLeast),
        Just(RetryAfter::Replace),
    ];
    (
        proptest::option::weighted(0.5, mode),
        any::<bool>(),
        proptest::option::weighted(0.2, milli(0, 5_000_000)),
    )
        .prop_map(|(retry_after, old, max_retry_after_ms)| {
            // The old spelling alone, or agreeing with the new one.
            let honor_retry_after = match retry_after {
                None => Some(old),
                Some(mode) if old => Some(mode != RetryAfter::Ignore),
                Some(_) => None,
            };
            RetryAfterFields {
                honor_retry_after,
                retry_after,
                max_retry_after_ms,
            }
        })
}

/// A retry budget and a retry quota, each sometimes.
fn guards() -> BoxedStrategy<(Option<BudgetSpec>, Option<QuotaSpec>)> {
    let budget =
        (milli(1_000, 10_000), 0u32..4, milli(0, 2_000)).prop_map(|(ttl_s, min_per_s, percent)| {
            BudgetSpec {
                ttl_s,
                min_per_s,
                percent,
            }
        });
    let quota = (1u32..60, 0u32..10, 0u32..20, 0u32..6).prop_map(
        |(capacity, cost, timeout_cost, refund)| QuotaSpec {
            capacity,
            cost,
            timeout_cost,
            refund,
        },
    );
    (
        proptest::option::weighted(0.2, budget),
        proptest::option::weighted(0.2, quota),
    )
        .boxed()
}

/// A retry policy.
pub fn retry_spec() -> BoxedStrategy<RetrySpec> {
    let jitter = prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ];
    prop_oneof![
        1 => Just(RetrySpec::None(NoRetryConfig {})),
        2 => (milli(0, 3_000_000), 1u32..6, retry_after_fields(), retry_on(), guards()).prop_map(
            |(delay_ms, max_attempts, ra, on, (budget, quota))| RetrySpec::Fixed(FixedConfig {
                delay_ms,
                max_attempts,
                honor_retry_after: ra.honor_retry_after,
                retry_after: ra.retry_after,
                max_retry_after_ms: ra.max_retry_after_ms,
                on,
                budget,
                quota,
            })
        ),
        4 => (
            (0u64..2_000_000, 0u64..20_000_000, 0u64..=1000),
            milli(1_000, 4_000),
            jitter,
            1u32..7,
            retry_after_fields(),
            (retry_on(), guards())
        )
            .prop_map(|((base, extra, floor), multiplier, jitter, max_attempts, ra, (on, (budget, quota)))| {
                let cap = base + extra;
                RetrySpec::Exponential(ExponentialConfig {
                    base_ms: base as f64 / 1000.0,
                    cap_ms: cap as f64 / 1000.0,
                    // A floor in a fifth of the draws, up to the cap.
                    min_ms: if floor < 800 { 0.0 } else { (cap * (floor - 800) / 200) as f64 / 1000.0 },
                    multiplier,
                    jitter,
                    max_attempts,
                    honor_retry_after: ra.honor_retry_after,
                    retry_after: ra.retry_after,
                    max_retry_after_ms: ra.max_retry_after_ms,
                    on,
                    budget,
                    quota,
                })
            }),
        2 => (
            (milli(0, 3_000), milli(0, 5_000), proptest::option::of(milli(0, 20_000))),
            milli(1_000, 3_000),
            1u32..7,
            prop_oneof![2 => Just(0.0), 1 => milli(0, 2_000)],
            (retry_on(), guards())
        )
            .prop_map(|((multiplier, min_s, max_s), exp_base, stop_after_attempt, jitter_s, (on, (budget, quota)))| {
                RetrySpec::Tenacity(TenacityConfig {
                    multiplier,
                    min_s,
                    max_s,
                    exp_base,
                    stop_after_attempt,
                    jitter_s,
                    on,
                    budget,
                    quota,
                })
            }),
        1 => (0u32..5).prop_map(|n| RetrySpec::OpenAiPython(OpenAiPythonConfig::new(n))),
        1 => (0u32..5).prop_map(|n| RetrySpec::AnthropicPython(AnthropicPythonConfig::new(n))),
        1 => (1u32..6, milli(0, 2_000), milli(0, 30_000), guards()).prop_map(
            |(total_max_attempts, base_s, max_backoff_s, (budget, quota))| {
                RetrySpec::AwsStandard(AwsStandardConfig {
                    total_max_attempts,
                    base_s,
                    max_backoff_s,
                    quota: quota.unwrap_or_default(),
                    budget,
                })
            }
        ),
    ]
    .boxed()
}

/// A circuit breaker: counting every class or only 429s, with probes or none, checked at send
/// time or (without probes) before the queue.
pub fn breaker_spec() -> impl Strategy<Value = BreakerSpec> {
    (
        1u32..5,
        milli(0, 20_000_000),
        0u32..3,
        prop_oneof![Just(OnOpen::Wait), Just(OnOpen::Fail)],
        proptest::bool::weighted(0.3),
        proptest::bool::weighted(0.3),
    )
        .prop_map(
            |(consecutive_failures, open_ms, half_open_probes, on_open, only_429, before_queue)| {
                let before_queue = before_queue || half_open_probes == 0 && only_429;
                BreakerSpec {
                    consecutive_failures,
                    open_ms,
                    half_open_probes: if before_queue { 0 } else { half_open_probes },
                    on_open,
                    counts: if only_429 {
                        vec![RetryOnSpec::RateLimited]
                    } else {
                        vec![
                            RetryOnSpec::RateLimited,
                            RetryOnSpec::ServerError,
                            RetryOnSpec::Timeout,
                            RetryOnSpec::Connection,
                        ]
                    },
                    check: if before_queue {
                        BreakerCheck::BeforeQueue
                    } else {
                        BreakerCheck::AtSend
                    },
                }
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
    let strategies = (1..=max_strategies, name_text(8)).prop_flat_map(|(n, stem)| {
        (0..n)
            .map(|i| strategy_spec(format!("{stem}{i}")))
            .collect::<Vec<_>>()
    });
    (
        any::<u64>(),
        prop_oneof![milli(100, 5_000), milli(1_000, 400_000)],
        (name_text(12), prop_oneof![Just(String::new()), text(40)]),
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

/// A description: mostly plain, sometimes with quotes, backslashes, tabs, newlines, TOML
/// punctuation, control characters and non-ASCII text, which TOML must escape and read back
/// unchanged. Never blank.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    text_of(max, r#"[a-zA-Z0-9 _'"\\\t\n#=\[\]{}éß日本🚀\x7f\x01]"#)
}

/// A name (of a scenario or a strategy): as [`text`], without the control characters names may
/// not have.
pub fn name_text(max: usize) -> impl Strategy<Value = String> {
    text_of(max, r#"[a-zA-Z0-9 _'"\\#=\[\]{}éß日本🚀]"#)
}

fn text_of(max: usize, class: &str) -> impl Strategy<Value = String> {
    let plain = format!("[a-z][a-z0-9-]{{0,{max}}}");
    let wild = format!("{class}{{1,{max}}}");
    prop_oneof![
        3 => proptest::string::string_regex(&plain).unwrap(),
        1 => proptest::string::string_regex(&wild).unwrap(),
    ]
    .prop_filter("not blank", |s| !s.trim().is_empty())
}
