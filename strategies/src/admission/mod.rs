//! The built-in admission layers, one module per kind: its configuration (a [`Kind`]) and its
//! state machine (a [`Strategy`]). The registry at the end of this file, one line per kind,
//! makes the `kind`-tagged [`AdmissionSpec`] of `admission = [...]`, the catalog
//! ([`AdmissionSpec::KINDS`]) and [`Layer`], the enum that dispatches to the machines.

mod aimd;
mod aimd_rate;
mod aws_adaptive;
mod fixed_delay;
mod gradient2;
mod header_pacing;
mod leaky_bucket;
mod netflix;
mod openai_cookbook;
mod semaphore;
mod sre_throttle;
mod token_bucket;
mod unlimited;
mod vegas;

pub use aimd::{Aimd, AimdConfig};
pub use aimd_rate::{AimdRate, AimdRateConfig};
pub use aws_adaptive::{AwsAdaptive, AwsAdaptiveConfig};
pub use fixed_delay::{FixedDelay, FixedDelayConfig};
pub use gradient2::{Gradient2, Gradient2Config};
pub use header_pacing::{HeaderPacing, HeaderPacingConfig};
pub use leaky_bucket::LeakyBucketConfig;
pub use netflix::{ConcurrencyLimiter, LimitAlgorithm};
pub use openai_cookbook::{OpenAiCookbook, OpenAiCookbookConfig};
pub use semaphore::{Semaphore, SemaphoreConfig};
pub use sre_throttle::{SreThrottle, SreThrottleConfig};
pub use token_bucket::{
    MAX_BURST, OnStoreError, STORE_TIMEOUT_MS, Start, TokenBucket, TokenBucketConfig,
};
pub use unlimited::{Unlimited, UnlimitedConfig};
pub use vegas::{Vegas, VegasConfig};

use crate::breaker::Breaker;
use crate::draws::Draws;
use crate::kind::Kind;
use crate::shared::SharedBucket;
use crate::strategy::Hints;
use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// The configuration of an admission kind: how its state machine is built.
pub trait AdmissionKind: Kind {
    /// The state machine.
    type Machine: Strategy;
    /// A fresh machine for one client; a kind that draws random numbers addresses them in
    /// `draws` (by its client, request and attempt).
    fn build(&self, draws: Draws) -> Self::Machine;
}

/// Declares [`AdmissionSpec`] and [`Layer`] from the registry's lines. A line `"kind" =>
/// Variant(Config)` gives the kind its own variant of `Layer`, holding its machine; a line
/// ending `in Other` builds into `Other`'s variant (a kind that is another kind's machine with
/// other fields, as a leaky bucket is a token bucket of burst one), so that the hot dispatch has
/// no duplicate arms.
macro_rules! admission_registry {
    (@line [$($cfg:tt)*] [$($machine:tt)*] [$($arm:tt)*]
        $kind:literal => $variant:ident($config:ty) in $target:ident, $($rest:tt)*) => {
        admission_registry!(@line
            [$($cfg)* $kind => $variant($config),]
            [$($machine)*]
            [$($arm)* $variant $target,]
            $($rest)*);
    };
    (@line [$($cfg:tt)*] [$($machine:tt)*] [$($arm:tt)*]
        $kind:literal => $variant:ident($config:ty), $($rest:tt)*) => {
        admission_registry!(@line
            [$($cfg)* $kind => $variant($config),]
            [$($machine)* $kind $variant($config),]
            [$($arm)* $variant $variant,]
            $($rest)*);
    };
    (@line [$($cfg:tt)*] [$($mkind:literal $mvariant:ident($mconfig:ty),)*] [$($avariant:ident $atarget:ident,)*]) => {
        crate::config_enum! {
            /// One layer of a strategy's `admission = [...]`.
            pub enum AdmissionSpec {
                $($cfg)*
            }
        }

        impl AdmissionSpec {
            /// The state machine of this layer, drawing from `draws` if it draws at all.
            pub fn build(&self, draws: Draws) -> Layer {
                match self {
                    $( AdmissionSpec::$avariant(c) => Layer::$atarget(AdmissionKind::build(c, draws)), )*
                }
            }
        }

        /// One layer of a [`Stack`](crate::Stack): the built-ins as an enum (no dynamic dispatch
        /// on the hot path), the breaker, and users' own strategies behind the open trait. Every
        /// call and every hint is delegated to the layer's own machine.
        #[repr(u8)]
        pub enum Layer {
            $(
                #[doc = concat!("The machine of `kind = \"", $mkind, "\"`.")]
                $mvariant(<$mconfig as AdmissionKind>::Machine),
            )*
            /// A circuit breaker.
            Breaker(Breaker),
            /// A token bucket shared by all the clients of a strategy (`shared = true`).
            Shared(SharedBucket),
            /// A user's own strategy.
            Custom(Box<dyn Strategy + Send>),
        }

        impl Strategy for Layer {
            #[inline]
            fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
                match self {
                    $( Layer::$mvariant(s) => s.poll_admit(now, req), )*
                    Layer::Breaker(s) => s.poll_admit(now, req),
                    Layer::Shared(s) => s.poll_admit(now, req),
                    Layer::Custom(s) => s.poll_admit(now, req),
                }
            }
            #[inline]
            fn poll_admit_queued(&mut self, now: Nanos, queued_at: Nanos, req: &RequestInfo) -> Admit {
                match self {
                    $( Layer::$mvariant(s) => s.poll_admit(now, req), )*
                    Layer::Breaker(s) => s.poll_admit_queued(now, queued_at, req),
                    Layer::Shared(s) => s.poll_admit(now, req),
                    Layer::Custom(s) => s.poll_admit_queued(now, queued_at, req),
                }
            }
            #[inline(always)]
            fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
                match self {
                    $( Layer::$mvariant(s) => s.on_send(now, req), )*
                    Layer::Breaker(s) => s.on_send(now, req),
                    Layer::Shared(s) => s.on_send(now, req),
                    Layer::Custom(s) => s.on_send(now, req),
                }
            }
            #[inline]
            fn on_response(&mut self, now: Nanos, resp: &Response) {
                match self {
                    $( Layer::$mvariant(s) => s.on_response(now, resp), )*
                    Layer::Breaker(s) => s.on_response(now, resp),
                    Layer::Shared(s) => s.on_response(now, resp),
                    Layer::Custom(s) => s.on_response(now, resp),
                }
            }
            fn on_shed(&mut self, now: Nanos, req: &RequestInfo) {
                match self {
                    $( Layer::$mvariant(s) => s.on_shed(now, req), )*
                    Layer::Breaker(s) => s.on_shed(now, req),
                    Layer::Shared(s) => s.on_shed(now, req),
                    Layer::Custom(s) => s.on_shed(now, req),
                }
            }
            fn on_final(&mut self, now: Nanos, req: &RequestInfo) {
                match self {
                    $( Layer::$mvariant(s) => s.on_final(now, req), )*
                    Layer::Breaker(s) => s.on_final(now, req),
                    Layer::Shared(s) => s.on_final(now, req),
                    Layer::Custom(s) => s.on_final(now, req),
                }
            }
            #[inline]
            fn response_changes_admission(&self) -> bool {
                match self {
                    $( Layer::$mvariant(s) => s.response_changes_admission(), )*
                    Layer::Breaker(s) => s.response_changes_admission(),
                    Layer::Shared(s) => s.response_changes_admission(),
                    Layer::Custom(s) => s.response_changes_admission(),
                }
            }
            fn hints(&self) -> Hints {
                match self {
                    $( Layer::$mvariant(s) => s.hints(), )*
                    Layer::Breaker(s) => s.hints(),
                    Layer::Shared(s) => s.hints(),
                    Layer::Custom(s) => s.hints(),
                }
            }
        }
    };
    ($($lines:tt)*) => {
        admission_registry!(@line [] [] [] $($lines)*);
    };
}

admission_registry! {
    "unlimited" => Unlimited(UnlimitedConfig),
    "fixed_delay" => FixedDelay(FixedDelayConfig),
    "semaphore" => Semaphore(SemaphoreConfig),
    "token_bucket" => TokenBucket(TokenBucketConfig),
    "leaky_bucket" => LeakyBucket(LeakyBucketConfig) in TokenBucket,
    "aimd" => Aimd(AimdConfig),
    "aimd_rate" => AimdRate(AimdRateConfig),
    "header_pacing" => HeaderPacing(HeaderPacingConfig),
    "aws_adaptive" => AwsAdaptive(AwsAdaptiveConfig),
    "gradient2" => Gradient2(Gradient2Config),
    "vegas" => Vegas(VegasConfig),
    "sre_throttle" => SreThrottle(SreThrottleConfig),
    "openai_cookbook" => OpenAiCookbook(OpenAiCookbookConfig),
}
