//! `at_once`: every request ready at t = 0 (the default).

use ratelab_strategies::config::Checker;
use ratelab_strategies::draws::Draws;
use ratelab_strategies::kind::{Kind, KindDoc};
use ratelab_strategies::time::Nanos;
use serde::{Deserialize, Serialize};

use super::ArrivalKind;

/// `{ kind = "at_once" }`: no fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtOnceConfig {}

impl Kind for AtOnceConfig {
    const DOC: KindDoc = KindDoc {
        about: "all requests ready at t = 0 (default)",
        fields: &[],
        example: r#"{ kind = "at_once" }"#,
    };
    fn check(&self, _c: &mut Checker) {}
    fn scale(&mut self, _k: f64) {}
}

impl ArrivalKind for AtOnceConfig {
    fn gap(&self, _draws: &Draws, _client: u32, _id: u64) -> Option<Nanos> {
        None
    }
}
