//! The limits an API enforces, each a small state machine on integer nanoseconds.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use ratelab_strategies::bucket::ExactBucket;
use ratelab_strategies::spec::{Checker, RateSpec, Unit};
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::Serialize;

ratelab_strategies::kind_enum! {
    /// One entry of `[api] limits`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub enum LimitSpec {
        /// A continuously refilled bucket that starts full.
        TokenBucket {
            /// Refill per second (or `rate_per_min`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            rate_per_s: Option<f64>,
            /// Refill per minute (or `rate_per_s`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            rate_per_min: Option<f64>,
            /// Capacity.
            burst: u64,
            /// What a request costs.
            #[serde(default)]
            unit: Unit,
        },
        /// At most `limit` per window; windows aligned to t = 0.
        FixedWindow {
            /// Allowed per window.
            limit: u64,
            /// Window length, s.
            window_s: f64,
            /// What a request costs.
            #[serde(default)]
            unit: Unit,
        },
        /// At most `limit` in any window of `window_s` (a true log).
        SlidingWindow {
            /// Allowed per window.
            limit: u64,
            /// Window length, s.
            window_s: f64,
            /// What a request costs.
            #[serde(default)]
            unit: Unit,
        },
        /// At most `max_in_flight` requests being served at once.
        Concurrency {
            /// Requests served at once.
            max_in_flight: u32,
        },
    }
}

/// Longest window accepted: one day.
const MAX_WINDOW_S: f64 = 86_400.0;

impl LimitSpec {
    /// The `kind` as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            LimitSpec::TokenBucket { .. } => "token_bucket",
            LimitSpec::FixedWindow { .. } => "fixed_window",
            LimitSpec::SlidingWindow { .. } => "sliding_window",
            LimitSpec::Concurrency { .. } => "concurrency",
        }
    }

    /// What the limit counts.
    pub fn unit(&self) -> Unit {
        match self {
            LimitSpec::TokenBucket { unit, .. }
            | LimitSpec::FixedWindow { unit, .. }
            | LimitSpec::SlidingWindow { unit, .. } => *unit,
            LimitSpec::Concurrency { .. } => Unit::Requests,
        }
    }

    /// Checks every field.
    pub fn check(&self, c: &mut Checker) {
        match self {
            LimitSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                burst,
                ..
            } => {
                RateSpec::of(*rate_per_s, *rate_per_min).check(c);
                c.integer("burst", *burst, 1, 1_000_000_000_000);
            }
            LimitSpec::FixedWindow {
                limit, window_s, ..
            }
            | LimitSpec::SlidingWindow {
                limit, window_s, ..
            } => {
                c.integer("limit", *limit, 1, 1_000_000_000_000);
                c.positive("window_s", *window_s, 0.0, MAX_WINDOW_S);
            }
            LimitSpec::Concurrency { max_in_flight } => {
                c.integer("max_in_flight", u64::from(*max_in_flight), 1, 1_000_000)
            }
        }
    }

    /// Sustained rate in units (requests or tokens) per second, for windows and buckets.
    pub fn units_per_second(&self) -> Option<f64> {
        match self {
            LimitSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                ..
            } => Some(RateSpec::of(*rate_per_s, *rate_per_min).rate().per_second()),
            LimitSpec::FixedWindow {
                limit, window_s, ..
            }
            | LimitSpec::SlidingWindow {
                limit, window_s, ..
            } => Some(*limit as f64 / window_s),
            LimitSpec::Concurrency { .. } => None,
        }
    }

    /// Fresh state for a run.
    pub fn build(&self) -> Limit {
        let by_tokens = self.unit() == Unit::Tokens;
        let kind = match self {
            LimitSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                burst,
                ..
            } => LimitKind::Bucket(ExactBucket::new(
                RateSpec::of(*rate_per_s, *rate_per_min).rate(),
                *burst,
            )),
            LimitSpec::FixedWindow {
                limit, window_s, ..
            } => LimitKind::FixedWindow {
                limit: *limit,
                window: secs_to_nanos(*window_s).max(1),
                index: 0,
                count: 0,
            },
            LimitSpec::SlidingWindow {
                limit, window_s, ..
            } => LimitKind::SlidingWindow {
                limit: *limit,
                window: secs_to_nanos(*window_s).max(1),
                log: VecDeque::new(),
                sum: 0,
            },
            LimitSpec::Concurrency { max_in_flight } => LimitKind::Concurrency {
                max: *max_in_flight as usize,
                ends: BinaryHeap::new(),
            },
        };
        Limit { kind, by_tokens }
    }
}

/// The state of one limit during a run.
#[derive(Clone, Debug)]
pub struct Limit {
    kind: LimitKind,
    by_tokens: bool,
}

#[derive(Clone, Debug)]
enum LimitKind {
    Bucket(ExactBucket),
    FixedWindow {
        limit: u64,
        window: Nanos,
        index: u64,
        count: u64,
    },
    SlidingWindow {
        limit: u64,
        window: Nanos,
        log: VecDeque<(Nanos, u64)>,
        sum: u64,
    },
    Concurrency {
        max: usize,
        ends: BinaryHeap<Reverse<Nanos>>,
    },
}

impl Limit {
    /// Does this limit count tokens?
    pub fn by_tokens(&self) -> bool {
        self.by_tokens
    }

    /// Is this the concurrency limit?
    pub fn is_concurrency(&self) -> bool {
        matches!(self.kind, LimitKind::Concurrency { .. })
    }

    fn cost(&self, tokens: u64) -> u64 {
        if self.by_tokens { tokens } else { 1 }
    }

    /// A request of `tokens` can never pass (heavier than the burst or the window's limit).
    pub fn never_fits(&self, tokens: u64) -> bool {
        let n = self.cost(tokens);
        match &self.kind {
            LimitKind::Bucket(b) => n > b.burst(),
            LimitKind::FixedWindow { limit, .. } | LimitKind::SlidingWindow { limit, .. } => {
                n > *limit
            }
            LimitKind::Concurrency { .. } => false,
        }
    }

    /// Drops what has expired by `now` (window roll-over, old log entries, finished requests).
    fn expire(&mut self, now: Nanos) {
        match &mut self.kind {
            LimitKind::Bucket(_) => {}
            LimitKind::FixedWindow {
                window,
                index,
                count,
                ..
            } => {
                let i = now / *window;
                if i != *index {
                    *index = i;
                    *count = 0;
                }
            }
            LimitKind::SlidingWindow {
                window, log, sum, ..
            } => {
                while let Some(&(t, n)) = log.front() {
                    if t.saturating_add(*window) > now {
                        break;
                    }
                    log.pop_front();
                    *sum -= n;
                }
            }
            LimitKind::Concurrency { ends, .. } => {
                while ends.peek().is_some_and(|Reverse(e)| *e <= now) {
                    ends.pop();
                }
            }
        }
    }

    /// How long from `now` until a request of `tokens` would be admitted by this limit alone
    /// (0: admitted now). Assumes [`Limit::never_fits`] is false.
    pub fn wait(&mut self, now: Nanos, tokens: u64) -> Nanos {
        self.expire(now);
        let n = self.cost(tokens);
        match &self.kind {
            LimitKind::Bucket(b) => b.ready_at(now, n).map_or(Nanos::MAX, |t| t - now),
            LimitKind::FixedWindow {
                limit,
                window,
                index,
                count,
            } => {
                if count + n <= *limit {
                    0
                } else {
                    (index + 1) * window - now
                }
            }
            LimitKind::SlidingWindow {
                limit,
                window,
                log,
                sum,
            } => {
                if sum + n <= *limit {
                    return 0;
                }
                let mut left = *sum;
                for &(t, m) in log {
                    left -= m;
                    if left + n <= *limit {
                        return t + window - now;
                    }
                }
                0
            }
            LimitKind::Concurrency { max, ends } => {
                if ends.len() < *max {
                    0
                } else {
                    ends.peek().map_or(0, |Reverse(e)| e - now)
                }
            }
        }
    }

    /// [`Limit::wait`], then [`Limit::commit`] if the wait is 0, in one step: for every limit but
    /// the concurrency limit, whose commit needs the end of service.
    pub fn wait_or_commit(&mut self, now: Nanos, tokens: u64) -> Nanos {
        debug_assert!(!self.is_concurrency());
        let n = self.cost(tokens);
        if let LimitKind::Bucket(b) = &mut self.kind {
            return b.take_or_wait(now, n);
        }
        let wait = self.wait(now, tokens);
        if wait == 0 {
            self.commit(now, tokens, now);
        }
        wait
    }

    /// Counts a request of `tokens` sent at `now`, being served until `end`.
    pub fn commit(&mut self, now: Nanos, tokens: u64, end: Nanos) {
        self.expire(now);
        let n = self.cost(tokens);
        match &mut self.kind {
            LimitKind::Bucket(b) => b.take(now, n),
            LimitKind::FixedWindow { count, .. } => *count += n,
            LimitKind::SlidingWindow { log, sum, .. } => {
                log.push_back((now, n));
                *sum += n;
            }
            LimitKind::Concurrency { ends, .. } => ends.push(Reverse(end)),
        }
    }

    /// Units left at `now` and the time until the limit is fully available again (the
    /// `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` pair).
    pub fn headroom(&mut self, now: Nanos) -> (u64, Nanos) {
        self.expire(now);
        match &self.kind {
            LimitKind::Bucket(b) => b.headroom(now),
            LimitKind::FixedWindow {
                limit,
                window,
                index,
                count,
            } => (
                limit.saturating_sub(*count),
                if *count == 0 {
                    0
                } else {
                    (index + 1) * window - now
                },
            ),
            LimitKind::SlidingWindow {
                limit,
                window,
                log,
                sum,
            } => (
                limit.saturating_sub(*sum),
                log.back().map_or(0, |&(t, _)| t + window - now),
            ),
            LimitKind::Concurrency { max, ends } => (
                max.saturating_sub(ends.len()) as u64,
                ends.iter().map(|Reverse(e)| e - now).max().unwrap_or(0),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_strategies::time::SECOND;

    #[test]
    fn fixed_window_resets_at_aligned_boundaries() {
        let mut l = LimitSpec::FixedWindow {
            limit: 2,
            window_s: 1.0,
            unit: Unit::Requests,
        }
        .build();
        l.commit(900_000_000, 1, 0);
        l.commit(950_000_000, 1, 0);
        assert_eq!(l.wait(960_000_000, 1), 40_000_000);
        assert_eq!(l.wait(SECOND, 1), 0);
    }

    #[test]
    fn sliding_window_waits_for_the_oldest_entry_to_leave() {
        let mut l = LimitSpec::SlidingWindow {
            limit: 3,
            window_s: 1.0,
            unit: Unit::Tokens,
        }
        .build();
        l.commit(0, 2, 0);
        l.commit(500_000_000, 1, 0);
        assert_eq!(l.wait(600_000_000, 1), 400_000_000);
        assert_eq!(l.wait(600_000_000, 3), 900_000_000);
        assert_eq!(l.wait(SECOND, 2), 0);
        assert!(l.never_fits(4));
    }

    #[test]
    fn concurrency_frees_a_slot_at_the_instant_of_the_reply() {
        let mut l = LimitSpec::Concurrency { max_in_flight: 1 }.build();
        l.commit(0, 1, 200);
        assert_eq!(l.wait(100, 1), 100);
        assert_eq!(l.wait(200, 1), 0);
    }
}
