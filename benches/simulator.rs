//! `cargo bench --bench simulator`: simulated attempts per wall second on the `bulk` model.
//!
//! Three implementations of the same model run in the same process:
//! - `ratelab`: the simulator (`ratelab_sim::run_strategy`) on `scenarios/bulk.toml`, with all its
//!   generality: pluggable strategies, the API model, per-second series, histograms;
//! - `hand_loop`: peer (a), a dedicated loop for exactly this model (`peers/hand_loop.rs`);
//! - `tokio`: peer (b), one tokio task per request on a paused clock (`peers/tokio_model.rs`).
//!
//! First it prints an agreement table (the outcome of each, with its wall time and the
//! differences from ratelab), then criterion times each (`Throughput::Elements` = attempts, so
//! criterion reports attempts per second) at 100 000 requests.
//!
//! `RATELAB_BENCH=full cargo bench --bench simulator` instead runs the full bulk model (1 M
//! requests) with all three, and the scaling table of ratelab and the hand loop at 10 k, 100 k,
//! 1 M and 10 M requests (medians of `RATELAB_BENCH_REPEAT` runs, default 3). `RATELAB_BENCH=ratio`
//! runs ratelab and the hand loop only, at 1 M requests (or `RATELAB_BENCH_REQUESTS`); `RATELAB_BENCH=scaling` the scaling only.

#[path = "peers/mod.rs"]
mod peers;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use peers::{Outcome, hand_loop, tokio_model};
use ratelab_sim::{Scenario, run_strategy};

/// Requests per criterion iteration.
const CRITERION_REQUESTS: u64 = 100_000;

fn bulk(requests: u64) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bulk.toml");
    let mut scenario = Scenario::load(&path).expect("scenarios/bulk.toml is valid");
    scenario.workload.requests = requests;
    // 1000 requests per second: leave room for ten million.
    scenario.horizon_s = scenario.horizon_s.max(requests as f64 / 1000.0 * 2.0);
    scenario
}

fn ratelab(scenario: &Scenario) -> Outcome {
    let r = run_strategy(scenario, &scenario.strategies[0], scenario.seed, None);
    Outcome {
        attempts: r.attempts,
        http_429: r.http_429,
        succeeded: r.succeeded,
        dead_lettered: r.dead_lettered,
        makespan_s: r.makespan_s,
        p50_s: r.latency_s.p50,
        p99_s: r.latency_s.p99,
        events: r.events,
    }
}

type Peer = (&'static str, fn(u64) -> Outcome);

fn peers() -> [Peer; 3] {
    [
        ("ratelab", |n| ratelab(&bulk(n))),
        ("hand_loop", |n| hand_loop::run(n, 42)),
        ("tokio", |n| tokio_model::run(n, 42)),
    ]
}

/// Runs `f` `repeat` times: the outcome and the wall times.
fn timed(repeat: usize, f: impl Fn() -> Outcome) -> (Outcome, Vec<Duration>) {
    let mut times = Vec::new();
    let mut outcome = None;
    for _ in 0..repeat {
        let start = Instant::now();
        outcome = Some(black_box(f()));
        times.push(start.elapsed());
    }
    (outcome.expect("repeat >= 1"), times)
}

fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort();
    t[t.len() / 2]
}

fn rate(attempts: u64, t: Duration) -> String {
    format!("{:.2} M/s", attempts as f64 / t.as_secs_f64() / 1e6)
}

fn rel(x: f64, base: f64) -> String {
    if base == 0.0 {
        "-".into()
    } else {
        format!("{:+.1}%", 100.0 * (x / base - 1.0))
    }
}

/// Prints the outcome of each peer at `requests`, with wall times and differences from ratelab.
fn agreement(requests: u64, repeat: usize, with: &[Peer]) {
    println!("bulk model, {requests} requests: outcome and speed (median of {repeat} runs)");
    println!(
        "{:<10} {:>9} {:>8} {:>6} {:>9} {:>8} {:>8} {:>9} {:>11} {:>22}",
        "peer",
        "attempts",
        "429s",
        "429 %",
        "makespan",
        "p50",
        "p99",
        "wall",
        "attempts/s",
        "vs ratelab: 429/mk/p50/p99"
    );
    // Interleaved rounds (every peer once per round), so that a change in the machine's load
    // during the measurement hits every peer alike.
    let mut runs: Vec<(Option<Outcome>, Vec<Duration>)> = vec![(None, Vec::new()); with.len()];
    for _ in 0..repeat {
        for ((_, run), (outcome, times)) in with.iter().zip(&mut runs) {
            let (o, t) = timed(1, || run(requests));
            *outcome = Some(o);
            times.extend(t);
        }
    }
    let mut base: Option<(Outcome, Duration)> = None;
    for ((name, _), (o, times)) in with.iter().zip(runs) {
        let o = o.expect("repeat >= 1");
        let wall = median(&times);
        let vs = match base {
            Some((b, _)) => format!(
                "{} {} {} {}",
                rel(o.http_429 as f64, b.http_429 as f64),
                rel(o.makespan_s, b.makespan_s),
                rel(o.p50_s, b.p50_s),
                rel(o.p99_s, b.p99_s)
            ),
            None => String::new(),
        };
        let speed = match base {
            Some((b, bt)) => format!(
                "  ratelab is {:.2}x its speed",
                (b.attempts as f64 / bt.as_secs_f64()) / (o.attempts as f64 / wall.as_secs_f64())
            ),
            None => String::new(),
        };
        let (lo, hi) = (times.iter().min().unwrap(), times.iter().max().unwrap());
        println!(
            "{:<10} {:>9} {:>8} {:>5.1}% {:>8.1}s {:>7.1}s {:>7.1}s {:>7.0}ms {:>11} {:>22}{speed}",
            name,
            o.attempts,
            o.http_429,
            100.0 * o.http_429 as f64 / o.attempts.max(1) as f64,
            o.makespan_s,
            o.p50_s,
            o.p99_s,
            wall.as_secs_f64() * 1e3,
            rate(o.attempts, wall),
            vs,
        );
        println!(
            "{:<10} wall min–max {:.0}–{:.0} ms, succeeded {}, dead-lettered {}, events {}",
            "",
            lo.as_secs_f64() * 1e3,
            hi.as_secs_f64() * 1e3,
            o.succeeded,
            o.dead_lettered,
            o.events
        );
        if base.is_none() {
            base = Some((o, wall));
        }
    }
    println!();
}

/// Cost against request count: is it linear?
fn scaling(repeat: usize) {
    println!("scaling (median of {repeat} runs, min–max):");
    println!(
        "{:<10} {:>10} {:>10} {:>20} {:>12} {:>12}",
        "peer", "requests", "attempts", "wall (min–max)", "attempts/s", "ns/attempt"
    );
    for (name, run) in &peers()[..2] {
        for n in [10_000u64, 100_000, 1_000_000, 10_000_000] {
            let (o, times) = timed(repeat, || run(n));
            let wall = median(&times);
            let (lo, hi) = (times.iter().min().unwrap(), times.iter().max().unwrap());
            println!(
                "{:<10} {:>10} {:>10} {:>8.1} ms ({:.1}–{:.1}) {:>12} {:>12.1}",
                name,
                n,
                o.attempts,
                wall.as_secs_f64() * 1e3,
                lo.as_secs_f64() * 1e3,
                hi.as_secs_f64() * 1e3,
                rate(o.attempts, wall),
                wall.as_secs_f64() * 1e9 / o.attempts as f64
            );
        }
    }
    println!();
}

fn main() {
    let repeat: usize = std::env::var("RATELAB_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    match std::env::var("RATELAB_BENCH").as_deref() {
        Ok("full") => {
            agreement(1_000_000, repeat, &peers());
            scaling(repeat);
            return;
        }
        Ok("ratio") => {
            // Quick check while optimising: ratelab against the hand loop only.
            let requests = std::env::var("RATELAB_BENCH_REQUESTS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1_000_000);
            agreement(requests, repeat, &peers()[..2]);
            return;
        }
        Ok("scaling") => {
            scaling(repeat);
            return;
        }
        _ => {}
    }
    agreement(CRITERION_REQUESTS, 1, &peers());
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group(format!("bulk_{}k", CRITERION_REQUESTS / 1000));
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, run) in peers() {
        let attempts = run(CRITERION_REQUESTS).attempts;
        group.throughput(Throughput::Elements(attempts));
        group.bench_function(name, |b| b.iter(|| black_box(run(CRITERION_REQUESTS))));
    }
    group.finish();
    c.final_summary();
}
