//! `ratelab list`: the scenario library and every kind a scenario can use.

use std::path::Path;

use ratelab_sim::{Scenario, scenario_files};

/// One kind a scenario can name: where it goes, its fields with units and defaults, an example.
pub struct Kind {
    /// The table it belongs in.
    pub section: &'static str,
    /// The `kind` value.
    pub kind: &'static str,
    /// Fields, units and defaults.
    pub fields: &'static str,
    /// What it models.
    pub about: &'static str,
    /// A valid inline table (tested).
    pub example: &'static str,
}

/// Every kind, in the order the README documents them.
pub const KINDS: &[Kind] = &[
    Kind {
        section: "strategy admission",
        kind: "unlimited",
        fields: "-",
        about: "fire everything at once (asyncio.gather)",
        example: r#"{ kind = "unlimited" }"#,
    },
    Kind {
        section: "strategy admission",
        kind: "fixed_delay",
        fields: "delay_ms",
        about: "one at a time, pause delay_ms after each reply",
        example: r#"{ kind = "fixed_delay", delay_ms = 100 }"#,
    },
    Kind {
        section: "strategy admission",
        kind: "semaphore",
        fields: "permits",
        about: "at most `permits` in flight",
        example: r#"{ kind = "semaphore", permits = 5 }"#,
    },
    Kind {
        section: "strategy admission",
        kind: "token_bucket",
        fields: "rate_per_s | rate_per_min, burst, unit = \"requests\"|\"tokens\" (requests)",
        about: "starts full, refills continuously",
        example: r#"{ kind = "token_bucket", rate_per_s = 10, burst = 10 }"#,
    },
    Kind {
        section: "strategy admission",
        kind: "leaky_bucket",
        fields: "rate_per_s",
        about: "sends exactly 1/rate apart, no burst",
        example: r#"{ kind = "leaky_bucket", rate_per_s = 10 }"#,
    },
    Kind {
        section: "strategy admission",
        kind: "aimd",
        fields: "initial (1), min (1), max (100), increase (1), decrease (0.5)",
        about: "concurrency window: +increase per round trip, ×decrease on a 429 (once per round trip)",
        example: r#"{ kind = "aimd", initial = 2, max = 50 }"#,
    },
    Kind {
        section: "strategy retry",
        kind: "none",
        fields: "-",
        about: "a failure is final (default)",
        example: r#"{ kind = "none" }"#,
    },
    Kind {
        section: "strategy retry",
        kind: "fixed",
        fields: "delay_ms, max_attempts (5), honor_retry_after (false), on ([\"429\",\"5xx\",\"timeout\"])",
        about: "the same wait before every retry",
        example: r#"{ kind = "fixed", delay_ms = 1000 }"#,
    },
    Kind {
        section: "strategy retry",
        kind: "exponential",
        fields: "base_ms (1000), cap_ms (60000), multiplier (2), jitter = \"none\"|\"full\"|\"equal\"|\"decorrelated\" (full), max_attempts (5), honor_retry_after (false), on (all)",
        about: "retry n waits min(cap, base·multiplier^(n-1)), jittered",
        example: r#"{ kind = "exponential", base_ms = 500, jitter = "full" }"#,
    },
    Kind {
        section: "strategy breaker",
        kind: "breaker",
        fields: "consecutive_failures (5), open_ms (30000), half_open_probes (1), on_open = \"wait\"|\"fail\" (wait)",
        about: "opens after consecutive 429/5xx/timeouts",
        example: r#"{ consecutive_failures = 3, open_ms = 10000 }"#,
    },
    Kind {
        section: "api limits",
        kind: "token_bucket",
        fields: "rate_per_s | rate_per_min, burst, unit (requests)",
        about: "continuous refill, as the big AI APIs describe",
        example: r#"{ kind = "token_bucket", rate_per_min = 600, burst = 10 }"#,
    },
    Kind {
        section: "api limits",
        kind: "fixed_window",
        fields: "limit, window_s, unit (requests)",
        about: "at most limit per window, windows aligned to t = 0",
        example: r#"{ kind = "fixed_window", limit = 60, window_s = 60 }"#,
    },
    Kind {
        section: "api limits",
        kind: "sliding_window",
        fields: "limit, window_s, unit (requests)",
        about: "at most limit in any window (a true log)",
        example: r#"{ kind = "sliding_window", limit = 60, window_s = 60, unit = "tokens" }"#,
    },
    Kind {
        section: "api limits",
        kind: "concurrency",
        fields: "max_in_flight",
        about: "at most max_in_flight requests being served",
        example: r#"{ kind = "concurrency", max_in_flight = 5 }"#,
    },
    Kind {
        section: "api latency",
        kind: "fixed",
        fields: "ms, per_token_ms (0)",
        about: "always ms",
        example: r#"{ kind = "fixed", ms = 200 }"#,
    },
    Kind {
        section: "api latency",
        kind: "uniform",
        fields: "min_ms, max_ms, per_token_ms (0)",
        about: "uniform in [min, max]",
        example: r#"{ kind = "uniform", min_ms = 100, max_ms = 300 }"#,
    },
    Kind {
        section: "api latency",
        kind: "exponential",
        fields: "mean_ms, offset_ms (0), per_token_ms (0)",
        about: "offset + Exp(mean)",
        example: r#"{ kind = "exponential", mean_ms = 30, offset_ms = 20 }"#,
    },
    Kind {
        section: "api latency",
        kind: "lognormal",
        fields: "median_ms, p99_ms, per_token_ms (0)",
        about: "log-normal with that median and p99",
        example: r#"{ kind = "lognormal", median_ms = 500, p99_ms = 1500 }"#,
    },
    Kind {
        section: "workload arrival",
        kind: "at_once",
        fields: "-",
        about: "all requests ready at t = 0 (default)",
        example: r#"{ kind = "at_once" }"#,
    },
    Kind {
        section: "workload arrival",
        kind: "poisson",
        fields: "rate_per_s",
        about: "a Poisson process per client",
        example: r#"{ kind = "poisson", rate_per_s = 20 }"#,
    },
    Kind {
        section: "workload tokens",
        kind: "fixed",
        fields: "n",
        about: "every request weighs n tokens",
        example: r#"{ kind = "fixed", n = 1000 }"#,
    },
    Kind {
        section: "workload tokens",
        kind: "uniform",
        fields: "min, max",
        about: "uniform in min..=max tokens",
        example: r#"{ kind = "uniform", min = 200, max = 4000 }"#,
    },
];

/// The text of `ratelab list`, and why `dir` could not be read, if it could not.
pub fn render(dir: &Path) -> (String, Option<std::io::Error>) {
    let mut text = format!("Scenarios in {}:\n", dir.display());
    let (files, unreadable) = match scenario_files(dir) {
        Ok(files) => (files, None),
        Err(e) => {
            text.push_str(&format!(
                "  (cannot read {}: {e}; --dir points at a folder of *.toml files)\n",
                dir.display()
            ));
            (Vec::new(), Some(e))
        }
    };
    if unreadable.is_none() && files.is_empty() {
        text.push_str("  (no *.toml files; pass --dir to point at a folder of *.toml files)\n");
    }
    for path in files {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        match Scenario::load(&path) {
            Ok(s) => {
                let strategies: Vec<_> = s.strategies.iter().map(|s| s.name.as_str()).collect();
                text.push_str(&format!("  {file}\n"));
                for line in s.description.trim().lines() {
                    text.push_str(&format!("      {}\n", line.trim()));
                }
                text.push_str(&format!("      strategies: {}\n", strategies.join(", ")));
            }
            Err(e) => text.push_str(&format!("  {file}  (invalid: {e})\n")),
        }
    }
    let mut section = "";
    for k in KINDS {
        if k.section != section {
            section = k.section;
            text.push_str(&format!("\n{section}:\n"));
        }
        text.push_str(&format!("  {:<15} {}\n", k.kind, k.about));
        text.push_str(&format!("  {:<15} fields: {}\n", "", k.fields));
        text.push_str(&format!("  {:<15} e.g. {}\n", "", k.example));
    }
    text.push_str("\nDefaults are in parentheses; README.md documents every field and unit.\n");
    (text, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example in the catalogue is accepted where it belongs.
    #[test]
    fn every_example_is_a_valid_table() {
        for k in KINDS {
            let (strategy, api) = match k.section {
                "strategy admission" => (format!("admission = [{}]", k.example), String::new()),
                "strategy retry" => (format!("retry = {}", k.example), String::new()),
                "strategy breaker" => (format!("breaker = {}", k.example), String::new()),
                "api limits" => (String::new(), format!("limits = [{}]", k.example)),
                _ => (String::new(), String::new()),
            };
            let latency = if k.section == "api latency" {
                k.example.to_string()
            } else {
                r#"{ kind = "fixed", ms = 1 }"#.to_string()
            };
            let workload = match k.section {
                "workload arrival" => format!("arrival = {}", k.example),
                "workload tokens" => format!("tokens = {}", k.example),
                _ => String::new(),
            };
            let text = format!(
                "name = \"t\"\n[workload]\nrequests = 1\n{workload}\n[api]\nlatency = {latency}\n{api}\n[[strategy]]\nname = \"s\"\n{strategy}\n"
            );
            if let Err(e) = Scenario::parse(&text, Path::new("catalog.toml")) {
                panic!("{} {}: {e}\n{text}", k.section, k.kind);
            }
        }
    }
}
