//! `fixed`: always the same latency.

use ratelab_strategies::config::{Checker, MAX_MS};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use serde::{Deserialize, Serialize};

use super::{LatencyKind, Sample, check_per_token_ms, is_zero};

/// `{ kind = "fixed", ms, per_token_ms }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedLatencyConfig {
    /// The latency, ms.
    pub ms: f64,
    /// Extra ms per token.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub per_token_ms: f64,
}

impl Kind for FixedLatencyConfig {
    const DOC: KindDoc = KindDoc {
        about: "always ms",
        fields: &[
            FieldDoc::required("ms"),
            FieldDoc::default("per_token_ms", "0"),
        ],
        example: r#"{ kind = "fixed", ms = 200 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("ms", self.ms, 0.0, MAX_MS);
        check_per_token_ms(c, self.per_token_ms);
    }
    fn scale(&mut self, k: f64) {
        self.ms /= k;
        self.per_token_ms /= k;
    }
}

impl LatencyKind for FixedLatencyConfig {
    type Sampler = FixedLatency;
    fn sampler(&self) -> FixedLatency {
        FixedLatency { ms: self.ms }
    }
    fn mean_ms(&self) -> f64 {
        self.ms
    }
    fn per_token_ms(&self) -> f64 {
        self.per_token_ms
    }
}

/// Always `ms`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedLatency {
    ms: f64,
}

impl Sample for FixedLatency {
    #[inline]
    fn sample_ms(&self, _word: impl FnOnce() -> u64, _more: impl FnMut() -> u64) -> f64 {
        self.ms
    }
}

#[cfg(test)]
mod tests {
    use super::super::LatencySpec;
    use super::*;
    use ratelab_strategies::draws::Draws;

    #[test]
    fn fixed_and_per_token_are_exact() {
        let spec = LatencySpec::Fixed(FixedLatencyConfig {
            ms: 200.0,
            per_token_ms: 0.5,
        });
        assert_eq!(spec.sample(&Draws::new(0), 0, 0, 1, 10), 205_000_000);
    }
}
