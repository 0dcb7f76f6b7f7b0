//! `ratelab`: run scenarios of client strategies against modelled rate-limited APIs.

mod live_cmd;
mod progress;
mod report_cmd;
mod seeds_cmd;
mod sweep_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use progress::ProgressLine;
use ratelab::table;
use ratelab_sim::{RunOutput, Scenario};

/// A deterministic virtual-clock lab for client strategies against rate-limited APIs.
///
/// ratelab runs client strategies (fixed delay, semaphore, token bucket, leaky bucket, AIMD, and
/// those that find the limit themselves: header pacing, AWS adaptive mode, Netflix Vegas and
/// Gradient2, Google SRE throttling; with retries as tenacity and the OpenAI and Anthropic SDKs
/// do them, backoff and a circuit breaker) against modelled rate-limited APIs on a virtual
/// clock, and reports throughput, latency and 429s. The same scenario and seed give the same
/// bytes.
#[derive(Parser)]
#[command(
    name = "ratelab",
    version,
    about,
    long_about,
    after_help = "Examples:\n  \
        ratelab run scenarios/seed-semaphore.toml                  compare the strategies\n  \
        ratelab run scenarios/seed-semaphore.toml --json -         the JSON result on stdout\n  \
        ratelab run scenarios/two-instances.toml --report r.html   an HTML report\n  \
        ratelab init my-api.toml                                   a commented starter scenario\n  \
        ratelab list                                               scenarios and every kind\n  \
        ratelab league                                             every strategy vs every API\n  \
        ratelab serve scenarios/ai-rpm-tpm.toml                    a mock API on 127.0.0.1:8080"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The scenario, the grid, the seeds and the objective of `sweep` and `tune`.
#[derive(clap::Args)]
struct GridOpts {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// A parameter and its values: PATH=VALUES (repeat for a grid).
    #[arg(long = "param", value_name = "PATH=VALUES", required = true)]
    params: Vec<String>,
    /// Seeds per point: seed, seed+1, … (default 1).
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// The first seed (default: the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Threads (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// What "best" means: `minimize|maximize METRIC [where METRIC OP VALUE and ...]`, on the
    /// means over seeds (default: most successes, fewest dead-lettered, shortest makespan,
    /// fewest 429s).
    #[arg(long, value_name = "EXPR")]
    objective: Option<String>,
    /// Also write the landscape report: one self-contained HTML page with a chart of each
    /// metric against each parameter (a line per strategy, a band across the seeds) and heat
    /// maps over the first two parameters, written after the runs (for `tune`: of the points
    /// it ran).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
}

impl GridOpts {
    fn args(&self) -> sweep_cmd::GridArgs<'_> {
        sweep_cmd::GridArgs {
            scenario: &self.scenario,
            params: &self.params,
            seeds: self.seeds,
            seed: self.seed,
            jobs: self.jobs,
            objective: self.objective.as_deref(),
            report: self.report.as_deref(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run every strategy of a scenario and print a comparison table.
    ///
    /// With --seeds N the scenario runs with N seeds and the table shows each metric's mean ±
    /// 95 % confidence interval over them, with the paired differences against a baseline.
    /// Strategies and seeds run in parallel on every core (--jobs); the output does not depend
    /// on it. Exit status: 0 on success, 2 when the scenario or a flag is invalid (the message
    /// names the file or flag, the field and the allowed range), 1 when an output cannot be
    /// written.
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
        /// Run only this strategy (repeatable; default: all, in the file's order).
        #[arg(long = "strategy", value_name = "NAME")]
        strategies: Vec<String>,
        /// What "best" means for the verdict (the table's `pick:` line and the JSON's
        /// `verdict`): `minimize|maximize METRIC [where METRIC OP VALUE and ...]`, metrics as
        /// the JSON names them plus http_429_rate, lost and efficiency; e.g. "minimize
        /// makespan_s where dead_lettered == 0 and http_429_rate <= 0.01". Default: the most
        /// successes, then the fewest dead-lettered, the shortest makespan, the fewest 429s.
        #[arg(long, value_name = "EXPR")]
        objective: Option<String>,
        /// Run with N seeds, seed ... seed+N-1 (seed: --seed or the scenario's), 1..=10000. With
        /// N > 1 the table shows mean ± 95 % CI half-width (Student t) of each metric over the
        /// seeds, the paired differences against the baseline (every strategy sees the same
        /// API on a seed: common random numbers), and the pick on the means; --json keeps every
        /// run; --report and --csv draw the first seed's run (the report with the summary
        /// table added). N = 1 is a plain run.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u64).range(1..=ratelab::seeds::MAX_SEEDS))]
        seeds: u64,
        /// The strategy the others are compared with, seed by seed, with --seeds N > 1
        /// (default: the first in the file).
        #[arg(long, value_name = "NAME")]
        baseline: Option<String>,
        /// Run at most N strategies or seeds at once, 1..=1024 (default: one per core). The
        /// results do not depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
        jobs: Option<u64>,
    },
    /// Write a commented starter scenario to edit for your own API.
    ///
    /// It models an AI API with request and token limits per minute, a batch of requests of
    /// varying token weight, and three strategies to compare (two that need no knowledge of the
    /// limit, one told it); every line says what it is for. Its `name` is the file's stem.
    /// Exit status 2 when FILE exists (unless --force) or cannot be written.
    Init {
        /// Where to write it.
        #[arg(default_value = "my-api.toml")]
        file: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print a JSON Schema (draft 2020-12) of the scenario format, for editors to complete and
    /// check scenario files.
    ///
    /// With taplo (Even Better TOML in VS Code): save it, e.g. `ratelab schema >
    /// scenario.schema.json`, and put `#:schema ./scenario.schema.json` as the first line of a
    /// scenario, or map `scenarios/*.toml` to it in `.taplo.toml`. It names every table, kind and
    /// field, which fields are required, and the type of each; ranges are checked by `ratelab
    /// run`, not by the schema.
    Schema,
    /// Run a scenario over a grid of parameter values and seeds, on every core, into JSON Lines.
    ///
    /// Each --param PATH=VALUES names a field of the scenario as its file has it, strategies by
    /// name (strategy.NAME.retry.base_ms, strategy.*.retry.max_attempts,
    /// strategy.NAME.admission.0.rate_per_s, api.limits.0.rate_per_s, workload.requests; a name
    /// with dots in quotes: strategy."b-12.5/s".retry.base_ms), and the values it takes: a,b,c
    /// or START..=END:STEP. The grid is every combination, the first --param slowest. Every point
    /// is built and checked before anything runs (a wrong path says what exists there; a value
    /// out of range names the field and its range). The output has one line per (point, seed,
    /// strategy), in that order whatever --jobs; --shard I/N runs every N-th point, and `ratelab
    /// merge` puts the shards back into the bytes of the whole run. At the end it prints the best
    /// point under --objective (metrics averaged over the seeds); --report FILE.html also draws
    /// the landscape. Exit status: 0 ok, 1 an output cannot be written, 2 bad input.
    #[command(after_help = "Examples:
          ratelab sweep scenarios/seed-token-bucket.toml --param 'strategy.*.admission.0.rate_per_s=6..=14:2' --seeds 5 --out sweep.jsonl --report sweep.html
          ratelab sweep S.toml --param strategy.b.retry.base_ms=100,200,400 --param strategy.b.retry.max_attempts=3..=9:3 --shard 0/4 --out part0.jsonl")]
    Sweep {
        #[command(flatten)]
        grid: GridOpts,
        /// Run only the points p with p % N == I.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// The JSON Lines file to write (`-`: standard output).
        #[arg(long, value_name = "FILE.jsonl")]
        out: PathBuf,
        /// Print no progress.
        #[arg(long)]
        quiet: bool,
    },
    /// Merge the shards of one sweep (`ratelab sweep --shard I/N`) into the bytes of the
    /// unsharded run.
    ///
    /// Checks that the files come from one sweep (same scenario, parameters and seeds) and hold
    /// every point, seed and strategy once. Exit status 2 when they do not.
    Merge {
        /// The shards, in any order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The merged file.
        #[arg(short, long, value_name = "ALL.jsonl")]
        output: PathBuf,
    },
    /// Find the best point of a grid (the --param syntax of `sweep`) without running all of it.
    ///
    /// Deterministic coordinate descent: from the middle of every axis, try each value of one
    /// parameter with the others fixed, move to the best, next parameter; stop when a round
    /// moves nothing. Every point is measured on all --seeds. It prints the best point and how
    /// many of the grid's points it ran.
    Tune {
        #[command(flatten)]
        grid: GridOpts,
    },
    /// Make the HTML report of a saved JSON result (`ratelab run --json FILE`).
    ///
    /// The report is drawn from the result: with `--scenario` naming the scenario file as it was
    /// given to `ratelab run`, it is the same, byte for byte, as the one `ratelab run --report`
    /// made. Without it only the reproduce line can differ: it then names the file
    /// `<scenario name>.toml` (and a run of the built-in default, `ratelab run` alone, is not
    /// recognised as such). Exit status 2 when the result is unreadable or malformed.
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
    ///
    /// Exit status 2 when a folder given with --dir cannot be read (without --dir a missing
    /// ./scenarios only says so: the kinds are still listed).
    List {
        /// Folder of scenarios (default: ./scenarios).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Serve a scenario's [api] model over HTTP on real time (a mock of the rate-limited API).
    ///
    /// Every request, on any path, is answered by the same API model the simulator runs, after
    /// the model's latency: 200, 429 with Retry-After (whole seconds), 413, or a server error,
    /// with x-ratelimit-remaining/reset-requests/tokens headers and a small JSON body. Requests
    /// say who they are with x-ratelimit-client (default 0), x-request-id (default: counted per
    /// client), x-attempt (default 1) and x-tokens (default 1); an unreadable header gets a 400.
    /// Keep-alive connections are reused (request bodies are read, up to 1 MiB: a longer one gets
    /// a 413). A connection must send its headers within 10 s; at most 4 096 are open at once
    /// (more wait to be accepted); when accept fails (out of file descriptors) it waits 100 ms
    /// before trying again. Ctrl-C stops it. Exit status 2 when the scenario is invalid or the
    /// address is unusable.
    Serve {
        /// The scenario file (TOML) whose [api] is served.
        scenario: PathBuf,
        /// Address to listen on; loopback unless you ask for another.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Seed of the model's draws (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Precise replies: sleep on tokio's millisecond timer until this many microseconds
        /// before each reply is due, then yield until it (0: the timer alone, typically 1-2 ms
        /// late).
        #[arg(long, value_name = "US", default_value_t = 2000)]
        timer_spin_us: u64,
        /// What the mock looks like: `generic` (any path, ratelab's small JSON bodies),
        /// `openai` (POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses
        /// with bodies the official SDKs parse, OpenAI's error shape, retry-after-ms,
        /// x-request-id, resets as `6m0s`) or `anthropic` (POST /v1/messages, Anthropic's error
        /// shape, a configured 529 as overloaded_error, anthropic-ratelimit-* headers with RFC
        /// 3339 resets, request-id) or `ietf` (generic, with the IETF draft's RateLimit-Policy
        /// and RateLimit fields instead of x-ratelimit-*). With the openai and anthropic
        /// profiles, a request without x-tokens weighs ceil(chars/4) of its text plus its
        /// max_tokens.
        #[arg(long, default_value = "generic", value_parser = |s: &str| s.parse::<ratelab_live::Profile>())]
        profile: ratelab_live::Profile,
        /// Write one JSON line per request to FILE.jsonl: t_s (since the start), client, id,
        /// attempt, tokens, status, latency_s, path. The trace of a real client's run.
        #[arg(long, value_name = "FILE.jsonl")]
        trace: Option<PathBuf>,
    },
    /// Run a scenario's strategies on real time against a real HTTP endpoint.
    ///
    /// The strategies run one after another through the tokio driver (the same state machines
    /// as the simulator) against --url, or by default against an in-process `serve` of the
    /// scenario's [api] on an ephemeral loopback port, its model reset for each strategy. Prints
    /// the same table as `run`; --json writes the same JSON shape with "mode": "live".
    Live {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Endpoint to call (http:// only), e.g. http://127.0.0.1:8080/v1/analyze.
        #[arg(long)]
        url: Option<String>,
        /// Write the JSON result to FILE, or to standard output with `-`.
        #[arg(long, value_name = "FILE|-")]
        json: Option<PathBuf>,
        /// Seed of every draw (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Precise waits: sleep on tokio's millisecond timer until this many microseconds before
        /// each deadline, then yield until it (0: the timer alone, typically 1-2 ms late).
        #[arg(long, value_name = "US", default_value_t = 2000)]
        timer_spin_us: u64,
        /// Write a self-contained HTML report (tables, charts) to FILE.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Print no progress while running.
        #[arg(long, short)]
        quiet: bool,
        /// Run only this strategy (repeatable; default: all).
        #[arg(long = "strategy", value_name = "NAME")]
        strategies: Vec<String>,
        /// Run the scenario K times faster, 0.001..=1000 (rates x K; latencies, delays, backoffs
        /// and windows / K), saying what it cannot scale.
        #[arg(long, default_value_t = 1.0, value_name = "K")]
        scale: f64,
        /// What "best" means for the verdict, as for `run --objective`.
        #[arg(long, value_name = "EXPR")]
        objective: Option<String>,
        /// Keep the shared buckets (`token_bucket.shared = true`) in the Redis at URL
        /// (redis://HOST:PORT), as a GCRA that every process shares; default: one bucket in
        /// this process.
        #[arg(long, value_name = "URL")]
        redis: Option<String>,
        /// Run the clients in N worker processes (1..=clients, dealt round robin; N = clients:
        /// each client its own process). They coordinate only through the endpoint and Redis,
        /// so a scenario with shared buckets needs --redis.
        #[arg(long, value_name = "N")]
        processes: Option<u32>,
    },
    /// A worker process of `live --processes` (internal): reads its job as JSON on standard
    /// input and writes its events as JSON lines to standard output.
    #[command(hide = true)]
    LiveWorker,
    /// Run the league: every entry of DIR/entries.toml against every API of DIR.
    ///
    /// Each API file of the folder holds a [workload] and an [api] (no strategies); entries.toml
    /// lists the zero-knowledge entries (no field that encodes the limit) and the library
    /// presets. Every entry runs against every API in the simulator; the table gives each one's
    /// share of the ideal makespan (the makespan of an oracle that knows the limits exactly,
    /// counted only when nothing was lost), 429s per attempt, dead-lettered, lost, makespan and
    /// p99, and whether the best zero-knowledge entry meets the target (with rate-limit headers:
    /// at least 97 % of ideal with at most 1 % 429s; without: 90 % and 5 %). Exit status 2 when
    /// the folder or a file in it is unreadable or invalid, 1 when an output cannot be written.
    League {
        /// The league folder (default: scenarios/league).
        dir: Option<PathBuf>,
        /// Write the JSON result to FILE, or to standard output with `-` (the table then goes to
        /// standard error).
        #[arg(long, value_name = "FILE|-")]
        json: Option<PathBuf>,
        /// Write a self-contained HTML page of the league to FILE.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Print no progress while running.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Compare the simulator with a live run of the same scenario against `serve` on loopback.
    ///
    /// Prints makespan, goodput, 429 count and p50/p99 latency side by side with the relative
    /// difference. --scale K runs the scenario K times faster (rates x K; latencies, delays,
    /// backoffs and windows / K) in both, and says what it cannot scale. Exit status: 0 when
    /// every strategy meets the target (makespan and goodput within 5 %, 429s within 10 %), 1
    /// when one misses (stderr names them) or the live run fails, 2 on bad input.
    Fidelity {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Speed-up factor for both runs, 0.001..=1000.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Seed of every draw (default: the scenario's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Compare only this strategy (repeatable; default: all).
        #[arg(long = "strategy", value_name = "NAME")]
        strategies: Vec<String>,
        /// Also simulate with this many other seeds (seed+1, seed+2, ...) and show the range of
        /// makespan and 429s they give: how much a metric moves when timing shifts a little.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1000))]
        sim_seeds: u64,
        /// Instead of a live run, compare with a recorded client's run: the JSON lines `ratelab
        /// serve --trace` wrote while a real client (an SDK, your own code) ran against the
        /// scenario's API. Needs the one strategy that models that client (--strategy NAME, or a
        /// scenario with one strategy).
        #[arg(long, value_name = "FILE.jsonl")]
        trace: Option<PathBuf>,
        /// Precise waits: sleep on tokio's millisecond timer until this many microseconds before
        /// each deadline, then yield until it (0: the timer alone, typically 1-2 ms late).
        #[arg(long, value_name = "US", default_value_t = 2000)]
        timer_spin_us: u64,
        /// Print no progress while running.
        #[arg(long, short)]
        quiet: bool,
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
            strategies,
            objective,
            seeds,
            baseline,
            jobs,
        } => run(
            RunArgs {
                path: scenario.as_deref(),
                seed,
                json: json.as_deref(),
                quiet,
                report: report.as_deref(),
                csv: csv.as_deref(),
                seeds,
                baseline: baseline.as_deref(),
                jobs: jobs.map(|j| j as usize),
            },
            &strategies,
            objective.as_deref(),
        ),
        Command::Report {
            results,
            output,
            scenario,
        } => report_cmd::report(&results, &output, scenario),
        Command::Init { file, force } => init(&file, force),
        Command::Sweep {
            grid,
            shard,
            out,
            quiet,
        } => sweep_cmd::sweep(grid.args(), shard.as_deref(), &out, quiet),
        Command::Merge { files, output } => sweep_cmd::merge_cmd(&files, &output),
        Command::Tune { grid } => sweep_cmd::tune_cmd(grid.args()),
        Command::Schema => {
            print!("{}", ratelab::schema::schema_text());
            ExitCode::SUCCESS
        }
        Command::Serve {
            scenario,
            addr,
            seed,
            timer_spin_us,
            profile,
            trace,
        } => live_cmd::serve(
            &scenario,
            addr,
            seed,
            timer_spin_us,
            profile,
            trace.as_deref(),
        ),
        Command::Live {
            scenario,
            url,
            json,
            seed,
            timer_spin_us,
            report,
            quiet,
            strategies,
            scale,
            objective,
            redis,
            processes,
        } => live_cmd::live(
            live_cmd::LiveArgs {
                path: &scenario,
                url,
                json: json.as_deref(),
                report: report.as_deref(),
                seed,
                spin_us: timer_spin_us,
                quiet,
                scale,
                redis,
                processes,
            },
            &strategies,
            objective.as_deref(),
        ),
        Command::LiveWorker => live_cmd::live_worker(),
        Command::Fidelity {
            scenario,
            seed,
            strategies,
            trace: Some(trace),
            ..
        } => live_cmd::fidelity_trace(&scenario, seed, &strategies, &trace),
        Command::Fidelity {
            scenario,
            scale,
            seed,
            strategies,
            sim_seeds,
            timer_spin_us,
            quiet,
            trace: None,
        } => live_cmd::fidelity(
            &scenario,
            scale,
            seed,
            &strategies,
            sim_seeds,
            timer_spin_us,
            quiet,
        ),
        Command::League {
            dir,
            json,
            report,
            quiet,
        } => league(dir, json.as_deref(), report.as_deref(), quiet),
        Command::List { dir } => {
            let given = dir.is_some();
            let dir = dir.unwrap_or_else(|| PathBuf::from("scenarios"));
            let (text, unreadable) = ratelab::catalog::render(&dir);
            print!("{text}");
            match unreadable {
                Some(e) if given => {
                    eprintln!("error: {}: cannot read the folder: {e}", dir.display());
                    ExitCode::from(2)
                }
                _ => ExitCode::SUCCESS,
            }
        }
    }
}

/// The outputs and settings of `ratelab run`.
struct RunArgs<'a> {
    path: Option<&'a Path>,
    seed: Option<u64>,
    json: Option<&'a Path>,
    quiet: bool,
    report: Option<&'a Path>,
    csv: Option<&'a Path>,
    /// How many seeds, from `seed`.
    seeds: u64,
    /// `--baseline`.
    baseline: Option<&'a str>,
    /// `--jobs` (`None`: every core).
    jobs: Option<usize>,
}

fn run(args: RunArgs<'_>, only: &[String], objective: Option<&str>) -> ExitCode {
    let RunArgs {
        path,
        seed,
        json,
        quiet,
        report,
        csv,
        seeds,
        baseline,
        jobs,
    } = args;
    let (mut scenario, options) = match report_cmd::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let file = path.map_or("the built-in scenario".into(), |p| p.display().to_string());
    if let Err(code) = report_cmd::keep_strategies(&mut scenario, &file, only) {
        return code;
    }
    let objective = match report_cmd::parse_objective(objective) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or(scenario.seed);
    let Some(seed_list) = seeds_cmd::seed_list(seed, seeds) else {
        return ExitCode::from(2);
    };
    let baseline = match seeds_cmd::baseline_index(&scenario, &file, baseline) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let default_report = path
        .is_none()
        .then(|| PathBuf::from(report_cmd::DEFAULT_REPORT));
    let report = report.or(default_report.as_deref());
    if let Err(code) = report_cmd::prepare_outputs(json, report, csv) {
        return code;
    }
    let Some(mut runs) = simulate_with_progress(&scenario, &seed_list, jobs, quiet) else {
        return ExitCode::from(1);
    };
    if runs.len() > 1 {
        let out = seeds_cmd::Outputs {
            json,
            report,
            csv,
            options: &options,
        };
        return seeds_cmd::finish(runs, baseline, objective.as_ref(), out);
    }
    let mut out = runs.remove(0);
    if objective.is_some() {
        out.judge(objective.as_ref());
    }
    if let Err(code) = report_cmd::print_table_and_json(&out, "", json) {
        return code;
    }
    report_cmd::write_outputs(&out, &options, report, csv)
}

/// The starter scenario `ratelab init` writes.
const STARTER: &str = include_str!("templates/starter.toml");

fn init(file: &Path, force: bool) -> ExitCode {
    if file.exists() && !force {
        eprintln!(
            "error: {}: already exists; pass --force to overwrite it, or name another file",
            file.display()
        );
        return ExitCode::from(2);
    }
    let stem = file
        .file_stem()
        .map_or_else(|| "my-api".into(), |s| s.to_string_lossy().into_owned());
    let name = toml::Value::String(stem).to_string();
    let text = STARTER.replacen("name = \"my-api\"", &format!("name = {name}"), 1);
    if let Err(e) = std::fs::write(file, text) {
        eprintln!("error: {}: cannot write it: {e}", file.display());
        return ExitCode::from(2);
    }
    println!(
        "Wrote {0}. Edit its [api] and [workload], then: ratelab run {0}",
        file.display()
    );
    ExitCode::SUCCESS
}

fn league(
    dir: Option<PathBuf>,
    json: Option<&Path>,
    report: Option<&Path>,
    quiet: bool,
) -> ExitCode {
    use ratelab::league::{League, render_html, render_table};
    let dir = dir.unwrap_or_else(|| PathBuf::from("scenarios/league"));
    let league = match League::load(&dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let total = league.apis.len();
    let mut done = 0;
    let out = league.run(|name| {
        done += 1;
        if !quiet {
            eprintln!("league: {done}/{total} {name}");
        }
    });
    let table = render_table(&out);
    let json_text = serde_json::to_string_pretty(&out).expect("the league serialises") + "\n";
    match json {
        Some(p) if p == Path::new("-") => {
            eprint!("{table}");
            print!("{json_text}");
        }
        Some(p) => {
            print!("{table}");
            if let Err(e) = std::fs::write(p, json_text) {
                eprintln!("error: {}: cannot write the JSON: {e}", p.display());
                return ExitCode::from(1);
            }
        }
        None => print!("{table}"),
    }
    if let Some(p) = report
        && let Err(e) = std::fs::write(p, render_html(&out))
    {
        eprintln!("error: {}: cannot write the report: {e}", p.display());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Runs the scenario with each seed on `jobs` threads (every core by default), showing progress
/// on a terminal for runs long enough to need it; one output per seed, in seed order (`None`,
/// said, when the threads cannot be started).
fn simulate_with_progress(
    scenario: &Scenario,
    seeds: &[u64],
    jobs: Option<usize>,
    quiet: bool,
) -> Option<Vec<RunOutput>> {
    let names = scenario.strategies.iter().map(|s| s.name.clone()).collect();
    let line = std::sync::Mutex::new(ProgressLine::new(names, "", "virtual time", quiet));
    let n = seeds.len();
    let report = |k: usize, i: usize, p: ratelab_sim::Progress| {
        // Whichever thread holds the line draws it; the others skip this report.
        if let Ok(mut line) = line.try_lock() {
            line.update_seed(k, n, i, p);
        }
    };
    let out = ratelab::parallel::run_seeds(scenario, seeds, jobs, &report);
    line.lock().map(|l| l.clear()).ok();
    out.map_err(|e| eprintln!("error: cannot start the threads of --jobs: {e}"))
        .ok()
}
