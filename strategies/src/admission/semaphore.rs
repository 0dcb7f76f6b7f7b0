use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

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
    /// Never, as `response_changes_admission` says.
    fn response_may_change_admission(&self) -> bool {
        false
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
