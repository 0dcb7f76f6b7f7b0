//! `openai_python`: the official OpenAI Python SDK's retries (openai/openai-python
//! `src/openai/_base_client.py` and `_constants.py`, as of commit 7fa79464, 2026-07-30, "honor
//! Retry-After delays up to two minutes (#3555)"): `DEFAULT_MAX_RETRIES = 2`,
//! `INITIAL_RETRY_DELAY = 0.5`, `MAX_RETRY_DELAY = 8.0`, `MAX_RETRY_AFTER_DELAY = 120`; a longer
//! `Retry-After` is not retried. Before #3555 the bound was 60 s and a longer one fell back to
//! the exponential wait. The loop itself: [`super::stainless`].

use super::stainless::{LongerRetryAfter, Sdk, SdkRetryConfig};
use crate::kind::{FieldDoc, KindDoc};

/// `MAX_RETRY_AFTER_DELAY`, seconds.
pub const MAX_RETRY_AFTER_DELAY_S: u64 = 120;

/// The OpenAI SDK's constants.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OpenAi;

impl Sdk for OpenAi {
    const DOC: KindDoc = KindDoc {
        about: "the OpenAI Python SDK's retries: Retry-After up to 120 s, else 0.5·2^n s (cap 8) jittered to 75-100 %",
        fields: &[
            FieldDoc::default("max_retries", "2"),
            FieldDoc::default("budget", "none"),
            FieldDoc::default("quota", "none"),
        ],
        example: r#"{ kind = "openai_python", max_retries = 2 }"#,
    };
    const RETRY_AFTER_LIMIT_S: u64 = MAX_RETRY_AFTER_DELAY_S;
    const LONGER_RETRY_AFTER: LongerRetryAfter = LongerRetryAfter::GivesUp;
}

/// `{ kind = "openai_python", max_retries }`: the client's `max_retries`.
pub type OpenAiPythonConfig = SdkRetryConfig<OpenAi>;
