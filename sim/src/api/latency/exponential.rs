//! `exponential`: a constant plus an exponential.

use ratelab_strategies::config::{Checker, MAX_MS};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use serde::{Deserialize, Serialize};

use super::{LatencyKind, Sample, check_per_token_ms, is_zero};
use crate::sampling;

/// `{ kind = "exponential", mean_ms, offset_ms, per_token_ms }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExponentialLatencyConfig {
    /// Mean of the exponential part, ms.
    pub mean_ms: f64,
    /// Constant part, ms.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset_ms: f64,
    /// Extra ms per token.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub per_token_ms: f64,
}

impl Kind for ExponentialLatencyConfig {
    const DOC: KindDoc = KindDoc {
        about: "offset + Exp(mean)",
        fields: &[
            FieldDoc::required("mean_ms"),
            FieldDoc::default("offset_ms", "0"),
            FieldDoc::default("per_token_ms", "0"),
        ],
        example: r#"{ kind = "exponential", mean_ms = 30, offset_ms = 20 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("mean_ms", self.mean_ms, 0.0, MAX_MS);
        c.number("offset_ms", self.offset_ms, 0.0, MAX_MS);
        check_per_token_ms(c, self.per_token_ms);
    }
    fn scale(&mut self, k: f64) {
        self.mean_ms /= k;
        self.offset_ms /= k;
        self.per_token_ms /= k;
    }
}

impl LatencyKind for ExponentialLatencyConfig {
    type Sampler = ExponentialLatency;
    fn sampler(&self) -> ExponentialLatency {
        ExponentialLatency {
            offset_ms: self.offset_ms,
            mean_ms: self.mean_ms,
        }
    }
    fn mean_ms(&self) -> f64 {
        self.offset_ms + self.mean_ms
    }
    fn per_token_ms(&self) -> f64 {
        self.per_token_ms
    }
}

/// `offset_ms` plus an exponential of mean `mean_ms` (a ziggurat: no logarithm on the hot path).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExponentialLatency {
    offset_ms: f64,
    mean_ms: f64,
}

impl Sample for ExponentialLatency {
    #[inline]
    fn sample_ms(&self, word: impl FnOnce() -> u64, more: impl FnMut() -> u64) -> f64 {
        self.offset_ms + self.mean_ms * sampling::exponential(word(), more)
    }
}

#[cfg(test)]
mod tests {
    use super::super::LatencySpec;
    use super::*;
    use ratelab_strategies::draws::Draws;
    use ratelab_strategies::time::Nanos;

    #[test]
    fn exponential_has_its_offset_and_mean() {
        let spec = LatencySpec::Exponential(ExponentialLatencyConfig {
            mean_ms: 30.0,
            offset_ms: 20.0,
            per_token_ms: 0.0,
        });
        let d = Draws::new(3);
        let v: Vec<Nanos> = (0..20_000).map(|i| spec.sample(&d, 0, i, 1, 1)).collect();
        assert!(v.iter().all(|&x| x >= 20_000_000));
        let mean = v.iter().sum::<u64>() as f64 / v.len() as f64 / 1e6;
        assert!((mean - 50.0).abs() < 1.5, "mean = {mean}");
        assert!((spec.mean_ms(1.0) - 50.0).abs() < 1e-9);
    }
}
