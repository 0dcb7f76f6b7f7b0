//! `semaphore`: at most `permits` in flight.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::config::Checker;
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// `{ kind = "semaphore", permits }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemaphoreConfig {
    /// Concurrent attempts allowed (1..=1 000 000).
    pub permits: u32,
}

impl Kind for SemaphoreConfig {
    const DOC: KindDoc = KindDoc {
        about: "at most `permits` in flight",
        fields: &[FieldDoc::required("permits")],
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
        Semaphore::new(self.permits)
    }
}

/// At most `permits` attempts in flight; a permit is free again when the reply (or the client's
/// timeout) comes.
#[derive(Clone, Debug)]
pub struct Semaphore {
    permits: u32,
    in_flight: u32,
}

impl Semaphore {
    /// A semaphore with `permits` permits (at least one).
    pub fn new(permits: u32) -> Self {
        Semaphore {
            permits: permits.max(1),
            in_flight: 0,
        }
    }

    /// Attempts holding a permit now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

impl Strategy for Semaphore {
    #[inline]
    fn poll_admit(&mut self, _now: Nanos, _req: &RequestInfo) -> Admit {
        if self.in_flight < self.permits {
            Admit::Now
        } else {
            Admit::WhenSomethingCompletes
        }
    }
    #[inline]
    fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {
        self.in_flight += 1;
    }
    #[inline]
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {
        self.in_flight = self.in_flight.saturating_sub(1);
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
            hears_responses: true,
            response_may_change_admission: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply_ok, req};

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
