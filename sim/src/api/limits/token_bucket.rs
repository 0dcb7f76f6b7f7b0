//! `token_bucket`: a continuously refilled bucket that starts full.

use ratelab_strategies::admission::MAX_BURST;
use ratelab_strategies::bucket::{ExactBucket, Rate};
use ratelab_strategies::config::{Checker, RateSpec, Unit, scale_rate};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::Nanos;
use serde::{Deserialize, Serialize};

use super::{Limit, LimitKind, cost};

/// `{ kind = "token_bucket", rate_per_s | rate_per_min, burst, unit }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBucketLimitConfig {
    /// Refill per second (or `rate_per_min`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// Refill per minute (or `rate_per_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_min: Option<f64>,
    /// Capacity.
    pub burst: u64,
    /// What a request costs.
    #[serde(default)]
    pub unit: Unit,
}

impl TokenBucketLimitConfig {
    /// The exact rate.
    pub fn rate(&self) -> Rate {
        RateSpec::of(self.rate_per_s, self.rate_per_min).rate()
    }
}

impl Kind for TokenBucketLimitConfig {
    const DOC: KindDoc = KindDoc {
        about: "continuous refill, as the big AI APIs describe",
        fields: &[
            FieldDoc::required("rate_per_s"),
            FieldDoc::instead_of_previous("rate_per_min"),
            FieldDoc::required("burst"),
            FieldDoc::default("unit", "\"requests\"").values(r#""requests" | "tokens""#),
        ],
        example: r#"{ kind = "token_bucket", rate_per_min = 600, burst = 10 }"#,
    };
    fn check(&self, c: &mut Checker) {
        RateSpec::of(self.rate_per_s, self.rate_per_min).check(c);
        c.integer("burst", self.burst, 1, MAX_BURST);
    }
    fn scale(&mut self, k: f64) {
        scale_rate(&mut self.rate_per_s, k);
        scale_rate(&mut self.rate_per_min, k);
    }
}

impl LimitKind for TokenBucketLimitConfig {
    type State = TokenBucketLimit;
    fn build(&self) -> TokenBucketLimit {
        TokenBucketLimit {
            bucket: ExactBucket::new(self.rate(), self.burst),
            by_tokens: self.unit == Unit::Tokens,
        }
    }
    fn unit(&self) -> Unit {
        self.unit
    }
    fn capacity_rps(&self, mean_tokens: f64, _mean_latency_ms: f64) -> Option<f64> {
        let per_s = self.rate().per_second();
        Some(match self.unit {
            Unit::Requests => per_s,
            Unit::Tokens => per_s / mean_tokens.max(1.0),
        })
    }
}

/// A token bucket on integer nanoseconds (see [`ExactBucket`]); with `count_rejected` it may go
/// into debt.
#[derive(Clone, Debug)]
pub struct TokenBucketLimit {
    bucket: ExactBucket,
    by_tokens: bool,
}

impl Limit for TokenBucketLimit {
    fn by_tokens(&self) -> bool {
        self.by_tokens
    }
    #[inline]
    fn never_fits(&self, tokens: u64) -> bool {
        cost(self.by_tokens, tokens) > self.bucket.burst()
    }
    #[inline]
    fn wait(&mut self, now: Nanos, tokens: u64) -> Nanos {
        self.bucket
            .ready_at(now, cost(self.by_tokens, tokens))
            .map_or(Nanos::MAX, |t| t - now)
    }
    #[inline]
    fn commit(&mut self, now: Nanos, tokens: u64, _end: Nanos) {
        self.bucket.take(now, cost(self.by_tokens, tokens));
    }
    /// One level computation instead of two.
    #[inline(always)]
    fn wait_or_commit(&mut self, now: Nanos, tokens: u64) -> Nanos {
        self.bucket.take_or_wait(now, cost(self.by_tokens, tokens))
    }
    #[inline]
    fn headroom(&mut self, now: Nanos) -> (u64, Nanos) {
        self.bucket.headroom(now)
    }
    fn capacity(&self) -> u64 {
        self.bucket.burst()
    }
    /// Refilled at the old rate until `at`, then clamped to the new burst.
    fn retune(&mut self, at: Nanos, next: Self) {
        self.bucket = self
            .bucket
            .retuned(at, next.bucket.rate(), next.bucket.burst());
    }
}
