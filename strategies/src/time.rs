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
    secs_to_nanos(ms / 1_000.0)
}

/// Converts a duration in seconds from a configuration file to nanoseconds (see [`ms_to_nanos`]).
pub fn secs_to_nanos(s: f64) -> Nanos {
    let ns = libm::round(s * 1e9);
    if ns.is_nan() || ns <= 0.0 {
        0
    } else if ns >= u64::MAX as f64 {
        u64::MAX
    } else {
        ns as u64
    }
}

/// Nanoseconds as seconds, for output only (never for decisions).
pub fn as_secs_f64(ns: Nanos) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
