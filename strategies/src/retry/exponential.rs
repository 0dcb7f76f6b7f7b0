//! `exponential`: exponential backoff with jitter (AWS, "Exponential Backoff And Jitter").

use serde::{Deserialize, Serialize};

use super::{BudgetSpec, Guards, QuotaSpec, check_guards, scale_budget};
use super::{DeadLetterReason, GiveUp, RetryAfter, RetryAfterFields, RetryKind, RetryOn};
use super::{RetryOnSpec, RetryPolicy};
use super::{default_max_attempts, retry_on_all};
use crate::config::{Checker, MAX_MS};
use crate::draws::{DrawCache, Draws, Purpose, uniform_upto};
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::time::{Nanos, ms_to_nanos};
use crate::types::Response;

/// How a backoff ceiling is randomised (AWS, "Exponential Backoff And Jitter"); in TOML
/// `jitter = "none" | "full" | "equal" | "decorrelated"` (default `"full"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Wait the ceiling itself: lock-step retries.
    None,
    /// Uniform in `[0, ceiling]` (AWS's recommendation).
    #[default]
    Full,
    /// `ceiling/2` plus uniform in `[0, ceiling/2]`.
    Equal,
    /// `min(cap, uniform in [base, 3·previous])`, starting from `previous = base`.
    Decorrelated,
}

/// `{ kind = "exponential", base_ms, cap_ms, multiplier, jitter, max_attempts,
/// honor_retry_after, on }`, every field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExponentialConfig {
    /// First ceiling, ms.
    #[serde(default = "default_base_ms")]
    pub base_ms: f64,
    /// Largest ceiling, ms.
    #[serde(default = "default_cap_ms")]
    pub cap_ms: f64,
    /// Shortest wait, ms: a floor under every jittered wait (tenacity's `min`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_ms: f64,
    /// Growth per retry.
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    /// Randomisation.
    #[serde(default)]
    pub jitter: Jitter,
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

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn default_base_ms() -> f64 {
    1000.0
}
fn default_cap_ms() -> f64 {
    60_000.0
}
fn default_multiplier() -> f64 {
    2.0
}

impl ExponentialConfig {
    /// The `Retry-After` fields.
    pub fn retry_after_fields(&self) -> RetryAfterFields {
        RetryAfterFields {
            honor_retry_after: self.honor_retry_after,
            retry_after: self.retry_after,
            max_retry_after_ms: self.max_retry_after_ms,
        }
    }
}

impl Kind for ExponentialConfig {
    const DOC: KindDoc = KindDoc {
        about: "retry n waits min(cap, base·multiplier^(n-1)), jittered",
        fields: &[
            FieldDoc::default("base_ms", "1000"),
            FieldDoc::default("cap_ms", "60000"),
            FieldDoc::default("min_ms", "0"),
            FieldDoc::default("multiplier", "2"),
            FieldDoc::default("jitter", "\"full\"")
                .values(r#""none" | "full" | "equal" | "decorrelated""#),
            FieldDoc::default("max_attempts", "5"),
            FieldDoc::default("honor_retry_after", "false"),
            FieldDoc::default("retry_after", "\"ignore\"")
                .values(r#""ignore" | "at_least" | "replace""#),
            FieldDoc::default("max_retry_after_ms", "none"),
            FieldDoc::default("on", super::RETRY_ON_ALL_DOC),
            FieldDoc::default("budget", "none"),
            FieldDoc::default("quota", "none"),
        ],
        example: r#"{ kind = "exponential", base_ms = 500, jitter = "full" }"#,
    };
    fn check(&self, c: &mut Checker) {
        check_guards(c, &self.budget, &self.quota);
        let (base_ms, cap_ms) = (self.base_ms, self.cap_ms);
        c.number("base_ms", base_ms, 0.0, MAX_MS);
        c.number("cap_ms", cap_ms, 0.0, MAX_MS);
        if base_ms.is_finite() && cap_ms.is_finite() && cap_ms < base_ms {
            c.fail(
                "cap_ms",
                format!("must be at least base_ms = {base_ms} (got {cap_ms})"),
            );
        }
        c.number("min_ms", self.min_ms, 0.0, MAX_MS);
        if self.min_ms.is_finite() && cap_ms.is_finite() && self.min_ms > cap_ms {
            c.fail(
                "min_ms",
                format!("must be at most cap_ms = {cap_ms} (got {})", self.min_ms),
            );
        }
        c.number("multiplier", self.multiplier, 1.0, 100.0);
        GiveUp::check_max_attempts(c, self.max_attempts);
        self.retry_after_fields().check(c);
    }
    fn scale(&mut self, k: f64) {
        scale_budget(&mut self.budget, k);
        if let Some(ms) = &mut self.max_retry_after_ms {
            *ms /= k;
        }
        self.base_ms /= k;
        self.cap_ms /= k;
        self.min_ms /= k;
    }
}

impl RetryKind for ExponentialConfig {
    type Policy = ExponentialRetry;
    fn build(&self, draws: Draws) -> ExponentialRetry {
        ExponentialRetry::new(
            Backoff {
                base: ms_to_nanos(self.base_ms),
                cap: ms_to_nanos(self.cap_ms),
                min: ms_to_nanos(self.min_ms),
                multiplier: self.multiplier,
                jitter: self.jitter,
            },
            GiveUp::new(RetryOn::of(&self.on), self.max_attempts)
                .with_retry_after(&self.retry_after_fields()),
            draws,
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

/// The shape of exponential waits: retry n ≥ 1 has the ceiling `min(cap, base ·
/// multiplier^(n−1))`, then jitter, then the floor `min`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The first ceiling.
    pub base: Nanos,
    /// The largest ceiling.
    pub cap: Nanos,
    /// The shortest wait (0: none).
    pub min: Nanos,
    /// Growth per retry.
    pub multiplier: f64,
    /// Randomisation of the ceiling.
    pub jitter: Jitter,
}

/// Exponential backoff with jitter; jitter draws are addressed by (client, request, attempt).
#[derive(Clone, Debug)]
pub struct ExponentialRetry {
    backoff: Backoff,
    give_up: GiveUp,
    draws: Draws,
    /// What `retry_at` keeps between calls (its answers are those of
    /// [`ExponentialRetry::delay`]).
    memo: Memo,
}

/// Jitter draws of neighbouring requests from one ChaCha8 computation, and the exponential
/// ceilings of the first retries (a `pow` each), made when first needed.
#[derive(Clone, Default)]
struct Memo {
    /// Boxed: 2 KiB that only a client that retries needs.
    draws: Option<Box<DrawCache>>,
    ceilings: Option<[Nanos; MEMO_CEILINGS]>,
}

impl std::fmt::Debug for Memo {
    /// Not the cached words (2 KiB): the memo is an implementation detail of `retry_at`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").finish_non_exhaustive()
    }
}

/// Retries whose ceilings are remembered.
const MEMO_CEILINGS: usize = 16;

impl ExponentialRetry {
    /// A policy from its parts.
    pub fn new(backoff: Backoff, give_up: GiveUp, draws: Draws) -> Self {
        ExponentialRetry {
            backoff,
            give_up,
            draws,
            memo: Memo::default(),
        }
    }

    /// The wait before retry `n` (n ≥ 1) of request `id` of `client`.
    pub fn delay(&self, client: u32, id: u64, n: u32) -> Nanos {
        let b = self.backoff;
        delay_of(
            b,
            n,
            || exponential_ceiling(b.base, b.cap, b.multiplier, n),
            |k| self.draws.u64(Purpose::Jitter, client, id, k),
        )
    }

    /// [`ExponentialRetry::delay`], with draws and ceilings served from the memo.
    fn delay_memo(&mut self, client: u32, id: u64, n: u32) -> Nanos {
        let b = self.backoff;
        let memo = &mut self.memo;
        let draws = self.draws;
        let cache = memo
            .draws
            .get_or_insert_with(|| Box::new(DrawCache::new(draws, Purpose::Jitter)));
        let ceilings = memo.ceilings.get_or_insert_with(|| {
            std::array::from_fn(|i| exponential_ceiling(b.base, b.cap, b.multiplier, i as u32 + 1))
        });
        delay_of(
            b,
            n,
            || match ceilings.get(n.wrapping_sub(1) as usize) {
                Some(&c) => c,
                None => exponential_ceiling(b.base, b.cap, b.multiplier, n),
            },
            |k| cache.u64(client, id, k),
        )
    }
}

/// The wait before retry `n` under `backoff`, with its exponential ceiling from `ceiling()`
/// (asked only by the jitters that use it) and the jitter draw of retry `k` from `draw(k)`.
fn delay_of(
    backoff: Backoff,
    n: u32,
    ceiling: impl FnOnce() -> Nanos,
    mut draw: impl FnMut(u32) -> u64,
) -> Nanos {
    let Backoff {
        base,
        cap,
        min,
        jitter,
        ..
    } = backoff;
    let wait = match jitter {
        Jitter::None => ceiling(),
        Jitter::Full => uniform_upto(draw(n), ceiling()),
        Jitter::Equal => {
            let ceiling = ceiling();
            ceiling / 2 + uniform_upto(draw(n), ceiling - ceiling / 2)
        }
        Jitter::Decorrelated => {
            // Recomputed from addressable draws, so no per-request state is kept.
            let mut sleep = base.min(cap);
            for k in 1..=n {
                let hi = sleep.saturating_mul(3).max(base);
                sleep = (base + uniform_upto(draw(k), hi - base)).min(cap);
            }
            sleep
        }
    };
    wait.max(min)
}

/// `min(cap, base · multiplier^(n−1))` in nanoseconds.
pub fn exponential_ceiling(base: Nanos, cap: Nanos, multiplier: f64, n: u32) -> Nanos {
    let exp = f64::from(n.saturating_sub(1));
    let c = base as f64 * libm::pow(multiplier, exp);
    if c.is_nan() || c >= cap as f64 {
        cap
    } else {
        (c as Nanos).min(cap)
    }
}

impl RetryPolicy for ExponentialRetry {
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
        if let Some(reason) = self.give_up.gives_up(resp) {
            return Err(reason);
        }
        let r = resp.request;
        let wait = self.delay_memo(r.client, r.id, r.attempt);
        Ok(self.give_up.retry_at(now, wait, resp))
    }
    /// Only `Retry-After`.
    fn reads_rate_limit_headers(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::reply;

    fn expo(jitter: Jitter, max_attempts: u32, honor_retry_after: bool) -> ExponentialRetry {
        let backoff = Backoff {
            base: 100,
            cap: 1000,
            min: 0,
            multiplier: 2.0,
            jitter,
        };
        let mut give_up = GiveUp::new(RetryOn::ALL, max_attempts);
        if honor_retry_after {
            give_up.retry_after = RetryAfter::AtLeast;
        }
        ExponentialRetry::new(backoff, give_up, Draws::new(7))
    }

    #[test]
    fn retry_at_answers_delay() {
        let backoffs = [
            (100, 1000, 2.0, Jitter::Full),
            (30, 100_000, 1.5, Jitter::Equal),
            (30, 100_000, 1.5, Jitter::None),
            (30, 100_000, 1.5, Jitter::Decorrelated),
        ];
        for (seed, (base, cap, multiplier, jitter)) in [7, 8].into_iter().zip(backoffs) {
            let backoff = Backoff {
                base,
                cap,
                min: base / 3,
                multiplier,
                jitter,
            };
            let give_up = GiveUp::new(RetryOn::ALL, 40);
            let mut r = ExponentialRetry::new(backoff, give_up, Draws::new(seed));
            for id in [0, 1, 31, 32, 1000, 3, 1 << 50] {
                for n in [0, 1, 2, 5, 16, 17, 30] {
                    let mut resp = reply(id, 0, 429);
                    resp.request.attempt = n;
                    let expected = if n >= 40 {
                        Err(DeadLetterReason::Attempts)
                    } else {
                        Ok(10 + r.delay(0, id, n))
                    };
                    assert_eq!(r.retry_at(10, &resp), expected);
                }
            }
        }
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let r = expo(Jitter::None, 5, false);
        let waits: Vec<_> = (1..=6).map(|n| r.delay(0, 0, n)).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_in_its_range() {
        for id in 0..200 {
            for n in 1..6 {
                let c = exponential_ceiling(100, 1000, 2.0, n);
                assert!(expo(Jitter::Full, 5, false).delay(0, id, n) <= c);
                let e = expo(Jitter::Equal, 5, false).delay(0, id, n);
                assert!(e >= c / 2 && e <= c);
                let d = expo(Jitter::Decorrelated, 5, false).delay(0, id, n);
                assert!((100..=1000).contains(&d));
            }
        }
    }

    #[test]
    fn stops_at_max_attempts_and_on_unlisted_failures() {
        let mut r = expo(Jitter::None, 5, false);
        let mut resp = reply(0, 0, 429);
        resp.request.attempt = 4;
        assert_eq!(r.retry_at(10, &resp), Ok(810));
        resp.request.attempt = 5;
        assert_eq!(r.retry_at(10, &resp), Err(DeadLetterReason::Attempts));
        r.give_up.on.rate_limited = false;
        resp.request.attempt = 1;
        assert_eq!(r.retry_at(10, &resp), Err(DeadLetterReason::NotRetryable));
        assert_eq!(
            r.retry_at(10, &reply(0, 0, 413)),
            Err(DeadLetterReason::NotRetryable)
        );
    }

    #[test]
    fn retry_after_is_never_undercut_when_honoured() {
        let mut resp = reply(0, 0, 429);
        resp.retry_after = Some(5000);
        assert_eq!(expo(Jitter::None, 5, false).retry_at(10, &resp), Ok(110));
        assert_eq!(expo(Jitter::None, 5, true).retry_at(10, &resp), Ok(5010));
        let mut replace = expo(Jitter::None, 5, false);
        replace.give_up.retry_after = RetryAfter::Replace;
        assert_eq!(replace.retry_at(10, &resp), Ok(5010));
        resp.retry_after = Some(40);
        assert_eq!(replace.retry_at(10, &resp), Ok(50), "replace may wait less");
        resp.retry_after = None;
        assert_eq!(
            replace.retry_at(10, &resp),
            Ok(110),
            "no header: its own wait"
        );
    }

    #[test]
    fn a_retry_after_longer_than_allowed_ends_the_request() {
        let mut r = expo(Jitter::None, 5, true);
        r.give_up.max_retry_after = Some(1000);
        let mut resp = reply(0, 0, 429);
        resp.retry_after = Some(1000);
        assert_eq!(r.retry_at(10, &resp), Ok(1010));
        resp.retry_after = Some(1001);
        assert_eq!(
            r.retry_at(10, &resp),
            Err(DeadLetterReason::RetryAfterTooLong)
        );
    }

    #[test]
    fn the_floor_holds_under_every_jitter() {
        for jitter in [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ] {
            let mut r = expo(jitter, 5, false);
            r.backoff.min = 300;
            for id in 0..100 {
                for n in 1..6 {
                    let d = r.delay(0, id, n);
                    assert!((300..=1000).contains(&d), "{jitter:?}: {d}");
                }
            }
        }
        // tenacity's wait_exponential(multiplier=1, min=2, max=60) as base 1 s, floor 2 s.
        let mut r = expo(Jitter::None, 5, false);
        r.backoff = Backoff {
            base: 1000,
            cap: 60_000,
            min: 2000,
            multiplier: 2.0,
            jitter: Jitter::None,
        };
        let waits: Vec<_> = (1..=5).map(|n| r.delay(0, 0, n)).collect();
        assert_eq!(waits, vec![2000, 2000, 4000, 8000, 16000]);
    }
}
