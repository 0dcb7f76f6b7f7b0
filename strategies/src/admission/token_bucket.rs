//! `token_bucket`: a client-side token bucket that starts full (or, with `start = "empty"`, empty);
//! with `shared = true` all clients of a strategy draw on one bucket ([`crate::shared`]).

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::bucket::{ExactBucket, Rate};
use crate::config::{Checker, RateSpec, Unit, scale_rate};
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// Largest burst a bucket accepts.
pub const MAX_BURST: u64 = 1_000_000_000_000;

/// `{ kind = "token_bucket", rate_per_s | rate_per_min, burst, unit, start, shared,
/// on_store_error, store_timeout_ms }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBucketConfig {
    /// Refill rate per second (or give `rate_per_min`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// Refill rate per minute (or give `rate_per_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_min: Option<f64>,
    /// Capacity in tokens (1..=1e12).
    pub burst: u64,
    /// What a request costs.
    #[serde(default)]
    pub unit: Unit,
    /// How the bucket starts: full (a burst at once) or empty (the first token after `1/rate`).
    #[serde(default, skip_serializing_if = "Start::is_full")]
    pub start: Start,
    /// One bucket for all the clients of the strategy (in the simulator and `ratelab live`; with
    /// `ratelab live --redis` one bucket in Redis for every process).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
    /// What a client does when the shared store (Redis) fails or is slower than
    /// `store_timeout_ms`: only with `shared = true`; default `"local"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_store_error: Option<OnStoreError>,
    /// How long a decision may wait for the shared store, ms (1..=10 000; default 50); only with
    /// `shared = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_timeout_ms: Option<f64>,
}

/// What a client does when the shared store fails or times out; in TOML `on_store_error =
/// "open" | "closed" | "local"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnStoreError {
    /// Send anyway (the API's own limit is the only guard while the store is away).
    Open,
    /// Do not send: ask the store again after `store_timeout_ms`.
    Closed,
    /// Fall back to a bucket in this process holding this process's share of the quota
    /// (rate and burst divided by the number of processes), until the store answers again.
    #[default]
    Local,
}

/// Default of `store_timeout_ms`.
pub const STORE_TIMEOUT_MS: f64 = 50.0;

/// How a client bucket starts; in TOML `start = "full" | "empty"` (default `"full"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// Holding `burst` tokens: the first `burst` requests go at once.
    #[default]
    Full,
    /// Holding none, as a bucket whose refill loop starts with the client (the first
    /// article's `asyncio` bucket): the first token comes after `1/rate`.
    Empty,
}

impl Start {
    /// Is this the default?
    pub fn is_full(&self) -> bool {
        *self == Start::Full
    }
}

impl TokenBucketConfig {
    /// The exact rate.
    pub fn rate(&self) -> Rate {
        RateSpec::of(self.rate_per_s, self.rate_per_min).rate()
    }

    /// What to do when the shared store fails (default [`OnStoreError::Local`]).
    pub fn on_store_error(&self) -> OnStoreError {
        self.on_store_error.unwrap_or_default()
    }

    /// How long a decision may wait for the shared store, ms.
    pub fn store_timeout_ms(&self) -> f64 {
        self.store_timeout_ms.unwrap_or(STORE_TIMEOUT_MS)
    }
}

impl Kind for TokenBucketConfig {
    const DOC: KindDoc = KindDoc {
        about: "starts full, refills continuously",
        fields: &[
            FieldDoc::required("rate_per_s"),
            FieldDoc::instead_of_previous("rate_per_min"),
            FieldDoc::required("burst"),
            FieldDoc::default("unit", "\"requests\"").values(r#""requests" | "tokens""#),
            FieldDoc::default("start", "\"full\"").values(r#""full" | "empty""#),
            FieldDoc::default("shared", "false"),
            FieldDoc::default("on_store_error", "\"local\"")
                .values(r#""open" | "closed" | "local""#),
            FieldDoc::default("store_timeout_ms", "50"),
        ],
        example: r#"{ kind = "token_bucket", rate_per_s = 10, burst = 10 }"#,
    };
    fn check(&self, c: &mut Checker) {
        RateSpec::of(self.rate_per_s, self.rate_per_min).check(c);
        c.integer("burst", self.burst, 1, MAX_BURST);
        if !self.shared {
            if self.on_store_error.is_some() {
                c.fail("on_store_error", "applies only with shared = true");
            }
            if self.store_timeout_ms.is_some() {
                c.fail("store_timeout_ms", "applies only with shared = true");
            }
        }
        if let Some(t) = self.store_timeout_ms {
            c.number("store_timeout_ms", t, 1.0, 10_000.0);
        }
    }
    fn scale(&mut self, k: f64) {
        scale_rate(&mut self.rate_per_s, k);
        scale_rate(&mut self.rate_per_min, k);
    }
}

impl AdmissionKind for TokenBucketConfig {
    type Machine = TokenBucket;
    fn build(&self, _draws: Draws) -> TokenBucket {
        let by_tokens = self.unit == Unit::Tokens;
        match self.start {
            Start::Full => TokenBucket::new(self.rate(), self.burst, by_tokens),
            Start::Empty => TokenBucket::empty(self.rate(), self.burst, by_tokens),
        }
    }
}

/// A client-side token bucket: starts full with `burst` tokens, refills continuously at `rate`.
/// Counts requests, or the requests' tokens when `by_tokens`. A request heavier than the burst is
/// let through when the bucket is full (otherwise it could never be sent).
#[derive(Clone, Debug)]
pub struct TokenBucket {
    bucket: ExactBucket,
    by_tokens: bool,
    /// When a request of a given cost may go next, remembered until the next send.
    known: Option<KnownWait>,
}

/// When a request of `cost` may go next: at `at`, for polls at `from` or later until the next
/// send. Set by an `At(t)` answer (`from` = when it was asked) and by a send (`from` = the
/// bucket's last update, and `at` may be the send time itself: `Now`). Until the next send the
/// bucket's state does not change, and the time a cost becomes available does not depend on when
/// one asks from its last update on (`updated + ceil(missing units / rate)`), so before `at` the
/// answer is `At(at)` again and from `at` on it is `Now` (the level only grows until a send).
#[derive(Clone, Copy, Debug)]
struct KnownWait {
    from: Nanos,
    at: Nanos,
    cost: u64,
}

impl TokenBucket {
    /// A bucket of `burst` tokens refilled at `rate`; `by_tokens` weighs requests by their tokens.
    pub fn new(rate: Rate, burst: u64, by_tokens: bool) -> Self {
        TokenBucket {
            bucket: ExactBucket::new(rate, burst.max(1)),
            by_tokens,
            known: None,
        }
    }

    /// A bucket like [`TokenBucket::new`] that starts empty at time 0.
    pub fn empty(rate: Rate, burst: u64, by_tokens: bool) -> Self {
        TokenBucket {
            bucket: ExactBucket::empty(rate, burst.max(1)),
            by_tokens,
            known: None,
        }
    }

    /// A leaky bucket: sends spaced exactly `1/rate` apart, no burst.
    pub fn leaky(rate: Rate) -> Self {
        TokenBucket::new(rate, 1, false)
    }

    #[inline]
    fn cost(&self, req: &RequestInfo) -> u64 {
        if self.by_tokens {
            req.tokens.min(self.bucket.burst())
        } else {
            1
        }
    }
}

impl Strategy for TokenBucket {
    #[inline]
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        let cost = self.cost(req);
        if let Some(known) = self.known
            && known.cost == cost
            && now >= known.from
        {
            return if now < known.at {
                Admit::At(known.at)
            } else {
                Admit::Now
            };
        }
        match self.bucket.ready_at(now, cost) {
            Some(t) if t <= now => Admit::Now,
            Some(t) => {
                self.known = Some(KnownWait {
                    from: now,
                    at: t,
                    cost,
                });
                Admit::At(t)
            }
            None => Admit::Now, // unreachable: cost is capped at the burst
        }
    }
    #[inline]
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        // The next request most likely costs the same: remember when it may go.
        let cost = self.cost(req);
        let next = self.bucket.take_then_ready_at(now, cost);
        // `next` holds from the bucket's last update on: `now`, unless a send came out of order.
        self.known = Some(KnownWait {
            from: self.bucket.last_update(),
            at: next,
            cost,
        });
    }
    #[inline]
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
    #[inline]
    fn response_changes_admission(&self) -> bool {
        false
    }
    /// A reply changes nothing: the bucket counts sends only, and reads no headers.
    fn hints(&self) -> Hints {
        Hints::IGNORES_REPLIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::req;
    use crate::time::SECOND;

    #[test]
    fn leaky_bucket_spaces_sends_exactly() {
        let mut s = TokenBucket::leaky(Rate::new(4.0, SECOND).unwrap());
        let mut now = 0;
        let mut sends = vec![];
        for id in 0..4 {
            if let Admit::At(t) = s.poll_admit(now, &req(id)) {
                now = t;
            }
            assert_eq!(s.poll_admit(now, &req(id)), Admit::Now);
            s.on_send(now, &req(id));
            sends.push(now);
        }
        assert_eq!(sends, vec![0, 250_000_000, 500_000_000, 750_000_000]);
    }

    #[test]
    fn a_remembered_wait_is_what_the_bucket_says() {
        for (rate, burst, by_tokens) in [(3.0, 1, false), (1100.0, 10, false), (7.5, 20, true)] {
            let mut s = TokenBucket::new(Rate::new(rate, SECOND).unwrap(), burst, by_tokens);
            let mut now = 0;
            for id in 0..200u64 {
                let mut r = req(id);
                r.tokens = 1 + id % 4;
                let fresh = |s: &TokenBucket, now| match s.bucket.ready_at(now, s.cost(&r)) {
                    Some(t) if t <= now => Admit::Now,
                    Some(t) => Admit::At(t),
                    None => Admit::Now,
                };
                let answer = s.poll_admit(now, &r);
                assert_eq!(answer, fresh(&s, now));
                // Asked again, a little later, before anything is sent: the remembered answer.
                assert_eq!(s.poll_admit(now + 1, &r), fresh(&s, now + 1));
                // At the remembered time and after it: `Now`, as the bucket says.
                if let Admit::At(t) = answer {
                    for later in [t - 1, t, t + 1, t + 1_000_000_000] {
                        assert_eq!(s.poll_admit(later, &r), fresh(&s, later), "at {later}");
                    }
                }
                if answer == Admit::Now || id % 3 == 0 {
                    s.on_send(now, &r);
                }
                now += 1 + (id * 7_919_993) % 400_000_000;
            }
        }
    }

    #[test]
    fn an_empty_bucket_sends_its_first_request_after_one_token_time() {
        let mut s = TokenBucket::empty(Rate::new(4.0, SECOND).unwrap(), 10, false);
        assert_eq!(s.poll_admit(0, &req(0)), Admit::At(250_000_000));
        assert_eq!(s.poll_admit(250_000_000, &req(0)), Admit::Now);
        s.on_send(250_000_000, &req(0));
        assert_eq!(s.poll_admit(250_000_000, &req(1)), Admit::At(500_000_000));
        // After 10 s idle it holds the whole burst, as a full bucket would.
        let at = 10 * SECOND;
        for id in 2..12 {
            assert_eq!(s.poll_admit(at, &req(id)), Admit::Now);
            s.on_send(at, &req(id));
        }
        assert!(matches!(s.poll_admit(at, &req(12)), Admit::At(_)));
    }

    #[test]
    fn token_weighted_requests_take_their_tokens() {
        let mut s = TokenBucket::new(Rate::new(100.0, SECOND).unwrap(), 100, true);
        let mut r = req(0);
        r.tokens = 60;
        s.on_send(0, &r);
        assert_eq!(s.poll_admit(0, &r), Admit::At(200_000_000));
    }
}
