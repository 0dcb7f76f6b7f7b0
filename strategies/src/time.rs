//! Time is an integer: `u64` nanoseconds since the run's start, passed in by the caller.
//!
//! Nothing in this crate reads a clock. The simulator passes virtual time, the live driver passes
//! the nanoseconds elapsed since it started; the state machines cannot tell the difference.

/// Nanoseconds since the start of a run.
pub type Nanos = u64;

/// Nanoseconds in one millisecond.
pub const MS: Nanos = 1_000_000;
/// Nanoseconds in one second.
pub const SECOND: Nanos = 1_000_000_000;

/// Converts a duration in milliseconds from a configuration file to nanoseconds, rounding to the
/// nearest nanosecond. Negative and NaN inputs give 0, huge ones saturate (validation rejects them
/// before they get here).
pub fn ms_to_nanos(ms: f64) -> Nanos {
    round_nanos(ms * 1e6)
}

/// Converts a duration in seconds from a configuration file to nanoseconds (see [`ms_to_nanos`]).
pub fn secs_to_nanos(s: f64) -> Nanos {
    round_nanos(s * 1e9)
}

/// `ns` rounded to the nearest integer, halves away from zero; 0 for negative and NaN, `u64::MAX`
/// from 2^64 up.
#[inline]
fn round_nanos(ns: f64) -> Nanos {
    // From 0.5 to 2^52, `ns + 0.5` is exact or rounds within the same integer, so its
    // truncation is the rounding half away from zero: an addition and a conversion (a short
    // chain: every latency ends here). Below 0.5, `ns + 0.5` could round up to 1; from 2^52 the
    // doubles are whole and the addition could round to the next even one. NaN fails both
    // comparisons.
    const EXACT_LIMIT: f64 = 4_503_599_627_370_496.0; // 2^52
    if (0.5..EXACT_LIMIT).contains(&ns) {
        return (ns + 0.5) as i64 as u64;
    }
    // The rest (below 0.5, whole numbers from 2^52, out of range, NaN) in its general form.
    if ns.is_nan() || ns <= 0.0 {
        0
    } else if ns >= u64::MAX as f64 {
        u64::MAX
    } else {
        // Round half away from zero, exactly as `libm::round` (a call on the simulator's hot
        // path): `ns - whole` is exact for every double, and `whole` is exact in `u64` here.
        let whole = ns as u64;
        whole + u64::from(ns - whole as f64 >= 0.5)
    }
}

/// Nanoseconds as seconds, for output only (never for decisions).
pub fn as_secs_f64(ns: Nanos) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: `libm::round`, clamped to `u64` as `round_nanos` promises.
    fn libm_round(ns: f64) -> Nanos {
        let r = libm::round(ns);
        if r.is_nan() || r <= 0.0 {
            0
        } else if r >= u64::MAX as f64 {
            u64::MAX
        } else {
            r as u64
        }
    }

    #[test]
    fn conversions_round_to_the_nearest_nanosecond() {
        assert_eq!(ms_to_nanos(1.0), MS);
        assert_eq!(ms_to_nanos(0.0000004), 0);
        assert_eq!(ms_to_nanos(0.0000006), 1);
        assert_eq!(secs_to_nanos(2.5), 2_500_000_000);
        assert_eq!(ms_to_nanos(-3.0), 0);
        assert_eq!(ms_to_nanos(f64::NAN), 0);
        assert_eq!(secs_to_nanos(1e30), u64::MAX);
    }

    #[test]
    fn rounding_matches_libm_round_at_the_edges() {
        let p = |e: i32| 2f64.powi(e);
        let mut edges = vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            p(51) + 0.5,
            p(52) - 1.5,
            p(52) - 0.5,
            p(52),
            p(52) + 1.0,
            p(52) + 0.5,
            p(53),
            p(53) + 2.0,
            p(63),
            u64::MAX as f64,
            f64::INFINITY,
            f64::NAN,
            -1.5,
        ];
        // And the neighbours of each, down to the largest double below 2^64.
        for x in edges.clone() {
            if x.is_finite() && x > 0.0 {
                edges.push(f64::from_bits(x.to_bits() - 1));
                edges.push(f64::from_bits(x.to_bits() + 1));
            }
        }
        for ns in edges {
            assert_eq!(round_nanos(ns), libm_round(ns), "{ns:e}");
        }
    }

    /// The next value of a xorshift64 generator (test inputs only).
    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn rounding_matches_libm_round_in_every_binade() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000u64 {
            let r = xorshift(&mut x);
            // A random mantissa with an exponent from 2^-3 to 2^64, and the doubles next to
            // the half above its whole part (where rounding turns).
            let exponent = 1020 + (r >> 52) % 68;
            let ns = f64::from_bits((exponent << 52) | (r & ((1 << 52) - 1)));
            let half = ns.trunc() + 0.5;
            for v in [
                ns,
                half,
                f64::from_bits(half.to_bits() - 1),
                f64::from_bits(half.to_bits() + 1),
            ] {
                assert_eq!(round_nanos(v), libm_round(v), "{v:e}");
            }
        }
    }

    #[test]
    fn rounding_matches_libm_round() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..200_000u64 {
            // Halves, near-halves and random magnitudes from 1e-12 s to 1e12 s.
            let r = xorshift(&mut x);
            let s = match i % 4 {
                0 => (i as f64 + 0.5) / 1e9,
                1 => f64::from_bits(((i as f64 + 0.5) / 1e9).to_bits() + 1),
                2 => f64::from_bits(((i as f64 + 0.5) / 1e9).to_bits() - 1),
                _ => (r >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((r % 25) as i32 - 12),
            };
            assert_eq!(secs_to_nanos(s), libm_round(s * 1e9), "{s:e}");
        }
    }
}
