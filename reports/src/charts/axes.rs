//! The axes the charts need beyond plotters' own: one labelled at chosen values, a logarithmic
//! one labelled 1-2-5, the unit of a time axis, and the "nines" scale of the latency chart.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

/// A linear axis whose labels and grid lines sit exactly at the given values (plotters' own
/// `with_key_points` gives up the label formatter).
pub(super) struct KeyedAxis {
    range: Range<f64>,
    keys: Vec<f64>,
}

impl KeyedAxis {
    pub(super) fn new(range: Range<f64>, keys: Vec<f64>) -> KeyedAxis {
        KeyedAxis { range, keys }
    }
}

impl Ranged for KeyedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.range.start) / span;
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A logarithmic axis labelled at 1, 2 and 5 times the powers of ten it spans (only the powers
/// when that would crowd it).
pub(super) struct LogAxis {
    lo: f64,
    hi: f64,
    keys: Vec<f64>,
}

impl LogAxis {
    pub(super) fn new(lo: f64, hi: f64) -> LogAxis {
        let (lo, hi) = (lo.max(f64::MIN_POSITIVE), hi.max(lo * 10.0));
        let mut keys = Vec::new();
        let mut decade = 10f64.powf(lo.log10().floor());
        while decade <= hi {
            for m in [1.0, 2.0, 5.0] {
                let k = decade * m;
                if k >= lo * 0.999_999 && k <= hi {
                    keys.push(k);
                }
            }
            decade *= 10.0;
        }
        if keys.len() > 10 {
            keys.retain(|k| (k.log10() - k.log10().round()).abs() < 1e-9);
        }
        LogAxis { lo, hi, keys }
    }
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let v = v.max(self.lo);
        let t = (v / self.lo).ln() / (self.hi / self.lo).ln();
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// The unit of a time axis.
#[derive(Clone, Copy)]
pub(super) struct TimeUnit {
    /// Seconds per unit.
    pub(super) seconds: f64,
    /// Its name on the axis.
    pub(super) name: &'static str,
}

impl TimeUnit {
    /// The unit for a run of `span_s` seconds.
    pub(super) fn for_span(span_s: f64) -> TimeUnit {
        if span_s <= 600.0 {
            TimeUnit {
                seconds: 1.0,
                name: "s",
            }
        } else if span_s <= 36_000.0 {
            TimeUnit {
                seconds: 60.0,
                name: "min",
            }
        } else {
            TimeUnit {
                seconds: 3600.0,
                name: "h",
            }
        }
    }
}

/// Position of quantile `q` on the latency chart's axis: "nines", so that p90, p99, p99.9 and
/// p99.99 are evenly spaced; the maximum sits at the right end.
pub(super) fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        NINES_MAX
    } else {
        (-(1.0 - q).log10()).clamp(0.0, 4.0)
    }
}
/// The right end of the nines scale: the maximum.
pub(super) const NINES_MAX: f64 = 4.5;

/// The label of position `x` on the nines scale.
pub(super) fn nines_label(x: f64) -> String {
    match (x * 2.0).round() as i64 {
        0 => "min".into(),
        2 => "p90".into(),
        4 => "p99".into(),
        6 => "p99.9".into(),
        8 => "p99.99".into(),
        9 => "max".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_spread_the_tail() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(nines(1.0), NINES_MAX);
        assert_eq!(nines_label(3.0), "p99.9");
    }

    #[test]
    fn log_axis_labels_one_two_five() {
        assert_eq!(
            LogAxis::new(0.15, 60.0).keys,
            vec![0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        );
        assert_eq!(
            LogAxis::new(0.5, 2e6).keys,
            vec![1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
        );
        let axis = LogAxis::new(1.0, 100.0);
        assert_eq!(axis.map(&10.0, (0, 200)), 100);
    }
}
