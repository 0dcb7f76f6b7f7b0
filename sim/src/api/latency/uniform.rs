//! `uniform`: uniform between two latencies.

use ratelab_strategies::config::{Checker, MAX_MS};
use ratelab_strategies::draws::unit_open;
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use serde::{Deserialize, Serialize};

use super::{LatencyKind, Sample, check_per_token_ms, is_zero};

/// `{ kind = "uniform", min_ms, max_ms, per_token_ms }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniformLatencyConfig {
    /// Shortest, ms.
    pub min_ms: f64,
    /// Longest, ms.
    pub max_ms: f64,
    /// Extra ms per token.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub per_token_ms: f64,
}

impl Kind for UniformLatencyConfig {
    const DOC: KindDoc = KindDoc {
        about: "uniform in [min, max]",
        fields: &[
            FieldDoc::required("min_ms"),
            FieldDoc::required("max_ms"),
            FieldDoc::default("per_token_ms", "0"),
        ],
        example: r#"{ kind = "uniform", min_ms = 100, max_ms = 300 }"#,
    };
    fn check(&self, c: &mut Checker) {
        let (min_ms, max_ms) = (self.min_ms, self.max_ms);
        c.number("min_ms", min_ms, 0.0, MAX_MS);
        c.number("max_ms", max_ms, 0.0, MAX_MS);
        if max_ms < min_ms {
            c.fail(
                "max_ms",
                format!("must be at least min_ms = {min_ms} (got {max_ms})"),
            );
        }
        check_per_token_ms(c, self.per_token_ms);
    }
    fn scale(&mut self, k: f64) {
        self.min_ms /= k;
        self.max_ms /= k;
        self.per_token_ms /= k;
    }
}

impl LatencyKind for UniformLatencyConfig {
    type Sampler = UniformLatency;
    fn sampler(&self) -> UniformLatency {
        UniformLatency {
            min_ms: self.min_ms,
            span_ms: self.max_ms - self.min_ms,
        }
    }
    fn mean_ms(&self) -> f64 {
        (self.min_ms + self.max_ms) / 2.0
    }
    fn per_token_ms(&self) -> f64 {
        self.per_token_ms
    }
}

/// Uniform in `[min_ms, min_ms + span_ms]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UniformLatency {
    min_ms: f64,
    span_ms: f64,
}

impl Sample for UniformLatency {
    #[inline]
    fn sample_ms(&self, word: impl FnOnce() -> u64, _more: impl FnMut() -> u64) -> f64 {
        self.min_ms + self.span_ms * unit_open(word())
    }
}
