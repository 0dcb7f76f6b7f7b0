//! The numbers behind the charts: runs grouped by (point, strategy), and a metric's spread over
//! the seeds (min–max for one or two seeds, mean ± 95 % confidence interval from three).

use std::collections::BTreeMap;

use super::{SweepCell, SweepData};

/// Two-sided 95 % quantiles of Student's t for 1..=30 degrees of freedom.
const T95: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The two-sided 95 % quantile of Student's t with `df` degrees of freedom (1.96 beyond 120).
pub fn t95(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T95[df - 1],
        31..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// A metric over the seeds of one (point, strategy).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    /// The mean.
    pub mean: f64,
    /// The band's bottom: the minimum, or the mean − the 95 % CI's half-width, never below 0
    /// (every metric charted is a count, a time or a rate).
    pub lo: f64,
    /// The band's top: the maximum, or the mean + the half-width.
    pub hi: f64,
}

impl Band {
    /// The band of `values`: min–max for fewer than 3, mean ± 95 % CI from 3. `None` when empty.
    pub fn of(values: &[f64]) -> Option<Band> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if n < 3 {
            return Some(Band {
                mean,
                lo: min,
                hi: max,
            });
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t95(n - 1) * (var / n as f64).sqrt();
        Some(Band {
            mean,
            lo: (mean - half).max(0.0).min(mean),
            hi: mean + half,
        })
    }
}

/// Whether bands are confidence intervals (3 seeds or more) rather than min–max.
pub(super) fn is_ci(data: &SweepData) -> bool {
    data.seeds.len() >= 3
}

/// The runs of each (point, strategy), in order.
pub(super) struct Groups<'a> {
    groups: BTreeMap<(&'a [usize], usize), Vec<&'a SweepCell>>,
}

impl<'a> Groups<'a> {
    /// Groups the cells of `data`.
    pub(super) fn new(data: &'a SweepData) -> Groups<'a> {
        let mut groups: BTreeMap<(&[usize], usize), Vec<&SweepCell>> = BTreeMap::new();
        for c in &data.cells {
            groups
                .entry((c.point.as_slice(), c.strategy))
                .or_default()
                .push(c);
        }
        for g in groups.values_mut() {
            g.sort_by_key(|c| c.seed);
        }
        Groups { groups }
    }

    /// `metric` at (`point`, `strategy`) over the seeds (empty when not run or no value).
    pub(super) fn values(&self, point: &[usize], strategy: usize, metric: &str) -> Vec<f64> {
        self.groups
            .get(&(point, strategy))
            .map(|g| {
                g.iter()
                    .filter_map(|c| c.metrics.get(metric).copied())
                    .filter(|v| v.is_finite())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The band of `metric` at (`point`, `strategy`).
    pub(super) fn band(&self, point: &[usize], strategy: usize, metric: &str) -> Option<Band> {
        Band::of(&self.values(point, strategy, metric))
    }

    /// Whether (`point`, `strategy`) was run, and if so whether it meets the constraints.
    pub(super) fn meets(&self, point: &[usize], strategy: usize) -> Option<bool> {
        self.groups
            .get(&(point, strategy))
            .and_then(|g| g.first())
            .map(|c| c.meets)
    }
}

/// The point the other parameters are held at: the best point's, else the first point run.
pub(super) fn held(data: &SweepData) -> Vec<usize> {
    if let Some(b) = &data.best {
        return b.point.clone();
    }
    data.cells
        .iter()
        .map(|c| c.point.clone())
        .min()
        .unwrap_or_else(|| vec![0; data.params.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_min_max_then_confidence_intervals() {
        let b = Band::of(&[2.0, 4.0]).unwrap();
        assert_eq!((b.mean, b.lo, b.hi), (3.0, 2.0, 4.0));
        let b = Band::of(&[1.0, 2.0, 3.0]).unwrap();
        // sd 1, n 3: half-width 4.303 / sqrt(3) = 2.484; clamped at 0 below.
        assert!((b.hi - 4.484).abs() < 1e-3, "{b:?}");
        assert_eq!(b.lo, 0.0);
        assert_eq!(Band::of(&[]), None);
        assert_eq!(t95(200), 1.96);
    }
}
