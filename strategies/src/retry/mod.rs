//! Retry policies: when, if ever, a failed attempt is tried again. One module per kind: its
//! configuration (a [`RetryKind`]) and its policy (a [`RetryPolicy`]). The registry at the end of
//! this file, one line per kind, makes the `kind`-tagged [`RetrySpec`] of `retry = { … }`, the
//! catalog ([`RetrySpec::KINDS`]) and [`Retry`], the enum that dispatches to the policies.

mod anthropic_python;
mod aws_standard;
mod exponential;
mod fixed;
mod guards;
mod none;
mod openai_python;
mod stainless;
mod tenacity;

pub use anthropic_python::{Anthropic, AnthropicPythonConfig};
pub use aws_standard::{AwsStandardConfig, AwsStandardRetry};
pub use exponential::{Backoff, ExponentialConfig, ExponentialRetry, Jitter, exponential_ceiling};
pub use fixed::{FixedConfig, FixedRetry};
pub use guards::{
    BudgetSpec, Guards, QuotaSpec, RetryBudget, RetryQuota, check_guards, scale_budget,
};
pub use none::{NoRetry, NoRetryConfig};
pub use openai_python::{OpenAi, OpenAiPythonConfig};
pub use stainless::{LongerRetryAfter, Sdk, SdkRetryConfig, Stainless, StainlessRetry};
pub use tenacity::{TenacityConfig, TenacityRetry};

use serde::{Deserialize, Serialize};

use crate::config::{Checker, MAX_ATTEMPTS, MAX_MS};
use crate::draws::Draws;
use crate::kind::Kind;
use crate::time::{Nanos, ms_to_nanos};
use crate::types::{Outcome, RequestInfo, Response};

/// Decides whether and when a failed attempt is sent again.
pub trait RetryPolicy {
    /// The attempt `resp.request.attempt` failed at `now`: the time of the next attempt, or
    /// why the policy gives up (the request is dead-lettered for that reason).
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason>;
    /// `req` was sent for the first time at `now` (a retry budget deposits). The default does
    /// nothing.
    fn on_first_send(&mut self, _now: Nanos, _req: &RequestInfo) {}
    /// `req`'s request is final at `now`, a success or not (a retry quota refunds a success).
    /// The default does nothing.
    fn on_final(&mut self, _now: Nanos, _req: &RequestInfo, _succeeded: bool) {}
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
    /// Can `Retry-After` change when a retry goes at all (waited for, at least or exactly, or
    /// a reason to give up)? The default: when it is honoured.
    fn uses_retry_after(&self) -> bool {
        self.honours_retry_after()
    }
    /// Its `budget` and `quota`, built (none by default).
    fn guards(&self) -> Guards {
        Guards::default()
    }
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
            /// The policy, drawing its jitter from `draws`, with its guards.
            pub fn build(&self, draws: Draws) -> Retry {
                match self {
                    $( RetrySpec::$variant(c) => Retry {
                        policy: Policy::$variant(RetryKind::build(c, draws)),
                        guards: RetryKind::guards(c),
                    }, )*
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
            /// Can `Retry-After` change when a retry goes (see [`RetryKind::uses_retry_after`])?
            pub fn uses_retry_after(&self) -> bool {
                match self {
                    $( RetrySpec::$variant(c) => RetryKind::uses_retry_after(c), )*
                }
            }
        }

        /// The policy of a built-in retry kind: an enum (no dynamic dispatch on the hot path)
        /// that delegates to the kind's own policy.
        #[derive(Clone, Debug)]
        pub enum Policy {
            $(
                #[doc = concat!("The policy of `kind = \"", $kind, "\"`.")]
                $variant(<$config as RetryKind>::Policy),
            )*
        }

        impl RetryPolicy for Policy {
            #[inline]
            fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
                match self {
                    $( Policy::$variant(p) => p.retry_at(now, resp), )*
                }
            }
            fn reads_rate_limit_headers(&self) -> bool {
                match self {
                    $( Policy::$variant(p) => p.reads_rate_limit_headers(), )*
                }
            }
        }
    };
}

retry_registry! {
    "none" => None(NoRetryConfig),
    "fixed" => Fixed(FixedConfig),
    "exponential" => Exponential(ExponentialConfig),
    "tenacity" => Tenacity(TenacityConfig),
    "openai_python" => OpenAiPython(OpenAiPythonConfig),
    "anthropic_python" => AnthropicPython(AnthropicPythonConfig),
    "aws_standard" => AwsStandard(AwsStandardConfig),
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec::None(NoRetryConfig {})
    }
}

/// A built retry policy: the kind's own, and the guards any kind may add (a retry budget, the
/// AWS retry quota), asked after the policy chose to retry.
#[derive(Clone, Debug)]
pub struct Retry {
    /// The kind's policy.
    pub policy: Policy,
    /// Its budget and quota.
    pub guards: Guards,
}

impl Retry {
    /// A policy that never retries.
    pub fn never() -> Self {
        Retry {
            policy: Policy::None(NoRetry),
            guards: Guards::default(),
        }
    }
}

impl RetryPolicy for Retry {
    #[inline]
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
        let at = self.policy.retry_at(now, resp)?;
        if !self.guards.is_empty() {
            self.guards.admit_retry(now, resp)?;
        }
        Ok(at)
    }
    #[inline]
    fn on_first_send(&mut self, now: Nanos, _req: &RequestInfo) {
        if let Some(b) = &mut self.guards.budget {
            b.deposit(now);
        }
    }
    #[inline]
    fn on_final(&mut self, _now: Nanos, req: &RequestInfo, succeeded: bool) {
        if let Some(q) = &mut self.guards.quota {
            if succeeded {
                q.release(req);
            } else {
                q.forget(req);
            }
        }
    }
    fn reads_rate_limit_headers(&self) -> bool {
        self.policy.reads_rate_limit_headers()
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
    /// 408 Request Timeout.
    pub request_timeout: bool,
    /// 409 Conflict.
    pub conflict: bool,
    /// A transport error: connection refused or reset.
    pub connection: bool,
}

impl RetryOn {
    /// Retry every retryable failure.
    pub const ALL: RetryOn = RetryOn {
        rate_limited: true,
        server_error: true,
        timeout: true,
        request_timeout: true,
        conflict: true,
        connection: true,
    };

    /// Does this policy retry `outcome`?
    pub fn covers(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::RateLimited => self.rate_limited,
            Outcome::ServerError => self.server_error,
            Outcome::Timeout => self.timeout,
            Outcome::RequestTimeout => self.request_timeout,
            Outcome::Conflict => self.conflict,
            Outcome::Connection => self.connection,
            Outcome::Success | Outcome::ClientError => false,
        }
    }

    /// The classes listed in a table's `on`.
    pub fn of(list: &[RetryOnSpec]) -> RetryOn {
        RetryOn {
            rate_limited: list.contains(&RetryOnSpec::RateLimited),
            server_error: list.contains(&RetryOnSpec::ServerError),
            timeout: list.contains(&RetryOnSpec::Timeout),
            request_timeout: list.contains(&RetryOnSpec::RequestTimeout),
            conflict: list.contains(&RetryOnSpec::Conflict),
            connection: list.contains(&RetryOnSpec::Connection),
        }
    }
}

/// A failure class a retry policy may cover (or a breaker count), written `"429"`, `"5xx"`,
/// `"timeout"`, `"408"`, `"409"` or `"connection"`.
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
    /// 408 Request Timeout.
    #[serde(rename = "408")]
    RequestTimeout,
    /// 409 Conflict.
    #[serde(rename = "409")]
    Conflict,
    /// Connection refused or reset (no HTTP reply).
    #[serde(rename = "connection")]
    Connection,
}

/// What `ratelab list` shows as the default of `on`.
pub const RETRY_ON_ALL_DOC: &str = r#"["429", "5xx", "timeout", "408", "409", "connection"]"#;

/// Every failure class: the default of `on`.
pub fn retry_on_all() -> Vec<RetryOnSpec> {
    vec![
        RetryOnSpec::RateLimited,
        RetryOnSpec::ServerError,
        RetryOnSpec::Timeout,
        RetryOnSpec::RequestTimeout,
        RetryOnSpec::Conflict,
        RetryOnSpec::Connection,
    ]
}

/// The default of `max_attempts`: one try and four retries.
pub fn default_max_attempts() -> u32 {
    5
}

/// Why a retry policy gave a request up: the `dead_letter.by_reason` of a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// Its last allowed attempt failed (`max_attempts`).
    Attempts,
    /// It failed in a way the policy does not retry (not in `on`, or a 413).
    NotRetryable,
    /// The API asked for a longer wait than `max_retry_after_ms` allows.
    RetryAfterTooLong,
    /// The retry budget (`budget = { … }`) had nothing left.
    Budget,
    /// The retry quota (`quota = { … }`) had nothing left.
    Quota,
}

impl DeadLetterReason {
    /// Every reason, in the order of the JSON's `by_reason`.
    pub const ALL: [DeadLetterReason; 5] = [
        DeadLetterReason::Attempts,
        DeadLetterReason::NotRetryable,
        DeadLetterReason::RetryAfterTooLong,
        DeadLetterReason::Budget,
        DeadLetterReason::Quota,
    ];

    /// The name used in the JSON and the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Attempts => "attempts",
            DeadLetterReason::NotRetryable => "not_retryable",
            DeadLetterReason::RetryAfterTooLong => "retry_after_too_long",
            DeadLetterReason::Budget => "budget",
            DeadLetterReason::Quota => "quota",
        }
    }
}

/// What a retry does with the `Retry-After` the API sent; in TOML `retry_after = "ignore" |
/// "at_least" | "replace"` (`honor_retry_after = true` is a synonym of `"at_least"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    /// The policy's own wait, whatever the API said.
    #[default]
    Ignore,
    /// The later of the policy's wait and `Retry-After`.
    AtLeast,
    /// `Retry-After` when the API sent one, the policy's own wait otherwise (the OpenAI and
    /// Anthropic SDKs).
    Replace,
}

impl RetryAfter {
    /// The mode a table's `honor_retry_after` and `retry_after` give (`Ignore` when neither).
    pub fn of(honor_retry_after: Option<bool>, retry_after: Option<RetryAfter>) -> RetryAfter {
        match (retry_after, honor_retry_after) {
            (Some(mode), _) => mode,
            (None, Some(true)) => RetryAfter::AtLeast,
            (None, _) => RetryAfter::Ignore,
        }
    }

    /// The retry time after a failure at `now`: `now + wait`, or as `Retry-After` (`ra`) says.
    #[inline]
    pub fn apply(self, now: Nanos, wait: Nanos, ra: Option<Nanos>) -> Nanos {
        let own = now.saturating_add(wait);
        match (self, ra) {
            (RetryAfter::AtLeast, Some(ra)) => own.max(now.saturating_add(ra)),
            (RetryAfter::Replace, Some(ra)) => now.saturating_add(ra),
            _ => own,
        }
    }
}

/// The `Retry-After` fields every backing-off kind takes: `honor_retry_after` (the old
/// spelling), `retry_after` and `max_retry_after_ms`, resolved and checked in one place.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RetryAfterFields {
    /// `honor_retry_after`.
    pub honor_retry_after: Option<bool>,
    /// `retry_after`.
    pub retry_after: Option<RetryAfter>,
    /// `max_retry_after_ms`.
    pub max_retry_after_ms: Option<f64>,
}

impl RetryAfterFields {
    /// Checks that the two spellings agree and `max_retry_after_ms` is in range.
    pub fn check(&self, c: &mut Checker) {
        if let (Some(honor), Some(mode)) = (self.honor_retry_after, self.retry_after)
            && honor != (mode != RetryAfter::Ignore)
        {
            c.fail(
                "honor_retry_after",
                format!(
                    "= {honor} contradicts retry_after = \"{}\"; give only retry_after",
                    mode.as_str()
                ),
            );
        }
        if let Some(ms) = self.max_retry_after_ms {
            c.number("max_retry_after_ms", ms, 0.0, MAX_MS);
        }
    }

    /// The mode.
    pub fn mode(&self) -> RetryAfter {
        RetryAfter::of(self.honor_retry_after, self.retry_after)
    }

    /// The longest `Retry-After` a retry waits for.
    pub fn max(&self) -> Option<Nanos> {
        self.max_retry_after_ms.map(ms_to_nanos)
    }

    /// Scales `max_retry_after_ms` for `--scale k`.
    pub fn scale(&mut self, k: f64) {
        if let Some(ms) = &mut self.max_retry_after_ms {
            *ms /= k;
        }
    }
}

impl RetryAfter {
    /// The TOML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryAfter::Ignore => "ignore",
            RetryAfter::AtLeast => "at_least",
            RetryAfter::Replace => "replace",
        }
    }
}

/// When a backing-off policy gives up and how it treats `Retry-After`: the fields `on`,
/// `max_attempts`, `retry_after` and `max_retry_after_ms` that several kinds share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GiveUp {
    /// Which failures are retried.
    pub on: RetryOn,
    /// Attempts in all, the first send included (5 = one try + four retries).
    pub max_attempts: u32,
    /// What a retry does with `Retry-After`.
    pub retry_after: RetryAfter,
    /// A longer `Retry-After` ends the request instead (`None`: any is waited for).
    pub max_retry_after: Option<Nanos>,
}

impl GiveUp {
    /// Retries every failure in `on` up to `max_attempts`, ignoring `Retry-After`.
    pub fn new(on: RetryOn, max_attempts: u32) -> Self {
        GiveUp {
            on,
            max_attempts,
            retry_after: RetryAfter::Ignore,
            max_retry_after: None,
        }
    }

    /// These rules with `Retry-After` treated as `fields` say.
    pub fn with_retry_after(self, fields: &RetryAfterFields) -> Self {
        GiveUp {
            retry_after: fields.mode(),
            max_retry_after: fields.max(),
            ..self
        }
    }

    /// Checks `max_attempts` (1..=[`MAX_ATTEMPTS`]).
    pub fn check_max_attempts(c: &mut Checker, max_attempts: u32) {
        Self::check_max_attempts_named(c, "max_attempts", max_attempts);
    }

    /// Checks a count of attempts in all (1..=[`MAX_ATTEMPTS`]) that a kind names `field`.
    pub fn check_max_attempts_named(c: &mut Checker, field: &str, attempts: u32) {
        c.integer(field, u64::from(attempts), 1, u64::from(MAX_ATTEMPTS));
    }

    /// Is `resp` the end of its request, and why: a failure not covered, its last attempt, or
    /// a `Retry-After` longer than allowed.
    #[inline]
    pub fn gives_up(&self, resp: &Response) -> Option<DeadLetterReason> {
        if !self.on.covers(resp.outcome) {
            Some(DeadLetterReason::NotRetryable)
        } else if resp.request.attempt >= self.max_attempts {
            Some(DeadLetterReason::Attempts)
        } else if let (Some(ra), Some(max)) = (resp.retry_after, self.max_retry_after)
            && ra > max
        {
            Some(DeadLetterReason::RetryAfterTooLong)
        } else {
            None
        }
    }

    /// The retry `wait` after `now`, with `Retry-After` applied as the mode says.
    #[inline]
    pub fn retry_at(&self, now: Nanos, wait: Nanos, resp: &Response) -> Nanos {
        self.retry_after.apply(now, wait, resp.retry_after)
    }

    /// Does a retry wait at least the `Retry-After` the API sent?
    pub fn honours_retry_after(&self) -> bool {
        self.retry_after != RetryAfter::Ignore
    }
}
