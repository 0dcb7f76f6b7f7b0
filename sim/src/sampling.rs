//! Exact samplers of the standard exponential and normal distributions from addressed draws,
//! by the ziggurat method (Marsaglia and Tsang, 2000).
//!
//! A sample needs one 64-bit word in about 98 cases out of 100 (a table look-up, a multiplication
//! and a comparison: no logarithm, no division); the rest ask `more` for further words until
//! they are done. The tables are computed once, with `libm`, so every platform samples the same
//! bits.

use std::sync::OnceLock;

use rand_core::Rng;
use ratelab_strategies::draws::{Draws, Purpose, unit_open};

/// Layers of a ziggurat.
const LAYERS: usize = 256;

/// One ziggurat: layer `i` spans `[0, x[i]]` between heights `f[i]` and `f[i + 1]`; its part
/// `[0, x[i + 1]]` lies wholly under the density. Layer 0 is the base strip, which stands for the
/// rectangle under the density up to `x[1]` plus the tail beyond it.
struct Ziggurat {
    x: [f64; LAYERS + 1],
    f: [f64; LAYERS + 1],
    /// The density on `[0, ∞)`, decreasing, 1 at 0.
    density: fn(f64) -> f64,
    /// Symmetric about 0 (the normal): a word's uniform spans `[-1, 1)`, so samples take a sign.
    symmetric: bool,
    /// A sample from the tail beyond `x[1]`, on the side of the given point, from further words.
    tail: fn(f64, &mut dyn FnMut() -> u64) -> f64,
}

impl Ziggurat {
    /// The ziggurat of `density` (inverse `inverse`) with the base strip's tail starting at `r`
    /// and every layer of area `v`.
    fn new(
        r: f64,
        v: f64,
        density: fn(f64) -> f64,
        inverse: fn(f64) -> f64,
        symmetric: bool,
        tail: fn(f64, &mut dyn FnMut() -> u64) -> f64,
    ) -> Self {
        let mut x = [0.0; LAYERS + 1];
        x[0] = v / density(r);
        x[1] = r;
        for i in 1..LAYERS - 1 {
            x[i + 1] = inverse(density(x[i]) + v / x[i]);
        }
        x[LAYERS] = 0.0;
        let f = x.map(density);
        Ziggurat {
            x,
            f,
            density,
            symmetric,
            tail,
        }
    }

    /// The layer (low 8 bits of `bits`) and the point its uniform (top 53 bits) picks in it.
    #[inline]
    fn point(&self, bits: u64) -> (usize, f64) {
        let layer = (bits & 0xff) as usize;
        let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let u = if self.symmetric { 2.0 * u - 1.0 } else { u };
        (layer, u * self.x[layer])
    }

    /// A sample from `bits`, and from `more` when the point falls outside its layer's inner box.
    #[inline]
    fn sample(&self, bits: u64, mut more: impl FnMut() -> u64) -> f64 {
        let (i, x) = self.point(bits);
        if x.abs() < self.x[i + 1] {
            return x;
        }
        self.beyond_the_box(i, x, &mut more)
    }

    /// The rare case: the tail of the base strip, or the wedge of layer `i` above the density,
    /// where the point is kept with the probability the density gives, or else a new point is
    /// drawn (from the next word, as a sample of its own).
    #[cold]
    fn beyond_the_box(&self, i: usize, x: f64, more: &mut dyn FnMut() -> u64) -> f64 {
        if i == 0 {
            return (self.tail)(x, more);
        }
        if self.f[i] + (self.f[i + 1] - self.f[i]) * unit_open(more()) < (self.density)(x) {
            return x;
        }
        let bits = more();
        self.sample(bits, more)
    }
}

/// Where the exponential ziggurat's tail starts, and each layer's area.
const EXP_R: f64 = 7.697_117_470_131_05;
const EXP_V: f64 = 3.949_659_822_581_572e-3;
/// The same for the normal ziggurat (of `exp(-x²/2)`, unnormalised).
const NORMAL_R: f64 = 3.654_152_885_361_009;
const NORMAL_V: f64 = 4.928_673_233_99e-3;

fn exp_ziggurat() -> &'static Ziggurat {
    static Z: OnceLock<Ziggurat> = OnceLock::new();
    Z.get_or_init(|| {
        Ziggurat::new(
            EXP_R,
            EXP_V,
            |x| libm::exp(-x),
            |y| -libm::log(y),
            false,
            // The tail beyond r is r plus a standard exponential.
            |_, more| EXP_R - libm::log(unit_open(more())),
        )
    })
}

fn normal_ziggurat() -> &'static Ziggurat {
    static Z: OnceLock<Ziggurat> = OnceLock::new();
    Z.get_or_init(|| {
        Ziggurat::new(
            NORMAL_R,
            NORMAL_V,
            |x| libm::exp(-0.5 * x * x),
            |y| libm::sqrt(-2.0 * libm::log(y)),
            true,
            // The tail beyond r (Marsaglia, 1964), on the side of the point.
            |x, more| loop {
                let a = libm::log(unit_open(more())) / NORMAL_R;
                let b = libm::log(unit_open(more()));
                if -2.0 * b >= a * a {
                    return if x < 0.0 { a - NORMAL_R } else { NORMAL_R - a };
                }
            },
        )
    })
}

/// The further words of an address, for the rare sample that needs more than its first: the
/// words of the address's own block ([`Draws::rng`], keyed apart from the single-word layout),
/// generated only when first asked for.
#[inline]
pub fn further_words(
    draws: Draws,
    purpose: Purpose,
    client: u32,
    request: u64,
    attempt: u32,
) -> impl FnMut() -> u64 {
    let mut block = None;
    move || {
        block
            .get_or_insert_with(|| draws.rng(purpose, client, request, attempt))
            .next_u64()
    }
}

/// A standard exponential (mean 1) from `bits`, asking `more` for words when one is not enough
/// (about 1 sample in 45).
#[inline]
pub fn exponential(bits: u64, more: impl FnMut() -> u64) -> f64 {
    exp_ziggurat().sample(bits, more)
}

/// A standard normal (mean 0, deviation 1) from `bits`, asking `more` for words when one is not
/// enough (about 1 sample in 67).
#[inline]
pub fn normal(bits: u64, more: impl FnMut() -> u64) -> f64 {
    normal_ziggurat().sample(bits, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{Rng, SeedableRng};

    fn samples(n: usize, seed: u64, sampler: fn(u64, &mut ChaCha8Rng) -> f64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut more = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        (0..n).map(|_| sampler(rng.next_u64(), &mut more)).collect()
    }

    fn exp_of(bits: u64, more: &mut ChaCha8Rng) -> f64 {
        exponential(bits, || more.next_u64())
    }

    fn normal_of(bits: u64, more: &mut ChaCha8Rng) -> f64 {
        normal(bits, || more.next_u64())
    }

    /// Largest distance between the empirical distribution of `v` and `cdf` (Kolmogorov–Smirnov).
    fn ks(mut v: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        v.iter()
            .enumerate()
            .map(|(k, &x)| {
                let c = cdf(x);
                (c - k as f64 / n).abs().max((c - (k + 1) as f64 / n).abs())
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn the_tables_close_at_the_top() {
        // Every layer has the same area, so the last one must end at height 1 (x = 0): the
        // constants and the recurrence agree only if this holds.
        for (t, v) in [(exp_ziggurat(), EXP_V), (normal_ziggurat(), NORMAL_V)] {
            let top = t.f[LAYERS - 1] + v / t.x[LAYERS - 1];
            assert!((top - 1.0).abs() < 1e-9, "top = {top}");
            assert!(t.x.windows(2).all(|w| w[0] > w[1]), "x decreasing");
        }
        // Published values (Marsaglia and Tsang's tables as in rand_distr).
        assert!((exp_ziggurat().x[0] - 8.697_117_470_131_05).abs() < 1e-12);
        assert!((normal_ziggurat().x[0] - 3.910_757_959_537_09).abs() < 1e-12);
    }

    #[test]
    fn exponential_has_the_right_distribution() {
        let v = samples(1_000_000, 7, exp_of);
        assert!(v.iter().all(|&x| x >= 0.0 && x.is_finite()));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        // 1.36/√n is the 5 % critical value; 1.63/√n is 1 %.
        let d = ks(v.clone(), |x| 1.0 - libm::exp(-x));
        assert!(d < 1.63 / (v.len() as f64).sqrt(), "KS distance {d}");
        // The tail beyond r (probability e^-r ≈ 4.5e-4) is drawn too, with its right mass.
        let tail = v.iter().filter(|&&x| x > EXP_R).count() as f64 / v.len() as f64;
        assert!((tail / libm::exp(-EXP_R) - 1.0).abs() < 0.2, "tail {tail}");
    }

    #[test]
    fn normal_has_the_right_distribution() {
        let v = samples(1_000_000, 11, normal_of);
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
        let cdf = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
        let d = ks(v.clone(), cdf);
        assert!(d < 1.63 / n.sqrt(), "KS distance {d}");
        let tail = v.iter().filter(|&&x| x.abs() > NORMAL_R).count() as f64 / n;
        let expected = 2.0 * cdf(-NORMAL_R);
        assert!(
            (tail / expected - 1.0).abs() < 0.2,
            "tail {tail} vs {expected}"
        );
        let above = v.iter().filter(|&&x| x > NORMAL_R).count() as f64;
        let below = v.iter().filter(|&&x| x < -NORMAL_R).count() as f64;
        assert!(
            (above / below - 1.0).abs() < 0.25,
            "tails {above} / {below}"
        );
    }

    /// How many of `n` samples needed more than their one word.
    fn slow_ones(n: u64, sample: impl Fn(u64, &mut dyn FnMut() -> u64) -> f64) -> u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut more = ChaCha8Rng::seed_from_u64(4);
        (0..n)
            .filter(|_| {
                let mut asked = 0;
                let mut count = || {
                    asked += 1;
                    more.next_u64()
                };
                sample(rng.next_u64(), &mut count);
                asked > 0
            })
            .count() as u64
    }

    #[test]
    fn one_word_is_enough_almost_always_and_more_are_asked_otherwise() {
        // A word is enough when it lands in a layer's inner box: the boxes' share of the layers.
        let fast = |t: &Ziggurat| (0..LAYERS).map(|i| t.x[i + 1] / t.x[i]).sum::<f64>() / 256.0;
        let n = 100_000;
        for (slow, t) in [
            (
                slow_ones(n, |bits, more| exponential(bits, more)),
                exp_ziggurat(),
            ),
            (
                slow_ones(n, |bits, more| normal(bits, more)),
                normal_ziggurat(),
            ),
        ] {
            let expected = (1.0 - fast(t)) * n as f64;
            assert!(
                (slow as f64 / expected - 1.0).abs() < 0.1,
                "{slow} of {n} needed more words, expected {expected:.0}"
            );
        }
    }

    /// The word whose uniform (as `unit_open` reads it) is `u`.
    fn word_for(u: f64) -> u64 {
        ((u * (1u64 << 52) as f64) as u64) << 12
    }

    #[test]
    fn a_point_in_a_wedge_is_kept_with_the_probability_the_density_gives() {
        // Points of layer i beyond its inner box: kept when a uniform height in the layer falls
        // under the density, i.e. with probability (density(x) − f[i]) / (f[i+1] − f[i]). Over a
        // grid of heights the kept share must be that, to the grid's resolution; a rejected
        // point goes on to a new word, here the middle of layer 1, inside its box.
        let grid = 2_000;
        for z in [exp_ziggurat(), normal_ziggurat()] {
            for i in [1, 2, 40, 128, 200, 254] {
                for along in [0.1, 0.5, 0.9] {
                    let x = z.x[i + 1] + along * (z.x[i] - z.x[i + 1]);
                    let expected = ((z.density)(x) - z.f[i]) / (z.f[i + 1] - z.f[i]);
                    let sides: &[f64] = if z.symmetric { &[1.0, -1.0] } else { &[1.0] };
                    for side in sides {
                        let kept = (0..grid)
                            .filter(|k| {
                                let height = word_for((*k as f64 + 0.5) / grid as f64);
                                let mut words = [height, (1 << 63) | 1].into_iter();
                                let mut more = || words.next().expect("two words are enough");
                                z.beyond_the_box(i, side * x, &mut more) == side * x
                            })
                            .count() as f64
                            / grid as f64;
                        assert!(
                            (kept - expected).abs() <= 1.0 / grid as f64,
                            "layer {i}, x {x}: kept {kept}, expected {expected}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_same_words_give_the_same_sample() {
        // Pinned values: a change of tables or method shows here before it moves any result.
        // The words reach every path: the inner box on both sides, a wedge (kept and rejected),
        // and the tail of the base strip.
        let in_box = |u: f64, layer: u64| (((u * (1u64 << 53) as f64) as u64) << 11) | layer;
        let words = [
            in_box(0.3, 17),
            in_box(0.8, 200),
            in_box(0.999_999, 5),
            in_box(0.999_999_9, 0),
            in_box(0.000_000_1, 0),
        ];
        let pinned = |sample: fn(u64, &mut dyn FnMut() -> u64) -> f64| -> Vec<u64> {
            words
                .iter()
                .map(|&w| {
                    let mut k = 0u64;
                    let mut more = || {
                        k += 1;
                        k.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    };
                    sample(w, &mut more).to_bits()
                })
                .collect()
        };
        assert_eq!(
            pinned(|b, m| exponential(b, m)),
            [
                0x3ff52537af3e1cf9,
                0x3fe61efef5cc72a3,
                0x3fe896d5aca9d531,
                0x40205b4dfa358672,
                0x3ead2ec45b369a42
            ]
        );
        assert_eq!(
            pinned(|b, m| normal(b, m)),
            [
                0xbff127c1543be116,
                0x3fe3df6e46eebeca,
                0xbff315a1b73bf5e8,
                0x400e49677b91d213,
                0xc00e49677b91d213
            ]
        );
    }
}
