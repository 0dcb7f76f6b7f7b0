//! Speeding a scenario up for a live run: rates × K, latencies, delays and windows ÷ K.

use ratelab_sim::Scenario;

/// A scenario sped up by [`ScaleExt::scaled`], with what could not be scaled.
#[derive(Clone, Debug)]
pub struct Scaled {
    /// The scenario K times faster.
    pub scenario: Scenario,
    /// What did not scale and how that bends the comparison with the original.
    pub notes: Vec<String>,
}

/// Smallest and largest factor accepted.
pub const SCALE_RANGE: (f64, f64) = (0.001, 1000.0);

/// Time-scaling of a scenario (see [`ScaleExt::scaled`]).
pub trait ScaleExt {
    /// The same scenario run `k` times faster: every rate (API limits, client buckets, Poisson
    /// arrivals) × k; every duration (latencies, the latency of rejections, windows, fixed
    /// delays, retry backoffs, breaker open times, client timeouts, ban windows and durations,
    /// the horizon) ÷ k. Counts (requests, bursts, permits, concurrency, AIMD windows, attempts,
    /// thresholds, tokens) do not change. What cannot be scaled is listed in the notes:
    /// `Retry-After` is whole seconds (at least 1 s) on the wire and in the model (whole
    /// milliseconds with `[api] retry_after_precision = "ms"`).
    fn scaled(&self, k: f64) -> Result<Scaled, String>;
}

impl ScaleExt for Scenario {
    fn scaled(&self, k: f64) -> Result<Scaled, String> {
        if !(k.is_finite() && (SCALE_RANGE.0..=SCALE_RANGE.1).contains(&k)) {
            return Err(format!(
                "--scale: must be in {}..={} (got {k})",
                SCALE_RANGE.0, SCALE_RANGE.1
            ));
        }
        let mut s = self.clone();
        s.horizon_s /= k;
        if k != 1.0 {
            s.description = format!("{} (time scaled {k}x faster)", s.description);
        }
        // Each kind scales its own fields (its module's `Kind::scale`), so a new kind's time
        // fields cannot go unscaled unnoticed.
        s.workload.scale(k);
        s.api.scale(k);
        let mut honours_retry_after = Vec::new();
        for st in &mut s.strategies {
            st.scale(k);
            if st.retry.uses_retry_after() {
                honours_retry_after.push(st.name.clone());
            }
        }
        let mut notes = Vec::new();
        let seconds = s.api.retry_after_precision.is_seconds();
        if k != 1.0 && s.api.retry_after && !honours_retry_after.is_empty() {
            notes.push(if seconds {
                format!(
                    "Retry-After is whole seconds (at least 1 s) and does not scale: {} wait(s) \
                     up to {k}x longer in scenario time than in the original",
                    honours_retry_after.join(", ")
                )
            } else {
                format!(
                    "Retry-After is rounded up to 1 ms (retry_after_precision = \"ms\"), {k} ms \
                     in scenario time: {} may wait that much longer than in the original",
                    honours_retry_after.join(", ")
                )
            });
        }
        if k != 1.0 && s.api.ban.is_some() && seconds {
            notes.push(
                "the ban's window and duration are scaled, but a banned client's Retry-After \
                 stays in whole seconds"
                    .to_string(),
            );
        }
        let problems = s.problems();
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(format!(
                "--scale {k} takes the scenario out of range: {}",
                list.join("; ")
            ));
        }
        Ok(Scaled { scenario: s, notes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_times_k_durations_over_k() {
        let s = Scenario::parse(
            r#"
            name = "t"
            horizon_s = 100
            [workload]
            requests = 10
            arrival = { kind = "poisson", rate_per_s = 2 }
            [api]
            limits = [{ kind = "token_bucket", rate_per_min = 60, burst = 5 },
                      { kind = "sliding_window", limit = 3, window_s = 10 },
                      { kind = "concurrency", max_in_flight = 4 }]
            latency = { kind = "lognormal", median_ms = 500, p99_ms = 1500 }
            ban = { after_429 = 3, within_s = 10, duration_s = 60 }
            [[strategy]]
            name = "a"
            admission = [{ kind = "leaky_bucket", rate_per_s = 3 }, { kind = "semaphore", permits = 2 }]
            retry = { kind = "exponential", base_ms = 1000, cap_ms = 8000, honor_retry_after = true }
            breaker = { consecutive_failures = 2, open_ms = 4000 }
            timeout_ms = 2000
            "#,
            "t.toml".as_ref(),
        )
        .unwrap();
        let out = s.scaled(10.0).unwrap();
        let toml = out.scenario.to_toml();
        for expected in [
            "horizon_s = 10.0",
            "rate_per_s = 20.0",
            "rate_per_min = 600.0",
            "window_s = 1.0",
            "max_in_flight = 4",
            "median_ms = 50.0",
            "p99_ms = 150.0",
            "duration_s = 6.0",
            "rate_per_s = 30.0",
            "permits = 2",
            "base_ms = 100.0",
            "cap_ms = 800.0",
            "open_ms = 400.0",
            "timeout_ms = 200.0",
            "burst = 5",
        ] {
            assert!(toml.contains(expected), "{expected} not in\n{toml}");
        }
        assert_eq!(out.notes.len(), 2, "{:?}", out.notes);
        assert!(s.scaled(0.0).is_err());
        assert!(s.scaled(f64::NAN).is_err());
        assert_eq!(s.scaled(1.0).unwrap().scenario, s);
    }

    /// What scaling is for: every library scenario, sped up 10×, is the same run 10× shorter —
    /// same counts, makespan ÷ 10 — for every strategy not waiting on a whole-second
    /// Retry-After (the one thing the notes say cannot scale).
    #[test]
    fn a_scaled_library_scenario_is_the_same_run_k_times_faster() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut checked = 0;
        for path in ratelab_sim::scenario_files(&dir).unwrap() {
            let s = Scenario::load(&path).unwrap();
            // Bans answer in whole seconds too; `bulk` is a million requests (too slow here).
            if s.api.ban.is_some() || s.workload.total_requests() > 100_000 {
                continue;
            }
            let scaled = s.scaled(10.0).unwrap().scenario;
            for (spec, fast) in s.strategies.iter().zip(&scaled.strategies) {
                if spec.retry.uses_retry_after() && s.api.retry_after {
                    continue;
                }
                let a = ratelab_sim::run_strategy(&s, spec, s.seed, None);
                let b = ratelab_sim::run_strategy(&scaled, fast, s.seed, None);
                let what = format!("{} / {}", s.name, spec.name);
                assert_eq!(
                    (a.succeeded, a.dead_lettered, a.attempts, a.http_429),
                    (b.succeeded, b.dead_lettered, b.attempts, b.http_429),
                    "{what}"
                );
                let ratio = b.makespan_s * 10.0 / a.makespan_s;
                assert!((ratio - 1.0).abs() < 1e-6, "{what}: makespan ratio {ratio}");
                checked += 1;
            }
        }
        assert!(checked >= 20, "only {checked} strategies checked");
    }
}
