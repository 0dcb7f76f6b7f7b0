//! `fixed`: the same wait before every retry.

use serde::{Deserialize, Serialize};

use super::{BudgetSpec, Guards, QuotaSpec, check_guards, scale_budget};
use super::{DeadLetterReason, GiveUp, RetryAfter, RetryAfterFields, RetryKind, RetryOn};
use super::{RetryOnSpec, RetryPolicy};
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
    /// Wait at least the `Retry-After` the API sent (the old spelling of `retry_after =
    /// "at_least"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honor_retry_after: Option<bool>,
    /// What a retry does with `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<RetryAfter>,
    /// A longer `Retry-After` ends the request (`retry_after_too_long`) instead of waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_after_ms: Option<f64>,
    /// Failures retried.
    #[serde(default = "retry_on_all")]
    pub on: Vec<RetryOnSpec>,
    /// A retry budget (tower's `TpsBudget`): a refused retry ends the request (`budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// The AWS SDKs' retry quota: a refused retry ends the request (`quota`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSpec>,
}

impl FixedConfig {
    /// The `Retry-After` fields.
    pub fn retry_after_fields(&self) -> RetryAfterFields {
        RetryAfterFields {
            honor_retry_after: self.honor_retry_after,
            retry_after: self.retry_after,
            max_retry_after_ms: self.max_retry_after_ms,
        }
    }
}

impl Kind for FixedConfig {
    const DOC: KindDoc = KindDoc {
        about: "the same wait before every retry",
        fields: &[
            FieldDoc::required("delay_ms"),
            FieldDoc::default("max_attempts", "5"),
            FieldDoc::default("honor_retry_after", "false"),
            FieldDoc::default("retry_after", "\"ignore\"")
                .values(r#""ignore" | "at_least" | "replace""#),
            FieldDoc::default("max_retry_after_ms", "none"),
            FieldDoc::default("on", super::RETRY_ON_ALL_DOC),
            FieldDoc::default("budget", "none"),
            FieldDoc::default("quota", "none"),
        ],
        example: r#"{ kind = "fixed", delay_ms = 1000 }"#,
    };
    fn check(&self, c: &mut Checker) {
        check_guards(c, &self.budget, &self.quota);
        c.number("delay_ms", self.delay_ms, 0.0, MAX_MS);
        GiveUp::check_max_attempts(c, self.max_attempts);
        self.retry_after_fields().check(c);
    }
    fn scale(&mut self, k: f64) {
        scale_budget(&mut self.budget, k);
        if let Some(ms) = &mut self.max_retry_after_ms {
            *ms /= k;
        }
        self.delay_ms /= k;
    }
}

impl RetryKind for FixedConfig {
    type Policy = FixedRetry;
    fn build(&self, _draws: Draws) -> FixedRetry {
        FixedRetry::new(
            ms_to_nanos(self.delay_ms),
            GiveUp::new(RetryOn::of(&self.on), self.max_attempts)
                .with_retry_after(&self.retry_after_fields()),
        )
    }
    fn guards(&self) -> Guards {
        Guards::new(self.budget.as_ref(), self.quota.as_ref())
    }
    fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    fn honours_retry_after(&self) -> bool {
        self.retry_after_fields().mode() != RetryAfter::Ignore
    }
    fn uses_retry_after(&self) -> bool {
        self.honours_retry_after() || self.max_retry_after_ms.is_some()
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
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
        if let Some(reason) = self.give_up.gives_up(resp) {
            return Err(reason);
        }
        Ok(self.give_up.retry_at(now, self.delay, resp))
    }
    /// Only `Retry-After`.
    fn reads_rate_limit_headers(&self) -> bool {
        false
    }
}
