//! Strategy configuration as it appears in a scenario's `[[strategy]]` tables: serde types,
//! validation with field paths and allowed ranges, and construction of the state machines.

use serde::{Deserialize, Serialize};

use crate::admission::{Aimd, FixedDelay, Semaphore, TokenBucket, Unlimited};
use crate::breaker::Breaker;
use crate::bucket::Rate;
use crate::draws::Draws;
use crate::retry::{Backoff, Jitter, Retry, RetryOn};
use crate::strategy::{Layer, Stack};
use crate::time::{Nanos, SECOND, ms_to_nanos};

/// Longest duration a field accepts: one day, in milliseconds.
pub const MAX_MS: f64 = 86_400_000.0;
/// Highest rate a field accepts, per second or per minute.
pub const MAX_RATE: f64 = 1e9;
/// Most attempts a retry policy may allow.
pub const MAX_ATTEMPTS: u32 = 1000;

/// A field that failed validation: where it is and what is wrong, with the allowed range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Path of the field, e.g. `strategy[1].admission[0].rate_per_s`.
    pub field: String,
    /// What is wrong, e.g. `must be in 0.001..=1000000000 (got 0)`.
    pub problem: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Collects [`Invalid`] fields under a path prefix.
pub struct Checker<'a> {
    prefix: String,
    errors: &'a mut Vec<Invalid>,
}

impl<'a> Checker<'a> {
    /// A checker that prefixes every field with `prefix` (e.g. `strategy[0]`).
    pub fn new(prefix: impl Into<String>, errors: &'a mut Vec<Invalid>) -> Self {
        Checker {
            prefix: prefix.into(),
            errors,
        }
    }

    /// A checker for a nested table.
    pub fn nested(&mut self, name: &str) -> Checker<'_> {
        Checker {
            prefix: self.path(name),
            errors: self.errors,
        }
    }

    /// The full path of `name`.
    pub fn path(&self, name: &str) -> String {
        match (self.prefix.is_empty(), name.is_empty()) {
            (true, _) => name.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{}", self.prefix, name),
        }
    }

    /// Records a problem with `name`.
    pub fn fail(&mut self, name: &str, problem: impl Into<String>) {
        let field = self.path(name);
        self.errors.push(Invalid {
            field,
            problem: problem.into(),
        });
    }

    /// `value` must be a finite number in `min..=max`.
    pub fn number(&mut self, name: &str, value: f64, min: f64, max: f64) {
        if !(value.is_finite() && value >= min && value <= max) {
            self.fail(name, format!("must be in {min}..={max} (got {value})"));
        }
    }

    /// `value` must be a finite number with `min < value <= max`.
    pub fn positive(&mut self, name: &str, value: f64, min_exclusive: f64, max: f64) {
        if !(value.is_finite() && value > min_exclusive && value <= max) {
            self.fail(
                name,
                format!("must be greater than {min_exclusive} and at most {max} (got {value})"),
            );
        }
    }

    /// `value` must be an integer in `min..=max`.
    pub fn integer(&mut self, name: &str, value: u64, min: u64, max: u64) {
        if !(min..=max).contains(&value) {
            self.fail(name, format!("must be in {min}..={max} (got {value})"));
        }
    }
}

/// What a limit counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Each request counts 1.
    #[default]
    Requests,
    /// Each request counts its tokens.
    Tokens,
}

/// A rate given per second or per minute (exactly one of the two).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RateSpec {
    /// Tokens (or requests) per second.
    pub rate_per_s: Option<f64>,
    /// Tokens (or requests) per minute.
    pub rate_per_min: Option<f64>,
}

impl RateSpec {
    /// The pair of optional fields as written in a table.
    pub fn of(rate_per_s: Option<f64>, rate_per_min: Option<f64>) -> Self {
        RateSpec {
            rate_per_s,
            rate_per_min,
        }
    }

    /// Checks that exactly one of the two is given and that it is in range.
    pub fn check(&self, c: &mut Checker) {
        match (self.rate_per_s, self.rate_per_min) {
            (Some(r), None) => c.number("rate_per_s", r, 0.001, MAX_RATE),
            (None, Some(r)) => c.number("rate_per_min", r, 0.001, MAX_RATE),
            (Some(_), Some(_)) => c.fail("rate_per_s", "give rate_per_s or rate_per_min, not both"),
            (None, None) => c.fail("rate_per_s", "missing: give rate_per_s or rate_per_min"),
        }
    }

    /// The exact rate (validated input assumed; an invalid one becomes 1/s).
    pub fn rate(&self) -> Rate {
        let r = match (self.rate_per_s, self.rate_per_min) {
            (Some(r), _) => Rate::new(r, SECOND),
            (None, Some(r)) => Rate::new(r, 60 * SECOND),
            (None, None) => None,
        };
        r.unwrap_or(Rate {
            milli_per_period: 1000,
            period: SECOND,
        })
    }
}

crate::kind_enum! {
    /// One admission layer of a `[[strategy]]`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub enum AdmissionSpec {
        /// Everything at once.
        Unlimited,
        /// One at a time, `delay_ms` after each reply.
        FixedDelay {
            /// Pause after each reply, ms.
            delay_ms: f64,
        },
        /// At most `permits` in flight.
        Semaphore {
            /// Concurrent attempts allowed.
            permits: u32,
        },
        /// Token bucket, starts full.
        TokenBucket {
            /// Refill rate per second (or give `rate_per_min`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            rate_per_s: Option<f64>,
            /// Refill rate per minute (or give `rate_per_s`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            rate_per_min: Option<f64>,
            /// Capacity in tokens.
            burst: u64,
            /// What a request costs.
            #[serde(default)]
            unit: Unit,
        },
        /// Sends exactly `1/rate_per_s` apart.
        LeakyBucket {
            /// Sends per second.
            rate_per_s: f64,
        },
        /// Adaptive concurrency window.
        Aimd {
            /// Starting window.
            #[serde(default = "aimd_initial")]
            initial: f64,
            /// Smallest window (at least 1).
            #[serde(default = "aimd_min")]
            min: f64,
            /// Largest window.
            #[serde(default = "aimd_max")]
            max: f64,
            /// Growth per round trip of successes.
            #[serde(default = "aimd_increase")]
            increase: f64,
            /// Factor applied on a 429.
            #[serde(default = "aimd_decrease")]
            decrease: f64,
        },
    }
}

fn aimd_initial() -> f64 {
    1.0
}
fn aimd_min() -> f64 {
    1.0
}
fn aimd_max() -> f64 {
    100.0
}
fn aimd_increase() -> f64 {
    1.0
}
fn aimd_decrease() -> f64 {
    0.5
}

impl AdmissionSpec {
    /// The `kind` as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            AdmissionSpec::Unlimited => "unlimited",
            AdmissionSpec::FixedDelay { .. } => "fixed_delay",
            AdmissionSpec::Semaphore { .. } => "semaphore",
            AdmissionSpec::TokenBucket { .. } => "token_bucket",
            AdmissionSpec::LeakyBucket { .. } => "leaky_bucket",
            AdmissionSpec::Aimd { .. } => "aimd",
        }
    }

    /// Checks every field.
    pub fn check(&self, c: &mut Checker) {
        match self {
            AdmissionSpec::Unlimited => {}
            AdmissionSpec::FixedDelay { delay_ms } => c.number("delay_ms", *delay_ms, 0.0, MAX_MS),
            AdmissionSpec::Semaphore { permits } => {
                c.integer("permits", u64::from(*permits), 1, 1_000_000)
            }
            AdmissionSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                burst,
                ..
            } => {
                RateSpec::of(*rate_per_s, *rate_per_min).check(c);
                c.integer("burst", *burst, 1, 1_000_000_000_000);
            }
            AdmissionSpec::LeakyBucket { rate_per_s } => {
                c.number("rate_per_s", *rate_per_s, 0.001, MAX_RATE)
            }
            AdmissionSpec::Aimd {
                initial,
                min,
                max,
                increase,
                decrease,
            } => {
                c.number("min", *min, 1.0, 1e6);
                c.number("max", *max, 1.0, 1e6);
                if min.is_finite() && max.is_finite() && min > max {
                    c.fail("max", format!("must be at least min = {min} (got {max})"));
                }
                c.number("initial", *initial, 1.0, 1e6);
                if *initial < *min || *initial > *max {
                    c.fail(
                        "initial",
                        format!("must be in min..=max = {min}..={max} (got {initial})"),
                    );
                }
                c.positive("increase", *increase, 0.0, 1e6);
                c.positive("decrease", *decrease, 0.0, 0.999_999);
            }
        }
    }

    /// The state machine for this layer.
    pub fn build(&self) -> Layer {
        match self {
            AdmissionSpec::Unlimited => Layer::Unlimited(Unlimited),
            AdmissionSpec::FixedDelay { delay_ms } => {
                Layer::FixedDelay(FixedDelay::new(ms_to_nanos(*delay_ms)))
            }
            AdmissionSpec::Semaphore { permits } => Layer::Semaphore(Semaphore::new(*permits)),
            AdmissionSpec::TokenBucket {
                rate_per_s,
                rate_per_min,
                burst,
                unit,
            } => Layer::TokenBucket(TokenBucket::new(
                RateSpec::of(*rate_per_s, *rate_per_min).rate(),
                *burst,
                *unit == Unit::Tokens,
            )),
            AdmissionSpec::LeakyBucket { rate_per_s } => Layer::TokenBucket(TokenBucket::leaky(
                RateSpec::of(Some(*rate_per_s), None).rate(),
            )),
            AdmissionSpec::Aimd {
                initial,
                min,
                max,
                increase,
                decrease,
            } => Layer::Aimd(Aimd::new(*initial, *min, *max, *increase, *decrease)),
        }
    }
}

/// A failure class a retry policy may cover, written `"429"`, `"5xx"` or `"timeout"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryOnSpec {
    /// 429 Too Many Requests.
    #[serde(rename = "429")]
    RateLimited,
    /// Server errors.
    #[serde(rename = "5xx")]
    ServerError,
    /// The client's own timeout.
    #[serde(rename = "timeout")]
    Timeout,
}

fn retry_on_all() -> Vec<RetryOnSpec> {
    vec![
        RetryOnSpec::RateLimited,
        RetryOnSpec::ServerError,
        RetryOnSpec::Timeout,
    ]
}

fn retry_on(list: &[RetryOnSpec]) -> RetryOn {
    RetryOn {
        rate_limited: list.contains(&RetryOnSpec::RateLimited),
        server_error: list.contains(&RetryOnSpec::ServerError),
        timeout: list.contains(&RetryOnSpec::Timeout),
    }
}

/// Jitter as written in TOML: the policy's own [`Jitter`].
pub type JitterSpec = Jitter;

crate::kind_enum! {
    /// The retry policy of a `[[strategy]]`.
    #[derive(Clone, Debug, PartialEq, Serialize)]
    pub enum RetrySpec {
        /// Never retry: a failure is final (dead-lettered).
        None,
        /// The same wait before every retry.
        Fixed {
            /// Wait before each retry, ms.
            delay_ms: f64,
            /// Attempts in all, the first included.
            #[serde(default = "default_max_attempts")]
            max_attempts: u32,
            /// Wait at least the `Retry-After` the API sent.
            #[serde(default)]
            honor_retry_after: bool,
            /// Failures retried.
            #[serde(default = "retry_on_all")]
            on: Vec<RetryOnSpec>,
        },
        /// Exponential backoff with jitter.
        Exponential {
            /// First ceiling, ms.
            #[serde(default = "default_base_ms")]
            base_ms: f64,
            /// Largest ceiling, ms.
            #[serde(default = "default_cap_ms")]
            cap_ms: f64,
            /// Growth per retry.
            #[serde(default = "default_multiplier")]
            multiplier: f64,
            /// Randomisation.
            #[serde(default)]
            jitter: JitterSpec,
            /// Attempts in all, the first included.
            #[serde(default = "default_max_attempts")]
            max_attempts: u32,
            /// Wait at least the `Retry-After` the API sent.
            #[serde(default)]
            honor_retry_after: bool,
            /// Failures retried.
            #[serde(default = "retry_on_all")]
            on: Vec<RetryOnSpec>,
        },
    }
}

// Not derived: `#[default]` on the variant would be copied into the twin `kind_enum!` declares,
// which does not derive `Default`.
#[allow(clippy::derivable_impls)]
impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec::None
    }
}

fn default_max_attempts() -> u32 {
    5
}
fn default_base_ms() -> f64 {
    1000.0
}
fn default_cap_ms() -> f64 {
    60_000.0
}
fn default_multiplier() -> f64 {
    2.0
}

impl RetrySpec {
    /// The `kind` as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            RetrySpec::None => "none",
            RetrySpec::Fixed { .. } => "fixed",
            RetrySpec::Exponential { .. } => "exponential",
        }
    }

    /// Checks every field.
    pub fn check(&self, c: &mut Checker) {
        match self {
            RetrySpec::None => {}
            RetrySpec::Fixed {
                delay_ms,
                max_attempts,
                ..
            } => {
                c.number("delay_ms", *delay_ms, 0.0, MAX_MS);
                c.integer(
                    "max_attempts",
                    u64::from(*max_attempts),
                    1,
                    u64::from(MAX_ATTEMPTS),
                );
            }
            RetrySpec::Exponential {
                base_ms,
                cap_ms,
                multiplier,
                max_attempts,
                ..
            } => {
                c.number("base_ms", *base_ms, 0.0, MAX_MS);
                c.number("cap_ms", *cap_ms, 0.0, MAX_MS);
                if base_ms.is_finite() && cap_ms.is_finite() && cap_ms < base_ms {
                    c.fail(
                        "cap_ms",
                        format!("must be at least base_ms = {base_ms} (got {cap_ms})"),
                    );
                }
                c.number("multiplier", *multiplier, 1.0, 100.0);
                c.integer(
                    "max_attempts",
                    u64::from(*max_attempts),
                    1,
                    u64::from(MAX_ATTEMPTS),
                );
            }
        }
    }

    /// The policy, drawing its jitter from `draws`.
    pub fn build(&self, draws: Draws) -> Retry {
        match self {
            RetrySpec::None => Retry::never(),
            RetrySpec::Fixed {
                delay_ms,
                max_attempts,
                honor_retry_after,
                on,
            } => Retry::new(
                Backoff::Fixed {
                    delay: ms_to_nanos(*delay_ms),
                },
                retry_on(on),
                *max_attempts,
                *honor_retry_after,
                draws,
            ),
            RetrySpec::Exponential {
                base_ms,
                cap_ms,
                multiplier,
                jitter,
                max_attempts,
                honor_retry_after,
                on,
            } => Retry::new(
                Backoff::Exponential {
                    base: ms_to_nanos(*base_ms),
                    cap: ms_to_nanos(*cap_ms),
                    multiplier: *multiplier,
                    jitter: *jitter,
                },
                retry_on(on),
                *max_attempts,
                *honor_retry_after,
                draws,
            ),
        }
    }
}

/// What an open breaker does to admission.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnOpen {
    /// Admission waits until the breaker half-opens.
    #[default]
    Wait,
    /// Requests are rejected at once (final state `rejected_by_breaker`).
    Fail,
}

/// The optional `breaker` of a `[[strategy]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Consecutive failures that open it.
    #[serde(default = "default_consecutive_failures")]
    pub consecutive_failures: u32,
    /// How long it stays open, ms.
    #[serde(default = "default_open_ms")]
    pub open_ms: f64,
    /// Probes let through when half-open.
    #[serde(default = "default_probes")]
    pub half_open_probes: u32,
    /// Wait or fail fast while open.
    #[serde(default)]
    pub on_open: OnOpen,
}

fn default_consecutive_failures() -> u32 {
    5
}
fn default_open_ms() -> f64 {
    30_000.0
}
fn default_probes() -> u32 {
    1
}

impl BreakerSpec {
    /// Checks every field.
    pub fn check(&self, c: &mut Checker) {
        c.integer(
            "consecutive_failures",
            u64::from(self.consecutive_failures),
            1,
            1_000_000,
        );
        c.number("open_ms", self.open_ms, 0.0, MAX_MS);
        c.integer(
            "half_open_probes",
            u64::from(self.half_open_probes),
            1,
            1_000_000,
        );
    }

    /// The state machine.
    pub fn build(&self) -> Breaker {
        Breaker::new(
            self.consecutive_failures,
            ms_to_nanos(self.open_ms),
            self.half_open_probes,
            self.on_open == OnOpen::Fail,
        )
    }
}

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
        if self.name.trim().is_empty() {
            c.fail("name", "must not be empty");
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

    /// Fresh state machines for one client.
    pub fn build(&self, draws: Draws) -> BuiltStrategy {
        let mut stack = Stack::default();
        if let Some(b) = &self.breaker {
            stack.push(Layer::Breaker(b.build()));
        }
        for a in &self.admission {
            stack.push(a.build());
        }
        BuiltStrategy {
            stack,
            retry: self.retry.build(draws),
            timeout: self.timeout_ms.map(|t| ms_to_nanos(t).max(1)),
        }
    }
}
