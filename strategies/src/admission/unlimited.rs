//! `unlimited`: everything at once.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::config::Checker;
use crate::draws::Draws;
use crate::kind::{Kind, KindDoc};
use crate::strategy::Hints;
use crate::{Admit, Nanos, RequestInfo, Response, Strategy};

/// `{ kind = "unlimited" }`: no fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlimitedConfig {}

impl Kind for UnlimitedConfig {
    const DOC: KindDoc = KindDoc {
        about: "fire everything at once (asyncio.gather)",
        fields: &[],
        example: r#"{ kind = "unlimited" }"#,
    };
    fn check(&self, _c: &mut Checker) {}
    fn scale(&mut self, _k: f64) {}
}

impl AdmissionKind for UnlimitedConfig {
    type Machine = Unlimited;
    fn build(&self, _draws: Draws) -> Unlimited {
        Unlimited
    }
}

/// Admits everything at once, like `asyncio.gather` over every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

impl Strategy for Unlimited {
    fn poll_admit(&mut self, _now: Nanos, _req: &RequestInfo) -> Admit {
        Admit::Now
    }
    fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {}
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
    fn response_changes_admission(&self) -> bool {
        false
    }
    /// It ignores replies and headers.
    fn hints(&self) -> Hints {
        Hints::IGNORES_REPLIES
    }
}
