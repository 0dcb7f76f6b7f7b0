//! `vegas`: Netflix concurrency-limits' `VegasLimit` (concurrency-limits-core
//! `limit/VegasLimit.java`, commit 141214dc; `Log10RootIntFunction`), its builder's defaults:
//! TCP Vegas on a concurrency limit, the queue estimated from the minimum RTT.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use super::netflix::{ConcurrencyLimiter, LimitAlgorithm, check_limits};
use crate::config::Checker;
use crate::draws::{Draws, Purpose};
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::time::Nanos;

/// `{ kind = "vegas", initial_limit, max_concurrency, smoothing, probe_multiplier }`, every
/// field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VegasConfig {
    /// `initialLimit`.
    #[serde(default = "twenty")]
    pub initial_limit: u32,
    /// `maxConcurrency`.
    #[serde(default = "thousand")]
    pub max_concurrency: u32,
    /// `smoothing` (1: the new estimate replaces the old).
    #[serde(default = "one")]
    pub smoothing: f64,
    /// `probeMultiplier`: the minimum RTT is probed again every `U(0.5, 1) · this · limit`
    /// samples.
    #[serde(default = "thirty")]
    pub probe_multiplier: u32,
}

fn twenty() -> u32 {
    20
}
fn thousand() -> u32 {
    1000
}
fn one() -> f64 {
    1.0
}
fn thirty() -> u32 {
    30
}

impl Kind for VegasConfig {
    const DOC: KindDoc = KindDoc {
        about: "Netflix Vegas: a concurrency limit from the queue the RTT shows over its minimum; a 429 lowers it",
        fields: &[
            FieldDoc::default("initial_limit", "20"),
            FieldDoc::default("max_concurrency", "1000"),
            FieldDoc::default("smoothing", "1"),
            FieldDoc::default("probe_multiplier", "30"),
        ],
        example: r#"{ kind = "vegas" }"#,
    };
    fn check(&self, c: &mut Checker) {
        check_limits(c, self.initial_limit, None, self.max_concurrency);
        c.positive("smoothing", self.smoothing, 0.0, 1.0);
        c.integer(
            "probe_multiplier",
            u64::from(self.probe_multiplier),
            1,
            1_000_000,
        );
    }
    /// Counts and ratios: nothing to scale.
    fn scale(&mut self, _k: f64) {}
}

impl AdmissionKind for VegasConfig {
    type Machine = ConcurrencyLimiter<Vegas>;
    fn build(&self, draws: Draws) -> ConcurrencyLimiter<Vegas> {
        let v = Vegas {
            c: self.clone(),
            estimated: f64::from(self.initial_limit),
            rtt_noload: 0,
            probe_count: 0,
            probe_jitter: None,
            probes: 0,
            draws,
        };
        ConcurrencyLimiter::new(v)
    }
}

/// `max(1, ⌊log10 l⌋)`: `Log10RootIntFunction`.
fn log10(l: f64) -> f64 {
    let l = l as i64;
    if l < 1 {
        1.0
    } else {
        libm::floor(libm::log10(l as f64)).max(1.0)
    }
}

/// `VegasLimit._update`. The probe jitter U(0.5, 1) is addressed by (client, probe number,
/// attempt 0): the n-th probe of a client draws the same in every run with the same seed (the
/// first is drawn at the first sample, when the machine learns its client).
#[derive(Clone, Debug)]
pub struct Vegas {
    c: VegasConfig,
    estimated: f64,
    rtt_noload: Nanos,
    probe_count: u64,
    probe_jitter: Option<f64>,
    /// Probes so far: the address of the next jitter draw.
    probes: u64,
    draws: Draws,
}

impl Vegas {
    fn reset_probe_jitter(&mut self, client: u32) -> f64 {
        let u = self.draws.unit(Purpose::Strategy, client, self.probes, 0);
        self.probes += 1;
        let jitter = 0.5 + 0.5 * u;
        self.probe_jitter = Some(jitter);
        jitter
    }

    fn should_probe(&mut self, client: u32) -> bool {
        let jitter = match self.probe_jitter {
            Some(j) => j,
            None => self.reset_probe_jitter(client),
        };
        jitter * f64::from(self.c.probe_multiplier) * self.estimated <= self.probe_count as f64
    }

    /// The no-load RTT it measures against (ns; 0 before the first sample).
    pub fn rtt_noload(&self) -> Nanos {
        self.rtt_noload
    }
}

impl LimitAlgorithm for Vegas {
    fn limit(&self) -> f64 {
        self.estimated
    }
    fn update(&mut self, client: u32, rtt: Nanos, inflight: u32, dropped: bool) {
        self.probe_count += 1;
        if self.should_probe(client) {
            self.reset_probe_jitter(client);
            self.probe_count = 0;
            self.rtt_noload = rtt;
            return;
        }
        if self.rtt_noload == 0 || rtt < self.rtt_noload {
            self.rtt_noload = rtt;
            return;
        }
        let l = self.estimated;
        let queue = libm::ceil(l * (1.0 - self.rtt_noload as f64 / rtt as f64));
        let li = (l as i64) as f64;
        let new = if dropped {
            l - log10(l)
        } else if f64::from(inflight) * 2.0 < l {
            return;
        } else {
            let (alpha, beta, threshold) = (3.0 * log10(li), 6.0 * log10(li), log10(li));
            if queue <= threshold {
                l + beta
            } else if queue < alpha {
                l + log10(l)
            } else if queue > beta {
                l - log10(l)
            } else {
                return;
            }
        };
        let new = new.clamp(1.0, f64::from(self.c.max_concurrency));
        self.estimated = (1.0 - self.c.smoothing) * l + self.c.smoothing * new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vegas() -> Vegas {
        let c: VegasConfig = toml::from_str("").unwrap();
        c.build(Draws::new(9)).algorithm().clone()
    }

    #[test]
    fn no_queue_grows_by_beta_a_queue_shrinks_it_and_a_drop_too() {
        let mut v = vegas();
        v.update(0, 100, 20, false); // first sample: the no-load RTT
        assert_eq!(v.rtt_noload(), 100);
        v.update(0, 100, 20, false);
        // queue 0 ≤ threshold 1: +beta = 6·log10(20) = 6.
        assert_eq!(v.limit(), 26.0);
        v.update(0, 200, 26, false);
        // queue ⌈26·(1 − 1/2)⌉ = 13 > beta 6: −log10 = −1.
        assert_eq!(v.limit(), 25.0);
        v.update(0, 100, 25, true);
        assert_eq!(v.limit(), 24.0);
        v.update(0, 100, 1, false);
        assert_eq!(v.limit(), 24.0, "app-limited");
    }

    #[test]
    fn the_probe_jitter_is_addressed_and_in_range() {
        let (mut a, mut b, mut c) = (vegas(), vegas(), vegas());
        a.update(3, 100, 20, false);
        b.update(3, 100, 20, false);
        c.update(4, 100, 20, false);
        assert_eq!(a.probe_jitter, b.probe_jitter);
        assert_ne!(
            a.probe_jitter, c.probe_jitter,
            "another client draws its own"
        );
        assert!(a.probe_jitter.is_some_and(|j| (0.5..1.0).contains(&j)));
        let mut v = vegas();
        v.update(0, 100, 20, false);
        // Probes come every U(0.5, 1)·30·limit samples: within 600 samples at limit 20.
        let mut probed = false;
        for _ in 0..700 {
            let before = v.probes;
            v.update(0, 150, 1, false);
            probed |= v.probes > before;
        }
        assert!(probed);
    }
}
