//! `ratelab fidelity`: the simulator's prediction next to a live run of the same scenario.

use std::fmt::Write;

use ratelab_sim::{RunOutput, StrategyResult};

/// The agreement targets: relative difference in makespan and goodput, and in the 429 count.
pub const TARGET_MAKESPAN: f64 = 0.05;
/// See [`TARGET_MAKESPAN`].
pub const TARGET_GOODPUT: f64 = 0.05;
/// See [`TARGET_MAKESPAN`].
pub const TARGET_429: f64 = 0.10;

/// `(live − sim) / sim`; `None` when sim is 0 (then only 0 = 0 agrees).
pub fn relative(sim: f64, live: f64) -> Option<f64> {
    if sim == 0.0 {
        (live == 0.0).then_some(0.0)
    } else {
        Some((live - sim) / sim)
    }
}

/// One strategy's comparison.
#[derive(Clone, Debug)]
pub struct Agreement {
    /// The strategy.
    pub strategy: String,
    /// Relative differences: makespan, goodput, 429s, p50, p99 (`None`: sim 0, live not).
    pub makespan: Option<f64>,
    /// See `makespan`.
    pub goodput: Option<f64>,
    /// See `makespan`.
    pub http_429: Option<f64>,
    /// See `makespan`.
    pub p50: Option<f64>,
    /// See `makespan`.
    pub p99: Option<f64>,
}

impl Agreement {
    /// Compares two results of the same strategy.
    pub fn of(sim: &StrategyResult, live: &StrategyResult) -> Agreement {
        Agreement {
            strategy: sim.strategy.clone(),
            makespan: relative(sim.makespan_s, live.makespan_s),
            goodput: relative(sim.goodput_rps, live.goodput_rps),
            http_429: relative(sim.http_429 as f64, live.http_429 as f64),
            p50: relative(sim.latency_s.p50, live.latency_s.p50),
            p99: relative(sim.latency_s.p99, live.latency_s.p99),
        }
    }

    /// Within 5 % on makespan and goodput and 10 % on the 429 count.
    pub fn within_target(&self) -> bool {
        let ok = |d: Option<f64>, t: f64| d.is_some_and(|d| d.abs() <= t);
        ok(self.makespan, TARGET_MAKESPAN)
            && ok(self.goodput, TARGET_GOODPUT)
            && ok(self.http_429, TARGET_429)
    }
}

fn pct(d: Option<f64>) -> String {
    match d {
        Some(d) => format!("{:+.1}%", d * 100.0),
        None => "n/a".to_string(),
    }
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1}ms", s * 1000.0)
    } else {
        format!("{s:.3}s")
    }
}

/// The strategies (matched by position) whose live run misses the targets.
pub fn missed(sim: &RunOutput, live: &RunOutput) -> Vec<String> {
    sim.results
        .iter()
        .zip(&live.results)
        .filter(|(s, l)| !Agreement::of(s, l).within_target())
        .map(|(s, _)| s.strategy.clone())
        .collect()
}

/// The side-by-side table of a simulated and a live run of the same scenario (strategies matched
/// by position), with the relative differences and whether each strategy meets the targets.
/// `spread` holds simulations of the same scenario with other seeds: when given, each strategy
/// gets a line with the range of its makespan and 429 count over them, to show how much a
/// metric moves under small perturbations (a live run is one such perturbation).
pub fn render(sim: &RunOutput, live: &RunOutput, spread: &[RunOutput]) -> String {
    let mut out = String::new();
    let name_w = sim
        .results
        .iter()
        .map(|r| r.strategy.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        out,
        "{:name_w$}  {:>9} {:>9} {:>7}  {:>8} {:>8} {:>7}  {:>6} {:>6} {:>7}  {:>8} {:>8} {:>7}  {:>8} {:>8} {:>7}  target",
        "strategy",
        "makespan",
        "live",
        "diff",
        "goodput",
        "live",
        "diff",
        "429s",
        "live",
        "diff",
        "p50",
        "live",
        "diff",
        "p99",
        "live",
        "diff",
    );
    for (s, l) in sim.results.iter().zip(&live.results) {
        let a = Agreement::of(s, l);
        let _ = writeln!(
            out,
            "{:name_w$}  {:>9} {:>9} {:>7}  {:>8.2} {:>8.2} {:>7}  {:>6} {:>6} {:>7}  {:>8} {:>8} {:>7}  {:>8} {:>8} {:>7}  {}",
            s.strategy,
            secs(s.makespan_s),
            secs(l.makespan_s),
            pct(a.makespan),
            s.goodput_rps,
            l.goodput_rps,
            pct(a.goodput),
            s.http_429,
            l.http_429,
            pct(a.http_429),
            secs(s.latency_s.p50),
            secs(l.latency_s.p50),
            pct(a.p50),
            secs(s.latency_s.p99),
            secs(l.latency_s.p99),
            pct(a.p99),
            if a.within_target() { "ok" } else { "MISSED" },
        );
        let others: Vec<&StrategyResult> = spread
            .iter()
            .filter_map(|o| o.results.iter().find(|r| r.strategy == s.strategy))
            .collect();
        if !others.is_empty() {
            let range = |f: &dyn Fn(&StrategyResult) -> f64| {
                let lo = others.iter().map(|r| f(r)).fold(f(s), f64::min);
                let hi = others.iter().map(|r| f(r)).fold(f(s), f64::max);
                (lo, hi)
            };
            let (m0, m1) = range(&|r| r.makespan_s);
            let (h0, h1) = range(&|r| r.http_429 as f64);
            let _ = writeln!(
                out,
                "{:name_w$}  (sim over {} seeds: makespan {}..{} = {:+.1}%..{:+.1}% of seed {}, 429s {h0}..{h1})",
                "",
                others.len() + 1,
                secs(m0),
                secs(m1),
                (m0 / s.makespan_s - 1.0) * 100.0,
                (m1 / s.makespan_s - 1.0) * 100.0,
                sim.seed,
            );
        }
        if s.succeeded != l.succeeded || s.dead_lettered != l.dead_lettered {
            let _ = writeln!(
                out,
                "{:name_w$}  (succeeded {} sim / {} live, dead-lettered {} / {}, rejected by breaker {} / {}, shed {} / {})",
                "",
                s.succeeded,
                l.succeeded,
                s.dead_lettered,
                l.dead_lettered,
                s.rejected_by_breaker,
                l.rejected_by_breaker,
                s.rejected_by_throttle,
                l.rejected_by_throttle,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_difference_handles_zero() {
        assert_eq!(relative(0.0, 0.0), Some(0.0));
        assert_eq!(relative(0.0, 3.0), None);
        assert_eq!(relative(10.0, 11.0), Some(0.1));
        assert_eq!(pct(relative(10.0, 9.5)), "-5.0%");
    }
}
