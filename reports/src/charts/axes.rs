//! The axes the charts need beyond plotters' own: one labelled at chosen values, a logarithmic
//! one labelled 1-2-5, a linear or symlog value axis from 0, and the unit of a time axis.

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
    /// An axis over `lo..hi` with at most 10 labels.
    pub(super) fn new(lo: f64, hi: f64) -> LogAxis {
        LogAxis::with_labels(lo, hi, 10)
    }

    /// An axis over `lo..hi` with at most `most` labels at 1, 2 and 5 (only the powers of ten
    /// beyond).
    pub(super) fn with_labels(lo: f64, hi: f64, most: usize) -> LogAxis {
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
        if keys.len() > most {
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
#[derive(Clone, Copy, Debug)]
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

/// How a [`ScaledAxis`] maps values before placing them linearly.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Scale {
    /// Linear.
    Linear,
    /// Linear from 0 to 1, logarithmic above: 0 sits at the bottom, 1 one decade below 10.
    Symlog,
}

impl Scale {
    fn apply(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Symlog if v <= 1.0 => v.max(0.0),
            Scale::Symlog => 1.0 + v.log10(),
        }
    }
}

/// A value axis from 0 with its labels at chosen values, linear or symlog.
pub(super) struct ScaledAxis {
    top: f64,
    scale: Scale,
    keys: Vec<f64>,
}

impl ScaledAxis {
    /// A linear axis from 0 that holds `max`, labelled at round steps.
    pub(super) fn linear(max: f64) -> ScaledAxis {
        let max = if max > 0.0 && max.is_finite() {
            max
        } else {
            1.0
        };
        let step = nice_step(max / 5.0);
        let keys = (0..)
            .map(|k| f64::from(k) * step)
            .take_while(|&k| k <= max * 1.08 + step * 1e-9)
            .collect();
        ScaledAxis {
            top: max * 1.08,
            scale: Scale::Linear,
            keys,
        }
    }

    /// A symlog axis from 0 that holds `max`, labelled at 0, 1 and the powers of ten (and 2, 5,
    /// 20, 50 when it spans two decades or less).
    pub(super) fn symlog(max: f64) -> ScaledAxis {
        let max = max.max(1.0);
        let top = 10f64.powf(max.log10() * 1.06 + 0.02);
        let mut keys = vec![0.0];
        let few = max <= 100.0;
        let mut decade = 1.0;
        while decade <= top {
            for m in [1.0, 2.0, 5.0] {
                let k = decade * m;
                if k <= top && (m == 1.0 || few) {
                    keys.push(k);
                }
            }
            decade *= 10.0;
        }
        ScaledAxis {
            top,
            scale: Scale::Symlog,
            keys,
        }
    }

    /// A linear axis over `0..top`, labelled at `keys`.
    pub(super) fn keyed(top: f64, keys: Vec<f64>) -> ScaledAxis {
        ScaledAxis {
            top,
            scale: Scale::Linear,
            keys,
        }
    }
}

impl Ranged for ScaledAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = self.scale.apply(*v) / self.scale.apply(self.top);
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.top
    }
}

/// The round step (1, 2, 2.5 or 5 times a power of ten) at or above `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
    let raw = if raw > 0.0 && raw.is_finite() {
        raw
    } else {
        1.0
    };
    let decade = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|&s| s >= raw * 0.999_999)
        .unwrap_or(10.0 * decade)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlog_shows_one_next_to_a_thousand() {
        let axis = ScaledAxis::symlog(600.0);
        assert_eq!(axis.keys, vec![0.0, 1.0, 10.0, 100.0]);
        // 1 is a quarter of the way up a 0..~1000 axis, not a thousandth.
        let one = axis.map(&1.0, (0, 400));
        assert!((90..=110).contains(&one), "{one}");
        assert_eq!(axis.map(&0.0, (0, 400)), 0);
        assert_eq!(
            ScaledAxis::symlog(30.0).keys,
            vec![0.0, 1.0, 2.0, 5.0, 10.0, 20.0]
        );
    }

    #[test]
    fn linear_axes_step_roundly() {
        assert_eq!(ScaledAxis::linear(1000.0).keys[..3], [0.0, 200.0, 400.0]);
        assert_eq!(nice_step(0.23), 0.25);
        assert_eq!(nice_step(3333.0 / 5.0), 1000.0);
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
