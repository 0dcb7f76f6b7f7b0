//! A circuit breaker on consecutive failures: the `breaker` table of a `[[strategy]]`
//! ([`BreakerSpec`]) and its sans-IO state machine ([`Breaker`]).

use serde::{Deserialize, Serialize};

use crate::config::{Checker, MAX_MS};
use crate::kind::{FieldDoc, KindDoc};
use crate::retry::{RetryOn, RetryOnSpec};
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

/// When the breaker looks at an attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerCheck {
    /// Right before the attempt would be sent: an open breaker holds back (or fails) whatever
    /// waits.
    #[default]
    AtSend,
    /// When the attempt joins the queue (its request's ready time, its retry's due time): an
    /// attempt that found the breaker closed goes on even if it opened since (the second
    /// article's `if self.circuit_open: raise` before `async with self.semaphore`).
    BeforeQueue,
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
    /// Probes let through when half-open (0: it closes when `open_ms` is up, no probe).
    #[serde(default = "default_probes")]
    pub half_open_probes: u32,
    /// Wait or fail fast while open.
    #[serde(default)]
    pub on_open: OnOpen,
    /// The failures it counts (default 429, 5xx, timeout, connection).
    #[serde(default = "default_counts")]
    pub counts: Vec<RetryOnSpec>,
    /// When it looks at an attempt.
    #[serde(default)]
    pub check: BreakerCheck,
}

fn default_counts() -> Vec<RetryOnSpec> {
    vec![
        RetryOnSpec::RateLimited,
        RetryOnSpec::ServerError,
        RetryOnSpec::Timeout,
        RetryOnSpec::Connection,
    ]
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
        about: "opens after consecutive failures (429/5xx/timeouts/connection errors)",
        fields: &[
            FieldDoc::default("consecutive_failures", "5"),
            FieldDoc::default("open_ms", "30000"),
            FieldDoc::default("half_open_probes", "1"),
            FieldDoc::default("on_open", "\"wait\"").values(r#""wait" | "fail""#),
            FieldDoc::default("counts", r#"["429", "5xx", "timeout", "connection"]"#),
            FieldDoc::default("check", "\"at_send\"").values(r#""at_send" | "before_queue""#),
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
            0,
            1_000_000,
        );
        if self.counts.is_empty() {
            c.fail(
                "counts",
                "must name at least one failure class: \"429\", \"5xx\", \"timeout\", \"408\", \"409\" or \"connection\"",
            );
        }
        if self.check == BreakerCheck::BeforeQueue && self.half_open_probes != 0 {
            c.fail(
                "check",
                format!(
                    "\"before_queue\" needs half_open_probes = 0 (got {}): a breaker checked before the queue closes when open_ms is up, without probes",
                    self.half_open_probes
                ),
            );
        }
    }

    /// The same breaker `k` times faster: the open time ÷ k.
    pub fn scale(&mut self, k: f64) {
        self.open_ms /= k;
    }

    /// The state machine.
    pub fn build(&self) -> Breaker {
        let mut b = Breaker::new(
            self.consecutive_failures,
            ms_to_nanos(self.open_ms),
            self.half_open_probes,
            self.on_open == OnOpen::Fail,
        );
        b.counts = RetryOn::of(&self.counts);
        b.before_queue = self.check == BreakerCheck::BeforeQueue;
        b
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

/// Counts consecutive failures (those in `counts`; by default 429, 5xx, timeout, connection) in
/// reply order; a success resets the count. At `threshold` it opens for `open_for`, then lets
/// `probes` attempts through: all succeed → closed, any fails → open again (with no probes it
/// closes when `open_for` is up). While open it makes admission wait, or, with `fail_fast`,
/// rejects (the request is final: rejected by the breaker). Replies to attempts sent before its
/// last state change do not move it. Checked before the queue, it answers for an attempt from
/// the state it was in when the attempt joined the queue.
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
    counts: RetryOn,
    before_queue: bool,
    /// With `before_queue`: every time it was open, `[from, until)`, in order.
    opened: Vec<(Nanos, Nanos)>,
}

impl Breaker {
    /// A closed breaker that counts 429, 5xx, timeouts and connection errors and is checked at
    /// send time (`probes` 0: it closes when `open_for` is up).
    pub fn new(threshold: u32, open_for: Nanos, probes: u32, fail_fast: bool) -> Self {
        Breaker {
            threshold: threshold.max(1),
            open_for,
            probes,
            fail_fast,
            state: BreakerState::Closed,
            changed_at: 0,
            consecutive: 0,
            probes_sent: 0,
            probes_ok: 0,
            counts: RetryOn {
                request_timeout: false,
                conflict: false,
                ..RetryOn::ALL
            },
            before_queue: false,
            opened: Vec::new(),
        }
    }

    /// The state at `now` (an open breaker whose time is up is half-open, or closed when it
    /// takes no probes).
    pub fn state_at(&self, now: Nanos) -> BreakerState {
        match self.state {
            BreakerState::Open { until } if now >= until && self.probes == 0 => {
                BreakerState::Closed
            }
            BreakerState::Open { until } if now >= until => BreakerState::HalfOpen,
            s => s,
        }
    }

    /// Checked before the queue: when the breaker that was open at `t` closes again (`None`:
    /// it was closed at `t`).
    fn open_at(&self, t: Nanos) -> Option<Nanos> {
        let i = self.opened.partition_point(|&(from, _)| from <= t);
        let &(_, until) = self.opened.get(i.checked_sub(1)?)?;
        (t < until).then_some(until)
    }

    /// Makes the lazy open → half-open transition real.
    fn catch_up(&mut self, now: Nanos) {
        if let BreakerState::Open { until } = self.state
            && now >= until
        {
            let next = if self.probes == 0 {
                BreakerState::Closed
            } else {
                BreakerState::HalfOpen
            };
            self.enter(next, until);
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
        if self.before_queue {
            self.opened.push((now, until));
        }
        self.enter(BreakerState::Open { until }, now);
    }
}

impl Strategy for Breaker {
    fn poll_admit_queued(&mut self, now: Nanos, queued_at: Nanos, req: &RequestInfo) -> Admit {
        if !self.before_queue {
            return self.poll_admit(now, req);
        }
        match self.open_at(queued_at) {
            None => Admit::Now,
            Some(_) if self.fail_fast => Admit::Reject,
            Some(until) if until > now => Admit::At(until),
            Some(_) => Admit::Now,
        }
    }

    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        if self.before_queue {
            return self.poll_admit_queued(now, now, req);
        }
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
        let failed = self.counts.covers(resp.outcome);
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

    fn article() -> Breaker {
        let spec: BreakerSpec = toml::from_str(
            "consecutive_failures = 2\nopen_ms = 0.001\nhalf_open_probes = 0\non_open = \"fail\"\ncounts = [\"429\"]\ncheck = \"before_queue\"",
        )
        .unwrap();
        let mut b = spec.build();
        b.open_for = 1000;
        b
    }

    #[test]
    fn checked_before_the_queue_it_answers_from_when_the_attempt_joined() {
        let mut b = article();
        b.on_response(10, &reply(0, 0, 429));
        b.on_response(20, &reply(1, 0, 429)); // open over [20, 1020)
        // Queued before the opening: goes on, although the breaker is open now.
        assert_eq!(b.poll_admit_queued(500, 19, &req(5)), Admit::Now);
        // Queued while open: refused, even when asked after it closed.
        assert_eq!(b.poll_admit_queued(500, 20, &req(6)), Admit::Reject);
        assert_eq!(b.poll_admit_queued(2000, 1019, &req(6)), Admit::Reject);
        // Closed without a probe when open_ms is up.
        assert_eq!(b.state_at(1020), BreakerState::Closed);
        assert_eq!(b.poll_admit_queued(1020, 1020, &req(7)), Admit::Now);
        assert_eq!(b.poll_admit(1020, &req(7)), Admit::Now);
    }

    #[test]
    fn it_counts_only_the_classes_named() {
        let mut b = article();
        b.on_response(10, &reply(0, 0, 500));
        b.on_response(11, &reply(1, 0, 503));
        b.on_response(12, &reply(2, 0, 429));
        assert_eq!(b.state_at(12), BreakerState::Closed, "5xx not counted");
        b.on_response(13, &reply(3, 0, 429));
        assert_eq!(b.state_at(13), BreakerState::Open { until: 1013 });
    }

    #[test]
    fn before_the_queue_needs_no_probes() {
        let spec: BreakerSpec = toml::from_str("check = \"before_queue\"").unwrap();
        let mut errors = Vec::new();
        spec.check(&mut Checker::new("breaker", &mut errors));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "breaker.check");
        assert!(errors[0].problem.contains("half_open_probes = 0"));
    }
}
