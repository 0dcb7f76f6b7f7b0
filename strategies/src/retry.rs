//! Retry policies: when, if ever, a failed attempt is tried again.

use serde::{Deserialize, Serialize};

use crate::draws::{DrawCache, Draws, Purpose, uniform_upto};
use crate::time::Nanos;
use crate::types::{Outcome, Response};

/// Decides whether and when a failed attempt is sent again.
pub trait RetryPolicy {
    /// The attempt `resp.request.attempt` failed at `now`: the time of the next attempt, or
    /// `None` to give up (the request is dead-lettered).
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Option<Nanos>;
    /// Does this policy read a reply's rate-limit headers ([`Response::remaining`],
    /// [`Response::reset`])? `Retry-After` is not one of them: it is always sent. The default is
    /// `true` (see [`crate::Strategy::reads_rate_limit_headers`]).
    fn reads_rate_limit_headers(&self) -> bool {
        true
    }
}

/// Which failures a policy retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryOn {
    /// 429 Too Many Requests.
    pub rate_limited: bool,
    /// 5xx.
    pub server_error: bool,
    /// The client's own timeout.
    pub timeout: bool,
}

impl RetryOn {
    /// Retry every retryable failure.
    pub const ALL: RetryOn = RetryOn {
        rate_limited: true,
        server_error: true,
        timeout: true,
    };

    /// Does this policy retry `outcome`?
    pub fn covers(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::RateLimited => self.rate_limited,
            Outcome::ServerError => self.server_error,
            Outcome::Timeout => self.timeout,
            Outcome::Success | Outcome::ClientError => false,
        }
    }
}

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

/// The shape of the waits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backoff {
    /// Never retry.
    Never,
    /// The same wait every time.
    Fixed {
        /// The wait.
        delay: Nanos,
    },
    /// Retry n ≥ 1 has the ceiling `min(cap, base · multiplier^(n−1))`, then jitter.
    Exponential {
        /// The first ceiling.
        base: Nanos,
        /// The largest ceiling.
        cap: Nanos,
        /// Growth per retry.
        multiplier: f64,
        /// Randomisation of the ceiling.
        jitter: Jitter,
    },
}

/// The built-in retry policy: a backoff, the failures it covers, a cap on attempts, and whether
/// `Retry-After` is honoured. Jitter draws are addressed by (client, request, attempt).
#[derive(Clone, Debug)]
pub struct Retry {
    /// The shape of the waits.
    pub backoff: Backoff,
    /// Which failures are retried.
    pub on: RetryOn,
    /// Attempts in all, the first send included (5 = one try + four retries).
    pub max_attempts: u32,
    /// Wait at least the `Retry-After` the API sent.
    pub honor_retry_after: bool,
    /// Where jitter comes from.
    pub draws: Draws,
    /// What `retry_at` keeps between calls (its answers are those of [`Retry::delay`]).
    memo: Memo,
}

/// Jitter draws of neighbouring requests from one ChaCha8 computation, and the exponential
/// ceilings of the first retries (a `pow` each), each for the fields it was made from.
#[derive(Clone, Default)]
struct Memo {
    /// Boxed: 2 KiB that only a client that retries needs.
    draws: Option<Box<DrawCache>>,
    ceilings: Option<(Backoff, [Nanos; MEMO_CEILINGS])>,
}

impl std::fmt::Debug for Memo {
    /// Not the cached words (2 KiB): the memo is an implementation detail of `retry_at`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").finish_non_exhaustive()
    }
}

/// Retries whose ceilings are remembered.
const MEMO_CEILINGS: usize = 16;

impl Retry {
    /// A policy from its parts (the fields of the same names).
    pub fn new(
        backoff: Backoff,
        on: RetryOn,
        max_attempts: u32,
        honor_retry_after: bool,
        draws: Draws,
    ) -> Self {
        Retry {
            backoff,
            on,
            max_attempts,
            honor_retry_after,
            draws,
            memo: Memo::default(),
        }
    }

    /// A policy that never retries.
    pub fn never() -> Self {
        Retry::new(Backoff::Never, RetryOn::ALL, 1, false, Draws::new(0))
    }

    /// The wait before retry `n` (n ≥ 1) of request `id` of `client`.
    pub fn delay(&self, client: u32, id: u64, n: u32) -> Nanos {
        delay_of(
            self.backoff,
            n,
            |base, cap, multiplier| exponential_ceiling(base, cap, multiplier, n),
            |k| self.draws.u64(Purpose::Jitter, client, id, k),
        )
    }

    /// [`Retry::delay`], with draws and ceilings served from the memo.
    fn delay_memo(&mut self, client: u32, id: u64, n: u32) -> Nanos {
        let backoff = self.backoff;
        let Backoff::Exponential {
            base,
            cap,
            multiplier,
            ..
        } = backoff
        else {
            return self.delay(client, id, n);
        };
        let memo = &mut self.memo;
        if memo.draws.as_ref().is_none_or(|c| c.draws() != self.draws) {
            memo.draws = Some(Box::new(DrawCache::new(self.draws, Purpose::Jitter)));
        }
        let ceilings = match &memo.ceilings {
            Some((made_for, c)) if *made_for == backoff => c,
            _ => {
                let c = std::array::from_fn(|i| {
                    exponential_ceiling(base, cap, multiplier, i as u32 + 1)
                });
                &memo.ceilings.insert((backoff, c)).1
            }
        };
        let cache = memo.draws.as_mut().expect("made above");
        delay_of(
            backoff,
            n,
            |_, _, _| match ceilings.get(n.wrapping_sub(1) as usize) {
                Some(&c) => c,
                None => exponential_ceiling(base, cap, multiplier, n),
            },
            |k| cache.u64(client, id, k),
        )
    }
}

/// The wait before retry `n` under `backoff`, with its exponential ceiling from `ceiling(base,
/// cap, multiplier)` (asked only by the jitters that use it) and the jitter draw of retry `k`
/// from `draw(k)`.
fn delay_of(
    backoff: Backoff,
    n: u32,
    ceiling: impl FnOnce(Nanos, Nanos, f64) -> Nanos,
    mut draw: impl FnMut(u32) -> u64,
) -> Nanos {
    match backoff {
        Backoff::Never => 0,
        Backoff::Fixed { delay } => delay,
        Backoff::Exponential {
            base,
            cap,
            multiplier,
            jitter,
        } => {
            match jitter {
                Jitter::None => ceiling(base, cap, multiplier),
                Jitter::Full => uniform_upto(draw(n), ceiling(base, cap, multiplier)),
                Jitter::Equal => {
                    let ceiling = ceiling(base, cap, multiplier);
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
            }
        }
    }
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

impl RetryPolicy for Retry {
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Option<Nanos> {
        let attempt = resp.request.attempt;
        if matches!(self.backoff, Backoff::Never)
            || !self.on.covers(resp.outcome)
            || attempt >= self.max_attempts
        {
            return None;
        }
        let at = now.saturating_add(self.delay_memo(resp.request.client, resp.request.id, attempt));
        match resp.retry_after {
            Some(ra) if self.honor_retry_after => Some(at.max(now.saturating_add(ra))),
            _ => Some(at),
        }
    }
    fn reads_rate_limit_headers(&self) -> bool {
        false // only `Retry-After`
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::reply;

    fn expo(jitter: Jitter) -> Retry {
        let backoff = Backoff::Exponential {
            base: 100,
            cap: 1000,
            multiplier: 2.0,
            jitter,
        };
        Retry::new(backoff, RetryOn::ALL, 5, false, Draws::new(7))
    }

    #[test]
    fn retry_at_answers_delay_even_after_the_fields_change() {
        let mut r = expo(Jitter::Full);
        r.max_attempts = 40;
        let check = |r: &mut Retry| {
            for id in [0, 1, 31, 32, 1000, 3, 1 << 50] {
                for n in [0, 1, 2, 5, 16, 17, 30] {
                    let mut resp = reply(id, 0, 429);
                    resp.request.attempt = n;
                    assert_eq!(r.retry_at(10, &resp), Some(10 + r.delay(0, id, n)));
                }
            }
        };
        check(&mut r);
        r.draws = Draws::new(8);
        check(&mut r);
        for jitter in [Jitter::Equal, Jitter::None, Jitter::Decorrelated] {
            r.backoff = Backoff::Exponential {
                base: 30,
                cap: 100_000,
                multiplier: 1.5,
                jitter,
            };
            check(&mut r);
        }
        r.backoff = Backoff::Fixed { delay: 77 };
        check(&mut r);
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let r = expo(Jitter::None);
        let waits: Vec<_> = (1..=6).map(|n| r.delay(0, 0, n)).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_in_its_range() {
        for id in 0..200 {
            for n in 1..6 {
                let c = exponential_ceiling(100, 1000, 2.0, n);
                assert!(expo(Jitter::Full).delay(0, id, n) <= c);
                let e = expo(Jitter::Equal).delay(0, id, n);
                assert!(e >= c / 2 && e <= c);
                let d = expo(Jitter::Decorrelated).delay(0, id, n);
                assert!((100..=1000).contains(&d));
            }
        }
    }

    #[test]
    fn stops_at_max_attempts_and_on_unlisted_failures() {
        let mut r = expo(Jitter::None);
        let mut resp = reply(0, 0, 429);
        resp.request.attempt = 4;
        assert_eq!(r.retry_at(10, &resp), Some(810));
        resp.request.attempt = 5;
        assert_eq!(r.retry_at(10, &resp), None);
        r.on.rate_limited = false;
        resp.request.attempt = 1;
        assert_eq!(r.retry_at(10, &resp), None);
        assert_eq!(r.retry_at(10, &reply(0, 0, 413)), None);
    }

    #[test]
    fn retry_after_is_never_undercut_when_honoured() {
        let mut r = expo(Jitter::None);
        let mut resp = reply(0, 0, 429);
        resp.retry_after = Some(5000);
        assert_eq!(r.retry_at(10, &resp), Some(110));
        r.honor_retry_after = true;
        assert_eq!(r.retry_at(10, &resp), Some(5010));
    }
}
