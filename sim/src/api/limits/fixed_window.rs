//! `fixed_window`: at most `limit` per window, windows aligned to t = 0.

use ratelab_strategies::config::{Checker, Unit};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use super::{Limit, LimitKind, MAX_WINDOW_S, cost};

/// `{ kind = "fixed_window", limit, window_s, unit }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedWindowLimitConfig {
    /// Allowed per window.
    pub limit: u64,
    /// Window length, s.
    pub window_s: f64,
    /// What a request costs.
    #[serde(default)]
    pub unit: Unit,
}

/// Checks `limit` and `window_s` of a window limit.
pub(crate) fn check_window(c: &mut Checker, limit: u64, window_s: f64) {
    c.integer("limit", limit, 1, 1_000_000_000_000);
    c.positive("window_s", window_s, 0.0, MAX_WINDOW_S);
}

/// The requests per second a window of `limit` units per `window_s` sustains.
pub(crate) fn window_capacity(limit: u64, window_s: f64, unit: Unit, mean_tokens: f64) -> f64 {
    let per_s = limit as f64 / window_s;
    match unit {
        Unit::Requests => per_s,
        Unit::Tokens => per_s / mean_tokens.max(1.0),
    }
}

impl Kind for FixedWindowLimitConfig {
    const DOC: KindDoc = KindDoc {
        about: "at most limit per window, windows aligned to t = 0",
        fields: &[
            FieldDoc::required("limit"),
            FieldDoc::required("window_s"),
            FieldDoc::default("unit", "\"requests\"").values(r#""requests" | "tokens""#),
        ],
        example: r#"{ kind = "fixed_window", limit = 60, window_s = 60 }"#,
    };
    fn check(&self, c: &mut Checker) {
        check_window(c, self.limit, self.window_s);
    }
    fn scale(&mut self, k: f64) {
        self.window_s /= k;
    }
}

impl LimitKind for FixedWindowLimitConfig {
    type State = FixedWindowLimit;
    fn build(&self) -> FixedWindowLimit {
        FixedWindowLimit {
            limit: self.limit,
            window: secs_to_nanos(self.window_s).max(1),
            index: 0,
            count: 0,
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

/// The count of the current aligned window.
#[derive(Clone, Debug)]
pub struct FixedWindowLimit {
    limit: u64,
    window: Nanos,
    /// The window `count` belongs to (`t / window`).
    index: u64,
    count: u64,
    by_tokens: bool,
}

impl FixedWindowLimit {
    /// Starts a new count when `now` is in a later window.
    fn roll(&mut self, now: Nanos) {
        let i = now / self.window;
        if i != self.index {
            self.index = i;
            self.count = 0;
        }
    }
}

impl Limit for FixedWindowLimit {
    fn by_tokens(&self) -> bool {
        self.by_tokens
    }
    fn never_fits(&self, tokens: u64) -> bool {
        cost(self.by_tokens, tokens) > self.limit
    }
    fn wait(&mut self, now: Nanos, tokens: u64) -> Nanos {
        self.roll(now);
        if self.count + cost(self.by_tokens, tokens) <= self.limit {
            0
        } else {
            (self.index + 1) * self.window - now
        }
    }
    fn commit(&mut self, now: Nanos, tokens: u64, _end: Nanos) {
        self.roll(now);
        self.count += cost(self.by_tokens, tokens);
    }
    fn headroom(&mut self, now: Nanos) -> (u64, Nanos) {
        self.roll(now);
        let reset = if self.count == 0 {
            0
        } else {
            (self.index + 1) * self.window - now
        };
        (self.limit.saturating_sub(self.count), reset)
    }
    fn capacity(&self) -> u64 {
        self.limit
    }
    /// The current window keeps its count when the window length stays.
    fn retune(&mut self, at: Nanos, next: Self) {
        self.roll(at);
        let count = if next.window == self.window {
            self.count
        } else {
            0
        };
        *self = FixedWindowLimit {
            index: at / next.window,
            count,
            ..next
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_strategies::time::SECOND;

    #[test]
    fn fixed_window_resets_at_aligned_boundaries() {
        let mut l = FixedWindowLimitConfig {
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
}
