//! `uniform`: request sizes uniform between two counts.

use ratelab_strategies::config::Checker;
use ratelab_strategies::draws::{Draws, Purpose, uniform_upto};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use serde::{Deserialize, Serialize};

use super::{MAX_TOKENS, TokensKind};

/// `{ kind = "uniform", min, max }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniformTokensConfig {
    /// Fewest tokens.
    pub min: u64,
    /// Most tokens.
    pub max: u64,
}

impl Kind for UniformTokensConfig {
    const DOC: KindDoc = KindDoc {
        about: "uniform in min..=max tokens",
        fields: &[FieldDoc::required("min"), FieldDoc::required("max")],
        example: r#"{ kind = "uniform", min = 200, max = 4000 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.integer("min", self.min, 1, MAX_TOKENS);
        c.integer("max", self.max, 1, MAX_TOKENS);
        if self.max < self.min {
            c.fail(
                "max",
                format!("must be at least min = {} (got {})", self.min, self.max),
            );
        }
    }
    fn scale(&mut self, _k: f64) {}
}

impl TokensKind for UniformTokensConfig {
    /// One addressed draw per request.
    fn tokens_of(&self, draws: &Draws, client: u32, id: u64) -> u64 {
        self.min
            + uniform_upto(
                draws.u64(Purpose::Tokens, client, id, 0),
                self.max - self.min,
            )
    }
    fn mean(&self) -> f64 {
        (self.min + self.max) as f64 / 2.0
    }
}
