//! When requests become ready, one module per kind. The registry at the end of this file, one
//! line per kind, makes the `kind`-tagged [`ArrivalSpec`] of `[workload] arrival` and its catalog
//! ([`ArrivalSpec::KINDS`]).

mod at_once;
mod bursts;
mod poisson;
mod ramp;
mod trace;

pub use at_once::AtOnceConfig;
pub use bursts::BurstsConfig;
pub use poisson::PoissonConfig;
pub use ramp::RampConfig;
pub use trace::{MAX_TRACE_BYTES, Trace, TraceConfig};

use ratelab_strategies::draws::Draws;
use ratelab_strategies::kind::Kind;
use ratelab_strategies::time::Nanos;

/// The configuration of an arrival kind.
pub trait ArrivalKind: Kind {
    /// The gap before request `id` of `client` arrives (after the previous one; the first
    /// request's gap is from t = 0), or `None` when every request is ready at t = 0.
    fn gap(&self, draws: &Draws, client: u32, id: u64) -> Option<Nanos>;
}

/// Declares [`ArrivalSpec`] from the registry's lines.
macro_rules! arrival_registry {
    ($( $kind:literal => $variant:ident($config:ty) ),* $(,)?) => {
        ratelab_strategies::config_enum! {
            /// `arrival = { kind = … }` of `[workload]`.
            pub enum ArrivalSpec {
                $( $kind => $variant($config), )*
            }
        }

        impl ArrivalSpec {
            /// See [`ArrivalKind::gap`].
            #[inline]
            pub fn gap(&self, draws: &Draws, client: u32, id: u64) -> Option<Nanos> {
                match self {
                    $( ArrivalSpec::$variant(c) => ArrivalKind::gap(c, draws, client, id), )*
                }
            }
        }
    };
}

arrival_registry! {
    "at_once" => AtOnce(AtOnceConfig),
    "poisson" => Poisson(PoissonConfig),
    "bursts" => Bursts(BurstsConfig),
    "ramp" => Ramp(RampConfig),
    "trace" => Trace(TraceConfig),
}
