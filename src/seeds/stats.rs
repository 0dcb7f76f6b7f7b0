//! The statistics of `ratelab run --seeds N`: mean, standard deviation and the 95 % confidence
//! interval of a metric over seeds (Student's t), and the paired difference of two strategies
//! on the same seeds beside the interval independent seeds would give (Welch).
//!
//! The t quantile is a table of t(0.975, df) for df 1 to 30 (the values R's `qt(0.975, df)`
//! prints, to 9 decimals), linear in 1/df between two entries (Welch's df is fractional), and
//! beyond 30 the Cornish–Fisher expansion of t in powers of 1/df around the normal quantile
//! (Abramowitz & Stegun 26.7.5, four terms: off by less than 5·10⁻⁶ at df = 30, less further
//! out).

/// t(0.975, df) for df = 1 ..= 30 (element df − 1).
const T975: [f64; 30] = [
    12.706204736,
    4.302652730,
    3.182446305,
    2.776445105,
    2.570581836,
    2.446911851,
    2.364624252,
    2.306004135,
    2.262157163,
    2.228138852,
    2.200985160,
    2.178812830,
    2.160368656,
    2.144786688,
    2.131449546,
    2.119905299,
    2.109815578,
    2.100922040,
    2.093024054,
    2.085963447,
    2.079613845,
    2.073873068,
    2.068657610,
    2.063898562,
    2.059538553,
    2.055529439,
    2.051830516,
    2.048407142,
    2.045229642,
    2.042272456,
];

/// The normal distribution's 0.975 quantile.
const Z975: f64 = 1.959_963_984_540_054;

/// The 0.975 quantile of Student's t with `df` degrees of freedom (df ≥ 1; a fractional df, as
/// Welch's, is allowed). The half-width of a two-sided 95 % interval is this times the standard
/// error.
pub fn t975(df: f64) -> f64 {
    let df = df.max(1.0);
    if df <= 30.0 {
        let lo = df.floor();
        let (a, b) = (T975[lo as usize - 1], T975[(lo as usize).min(29)]);
        if lo == df || lo == 30.0 {
            return a;
        }
        // Linear in 1/df between the two entries.
        let hi = lo + 1.0;
        let w = (1.0 / lo - 1.0 / df) / (1.0 / lo - 1.0 / hi);
        return a + w * (b - a);
    }
    cornish_fisher(df)
}

/// Four terms of t's expansion around the normal quantile.
fn cornish_fisher(df: f64) -> f64 {
    let z = Z975;
    let z2 = z * z;
    let z3 = z2 * z;
    let z5 = z3 * z2;
    let z7 = z5 * z2;
    let z9 = z7 * z2;
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
    z + g1 / df + g2 / (df * df) + g3 / (df * df * df) + g4 / (df * df * df * df)
}

/// What a sample of per-seed values says: its size, mean, standard deviation (n − 1) and the
/// half-width of the 95 % confidence interval of the mean (t(0.975, n − 1) · sd / √n). The sd
/// and the interval need two values, the mean one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Described {
    /// Values in the sample.
    pub n: usize,
    /// Their mean.
    pub mean: Option<f64>,
    /// Their sample standard deviation.
    pub sd: Option<f64>,
    /// Half-width of the 95 % confidence interval of the mean.
    pub ci95_half_width: Option<f64>,
}

/// The sample variance (n − 1), two passes; `None` below two values.
fn variance(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some(ss / (xs.len() - 1) as f64)
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// A spread this small against the values' size is rounding, not variation: taken as 0 (the
/// makespans of a strategy that ends every seed a fixed time after another differ by a few ulps).
const ROUNDING: f64 = 1e-12;

/// Describes a sample (see [`Described`]).
pub fn describe(xs: &[f64]) -> Described {
    let scale = xs.iter().fold(1.0_f64, |m, x| m.max(x.abs()));
    let sd = variance(xs)
        .map(f64::sqrt)
        .map(|sd| if sd <= ROUNDING * scale { 0.0 } else { sd });
    Described {
        n: xs.len(),
        mean: mean(xs),
        sd,
        ci95_half_width: sd.map(|sd| t975((xs.len() - 1) as f64) * sd / (xs.len() as f64).sqrt()),
    }
}

/// The 95 % half-width of the difference of the means of two independent samples, by Welch:
/// t(0.975, ν) · √(a_var/n_a + b_var/n_b) with the Welch–Satterthwaite ν. `None` when a sample
/// has fewer than two values; 0 when neither varies.
pub fn welch_half_width(a: &[f64], b: &[f64]) -> Option<f64> {
    let (va, vb) = (variance(a)? / a.len() as f64, variance(b)? / b.len() as f64);
    let se2 = va + vb;
    let scale = a.iter().chain(b).fold(1.0_f64, |m, x| m.max(x.abs()));
    if se2.sqrt() <= ROUNDING * scale {
        return Some(0.0);
    }
    let df = se2 * se2 / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64);
    Some(t975(df) * se2.sqrt())
}

/// A strategy against the baseline on the same seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Paired {
    /// Seeds where both have a value.
    pub n: usize,
    /// Mean of (strategy − baseline) over those seeds.
    pub mean_diff: Option<f64>,
    /// 95 % half-width from the per-seed differences (Student t, n − 1 df).
    pub paired_ci95_half_width: Option<f64>,
    /// 95 % half-width the difference of means would have with independent seeds (Welch, from
    /// the two strategies' own variances over the same seeds).
    pub independent_ci95_half_width: Option<f64>,
    /// independent / paired: how much narrower common random numbers make the interval
    /// (`None` when the paired half-width is 0 or unknown).
    pub gain: Option<f64>,
}

/// Compares `other` with `baseline`, seed by seed (element k of each is seed k's value; a seed
/// where either has none is left out).
pub fn paired(baseline: &[Option<f64>], other: &[Option<f64>]) -> Paired {
    let (mut a, mut b, mut d) = (Vec::new(), Vec::new(), Vec::new());
    for (x, y) in baseline.iter().zip(other) {
        if let (Some(x), Some(y)) = (x, y) {
            a.push(*x);
            b.push(*y);
            d.push(y - x);
        }
    }
    let diff = describe(&d);
    let independent = welch_half_width(&a, &b);
    let gain = match (diff.ci95_half_width, independent) {
        (Some(p), Some(i)) if p > 0.0 => Some(i / p),
        _ => None,
    };
    Paired {
        n: d.len(),
        mean_diff: diff.mean,
        paired_ci95_half_width: diff.ci95_half_width,
        independent_ci95_half_width: independent,
        gain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_published_values() {
        // qt(0.975, df) for df 1, 2, 9, 29 and further out (R, or any statistics table).
        for (df, t) in [
            (1.0, 12.7062),
            (2.0, 4.3027),
            (9.0, 2.2622),
            (29.0, 2.0452),
            (30.0, 2.0423),
            (40.0, 2.0211),
            (60.0, 2.0003),
            (120.0, 1.9799),
            (1e9, 1.9600),
        ] {
            assert!(close(t975(df), t, 5e-5), "df {df}: {} vs {t}", t975(df));
        }
        // The expansion meets the table at 30.
        assert!(close(cornish_fisher(30.0), T975[29], 5e-6));
        // Between entries, between their values (Welch's fractional df).
        let mid = t975(9.5);
        assert!(mid < t975(9.0) && mid > t975(10.0), "{mid}");
        // Below one degree of freedom is taken as one.
        assert_eq!(t975(0.5), T975[0]);
    }

    #[test]
    fn a_known_sample() {
        // 1..=5: mean 3, sd √2.5 = 1.5811, half-width 2.7764 · 1.5811 / √5 = 1.9632.
        let d = describe(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((d.n, d.mean), (5, Some(3.0)));
        assert!(close(d.sd.unwrap(), 1.581_138_83, 1e-8));
        assert!(close(d.ci95_half_width.unwrap(), 1.963_243_6, 1e-6));
        // Two values, df 1: 12.706 · sd / √2, sd of {10, 12} = √2, so 12.7062.
        let d = describe(&[10.0, 12.0]);
        assert!(close(d.ci95_half_width.unwrap(), 12.706_204_736, 1e-9));
        // One value: a mean and nothing else.
        let d = describe(&[7.0]);
        assert_eq!((d.mean, d.sd, d.ci95_half_width), (Some(7.0), None, None));
        assert_eq!(describe(&[]).mean, None);
    }

    #[test]
    fn welch_and_paired_by_hand() {
        // a = 1..=5 (var 2.5), b = 2·a (var 10): se² = 2.5/5 + 10/5 = 2.5, ν = 2.5² / (0.5²/4 +
        // 2²/4) = 6.25 / 1.0625 = 5.88; t(0.975, 5.88) between t(6) = 2.4469 and t(5) = 2.5706.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 4.0, 6.0, 8.0, 10.0];
        let w = welch_half_width(&a, &b).unwrap();
        let lo = 2.446_911_851 * 2.5_f64.sqrt();
        let hi = 2.570_581_836 * 2.5_f64.sqrt();
        assert!(w > lo && w < hi, "{w} not in {lo}..{hi}");
        // Paired: the differences are a itself (1..=5): mean 3, half-width 1.9632; Welch's
        // interval is wider because the two move together.
        let opt = |xs: &[f64]| xs.iter().map(|x| Some(*x)).collect::<Vec<_>>();
        let p = paired(&opt(&a), &opt(&b));
        assert_eq!((p.n, p.mean_diff), (5, Some(3.0)));
        assert!(close(p.paired_ci95_half_width.unwrap(), 1.963_243_6, 1e-6));
        assert!(close(p.gain.unwrap(), w / 1.963_243_6, 1e-6));
        // A constant difference: no paired spread, so no ratio.
        let p = paired(&opt(&a), &opt(&[2.0, 3.0, 4.0, 5.0, 6.0]));
        assert_eq!((p.paired_ci95_half_width, p.gain), (Some(0.0), None));
        // A difference constant up to rounding counts as constant.
        let p = paired(&opt(&[0.1, 0.7, 1.3]), &opt(&[0.3, 0.9, 1.5]));
        assert_eq!((p.paired_ci95_half_width, p.gain), (Some(0.0), None));
        // Seeds where one has no value are left out of both.
        let p = paired(
            &[Some(1.0), None, Some(3.0)],
            &[Some(2.0), Some(9.0), Some(5.0)],
        );
        assert_eq!((p.n, p.mean_diff), (2, Some(1.5)));
    }
}
