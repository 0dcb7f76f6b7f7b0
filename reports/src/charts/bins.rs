//! The per-second series binned to the run's length: one bin width for every time chart of a
//! run, chosen so that a run of any length is drawn from about 100 to 200 bins (a 5-minute run
//! in 2 s bins, a 74-minute one in 30 s bins). For drawing only: the table's statistics come from
//! the result untouched.

/// Bins wanted at most over the run.
pub(crate) const MAX_BINS: f64 = 200.0;

/// Round bin widths, s, tried from the narrowest.
const WIDTHS: [u64; 21] = [
    1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200,
    86_400, 172_800, 604_800,
];

/// The bin width, s, for a run of `span_s` seconds whose series have elements of `step_s`: the
/// narrowest round width (a multiple of `step_s`) that gives at most [`MAX_BINS`] bins.
pub(super) fn bin_width(span_s: f64, step_s: u64) -> u64 {
    let step = step_s.max(1);
    WIDTHS
        .into_iter()
        .filter(|w| w % step == 0)
        .find(|&w| span_s / w as f64 <= MAX_BINS)
        .unwrap_or_else(|| {
            let mut w = step;
            while span_s / w as f64 > MAX_BINS {
                w *= 2;
            }
            w
        })
}

/// A series cut into bins of `bin_s` seconds: each bin's sum over its elements and the seconds
/// of the series it covers (the last bin may be partial).
fn sums(values: &[f64], step_s: u64, bin_s: u64) -> Vec<(f64, f64)> {
    let per_bin = (bin_s / step_s.max(1)).max(1) as usize;
    values
        .chunks(per_bin)
        .map(|c| (c.iter().sum(), (c.len() as u64 * step_s.max(1)) as f64))
        .collect()
}

/// What a bin's point shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Binned {
    /// The bin's total (429s per bin).
    Total,
    /// The bin's total per second it covers (successes/s, tokens/s).
    PerSecond,
    /// The mean of per-element means (attempts in flight), weighted by the seconds covered.
    Mean,
    /// The largest element (the longest queue).
    Max,
}

/// The points of a series binned into `bin_s` seconds, one at the middle of each bin, x in
/// seconds.
pub(super) fn binned(values: &[f64], step_s: u64, bin_s: u64, how: Binned) -> Vec<(f64, f64)> {
    if how == Binned::Max {
        let per = (bin_s / step_s.max(1)).max(1) as usize;
        return values
            .chunks(per)
            .enumerate()
            .map(|(i, c)| {
                let covered = (c.len() as u64 * step_s.max(1)) as f64;
                let x = (i * per) as f64 * step_s.max(1) as f64 + covered / 2.0;
                (x, c.iter().copied().fold(0.0, f64::max))
            })
            .collect();
    }
    let step = step_s.max(1) as f64;
    let weighted: Vec<f64> = match how {
        Binned::Mean => values.iter().map(|v| v * step).collect(),
        _ => values.to_vec(),
    };
    let mut start = 0.0;
    sums(&weighted, step_s, bin_s)
        .into_iter()
        .map(|(sum, covered)| {
            let x = start + covered / 2.0;
            start += covered;
            let y = match how {
                Binned::Total => sum,
                Binned::PerSecond | Binned::Mean => sum / covered,
                Binned::Max => unreachable!("binned above"),
            };
            (x, y)
        })
        .collect()
}

/// The running total of a series at each bin's end, from (0, 0), x in seconds, ending at
/// `end_s` (the time of the last final state) with the series' total.
pub(super) fn cumulative(values: &[u64], step_s: u64, bin_s: u64, end_s: f64) -> Vec<(f64, f64)> {
    let as_f64: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    let total: f64 = as_f64.iter().sum();
    let mut points = vec![(0.0, 0.0)];
    let (mut t, mut sum) = (0.0, 0.0);
    for (bin, covered) in sums(&as_f64, step_s, bin_s) {
        t += covered;
        sum += bin;
        if t >= end_s {
            break;
        }
        points.push((t, sum));
    }
    points.push((end_s.max(0.0), total));
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_fit_the_run() {
        assert_eq!(bin_width(74.0 * 60.0, 1), 30);
        assert_eq!(bin_width(280.0, 1), 2);
        assert_eq!(bin_width(50.0, 1), 1);
        assert_eq!(bin_width(86_400.0, 1), 600);
        // Elements of 32 s: a multiple of 32.
        assert_eq!(bin_width(30.0 * 86_400.0, 32) % 32, 0);
        assert!(30.0 * 86_400.0 / bin_width(30.0 * 86_400.0, 32) as f64 <= MAX_BINS);
    }

    #[test]
    fn binned_series_keep_totals_rates_and_means() {
        let v = [1.0, 3.0, 5.0, 7.0, 9.0];
        assert_eq!(
            binned(&v, 1, 2, Binned::Total),
            vec![(1.0, 4.0), (3.0, 12.0), (4.5, 9.0)]
        );
        assert_eq!(
            binned(&v, 1, 2, Binned::PerSecond),
            vec![(1.0, 2.0), (3.0, 6.0), (4.5, 9.0)]
        );
        assert_eq!(binned(&[2.0, 4.0], 2, 4, Binned::Mean), vec![(2.0, 3.0)]);
        assert_eq!(
            binned(&v, 1, 2, Binned::Max),
            vec![(1.0, 3.0), (3.0, 7.0), (4.5, 9.0)]
        );
    }

    #[test]
    fn cumulative_runs_from_zero_to_the_total_at_the_end() {
        let c = cumulative(&[2, 0, 3, 1, 0], 1, 2, 3.5);
        assert_eq!(c, vec![(0.0, 0.0), (2.0, 2.0), (3.5, 6.0)]);
    }
}
