//! `sliding_window`: at most `limit` in any window of `window_s` (a true log).

use std::collections::VecDeque;

use ratelab_strategies::config::{Checker, Unit};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use super::fixed_window::{check_window, window_capacity};
use super::{Limit, LimitKind, cost};

/// `{ kind = "sliding_window", limit, window_s, unit }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlidingWindowLimitConfig {
    /// Allowed per window.
    pub limit: u64,
    /// Window length, s.
    pub window_s: f64,
    /// What a request costs.
    #[serde(default)]
    pub unit: Unit,
}

impl Kind for SlidingWindowLimitConfig {
    const DOC: KindDoc = KindDoc {
        about: "at most limit in any window (a true log)",
        fields: &[
            FieldDoc::required("limit"),
            FieldDoc::required("window_s"),
            FieldDoc::default("unit", "\"requests\"").values(r#""requests" | "tokens""#),
        ],
        example: r#"{ kind = "sliding_window", limit = 60, window_s = 60, unit = "tokens" }"#,
    };
    fn check(&self, c: &mut Checker) {
        check_window(c, self.limit, self.window_s);
    }
    fn scale(&mut self, k: f64) {
        self.window_s /= k;
    }
}

impl LimitKind for SlidingWindowLimitConfig {
    type State = SlidingWindowLimit;
    fn build(&self) -> SlidingWindowLimit {
        SlidingWindowLimit {
            limit: self.limit,
            window: secs_to_nanos(self.window_s).max(1),
            log: VecDeque::new(),
            sum: 0,
            by_tokens: self.unit == Unit::Tokens,
        }
    }
    fn unit(&self) -> Unit {
        self.unit
    }
    fn capacity_rps(&self, mean_tokens: f64, _mean_latency_ms: f64) -> Option<f64> {
        Some(window_capacity(
            self.limit,
            self.window_s,
            self.unit,
            mean_tokens,
        ))
    }
}

/// A log of what was counted within the last window.
#[derive(Clone, Debug)]
pub struct SlidingWindowLimit {
    limit: u64,
    window: Nanos,
    /// (time, units) of each counted request still in the window, oldest first.
    log: VecDeque<(Nanos, u64)>,
    /// The units in `log`.
    sum: u64,
    by_tokens: bool,
}

impl SlidingWindowLimit {
    /// Drops the entries that have left the window by `now`.
    fn expire(&mut self, now: Nanos) {
        while let Some(&(t, n)) = self.log.front() {
            if t.saturating_add(self.window) > now {
                break;
            }
            self.log.pop_front();
            self.sum -= n;
        }
    }
}

impl Limit for SlidingWindowLimit {
    fn by_tokens(&self) -> bool {
        self.by_tokens
    }
    fn never_fits(&self, tokens: u64) -> bool {
        cost(self.by_tokens, tokens) > self.limit
    }
    fn wait(&mut self, now: Nanos, tokens: u64) -> Nanos {
        self.expire(now);
        let n = cost(self.by_tokens, tokens);
        if self.sum + n <= self.limit {
            return 0;
        }
        let mut left = self.sum;
        for &(t, m) in &self.log {
            left -= m;
            if left + n <= self.limit {
                return t + self.window - now;
            }
        }
        0
    }
    fn commit(&mut self, now: Nanos, tokens: u64, _end: Nanos) {
        self.expire(now);
        let n = cost(self.by_tokens, tokens);
        self.log.push_back((now, n));
        self.sum += n;
    }
    fn headroom(&mut self, now: Nanos) -> (u64, Nanos) {
        self.expire(now);
        (
            self.limit.saturating_sub(self.sum),
            self.log.back().map_or(0, |&(t, _)| t + self.window - now),
        )
    }
    fn capacity(&self) -> u64 {
        self.limit
    }
    /// The log carries over, judged by the new limit and window.
    fn retune(&mut self, _at: Nanos, next: Self) {
        self.limit = next.limit;
        self.window = next.window;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_strategies::time::SECOND;

    #[test]
    fn sliding_window_waits_for_the_oldest_entry_to_leave() {
        let mut l = SlidingWindowLimitConfig {
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
}
