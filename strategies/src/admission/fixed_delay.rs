//! `fixed_delay`: one at a time, a pause after each reply.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::config::{Checker, MAX_MS};
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::time::ms_to_nanos;
use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// `{ kind = "fixed_delay", delay_ms }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedDelayConfig {
    /// Pause after each reply, ms (0..=86 400 000).
    pub delay_ms: f64,
}

impl Kind for FixedDelayConfig {
    const DOC: KindDoc = KindDoc {
        about: "one at a time, pause delay_ms after each reply",
        fields: &[FieldDoc::required("delay_ms")],
        example: r#"{ kind = "fixed_delay", delay_ms = 100 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("delay_ms", self.delay_ms, 0.0, MAX_MS);
    }
    fn scale(&mut self, k: f64) {
        self.delay_ms /= k;
    }
}

impl AdmissionKind for FixedDelayConfig {
    type Machine = FixedDelay;
    fn build(&self, _draws: Draws) -> FixedDelay {
        FixedDelay::new(ms_to_nanos(self.delay_ms))
    }
}

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
    /// A reply starts the pause: it changes what `poll_admit` answers. No headers read.
    fn hints(&self) -> Hints {
        Hints::HEARS_REPLIES
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
