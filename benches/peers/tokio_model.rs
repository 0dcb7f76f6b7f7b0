//! Peer (b): the `bulk` model written the way most Rust users would write it.
//!
//! A tokio `current_thread` runtime with a paused clock (`start_paused`: time jumps to the next
//! timer when every task is idle), one task per request, a `tokio::sync::Semaphore` of 100
//! permits, `tokio::time::sleep` for pacing, latency and backoff, and shared state behind
//! `Arc<Mutex<…>>`. The client's token bucket reserves the next token and sleeps until it is due.
//!
//! Two differences from the simulator's semantics, both inherent to this style: tokio's timer has
//! a resolution of one millisecond (deadlines are rounded up to the next millisecond), and the
//! semaphore is FIFO, so a retry waits behind the fresh requests already queued instead of going
//! first. Neither changes the totals much (see the agreement table the bench prints).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::Outcome;

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000_000_000;

/// An exact token bucket that hands out reservations: the token is taken now (the level may go
/// negative) and the caller sleeps until it is due.
struct Bucket {
    rate: u64,
    capacity: i128,
    level: i128,
    updated: u64,
}

impl Bucket {
    fn new(rate_per_s: u64, burst: u64) -> Self {
        let capacity = i128::from(burst * SECOND);
        Bucket {
            rate: rate_per_s,
            capacity,
            level: capacity,
            updated: 0,
        }
    }

    fn refill(&mut self, now: u64) {
        let refill = i128::from(now.saturating_sub(self.updated)) * i128::from(self.rate);
        self.level = (self.level + refill).min(self.capacity);
        self.updated = self.updated.max(now);
    }

    /// Takes a token if one is there now.
    fn try_take(&mut self, now: u64) -> bool {
        self.refill(now);
        if self.level >= i128::from(SECOND) {
            self.level -= i128::from(SECOND);
            true
        } else {
            false
        }
    }

    /// Takes the next token, possibly in the future: returns when it is due.
    fn reserve(&mut self, now: u64) -> u64 {
        self.refill(now);
        self.level -= i128::from(SECOND);
        if self.level >= 0 {
            now
        } else {
            let wait = (-self.level) as u64;
            now + wait.div_ceil(self.rate)
        }
    }
}

struct Shared {
    start: Instant,
    client: Bucket,
    api: Bucket,
    rng: ChaCha8Rng,
    latency: Histogram<u64>,
    attempts: u64,
    http_429: u64,
    succeeded: u64,
    dead: u64,
    last_final: u64,
    events: u64,
}

impl Shared {
    fn now(&self) -> u64 {
        Instant::now().duration_since(self.start).as_nanos() as u64
    }
}

/// Runs the bulk model with `requests` requests on a fresh runtime.
pub fn run(requests: u64, seed: u64) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    rt.block_on(simulate(requests, seed))
}

async fn simulate(requests: u64, seed: u64) -> Outcome {
    let shared = Arc::new(Mutex::new(Shared {
        start: Instant::now(),
        client: Bucket::new(1100, 10),
        api: Bucket::new(1000, 20),
        rng: ChaCha8Rng::seed_from_u64(seed),
        latency: Histogram::new_with_bounds(1, 30 * 86_400 * SECOND, 3).unwrap(),
        attempts: 0,
        http_429: 0,
        succeeded: 0,
        dead: 0,
        last_final: 0,
        events: 0,
    }));
    let permits = Arc::new(Semaphore::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..requests {
        let shared = Arc::clone(&shared);
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let mut attempt = 1u32;
            loop {
                let permit = permits.acquire().await.expect("never closed");
                let due = {
                    let mut s = shared.lock().unwrap();
                    let now = s.now();
                    s.client.reserve(now)
                };
                let start = shared.lock().unwrap().start;
                tokio::time::sleep_until(start + Duration::from_nanos(due)).await;
                let (ok, latency) = {
                    let mut s = shared.lock().unwrap();
                    let now = s.now();
                    s.attempts += 1;
                    if s.api.try_take(now) {
                        let u = ((s.rng.next_u64() >> 12) as f64 + 0.5) / (1u64 << 52) as f64;
                        let ms = 20.0 - 30.0 * u.ln();
                        (true, (ms * 1e6).round() as u64)
                    } else {
                        (false, MS)
                    }
                };
                tokio::time::sleep(Duration::from_nanos(latency)).await;
                drop(permit);
                let wait = {
                    let mut s = shared.lock().unwrap();
                    s.events += 1;
                    let now = s.now();
                    if ok {
                        s.succeeded += 1;
                        s.last_final = s.last_final.max(now);
                        s.latency.saturating_record(now);
                        return;
                    }
                    s.http_429 += 1;
                    if attempt >= 10 {
                        s.dead += 1;
                        s.last_final = s.last_final.max(now);
                        return;
                    }
                    let ceiling = ((50 * MS) << (attempt - 1)).min(5 * SECOND);
                    ((u128::from(s.rng.next_u64()) * u128::from(ceiling + 1)) >> 64) as u64
                };
                tokio::time::sleep(Duration::from_nanos(wait)).await;
                attempt += 1;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let s = shared.lock().unwrap();
    Outcome {
        attempts: s.attempts,
        http_429: s.http_429,
        succeeded: s.succeeded,
        dead_lettered: s.dead,
        makespan_s: s.last_final as f64 / 1e9,
        p50_s: s.latency.value_at_quantile(0.5) as f64 / 1e9,
        p99_s: s.latency.value_at_quantile(0.99) as f64 / 1e9,
        events: s.events,
    }
}
