//! `anthropic_python`: the official Anthropic Python SDK's retries (anthropics/
//! anthropic-sdk-python `src/anthropic/_base_client.py` and `_constants.py`, commit 009b0353,
//! 2026-08-07): `DEFAULT_MAX_RETRIES = 2`, `INITIAL_RETRY_DELAY = 0.5`, `MAX_RETRY_DELAY = 8.0`;
//! `Retry-After` is the wait only when `0 < Retry-After ≤ 60` s, a longer one falls back to the
//! exponential wait. 529 (overloaded) is retried as a 5xx. The loop itself: [`super::stainless`].

use super::stainless::{Sdk, SdkRetryConfig};
use crate::kind::{FieldDoc, KindDoc};

/// The longest `Retry-After` the SDK waits for, seconds.
pub const RETRY_AFTER_LIMIT_S: u64 = 60;

/// The Anthropic SDK's constants.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Anthropic;

impl Sdk for Anthropic {
    const DOC: KindDoc = KindDoc {
        about: "the Anthropic Python SDK's retries: Retry-After up to 60 s, else 0.5·2^n s (cap 8) jittered to 75-100 %",
        fields: &[
            FieldDoc::default("max_retries", "2"),
            FieldDoc::default("budget", "none"),
            FieldDoc::default("quota", "none"),
        ],
        example: r#"{ kind = "anthropic_python", max_retries = 2 }"#,
    };
    const RETRY_AFTER_LIMIT_S: u64 = RETRY_AFTER_LIMIT_S;
    const LONGER_RETRY_AFTER_GIVES_UP: bool = false;
}

/// `{ kind = "anthropic_python", max_retries }`: the client's `max_retries`.
pub type AnthropicPythonConfig = SdkRetryConfig<Anthropic>;
