//! Long series drawn with a bounded number of points, peaks and troughs kept (for drawing only:
//! the statistics come from the result untouched).

use super::axes::TimeUnit;

/// Points drawn at most per line: series longer than this are bucketed.
pub(crate) const MAX_POINTS: usize = 1200;

/// The points to draw for a per-second series: every second when the series is short, else
/// buckets of whole seconds, each drawn by its smallest and its largest value in time order (so
/// peaks and troughs survive at any length), at most [`MAX_POINTS`] points. x is the start of
/// the second, in `unit`.
pub(super) fn downsample(values: &[f64], unit: TimeUnit, step_s: f64) -> Vec<(f64, f64)> {
    let at = |i: usize| (i as f64 * step_s / unit.seconds, values[i]);
    if values.len() <= MAX_POINTS {
        return (0..values.len()).map(at).collect();
    }
    let bucket = values.len().div_ceil(MAX_POINTS / 2);
    let mut points = Vec::with_capacity(MAX_POINTS);
    for start in (0..values.len()).step_by(bucket) {
        let end = (start + bucket).min(values.len());
        let (mut lo, mut hi) = (start, start);
        for i in start..end {
            if values[i] < values[lo] {
                lo = i;
            }
            if values[i] > values[hi] {
                hi = i;
            }
        }
        let (a, b) = (lo.min(hi), lo.max(hi));
        points.push(at(a));
        if b != a {
            points.push(at(b));
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECONDS: TimeUnit = TimeUnit {
        seconds: 1.0,
        name: "s",
    };

    #[test]
    fn short_series_are_drawn_whole() {
        let v = [1.0, 5.0, 2.0];
        assert_eq!(
            downsample(&v, SECONDS, 1.0),
            vec![(0.0, 1.0), (1.0, 5.0), (2.0, 2.0)]
        );
    }

    #[test]
    fn long_series_keep_their_peaks_and_troughs() {
        let mut v: Vec<f64> = (0..100_000).map(|i| (i % 7) as f64).collect();
        v[54_321] = 1000.0;
        v[77_777] = -3.0;
        let d = downsample(&v, SECONDS, 1.0);
        assert!(d.len() <= MAX_POINTS, "{} points", d.len());
        assert!(d.contains(&(54_321.0, 1000.0)));
        assert!(d.contains(&(77_777.0, -3.0)));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "in time order");
    }
}
