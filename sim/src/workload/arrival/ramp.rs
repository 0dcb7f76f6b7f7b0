//! `ramp`: a rate going linearly from `from_per_s` to `to_per_s` over `over_s`, then staying
//! there. Deterministic: request k is ready at the time t_k where the cumulative intensity
//! Λ(t) reaches k, so requests are evenly spaced in intensity (not a Poisson process).

use ratelab_strategies::config::{Checker, MAX_RATE};
use ratelab_strategies::draws::Draws;
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use super::ArrivalKind;
use crate::scenario::MAX_HORIZON_S;

/// `{ kind = "ramp", from_per_s, to_per_s, over_s }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampConfig {
    /// Rate at t = 0, requests per second.
    pub from_per_s: f64,
    /// Rate from `over_s` on, requests per second.
    pub to_per_s: f64,
    /// How long the rate takes to go from one to the other, s.
    pub over_s: f64,
}

impl Kind for RampConfig {
    const DOC: KindDoc = KindDoc {
        about: "a rate going linearly from from_per_s to to_per_s over over_s, then staying at \
                to_per_s; deterministic (evenly spaced in intensity: request k is ready when the \
                cumulative rate reaches k), not Poisson",
        fields: &[
            FieldDoc::required("from_per_s"),
            FieldDoc::required("to_per_s"),
            FieldDoc::required("over_s"),
        ],
        example: r#"{ kind = "ramp", from_per_s = 1, to_per_s = 50, over_s = 60 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("from_per_s", self.from_per_s, 0.0, MAX_RATE);
        c.number("to_per_s", self.to_per_s, 0.0, MAX_RATE);
        if self.from_per_s == 0.0 && self.to_per_s == 0.0 {
            c.fail(
                "to_per_s",
                "from_per_s and to_per_s cannot both be 0: nothing would ever arrive",
            );
        }
        c.positive("over_s", self.over_s, 0.0, MAX_HORIZON_S);
    }
    fn scale(&mut self, k: f64) {
        self.from_per_s *= k;
        self.to_per_s *= k;
        self.over_s /= k;
    }
}

impl RampConfig {
    /// Λ(over_s): the requests ready by the end of the ramp (counting request 0 at t = 0 as the
    /// zeroth).
    fn ramp_intensity(&self) -> f64 {
        (self.from_per_s + self.to_per_s) * self.over_s / 2.0
    }

    /// When request `id` is ready, s: Λ⁻¹(id), with Λ(t) = from·t + (to − from)·t²/(2·over) up
    /// to `over_s` and Λ(over) + to·(t − over) after it; infinite for an id a ramp down to 0
    /// never reaches.
    pub fn ready_s(&self, id: u64) -> f64 {
        let k = id as f64;
        let at_end = self.ramp_intensity();
        if k <= at_end {
            if id == 0 {
                return 0.0;
            }
            // a·t² + b·t − k = 0, in the form without cancellation: t = 2k / (b + √(b² + 4ak)).
            let a = (self.to_per_s - self.from_per_s) / (2.0 * self.over_s);
            let b = self.from_per_s;
            let root = libm::sqrt((b * b + 4.0 * a * k).max(0.0));
            (2.0 * k / (b + root)).min(self.over_s)
        } else if self.to_per_s > 0.0 {
            self.over_s + (k - at_end) / self.to_per_s
        } else {
            f64::INFINITY
        }
    }

    /// When request `id` is ready, ns (`u64::MAX`: never).
    pub fn ready_at(&self, id: u64) -> Nanos {
        secs_to_nanos(self.ready_s(id))
    }

    /// The most requests that ever arrive: all of them unless the ramp goes down to 0.
    pub fn most_requests(&self) -> Option<u64> {
        (self.to_per_s == 0.0).then(|| libm::floor(self.ramp_intensity()) as u64 + 1)
    }
}

impl ArrivalKind for RampConfig {
    /// `ready_at(id) − ready_at(id − 1)`, from the integer ready times (never negative).
    fn gap(&self, _draws: &Draws, _client: u32, id: u64) -> Option<Nanos> {
        if id == 0 {
            return Some(self.ready_at(0));
        }
        Some(self.ready_at(id).saturating_sub(self.ready_at(id - 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_strategies::time::{MS, SECOND};

    fn ramp(from_per_s: f64, to_per_s: f64, over_s: f64) -> RampConfig {
        RampConfig {
            from_per_s,
            to_per_s,
            over_s,
        }
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
    }

    #[test]
    fn ready_times_invert_the_cumulative_intensity() {
        // 10 → 30 /s over 10 s: Λ(t) = 10t + t², Λ(10) = 200, then 30/s.
        let up = ramp(10.0, 30.0, 10.0);
        close(up.ready_s(0), 0.0);
        close(up.ready_s(100), (-10.0 + 500f64.sqrt()) / 2.0);
        close(up.ready_s(200), 10.0);
        close(up.ready_s(260), 12.0);
        // From 0: Λ(t) = t²/2, so t = √(2k).
        let from_zero = ramp(0.0, 10.0, 10.0);
        close(from_zero.ready_s(2), 2.0);
        close(from_zero.ready_s(50), 10.0);
        close(from_zero.ready_s(60), 11.0);
        // Down, 30 → 10 /s: Λ(t) = 30t − t².
        let down = ramp(30.0, 10.0, 10.0);
        close(down.ready_s(56), 2.0);
        close(down.ready_s(200), 10.0);
        close(down.ready_s(210), 11.0);
        // Flat: evenly spaced.
        close(ramp(4.0, 4.0, 1.0).ready_s(9), 2.25);
        assert_eq!(up.ready_at(260), 12 * SECOND);
    }

    #[test]
    fn ready_times_never_go_back_and_gaps_add_up() {
        let draws = Draws::new(1);
        for c in [
            ramp(10.0, 30.0, 10.0),
            ramp(0.0, 1000.0, 3.0),
            ramp(1000.0, 0.5, 7.0),
            ramp(0.001, 1e6, 0.25),
            ramp(3.0, 0.0, 100.0),
        ] {
            let n = c.most_requests().unwrap_or(5000).min(5000);
            let mut t = 0;
            for id in 0..n {
                let ready = c.ready_at(id);
                t += c.gap(&draws, 0, id).unwrap();
                assert_eq!(t, ready, "{c:?}: request {id}");
                if id > 0 {
                    assert!(ready >= c.ready_at(id - 1), "{c:?}: request {id}");
                }
            }
        }
    }

    #[test]
    fn the_rate_reaches_to_per_s_and_stays_there() {
        let draws = Draws::new(1);
        // A slow ramp starts at about 1/from.
        let first = ramp(10.0, 20.0, 100.0).gap(&draws, 0, 1).unwrap();
        assert!(first.abs_diff(SECOND / 10) < MS, "{first}");
        // Gaps after the ramp are 1/to (to the rounding of 1 ns).
        let c = ramp(1.0, 50.0, 10.0);
        let end = libm::ceil(c.ramp_intensity()) as u64 + 1;
        for id in end..end + 100 {
            let gap = c.gap(&draws, 0, id).unwrap();
            assert!(gap.abs_diff(SECOND / 50) <= 1, "request {id}: {gap}");
        }
        // Rates in between: gaps shrink while the rate climbs.
        assert!(c.gap(&draws, 0, 100).unwrap() < c.gap(&draws, 0, 10).unwrap());
    }

    #[test]
    fn a_ramp_down_to_zero_sends_a_finite_number() {
        let c = ramp(2.0, 0.0, 10.0);
        assert_eq!(c.most_requests(), Some(11));
        close(c.ready_s(10), 10.0);
        assert_eq!(c.ready_at(11), u64::MAX);
        assert_eq!(ramp(2.0, 1.0, 10.0).most_requests(), None);
    }

    #[test]
    fn ranges_are_checked() {
        let problems = |c: RampConfig| {
            let mut errors = Vec::new();
            c.check(&mut Checker::new("workload.arrival", &mut errors));
            errors.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        assert!(problems(ramp(0.0, 5.0, 1.0)).is_empty());
        assert!(problems(ramp(5.0, 0.0, 1.0)).is_empty());
        let both_zero = problems(ramp(0.0, 0.0, 1.0));
        assert_eq!(both_zero.len(), 1);
        assert!(
            both_zero[0].starts_with("workload.arrival.to_per_s: from_per_s and to_per_s"),
            "{both_zero:?}"
        );
        let bad = problems(ramp(-1.0, f64::NAN, 0.0));
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad[2].starts_with("workload.arrival.over_s"), "{bad:?}");
    }
}
