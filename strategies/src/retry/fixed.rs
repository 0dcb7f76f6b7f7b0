//! `fixed`: the same wait before every retry.

use serde::{Deserialize, Serialize};

use super::{GiveUp, RetryKind, RetryOn, RetryOnSpec, RetryPolicy};
use super::{default_max_attempts, retry_on_all};
use crate::config::{Checker, MAX_MS};
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::time::{Nanos, ms_to_nanos};
use crate::types::Response;

/// `{ kind = "fixed", delay_ms, max_attempts, honor_retry_after, on }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedConfig {
    /// Wait before each retry, ms.
    pub delay_ms: f64,
    /// Attempts in all, the first included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait at least the `Retry-After` the API sent.
    #[serde(default)]
    pub honor_retry_after: bool,
    /// Failures retried.
    #[serde(default = "retry_on_all")]
    pub on: Vec<RetryOnSpec>,
}

impl Kind for FixedConfig {
    const DOC: KindDoc = KindDoc {
        about: "the same wait before every retry",
        fields: &[
            FieldDoc::required("delay_ms"),
            FieldDoc::default("max_attempts", "5"),
            FieldDoc::default("honor_retry_after", "false"),
            FieldDoc::default("on", r#"["429", "5xx", "timeout"]"#),
        ],
        example: r#"{ kind = "fixed", delay_ms = 1000 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("delay_ms", self.delay_ms, 0.0, MAX_MS);
        GiveUp::check_max_attempts(c, self.max_attempts);
    }
    fn scale(&mut self, k: f64) {
        self.delay_ms /= k;
    }
}

impl RetryKind for FixedConfig {
    type Policy = FixedRetry;
    fn build(&self, _draws: Draws) -> FixedRetry {
        FixedRetry::new(
            ms_to_nanos(self.delay_ms),
            GiveUp {
                on: RetryOn::of(&self.on),
                max_attempts: self.max_attempts,
                honor_retry_after: self.honor_retry_after,
            },
        )
    }
    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    fn honours_retry_after(&self) -> bool {
        self.honor_retry_after
    }
}

/// Retries after the same `delay` every time, until it gives up.
#[derive(Clone, Debug)]
pub struct FixedRetry {
    delay: Nanos,
    give_up: GiveUp,
}

impl FixedRetry {
    /// Waits `delay` before each retry.
    pub fn new(delay: Nanos, give_up: GiveUp) -> Self {
        FixedRetry { delay, give_up }
    }
}

impl RetryPolicy for FixedRetry {
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Option<Nanos> {
        if self.give_up.gives_up(resp) {
            return None;
        }
        Some(self.give_up.retry_at(now, self.delay, resp))
    }
    /// Only `Retry-After`.
    fn reads_rate_limit_headers(&self) -> bool {
        false
    }
}
