//! An exact integer token bucket, shared by client strategies and API models.
//!
//! Units: one token is `period · 1000` units and the bucket gains `rate_milli` units per
//! nanosecond, where `rate_milli` is the rate in thousandths of a token per period. So a rate of
//! 10/s is exact, and so is 7/min; waits are rounded up to the next nanosecond. The bucket starts
//! full ([`ExactBucket::new`]) or empty ([`ExactBucket::empty`]). A leaky bucket (`rate`, no burst) is this bucket with a burst of one.

use crate::time::Nanos;

/// Rate of a bucket: thousandths of a token per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Thousandths of a token added per `period`.
    pub milli_per_period: u64,
    /// The period the rate is expressed in (1 s or 60 s), in nanoseconds.
    pub period: Nanos,
}

impl Rate {
    /// A rate of `per_period` tokens each `period` nanoseconds, kept to a thousandth of a token.
    /// Returns `None` when it rounds to zero.
    pub fn new(per_period: f64, period: Nanos) -> Option<Rate> {
        let milli = libm::round(per_period * 1000.0);
        if !(1.0..=1e15).contains(&milli) || period == 0 {
            return None;
        }
        Some(Rate {
            milli_per_period: milli as u64,
            period,
        })
    }

    /// Tokens per second as a float, for output.
    pub fn per_second(&self) -> f64 {
        self.milli_per_period as f64 / 1000.0 * 1e9 / self.period as f64
    }
}

/// A token bucket on integer nanoseconds.
#[derive(Clone, Debug)]
pub struct ExactBucket {
    rate: Rate,
    /// Units per token: `period · 1000`.
    unit: i128,
    capacity: i128,
    /// `capacity / unit`, kept to spare a 128-bit division per request.
    burst: u64,
    level: i128,
    updated: Nanos,
}

impl ExactBucket {
    /// A full bucket holding `burst` tokens, refilled at `rate`.
    pub fn new(rate: Rate, burst: u64) -> Self {
        let unit = i128::from(rate.period) * 1000;
        let capacity = unit * i128::from(burst);
        ExactBucket {
            rate,
            unit,
            capacity,
            burst,
            level: capacity,
            updated: 0,
        }
    }

    /// An empty bucket of `burst` tokens at time 0, refilled at `rate`: the first token comes
    /// after `1/rate`.
    pub fn empty(rate: Rate, burst: u64) -> Self {
        ExactBucket {
            level: 0,
            ..ExactBucket::new(rate, burst)
        }
    }

    /// This bucket refilled until `at`, then refilled at `rate` and holding at most `burst`
    /// from then on (its level clamped to the new capacity; a debt carries over).
    pub fn retuned(&self, at: Nanos, rate: Rate, burst: u64) -> ExactBucket {
        let mut next = ExactBucket::new(rate, burst);
        let at = at.max(self.updated);
        // The level in tokens is `level / unit`: the same tokens in the new units, without a
        // product that could overflow.
        let old = self.level_at(at);
        let level = old / self.unit * next.unit + old % self.unit * next.unit / self.unit;
        next.level = level.min(next.capacity);
        next.updated = at;
        next
    }

    /// The bucket's rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The bucket's burst in tokens.
    #[inline]
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// `min(capacity, level + elapsed · rate)`. The refill is computed in `u128`, where
    /// `u64 · u64` cannot overflow, and compared with the room left, so no saturating 128-bit
    /// arithmetic is needed (the level never exceeds the capacity).
    #[inline]
    fn level_at(&self, now: Nanos) -> i128 {
        let elapsed = now.saturating_sub(self.updated);
        let refill = u128::from(elapsed) * u128::from(self.rate.milli_per_period);
        let room = (self.capacity - self.level) as u128;
        if refill >= room {
            self.capacity
        } else {
            self.level + refill as i128
        }
    }

    /// The time of the last take (the latest, if takes came out of order): the level is
    /// known from then on.
    #[inline]
    pub fn last_update(&self) -> Nanos {
        self.updated
    }

    /// The earliest time at or after `now` at which `n` tokens are available, or `None` when `n`
    /// exceeds the burst (it can never pass).
    #[inline]
    pub fn ready_at(&self, now: Nanos, n: u64) -> Option<Nanos> {
        let need = self.units(n);
        if need > self.capacity {
            return None;
        }
        let level = self.level_at(now);
        if level >= need {
            return Some(now);
        }
        Some(now.saturating_add(self.units_to_nanos(need - level)))
    }

    /// Takes `n` tokens at `now` if they are there, answering 0; otherwise takes nothing and
    /// answers the wait, at least 1 (`ready_at(now, n) - now` unless that saturates;
    /// `Nanos::MAX` when `n` exceeds the burst). One level computation instead of two.
    #[inline]
    pub fn take_or_wait(&mut self, now: Nanos, n: u64) -> Nanos {
        let need = self.units(n);
        if need > self.capacity {
            return Nanos::MAX;
        }
        let level = self.level_at(now);
        if level >= need {
            self.level = level - need;
            self.updated = self.updated.max(now);
            0
        } else {
            self.units_to_nanos(need - level)
        }
    }

    /// [`ExactBucket::take`], then when `n` more are available, from the level just computed:
    /// `now` if they are, else `ready_at` as asked at any time from the last update on (the
    /// same for all of them; `n` must fit the burst). With time that only moves forward the
    /// last update is `now`.
    #[inline]
    pub fn take_then_ready_at(&mut self, now: Nanos, n: u64) -> Nanos {
        self.take(now, n);
        let need = self.units(n);
        if self.level >= need {
            now
        } else {
            self.updated
                .saturating_add(self.units_to_nanos(need - self.level))
        }
    }

    /// Takes `n` tokens at `now`. The level may go below zero (a debt that refill pays back
    /// first), which callers use for APIs where rejected requests count too.
    #[inline]
    pub fn take(&mut self, now: Nanos, n: u64) {
        self.level = self.level_at(now) - self.units(n);
        self.updated = self.updated.max(now);
    }

    /// Whole tokens available at `now` (0 when in debt).
    #[inline]
    pub fn remaining(&self, now: Nanos) -> u64 {
        let level = self.level_at(now).max(0);
        // 64-bit division when the operands fit (always, for realistic buckets): an i128
        // division is a call into compiler-builtins and several times slower.
        match (u64::try_from(level), u64::try_from(self.unit)) {
            (Ok(l), Ok(u)) => l / u,
            _ => (level / self.unit) as u64,
        }
    }

    /// [`ExactBucket::remaining`] and [`ExactBucket::until_full`] together, computing the level
    /// once (the API answers both in every reply's headers).
    #[inline]
    pub fn headroom(&self, now: Nanos) -> (u64, Nanos) {
        let level = self.level_at(now);
        let whole = match (u64::try_from(level.max(0)), u64::try_from(self.unit)) {
            (Ok(l), Ok(u)) => l / u,
            _ => (level.max(0) / self.unit) as u64,
        };
        (whole, self.units_to_nanos(self.capacity - level))
    }

    /// Time from `now` until the bucket is full again.
    #[inline]
    pub fn until_full(&self, now: Nanos) -> Nanos {
        self.units_to_nanos(self.capacity - self.level_at(now))
    }

    /// `n` tokens in units (most requests cost one token: no 128-bit multiplication).
    #[inline]
    fn units(&self, n: u64) -> i128 {
        if n == 1 {
            self.unit
        } else {
            i128::from(n) * self.unit
        }
    }

    #[inline]
    fn units_to_nanos(&self, units: i128) -> Nanos {
        if units <= 0 {
            return 0;
        }
        let rate = self.rate.milli_per_period;
        match u64::try_from(units) {
            // The common case, in 64-bit arithmetic (see `remaining`).
            Ok(u) => u.div_ceil(rate),
            Err(_) => {
                let rate = i128::from(rate);
                u64::try_from((units + rate - 1) / rate).unwrap_or(u64::MAX)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SECOND;

    fn per_s(r: f64, burst: u64) -> ExactBucket {
        ExactBucket::new(Rate::new(r, SECOND).unwrap(), burst)
    }

    #[test]
    fn starts_full_then_paces_exactly() {
        let mut b = per_s(10.0, 10);
        for _ in 0..10 {
            assert_eq!(b.ready_at(0, 1), Some(0));
            b.take(0, 1);
        }
        assert_eq!(b.ready_at(0, 1), Some(100_000_000));
        b.take(100_000_000, 1);
        assert_eq!(b.ready_at(100_000_000, 1), Some(200_000_000));
    }

    #[test]
    fn waits_round_up_to_the_next_nanosecond() {
        let mut b = per_s(3.0, 1);
        b.take(0, 1);
        // 1/3 s = 333_333_333.33… ns: the token is whole only at …334.
        assert_eq!(b.ready_at(0, 1), Some(333_333_334));
        let mut m = ExactBucket::new(Rate::new(7.0, 60 * SECOND).unwrap(), 1);
        m.take(0, 1);
        assert_eq!(m.ready_at(0, 1), Some(8_571_428_572));
    }

    #[test]
    fn take_or_wait_is_ready_at_then_take() {
        for (rate, burst) in [(3.0, 1), (1000.0, 20), (7.0, 5)] {
            let (mut a, mut b) = (per_s(rate, burst), per_s(rate, burst));
            let mut now = 0;
            for i in 0..500u64 {
                let n = 1 + i % 3;
                let expected = a.ready_at(now, n).map_or(Nanos::MAX, |t| t - now);
                if expected == 0 {
                    a.take(now, n);
                }
                assert_eq!(b.take_or_wait(now, n), expected, "step {i}");
                assert_eq!((a.level, a.updated), (b.level, b.updated));
                if i % 5 == 0 && n <= burst {
                    let mut c = b.clone();
                    a.take(now, n);
                    assert_eq!(c.take_then_ready_at(now, n), a.ready_at(now, n).unwrap());
                    assert_eq!((a.level, a.updated), (c.level, c.updated));
                    b = c;
                }
                now += (i * 7_919) % 3_000_000;
            }
        }
    }

    #[test]
    fn take_or_wait_in_debt_waits_without_taking() {
        let mut b = per_s(1.0, 1);
        b.take(0, 1);
        b.take(0, 1); // a rejected request that counts anyway: one token of debt
        assert_eq!(b.take_or_wait(0, 1), 2 * SECOND);
        assert_eq!(b.take_or_wait(SECOND, 1), SECOND, "nothing was taken");
        assert_eq!(b.take_or_wait(2 * SECOND, 1), 0);
        assert_eq!(b.ready_at(2 * SECOND, 1), Some(3 * SECOND), "it was taken");
    }

    #[test]
    fn take_then_ready_at_when_time_goes_back() {
        let mut b = per_s(1.0, 1);
        // A send at 10 s, then one stamped 5 s: a token of debt, last update 10 s.
        b.take(10 * SECOND, 1);
        let t = b.take_then_ready_at(5 * SECOND, 1);
        // Asked at any time from the last update on, the bucket says 12 s.
        assert_eq!(t, 12 * SECOND);
        for asked in [10 * SECOND, 11 * SECOND, t - 1] {
            assert_eq!(b.ready_at(asked, 1), Some(t), "asked at {asked}");
        }
        assert_eq!(b.ready_at(t, 1), Some(t));
    }

    #[test]
    fn heavier_than_burst_never_passes() {
        let b = per_s(100.0, 50);
        assert_eq!(b.ready_at(0, 51), None);
        assert_eq!(b.ready_at(0, 50), Some(0));
    }

    #[test]
    fn debt_is_paid_back_before_new_tokens() {
        let mut b = per_s(1.0, 1);
        b.take(0, 1);
        b.take(0, 1); // a rejected request that counts anyway
        assert_eq!(b.remaining(0), 0);
        assert_eq!(b.ready_at(0, 1), Some(2 * SECOND));
        assert_eq!(b.until_full(0), 2 * SECOND);
        assert_eq!(b.headroom(0), (b.remaining(0), b.until_full(0)));
        assert_eq!(b.headroom(SECOND / 2), (0, 3 * SECOND / 2));
    }

    #[test]
    fn rates_that_round_to_zero_are_refused() {
        assert!(Rate::new(0.0004, SECOND).is_none());
        assert!(Rate::new(-1.0, SECOND).is_none());
        assert!(Rate::new(f64::NAN, SECOND).is_none());
        assert_eq!(Rate::new(0.5, SECOND).unwrap().per_second(), 0.5);
    }
}
