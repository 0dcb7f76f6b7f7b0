//! Retry policies: when, if ever, a failed attempt is tried again. One module per kind: its
//! configuration (a [`RetryKind`]) and its policy (a [`RetryPolicy`]). The registry at the end of
//! this file, one line per kind, makes the `kind`-tagged [`RetrySpec`] of `retry = { … }`, the
//! catalog ([`RetrySpec::KINDS`]) and [`Retry`], the enum that dispatches to the policies.

mod exponential;
mod fixed;
mod none;

pub use exponential::{Backoff, ExponentialConfig, ExponentialRetry, Jitter, exponential_ceiling};
pub use fixed::{FixedConfig, FixedRetry};
pub use none::{NoRetry, NoRetryConfig};

use serde::{Deserialize, Serialize};

use crate::config::{Checker, MAX_ATTEMPTS};
use crate::draws::Draws;
use crate::kind::Kind;
use crate::time::Nanos;
use crate::types::{Outcome, Response};

/// Decides whether and when a failed attempt is sent again.
pub trait RetryPolicy {
    /// The attempt `resp.request.attempt` failed at `now`: the time of the next attempt, or
    /// `None` to give up (the request is dead-lettered).
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Option<Nanos>;
    /// Does this policy read a reply's rate-limit headers ([`Response::remaining_requests`] and
    /// the other `x-ratelimit-*` values)? `Retry-After` is not one of them: it is always sent.
    /// The default is `true` (see [`crate::strategy::Hints`]).
    fn reads_rate_limit_headers(&self) -> bool {
        true
    }
}

/// The configuration of a retry kind: how its policy is built, and what the property checks and
/// `--scale` need to know of it.
pub trait RetryKind: Kind {
    /// The policy.
    type Policy: RetryPolicy;
    /// A fresh policy for one client, drawing its jitter from `draws`.
    fn build(&self, draws: Draws) -> Self::Policy;
    /// Attempts in all, the first send included (1: never retries).
    fn max_attempts(&self) -> u32;
    /// Does a retry wait at least the `Retry-After` the API sent?
    fn honours_retry_after(&self) -> bool;
}

/// Declares [`RetrySpec`] and [`Retry`] from the registry's lines.
macro_rules! retry_registry {
    ($( $kind:literal => $variant:ident($config:ty) ),* $(,)?) => {
        crate::config_enum! {
            /// The retry policy of a `[[strategy]]` (`retry = { kind = … }`).
            pub enum RetrySpec {
                $( $kind => $variant($config), )*
            }
        }

        impl RetrySpec {
            /// The policy, drawing its jitter from `draws`.
            pub fn build(&self, draws: Draws) -> Retry {
                match self {
                    $( RetrySpec::$variant(c) => Retry::$variant(RetryKind::build(c, draws)), )*
                }
            }
            /// Attempts in all, the first send included.
            pub fn max_attempts(&self) -> u32 {
                match self {
                    $( RetrySpec::$variant(c) => RetryKind::max_attempts(c), )*
                }
            }
            /// Does a retry wait at least the `Retry-After` the API sent?
            pub fn honours_retry_after(&self) -> bool {
                match self {
                    $( RetrySpec::$variant(c) => RetryKind::honours_retry_after(c), )*
                }
            }
        }

        /// The policy of a built-in retry kind: an enum (no dynamic dispatch on the hot path)
        /// that delegates to the kind's own policy.
        #[derive(Clone, Debug)]
        pub enum Retry {
            $(
                #[doc = concat!("The policy of `kind = \"", $kind, "\"`.")]
                $variant(<$config as RetryKind>::Policy),
            )*
        }

        impl RetryPolicy for Retry {
            #[inline]
            fn retry_at(&mut self, now: Nanos, resp: &Response) -> Option<Nanos> {
                match self {
                    $( Retry::$variant(p) => p.retry_at(now, resp), )*
                }
            }
            fn reads_rate_limit_headers(&self) -> bool {
                match self {
                    $( Retry::$variant(p) => p.reads_rate_limit_headers(), )*
                }
            }
        }
    };
}

retry_registry! {
    "none" => None(NoRetryConfig),
    "fixed" => Fixed(FixedConfig),
    "exponential" => Exponential(ExponentialConfig),
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec::None(NoRetryConfig {})
    }
}

impl Retry {
    /// A policy that never retries.
    pub fn never() -> Self {
        Retry::None(NoRetry)
    }
}

/// Which failures a policy retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryOn {
    /// 429 Too Many Requests.
    pub rate_limited: bool,
    /// 5xx.
    pub server_error: bool,
    /// The client's own timeout.
    pub timeout: bool,
}

impl RetryOn {
    /// Retry every retryable failure.
    pub const ALL: RetryOn = RetryOn {
        rate_limited: true,
        server_error: true,
        timeout: true,
    };

    /// Does this policy retry `outcome`?
    pub fn covers(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::RateLimited => self.rate_limited,
            Outcome::ServerError => self.server_error,
            Outcome::Timeout => self.timeout,
            Outcome::Success | Outcome::ClientError => false,
        }
    }

    /// The classes listed in a table's `on`.
    pub fn of(list: &[RetryOnSpec]) -> RetryOn {
        RetryOn {
            rate_limited: list.contains(&RetryOnSpec::RateLimited),
            server_error: list.contains(&RetryOnSpec::ServerError),
            timeout: list.contains(&RetryOnSpec::Timeout),
        }
    }
}

/// A failure class a retry policy may cover, written `"429"`, `"5xx"` or `"timeout"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryOnSpec {
    /// 429 Too Many Requests.
    #[serde(rename = "429")]
    RateLimited,
    /// Server errors.
    #[serde(rename = "5xx")]
    ServerError,
    /// The client's own timeout.
    #[serde(rename = "timeout")]
    Timeout,
}

/// Every failure class: the default of `on`.
pub fn retry_on_all() -> Vec<RetryOnSpec> {
    vec![
        RetryOnSpec::RateLimited,
        RetryOnSpec::ServerError,
        RetryOnSpec::Timeout,
    ]
}

/// The default of `max_attempts`: one try and four retries.
pub fn default_max_attempts() -> u32 {
    5
}

/// When a backing-off policy gives up and how it treats `Retry-After`: the fields `on`,
/// `max_attempts` and `honor_retry_after` that several kinds share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GiveUp {
    /// Which failures are retried.
    pub on: RetryOn,
    /// Attempts in all, the first send included (5 = one try + four retries).
    pub max_attempts: u32,
    /// Wait at least the `Retry-After` the API sent.
    pub honor_retry_after: bool,
}

impl GiveUp {
    /// Checks `max_attempts` (1..=[`MAX_ATTEMPTS`]).
    pub fn check_max_attempts(c: &mut Checker, max_attempts: u32) {
        c.integer(
            "max_attempts",
            u64::from(max_attempts),
            1,
            u64::from(MAX_ATTEMPTS),
        );
    }

    /// Is `resp` the end of its request: a failure not covered, or its last attempt?
    #[inline]
    pub fn gives_up(&self, resp: &Response) -> bool {
        !self.on.covers(resp.outcome) || resp.request.attempt >= self.max_attempts
    }

    /// The retry `wait` after `now`, not before the reply's `Retry-After` when honoured.
    #[inline]
    pub fn retry_at(&self, now: Nanos, wait: Nanos, resp: &Response) -> Nanos {
        let at = now.saturating_add(wait);
        match resp.retry_after {
            Some(ra) if self.honor_retry_after => at.max(now.saturating_add(ra)),
            _ => at,
        }
    }
}
