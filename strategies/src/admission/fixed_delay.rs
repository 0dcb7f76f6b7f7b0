use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// One attempt at a time; the next is sent `delay` after the previous reply, whatever its status.
/// The loop `for t in texts: call(t); sleep(d)`.
#[derive(Clone, Debug)]
pub struct FixedDelay {
    delay: Nanos,
    in_flight: u32,
    last_reply: Option<Nanos>,
}

impl FixedDelay {
    /// Pause `delay` nanoseconds after each reply.
    pub fn new(delay: Nanos) -> Self {
        FixedDelay {
            delay,
            in_flight: 0,
            last_reply: None,
        }
    }
}

impl Strategy for FixedDelay {
    fn poll_admit(&mut self, now: Nanos, _req: &RequestInfo) -> Admit {
        if self.in_flight > 0 {
            return Admit::WhenSomethingCompletes;
        }
        match self.last_reply {
            Some(t) if now < t.saturating_add(self.delay) => {
                Admit::At(t.saturating_add(self.delay))
            }
            _ => Admit::Now,
        }
    }
    fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {
        self.in_flight += 1;
    }
    fn on_response(&mut self, now: Nanos, _resp: &Response) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.last_reply = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply_ok, req};

    #[test]
    fn one_at_a_time_with_a_pause_after_each_reply() {
        let mut s = FixedDelay::new(100);
        assert_eq!(s.poll_admit(0, &req(0)), Admit::Now);
        s.on_send(0, &req(0));
        assert_eq!(s.poll_admit(0, &req(1)), Admit::WhenSomethingCompletes);
        s.on_response(50, &reply_ok(0, 0));
        assert_eq!(s.poll_admit(50, &req(1)), Admit::At(150));
        assert_eq!(s.poll_admit(150, &req(1)), Admit::Now);
    }
}
