//! `aimd_rate`: AIMD on a send *rate* rather than a window, so it can go far below one request
//! per round trip.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::config::{Checker, MAX_RATE, Unit};
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::time::SECOND;
use crate::{Admit, Nanos, Outcome, RequestInfo, Response, Strategy};

/// `{ kind = "aimd_rate", initial_per_s, min_per_s, max_per_s, increase_per_s, decrease, unit }`,
/// every field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AimdRateConfig {
    /// Starting rate, per second.
    #[serde(default = "one")]
    pub initial_per_s: f64,
    /// Slowest rate, per second.
    #[serde(default = "default_min")]
    pub min_per_s: f64,
    /// Fastest rate, per second.
    #[serde(default = "default_max")]
    pub max_per_s: f64,
    /// Growth of the rate per second of successes at that rate.
    #[serde(default = "one")]
    pub increase_per_s: f64,
    /// Factor applied to the rate on a 429 (once per round trip).
    #[serde(default = "half")]
    pub decrease: f64,
    /// What the rate counts: requests, or the requests' tokens.
    #[serde(default)]
    pub unit: Unit,
}

fn one() -> f64 {
    1.0
}
fn default_min() -> f64 {
    0.01
}
fn default_max() -> f64 {
    10_000.0
}
fn half() -> f64 {
    0.5
}

impl AimdRateConfig {
    /// Every field at its default: what `{ kind = "aimd_rate" }` means.
    pub fn defaults() -> Self {
        AimdRateConfig {
            initial_per_s: one(),
            min_per_s: default_min(),
            max_per_s: default_max(),
            increase_per_s: one(),
            decrease: half(),
            unit: Unit::Requests,
        }
    }
}

impl Kind for AimdRateConfig {
    const DOC: KindDoc = KindDoc {
        about: "a send rate: +increase_per_s each second of successes, ×decrease on a 429 (once per round trip)",
        fields: &[
            FieldDoc::default("initial_per_s", "1"),
            FieldDoc::default("min_per_s", "0.01"),
            FieldDoc::default("max_per_s", "10000"),
            FieldDoc::default("increase_per_s", "1"),
            FieldDoc::default("decrease", "0.5"),
            FieldDoc::default("unit", "\"requests\"").values(r#""requests" | "tokens""#),
        ],
        example: r#"{ kind = "aimd_rate", initial_per_s = 2 }"#,
    };
    fn check(&self, c: &mut Checker) {
        let (min, max, initial) = (self.min_per_s, self.max_per_s, self.initial_per_s);
        c.positive("min_per_s", min, 0.0, MAX_RATE);
        c.positive("max_per_s", max, 0.0, MAX_RATE);
        if min.is_finite() && max.is_finite() && min > max {
            c.fail(
                "max_per_s",
                format!("must be at least min_per_s = {min} (got {max})"),
            );
        }
        c.positive("initial_per_s", initial, 0.0, MAX_RATE);
        if initial < min || initial > max {
            c.fail(
                "initial_per_s",
                format!("must be in min_per_s..=max_per_s = {min}..={max} (got {initial})"),
            );
        }
        c.positive("increase_per_s", self.increase_per_s, 0.0, MAX_RATE);
        c.positive("decrease", self.decrease, 0.0, 0.999_999);
    }
    fn scale(&mut self, k: f64) {
        self.initial_per_s *= k;
        self.min_per_s *= k;
        self.max_per_s *= k;
        // The rate grows by increase_per_s each second: k times faster in 1/k of the time.
        self.increase_per_s *= k * k;
    }
}

impl AdmissionKind for AimdRateConfig {
    type Machine = AimdRate;
    fn build(&self, _draws: Draws) -> AimdRate {
        AimdRate {
            rate: self.initial_per_s.clamp(self.min_per_s, self.max_per_s),
            min: self.min_per_s,
            max: self.max_per_s,
            increase: self.increase_per_s,
            decrease: self.decrease,
            by_tokens: self.unit == Unit::Tokens,
            last_send: None,
            last_decrease: None,
            changed: false,
        }
    }
}

/// A paced sender whose rate follows AIMD: after a send of cost `c` at `t` the next goes at
/// `t + c/rate` at the earliest (no burst). Each success adds `increase · c / rate` (so about
/// `increase` per second while it sends at `rate`), capped at `max`; a 429 multiplies the rate by
/// `decrease`, floored at `min`, at most once per round trip: only a 429 to an attempt sent at or
/// after the last decrease lowers it. Other failures (5xx, timeouts) leave the rate alone.
#[derive(Clone, Debug)]
pub struct AimdRate {
    rate: f64,
    min: f64,
    max: f64,
    increase: f64,
    decrease: f64,
    by_tokens: bool,
    /// The last send: its time and cost.
    last_send: Option<(Nanos, u64)>,
    last_decrease: Option<Nanos>,
    /// The last reply moved the rate (asked by `response_changes_admission`).
    changed: bool,
}

impl AimdRate {
    /// The current rate, per second (in requests or tokens).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn cost(&self, req: &RequestInfo) -> u64 {
        if self.by_tokens { req.tokens.max(1) } else { 1 }
    }

    /// When the next send may go: `cost/rate` after the last one, in whole nanoseconds
    /// (rounded up).
    pub fn next_send_at(&self) -> Nanos {
        match self.last_send {
            None => 0,
            Some((t, cost)) => {
                let gap = libm::ceil(cost as f64 * SECOND as f64 / self.rate);
                t.saturating_add(if gap >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    gap as Nanos
                })
            }
        }
    }
}

impl Strategy for AimdRate {
    fn poll_admit(&mut self, now: Nanos, _req: &RequestInfo) -> Admit {
        let at = self.next_send_at();
        if at <= now { Admit::Now } else { Admit::At(at) }
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.last_send = Some((now, self.cost(req)));
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        let before = self.rate;
        match resp.outcome {
            Outcome::Success => {
                let cost = self.cost(&resp.request) as f64;
                self.rate = (self.rate + self.increase * cost / self.rate).min(self.max);
            }
            Outcome::RateLimited if self.last_decrease.is_none_or(|d| resp.sent_at >= d) => {
                self.rate = (self.rate * self.decrease).max(self.min);
                self.last_decrease = Some(now);
            }
            _ => {}
        }
        self.changed = self.rate != before;
    }
    fn response_changes_admission(&self) -> bool {
        self.changed
    }
    fn hints(&self) -> Hints {
        Hints::HEARS_REPLIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply, req};

    fn aimd_rate(fields: &str) -> AimdRate {
        toml::from_str::<AimdRateConfig>(fields)
            .unwrap()
            .build(Draws::new(0))
    }

    #[test]
    fn sends_are_spaced_by_the_rate_and_it_can_go_below_one_per_round_trip() {
        let mut s = aimd_rate("initial_per_s = 0.05\nmin_per_s = 0.01");
        assert_eq!(s.poll_admit(0, &req(0)), Admit::Now);
        s.on_send(0, &req(0));
        assert_eq!(s.poll_admit(0, &req(1)), Admit::At(20 * SECOND));
        // A 429 halves it: the next send 40 s after the last.
        let mut r = reply(0, 0, 429);
        r.latency = SECOND;
        s.on_response(SECOND, &r);
        assert!(s.response_changes_admission());
        assert_eq!(s.poll_admit(SECOND, &req(1)), Admit::At(40 * SECOND));
        // A second 429 to an attempt sent before that decrease changes nothing.
        s.on_response(2 * SECOND, &reply(0, 0, 429));
        assert!(!s.response_changes_admission());
        assert_eq!(s.rate(), 0.025);
    }

    #[test]
    fn successes_add_about_increase_per_second_up_to_the_max() {
        let mut s = aimd_rate("initial_per_s = 10\nmax_per_s = 12\nincrease_per_s = 1");
        let mut t = 0;
        for id in 0..10 {
            s.on_send(t, &req(id));
            s.on_response(t + 1, &reply(id, t, 200));
            t = s.next_send_at();
        }
        // Ten successes at about 10/s: about one second, about +1.
        assert!((10.9..11.0).contains(&s.rate()), "{}", s.rate());
        for id in 10..100 {
            s.on_response(t, &reply(id, t, 200));
        }
        assert_eq!(s.rate(), 12.0);
    }

    #[test]
    fn with_tokens_a_request_pays_its_tokens() {
        let mut s = aimd_rate("initial_per_s = 100\nunit = \"tokens\"");
        let mut r = req(0);
        r.tokens = 50;
        s.on_send(0, &r);
        assert_eq!(s.poll_admit(0, &req(1)), Admit::At(SECOND / 2));
    }
}
