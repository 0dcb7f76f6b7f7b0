//! What any retry policy may add: a retry budget (`budget = { … }`) and the AWS SDKs' retry
//! quota (`quota = { … }`). Both are asked after the policy chose to retry, and a refusal ends
//! the request (`dead_letter.by_reason`: `budget`, `quota`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Checker;
use crate::retry::DeadLetterReason;
use crate::time::{Nanos, secs_to_nanos};
use crate::types::{Outcome, RequestInfo, Response};

/// `budget = { ttl_s, min_per_s, percent }`: tower's `TpsBudget` (tower `retry/budget/
/// tps_budget.rs`, a port of Finagle's `RetryBudget`), its defaults: every request deposits,
/// a retry withdraws; deposits count for `ttl_s`; `min_per_s · ttl_s` retries are always there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// How long a deposit counts, seconds (1..=60).
    #[serde(default = "ten")]
    pub ttl_s: f64,
    /// Retries allowed whatever the deposits, per second of `ttl_s`.
    #[serde(default = "ten_u32")]
    pub min_per_s: u32,
    /// Retries per request (0.2: one retry per five requests; 0..=1000).
    #[serde(default = "fifth")]
    pub percent: f64,
}

fn ten() -> f64 {
    10.0
}
fn ten_u32() -> u32 {
    10
}
fn fifth() -> f64 {
    0.2
}

/// `quota = { capacity, cost, timeout_cost, refund }`: the AWS SDKs' retry quota (botocore
/// `retries/quota.py` and `standard.py`, version 2.0), its defaults: a retry takes `cost`
/// (`timeout_cost` after a timeout) from a quota that starts full at `capacity`; a request that
/// succeeds at once gives back `refund`, one that succeeds after retries gives back what its last
/// retry took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSpec {
    /// `INITIAL_CAPACITY`.
    #[serde(default = "five_hundred")]
    pub capacity: u32,
    /// `_RETRY_COST`.
    #[serde(default = "five")]
    pub cost: u32,
    /// `_TIMEOUT_RETRY_REQUEST`.
    #[serde(default = "ten_u32")]
    pub timeout_cost: u32,
    /// `_NO_RETRY_INCREMENT`.
    #[serde(default = "one")]
    pub refund: u32,
}

fn five_hundred() -> u32 {
    500
}
fn five() -> u32 {
    5
}
fn one() -> u32 {
    1
}

impl Default for QuotaSpec {
    fn default() -> Self {
        QuotaSpec {
            capacity: five_hundred(),
            cost: five(),
            timeout_cost: ten_u32(),
            refund: one(),
        }
    }
}

impl BudgetSpec {
    /// Checks the fields (`c` prefixed with the table's path).
    pub fn check(&self, c: &mut Checker) {
        c.number("ttl_s", self.ttl_s, 1.0, 60.0);
        c.integer("min_per_s", u64::from(self.min_per_s), 0, 1_000_000);
        c.number("percent", self.percent, 0.0, 1000.0);
    }

    /// The budget `k` times faster (its ttl ÷ k, its minimum rate × k).
    pub fn scale(&mut self, k: f64) {
        self.ttl_s /= k;
        self.min_per_s = (f64::from(self.min_per_s) * k).round() as u32;
    }
}

impl QuotaSpec {
    /// Checks the fields.
    pub fn check(&self, c: &mut Checker) {
        c.integer("capacity", u64::from(self.capacity), 1, 1_000_000_000);
        c.integer("cost", u64::from(self.cost), 0, 1_000_000_000);
        c.integer(
            "timeout_cost",
            u64::from(self.timeout_cost),
            0,
            1_000_000_000,
        );
        c.integer("refund", u64::from(self.refund), 0, 1_000_000_000);
    }
}

/// Checks a kind's `budget` and `quota` tables, when given.
pub fn check_guards(c: &mut Checker, budget: &Option<BudgetSpec>, quota: &Option<QuotaSpec>) {
    if let Some(b) = budget {
        b.check(&mut c.nested("budget"));
    }
    if let Some(q) = quota {
        q.check(&mut c.nested("quota"));
    }
}

/// A kind's `budget`, `k` times faster.
pub fn scale_budget(budget: &mut Option<BudgetSpec>, k: f64) {
    if let Some(b) = budget {
        b.scale(k);
    }
}

/// Slots a budget's ttl is divided into (tower's `windows`).
const SLOTS: usize = 10;

/// tower's `TpsBudget` on nanoseconds passed in.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    deposit: i64,
    withdraw: i64,
    reserve: i64,
    slots: [i64; SLOTS],
    writer: i64,
    index: usize,
    since: Nanos,
    window: Nanos,
}

impl RetryBudget {
    /// A budget as `spec` says, its generation starting at time 0.
    pub fn new(spec: &BudgetSpec) -> Self {
        let p = spec.percent;
        let (deposit, withdraw) = if p == 0.0 {
            (0, 1)
        } else if p <= 1.0 {
            (1, (1.0 / p) as i64)
        } else {
            (1000, (1000.0 / p) as i64)
        };
        let ttl = secs_to_nanos(spec.ttl_s);
        // tower multiplies by whole seconds of the ttl.
        let ttl_secs = (ttl / crate::time::SECOND) as i64;
        RetryBudget {
            deposit,
            withdraw,
            reserve: i64::from(spec.min_per_s)
                .saturating_mul(ttl_secs)
                .saturating_mul(withdraw),
            slots: [0; SLOTS],
            writer: 0,
            index: 0,
            since: 0,
            window: (ttl / SLOTS as u64).max(1),
        }
    }

    fn expire(&mut self, now: Nanos) {
        let diff = now.saturating_sub(self.since);
        if diff < self.window {
            return;
        }
        self.slots[self.index] = std::mem::take(&mut self.writer);
        let mut diff = diff;
        let mut idx = (self.index + 1) % SLOTS;
        // More than a whole ttl idle clears every slot: stop there.
        let mut cleared = 0;
        while diff > self.window && cleared < SLOTS {
            self.slots[idx] = 0;
            diff -= self.window;
            idx = (idx + 1) % SLOTS;
            cleared += 1;
        }
        self.index = idx;
        self.since = now;
    }

    fn sum(&self) -> i64 {
        let windowed = self.slots.iter().fold(0i64, |a, &b| a.saturating_add(b));
        self.writer
            .saturating_add(windowed)
            .saturating_add(self.reserve)
    }

    /// A request was sent for the first time at `now`.
    pub fn deposit(&mut self, now: Nanos) {
        self.expire(now);
        self.writer = self.writer.saturating_add(self.deposit);
    }

    /// May one retry go at `now`? (It is taken if so.)
    pub fn withdraw(&mut self, now: Nanos) -> bool {
        self.expire(now);
        if self.sum() >= self.withdraw {
            self.writer -= self.withdraw;
            true
        } else {
            false
        }
    }
}

/// botocore's `RetryQuota` with `StandardRetryConditions`' costs (version 2.0).
#[derive(Clone, Debug)]
pub struct RetryQuota {
    spec: QuotaSpec,
    available: u32,
    /// What the last retry of each request waiting or in flight took (looked up, never
    /// iterated).
    taken: BTreeMap<u64, u32>,
}

impl RetryQuota {
    /// A full quota.
    pub fn new(spec: &QuotaSpec) -> Self {
        RetryQuota {
            available: spec.capacity,
            spec: spec.clone(),
            taken: BTreeMap::new(),
        }
    }

    /// Units left.
    pub fn available(&self) -> u32 {
        self.available
    }

    /// May the failed attempt `resp` be retried? (Its cost is taken if so.)
    pub fn acquire(&mut self, resp: &Response) -> bool {
        let cost = if resp.outcome == Outcome::Timeout {
            self.spec.timeout_cost
        } else {
            self.spec.cost
        };
        if self.available < cost {
            return false;
        }
        self.available -= cost;
        self.taken.insert(resp.request.id, cost);
        true
    }

    /// `req` succeeded: a refund, capped at the capacity.
    pub fn release(&mut self, req: &RequestInfo) {
        let back = match self.taken.remove(&req.id) {
            Some(cost) => cost,
            None => self.spec.refund,
        };
        self.available = self.available.saturating_add(back).min(self.spec.capacity);
    }

    /// `req` ended without success: what its retries took is not given back.
    pub fn forget(&mut self, req: &RequestInfo) {
        self.taken.remove(&req.id);
    }
}

/// The guards of one policy, as built.
#[derive(Clone, Debug, Default)]
pub struct Guards {
    /// The retry budget, if any.
    pub budget: Option<RetryBudget>,
    /// The retry quota, if any.
    pub quota: Option<RetryQuota>,
}

impl Guards {
    /// From the two tables.
    pub fn new(budget: Option<&BudgetSpec>, quota: Option<&QuotaSpec>) -> Self {
        Guards {
            budget: budget.map(RetryBudget::new),
            quota: quota.map(RetryQuota::new),
        }
    }

    /// Neither guard.
    pub fn is_empty(&self) -> bool {
        self.budget.is_none() && self.quota.is_none()
    }

    /// The policy chose to retry `resp` at `now`: may it? Both guards must agree; neither is
    /// charged when one refuses.
    pub fn admit_retry(&mut self, now: Nanos, resp: &Response) -> Result<(), DeadLetterReason> {
        if let Some(b) = &mut self.budget {
            b.expire(now);
            if b.sum() < b.withdraw {
                return Err(DeadLetterReason::Budget);
            }
        }
        if let Some(q) = &mut self.quota
            && !q.acquire(resp)
        {
            return Err(DeadLetterReason::Quota);
        }
        if let Some(b) = &mut self.budget {
            b.withdraw(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply, req};
    use crate::time::{MS, SECOND};

    fn budget(ttl_s: f64, min_per_s: u32, percent: f64) -> RetryBudget {
        RetryBudget::new(&BudgetSpec {
            ttl_s,
            min_per_s,
            percent,
        })
    }

    // tower's own tests, on nanoseconds.
    #[test]
    fn towers_cases() {
        assert!(!budget(1.0, 0, 1.0).withdraw(0), "empty");
        let mut leaky = budget(1.0, 0, 1.0);
        leaky.deposit(0);
        assert!(!leaky.withdraw(3 * SECOND), "a deposit expires");
        let mut b = budget(1.0, 0, 0.5);
        b.deposit(0);
        b.deposit(0);
        assert!(b.withdraw(901 * MS));
        let t = 901 * MS + 2001 * MS;
        b.deposit(t);
        b.deposit(t + 301 * MS);
        b.deposit(t + 1102 * MS);
        assert!(
            b.withdraw(t + 1102 * MS),
            "the 2nd and 3rd deposits still count"
        );
        let mut r = budget(1.0, 5, 1.0);
        for _ in 0..5 {
            assert!(r.withdraw(0));
        }
        assert!(!r.withdraw(0), "the reserve is five");
    }

    #[test]
    fn the_quota_allows_a_hundred_retries_from_full_and_refunds_as_botocore() {
        let mut q = RetryQuota::new(&QuotaSpec::default());
        let mut n = 0;
        while q.acquire(&reply(n, 0, 503)) {
            n += 1;
        }
        assert_eq!(n, 100);
        q.release(&req(0)); // succeeded after a retry: its 5 back
        assert_eq!(q.available(), 5);
        q.release(&req(1_000)); // succeeded at once: 1
        assert_eq!(q.available(), 6);
        let mut t = reply(2_000, 0, 0);
        t.outcome = Outcome::Timeout;
        assert!(!q.acquire(&t), "a timeout costs 10");
    }

    #[test]
    fn a_refusing_guard_charges_neither() {
        let mut g = Guards::new(
            Some(&BudgetSpec {
                ttl_s: 10.0,
                min_per_s: 0,
                percent: 1.0,
            }),
            Some(&QuotaSpec::default()),
        );
        assert_eq!(
            g.admit_retry(0, &reply(0, 0, 429)),
            Err(DeadLetterReason::Budget)
        );
        assert_eq!(g.quota.as_ref().unwrap().available(), 500);
        g.budget.as_mut().unwrap().deposit(0);
        assert_eq!(g.admit_retry(0, &reply(0, 0, 429)), Ok(()));
        assert_eq!(g.quota.as_ref().unwrap().available(), 495);
    }
}
