//! How heavy requests are, in tokens, one module per kind. The registry at the end of this file,
//! one line per kind, makes the `kind`-tagged [`TokensSpec`] of `[workload] tokens` and its
//! catalog ([`TokensSpec::KINDS`]).

mod fixed;
mod uniform;

pub use fixed::FixedTokensConfig;
pub use uniform::UniformTokensConfig;

use ratelab_strategies::draws::Draws;
use ratelab_strategies::kind::Kind;

/// Most tokens a request may weigh.
pub const MAX_TOKENS: u64 = 1_000_000_000;

/// The configuration of a token-size kind.
pub trait TokensKind: Kind {
    /// The tokens of request `id` of `client` (the same under every strategy).
    fn tokens_of(&self, draws: &Draws, client: u32, id: u64) -> u64;
    /// Mean tokens per request.
    fn mean(&self) -> f64;
}

/// Declares [`TokensSpec`] from the registry's lines.
macro_rules! tokens_registry {
    ($( $kind:literal => $variant:ident($config:ty) ),* $(,)?) => {
        ratelab_strategies::config_enum! {
            /// `tokens = { kind = … }` of `[workload]`.
            pub enum TokensSpec {
                $( $kind => $variant($config), )*
            }
        }

        impl TokensSpec {
            /// See [`TokensKind::tokens_of`].
            #[inline]
            pub fn tokens_of(&self, draws: &Draws, client: u32, id: u64) -> u64 {
                match self {
                    $( TokensSpec::$variant(c) => TokensKind::tokens_of(c, draws, client, id), )*
                }
            }
            /// See [`TokensKind::mean`].
            pub fn mean(&self) -> f64 {
                match self {
                    $( TokensSpec::$variant(c) => TokensKind::mean(c), )*
                }
            }
        }
    };
}

tokens_registry! {
    "fixed" => Fixed(FixedTokensConfig),
    "uniform" => Uniform(UniformTokensConfig),
}
