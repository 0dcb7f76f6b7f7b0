//! Naive reference limits: logs kept as plain vectors, every decision by brute force.

use ratelab_sim::api::LimitSpec;
use ratelab_strategies::config::Unit;
use ratelab_strategies::time::{Nanos, secs_to_nanos};

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
    /// Admits everything (`optimistic_concurrency`: its row decides, not a limit).
    Open,
}

impl NaiveLimit {
    /// The reference for a limit spec.
    pub fn new(spec: &LimitSpec) -> Self {
        let by_tokens = spec.unit() == Unit::Tokens;
        match spec {
            LimitSpec::TokenBucket(b) => {
                let rate = b.rate();
                NaiveLimit::Bucket {
                    milli: i128::from(rate.milli_per_period),
                    unit: i128::from(rate.period) * 1000,
                    burst: i128::from(b.burst),
                    by_tokens,
                    takes: vec![],
                }
            }
            LimitSpec::FixedWindow(w) => NaiveLimit::Fixed {
                limit: w.limit,
                window: secs_to_nanos(w.window_s).max(1),
                by_tokens,
                log: vec![],
            },
            LimitSpec::SlidingWindow(w) => NaiveLimit::Sliding {
                limit: w.limit,
                window: secs_to_nanos(w.window_s).max(1),
                by_tokens,
                log: vec![],
            },
            LimitSpec::Concurrency(c) => NaiveLimit::Concurrency {
                max: c.max_in_flight as usize,
                ends: vec![],
            },
            LimitSpec::OptimisticConcurrency(_) => NaiveLimit::Open,
        }
    }

    fn cost(&self, tokens: u64) -> u64 {
        let by_tokens = match self {
            NaiveLimit::Bucket { by_tokens, .. }
            | NaiveLimit::Fixed { by_tokens, .. }
            | NaiveLimit::Sliding { by_tokens, .. } => *by_tokens,
            NaiveLimit::Concurrency { .. } | NaiveLimit::Open => false,
        };
        if by_tokens { tokens } else { 1 }
    }

    /// Heavier than the limit can ever hold.
    pub fn never_fits(&self, tokens: u64) -> bool {
        let n = self.cost(tokens);
        match self {
            NaiveLimit::Bucket { burst, .. } => i128::from(n) > *burst,
            NaiveLimit::Fixed { limit, .. } | NaiveLimit::Sliding { limit, .. } => n > *limit,
            NaiveLimit::Concurrency { .. } | NaiveLimit::Open => false,
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
            NaiveLimit::Open => 0,
        }
    }

    /// Counts a request of `tokens` at `now`, served until `end`.
    pub fn commit(&mut self, now: Nanos, tokens: u64, end: Nanos) {
        let n = self.cost(tokens);
        match self {
            NaiveLimit::Bucket { takes, .. } => takes.push((now, n)),
            NaiveLimit::Fixed { log, .. } | NaiveLimit::Sliding { log, .. } => log.push((now, n)),
            NaiveLimit::Concurrency { ends, .. } => ends.push(end),
            NaiveLimit::Open => {}
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
            NaiveLimit::Concurrency { .. } | NaiveLimit::Open => false,
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
            NaiveLimit::Open => (1, 0),
        }
    }
}
