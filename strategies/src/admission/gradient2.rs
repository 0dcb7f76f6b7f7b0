//! `gradient2`: Netflix concurrency-limits' `Gradient2Limit` (concurrency-limits-core
//! `limit/Gradient2Limit.java` and `limit/measurement/ExpAvgMeasurement.java`, commit
//! f2528def), its builder's defaults. It moves the limit by the gradient of the long-term RTT
//! over the last one and ignores drops: a 429 that comes back fast does not lower it.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use super::netflix::{ConcurrencyLimiter, LimitAlgorithm, check_limits};
use crate::config::Checker;
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::time::Nanos;

/// `{ kind = "gradient2", initial_limit, min_limit, max_concurrency, smoothing, queue_size,
/// long_window, rtt_tolerance }`, every field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gradient2Config {
    /// `initialLimit`.
    #[serde(default = "twenty")]
    pub initial_limit: u32,
    /// `minLimit`.
    #[serde(default = "twenty")]
    pub min_limit: u32,
    /// `maxConcurrency`.
    #[serde(default = "two_hundred")]
    pub max_concurrency: u32,
    /// `smoothing`.
    #[serde(default = "default_smoothing")]
    pub smoothing: f64,
    /// `queueSize` (a constant).
    #[serde(default = "four")]
    pub queue_size: u32,
    /// `longWindow`, samples.
    #[serde(default = "six_hundred")]
    pub long_window: u32,
    /// `rttTolerance`.
    #[serde(default = "default_tolerance")]
    pub rtt_tolerance: f64,
}

fn twenty() -> u32 {
    20
}
fn two_hundred() -> u32 {
    200
}
fn four() -> u32 {
    4
}
fn six_hundred() -> u32 {
    600
}
fn default_smoothing() -> f64 {
    0.2
}
fn default_tolerance() -> f64 {
    1.5
}

/// Samples averaged plainly before the exponential average starts (`ExpAvgMeasurement`'s
/// `warmupWindow` as `Gradient2Limit` makes it).
const WARMUP: u32 = 10;

impl Kind for Gradient2Config {
    const DOC: KindDoc = KindDoc {
        about: "Netflix Gradient2: a concurrency limit moved by long-term RTT / last RTT; ignores 429s",
        fields: &[
            FieldDoc::default("initial_limit", "20"),
            FieldDoc::default("min_limit", "20"),
            FieldDoc::default("max_concurrency", "200"),
            FieldDoc::default("smoothing", "0.2"),
            FieldDoc::default("queue_size", "4"),
            FieldDoc::default("long_window", "600"),
            FieldDoc::default("rtt_tolerance", "1.5"),
        ],
        example: r#"{ kind = "gradient2" }"#,
    };
    fn check(&self, c: &mut Checker) {
        check_limits(
            c,
            self.initial_limit,
            Some(self.min_limit),
            self.max_concurrency,
        );
        c.positive("smoothing", self.smoothing, 0.0, 1.0);
        c.integer("queue_size", u64::from(self.queue_size), 0, 1_000_000);
        c.integer("long_window", u64::from(self.long_window), 1, 1_000_000);
        c.positive("rtt_tolerance", self.rtt_tolerance, 0.0, 100.0);
    }
    /// Counts and ratios: nothing to scale.
    fn scale(&mut self, _k: f64) {}
}

impl AdmissionKind for Gradient2Config {
    type Machine = ConcurrencyLimiter<Gradient2>;
    fn build(&self, _draws: Draws) -> ConcurrencyLimiter<Gradient2> {
        ConcurrencyLimiter::new(Gradient2 {
            c: self.clone(),
            estimated: f64::from(self.initial_limit),
            long_rtt: 0.0,
            long_count: 0,
            long_sum: 0.0,
        })
    }
}

/// `Gradient2Limit._update` with `ExpAvgMeasurement(long_window, 10)` as the long RTT.
#[derive(Clone, Debug)]
pub struct Gradient2 {
    c: Gradient2Config,
    estimated: f64,
    long_rtt: f64,
    long_count: u32,
    long_sum: f64,
}

impl Gradient2 {
    /// `ExpAvgMeasurement.add`.
    fn add_long(&mut self, sample: f64) -> f64 {
        if self.long_count < WARMUP {
            self.long_count += 1;
            self.long_sum += sample;
            self.long_rtt = self.long_sum / f64::from(self.long_count);
        } else {
            let factor = 2.0 / (f64::from(self.c.long_window) + 1.0);
            self.long_rtt = self.long_rtt * (1.0 - factor) + sample * factor;
        }
        self.long_rtt
    }
}

impl LimitAlgorithm for Gradient2 {
    fn limit(&self) -> f64 {
        self.estimated
    }
    fn update(&mut self, _client: u32, rtt: Nanos, inflight: u32, _dropped: bool) {
        let queue_size = f64::from(self.c.queue_size);
        let short = rtt as f64;
        let long = self.add_long(short);
        if long / short > 2.0 {
            self.long_rtt *= 0.95;
        }
        if f64::from(inflight) < self.estimated / 2.0 {
            return;
        }
        let gradient = (self.c.rtt_tolerance * long / short).clamp(0.5, 1.0);
        let mut new = self.estimated * gradient + queue_size;
        new = self.estimated * (1.0 - self.c.smoothing) + new * self.c.smoothing;
        self.estimated = new.clamp(
            f64::from(self.c.min_limit),
            f64::from(self.c.max_concurrency),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient2() -> Gradient2 {
        let c: Gradient2Config = toml::from_str("").unwrap();
        c.build(Draws::new(0)).algorithm().clone()
    }

    #[test]
    fn steady_latency_grows_the_limit_by_the_smoothed_queue_size() {
        let mut g = gradient2();
        g.update(0, 100, 20, false);
        // gradient 1: 20·0.8 + (20 + 4)·0.2 = 20.8.
        assert!((g.limit() - 20.8).abs() < 1e-12);
        for _ in 0..2000 {
            g.update(0, 100, 200, false);
        }
        assert_eq!(g.limit(), 200.0);
    }

    #[test]
    fn rising_latency_lowers_it_and_app_limited_samples_change_nothing() {
        let mut g = gradient2();
        for _ in 0..10 {
            g.update(0, 100, 20, false);
        }
        let before = g.limit();
        g.update(0, 100, 1, false);
        assert_eq!(g.limit(), before, "inflight < limit / 2");
        for _ in 0..50 {
            g.update(0, 1000, 200, false);
        }
        assert!(g.limit() < before, "{} after {}", g.limit(), before);
        assert!(g.limit() >= 20.0);
    }

    #[test]
    fn drops_are_ignored() {
        let mut a = gradient2();
        let mut b = gradient2();
        a.update(0, 100, 20, true);
        b.update(0, 100, 20, false);
        assert_eq!(a.limit(), b.limit());
    }
}
