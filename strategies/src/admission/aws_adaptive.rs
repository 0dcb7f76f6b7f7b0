//! `aws_adaptive`: the AWS SDKs' adaptive retry mode's client rate limiter, as botocore has it
//! (`botocore/retries/adaptive.py`, `throttling.py`, `bucket.py`, commit 40454eaa): CUBIC on
//! the send rate, a measured rate of replies, and a token bucket that is off until the first
//! throttle.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::config::Checker;
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::time::SECOND;
use crate::{Admit, Nanos, Outcome, RequestInfo, Response, Strategy};

/// `{ kind = "aws_adaptive", beta, scale_constant, smoothing, bucket_s, min_rate_per_s }`, every
/// field optional, the defaults botocore's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsAdaptiveConfig {
    /// CUBIC's multiplicative decrease (`_BETA`).
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// CUBIC's `C` (`_SCALE_CONSTANT`), rate per second cubed.
    #[serde(default = "default_scale_constant")]
    pub scale_constant: f64,
    /// Weight of the newest sample in the measured rate (`_DEFAULT_SMOOTHING`).
    #[serde(default = "default_smoothing")]
    pub smoothing: f64,
    /// Width of the buckets the measured rate counts replies in, seconds
    /// (`_TIME_BUCKET_RANGE`).
    #[serde(default = "default_bucket_s")]
    pub bucket_s: f64,
    /// The bucket's slowest fill rate (`_MIN_RATE`), per second.
    #[serde(default = "default_min_rate")]
    pub min_rate_per_s: f64,
}

fn default_beta() -> f64 {
    0.7
}
fn default_scale_constant() -> f64 {
    0.4
}
fn default_smoothing() -> f64 {
    0.8
}
fn default_bucket_s() -> f64 {
    0.5
}
fn default_min_rate() -> f64 {
    0.5
}

impl Kind for AwsAdaptiveConfig {
    const DOC: KindDoc = KindDoc {
        about: "botocore's adaptive mode: CUBIC on the send rate after the first throttle, a bucket refilled at that rate",
        fields: &[
            FieldDoc::default("beta", "0.7"),
            FieldDoc::default("scale_constant", "0.4"),
            FieldDoc::default("smoothing", "0.8"),
            FieldDoc::default("bucket_s", "0.5"),
            FieldDoc::default("min_rate_per_s", "0.5"),
        ],
        example: r#"{ kind = "aws_adaptive" }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.positive("beta", self.beta, 0.0, 0.999_999);
        c.positive("scale_constant", self.scale_constant, 0.0, 1e9);
        c.positive("smoothing", self.smoothing, 0.0, 1.0);
        c.positive("bucket_s", self.bucket_s, 0.0, 3600.0);
        c.positive("min_rate_per_s", self.min_rate_per_s, 0.0, 1e9);
    }
    fn scale(&mut self, k: f64) {
        self.min_rate_per_s *= k;
        self.bucket_s /= k;
        // rate = C·dt³ + W_max: rates × k and times ÷ k make C × k⁴.
        self.scale_constant *= k * k * k * k;
    }
}

impl AdmissionKind for AwsAdaptiveConfig {
    type Machine = AwsAdaptive;
    fn build(&self, _draws: Draws) -> AwsAdaptive {
        let mut s = AwsAdaptive {
            c: self.clone(),
            w_max: 0.0,
            k: 0.0,
            last_fail: 0.0,
            measured: 0.0,
            count: 0.0,
            last_bucket: 0.0,
            enabled: false,
            fill_rate: 0.0,
            max_capacity: 0.0,
            capacity: 0.0,
            last_refill: None,
        };
        s.k = s.zero_point();
        s.set_max_rate(1.0, 0.0); // TokenBucket(max_rate=1)
        s
    }
}

/// botocore's `ClientRateLimiter` on nanoseconds passed in (its seconds are `now / 1e9`, its
/// arithmetic `f64` as Python's, `libm` for the powers).
///
/// Every reply is counted by the rate clocker; a success sets the rate to CUBIC's
/// `C·(t − last_fail − K)³ + W_max`, a 429 (the only throttle here) to `β ·` the measured rate
/// (the bucket's fill rate, if lower and the limiter was on) and turns the limiter on; then the
/// bucket's rate becomes `min(that, 2 · measured)`. While the limiter is off every request goes;
/// once on, each send takes a token from a bucket of capacity `max(rate, 1)` filled at
/// `max(rate, min_rate)`; the bucket starts empty when the limiter is made and fills from
/// then on, on and off alike.
#[derive(Clone, Debug)]
pub struct AwsAdaptive {
    c: AwsAdaptiveConfig,
    w_max: f64,
    k: f64,
    last_fail: f64,
    measured: f64,
    count: f64,
    last_bucket: f64,
    enabled: bool,
    fill_rate: f64,
    max_capacity: f64,
    capacity: f64,
    last_refill: Option<f64>,
}

fn secs(now: Nanos) -> f64 {
    now as f64 / SECOND as f64
}

impl AwsAdaptive {
    /// The bucket's fill rate, per second (what the limiter allows once on).
    pub fn fill_rate(&self) -> f64 {
        self.fill_rate
    }

    /// Is the limiter on (after the first throttle)?
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The measured reply rate, per second.
    pub fn measured_rate(&self) -> f64 {
        self.measured
    }

    /// `_calculate_zero_point`: `((W_max · (1 − β)) / C)^(1/3)`.
    fn zero_point(&self) -> f64 {
        libm::pow(
            self.w_max * (1.0 - self.c.beta) / self.c.scale_constant,
            1.0 / 3.0,
        )
    }

    /// `TokenBucket._refill`.
    fn refill(&mut self, t: f64) {
        match self.last_refill {
            None => self.last_refill = Some(t),
            Some(last) => {
                let filled = self.capacity + (t - last) * self.fill_rate;
                self.capacity = filled.min(self.max_capacity);
                self.last_refill = Some(t);
            }
        }
    }

    /// The `TokenBucket.max_rate` setter.
    fn set_max_rate(&mut self, value: f64, t: f64) {
        self.refill(t);
        self.max_capacity = if value >= 1.0 { value } else { 1.0 };
        self.fill_rate = value.max(self.c.min_rate_per_s);
        self.capacity = self.capacity.min(self.max_capacity);
    }

    /// `RateClocker.record`.
    fn record(&mut self, t: f64) -> f64 {
        let scale = 1.0 / self.c.bucket_s;
        let bucket = libm::floor(t * scale) / scale;
        self.count += 1.0;
        if bucket > self.last_bucket {
            let current = self.count / (bucket - self.last_bucket);
            self.measured = current * self.c.smoothing + self.measured * (1.0 - self.c.smoothing);
            self.count = 0.0;
            self.last_bucket = bucket;
        }
        self.measured
    }

    /// The bucket's capacity at `t` without refilling it.
    fn capacity_at(&self, t: f64) -> f64 {
        match self.last_refill {
            None => self.capacity,
            Some(last) => (self.capacity + (t - last) * self.fill_rate).min(self.max_capacity),
        }
    }
}

impl Strategy for AwsAdaptive {
    fn poll_admit(&mut self, now: Nanos, _req: &RequestInfo) -> Admit {
        if !self.enabled {
            return Admit::Now;
        }
        let have = self.capacity_at(secs(now));
        if have >= 1.0 {
            return Admit::Now;
        }
        // `acquire` sleeps `(amount − capacity) / fill_rate`, then tries again.
        let wait = libm::ceil((1.0 - have) / self.fill_rate * SECOND as f64);
        let wait = if wait >= 1.0 { wait as Nanos } else { 1 };
        Admit::At(now.saturating_add(wait))
    }
    fn on_send(&mut self, now: Nanos, _req: &RequestInfo) {
        if self.enabled {
            self.refill(secs(now));
            self.capacity = (self.capacity - 1.0).max(0.0);
        }
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        let t = secs(now);
        let measured = self.record(t);
        let new_rate = if resp.outcome == Outcome::RateLimited {
            let rate_to_use = if self.enabled {
                // `min(measured_rate, token_bucket.max_rate)`; the getter answers the fill rate.
                measured.min(self.fill_rate)
            } else {
                measured
            };
            self.w_max = rate_to_use;
            self.k = self.zero_point();
            self.last_fail = t;
            self.enabled = true;
            rate_to_use * self.c.beta
        } else {
            let dt = t - self.last_fail;
            self.c.scale_constant * libm::pow(dt - self.k, 3.0) + self.w_max
        };
        self.set_max_rate(new_rate.min(2.0 * measured), t);
    }
    fn hints(&self) -> Hints {
        Hints::HEARS_REPLIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply, req};

    fn adaptive() -> AwsAdaptive {
        toml::from_str::<AwsAdaptiveConfig>("")
            .unwrap()
            .build(Draws::new(0))
    }

    #[test]
    fn off_until_the_first_throttle() {
        let mut s = adaptive();
        for id in 0..50 {
            assert_eq!(s.poll_admit(0, &req(id)), Admit::Now);
            s.on_send(0, &req(id));
        }
        assert!(!s.enabled());
    }

    #[test]
    fn a_throttle_cuts_the_rate_to_beta_times_the_measured_rate() {
        let mut s = adaptive();
        // 10 replies per second for 3 s: the measured rate settles near 10/s.
        let mut t = 0;
        for id in 0..30 {
            t += SECOND / 10;
            s.on_send(t - 1, &req(id));
            s.on_response(t, &reply(id, t - 1, 200));
        }
        let measured = s.measured_rate();
        assert!((9.0..=11.0).contains(&measured), "{measured}");
        t += SECOND / 10;
        s.on_response(t, &reply(30, t - 1, 429));
        assert!(s.enabled());
        let expected = 0.7 * s.measured_rate();
        assert!((s.fill_rate() - expected).abs() < 1e-9, "{}", s.fill_rate());
        // The bucket has filled since it was made (botocore refills it on every rate change),
        // up to its capacity of max(rate, 1) ≈ 7 tokens; then a send waits for the next.
        let mut sent = 0;
        while s.poll_admit(t, &req(31 + sent)) == Admit::Now {
            s.on_send(t, &req(31 + sent));
            sent += 1;
        }
        assert!((1..=7).contains(&sent), "{sent}");
        let Admit::At(next) = s.poll_admit(t, &req(40)) else {
            panic!("an empty bucket waits")
        };
        assert!(
            next - t <= SECOND / 7 + 1,
            "one token at about 7/s: {}",
            next - t
        );
    }

    #[test]
    fn cubic_climbs_back_to_w_max_after_k_seconds() {
        let mut s = adaptive();
        s.measured = 10.0;
        s.last_bucket = 0.0;
        s.on_response(SECOND / 4, &reply(0, 0, 429));
        let w_max = s.w_max;
        let k = s.k;
        // At last_fail + K the CUBIC rate is W_max again (capped by twice the measured rate).
        let at = s.last_fail + k;
        let rate = s.c.scale_constant * libm::pow(at - s.last_fail - k, 3.0) + w_max;
        assert!((rate - w_max).abs() < 1e-9);
        assert!(k > 0.0);
    }

    #[test]
    fn the_fill_rate_never_drops_below_the_floor() {
        let mut s = adaptive();
        let mut t = 0;
        for id in 0..200 {
            t += SECOND;
            s.on_response(t, &reply(id, t - 1, 429));
            assert!(s.fill_rate() >= 0.5);
        }
    }
}
