//! Service latency models: how long the API takes to answer an admitted request.

use ratelab_strategies::draws::{DrawCache, Draws, Purpose, unit_open};
use ratelab_strategies::spec::{Checker, MAX_MS};
use ratelab_strategies::time::{Nanos, ms_to_nanos};
use serde::Serialize;

use crate::sampling;

/// z of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

ratelab_strategies::kind_enum! {
    /// `latency = { kind = …, … }` of `[api]`. Every kind also takes `per_token_ms` (default 0): extra
    /// time per token of the request.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub enum LatencySpec {
        /// Always `ms`.
        Fixed {
            /// The latency, ms.
            ms: f64,
            /// Extra ms per token.
            #[serde(default, skip_serializing_if = "is_zero")]
            per_token_ms: f64,
        },
        /// Uniform in `[min_ms, max_ms]`.
        Uniform {
            /// Shortest, ms.
            min_ms: f64,
            /// Longest, ms.
            max_ms: f64,
            /// Extra ms per token.
            #[serde(default, skip_serializing_if = "is_zero")]
            per_token_ms: f64,
        },
        /// `offset_ms` plus an exponential with mean `mean_ms`.
        Exponential {
            /// Mean of the exponential part, ms.
            mean_ms: f64,
            /// Constant part, ms.
            #[serde(default, skip_serializing_if = "is_zero")]
            offset_ms: f64,
            /// Extra ms per token.
            #[serde(default, skip_serializing_if = "is_zero")]
            per_token_ms: f64,
        },
        /// Log-normal given by its median and 99th percentile.
        Lognormal {
            /// Median, ms.
            median_ms: f64,
            /// 99th percentile, ms (at least the median).
            p99_ms: f64,
            /// Extra ms per token.
            #[serde(default, skip_serializing_if = "is_zero")]
            per_token_ms: f64,
        },
    }
}

impl LatencySpec {
    /// The `kind` as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            LatencySpec::Fixed { .. } => "fixed",
            LatencySpec::Uniform { .. } => "uniform",
            LatencySpec::Exponential { .. } => "exponential",
            LatencySpec::Lognormal { .. } => "lognormal",
        }
    }

    fn per_token_ms(&self) -> f64 {
        match self {
            LatencySpec::Fixed { per_token_ms, .. }
            | LatencySpec::Uniform { per_token_ms, .. }
            | LatencySpec::Exponential { per_token_ms, .. }
            | LatencySpec::Lognormal { per_token_ms, .. } => *per_token_ms,
        }
    }

    /// Checks every field.
    pub fn check(&self, c: &mut Checker) {
        match self {
            LatencySpec::Fixed { ms, .. } => c.number("ms", *ms, 0.0, MAX_MS),
            LatencySpec::Uniform { min_ms, max_ms, .. } => {
                c.number("min_ms", *min_ms, 0.0, MAX_MS);
                c.number("max_ms", *max_ms, 0.0, MAX_MS);
                if max_ms < min_ms {
                    c.fail(
                        "max_ms",
                        format!("must be at least min_ms = {min_ms} (got {max_ms})"),
                    );
                }
            }
            LatencySpec::Exponential {
                mean_ms, offset_ms, ..
            } => {
                c.number("mean_ms", *mean_ms, 0.0, MAX_MS);
                c.number("offset_ms", *offset_ms, 0.0, MAX_MS);
            }
            LatencySpec::Lognormal {
                median_ms, p99_ms, ..
            } => {
                c.positive("median_ms", *median_ms, 0.0, MAX_MS);
                c.number("p99_ms", *p99_ms, 0.0, MAX_MS);
                if p99_ms < median_ms {
                    c.fail(
                        "p99_ms",
                        format!("must be at least median_ms = {median_ms} (got {p99_ms})"),
                    );
                }
            }
        }
        c.number("per_token_ms", self.per_token_ms(), 0.0, 1000.0);
    }

    /// Mean latency in ms for a request of `tokens` tokens (for the capacity estimate).
    pub fn mean_ms(&self, tokens: f64) -> f64 {
        let base = match self {
            LatencySpec::Fixed { ms, .. } => *ms,
            LatencySpec::Uniform { min_ms, max_ms, .. } => (min_ms + max_ms) / 2.0,
            LatencySpec::Exponential {
                mean_ms, offset_ms, ..
            } => offset_ms + mean_ms,
            LatencySpec::Lognormal {
                median_ms, p99_ms, ..
            } => {
                let sigma = libm::log(p99_ms / median_ms) / Z99;
                median_ms * libm::exp(sigma * sigma / 2.0)
            }
        };
        base + self.per_token_ms() * tokens
    }

    /// The sampler of this model (its parameters worked out once).
    pub fn sampler(&self) -> LatencySampler {
        let shape = match *self {
            LatencySpec::Fixed { ms, .. } => Shape::Fixed { ms },
            LatencySpec::Uniform { min_ms, max_ms, .. } => Shape::Uniform {
                min_ms,
                span_ms: max_ms - min_ms,
            },
            LatencySpec::Exponential {
                mean_ms, offset_ms, ..
            } => Shape::Exponential { offset_ms, mean_ms },
            LatencySpec::Lognormal {
                median_ms, p99_ms, ..
            } => Shape::Lognormal {
                median_ms,
                sigma: libm::log(p99_ms / median_ms) / Z99,
            },
        };
        LatencySampler {
            shape,
            per_token_ms: self.per_token_ms(),
        }
    }

    /// The latency of attempt `attempt` of request `id` of `client`: the same under every
    /// strategy (common random numbers). Shorthand for [`LatencySampler::sample`].
    pub fn sample(&self, draws: &Draws, client: u32, id: u64, attempt: u32, tokens: u64) -> Nanos {
        self.sampler().sample(draws, client, id, attempt, tokens)
    }
}

/// A [`LatencySpec`] ready to sample.
///
/// A sample is a pure function of (seed, client, request, attempt, tokens): one word of the
/// single-word layout of [`Purpose::Latency`], and in the rare case the exponential or normal
/// ziggurat needs more ([`crate::sampling`]), the words of that address's block ([`Draws::rng`]:
/// eight of them; a sample needing more would read on into the next attempt's block, which no
/// sample did in 5·10^7 tried).
#[derive(Clone, Debug, PartialEq)]
pub struct LatencySampler {
    shape: Shape,
    per_token_ms: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Fixed { ms: f64 },
    Uniform { min_ms: f64, span_ms: f64 },
    Exponential { offset_ms: f64, mean_ms: f64 },
    Lognormal { median_ms: f64, sigma: f64 },
}

impl LatencySampler {
    /// The latency of attempt `attempt` of request `id` of `client` with `tokens` tokens.
    pub fn sample(&self, draws: &Draws, client: u32, id: u64, attempt: u32, tokens: u64) -> Nanos {
        let word = || draws.u64(Purpose::Latency, client, id, attempt);
        self.sample_from(word, draws, client, id, attempt, tokens)
    }

    /// [`LatencySampler::sample`] with the single-word draws served by `cache` (a
    /// [`Purpose::Latency`] cache): the same value, cheaper for requests drawn in order.
    #[inline]
    pub fn sample_cached(
        &self,
        cache: &mut DrawCache,
        client: u32,
        id: u64,
        attempt: u32,
        tokens: u64,
    ) -> Nanos {
        let draws = cache.draws();
        let word = || cache.u64(client, id, attempt);
        self.sample_from(word, &draws, client, id, attempt, tokens)
    }

    #[inline]
    fn sample_from(
        &self,
        word: impl FnOnce() -> u64,
        draws: &Draws,
        client: u32,
        id: u64,
        attempt: u32,
        tokens: u64,
    ) -> Nanos {
        let more = sampling::further_words(*draws, Purpose::Latency, client, id, attempt);
        let ms = match self.shape {
            Shape::Fixed { ms } => ms,
            Shape::Uniform { min_ms, span_ms } => min_ms + span_ms * unit_open(word()),
            Shape::Exponential { offset_ms, mean_ms } => {
                offset_ms + mean_ms * sampling::exponential(word(), more)
            }
            Shape::Lognormal { median_ms, sigma } => {
                median_ms * libm::exp(sigma * sampling::normal(word(), more))
            }
        };
        ms_to_nanos(ms.min(MAX_MS) + self.per_token_ms * tokens as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantile(spec: &LatencySpec, q: f64) -> f64 {
        let d = Draws::new(1);
        let mut v: Vec<Nanos> = (0..20_000).map(|i| spec.sample(&d, 0, i, 1, 1)).collect();
        v.sort_unstable();
        v[((v.len() as f64 - 1.0) * q) as usize] as f64 / 1e6
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let spec = LatencySpec::Lognormal {
            median_ms: 500.0,
            p99_ms: 1500.0,
            per_token_ms: 0.0,
        };
        let (p50, p99) = (quantile(&spec, 0.5), quantile(&spec, 0.99));
        assert!((p50 / 500.0 - 1.0).abs() < 0.03, "p50 = {p50}");
        assert!((p99 / 1500.0 - 1.0).abs() < 0.08, "p99 = {p99}");
    }

    #[test]
    fn exponential_has_its_offset_and_mean() {
        let spec = LatencySpec::Exponential {
            mean_ms: 30.0,
            offset_ms: 20.0,
            per_token_ms: 0.0,
        };
        let d = Draws::new(3);
        let v: Vec<Nanos> = (0..20_000).map(|i| spec.sample(&d, 0, i, 1, 1)).collect();
        assert!(v.iter().all(|&x| x >= 20_000_000));
        let mean = v.iter().sum::<u64>() as f64 / v.len() as f64 / 1e6;
        assert!((mean - 50.0).abs() < 1.5, "mean = {mean}");
        assert!((spec.mean_ms(1.0) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn fixed_and_per_token_are_exact() {
        let spec = LatencySpec::Fixed {
            ms: 200.0,
            per_token_ms: 0.5,
        };
        assert_eq!(spec.sample(&Draws::new(0), 0, 0, 1, 10), 205_000_000);
    }
}
