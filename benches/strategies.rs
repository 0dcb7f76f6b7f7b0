//! `cargo bench --bench strategies`: the cost of one decision of each built-in strategy.
//!
//! An admission layer's decision is one `poll_admit`, the `on_send` that commits it when it says
//! `Now`, and one `on_response` (the update a reply brings). Each iteration is one decision
//! (`Throughput::Elements(1)`), so criterion's time per iteration is ns per decision.
//!
//! `token_bucket` shares its group with `governor`'s direct limiter (`check()`), the reference
//! for a rate limiter as arithmetic on nanoseconds, both on an injected clock that advances by
//! 64 µs every 64 decisions (rate 1/µs, burst 64: every decision admits; the clock update is
//! amortised for both). The `_denied` pair times the refusal path: an empty bucket and a clock
//! that stands still.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use ratelab_strategies::admission::{Aimd, FixedDelay, Semaphore, TokenBucket, Unlimited};
use ratelab_strategies::breaker::Breaker;
use ratelab_strategies::bucket::Rate;
use ratelab_strategies::kind;
use ratelab_strategies::retry::{RetryPolicy, RetrySpec};
use ratelab_strategies::time::{MS, SECOND};
use ratelab_strategies::{Admit, Draws, Layer, Nanos, RequestInfo, Response, Stack, Strategy};

const REQ: RequestInfo = RequestInfo {
    client: 0,
    id: 0,
    attempt: 1,
    tokens: 1,
};

/// One decision: ask, commit if admitted, then the reply's update.
#[inline]
fn decide<S: Strategy>(s: &mut S, now: Nanos, id: u64, status: u16) -> bool {
    let req = RequestInfo { id, ..REQ };
    let admitted = s.poll_admit(now, &req) == Admit::Now;
    if admitted {
        s.on_send(now, &req);
    }
    s.on_response(now, &Response::new(req, now, status, 1000));
    admitted
}

/// Times `s` with the clock advancing `step` every decision.
fn bench_layer<S: Strategy>(c: &mut Criterion, name: &str, mut s: S, step: Nanos, status: u16) {
    let mut group = c.benchmark_group("admission");
    group.throughput(Throughput::Elements(1));
    let mut now = 0;
    let mut id = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            now += step;
            id += 1;
            black_box(decide(&mut s, black_box(now), id, status))
        })
    });
    group.finish();
}

fn admission(c: &mut Criterion) {
    bench_layer(c, "unlimited", Unlimited, 1000, 200);
    bench_layer(c, "semaphore", Semaphore::new(100), 1000, 200);
    bench_layer(c, "fixed_delay", FixedDelay::new(0), 1000, 200);
    bench_layer(c, "aimd", Aimd::new(10.0, 1.0, 100.0, 1.0, 0.5), 1000, 200);
    bench_layer(c, "breaker", Breaker::new(5, SECOND, 1, false), 1000, 200);
    let per_us = Rate::new(1_000_000.0, SECOND).unwrap();
    bench_layer(c, "leaky_bucket", TokenBucket::leaky(per_us), 1000, 200);
    let stack = Stack::new(vec![
        Layer::TokenBucket(TokenBucket::new(per_us, 64, false)),
        Layer::Semaphore(Semaphore::new(100)),
    ]);
    bench_layer(c, "stack_bucket+semaphore", stack, 1000, 200);
    // A breaker that keeps opening and probing on a stream of 429s.
    bench_layer(
        c,
        "breaker_failing",
        Breaker::new(5, 10_000, 1, false),
        1000,
        429,
    );
}

fn token_bucket_vs_governor(c: &mut Criterion) {
    let mut group = c.benchmark_group("token_bucket_vs_governor");
    group.throughput(Throughput::Elements(1));
    let per_us = Rate::new(1_000_000.0, SECOND).unwrap();
    let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap())
        .allow_burst(NonZeroU32::new(64).unwrap());

    let mut ours = TokenBucket::new(per_us, 64, false);
    let (mut now, mut i) = (0u64, 0u64);
    group.bench_function("token_bucket", |b| {
        b.iter(|| {
            i += 1;
            if i.is_multiple_of(64) {
                now += 64_000;
            }
            black_box(decide(&mut ours, black_box(now), i, 200))
        })
    });
    let clock = FakeRelativeClock::default();
    let limiter = RateLimiter::direct_with_clock(quota, clock.clone());
    let mut i = 0u64;
    group.bench_function("governor", |b| {
        b.iter(|| {
            i += 1;
            if i.is_multiple_of(64) {
                clock.advance(Duration::from_micros(64));
            }
            black_box(limiter.check().is_ok())
        })
    });

    let mut empty = TokenBucket::new(per_us, 64, false);
    empty.on_send(0, &RequestInfo { tokens: 64, ..REQ });
    group.bench_function("token_bucket_denied", |b| {
        b.iter(|| black_box(decide(&mut empty, black_box(0), 1, 200)))
    });
    let clock = FakeRelativeClock::default();
    let limiter = RateLimiter::direct_with_clock(quota, clock);
    while limiter.check().is_ok() {}
    group.bench_function("governor_denied", |b| {
        b.iter(|| black_box(limiter.check().is_ok()))
    });
    group.finish();
}

fn retry_policies(c: &mut Criterion) {
    let mut group = c.benchmark_group("retry");
    group.throughput(Throughput::Elements(1));
    let expo = "kind = \"exponential\", base_ms = 50, cap_ms = 5000, max_attempts = 10, \
                honor_retry_after = true";
    let policies = [
        ("none", r#"{ kind = "none" }"#.to_string()),
        (
            "fixed",
            r#"{ kind = "fixed", delay_ms = 100, max_attempts = 10, honor_retry_after = true }"#
                .to_string(),
        ),
        (
            "exponential_no_jitter",
            format!("{{ {expo}, jitter = \"none\" }}"),
        ),
        (
            "exponential_full",
            format!("{{ {expo}, jitter = \"full\" }}"),
        ),
        (
            "exponential_equal",
            format!("{{ {expo}, jitter = \"equal\" }}"),
        ),
        (
            "exponential_decorrelated",
            format!("{{ {expo}, jitter = \"decorrelated\" }}"),
        ),
    ];
    for (name, table) in policies {
        let spec: RetrySpec = kind::parse(&table).expect("a valid retry table");
        let mut retry = spec.build(Draws::new(42));
        let mut id = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                id += 1;
                let req = RequestInfo {
                    id,
                    attempt: (id % 9 + 1) as u32,
                    ..REQ
                };
                let mut resp = Response::new(req, 0, 429, MS);
                resp.retry_after = Some(SECOND);
                black_box(retry.retry_at(black_box(id * 1000), &resp))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, admission, token_bucket_vs_governor, retry_policies);
criterion_main!(benches);
