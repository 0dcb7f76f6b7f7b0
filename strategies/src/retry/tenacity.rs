//! `tenacity`: Python tenacity's `@retry(stop=stop_after_attempt(n), wait=wait_exponential(
//! multiplier, min, max, exp_base) + wait_random(0, jitter))`, in tenacity's own parameter names.
//!
//! tenacity 9 (`tenacity/wait.py`, `wait_exponential.__call__`): after attempt `n` fails it
//! waits `max(max(0, min), min(multiplier · exp_base^(n−1), max))` seconds; `wait_random(0, j)`
//! adds U(0, j). `stop_after_attempt(n)` stops once `n` attempts were made. tenacity never reads
//! `Retry-After`. Its own defaults are `multiplier = 1`, `min = 0`, `max = MAX_WAIT` (unbounded),
//! `exp_base = 2` and `stop = stop_never`; ratelab needs a bound, and takes the articles'
//! `stop_after_attempt(5)`.

use serde::{Deserialize, Serialize};

use super::{BudgetSpec, Guards, QuotaSpec, check_guards, scale_budget};
use super::{DeadLetterReason, GiveUp, RetryKind, RetryOn, RetryOnSpec, RetryPolicy};
use super::{default_max_attempts, retry_on_all};
use crate::config::{Checker, MAX_MS};
use crate::draws::{Draws, Purpose, uniform_upto};
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::time::{Nanos, secs_to_nanos};
use crate::types::Response;

/// The longest wait in seconds a field may give (a day, as `MAX_MS`).
const MAX_S: f64 = MAX_MS / 1000.0;

/// `{ kind = "tenacity", multiplier, min_s, max_s, exp_base, stop_after_attempt, jitter_s, on }`,
/// every field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenacityConfig {
    /// `wait_exponential(multiplier=…)`, seconds.
    #[serde(default = "one")]
    pub multiplier: f64,
    /// `wait_exponential(min=…)`, seconds.
    #[serde(default)]
    pub min_s: f64,
    /// `wait_exponential(max=…)`, seconds (none: tenacity's unbounded `MAX_WAIT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_s: Option<f64>,
    /// `wait_exponential(exp_base=…)`.
    #[serde(default = "two")]
    pub exp_base: f64,
    /// `stop_after_attempt(…)`: attempts in all, the first included.
    #[serde(default = "default_max_attempts")]
    pub stop_after_attempt: u32,
    /// `+ wait_random(0, jitter_s)`, seconds (0: no jitter, tenacity's `wait_exponential`).
    #[serde(default)]
    pub jitter_s: f64,
    /// The failures retried (tenacity's `retry=`; by default every exception).
    #[serde(default = "retry_on_all")]
    pub on: Vec<RetryOnSpec>,
    /// A retry budget (tower's `TpsBudget`): a refused retry ends the request (`budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// The AWS SDKs' retry quota: a refused retry ends the request (`quota`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSpec>,
}

fn one() -> f64 {
    1.0
}
fn two() -> f64 {
    2.0
}

impl Kind for TenacityConfig {
    const DOC: KindDoc = KindDoc {
        about: "tenacity's wait_exponential (+ wait_random) and stop_after_attempt, exactly",
        fields: &[
            FieldDoc::default("multiplier", "1"),
            FieldDoc::default("min_s", "0"),
            FieldDoc::default("max_s", "none"),
            FieldDoc::default("exp_base", "2"),
            FieldDoc::default("stop_after_attempt", "5"),
            FieldDoc::default("jitter_s", "0"),
            FieldDoc::default("on", super::RETRY_ON_ALL_DOC),
            FieldDoc::default("budget", "none"),
            FieldDoc::default("quota", "none"),
        ],
        example: r#"{ kind = "tenacity", multiplier = 1, min_s = 2, max_s = 60 }"#,
    };
    fn check(&self, c: &mut Checker) {
        check_guards(c, &self.budget, &self.quota);
        c.number("multiplier", self.multiplier, 0.0, MAX_S);
        c.number("min_s", self.min_s, 0.0, MAX_S);
        if let Some(max_s) = self.max_s {
            c.number("max_s", max_s, 0.0, MAX_S);
        }
        c.number("exp_base", self.exp_base, 1.0, 100.0);
        c.number("jitter_s", self.jitter_s, 0.0, MAX_S);
        GiveUp::check_max_attempts_named(c, "stop_after_attempt", self.stop_after_attempt);
    }
    fn scale(&mut self, k: f64) {
        scale_budget(&mut self.budget, k);
        self.multiplier /= k;
        self.min_s /= k;
        if let Some(max_s) = &mut self.max_s {
            *max_s /= k;
        }
        self.jitter_s /= k;
    }
}

impl RetryKind for TenacityConfig {
    type Policy = TenacityRetry;
    fn build(&self, draws: Draws) -> TenacityRetry {
        TenacityRetry {
            config: self.clone(),
            give_up: GiveUp::new(RetryOn::of(&self.on), self.stop_after_attempt),
            jitter: secs_to_nanos(self.jitter_s),
            draws,
        }
    }
    fn guards(&self) -> Guards {
        Guards::new(self.budget.as_ref(), self.quota.as_ref())
    }
    fn max_attempts(&self) -> u32 {
        self.stop_after_attempt
    }
    fn honours_retry_after(&self) -> bool {
        false
    }
}

/// tenacity's exponential wait; its `wait_random` draw is addressed by (client, request,
/// attempt).
#[derive(Clone, Debug)]
pub struct TenacityRetry {
    config: TenacityConfig,
    give_up: GiveUp,
    jitter: Nanos,
    draws: Draws,
}

impl TenacityRetry {
    /// `wait_exponential`'s wait after attempt `n` fails, before any `wait_random`: as
    /// tenacity computes it, in seconds of `f64`, then rounded to the nanosecond.
    pub fn exponential_wait(&self, n: u32) -> Nanos {
        let c = &self.config;
        let value = c.multiplier * libm::pow(c.exp_base, f64::from(n.saturating_sub(1)));
        // `f64::min` answers the bound for an overflowed (infinite) value too.
        let capped = value.min(c.max_s.unwrap_or(MAX_S)).min(MAX_S);
        secs_to_nanos(c.min_s.max(0.0).max(capped))
    }

    /// The whole wait after attempt `n` of request `id` of `client` fails.
    pub fn delay(&self, client: u32, id: u64, n: u32) -> Nanos {
        let random = if self.jitter == 0 {
            0
        } else {
            uniform_upto(self.draws.u64(Purpose::Jitter, client, id, n), self.jitter)
        };
        self.exponential_wait(n).saturating_add(random)
    }
}

impl RetryPolicy for TenacityRetry {
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
        if let Some(reason) = self.give_up.gives_up(resp) {
            return Err(reason);
        }
        let r = resp.request;
        Ok(now.saturating_add(self.delay(r.client, r.id, r.attempt)))
    }
    /// Not even `Retry-After`.
    fn reads_rate_limit_headers(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::reply;
    use crate::time::SECOND;

    fn tenacity(toml_fields: &str) -> TenacityRetry {
        let c: TenacityConfig = toml::from_str(toml_fields).unwrap();
        c.build(Draws::new(1))
    }

    #[test]
    fn the_articles_decorator_waits_2_2_4_8_seconds() {
        // @retry(stop=stop_after_attempt(5), wait=wait_exponential(multiplier=1, min=2, max=60))
        let mut t = tenacity("multiplier = 1\nmin_s = 2\nmax_s = 60\nstop_after_attempt = 5");
        let waits: Vec<_> = (1..=4).map(|n| t.exponential_wait(n) / SECOND).collect();
        assert_eq!(waits, vec![2, 2, 4, 8]);
        let mut resp = reply(0, 0, 429);
        resp.request.attempt = 4;
        resp.retry_after = Some(30 * SECOND);
        assert_eq!(
            t.retry_at(SECOND, &resp),
            Ok(9 * SECOND),
            "Retry-After unread"
        );
        resp.request.attempt = 5;
        assert_eq!(t.retry_at(SECOND, &resp), Err(DeadLetterReason::Attempts));
    }

    #[test]
    fn the_cap_and_tenacitys_defaults() {
        let t = tenacity("max_s = 60");
        assert_eq!(t.exponential_wait(7), 60 * SECOND, "2^6 = 64 capped at 60");
        assert_eq!(t.exponential_wait(2000), 60 * SECOND, "overflow is the cap");
        let unbounded = tenacity("");
        assert_eq!(unbounded.exponential_wait(1), SECOND);
        assert_eq!(unbounded.exponential_wait(4), 8 * SECOND);
        assert_eq!(unbounded.exponential_wait(2000), secs_to_nanos(MAX_S));
        // A floor above the cap wins, as in tenacity's max(min, min(value, max)).
        assert_eq!(
            tenacity("min_s = 5\nmax_s = 3").exponential_wait(1),
            5 * SECOND
        );
    }

    #[test]
    fn wait_random_adds_up_to_its_bound() {
        let t = tenacity("jitter_s = 1");
        let mut seen_above_half = false;
        for id in 0..200 {
            let d = t.delay(0, id, 2);
            assert!((2 * SECOND..=3 * SECOND).contains(&d), "{d}");
            seen_above_half |= d > 2 * SECOND + SECOND / 2;
        }
        assert!(seen_above_half);
    }
}
