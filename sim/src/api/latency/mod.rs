//! Service latency models, one module per kind: its configuration (a [`LatencyKind`]) and its
//! sampler (a [`Sample`]). The registry at the end of this file, one line per kind, makes the
//! `kind`-tagged [`LatencySpec`] of `[api] latency`, the catalog ([`LatencySpec::KINDS`]) and
//! [`Shape`], the enum that dispatches to the samplers. Every kind also takes `per_token_ms`
//! (default 0): extra time per token of the request.

mod exponential;
mod fixed;
mod lognormal;
mod uniform;

pub use exponential::{ExponentialLatency, ExponentialLatencyConfig};
pub use fixed::{FixedLatency, FixedLatencyConfig};
pub use lognormal::{LognormalLatency, LognormalLatencyConfig};
pub use uniform::{UniformLatency, UniformLatencyConfig};

use ratelab_strategies::config::{Checker, MAX_MS};
use ratelab_strategies::draws::{DrawCache, Draws, Purpose};
use ratelab_strategies::kind::Kind;
use ratelab_strategies::time::{Nanos, ms_to_nanos};

use crate::sampling;

/// Largest `per_token_ms`.
pub const MAX_PER_TOKEN_MS: f64 = 1000.0;

/// The configuration of a latency kind.
pub trait LatencyKind: Kind {
    /// The sampler.
    type Sampler: Sample;
    /// The sampler of this model (its parameters worked out once).
    fn sampler(&self) -> Self::Sampler;
    /// Mean latency in ms, before the per-token part.
    fn mean_ms(&self) -> f64;
    /// Extra ms per token.
    fn per_token_ms(&self) -> f64;
}

/// A latency distribution in milliseconds, sampled from addressed draws.
pub trait Sample {
    /// A latency in ms from `word` (one uniform `u64`, asked for only by a random model) and, in
    /// the rare case a ziggurat needs them, `more` words.
    fn sample_ms(&self, word: impl FnOnce() -> u64, more: impl FnMut() -> u64) -> f64;
}

/// Checks `per_token_ms` (0..=[`MAX_PER_TOKEN_MS`]).
pub(crate) fn check_per_token_ms(c: &mut Checker, per_token_ms: f64) {
    c.number("per_token_ms", per_token_ms, 0.0, MAX_PER_TOKEN_MS);
}

/// Skips `per_token_ms` when it is 0 (the default) in the written table.
pub(crate) fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Declares [`LatencySpec`] and [`Shape`] from the registry's lines.
macro_rules! latency_registry {
    ($( $kind:literal => $variant:ident($config:ty) ),* $(,)?) => {
        ratelab_strategies::config_enum! {
            /// `latency = { kind = …, … }` of `[api]`.
            pub enum LatencySpec {
                $( $kind => $variant($config), )*
            }
        }

        impl LatencySpec {
            /// Mean latency in ms for a request of `tokens` tokens (for the capacity estimate).
            pub fn mean_ms(&self, tokens: f64) -> f64 {
                match self {
                    $( LatencySpec::$variant(c) => c.mean_ms() + c.per_token_ms() * tokens, )*
                }
            }

            /// The sampler of this model (its parameters worked out once).
            pub fn sampler(&self) -> LatencySampler {
                match self {
                    $(
                        LatencySpec::$variant(c) => LatencySampler {
                            shape: Shape::$variant(LatencyKind::sampler(c)),
                            per_token_ms: c.per_token_ms(),
                        },
                    )*
                }
            }
        }

        /// The distribution of a [`LatencySampler`]: an enum that delegates to the kind's own
        /// sampler.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Shape {
            $(
                #[doc = concat!("The sampler of `kind = \"", $kind, "\"`.")]
                $variant(<$config as LatencyKind>::Sampler),
            )*
        }

        impl Sample for Shape {
            #[inline]
            fn sample_ms(&self, word: impl FnOnce() -> u64, more: impl FnMut() -> u64) -> f64 {
                match self {
                    $( Shape::$variant(s) => s.sample_ms(word, more), )*
                }
            }
        }
    };
}

latency_registry! {
    "fixed" => Fixed(FixedLatencyConfig),
    "uniform" => Uniform(UniformLatencyConfig),
    "exponential" => Exponential(ExponentialLatencyConfig),
    "lognormal" => Lognormal(LognormalLatencyConfig),
}

impl LatencySpec {
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
        let ms = self.shape.sample_ms(word, more);
        ms_to_nanos(ms.min(MAX_MS) + self.per_token_ms * tokens as f64)
    }
}
