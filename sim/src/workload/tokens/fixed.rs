//! `fixed`: every request weighs the same.

use ratelab_strategies::config::Checker;
use ratelab_strategies::draws::Draws;
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use serde::{Deserialize, Serialize};

use super::{MAX_TOKENS, TokensKind};

/// `{ kind = "fixed", n }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedTokensConfig {
    /// Tokens per request.
    pub n: u64,
}

impl Kind for FixedTokensConfig {
    const DOC: KindDoc = KindDoc {
        about: "every request weighs n tokens",
        fields: &[FieldDoc::required("n")],
        example: r#"{ kind = "fixed", n = 1000 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.integer("n", self.n, 1, MAX_TOKENS);
    }
    fn scale(&mut self, _k: f64) {}
}

impl TokensKind for FixedTokensConfig {
    fn tokens_of(&self, _draws: &Draws, _client: u32, _id: u64) -> u64 {
        self.n
    }
    fn mean(&self) -> f64 {
        self.n as f64
    }
}
