//! The AWS "Exponential Backoff And Jitter" study, reproduced: for N = 10, 20, …, 100 clients
//! that each write one row under optimistic concurrency, the mean completion time and the mean
//! number of calls of the study's five strategies over 100 seeds, as a Markdown table.
//!
//! The scenario is `scenarios/backoff-jitter-study.toml` (its header says how the study's model
//! maps onto ratelab's); this program only varies the clients and the seed.
//!
//! Run it with `cargo run --release --example backoff_study [SEEDS]` (default 100 seeds).

use std::path::Path;

use ratelab::sim::{Scenario, run_strategy};

fn main() {
    let seeds: u64 = match std::env::args().nth(1) {
        None => 100,
        Some(s) => match s.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("backoff_study: SEEDS must be a positive integer (got {s:?})");
                std::process::exit(2);
            }
        },
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/backoff-jitter-study.toml");
    let mut scenario = Scenario::load(&path).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let names: Vec<&str> = scenario
        .strategies
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let header = |what: &str| {
        println!(
            "| clients | {} |",
            names.join(&format!(" {what} | ")) + &format!(" {what}")
        );
        println!("|---:|{}", "---:|".repeat(names.len()));
    };
    let mut rows = Vec::new();
    for n in (10..=100).step_by(10) {
        scenario.workload.clients = n;
        let mut time = vec![0.0; names.len()];
        let mut calls = vec![0.0; names.len()];
        for seed in 1..=seeds {
            for (i, spec) in scenario.strategies.iter().enumerate() {
                let r = run_strategy(&scenario, spec, seed, None);
                assert!(
                    r.finished && r.succeeded == u64::from(n),
                    "{}: every write lands",
                    spec.name
                );
                time[i] += r.makespan_s * 1000.0 / seeds as f64;
                calls[i] += r.attempts as f64 / seeds as f64;
            }
        }
        eprintln!("{n} clients done");
        rows.push((n, time, calls));
    }
    println!("Mean completion time, ms ({seeds} seeds):\n");
    header("ms");
    for (n, time, _) in &rows {
        let cells: Vec<String> = time.iter().map(|t| format!("{t:.0}")).collect();
        println!("| {n} | {} |", cells.join(" | "));
    }
    println!("\nMean calls (writes, retries included) ({seeds} seeds):\n");
    header("calls");
    for (n, _, calls) in &rows {
        let cells: Vec<String> = calls.iter().map(|c| format!("{c:.0}")).collect();
        println!("| {n} | {} |", cells.join(" | "));
    }
}
