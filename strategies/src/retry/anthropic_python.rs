//! `anthropic_python`: the official Anthropic Python SDK's retries (anthropics/
//! anthropic-sdk-python `src/anthropic/_base_client.py` and `_constants.py`, commit 009b0353,
//! 2026-08-07): `DEFAULT_MAX_RETRIES = 2`, `INITIAL_RETRY_DELAY = 0.5`, `MAX_RETRY_DELAY = 8.0`;
//! `Retry-After` is the wait only when `0 < Retry-After ≤ 60` s, a longer one falls back to the
//! exponential wait. 529 (overloaded) is retried as a 5xx. The loop itself: [`super::stainless`].

use serde::{Deserialize, Serialize};

use super::RetryKind;
use super::openai_python::{default_max_retries, unscaled};
use super::stainless::{Stainless, StainlessRetry, seconds_at};
use crate::config::{Checker, MAX_ATTEMPTS};
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};

/// The longest `Retry-After` the SDK waits for, seconds.
pub const RETRY_AFTER_LIMIT_S: u64 = 60;

/// `{ kind = "anthropic_python", max_retries }`: the client's `max_retries`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnthropicPythonConfig {
    /// `Anthropic(max_retries=…)`: retries after the first attempt.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// How much faster than the SDK's own constants it runs (`--scale`; not a TOML field).
    #[serde(skip, default = "unscaled")]
    pub speed: f64,
}

impl Kind for AnthropicPythonConfig {
    const DOC: KindDoc = KindDoc {
        about: "the Anthropic Python SDK's retries: Retry-After up to 60 s, else 0.5·2^n s (cap 8) jittered to 75-100 %",
        fields: &[FieldDoc::default("max_retries", "2")],
        example: r#"{ kind = "anthropic_python", max_retries = 2 }"#,
    };
    fn check(&self, c: &mut Checker) {
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
    }
}

impl RetryKind for AnthropicPythonConfig {
    type Policy = StainlessRetry;
    fn build(&self, draws: Draws) -> StainlessRetry {
        StainlessRetry::new(
            Stainless {
                max_retries: self.max_retries,
                retry_after_limit: seconds_at(RETRY_AFTER_LIMIT_S, self.speed),
                longer_retry_after_gives_up: false,
                speed: self.speed,
            },
            draws,
        )
    }
    fn max_attempts(&self) -> u32 {
        self.max_retries + 1
    }
    /// Not always: a `Retry-After` over 60 s falls back to the (shorter) exponential wait.
    fn honours_retry_after(&self) -> bool {
        false
    }
    fn uses_retry_after(&self) -> bool {
        true
    }
}
