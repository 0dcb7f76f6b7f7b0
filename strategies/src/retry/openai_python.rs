//! `openai_python`: the official OpenAI Python SDK's retries (openai/openai-python
//! `src/openai/_base_client.py` and `_constants.py`, as of commit 7fa79464, 2026-07-30, "honor
//! Retry-After delays up to two minutes (#3555)"): `DEFAULT_MAX_RETRIES = 2`,
//! `INITIAL_RETRY_DELAY = 0.5`, `MAX_RETRY_DELAY = 8.0`, `MAX_RETRY_AFTER_DELAY = 120`; a longer
//! `Retry-After` is not retried. Before #3555 the bound was 60 s and a longer one fell back to
//! the exponential wait (what `anthropic_python` does). The loop itself: [`super::stainless`].

use serde::{Deserialize, Serialize};

use super::RetryKind;
use super::stainless::{DEFAULT_MAX_RETRIES, Stainless, StainlessRetry, seconds_at};
use crate::config::{Checker, MAX_ATTEMPTS};
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};

/// `MAX_RETRY_AFTER_DELAY`, seconds.
pub const MAX_RETRY_AFTER_DELAY_S: u64 = 120;

/// `{ kind = "openai_python", max_retries }`: the client's `max_retries`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiPythonConfig {
    /// `OpenAI(max_retries=…)`: retries after the first attempt.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// How much faster than the SDK's own constants it runs (`--scale`; not a TOML field).
    #[serde(skip, default = "unscaled")]
    pub speed: f64,
}

pub(super) fn default_max_retries() -> u32 {
    DEFAULT_MAX_RETRIES
}

pub(super) fn unscaled() -> f64 {
    1.0
}

impl Kind for OpenAiPythonConfig {
    const DOC: KindDoc = KindDoc {
        about: "the OpenAI Python SDK's retries: Retry-After up to 120 s, else 0.5·2^n s (cap 8) jittered to 75-100 %",
        fields: &[FieldDoc::default("max_retries", "2")],
        example: r#"{ kind = "openai_python", max_retries = 2 }"#,
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

impl RetryKind for OpenAiPythonConfig {
    type Policy = StainlessRetry;
    fn build(&self, draws: Draws) -> StainlessRetry {
        StainlessRetry::new(
            Stainless {
                max_retries: self.max_retries,
                retry_after_limit: seconds_at(MAX_RETRY_AFTER_DELAY_S, self.speed),
                longer_retry_after_gives_up: true,
                speed: self.speed,
            },
            draws,
        )
    }
    fn max_attempts(&self) -> u32 {
        self.max_retries + 1
    }
    fn honours_retry_after(&self) -> bool {
        true
    }
}
