//! The engine on arbitrary *valid* scenarios, small enough to run in milliseconds: every
//! request ends in exactly one final state (or is in flight at the horizon), the series add up,
//! and the same seed gives the same bytes.
#![no_main]

use std::path::Path;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ratelab_sim::{Scenario, run_scenario};

/// A scenario described by small numbers, turned into TOML (so it goes through the parser and
/// the validator as a user's would; invalid combinations are skipped).
#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    requests: u8,
    clients: u8,
    horizon: u16,
    arrival: u8,
    rate: u16,
    limits: Vec<(u8, u16, u16)>,
    latency: (u8, u16, u16),
    errors: Option<(u8, u8)>,
    servers: Option<(u8, u8)>,
    background: Option<u8>,
    outages: Vec<(u16, u16, u8)>,
    schedule: Vec<(u16, u8, u16)>,
    strategies: Vec<(u8, u16, u8, u16, u8, Option<u16>, bool)>,
}

fn toml(i: &Input) -> String {
    let mut t = format!(
        "name = \"fuzz\"\nseed = {}\nhorizon_s = {}\n[workload]\nrequests = {}\nclients = {}\n",
        i.seed,
        100 + u32::from(i.horizon % 600),
        1 + i.requests % 40,
        1 + i.clients % 3
    );
    let rate = 0.5 + f64::from(i.rate % 200) / 4.0;
    t += &match i.arrival % 5 {
        0 => String::new(),
        1 => format!("arrival = {{ kind = \"poisson\", rate_per_s = {rate} }}\n"),
        2 => format!(
            "arrival = {{ kind = \"bursts\", every_s = {}, size = {} }}\n",
            0.1 + rate / 10.0,
            1 + i.rate % 9
        ),
        3 => format!(
            "arrival = {{ kind = \"ramp\", from_per_s = {}, to_per_s = {rate}, over_s = 5 }}\n",
            i.rate % 7
        ),
        _ => format!(
            "tokens = {{ kind = \"uniform\", min = 1, max = {} }}\n",
            1 + i.rate % 50
        ),
    };
    t += "[api]\n";
    let limit = |&(k, a, b): &(u8, u16, u16)| -> String {
        let n = 1 + u64::from(a % 20);
        let r = 0.1 + f64::from(b % 100) / 5.0;
        match k % 6 {
            0 => format!("{{ kind = \"token_bucket\", rate_per_s = {r}, burst = {n} }}"),
            1 => format!(
                "{{ kind = \"fixed_window\", limit = {n}, window_s = {} }}",
                0.1 + r / 10.0
            ),
            2 => format!(
                "{{ kind = \"sliding_window\", limit = {n}, window_s = {} }}",
                0.1 + r / 10.0
            ),
            3 => format!("{{ kind = \"concurrency\", max_in_flight = {n} }}"),
            4 => format!(
                "{{ kind = \"token_bucket\", rate_per_s = {}, burst = {}, unit = \"tokens\" }}",
                r * 10.0,
                n * 10
            ),
            _ => "{ kind = \"optimistic_concurrency\" }".to_string(),
        }
    };
    let limits: Vec<String> = i.limits.iter().take(3).map(limit).collect();
    t += &format!("limits = [{}]\n", limits.join(", "));
    let (k, a, b) = i.latency;
    t += &match k % 4 {
        0 => format!("latency = {{ kind = \"fixed\", ms = {} }}\n", a % 500),
        1 => format!(
            "latency = {{ kind = \"uniform\", min_ms = {}, max_ms = {} }}\n",
            a % 100,
            u32::from(a % 100) + u32::from(b % 400)
        ),
        2 => format!(
            "latency = {{ kind = \"exponential\", mean_ms = {} }}\n",
            1 + a % 300
        ),
        _ => format!(
            "latency = {{ kind = \"lognormal\", median_ms = {}, p99_ms = {} }}\n",
            1 + a % 200,
            1 + u32::from(a % 200) + u32::from(b % 800)
        ),
    };
    if let Some((p, s)) = i.errors {
        let status = [500, 503, 408, 409][usize::from(s % 4)];
        t += &format!(
            "errors = {{ probability = {}, status = {status} }}\n",
            f64::from(p) / 255.0
        );
    }
    if let Some((s, q)) = i.servers {
        t += &format!("servers = {}\n", 1 + s % 8);
        if q % 2 == 0 {
            t += &format!("queue_limit = {}\n", q % 20);
        }
    }
    if let Some(b) = i.background {
        t += &format!(
            "background = {{ rate_per_s = {} }}\n",
            0.5 + f64::from(b % 40)
        );
    }
    let mut at = 0u32;
    let outages: Vec<String> = i
        .outages
        .iter()
        .take(3)
        .map(|&(gap, len, m)| {
            at += u32::from(gap % 30);
            let s = format!(
                "{{ at_s = {at}, for_s = {}, mode = \"{}\" }}",
                1 + len % 20,
                ["503", "refuse", "hang"][usize::from(m % 3)]
            );
            at += 1 + u32::from(len % 20);
            s
        })
        .collect();
    if !outages.is_empty() {
        t += &format!("outages = [{}]\n", outages.join(", "));
    }
    let mut at = 0u32;
    for &(gap, what, v) in i.schedule.iter().take(3) {
        at += u32::from(gap % 30);
        t += &format!("[[api.schedule]]\nat_s = {at}\n");
        t += &match what % 3 {
            0 => format!("latency = {{ kind = \"fixed\", ms = {} }}\n", v % 500),
            1 => format!("limits = [{}]\n", limit(&(what, v, v / 7))),
            _ => format!(
                "errors = {{ probability = {} }}\n",
                f64::from(v % 100) / 100.0
            ),
        };
    }
    // At least one strategy: a scenario without one is refused before any run.
    let fallback = [(0, 0, 0, 0, 0, None, false)];
    let strategies = if i.strategies.is_empty() {
        &fallback[..]
    } else {
        &i.strategies[..]
    };
    for (n, &(adm, a, retry, b, attempts, timeout, breaker)) in
        strategies.iter().take(3).enumerate()
    {
        t += &format!("[[strategy]]\nname = \"s{n}\"\n");
        let r = 0.5 + f64::from(a % 100) / 4.0;
        t += &match adm % 8 {
            0 => String::new(),
            1 => format!(
                "admission = [{{ kind = \"token_bucket\", rate_per_s = {r}, burst = {}, shared = {} }}]\n",
                1 + a % 10,
                b % 2 == 0
            ),
            2 => format!(
                "admission = [{{ kind = \"semaphore\", permits = {} }}]\n",
                1 + a % 10
            ),
            3 => format!(
                "admission = [{{ kind = \"fixed_delay\", delay_ms = {} }}]\n",
                a % 300
            ),
            4 => "admission = [{ kind = \"aimd\" }]\n".to_string(),
            5 => "admission = [{ kind = \"header_pacing\" }]\n".to_string(),
            6 => "admission = [{ kind = \"sre_throttle\" }]\n".to_string(),
            _ => format!("admission = [{{ kind = \"leaky_bucket\", rate_per_s = {r} }}]\n"),
        };
        let base = 1 + b % 2000;
        let max = 1 + attempts % 8;
        t += &match retry % 6 {
            0 => "retry = { kind = \"none\" }\n".to_string(),
            1 => format!(
                "retry = {{ kind = \"exponential\", base_ms = {base}, max_attempts = {max} }}\n"
            ),
            2 => {
                format!("retry = {{ kind = \"fixed\", delay_ms = {base}, max_attempts = {max} }}\n")
            }
            3 => format!(
                "retry = {{ kind = \"exponential\", base_ms = {base}, max_attempts = {max}, jitter = \"decorrelated\", budget = {{ percent = 0.1 }} }}\n"
            ),
            4 => "retry = { kind = \"openai_python\" }\n".to_string(),
            _ => "retry = { kind = \"aws_standard\" }\n".to_string(),
        };
        if let Some(ms) = timeout {
            t += &format!("timeout_ms = {}\n", 1 + ms % 3000);
        }
        if breaker {
            t += "breaker = { consecutive_failures = 3, open_ms = 500, half_open_probes = 1 }\n";
        }
    }
    t
}

fuzz_target!(|input: Input| {
    let text = toml(&input);
    let parsed = Scenario::parse(&text, Path::new("fuzz.toml"));
    if std::env::var_os("RATELAB_FUZZ_SHOW").is_some() {
        match &parsed {
            Ok(_) => eprintln!("valid"),
            Err(e) => eprintln!("invalid: {e}"),
        }
    }
    let Ok(sc) = parsed else {
        return;
    };
    let out = run_scenario(&sc, sc.seed, None);
    for r in &out.results {
        let finals = r.succeeded
            + r.dead_lettered
            + r.rejected_by_breaker
            + r.rejected_by_throttle
            + r.in_flight_at_horizon;
        assert_eq!(
            finals, r.requests,
            "{}: final states add up\n{text}",
            r.strategy
        );
        assert_eq!(r.series.sends.iter().sum::<u64>(), r.attempts, "{text}");
        assert_eq!(
            r.series.successes.iter().sum::<u64>(),
            r.succeeded,
            "{text}"
        );
    }
    let again = run_scenario(&sc, sc.seed, None);
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        serde_json::to_string(&again).unwrap(),
        "deterministic\n{text}"
    );
});
