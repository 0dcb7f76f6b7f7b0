//! The retry loop of the Stainless-generated Python SDKs (OpenAI's and Anthropic's), shared by
//! `openai_python` and `anthropic_python`, which differ only in their constants.
//!
//! `_base_client.py`: a failure is retried when its status is 408, 409, 429 or ≥ 500, or the
//! connection failed or timed out, while retries remain (`max_retries`, default 2: three
//! attempts). `Retry-After` is read from `retry-after-ms` first (milliseconds), then
//! `retry-after` (seconds, or a date): [`Response::retry_after`] holds whichever the API sent,
//! the millisecond value with `[api] retry_after_precision = "ms"`. The wait
//! (`_calculate_retry_timeout`) is that `Retry-After` when `0 < Retry-After ≤ limit`; a longer one
//! ends the request (OpenAI) or is cut to the limit (Anthropic 2.16.0), see [`LongerRetryAfter`];
//! otherwise, after `retries_taken` retries, `min(0.5 · 2^retries_taken, 8) · (1 − 0.25 ·
//! random())` seconds: 75–100 % of 0.5, 1, 2, 4, 8 s. The `x-should-retry` header that can
//! override the status rule is not modelled (no modelled API sends it).

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::config::{Checker, MAX_ATTEMPTS};
use crate::draws::{Draws, Purpose};
use crate::kind::{Kind, KindDoc};
use crate::retry::{
    BudgetSpec, DeadLetterReason, Guards, QuotaSpec, RetryKind, RetryPolicy, check_guards,
    scale_budget,
};
#[cfg(test)]
use crate::time::SECOND;
use crate::time::{Nanos, secs_to_nanos};
use crate::types::{Outcome, Response};

/// `INITIAL_RETRY_DELAY`, seconds.
pub const INITIAL_RETRY_DELAY_S: f64 = 0.5;
/// `MAX_RETRY_DELAY`, seconds.
pub const MAX_RETRY_DELAY_S: f64 = 8.0;
/// `DEFAULT_MAX_RETRIES`.
pub const DEFAULT_MAX_RETRIES: u32 = 2;

/// What an SDK does with a `Retry-After` longer than its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongerRetryAfter {
    /// The request is not retried (OpenAI since #3555: `_should_retry` refuses it).
    GivesUp,
    /// The limit is the wait (Anthropic 2.16.0: `min(retry_after, 4_294_967.0)`).
    WaitsTheLimit,
}

/// What tells one generated SDK from another: its catalog entry and its `Retry-After` rule.
pub trait Sdk: Clone + std::fmt::Debug + PartialEq + Default + Send + Sync + 'static {
    /// What `ratelab list` says of the kind.
    const DOC: KindDoc;
    /// The longest `Retry-After` used as the wait, seconds.
    const RETRY_AFTER_LIMIT_S: u64;
    /// What a longer one does.
    const LONGER_RETRY_AFTER: LongerRetryAfter;
}

/// `{ kind = "openai_python" | "anthropic_python", max_retries }`: the client's `max_retries`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct SdkRetryConfig<S: Sdk> {
    /// `OpenAI(max_retries=…)` / `Anthropic(max_retries=…)`: retries after the first attempt.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// A retry budget (tower's `TpsBudget`): a refused retry ends the request (`budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// The AWS SDKs' retry quota: a refused retry ends the request (`quota`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSpec>,
    /// How much faster than the SDK's own constants it runs (`--scale`; not a TOML field).
    #[serde(skip, default = "unscaled")]
    pub speed: f64,
    #[serde(skip)]
    sdk: PhantomData<S>,
}

fn default_max_retries() -> u32 {
    DEFAULT_MAX_RETRIES
}

fn unscaled() -> f64 {
    1.0
}

impl<S: Sdk> SdkRetryConfig<S> {
    /// The SDK with `max_retries`, at its own speed.
    pub fn new(max_retries: u32) -> Self {
        SdkRetryConfig {
            max_retries,
            budget: None,
            quota: None,
            speed: 1.0,
            sdk: PhantomData,
        }
    }
}

impl<S: Sdk> Kind for SdkRetryConfig<S> {
    const DOC: KindDoc = S::DOC;
    fn check(&self, c: &mut Checker) {
        check_guards(c, &self.budget, &self.quota);
        c.integer(
            "max_retries",
            u64::from(self.max_retries),
            0,
            u64::from(MAX_ATTEMPTS - 1),
        );
    }
    /// The SDK's waits, `k` times shorter (its constants stay what `ratelab list` shows).
    fn scale(&mut self, k: f64) {
        self.speed *= k;
        scale_budget(&mut self.budget, k);
    }
}

impl<S: Sdk> RetryKind for SdkRetryConfig<S> {
    type Policy = StainlessRetry;
    fn build(&self, draws: Draws) -> StainlessRetry {
        StainlessRetry::new(
            Stainless {
                max_retries: self.max_retries,
                retry_after_limit: seconds_at(S::RETRY_AFTER_LIMIT_S, self.speed),
                longer_retry_after: S::LONGER_RETRY_AFTER,
                speed: self.speed,
            },
            draws,
        )
    }
    fn guards(&self) -> Guards {
        Guards::new(self.budget.as_ref(), self.quota.as_ref())
    }
    fn max_attempts(&self) -> u32 {
        self.max_retries + 1
    }
    /// Always, when a longer one ends the request (OpenAI); not strictly when a longer one is
    /// cut to the limit (Anthropic: 4 294 967 s, longer than any run's horizon).
    fn honours_retry_after(&self) -> bool {
        S::LONGER_RETRY_AFTER == LongerRetryAfter::GivesUp
    }
    fn uses_retry_after(&self) -> bool {
        true
    }
}

/// The constants that tell one SDK's loop from the other's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stainless {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The longest `Retry-After` used as the wait.
    pub retry_after_limit: Nanos,
    /// What a longer `Retry-After` does.
    pub longer_retry_after: LongerRetryAfter,
    /// Every wait is divided by this (1: the SDK's own; `ratelab live --scale`).
    pub speed: f64,
}

/// The SDKs' retry loop; the jitter draw is addressed by (client, request, attempt).
#[derive(Clone, Debug)]
pub struct StainlessRetry {
    sdk: Stainless,
    draws: Draws,
}

impl StainlessRetry {
    /// The loop with these constants.
    pub fn new(sdk: Stainless, draws: Draws) -> Self {
        StainlessRetry { sdk, draws }
    }

    /// Does the SDK retry this failure at all (before counting retries)?
    pub fn retries(resp: &Response) -> bool {
        matches!(
            resp.outcome,
            Outcome::RateLimited
                | Outcome::ServerError
                | Outcome::Timeout
                | Outcome::RequestTimeout
                | Outcome::Conflict
                | Outcome::Connection
        )
    }

    /// The exponential wait after `retries_taken` retries, for a jitter draw `u` in (0, 1), at
    /// the SDK's own speed.
    pub fn backoff(retries_taken: u32, u: f64) -> Nanos {
        Self::backoff_at(retries_taken, u, 1.0)
    }

    fn backoff_at(retries_taken: u32, u: f64, speed: f64) -> Nanos {
        let sleep = (INITIAL_RETRY_DELAY_S * libm::pow(2.0, f64::from(retries_taken.min(1000))))
            .min(MAX_RETRY_DELAY_S);
        secs_to_nanos(sleep * (1.0 - 0.25 * u) / speed)
    }

    /// The wait after the failure `resp` (its attempt `n`: `n − 1` retries were taken).
    pub fn delay(&self, resp: &Response) -> Nanos {
        if let Some(ra) = resp.retry_after
            && ra > 0
        {
            if ra <= self.sdk.retry_after_limit {
                return ra;
            }
            if self.sdk.longer_retry_after == LongerRetryAfter::WaitsTheLimit {
                return self.sdk.retry_after_limit;
            }
        }
        let r = resp.request;
        let u = self.draws.unit(Purpose::Jitter, r.client, r.id, r.attempt);
        Self::backoff_at(r.attempt.saturating_sub(1), u, self.sdk.speed)
    }
}

impl RetryPolicy for StainlessRetry {
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
        if !Self::retries(resp) {
            return Err(DeadLetterReason::NotRetryable);
        }
        if self.sdk.longer_retry_after == LongerRetryAfter::GivesUp
            && resp
                .retry_after
                .is_some_and(|ra| ra > self.sdk.retry_after_limit)
        {
            return Err(DeadLetterReason::RetryAfterTooLong);
        }
        if resp.request.attempt > self.sdk.max_retries {
            return Err(DeadLetterReason::Attempts);
        }
        Ok(now.saturating_add(self.delay(resp)))
    }
    /// Only `Retry-After`.
    fn reads_rate_limit_headers(&self) -> bool {
        false
    }
}

/// `s` seconds at `speed` (see [`Stainless::speed`]).
fn seconds_at(s: u64, speed: f64) -> Nanos {
    secs_to_nanos(s as f64 / speed)
}

#[cfg(test)]
fn seconds(s: u64) -> Nanos {
    s * SECOND
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::reply;

    fn sdk(longer: LongerRetryAfter, limit_s: u64) -> StainlessRetry {
        StainlessRetry::new(
            Stainless {
                max_retries: 2,
                retry_after_limit: seconds(limit_s),
                longer_retry_after: longer,
                speed: 1.0,
            },
            Draws::new(3),
        )
    }

    #[test]
    fn waits_are_75_to_100_percent_of_half_a_second_doubling_to_eight() {
        let ceilings = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0];
        for (taken, c) in ceilings.iter().enumerate() {
            let hi = StainlessRetry::backoff(taken as u32, 0.0);
            let lo = StainlessRetry::backoff(taken as u32, 1.0);
            assert_eq!(hi, secs_to_nanos(*c));
            assert_eq!(lo, secs_to_nanos(c * 0.75));
        }
    }

    #[test]
    fn three_attempts_and_the_sdks_status_rule() {
        let mut p = sdk(LongerRetryAfter::GivesUp, 120);
        for (status, retried) in [
            (429, true),
            (500, true),
            (503, true),
            (408, true),
            (409, true),
            (413, false),
            (400, false),
        ] {
            let r = p.retry_at(0, &reply(0, 0, status));
            assert_eq!(r.is_ok(), retried, "{status}");
        }
        let mut resp = reply(0, 0, 429);
        resp.request.attempt = 2;
        let at = p.retry_at(0, &resp).unwrap();
        assert!((secs_to_nanos(0.75)..=SECOND).contains(&at), "{at}");
        resp.request.attempt = 3;
        assert_eq!(p.retry_at(0, &resp), Err(DeadLetterReason::Attempts));
    }

    #[test]
    fn retry_after_replaces_the_backoff_up_to_the_limit() {
        let mut resp = reply(0, 0, 429);
        let (gives_up, waits) = (LongerRetryAfter::GivesUp, LongerRetryAfter::WaitsTheLimit);
        resp.retry_after = Some(seconds(30));
        assert_eq!(sdk(gives_up, 120).retry_at(5, &resp), Ok(5 + seconds(30)));
        resp.retry_after = Some(seconds(90));
        assert_eq!(sdk(gives_up, 120).retry_at(5, &resp), Ok(5 + seconds(90)));
        // A millisecond Retry-After (`retry-after-ms`) is waited as it is.
        resp.retry_after = Some(4_321_000_000);
        assert_eq!(sdk(gives_up, 120).retry_at(5, &resp), Ok(5 + 4_321_000_000));
        // OpenAI: above 120 s it does not retry.
        resp.retry_after = Some(seconds(121));
        assert_eq!(
            sdk(gives_up, 120).retry_at(5, &resp),
            Err(DeadLetterReason::RetryAfterTooLong)
        );
        // Anthropic: above its limit, the limit.
        assert_eq!(sdk(waits, 100).retry_at(5, &resp), Ok(5 + seconds(100)));
        // A zero Retry-After is not used: the exponential wait.
        resp.retry_after = Some(0);
        assert!(sdk(gives_up, 120).retry_at(5, &resp).unwrap() > 5);
        assert!(sdk(waits, 100).retry_at(5, &resp).unwrap() <= 5 + secs_to_nanos(0.5));
    }
}
