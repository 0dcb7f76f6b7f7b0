//! `ratelab`: run scenarios of client strategies against modelled rate-limited APIs.

mod catalog;
mod report_cmd;
mod table;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ratelab_sim::{Progress, RunOutput, Scenario, run_scenario};

/// A deterministic virtual-clock lab for client strategies against rate-limited APIs.
///
/// ratelab runs client strategies (fixed delay, semaphore, token bucket, leaky bucket, AIMD, with
/// retries, backoff and a circuit breaker) against modelled rate-limited APIs on a virtual clock,
/// and reports throughput, latency and 429s. The same scenario and seed give the same bytes.
#[derive(Parser)]
#[command(name = "ratelab", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every strategy of a scenario and print a comparison table.
    ///
    /// Exit status: 0 on success, 2 when the scenario is unreadable or invalid (the message names
    /// the file, the field and the allowed range), 1 when an output cannot be written.
    Run {
        /// The scenario file (TOML), e.g. scenarios/seed-semaphore.toml. Without one, runs the
        /// built-in semaphore story and writes its report to ratelab-report.html.
        scenario: Option<PathBuf>,
        /// Seed for every random draw (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Write the JSON result to FILE, or to standard output with `-` (the table then goes to
        /// standard error).
        #[arg(long, value_name = "FILE|-")]
        json: Option<PathBuf>,
        /// Print no progress while running.
        #[arg(long, short)]
        quiet: bool,
        /// Write a self-contained HTML report (tables, charts) to FILE.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Write each strategy's per-second series as CSV into DIR (<strategy>.csv, and
        /// <strategy>.client-<k>.csv per client when there are several).
        #[arg(long, value_name = "DIR")]
        csv: Option<PathBuf>,
    },
    /// Make the HTML report of a saved JSON result (`ratelab run --json FILE`).
    ///
    /// The report is drawn from the result alone: it is the same, byte for byte, as the one
    /// `ratelab run --report` makes. Exit status 2 when the result is unreadable or malformed.
    Report {
        /// The JSON result written by `ratelab run --json FILE`.
        results: PathBuf,
        /// The HTML file to write.
        #[arg(short, long, value_name = "FILE.html")]
        output: PathBuf,
        /// The scenario file to name in the report's "reproduce" command (default: the
        /// scenario's name + .toml).
        #[arg(long, value_name = "PATH")]
        scenario: Option<PathBuf>,
    },
    /// List the scenarios in a folder and every strategy, retry, limit and latency kind with its
    /// fields and defaults.
    List {
        /// Folder of scenarios.
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            seed,
            json,
            quiet,
            report,
            csv,
        } => run(
            scenario.as_deref(),
            seed,
            json.as_deref(),
            quiet,
            report.as_deref(),
            csv.as_deref(),
        ),
        Command::Report {
            results,
            output,
            scenario,
        } => report_cmd::report(&results, &output, scenario),
        Command::List { dir } => {
            print!("{}", catalog::render(&dir));
            ExitCode::SUCCESS
        }
    }
}

fn run(
    path: Option<&Path>,
    seed: Option<u64>,
    json: Option<&Path>,
    quiet: bool,
    report: Option<&Path>,
    csv: Option<&Path>,
) -> ExitCode {
    let (scenario, options) = match report_cmd::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = seed.unwrap_or(scenario.seed);
    let out = simulate_with_progress(&scenario, seed, quiet);
    let table = table::render(&out);
    let json_to_stdout = json.is_some_and(|p| p == Path::new("-"));
    if json_to_stdout {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    if let Some(dest) = json {
        let mut text = serde_json::to_string_pretty(&out).expect("results serialise");
        text.push('\n');
        let written = if json_to_stdout {
            std::io::stdout().write_all(text.as_bytes())
        } else {
            std::fs::write(dest, text)
        };
        if let Err(e) = written {
            eprintln!(
                "error: {}: cannot write the JSON result: {e}",
                dest.display()
            );
            return ExitCode::from(1);
        }
        if !json_to_stdout {
            eprintln!("JSON result written to {}", dest.display());
        }
    }
    let default_report = path
        .is_none()
        .then(|| PathBuf::from(report_cmd::DEFAULT_REPORT));
    report_cmd::write_outputs(&out, &options, report.or(default_report.as_deref()), csv)
}

/// Runs the scenario, showing progress on a terminal for runs long enough to need it.
fn simulate_with_progress(scenario: &Scenario, seed: u64, quiet: bool) -> RunOutput {
    let show = !quiet && std::io::stderr().is_terminal();
    let count = scenario.strategies.len();
    let mut shown = false;
    let mut report = |i: usize, p: Progress| {
        if show {
            shown = true;
            eprint!(
                "\r[{}/{count}] {}: {:.0}% of requests final, virtual time {}   ",
                i + 1,
                scenario.strategies[i].name,
                100.0 * p.finals as f64 / p.requests.max(1) as f64,
                table::duration(p.now as f64 / 1e9),
            );
        }
    };
    let out = run_scenario(scenario, seed, Some(&mut report));
    if shown {
        eprint!("\r{:80}\r", "");
    }
    out
}
