//! `aimd`: an adaptive concurrency window, additive increase and multiplicative decrease.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::config::Checker;
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::{Admit, Nanos, Outcome, RequestInfo, Response, Strategy};

/// `{ kind = "aimd", initial, min, max, increase, decrease }`, every field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AimdConfig {
    /// Starting window (default 1).
    #[serde(default = "one")]
    pub initial: f64,
    /// Smallest window, at least 1 (default 1).
    #[serde(default = "one")]
    pub min: f64,
    /// Largest window (default 100).
    #[serde(default = "hundred")]
    pub max: f64,
    /// Growth per round trip of successes (default 1).
    #[serde(default = "one")]
    pub increase: f64,
    /// Factor applied on a 429 (default 0.5).
    #[serde(default = "half")]
    pub decrease: f64,
}

fn one() -> f64 {
    1.0
}
fn hundred() -> f64 {
    100.0
}
fn half() -> f64 {
    0.5
}

impl Kind for AimdConfig {
    const DOC: KindDoc = KindDoc {
        about: "concurrency window: +increase per round trip, ×decrease on a 429 (once per round trip)",
        fields: &[
            FieldDoc::default("initial", "1"),
            FieldDoc::default("min", "1"),
            FieldDoc::default("max", "100"),
            FieldDoc::default("increase", "1"),
            FieldDoc::default("decrease", "0.5"),
        ],
        example: r#"{ kind = "aimd", initial = 2, max = 50 }"#,
    };
    fn check(&self, c: &mut Checker) {
        let AimdConfig {
            initial,
            min,
            max,
            increase,
            decrease,
        } = *self;
        c.number("min", min, 1.0, 1e6);
        c.number("max", max, 1.0, 1e6);
        if min.is_finite() && max.is_finite() && min > max {
            c.fail("max", format!("must be at least min = {min} (got {max})"));
        }
        c.number("initial", initial, 1.0, 1e6);
        if initial < min || initial > max {
            c.fail(
                "initial",
                format!("must be in min..=max = {min}..={max} (got {initial})"),
            );
        }
        c.positive("increase", increase, 0.0, 1e6);
        c.positive("decrease", decrease, 0.0, 0.999_999);
    }
    /// Windows are counts: nothing to scale.
    fn scale(&mut self, _k: f64) {}
}

impl AdmissionKind for AimdConfig {
    type Machine = Aimd;
    fn build(&self, _draws: Draws) -> Aimd {
        Aimd::new(
            self.initial,
            self.min,
            self.max,
            self.increase,
            self.decrease,
        )
    }
}

/// An adaptive concurrency window (additive increase, multiplicative decrease).
///
/// Admits while in flight < ⌊w⌋. Each success adds `increase / w` (about `increase` per round
/// trip), capped at `max`; a 429 multiplies `w` by `decrease`, floored at `min`, at most once per
/// round trip: only a 429 to an attempt sent at or after the last decrease shrinks it.
#[derive(Clone, Debug)]
pub struct Aimd {
    window: f64,
    min: f64,
    max: f64,
    increase: f64,
    decrease: f64,
    in_flight: u32,
    last_decrease: Option<Nanos>,
}

impl Aimd {
    /// A window starting at `initial`, kept within `[min, max]` (min at least 1).
    pub fn new(initial: f64, min: f64, max: f64, increase: f64, decrease: f64) -> Self {
        let min = min.max(1.0);
        let max = max.max(min);
        Aimd {
            window: initial.clamp(min, max),
            min,
            max,
            increase,
            decrease,
            in_flight: 0,
            last_decrease: None,
        }
    }

    /// The current window.
    pub fn window(&self) -> f64 {
        self.window
    }
}

impl Strategy for Aimd {
    fn poll_admit(&mut self, _now: Nanos, _req: &RequestInfo) -> Admit {
        if f64::from(self.in_flight) < libm::floor(self.window) {
            Admit::Now
        } else {
            Admit::WhenSomethingCompletes
        }
    }
    fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {
        self.in_flight += 1;
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match resp.outcome {
            Outcome::Success => {
                self.window = (self.window + self.increase / self.window).min(self.max);
            }
            Outcome::RateLimited if self.last_decrease.is_none_or(|d| resp.sent_at >= d) => {
                self.window = (self.window * self.decrease).max(self.min);
                self.last_decrease = Some(now);
            }
            _ => {}
        }
    }
    /// Replies move the window: they may change admission. No headers read.
    fn hints(&self) -> Hints {
        Hints::HEARS_REPLIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply, reply_ok, req};

    #[test]
    fn grows_on_success_and_halves_once_per_round_trip() {
        let mut s = Aimd::new(4.0, 1.0, 10.0, 1.0, 0.5);
        for id in 0..4 {
            s.on_send(0, &req(id));
        }
        assert_eq!(s.poll_admit(0, &req(4)), Admit::WhenSomethingCompletes);
        s.on_response(10, &reply_ok(0, 0));
        assert_eq!(s.window(), 4.25);
        s.on_response(20, &reply(1, 0, 429));
        assert_eq!(s.window(), 2.125);
        // Sent before the decrease: the same round trip, no second cut.
        s.on_response(21, &reply(2, 0, 429));
        assert_eq!(s.window(), 2.125);
        s.on_send(30, &req(5));
        s.on_response(40, &reply(5, 30, 429));
        assert_eq!(s.window(), 1.0625);
        s.on_response(50, &reply(3, 0, 429));
        assert_eq!(s.window(), 1.0625);
    }
}
