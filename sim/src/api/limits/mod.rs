//! The limits an API enforces, one module per kind: its configuration (a [`LimitKind`]) and its
//! state on integer nanoseconds (a [`Limit`]). The registry at the end of this file, one line per
//! kind, makes the `kind`-tagged [`LimitSpec`] of `[api] limits`, the catalog
//! ([`LimitSpec::KINDS`]) and [`LimitState`], the enum that dispatches to the states.

mod concurrency;
mod fixed_window;
mod optimistic_concurrency;
mod sliding_window;
mod token_bucket;

pub use concurrency::{ConcurrencyLimit, ConcurrencyLimitConfig};
pub use fixed_window::{FixedWindowLimit, FixedWindowLimitConfig};
pub use optimistic_concurrency::{NoWait, OccRow, OptimisticConcurrencyConfig};
pub use sliding_window::{SlidingWindowLimit, SlidingWindowLimitConfig};
pub use token_bucket::{TokenBucketLimit, TokenBucketLimitConfig};

use ratelab_strategies::config::Unit;
use ratelab_strategies::kind::Kind;
use ratelab_strategies::time::Nanos;

/// Longest window accepted: one day.
pub const MAX_WINDOW_S: f64 = 86_400.0;

/// The configuration of an API limit kind.
pub trait LimitKind: Kind {
    /// The limit's state during a run.
    type State: Limit;
    /// Fresh state for a run.
    fn build(&self) -> Self::State;
    /// What it counts.
    fn unit(&self) -> Unit;
    /// The sustainable rate it allows, in requests per second, for requests of `mean_tokens`
    /// served in `mean_latency_ms` on average, when it implies one.
    fn capacity_rps(&self, mean_tokens: f64, mean_latency_ms: f64) -> Option<f64>;
}

/// The state of one limit during a run: asked and charged at the instant a request is sent.
pub trait Limit {
    /// Does it count tokens (`unit = "tokens"`)?
    fn by_tokens(&self) -> bool;
    /// Must [`Limit::commit`] know when the request's service ends (a concurrency limit)? Such a
    /// limit is asked with [`Limit::wait`] and charged with [`Limit::commit`] after every limit
    /// admitted, and is not charged for rejected requests.
    fn needs_end_of_service(&self) -> bool {
        false
    }
    /// A request of `tokens` can never pass (heavier than the burst or the window's limit).
    fn never_fits(&self, tokens: u64) -> bool;
    /// How long from `now` until a request of `tokens` would be admitted by this limit alone
    /// (0: admitted now). Assumes [`Limit::never_fits`] is false.
    fn wait(&mut self, now: Nanos, tokens: u64) -> Nanos;
    /// Counts a request of `tokens` sent at `now`, being served until `end`.
    fn commit(&mut self, now: Nanos, tokens: u64, end: Nanos);
    /// [`Limit::wait`], then [`Limit::commit`] if the wait is 0, in one step (for limits that do
    /// not need the end of service).
    fn wait_or_commit(&mut self, now: Nanos, tokens: u64) -> Nanos {
        let wait = self.wait(now, tokens);
        if wait == 0 {
            self.commit(now, tokens, now);
        }
        wait
    }
    /// Units left at `now` and the time until the limit is fully available again (the
    /// `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` pair).
    fn headroom(&mut self, now: Nanos) -> (u64, Nanos);
    /// The limit's capacity in its unit (the `x-ratelimit-limit-*` value).
    fn capacity(&self) -> u64;
    /// From `at` on (a schedule entry), this limit is `next`, fresh from its new configuration
    /// of the same kind and unit: `self` becomes `next` with what carries over (a bucket's level,
    /// a window's count, the requests in flight). By default nothing does.
    fn retune(&mut self, _at: Nanos, next: Self)
    where
        Self: Sized,
    {
        *self = next;
    }
}

/// What a request of `tokens` costs a limit that counts tokens or not.
#[inline]
pub(crate) fn cost(by_tokens: bool, tokens: u64) -> u64 {
    if by_tokens { tokens } else { 1 }
}

/// Declares [`LimitSpec`] and [`LimitState`] from the registry's lines.
macro_rules! limit_registry {
    ($( $kind:literal => $variant:ident($config:ty) ),* $(,)?) => {
        ratelab_strategies::config_enum! {
            /// One entry of `[api] limits`.
            pub enum LimitSpec {
                $( $kind => $variant($config), )*
            }
        }

        impl LimitSpec {
            /// Fresh state for a run.
            pub fn build(&self) -> LimitState {
                match self {
                    $( LimitSpec::$variant(c) => LimitState::$variant(LimitKind::build(c)), )*
                }
            }
            /// What the limit counts.
            pub fn unit(&self) -> Unit {
                match self {
                    $( LimitSpec::$variant(c) => LimitKind::unit(c), )*
                }
            }
            /// The sustainable rate the limit allows in requests per second (see
            /// [`LimitKind::capacity_rps`]).
            pub fn capacity_rps(&self, mean_tokens: f64, mean_latency_ms: f64) -> Option<f64> {
                match self {
                    $( LimitSpec::$variant(c) => LimitKind::capacity_rps(c, mean_tokens, mean_latency_ms), )*
                }
            }
        }

        /// The state of one limit during a run: an enum (no dynamic dispatch on the hot path)
        /// that delegates to the kind's own state.
        #[derive(Clone, Debug)]
        pub enum LimitState {
            $(
                #[doc = concat!("The state of `kind = \"", $kind, "\"`.")]
                $variant(<$config as LimitKind>::State),
            )*
        }

        impl Limit for LimitState {
            #[inline]
            fn by_tokens(&self) -> bool {
                match self { $( LimitState::$variant(l) => l.by_tokens(), )* }
            }
            #[inline]
            fn needs_end_of_service(&self) -> bool {
                match self { $( LimitState::$variant(l) => l.needs_end_of_service(), )* }
            }
            #[inline]
            fn never_fits(&self, tokens: u64) -> bool {
                match self { $( LimitState::$variant(l) => l.never_fits(tokens), )* }
            }
            #[inline]
            fn wait(&mut self, now: Nanos, tokens: u64) -> Nanos {
                match self { $( LimitState::$variant(l) => l.wait(now, tokens), )* }
            }
            #[inline]
            fn commit(&mut self, now: Nanos, tokens: u64, end: Nanos) {
                match self { $( LimitState::$variant(l) => l.commit(now, tokens, end), )* }
            }
            // Always inlined: the hot path of a plain API is this one call per request (with a
            // fifth kind the compiler stopped inlining it, at +7 % of a bulk run's instructions).
            #[inline(always)]
            fn wait_or_commit(&mut self, now: Nanos, tokens: u64) -> Nanos {
                match self { $( LimitState::$variant(l) => l.wait_or_commit(now, tokens), )* }
            }
            #[inline]
            fn headroom(&mut self, now: Nanos) -> (u64, Nanos) {
                match self { $( LimitState::$variant(l) => l.headroom(now), )* }
            }
            fn capacity(&self) -> u64 {
                match self { $( LimitState::$variant(l) => l.capacity(), )* }
            }
            /// The kind's own [`Limit::retune`] when `next` has the same kind and unit; a fresh
            /// state otherwise.
            fn retune(&mut self, at: Nanos, next: Self) {
                match (self, next) {
                    $(
                        (LimitState::$variant(l), LimitState::$variant(n))
                            if l.by_tokens() == n.by_tokens() => l.retune(at, n),
                    )*
                    (this, next) => *this = next,
                }
            }
        }
    };
}

limit_registry! {
    "token_bucket" => TokenBucket(TokenBucketLimitConfig),
    "fixed_window" => FixedWindow(FixedWindowLimitConfig),
    "sliding_window" => SlidingWindow(SlidingWindowLimitConfig),
    "concurrency" => Concurrency(ConcurrencyLimitConfig),
    "optimistic_concurrency" => OptimisticConcurrency(OptimisticConcurrencyConfig),
}
