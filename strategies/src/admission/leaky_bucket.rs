//! `leaky_bucket`: sends spaced exactly `1/rate` apart (a token bucket with a burst of one).

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use super::TokenBucket;
use crate::config::{Checker, MAX_RATE, RateSpec};
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};

/// `{ kind = "leaky_bucket", rate_per_s }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakyBucketConfig {
    /// Sends per second (0.001..=1e9).
    pub rate_per_s: f64,
}

impl Kind for LeakyBucketConfig {
    const DOC: KindDoc = KindDoc {
        about: "sends exactly 1/rate apart, no burst",
        fields: &[FieldDoc::required("rate_per_s")],
        example: r#"{ kind = "leaky_bucket", rate_per_s = 10 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("rate_per_s", self.rate_per_s, 0.001, MAX_RATE);
    }
    fn scale(&mut self, k: f64) {
        self.rate_per_s *= k;
    }
}

impl AdmissionKind for LeakyBucketConfig {
    type Machine = TokenBucket;
    fn build(&self, _draws: Draws) -> TokenBucket {
        TokenBucket::leaky(RateSpec::of(Some(self.rate_per_s), None).rate())
    }
}
