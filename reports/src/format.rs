//! Numbers and durations as people read them, shared by the report, the CLI's table and its
//! progress line.

/// Seconds as a short duration, `sep` between number and unit: 850ms, 12.3s, 9m58s, 2h05m with
/// `""`; "–" for a non-finite value.
pub fn duration(s: f64, sep: &str) -> String {
    if !s.is_finite() {
        "–".into()
    } else if s < 1.0 {
        format!("{:.0}{sep}ms", s * 1000.0)
    } else if s < 60.0 {
        format!("{s:.1}{sep}s")
    } else if s < 3600.0 {
        format!("{}m{sep}{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{sep}{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
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
        assert_eq!(duration(7500.0, " "), "2h 05m");
        assert_eq!(duration(f64::INFINITY, ""), "–");
        assert_eq!(trimmed(10.0, 3), "10");
        assert_eq!(trimmed(0.5, 3), "0.5");
        assert_eq!(trimmed(8.944834163365444, 3), "8.945");
        assert_eq!(trimmed(1e14, 2), "100000000000000");
        assert_eq!(trimmed(2.999, 2), "3");
    }
}
