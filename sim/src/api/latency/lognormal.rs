//! `lognormal`: a log-normal latency given by its median and 99th percentile.

use ratelab_strategies::config::{Checker, MAX_MS};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use serde::{Deserialize, Serialize};

use super::{LatencyKind, Sample, check_per_token_ms, is_zero};
use crate::sampling;

/// z of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

/// `{ kind = "lognormal", median_ms, p99_ms, per_token_ms }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LognormalLatencyConfig {
    /// Median, ms.
    pub median_ms: f64,
    /// 99th percentile, ms (at least the median).
    pub p99_ms: f64,
    /// Extra ms per token.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub per_token_ms: f64,
}

impl LognormalLatencyConfig {
    /// σ of the underlying normal distribution.
    fn sigma(&self) -> f64 {
        libm::log(self.p99_ms / self.median_ms) / Z99
    }
}

impl Kind for LognormalLatencyConfig {
    const DOC: KindDoc = KindDoc {
        about: "log-normal with that median and p99",
        fields: &[
            FieldDoc::required("median_ms"),
            FieldDoc::required("p99_ms"),
            FieldDoc::default("per_token_ms", "0"),
        ],
        example: r#"{ kind = "lognormal", median_ms = 500, p99_ms = 1500 }"#,
    };
    fn check(&self, c: &mut Checker) {
        let (median_ms, p99_ms) = (self.median_ms, self.p99_ms);
        c.positive("median_ms", median_ms, 0.0, MAX_MS);
        c.number("p99_ms", p99_ms, 0.0, MAX_MS);
        if p99_ms < median_ms {
            c.fail(
                "p99_ms",
                format!("must be at least median_ms = {median_ms} (got {p99_ms})"),
            );
        }
        check_per_token_ms(c, self.per_token_ms);
    }
    fn scale(&mut self, k: f64) {
        self.median_ms /= k;
        self.p99_ms /= k;
        self.per_token_ms /= k;
    }
}

impl LatencyKind for LognormalLatencyConfig {
    type Sampler = LognormalLatency;
    fn sampler(&self) -> LognormalLatency {
        LognormalLatency {
            median_ms: self.median_ms,
            sigma: self.sigma(),
        }
    }
    fn mean_ms(&self) -> f64 {
        let sigma = self.sigma();
        self.median_ms * libm::exp(sigma * sigma / 2.0)
    }
    fn per_token_ms(&self) -> f64 {
        self.per_token_ms
    }
}

/// `median_ms · e^(σ·Z)` with Z standard normal (a ziggurat).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LognormalLatency {
    median_ms: f64,
    sigma: f64,
}

impl Sample for LognormalLatency {
    #[inline]
    fn sample_ms(&self, word: impl FnOnce() -> u64, more: impl FnMut() -> u64) -> f64 {
        self.median_ms * libm::exp(self.sigma * sampling::normal(word(), more))
    }
}

#[cfg(test)]
mod tests {
    use super::super::LatencySpec;
    use super::*;
    use ratelab_strategies::draws::Draws;
    use ratelab_strategies::time::Nanos;

    fn quantile(spec: &LatencySpec, q: f64) -> f64 {
        let d = Draws::new(1);
        let mut v: Vec<Nanos> = (0..20_000).map(|i| spec.sample(&d, 0, i, 1, 1)).collect();
        v.sort_unstable();
        v[((v.len() as f64 - 1.0) * q) as usize] as f64 / 1e6
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let spec = LatencySpec::Lognormal(LognormalLatencyConfig {
            median_ms: 500.0,
            p99_ms: 1500.0,
            per_token_ms: 0.0,
        });
        let (p50, p99) = (quantile(&spec, 0.5), quantile(&spec, 0.99));
        assert!((p50 / 500.0 - 1.0).abs() < 0.03, "p50 = {p50}");
        assert!((p99 / 1500.0 - 1.0).abs() < 0.08, "p99 = {p99}");
    }
}
