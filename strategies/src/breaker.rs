//! A circuit breaker on consecutive failures: the `breaker` table of a `[[strategy]]`
//! ([`BreakerSpec`]) and its sans-IO state machine ([`Breaker`]).

use serde::{Deserialize, Serialize};

use crate::config::{Checker, MAX_MS};
use crate::kind::{FieldDoc, KindDoc};
use crate::strategy::Hints;
use crate::time::ms_to_nanos;
use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// What an open breaker does to admission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnOpen {
    /// Admission waits until the breaker half-opens.
    #[default]
    Wait,
    /// Requests are rejected at once (final state `rejected_by_breaker`).
    Fail,
}

/// The optional `breaker` of a `[[strategy]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Consecutive failures that open it.
    #[serde(default = "default_consecutive_failures")]
    pub consecutive_failures: u32,
    /// How long it stays open, ms.
    #[serde(default = "default_open_ms")]
    pub open_ms: f64,
    /// Probes let through when half-open.
    #[serde(default = "default_probes")]
    pub half_open_probes: u32,
    /// Wait or fail fast while open.
    #[serde(default)]
    pub on_open: OnOpen,
}

fn default_consecutive_failures() -> u32 {
    5
}
fn default_open_ms() -> f64 {
    30_000.0
}
fn default_probes() -> u32 {
    1
}

impl BreakerSpec {
    /// What `ratelab list` says of the breaker table.
    pub const DOC: KindDoc = KindDoc {
        about: "opens after consecutive 429/5xx/timeouts",
        fields: &[
            FieldDoc::default("consecutive_failures", "5"),
            FieldDoc::default("open_ms", "30000"),
            FieldDoc::default("half_open_probes", "1"),
            FieldDoc::default("on_open", "\"wait\"").values(r#""wait" | "fail""#),
        ],
        example: r#"{ consecutive_failures = 3, open_ms = 10000 }"#,
    };

    /// Checks every field.
    pub fn check(&self, c: &mut Checker) {
        c.integer(
            "consecutive_failures",
            u64::from(self.consecutive_failures),
            1,
            1_000_000,
        );
        c.number("open_ms", self.open_ms, 0.0, MAX_MS);
        c.integer(
            "half_open_probes",
            u64::from(self.half_open_probes),
            1,
            1_000_000,
        );
    }

    /// The same breaker `k` times faster: the open time ÷ k.
    pub fn scale(&mut self, k: f64) {
        self.open_ms /= k;
    }

    /// The state machine.
    pub fn build(&self) -> Breaker {
        Breaker::new(
            self.consecutive_failures,
            ms_to_nanos(self.open_ms),
            self.half_open_probes,
            self.on_open == OnOpen::Fail,
        )
    }
}

/// Where the breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; failures are counted.
    Closed,
    /// Nothing passes until the time given.
    Open {
        /// When the breaker half-opens.
        until: Nanos,
    },
    /// A few probes pass; their replies decide.
    HalfOpen,
}

/// Counts consecutive failures (429, 5xx, timeout) in reply order; a success resets the count.
/// At `threshold` it opens for `open_for`, then lets `probes` attempts through: all succeed →
/// closed, any fails → open again. While open it makes admission wait, or, with `fail_fast`,
/// rejects (the request is final: rejected by the breaker). Replies to attempts sent before its
/// last state change do not move it.
#[derive(Clone, Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Nanos,
    probes: u32,
    fail_fast: bool,
    state: BreakerState,
    changed_at: Nanos,
    consecutive: u32,
    probes_sent: u32,
    probes_ok: u32,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(threshold: u32, open_for: Nanos, probes: u32, fail_fast: bool) -> Self {
        Breaker {
            threshold: threshold.max(1),
            open_for,
            probes: probes.max(1),
            fail_fast,
            state: BreakerState::Closed,
            changed_at: 0,
            consecutive: 0,
            probes_sent: 0,
            probes_ok: 0,
        }
    }

    /// The state at `now` (an open breaker whose time is up is half-open).
    pub fn state_at(&self, now: Nanos) -> BreakerState {
        match self.state {
            BreakerState::Open { until } if now >= until => BreakerState::HalfOpen,
            s => s,
        }
    }

    /// Makes the lazy open → half-open transition real.
    fn catch_up(&mut self, now: Nanos) {
        if let BreakerState::Open { until } = self.state
            && now >= until
        {
            self.enter(BreakerState::HalfOpen, until);
        }
    }

    fn enter(&mut self, state: BreakerState, at: Nanos) {
        self.state = state;
        self.changed_at = at;
        self.consecutive = 0;
        self.probes_sent = 0;
        self.probes_ok = 0;
    }

    fn open(&mut self, now: Nanos) {
        let until = now.saturating_add(self.open_for);
        self.enter(BreakerState::Open { until }, now);
    }
}

impl Strategy for Breaker {
    fn poll_admit(&mut self, now: Nanos, _req: &RequestInfo) -> Admit {
        match self.state_at(now) {
            BreakerState::Closed => Admit::Now,
            BreakerState::Open { .. } if self.fail_fast => Admit::Reject,
            BreakerState::Open { until } => Admit::At(until),
            BreakerState::HalfOpen => {
                // Before the transition is committed no probe has been sent.
                let sent = if matches!(self.state, BreakerState::HalfOpen) {
                    self.probes_sent
                } else {
                    0
                };
                if sent < self.probes {
                    Admit::Now
                } else if self.fail_fast {
                    Admit::Reject
                } else {
                    Admit::WhenSomethingCompletes
                }
            }
        }
    }

    fn on_send(&mut self, now: Nanos, _req: &RequestInfo) {
        self.catch_up(now);
        if self.state == BreakerState::HalfOpen {
            self.probes_sent += 1;
        }
    }

    fn on_response(&mut self, now: Nanos, resp: &Response) {
        self.catch_up(now);
        if resp.sent_at < self.changed_at {
            return;
        }
        let failed = resp.outcome.is_failure();
        match self.state {
            BreakerState::Closed if failed => {
                self.consecutive += 1;
                if self.consecutive >= self.threshold {
                    self.open(now);
                }
            }
            BreakerState::Closed => {
                if resp.outcome == crate::Outcome::Success {
                    self.consecutive = 0;
                }
            }
            BreakerState::HalfOpen if failed => self.open(now),
            BreakerState::HalfOpen => {
                self.probes_ok += 1;
                if self.probes_ok >= self.probes {
                    self.enter(BreakerState::Closed, now);
                }
            }
            BreakerState::Open { .. } => {}
        }
    }

    /// Replies move it between its states: they may change admission. No headers read.
    fn hints(&self) -> Hints {
        Hints::HEARS_REPLIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply, reply_ok, req};

    #[test]
    fn opens_after_consecutive_failures_then_probes() {
        let mut b = Breaker::new(3, 1000, 1, false);
        for id in 0..3 {
            b.on_send(0, &req(id));
        }
        b.on_response(10, &reply(0, 0, 429));
        b.on_response(11, &reply(1, 0, 429));
        assert_eq!(b.poll_admit(11, &req(9)), Admit::Now);
        b.on_response(12, &reply(2, 0, 429));
        assert_eq!(b.poll_admit(12, &req(9)), Admit::At(1012));
        // Half-open: one probe passes, the next waits for its reply.
        assert_eq!(b.poll_admit(1012, &req(9)), Admit::Now);
        b.on_send(1012, &req(9));
        assert_eq!(b.poll_admit(1012, &req(10)), Admit::WhenSomethingCompletes);
        b.on_response(1100, &reply_ok(9, 1012));
        assert_eq!(b.state_at(1100), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_reopens_and_fail_fast_rejects() {
        let mut b = Breaker::new(1, 100, 2, true);
        b.on_send(0, &req(0));
        b.on_response(5, &reply(0, 0, 500));
        assert_eq!(b.poll_admit(6, &req(1)), Admit::Reject);
        b.on_send(105, &req(1));
        b.on_response(110, &reply(1, 105, 429));
        assert_eq!(b.state_at(110), BreakerState::Open { until: 210 });
    }

    #[test]
    fn replies_to_older_attempts_do_not_move_it() {
        let mut b = Breaker::new(2, 100, 1, false);
        b.on_response(5, &reply(0, 0, 429));
        b.on_response(6, &reply(1, 0, 429)); // opens at 6
        // Sent before the opening: ignored, even after the half-open transition.
        b.on_response(200, &reply(2, 3, 429));
        assert_eq!(b.state_at(200), BreakerState::HalfOpen);
        // A success resets the count of consecutive failures.
        let mut c = Breaker::new(2, 100, 1, false);
        c.on_response(1, &reply(0, 0, 429));
        c.on_response(2, &reply_ok(1, 0));
        c.on_response(3, &reply(2, 0, 429));
        assert_eq!(c.state_at(3), BreakerState::Closed);
    }
}
