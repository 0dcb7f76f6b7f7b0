use crate::bucket::{ExactBucket, Rate};
use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// A client-side token bucket: starts full with `burst` tokens, refills continuously at `rate`.
/// Counts requests, or the requests' tokens when `by_tokens`. A request heavier than the burst is
/// let through when the bucket is full (otherwise it could never be sent).
#[derive(Clone, Debug)]
pub struct TokenBucket {
    bucket: ExactBucket,
    by_tokens: bool,
    /// When a request of a given cost may go next: `(from, t, cost)`, valid for polls at
    /// `from` or later until the next send. Set by an `At(t)` answer (`from` = when it was
    /// asked) and by a send (`from` = the bucket's last update, and `t` may be the send time
    /// itself: `Now`). Until the next send the bucket's state does not change, and the time a
    /// cost becomes available does not depend on when one asks from its last update on
    /// (`updated + ceil(missing units / rate)`), so before `t` the answer is `At(t)` again and
    /// from `t` on it is `Now` (the level only grows until a send).
    waiting: Option<(Nanos, Nanos, u64)>,
}

impl TokenBucket {
    /// A bucket of `burst` tokens refilled at `rate`; `by_tokens` weighs requests by their tokens.
    pub fn new(rate: Rate, burst: u64, by_tokens: bool) -> Self {
        TokenBucket {
            bucket: ExactBucket::new(rate, burst.max(1)),
            by_tokens,
            waiting: None,
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
        if let Some((asked, t, c)) = self.waiting
            && c == cost
            && now >= asked
        {
            return if now < t { Admit::At(t) } else { Admit::Now };
        }
        match self.bucket.ready_at(now, cost) {
            Some(t) if t <= now => Admit::Now,
            Some(t) => {
                self.waiting = Some((now, t, cost));
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
        self.waiting = Some((self.bucket.last_update(), next, cost));
    }
    #[inline]
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
    #[inline]
    fn response_changes_admission(&self) -> bool {
        false
    }
    /// Never: it ignores replies.
    fn response_may_change_admission(&self) -> bool {
        false
    }
    /// A reply changes nothing: the bucket counts sends only.
    fn hears_responses(&self) -> bool {
        false
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
    fn token_weighted_requests_take_their_tokens() {
        let mut s = TokenBucket::new(Rate::new(100.0, SECOND).unwrap(), 100, true);
        let mut r = req(0);
        r.tokens = 60;
        s.on_send(0, &r);
        assert_eq!(s.poll_admit(0, &r), Admit::At(200_000_000));
    }
}
