//! `cargo bench --bench shared_store`: the cost of one decision of a token bucket shared by
//! several clients, in process and in Redis (`ratelab live --redis`, `live/src/store.rs`).
//!
//! Per decision, with criterion (`Throughput::Elements(1)`: time per iteration is time per
//! decision):
//!
//! - `in_process/token_bucket`: `TokenBucket::poll_admit` and, when it says `Now`, `on_send`;
//!   rate 1/µs, burst 64, an injected clock advancing 64 µs every 64 decisions, so every decision
//!   admits (as in `benches/strategies.rs`). `_denied`: an empty bucket, a clock that stands
//!   still.
//! - `in_process/shared_bucket`: the same through `SharedBucket` (the bucket behind
//!   `Arc<Mutex>`, one handle, uncontended).
//! - `in_process/governor`: `governor`'s direct limiter, `check()`, on a `FakeRelativeClock`,
//!   same rate, burst and clock.
//! - `redis/ping`: a `PING` on a redis-rs `ConnectionManager` (the connection `RedisBuckets`
//!   uses), one at a time: the round trip without the script, the floor under the next three.
//! - `redis/decide` and `redis/decide_denied`: `RedisBuckets::decide` (one `EVALSHA` of the Lua
//!   script, Redis' own clock) on one connection, one decision at a time, on a current-thread
//!   tokio runtime: the round-trip latency. Admitted: a bucket of 10^12 tokens at 1/µs (it never
//!   runs dry). Denied: 1 token per hour, burst 1, drained before timing.
//! - `redis/gate_admit`: `RedisGate::admit` (the full gate of `ratelab live --redis`) on the
//!   admitting bucket.
//!
//! Then, not criterion: decisions per second with 1, 4, 16 and 64 tasks on the one multiplexed
//! connection (the current-thread runtime, the admitting bucket), each concurrency a timed loop of
//! `RATELAB_BENCH_SECONDS` (default 2) s, printed as a table with the per-decision latency seen by
//! a task (p50, p99). Only under `cargo bench` (criterion's `--bench` argument), not when
//! `cargo test --benches` runs the binary, and only when no filter is given or the filter is part
//! of `redis/throughput`.
//!
//! Redis comes from `RATELAB_REDIS_URL` (e.g. `redis://127.0.0.1:6392`); without it the Redis
//! parts print a notice and are skipped. Keys are `ratelab:bench-{pid}-{time}:…`, one run id per
//! invocation; they expire on their own.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter};
use hdrhistogram::Histogram;
use ratelab_live::Gate;
use ratelab_live::store::{RedisBuckets, RedisGate};
use ratelab_strategies::admission::{OnStoreError, TokenBucket};
use ratelab_strategies::bucket::Rate;
use ratelab_strategies::shared::{SharedBucket, StoredBucket};
use ratelab_strategies::time::SECOND;
use ratelab_strategies::{Admit, Nanos, RequestInfo, Strategy};

const REQ: RequestInfo = RequestInfo {
    client: 0,
    id: 0,
    attempt: 1,
    tokens: 1,
};

/// One decision: ask, and commit when admitted.
#[inline]
fn decide<S: Strategy>(s: &mut S, now: Nanos) -> bool {
    let admitted = s.poll_admit(now, &REQ) == Admit::Now;
    if admitted {
        s.on_send(now, &REQ);
    }
    admitted
}

/// Times `s` admitting (the clock advancing 64 µs every 64 decisions at 1/µs, burst 64).
fn bench_admitting<S: Strategy>(c: &mut Criterion, name: &str, mut s: S) {
    let mut group = c.benchmark_group("in_process");
    group.throughput(Throughput::Elements(1));
    let (mut now, mut i) = (0u64, 0u64);
    group.bench_function(name, |b| {
        b.iter(|| {
            i += 1;
            if i.is_multiple_of(64) {
                now += 64_000;
            }
            black_box(decide(&mut s, black_box(now)))
        })
    });
    group.finish();
}

/// Times `s` refusing: it is empty and the clock stands still.
fn bench_denied<S: Strategy>(c: &mut Criterion, name: &str, mut s: S) {
    s.on_send(0, &RequestInfo { tokens: 64, ..REQ });
    assert!(!decide(&mut s, 0), "{name}: the bucket should be empty");
    let mut group = c.benchmark_group("in_process");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| b.iter(|| black_box(decide(&mut s, black_box(0)))));
    group.finish();
}

fn per_us() -> Rate {
    Rate::new(1_000_000.0, SECOND).unwrap()
}

fn in_process(c: &mut Criterion) {
    // A bucket that weighs by tokens, so that the 64-token send below empties it.
    bench_admitting(c, "token_bucket", TokenBucket::new(per_us(), 64, true));
    bench_denied(
        c,
        "token_bucket_denied",
        TokenBucket::new(per_us(), 64, true),
    );
    bench_admitting(
        c,
        "shared_bucket",
        SharedBucket::new(TokenBucket::new(per_us(), 64, true)),
    );
    bench_denied(
        c,
        "shared_bucket_denied",
        SharedBucket::new(TokenBucket::new(per_us(), 64, true)),
    );

    let mut group = c.benchmark_group("in_process");
    group.throughput(Throughput::Elements(1));
    let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap())
        .allow_burst(NonZeroU32::new(64).unwrap());
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
    let limiter = RateLimiter::direct_with_clock(quota, FakeRelativeClock::default());
    while limiter.check().is_ok() {}
    group.bench_function("governor_denied", |b| {
        b.iter(|| black_box(limiter.check().is_ok()))
    });
    group.finish();
}

/// The Redis of the bench, or `None` with a notice.
fn redis_url() -> Option<String> {
    match std::env::var("RATELAB_REDIS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!(
                "shared_store: RATELAB_REDIS_URL is not set: skipping the Redis benchmarks \
                 (e.g. redis-server --port 6392 --save \"\" --appendonly no, then \
                 RATELAB_REDIS_URL=redis://127.0.0.1:6392)"
            );
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One run id per invocation: no key of an earlier run is read.
fn run_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("bench-{}-{t}", std::process::id())
}

fn stored(rate: Rate, burst: u64) -> StoredBucket {
    StoredBucket {
        layer: 0,
        rate,
        burst,
        by_tokens: false,
        starts_empty: false,
        on_error: OnStoreError::Local,
        // Generous, so that a stall of this shared host is timed, not turned into a failure.
        timeout: 2 * SECOND,
    }
}

/// A bucket of 10^12 tokens at 1/µs: it admits every decision of any run of this bench.
async fn admitting(url: &str, run: &str, name: &str) -> RedisBuckets {
    RedisBuckets::connect(url, run, name, &[stored(per_us(), 1_000_000_000_000)])
        .await
        .unwrap_or_else(|e| panic!("shared_store: {e}"))
}

/// Times `decide` in a loop of `iters` sequential decisions; panics if one fails or is not
/// what `admitted` says.
async fn timed_decisions(store: &RedisBuckets, iters: u64, admitted: bool) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let d = store
            .decide(black_box(&[1]), None)
            .await
            .unwrap_or_else(|e| panic!("shared_store: {e}"));
        assert_eq!(
            d.admitted, admitted,
            "shared_store: unexpected decision {d:?}"
        );
    }
    start.elapsed()
}

fn redis(c: &mut Criterion) {
    let Some(url) = redis_url() else { return };
    let rt = runtime();
    let run = run_id();
    let mut group = c.benchmark_group("redis");
    group.throughput(Throughput::Elements(1));

    // The floor: a PING on the same kind of connection (redis-rs' ConnectionManager), no script.
    let mut conn = rt.block_on(async {
        let client = redis::Client::open(url.as_str()).expect("a Redis URL");
        redis::aio::ConnectionManager::new(client)
            .await
            .unwrap_or_else(|e| panic!("shared_store: {e}"))
    });
    group.bench_function("ping", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let pong: String = redis::cmd("PING")
                        .query_async(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("shared_store: {e}"));
                    black_box(pong);
                }
                start.elapsed()
            })
        })
    });

    let store = rt.block_on(admitting(&url, &run, "decide"));
    group.bench_function("decide", |b| {
        b.iter_custom(|iters| rt.block_on(timed_decisions(&store, iters, true)))
    });

    let denied = rt.block_on(async {
        let hourly = Rate::new(1.0, 3600 * SECOND).unwrap();
        let s = RedisBuckets::connect(&url, &run, "denied", &[stored(hourly, 1)])
            .await
            .unwrap_or_else(|e| panic!("shared_store: {e}"));
        let first = s.decide(&[1], None).await.unwrap();
        assert!(first.admitted, "the first decision takes the one token");
        s
    });
    group.bench_function("decide_denied", |b| {
        b.iter_custom(|iters| rt.block_on(timed_decisions(&denied, iters, false)))
    });

    let gate = RedisGate::new(rt.block_on(admitting(&url, &run, "gate")), 1);
    group.bench_function("gate_admit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let req = RequestInfo { id: i, ..REQ };
                    let answer = gate.admit(black_box(&req)).await;
                    assert!(
                        matches!(answer, ratelab_live::GateAnswer::Now),
                        "shared_store: the gate did not admit"
                    );
                }
                start.elapsed()
            })
        })
    });
    assert_eq!(
        gate.failures(),
        0,
        "shared_store: the gate saw store failures"
    );
    group.finish();
}

/// Latencies in ns, 1 ns to 60 s, 3 significant digits.
fn latencies() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

/// Decisions per second with `tasks` tasks sharing one connection for `seconds`.
fn throughput_at(
    rt: &tokio::runtime::Runtime,
    store: &Arc<RedisBuckets>,
    tasks: usize,
    seconds: f64,
) -> (u64, u64, f64, Histogram<u64>) {
    rt.block_on(async {
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(seconds);
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let store = Arc::clone(store);
            handles.push(tokio::spawn(async move {
                let mut hist = latencies();
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match store.decide(&[1], None).await {
                        Ok(d) if d.admitted => ok += 1,
                        _ => failed += 1,
                    }
                    hist.saturating_record(t.elapsed().as_nanos() as u64);
                }
                (ok, failed, hist)
            }));
        }
        let mut hist = latencies();
        let (mut ok, mut failed) = (0, 0);
        for h in handles {
            let (o, f, h) = h.await.unwrap();
            ok += o;
            failed += f;
            hist.add(h).unwrap();
        }
        (ok, failed, start.elapsed().as_secs_f64(), hist)
    })
}

fn redis_throughput() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return; // `cargo test --benches`: criterion's test mode; the timed loops are not tests
    }
    // Criterion's filter: the first argument that is neither an option nor an option's value.
    const WITH_VALUE: [&str; 14] = [
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--profile-time",
        "--color",
        "--output-format",
    ];
    let filter = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            !a.starts_with('-') && (*i == 0 || !WITH_VALUE.contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a);
    if filter.is_some_and(|f| !"redis/throughput".contains(f.as_str())) {
        return;
    }
    let Some(url) = redis_url() else { return };
    let seconds: f64 = std::env::var("RATELAB_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let rt = runtime();
    let store = Arc::new(rt.block_on(admitting(&url, &run_id(), "throughput")));
    // Warm the connection and the script cache.
    let _ = throughput_at(&rt, &store, 4, 0.2);
    println!(
        "\nredis/throughput: RedisBuckets::decide, admitting, {seconds} s per row, one multiplexed \
         connection, current-thread runtime"
    );
    println!(
        "{:>6} {:>11} {:>8} {:>13} {:>9} {:>9}",
        "tasks", "decisions", "failed", "decisions/s", "p50", "p99"
    );
    for tasks in [1, 4, 16, 64] {
        let (ok, failed, elapsed, hist) = throughput_at(&rt, &store, tasks, seconds);
        println!(
            "{:>6} {:>11} {:>8} {:>13.0} {:>7.1}µs {:>7.1}µs",
            tasks,
            ok,
            failed,
            ok as f64 / elapsed,
            hist.value_at_quantile(0.5) as f64 / 1000.0,
            hist.value_at_quantile(0.99) as f64 / 1000.0,
        );
    }
}

criterion_group!(benches, in_process, redis);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    redis_throughput();
}
