//! `aws_standard`: the AWS SDKs' "standard" retry mode as botocore runs it (boto/botocore
//! `botocore/retries/standard.py`, commit 0719e795, `STANDARD_RETRY_MODE_VERSION = "2.0"`, the
//! public default).
//!
//! - `MaxAttemptsChecker`: `total_max_attempts` in all, the first included
//!   (`DEFAULT_MAX_ATTEMPTS = 3`).
//! - What it retries: throttling errors (here: 429), the transient statuses 500, 502, 503, 504
//!   (`_TRANSIENT_STATUS_CODES`), and connection errors and timeouts (`ConnectionError`,
//!   `HTTPClientError`, which covers `ReadTimeoutError`). Nothing else: not 408 or 409, not other
//!   5xx.
//! - `ExponentialBackoff.delay_amount`: `random() · min(2^(attempt − 1), 20)` s after attempt
//!   `attempt` fails (`_BASE = 2`, `_MAX_BACKOFF = 20`): full jitter with base 1 s, cap 20 s.
//!   Version 2.0 does not read `Retry-After` (2.1's `x-amz-retry-after` is internal-only).
//! - The retry quota (`retries/quota.py`) is always on: capacity 500, a retry costs 5 (10 after a
//!   timeout), a success refunds (see [`super::QuotaSpec`]). It is asked after the checks
//!   above, as `RetryHandler.needs_retry` does.

use serde::{Deserialize, Serialize};

use super::{BudgetSpec, Guards, QuotaSpec, check_guards, scale_budget};
use super::{DeadLetterReason, RetryKind, RetryPolicy};
use crate::config::{Checker, MAX_MS};
use crate::draws::{Draws, Purpose, uniform_upto};
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::time::{Nanos, secs_to_nanos};
use crate::types::{Outcome, Response};

/// The longest wait in seconds a field may give (a day, as `MAX_MS`).
const MAX_S: f64 = MAX_MS / 1000.0;

/// `{ kind = "aws_standard", total_max_attempts, base_s, max_backoff_s, quota, budget }`, every
/// field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsStandardConfig {
    /// botocore's `total_max_attempts`: attempts in all, the first included.
    #[serde(default = "three")]
    pub total_max_attempts: u32,
    /// The unit of the exponential wait, seconds (botocore: 1; other values for `--scale`).
    #[serde(default = "one")]
    pub base_s: f64,
    /// `_MAX_BACKOFF`: the ceiling of a wait, seconds.
    #[serde(default = "twenty")]
    pub max_backoff_s: f64,
    /// The retry quota, always on; its defaults are botocore's.
    #[serde(default)]
    pub quota: QuotaSpec,
    /// A retry budget on top (none in botocore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
}

fn three() -> u32 {
    3
}
fn one() -> f64 {
    1.0
}
fn twenty() -> f64 {
    20.0
}

impl Kind for AwsStandardConfig {
    const DOC: KindDoc = KindDoc {
        about: "the AWS SDKs' standard retry mode (botocore 2.0): 3 attempts, full jitter 1 s..20 s, 429/500/502/503/504/timeout/connection, retry quota 500",
        fields: &[
            FieldDoc::default("total_max_attempts", "3"),
            FieldDoc::default("base_s", "1"),
            FieldDoc::default("max_backoff_s", "20"),
            FieldDoc::default(
                "quota",
                "{ capacity = 500, cost = 5, timeout_cost = 10, refund = 1 }",
            ),
            FieldDoc::default("budget", "none"),
        ],
        example: r#"{ kind = "aws_standard", total_max_attempts = 5 }"#,
    };
    fn check(&self, c: &mut Checker) {
        super::GiveUp::check_max_attempts_named(c, "total_max_attempts", self.total_max_attempts);
        c.number("base_s", self.base_s, 0.0, MAX_S);
        c.number("max_backoff_s", self.max_backoff_s, 0.0, MAX_S);
        check_guards(c, &self.budget, &Some(self.quota.clone()));
    }
    fn scale(&mut self, k: f64) {
        scale_budget(&mut self.budget, k);
        self.base_s /= k;
        self.max_backoff_s /= k;
    }
}

impl RetryKind for AwsStandardConfig {
    type Policy = AwsStandardRetry;
    fn build(&self, draws: Draws) -> AwsStandardRetry {
        AwsStandardRetry {
            max_attempts: self.total_max_attempts,
            base: secs_to_nanos(self.base_s),
            cap: secs_to_nanos(self.max_backoff_s),
            draws,
        }
    }
    fn guards(&self) -> Guards {
        Guards::new(self.budget.as_ref(), Some(&self.quota))
    }
    fn max_attempts(&self) -> u32 {
        self.total_max_attempts
    }
    fn honours_retry_after(&self) -> bool {
        false
    }
}

/// botocore's standard retry: which failures, how many attempts, full-jitter waits (the draw
/// addressed by client, request and attempt).
#[derive(Clone, Debug)]
pub struct AwsStandardRetry {
    max_attempts: u32,
    base: Nanos,
    cap: Nanos,
    draws: Draws,
}

impl AwsStandardRetry {
    /// Does botocore retry this failure at all (before counting attempts)?
    pub fn retries(resp: &Response) -> bool {
        match resp.outcome {
            Outcome::RateLimited | Outcome::Timeout | Outcome::Connection => true,
            Outcome::ServerError => matches!(resp.status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The ceiling of the wait after attempt `n` fails: `min(base · 2^(n−1), cap)`.
    pub fn ceiling(&self, n: u32) -> Nanos {
        let exp = n.saturating_sub(1).min(63);
        self.base.saturating_mul(1u64 << exp).min(self.cap)
    }
}

impl RetryPolicy for AwsStandardRetry {
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
        if !Self::retries(resp) {
            return Err(DeadLetterReason::NotRetryable);
        }
        let r = resp.request;
        if r.attempt >= self.max_attempts {
            return Err(DeadLetterReason::Attempts);
        }
        let bits = self.draws.u64(Purpose::Jitter, r.client, r.id, r.attempt);
        Ok(now.saturating_add(uniform_upto(bits, self.ceiling(r.attempt))))
    }
    /// Not even `Retry-After`.
    fn reads_rate_limit_headers(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::{Retry, RetrySpec};
    use crate::testing::reply;
    use crate::time::SECOND;

    fn spec(fields: &str) -> RetrySpec {
        toml::from_str(&format!("kind = \"aws_standard\"\n{fields}")).unwrap()
    }

    #[test]
    fn full_jitter_under_1_2_4_capped_at_20_seconds() {
        let RetrySpec::AwsStandard(c) = spec("total_max_attempts = 10") else {
            panic!()
        };
        let p = c.build(Draws::new(7));
        let ceilings: Vec<_> = (1..=7).map(|n| p.ceiling(n) / SECOND).collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 20, 20]);
        let mut p = p;
        let mut below_half = 0;
        for id in 0..400 {
            let mut resp = reply(id, 0, 429);
            resp.request.attempt = 3;
            let at = p.retry_at(SECOND, &resp).unwrap();
            assert!((SECOND..=5 * SECOND).contains(&at), "{at}");
            below_half += u32::from(at < 3 * SECOND);
        }
        assert!((150..250).contains(&below_half), "uniform: {below_half}");
    }

    #[test]
    fn retries_only_what_botocore_retries_and_three_attempts() {
        let RetrySpec::AwsStandard(c) = spec("") else {
            panic!()
        };
        let mut p = c.build(Draws::new(1));
        for (status, retried) in [
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (501, false),
            (529, false),
            (408, false),
            (409, false),
            (400, false),
        ] {
            let got = p.retry_at(0, &reply(0, 0, status));
            assert_eq!(got.is_ok(), retried, "{status}: {got:?}");
        }
        let mut t = Response::timeout(reply(0, 0, 200).request, 0, 5);
        assert!(p.retry_at(0, &t).is_ok());
        t.request.attempt = 3;
        assert_eq!(p.retry_at(0, &t), Err(DeadLetterReason::Attempts));
        let c = Response::connection(reply(0, 0, 200).request, 0, 5);
        assert!(p.retry_at(0, &c).is_ok());
    }

    #[test]
    fn the_quota_is_on_by_default_and_runs_out_after_100_retries() {
        let mut r: Retry = spec("total_max_attempts = 1000").build(Draws::new(1));
        let mut retried = 0;
        for id in 0..200 {
            if r.retry_at(0, &reply(id, 0, 503)).is_ok() {
                retried += 1;
            } else {
                assert_eq!(
                    r.retry_at(0, &reply(id, 0, 503)),
                    Err(DeadLetterReason::Quota)
                );
            }
        }
        assert_eq!(retried, 100, "500 / 5 per retry");
    }
}
