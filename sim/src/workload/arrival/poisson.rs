//! `poisson`: a Poisson process per client.

use ratelab_strategies::config::{Checker, MAX_RATE};
use ratelab_strategies::draws::{Draws, Purpose};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use super::ArrivalKind;
use crate::sampling;

/// `{ kind = "poisson", rate_per_s }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoissonConfig {
    /// Mean arrivals per second.
    pub rate_per_s: f64,
}

impl Kind for PoissonConfig {
    const DOC: KindDoc = KindDoc {
        about: "a Poisson process per client",
        fields: &[FieldDoc::required("rate_per_s")],
        example: r#"{ kind = "poisson", rate_per_s = 20 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("rate_per_s", self.rate_per_s, 0.001, MAX_RATE);
    }
    fn scale(&mut self, k: f64) {
        self.rate_per_s *= k;
    }
}

impl ArrivalKind for PoissonConfig {
    /// Exponential gaps of mean `1/rate_per_s`, addressed by (client, request).
    fn gap(&self, draws: &Draws, client: u32, id: u64) -> Option<Nanos> {
        let more = sampling::further_words(*draws, Purpose::Arrival, client, id, 0);
        let word = draws.u64(Purpose::Arrival, client, id, 0);
        Some(secs_to_nanos(
            sampling::exponential(word, more) / self.rate_per_s,
        ))
    }
}
