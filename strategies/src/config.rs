//! The validation framework of scenario files: [`Checker`] collects every field out of its
//! allowed range as an [`Invalid`] naming the field's path, and the small field types several
//! kinds share ([`Unit`], [`RateSpec`]).

use serde::{Deserialize, Serialize};

use crate::bucket::Rate;
use crate::time::SECOND;

/// Longest duration a field accepts: one day, in milliseconds.
pub const MAX_MS: f64 = 86_400_000.0;
/// Longest name of a scenario or a strategy, in characters.
pub const MAX_NAME_CHARS: usize = 256;
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

    /// A name shown in tables and reports: not empty, at most [`MAX_NAME_CHARS`] characters,
    /// no control characters.
    pub fn name(&mut self, name: &str, value: &str) {
        let chars = value.chars().count();
        if value.trim().is_empty() {
            self.fail(name, "must not be empty");
        } else if chars > MAX_NAME_CHARS {
            self.fail(
                name,
                format!("has {chars} characters; at most {MAX_NAME_CHARS}"),
            );
        } else if let Some(c) = value.chars().find(|c| c.is_control()) {
            self.fail(
                name,
                format!("must not contain control characters (found {:?})", c),
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

/// Multiplies an optional rate by `k` (speeding a scenario up: see [`crate::kind::Kind::scale`]).
pub fn scale_rate(rate: &mut Option<f64>, k: f64) {
    if let Some(r) = rate {
        *r *= k;
    }
}
