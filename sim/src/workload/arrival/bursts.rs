//! `bursts`: `size` requests ready together at t = 0, `every_s`, 2·`every_s`, …

use ratelab_strategies::config::Checker;
use ratelab_strategies::draws::Draws;
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use super::ArrivalKind;
use crate::scenario::MAX_HORIZON_S;
use crate::workload::MAX_REQUESTS;

/// `{ kind = "bursts", every_s, size }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstsConfig {
    /// Time between two bursts, s.
    pub every_s: f64,
    /// Requests per burst.
    pub size: u64,
}

impl Kind for BurstsConfig {
    const DOC: KindDoc = KindDoc {
        about: "size requests ready together every every_s, from t = 0 (request k at \
                floor(k/size)·every_s); deterministic",
        fields: &[FieldDoc::required("every_s"), FieldDoc::required("size")],
        example: r#"{ kind = "bursts", every_s = 10, size = 50 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.positive("every_s", self.every_s, 0.0, MAX_HORIZON_S);
        c.integer("size", self.size, 1, MAX_REQUESTS);
    }
    fn scale(&mut self, k: f64) {
        self.every_s /= k;
    }
}

impl BurstsConfig {
    /// When request `id` is ready: `floor(id / size) · every_s`.
    pub fn ready_at(&self, id: u64) -> Nanos {
        (id / self.size.max(1)).saturating_mul(secs_to_nanos(self.every_s))
    }
}

impl ArrivalKind for BurstsConfig {
    /// `every_s` before the first request of each burst after the first, 0 otherwise.
    fn gap(&self, _draws: &Draws, _client: u32, id: u64) -> Option<Nanos> {
        let first_of_burst = id > 0 && id.is_multiple_of(self.size.max(1));
        Some(if first_of_burst {
            secs_to_nanos(self.every_s)
        } else {
            0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_strategies::time::SECOND;

    fn bursts(every_s: f64, size: u64) -> BurstsConfig {
        BurstsConfig { every_s, size }
    }

    /// The ready times the gaps add up to, from t = 0.
    fn ready_times(c: &BurstsConfig, n: u64) -> Vec<Nanos> {
        let draws = Draws::new(1);
        let mut t = 0;
        (0..n)
            .map(|id| {
                t += c.gap(&draws, 0, id).unwrap();
                t
            })
            .collect()
    }

    #[test]
    fn size_requests_are_ready_together_every_every_s() {
        let c = bursts(2.5, 3);
        let s = 2 * SECOND + SECOND / 2;
        assert_eq!(
            ready_times(&c, 8),
            vec![0, 0, 0, s, s, s, 2 * s, 2 * s],
            "request k at floor(k/3)·2.5 s"
        );
        for id in 0..8 {
            assert_eq!(c.ready_at(id), ready_times(&c, 8)[id as usize]);
        }
    }

    #[test]
    fn a_burst_of_one_is_evenly_spaced() {
        assert_eq!(
            ready_times(&bursts(0.001, 1), 4),
            vec![0, 1_000_000, 2_000_000, 3_000_000]
        );
    }

    #[test]
    fn ranges_are_checked() {
        let mut errors = Vec::new();
        bursts(0.0, 0).check(&mut Checker::new("workload.arrival", &mut errors));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["workload.arrival.every_s", "workload.arrival.size"]
        );
        assert!(errors[1].problem.contains("1..="), "{}", errors[1].problem);
        let mut errors = Vec::new();
        bursts(f64::NAN, 1).check(&mut Checker::new("", &mut errors));
        assert_eq!(errors.len(), 1);
    }
}
