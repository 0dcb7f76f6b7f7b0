//! Numbers and durations as people read them, shared by the report, the CLI's table and its
//! progress line.

/// Seconds as a short duration, `sep` between number and unit: 850ms, 12.3s, 9m58s, 2h05m with
/// `""`; "–" for a non-finite value. Rounded to the last digit shown, and the unit chosen after
/// rounding, so 0.9996 s reads 1.0s and 59.96 s reads 1m00s.
pub fn duration(s: f64, sep: &str) -> String {
    if !s.is_finite() {
        return "–".into();
    }
    let ms = (s * 1000.0).round();
    if ms < 1000.0 {
        return format!("{ms:.0}{sep}ms");
    }
    let tenths = (s * 10.0).round();
    if tenths < 600.0 {
        return format!("{:.1}{sep}s", tenths / 10.0);
    }
    let seconds = s.round() as u64;
    if seconds < 3600 {
        format!("{}m{sep}{:02}s", seconds / 60, seconds % 60)
    } else {
        let minutes = (s / 60.0).round() as u64;
        format!("{}h{sep}{:02}m", minutes / 60, minutes % 60)
    }
}

/// A share as a percentage, `sep` before the sign: one decimal below 10 % (so a small non-zero
/// share never reads 0), none from there: 0.3%, 8.6%, 83%.
pub fn percent(share: f64, sep: &str) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 10.0 {
        format!("{p:.1}{sep}%")
    } else {
        format!("{p:.0}{sep}%")
    }
}

/// `x` with at most `decimals` decimals (at least one), trailing zeros dropped: 10, 0.5, 8.945.
pub fn trimmed(x: f64, decimals: usize) -> String {
    let s = format!("{x:.prec$}", prec = decimals.max(1));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_numbers_read_well() {
        assert_eq!(duration(0.85, ""), "850ms");
        assert_eq!(duration(12.34, "\u{a0}"), "12.3\u{a0}s");
        assert_eq!(duration(598.0, ""), "9m58s");
        assert_eq!(duration(7529.0, ""), "2h05m");
        assert_eq!(duration(7500.0, " "), "2h 05m");
        assert_eq!(duration(f64::INFINITY, ""), "–");
        // The unit after rounding: no "1000ms", no "60.0s".
        assert_eq!(duration(0.9996, ""), "1.0s");
        assert_eq!(duration(0.9994, ""), "999ms");
        assert_eq!(duration(59.96, ""), "1m00s");
        assert_eq!(duration(59.94, ""), "59.9s");
        assert_eq!(duration(598.6, ""), "9m59s");
        assert_eq!(duration(3599.4, ""), "59m59s");
        assert_eq!(duration(3599.6, ""), "1h00m");
        assert_eq!(duration(3600.0, ""), "1h00m");
        assert_eq!(percent(0.003, ""), "0.3%");
        assert_eq!(percent(0.0862, "\u{a0}"), "8.6\u{a0}%");
        assert_eq!(percent(0.834, ""), "83%");
        assert_eq!(percent(0.0, ""), "0%");
        assert_eq!(trimmed(10.0, 3), "10");
        assert_eq!(trimmed(0.5, 3), "0.5");
        assert_eq!(trimmed(8.944834163365444, 3), "8.945");
        assert_eq!(trimmed(1e14, 2), "100000000000000");
        assert_eq!(trimmed(2.999, 2), "3");
    }
}
