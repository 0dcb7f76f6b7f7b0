//! `sre_throttle`: Google SRE's client-side adaptive throttling ("Handling Overload", *Site
//! Reliability Engineering*, 2016): the client sheds requests itself, with probability
//! `max(0, (requests − K·accepts) / (requests + 1))` over a trailing window.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::config::Checker;
use crate::draws::{Draws, Purpose};
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::time::secs_to_nanos;
use crate::{Admit, Nanos, Outcome, RequestInfo, Response, Strategy};

/// `{ kind = "sre_throttle", k, window_s }`, every field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SreThrottleConfig {
    /// The multiplier `K` (2: the backend sees about one rejected request per accepted one).
    #[serde(default = "two")]
    pub k: f64,
    /// The trailing window the counters cover, seconds.
    #[serde(default = "two_minutes")]
    pub window_s: f64,
}

fn two() -> f64 {
    2.0
}
fn two_minutes() -> f64 {
    120.0
}

impl Kind for SreThrottleConfig {
    const DOC: KindDoc = KindDoc {
        about: "Google SRE client-side throttling: sheds with p = (requests - K·accepts)/(requests + 1) over a window",
        fields: &[
            FieldDoc::default("k", "2"),
            FieldDoc::default("window_s", "120"),
        ],
        example: r#"{ kind = "sre_throttle", k = 2 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("k", self.k, 1.0, 100.0);
        c.positive("window_s", self.window_s, 0.0, 86_400.0);
    }
    fn scale(&mut self, k: f64) {
        self.window_s /= k;
    }
}

impl AdmissionKind for SreThrottleConfig {
    type Machine = SreThrottle;
    fn build(&self, draws: Draws) -> SreThrottle {
        SreThrottle {
            k: self.k,
            window: secs_to_nanos(self.window_s).max(1),
            requests: VecDeque::new(),
            accepts: VecDeque::new(),
            draws,
        }
    }
}

/// The throttle. `requests` counts every attempt it was asked to let through and did (its send)
/// or shed (counted before the decision of the next one, as the book says); `accepts` counts the
/// replies the backend accepted: every reply but a 429, a 5xx or the client's timeout. Only the
/// last `window` of each counts. Whether a request is shed is one draw in (0, 1) addressed by
/// (client, request, attempt), against `p`.
#[derive(Clone, Debug)]
pub struct SreThrottle {
    k: f64,
    window: Nanos,
    /// Times of the requests in the window, oldest first.
    requests: VecDeque<Nanos>,
    /// Times of the accepts in the window, oldest first.
    accepts: VecDeque<Nanos>,
    draws: Draws,
}

/// Entries of `times` (oldest first) inside the window ending at `now`.
fn in_window(times: &VecDeque<Nanos>, now: Nanos, window: Nanos) -> usize {
    let from = now.saturating_sub(window);
    times.len() - times.partition_point(|&t| t <= from && now >= window)
}

fn prune(times: &mut VecDeque<Nanos>, now: Nanos, window: Nanos) {
    if now < window {
        return;
    }
    let from = now - window;
    while times.front().is_some_and(|&t| t <= from) {
        times.pop_front();
    }
}

impl SreThrottle {
    /// The probability of shedding the next request at `now`.
    pub fn reject_probability(&self, now: Nanos) -> f64 {
        let requests = in_window(&self.requests, now, self.window) as f64;
        let accepts = in_window(&self.accepts, now, self.window) as f64;
        ((requests - self.k * accepts) / (requests + 1.0)).max(0.0)
    }

    fn record(&mut self, now: Nanos) {
        prune(&mut self.requests, now, self.window);
        prune(&mut self.accepts, now, self.window);
        self.requests.push_back(now);
    }
}

impl Strategy for SreThrottle {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        let p = self.reject_probability(now);
        if p <= 0.0 {
            return Admit::Now;
        }
        let u = self
            .draws
            .unit(Purpose::Strategy, req.client, req.id, req.attempt);
        if u < p { Admit::Shed } else { Admit::Now }
    }
    fn on_send(&mut self, now: Nanos, _req: &RequestInfo) {
        self.record(now);
    }
    fn on_shed(&mut self, now: Nanos, _req: &RequestInfo) {
        self.record(now);
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        if matches!(
            resp.outcome,
            Outcome::Success | Outcome::ClientError | Outcome::Conflict
        ) {
            prune(&mut self.accepts, now, self.window);
            self.accepts.push_back(now);
        }
    }
    fn hints(&self) -> Hints {
        Hints::HEARS_REPLIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply, req};
    use crate::time::SECOND;

    fn throttle() -> SreThrottle {
        toml::from_str::<SreThrottleConfig>("")
            .unwrap()
            .build(Draws::new(5))
    }

    #[test]
    fn the_probability_follows_the_books_formula_over_the_window() {
        let mut s = throttle();
        assert_eq!(s.reject_probability(0), 0.0);
        for id in 0..9 {
            s.on_send(id * SECOND, &req(id));
        }
        // 9 requests, no accepts: 9/10.
        assert!((s.reject_probability(9 * SECOND) - 0.9).abs() < 1e-12);
        for id in 0..3 {
            s.on_response(10 * SECOND, &reply(id, 0, 200));
        }
        // 9 − 2·3 = 3 over 10.
        assert!((s.reject_probability(10 * SECOND) - 0.3).abs() < 1e-12);
        s.on_response(10 * SECOND, &reply(3, 0, 429));
        assert!(
            (s.reject_probability(10 * SECOND) - 0.3).abs() < 1e-12,
            "a 429 is no accept"
        );
        // Two minutes later the requests of the first seconds have left the window.
        assert!(s.reject_probability(125 * SECOND) < 0.3);
        assert_eq!(s.reject_probability(200 * SECOND), 0.0);
    }

    #[test]
    fn shedding_is_addressed_and_counts_as_a_request() {
        let mut a = throttle();
        let mut b = throttle();
        for id in 0..50 {
            a.on_send(0, &req(id));
            b.on_send(0, &req(id));
        }
        let answers: Vec<Admit> = (50..80).map(|id| a.poll_admit(1, &req(id))).collect();
        let again: Vec<Admit> = (50..80).map(|id| b.poll_admit(1, &req(id))).collect();
        assert_eq!(answers, again);
        assert!(answers.contains(&Admit::Shed) && answers.contains(&Admit::Now));
        let before = in_window(&a.requests, 1, a.window);
        a.on_shed(1, &req(50));
        assert_eq!(in_window(&a.requests, 1, a.window), before + 1);
    }
}
