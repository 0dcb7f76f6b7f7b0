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
use crate::shared::{SharedBuckets, StoredBucket};
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
    /// The shared layers kept in an external store, left out of `stack`
    /// ([`SharedBuckets::external`]); empty otherwise.
    pub stored: Vec<StoredBucket>,
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

    /// Fresh state machines for a strategy's only client (a shared layer is its own bucket).
    pub fn build(&self, draws: Draws) -> BuiltStrategy {
        self.build_for(draws, &mut SharedBuckets::in_process())
    }

    /// State machines for one of a strategy's clients: fresh, except the shared layers
    /// (`token_bucket.shared = true`), which are taken from `shared`, the same value for every
    /// client of the run.
    pub fn build_for(&self, draws: Draws, shared: &mut SharedBuckets) -> BuiltStrategy {
        let mut stack = Stack::default();
        let mut stored = Vec::new();
        if let Some(b) = &self.breaker {
            stack.push(Layer::Breaker(b.build()));
        }
        for (i, a) in self.admission.iter().enumerate() {
            match a {
                AdmissionSpec::TokenBucket(c) if c.shared && shared.is_external() => {
                    stored.push(StoredBucket::of(i, c));
                }
                AdmissionSpec::TokenBucket(c) if c.shared => {
                    stack.push(Layer::Shared(shared.bucket(i, c)));
                }
                _ => stack.push(a.build(draws)),
            }
        }
        BuiltStrategy {
            stack,
            retry: self.retry.build(draws),
            timeout: self.timeout_ms.map(|t| ms_to_nanos(t).max(1)),
            stored,
        }
    }

    /// Does any layer share its bucket across clients (`token_bucket.shared = true`)?
    pub fn has_shared_layers(&self) -> bool {
        self.admission
            .iter()
            .any(|a| matches!(a, AdmissionSpec::TokenBucket(c) if c.shared))
    }
}
