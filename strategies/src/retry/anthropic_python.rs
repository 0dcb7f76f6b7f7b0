//! `anthropic_python`: the official Anthropic Python SDK's retries, as the version that
//! `scripts/sdk/sdk.sh` pins and checks runs them: anthropic 2.16.0 from PyPI,
//! `anthropic/_base_client.py` and `anthropic/_constants.py`: `DEFAULT_MAX_RETRIES = 2`,
//! `INITIAL_RETRY_DELAY = 0.5`, `MAX_RETRY_DELAY = 8.0`; `_calculate_retry_timeout` waits any
//! positive `Retry-After` (`retry-after-ms` first), cut to 4 294 967 s by
//! `min(retry_after, 4_294_967.0)` (its comment: `time.sleep` raises above 2³² ms on Windows), and
//! uses the exponential wait only without one. (The earlier source this kind followed, commit 009b0353
//! of anthropics/anthropic-sdk-python, 2026-08-07, took `Retry-After` only up to 60 s and fell
//! back to the exponential wait above.) 529 (overloaded) is retried as a 5xx. The loop itself:
//! [`super::stainless`].

use super::stainless::{LongerRetryAfter, Sdk, SdkRetryConfig};
use crate::kind::{FieldDoc, KindDoc};

/// The longest `Retry-After` the SDK waits for, seconds (a longer one is cut to it).
pub const RETRY_AFTER_LIMIT_S: u64 = 4_294_967;

/// The Anthropic SDK's constants.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Anthropic;

impl Sdk for Anthropic {
    const DOC: KindDoc = KindDoc {
        about: "the Anthropic Python SDK's retries (anthropic 2.16.0): any Retry-After (at most 4294967 s), else 0.5·2^n s (cap 8) jittered to 75-100 %",
        fields: &[
            FieldDoc::default("max_retries", "2"),
            FieldDoc::default("budget", "none"),
            FieldDoc::default("quota", "none"),
        ],
        example: r#"{ kind = "anthropic_python", max_retries = 2 }"#,
    };
    const RETRY_AFTER_LIMIT_S: u64 = RETRY_AFTER_LIMIT_S;
    const LONGER_RETRY_AFTER: LongerRetryAfter = LongerRetryAfter::WaitsTheLimit;
}

/// `{ kind = "anthropic_python", max_retries }`: the client's `max_retries`.
pub type AnthropicPythonConfig = SdkRetryConfig<Anthropic>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draws::Draws;
    use crate::retry::{DeadLetterReason, RetryKind, RetryPolicy};
    use crate::testing::reply;
    use crate::time::SECOND;

    /// anthropic 2.16.0: a 90 s `Retry-After` is the wait (not replaced by the exponential
    /// one, as the 60 s rule of commit 009b0353 did), so is a millisecond one, and a longer one
    /// than 4 294 967 s is cut to it; attempts still end at `max_retries`.
    #[test]
    fn any_positive_retry_after_is_the_wait_up_to_the_cap() {
        let mut p = AnthropicPythonConfig::new(2).build(Draws::new(1));
        let mut resp = reply(0, 0, 429);
        for ra in [90 * SECOND, 61 * SECOND, 3_600 * SECOND, 1_234_000_000] {
            resp.retry_after = Some(ra);
            assert_eq!(p.retry_at(7, &resp), Ok(7 + ra), "{ra}");
        }
        resp.retry_after = Some(5_000_000 * SECOND);
        assert_eq!(p.retry_at(7, &resp), Ok(7 + 4_294_967 * SECOND));
        // Without one (a 529), the exponential wait: 75-100 % of 0.5 s.
        let mut overloaded = reply(0, 0, 529);
        let at = p.retry_at(0, &overloaded).unwrap();
        assert!((375_000_000..=500_000_000).contains(&at), "{at}");
        overloaded.request.attempt = 3;
        assert_eq!(p.retry_at(0, &overloaded), Err(DeadLetterReason::Attempts));
    }
}
