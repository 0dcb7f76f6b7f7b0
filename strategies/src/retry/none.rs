//! `none`: a failure is final.

use serde::{Deserialize, Serialize};

use super::{DeadLetterReason, RetryKind, RetryOn, RetryPolicy};
use crate::config::Checker;
use crate::draws::Draws;
use crate::kind::{Kind, KindDoc};
use crate::time::Nanos;
use crate::types::Response;

/// `{ kind = "none" }`: no fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoRetryConfig {}

impl Kind for NoRetryConfig {
    const DOC: KindDoc = KindDoc {
        about: "a failure is final (default)",
        fields: &[],
        example: r#"{ kind = "none" }"#,
    };
    fn check(&self, _c: &mut Checker) {}
    fn scale(&mut self, _k: f64) {}
}

impl RetryKind for NoRetryConfig {
    type Policy = NoRetry;
    fn build(&self, _draws: Draws) -> NoRetry {
        NoRetry
    }
    fn max_attempts(&self) -> u32 {
        1
    }
    fn honours_retry_after(&self) -> bool {
        false
    }
}

/// Never retries: every failure is dead-lettered.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRetry;

impl RetryPolicy for NoRetry {
    /// A retryable failure used up its one attempt; a 413 was never retryable.
    fn retry_at(&mut self, _now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
        Err(if RetryOn::ALL.covers(resp.outcome) {
            DeadLetterReason::Attempts
        } else {
            DeadLetterReason::NotRetryable
        })
    }
    fn reads_rate_limit_headers(&self) -> bool {
        false
    }
}
