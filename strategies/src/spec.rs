//! A `[[strategy]]` table: admission layers, a retry policy, an optional breaker and timeout,
//! and the state machines built from them. Each kind's own fields live in its module
//! ([`crate::admission`], [`crate::retry`], [`crate::breaker`]); the validation framework in
//! [`crate::config`].

use serde::{Deserialize, Serialize};

use crate::admission::AdmissionSpec;
use crate::admission::Layer;
use crate::breaker::BreakerSpec;
use crate::config::{Checker, MAX_MS};

/// Most admission layers of one strategy.
pub const MAX_LAYERS: usize = 16;
use crate::draws::Draws;
use crate::retry::{Retry, RetrySpec};
use crate::strategy::Stack;
use crate::time::{Nanos, ms_to_nanos};

/// One `[[strategy]]`: admission layers (all must admit), a retry policy, an optional breaker and
/// an optional client timeout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    /// Name shown in tables and reports.
    pub name: String,
    /// Admission layers; empty means unlimited.
    #[serde(default)]
    pub admission: Vec<AdmissionSpec>,
    /// Retry policy (default: none).
    #[serde(default)]
    pub retry: RetrySpec,
    /// Circuit breaker (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerSpec>,
    /// The client gives up waiting for a reply after this long, ms (default: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<f64>,
}

/// A strategy's state machines for one client.
pub struct BuiltStrategy {
    /// Admission: the breaker (if any) first, then the layers in file order.
    pub stack: Stack,
    /// The retry policy.
    pub retry: Retry,
    /// Client timeout.
    pub timeout: Option<Nanos>,
}

impl StrategySpec {
    /// Checks every field (`c` is prefixed with the strategy's path, e.g. `strategy[0]`).
    pub fn check(&self, c: &mut Checker) {
        c.name("name", &self.name);
        if self.admission.len() > MAX_LAYERS {
            c.fail(
                "admission",
                format!("has {} layers; at most {MAX_LAYERS}", self.admission.len()),
            );
        }
        for (i, a) in self.admission.iter().enumerate() {
            a.check(&mut c.nested(&format!("admission[{i}]")));
        }
        self.retry.check(&mut c.nested("retry"));
        if let Some(b) = &self.breaker {
            b.check(&mut c.nested("breaker"));
        }
        if let Some(t) = self.timeout_ms {
            c.positive("timeout_ms", t, 0.0, MAX_MS);
        }
    }

    /// The same strategy `k` times faster: every layer, the retry policy, the breaker and the
    /// timeout (see [`crate::kind::Kind::scale`]).
    pub fn scale(&mut self, k: f64) {
        for a in &mut self.admission {
            a.scale(k);
        }
        self.retry.scale(k);
        if let Some(b) = &mut self.breaker {
            b.scale(k);
        }
        if let Some(t) = &mut self.timeout_ms {
            *t /= k;
        }
    }

    /// Fresh state machines for one client.
    pub fn build(&self, draws: Draws) -> BuiltStrategy {
        let mut stack = Stack::default();
        if let Some(b) = &self.breaker {
            stack.push(Layer::Breaker(b.build()));
        }
        for a in &self.admission {
            stack.push(a.build(draws));
        }
        BuiltStrategy {
            stack,
            retry: self.retry.build(draws),
            timeout: self.timeout_ms.map(|t| ms_to_nanos(t).max(1)),
        }
    }
}
