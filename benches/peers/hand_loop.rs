//! Peer (a): a hand-written event loop for exactly the `bulk` model, and nothing else.
//!
//! Written plainly, the way one writes a special-purpose simulator: a single-threaded
//! `BinaryHeap<Reverse<(time, seq, event)>>`, exact integer token buckets, one sequential ChaCha8
//! stream, an hdrhistogram of end-to-end latency. No strategy objects, no per-second series.
//!
//! The model (`scenarios/bulk.toml`): `requests` ready at t = 0; the client admits through a token
//! bucket of 1100/s (burst 10) and a semaphore of 100, due retries before fresh work; a 429 is
//! retried after a full-jitter exponential wait (ceiling 50 ms doubling to 5 s, 10 attempts in
//! all); the API is a token bucket of 1000/s (burst 20) answering in 20 ms + Exp(30 ms) or, when
//! it refuses, 429 in 1 ms.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use hdrhistogram::Histogram;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use super::Outcome;

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000_000_000;

/// An exact token bucket: the level is in token·ns/s units (one token = 10^9 units), refilled
/// `rate` units per nanosecond; starts full.
struct Bucket {
    rate: u64,
    capacity: u64,
    level: u64,
    updated: u64,
}

impl Bucket {
    fn new(rate_per_s: u64, burst: u64) -> Self {
        Bucket {
            rate: rate_per_s,
            capacity: burst * SECOND,
            level: burst * SECOND,
            updated: 0,
        }
    }

    fn level_at(&self, now: u64) -> u64 {
        let refill = (now - self.updated).saturating_mul(self.rate);
        self.level.saturating_add(refill).min(self.capacity)
    }

    /// When one token is available (`now` if it is).
    fn ready_at(&self, now: u64) -> u64 {
        let level = self.level_at(now);
        if level >= SECOND {
            now
        } else {
            now + (SECOND - level).div_ceil(self.rate)
        }
    }

    fn take(&mut self, now: u64) {
        self.level = self.level_at(now) - SECOND;
        self.updated = now;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// The reply to an attempt: `ok` = 200, else 429.
    Reply { id: u64, attempt: u32, ok: bool },
    /// A retry's backoff is over.
    RetryDue { id: u64, attempt: u32 },
    /// The client's token bucket has a token again.
    Wake,
}

/// Runs the bulk model with `requests` requests.
pub fn run(requests: u64, seed: u64) -> Outcome {
    let mut heap: BinaryHeap<Reverse<(u64, u64, Event)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 30 * 86_400 * SECOND, 3).unwrap();
    let mut client = Bucket::new(1100, 10);
    let mut api = Bucket::new(1000, 20);
    let mut retries: VecDeque<(u64, u32)> = VecDeque::new();
    let mut next_fresh = 0u64;
    let mut in_flight = 0u32;
    let (mut attempts, mut http_429, mut succeeded, mut dead, mut events) = (0, 0, 0, 0, 0);
    let mut last_final = 0u64;

    let mut push = |heap: &mut BinaryHeap<_>, t: u64, e: Event| {
        heap.push(Reverse((t, seq, e)));
        seq += 1;
    };
    push(&mut heap, 0, Event::Wake);
    let mut wake_pending = true;

    while let Some(Reverse((now, _, event))) = heap.pop() {
        events += 1;
        match event {
            Event::Reply { id, attempt, ok } => {
                in_flight -= 1;
                if ok {
                    succeeded += 1;
                    last_final = now;
                    latency.saturating_record(now);
                } else {
                    http_429 += 1;
                    if attempt < 10 {
                        let ceiling = ((50 * MS) << (attempt - 1)).min(5 * SECOND);
                        let wait =
                            ((u128::from(rng.next_u64()) * u128::from(ceiling + 1)) >> 64) as u64;
                        push(
                            &mut heap,
                            now + wait,
                            Event::RetryDue {
                                id,
                                attempt: attempt + 1,
                            },
                        );
                    } else {
                        dead += 1;
                        last_final = now;
                    }
                }
            }
            Event::RetryDue { id, attempt } => retries.push_back((id, attempt)),
            Event::Wake => wake_pending = false,
        }
        // Apply everything due at this instant before admitting.
        if heap.peek().is_some_and(|Reverse((t, _, _))| *t == now) {
            continue;
        }
        while in_flight < 100 && (!retries.is_empty() || next_fresh < requests) {
            let ready = client.ready_at(now);
            if ready > now {
                if !wake_pending {
                    push(&mut heap, ready, Event::Wake);
                    wake_pending = true;
                }
                break;
            }
            client.take(now);
            let (id, attempt) = retries.pop_front().unwrap_or_else(|| {
                next_fresh += 1;
                (next_fresh - 1, 1)
            });
            attempts += 1;
            in_flight += 1;
            if api.ready_at(now) == now {
                api.take(now);
                let u = ((rng.next_u64() >> 12) as f64 + 0.5) / (1u64 << 52) as f64;
                let ms = 20.0 - 30.0 * u.ln();
                let lat = (ms * 1e6).round() as u64;
                push(
                    &mut heap,
                    now + lat,
                    Event::Reply {
                        id,
                        attempt,
                        ok: true,
                    },
                );
            } else {
                push(
                    &mut heap,
                    now + MS,
                    Event::Reply {
                        id,
                        attempt,
                        ok: false,
                    },
                );
            }
        }
        if succeeded + dead == requests {
            break;
        }
    }
    Outcome {
        attempts,
        http_429,
        succeeded,
        dead_lettered: dead,
        makespan_s: last_final as f64 / 1e9,
        p50_s: latency.value_at_quantile(0.5) as f64 / 1e9,
        p99_s: latency.value_at_quantile(0.99) as f64 / 1e9,
        events,
    }
}
