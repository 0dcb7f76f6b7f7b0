//! `semaphore`: at most `permits` in flight (or, with `hold_during_backoff`, at most `permits`
//! requests between their first send and their end).

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::config::Checker;
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// `{ kind = "semaphore", permits, hold_during_backoff }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemaphoreConfig {
    /// Concurrent attempts allowed (1..=1 000 000).
    pub permits: u32,
    /// A permit stays taken while its request waits to retry (a retry decorator inside
    /// `async with semaphore`): it comes back only when the request is final.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold_during_backoff: bool,
}

impl Kind for SemaphoreConfig {
    const DOC: KindDoc = KindDoc {
        about: "at most `permits` in flight",
        fields: &[
            FieldDoc::required("permits"),
            FieldDoc::default("hold_during_backoff", "false"),
        ],
        example: r#"{ kind = "semaphore", permits = 5 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.integer("permits", u64::from(self.permits), 1, 1_000_000);
    }
    fn scale(&mut self, _k: f64) {}
}

impl AdmissionKind for SemaphoreConfig {
    type Machine = Semaphore;
    fn build(&self, _draws: Draws) -> Semaphore {
        let mut s = Semaphore::new(self.permits);
        s.hold_during_backoff = self.hold_during_backoff;
        s
    }
}

/// At most `permits` attempts in flight; a permit is free again when the reply (or the client's
/// timeout) comes. With `hold_during_backoff`, a request takes its permit at its first send and
/// gives it back when it is final (its retries go under the permit it holds): at most
/// `permits` requests are between their first send and their end.
#[derive(Clone, Debug)]
pub struct Semaphore {
    permits: u32,
    in_flight: u32,
    hold_during_backoff: bool,
}

impl Semaphore {
    /// A semaphore with `permits` permits (at least one).
    pub fn new(permits: u32) -> Self {
        Semaphore {
            permits: permits.max(1),
            in_flight: 0,
            hold_during_backoff: false,
        }
    }

    /// A semaphore whose permits are held during backoff (see [`Semaphore`]).
    pub fn holding_during_backoff(permits: u32) -> Self {
        Semaphore {
            hold_during_backoff: true,
            ..Semaphore::new(permits)
        }
    }

    /// Attempts (with `hold_during_backoff`: requests) holding a permit now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

impl Strategy for Semaphore {
    #[inline]
    fn poll_admit(&mut self, _now: Nanos, req: &RequestInfo) -> Admit {
        if self.in_flight < self.permits || (self.hold_during_backoff && req.attempt > 1) {
            Admit::Now
        } else {
            Admit::WhenSomethingCompletes
        }
    }
    #[inline]
    fn on_send(&mut self, _now: Nanos, req: &RequestInfo) {
        if !self.hold_during_backoff || req.attempt == 1 {
            self.in_flight += 1;
        }
    }
    #[inline]
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {
        if !self.hold_during_backoff {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }
    fn on_final(&mut self, _now: Nanos, _req: &RequestInfo) {
        if self.hold_during_backoff {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }
    /// Never: a semaphore answers `Now` or `WhenSomethingCompletes`, never `At(t)`, so a reply
    /// cannot bring forward an `At(t)` of the strategy it is part of (in a `Stack` another layer's
    /// `At(t)` wins over `WhenSomethingCompletes`, and stands while that layer's state does).
    #[inline]
    fn response_changes_admission(&self) -> bool {
        false
    }
    /// It hears replies (a permit comes back) but, as `response_changes_admission` says, a reply
    /// never brings an `At(t)` forward; it reads no headers.
    fn hints(&self) -> Hints {
        Hints {
            reads_rate_limit_headers: false,
            hears_responses: !self.hold_during_backoff,
            response_may_change_admission: false,
            hears_finals: self.hold_during_backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply_ok, req};

    #[test]
    fn holding_during_backoff_a_permit_comes_back_only_when_the_request_is_final() {
        let mut s = Semaphore::holding_during_backoff(1);
        assert_eq!(s.poll_admit(0, &req(0)), Admit::Now);
        s.on_send(0, &req(0));
        s.on_response(5, &crate::testing::reply(0, 0, 429));
        // Waiting to retry: its permit is still taken, so fresh work waits ...
        assert_eq!(s.poll_admit(5, &req(1)), Admit::WhenSomethingCompletes);
        // ... and its retry goes under the permit it holds.
        let mut retry = req(0);
        retry.attempt = 2;
        assert_eq!(s.poll_admit(10, &retry), Admit::Now);
        s.on_send(10, &retry);
        assert_eq!(s.in_flight(), 1);
        s.on_response(15, &reply_ok(0, 10));
        s.on_final(15, &retry);
        assert_eq!(s.poll_admit(15, &req(1)), Admit::Now);
    }

    #[test]
    fn admits_up_to_permits_then_waits_for_a_reply() {
        let mut s = Semaphore::new(2);
        for id in 0..2 {
            assert_eq!(s.poll_admit(0, &req(id)), Admit::Now);
            s.on_send(0, &req(id));
        }
        assert_eq!(s.poll_admit(0, &req(2)), Admit::WhenSomethingCompletes);
        s.on_response(5, &reply_ok(0, 0));
        assert_eq!(s.poll_admit(5, &req(2)), Admit::Now);
    }
}
