//! `ratelab serve`, `ratelab live` and `ratelab fidelity`: argument handling and printing around
//! `ratelab-live`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ratelab_live::run::{SharedStore, run_scenario_live_shared};
use ratelab_live::{Endpoint, MockApi, ScaleExt, Server, fidelity, interrupt_on_ctrl_c};
use ratelab_sim::result::StopReason;
use ratelab_sim::{RunOutput, Scenario, run_scenario};

use crate::progress::ProgressLine;

/// The exit status of a live run stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;
use crate::table;

/// Reads a scenario for `serve` or `live`: valid, and without an API that only the simulator
/// runs (a row under optimistic concurrency settles a reply's status when it arrives, which
/// the mock server, answering headers first, does not do).
fn load(path: &Path) -> Result<Scenario, ExitCode> {
    let scenario = Scenario::load(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    if scenario
        .api
        .limits
        .iter()
        .any(|l| matches!(l, ratelab_sim::api::LimitSpec::OptimisticConcurrency(_)))
    {
        eprintln!(
            "error: {}: api.limits: optimistic_concurrency runs in the simulator only (`ratelab \
             run`); the mock server cannot serve it",
            path.display()
        );
        return Err(ExitCode::from(2));
    }
    Ok(scenario)
}

/// [`load`], keeping only the strategies `--strategy` names (all when none).
fn load_only(path: &Path, only: &[String]) -> Result<Scenario, ExitCode> {
    let mut scenario = load(path)?;
    crate::report_cmd::keep_strategies(&mut scenario, &path.display().to_string(), only)?;
    Ok(scenario)
}

/// `ratelab serve SCENARIO [--addr ADDR] [--seed N] [--timer-spin-us US]`.
pub fn serve(
    path: &Path,
    addr: SocketAddr,
    seed: Option<u64>,
    spin_us: u64,
    profile: ratelab_live::Profile,
    trace: Option<&Path>,
) -> ExitCode {
    let scenario = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or(scenario.seed);
    let trace = match trace.map(ratelab_live::server::Trace::create) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            eprintln!(
                "error: --trace {}: cannot create it: {e}",
                trace.map_or_else(String::new, |p| p.display().to_string())
            );
            return ExitCode::from(2);
        }
    };
    let done = ratelab_live::block_on(async move {
        let mut api = MockApi::new(&scenario.api, seed, scenario.workload.clients)
            .with_spin(Duration::from_micros(spin_us))
            .with_profile(profile);
        if let Some(t) = trace {
            api = api.with_trace(t);
        }
        let api = Arc::new(api);
        let server = match Server::bind(addr, api).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return ExitCode::from(2);
            }
        };
        // A closed stdout (`ratelab serve | head -1`) must not stop the server: nothing here
        // panics on a failed write.
        macro_rules! say {
            ($($t:tt)*) => {{
                let _ = writeln!(std::io::stdout(), $($t)*);
            }};
        }
        let bound = server.addr();
        match profile {
            ratelab_live::Profile::Ietf => say!(
                "ratelab serve: {} ({}) on http://{bound}/ (any path, any method; RateLimit and \
                 RateLimit-Policy fields)",
                scenario.name,
                path.display()
            ),
            ratelab_live::Profile::Generic => say!(
                "ratelab serve: {} ({}) on http://{bound}/ (any path, any method)",
                scenario.name,
                path.display()
            ),
            ratelab_live::Profile::Anthropic => say!(
                "ratelab serve: {} ({}) as the Anthropic API on http://{bound} (base_url for the \
                 SDKs; POST /v1/messages)",
                scenario.name,
                path.display()
            ),
            ratelab_live::Profile::OpenAi => say!(
                "ratelab serve: {} ({}) as the OpenAI API on http://{bound}/v1 \
                 (base_url for the SDKs; POST /chat/completions, /completions, /embeddings, \
                 /responses)",
                scenario.name,
                path.display()
            ),
        }
        if !bound.ip().is_loopback() {
            say!(
                "warning: listening on {}, which is not a loopback address",
                bound.ip()
            );
        }
        say!(
            "[api] (seed {seed}; x-ratelimit-client 0..={}):",
            scenario.workload.clients.saturating_sub(1)
        );
        let _ = write!(
            std::io::stdout(),
            "{}",
            ratelab_live::server::describe(&scenario.api)
        );
        if let Some(cap) = scenario.api_capacity_rps() {
            say!("sustainable rate: {} requests/s", table::number(cap));
        }
        say!(
            "request headers: x-ratelimit-client (default 0), x-request-id (default: counted per \
             client), x-attempt (default 1), x-tokens (default 1)"
        );
        let cap = server.max_connections();
        if cap < ratelab_live::server::MAX_CONNECTIONS {
            say!(
                "at most {cap} connections open at once (ulimit -n {}: {} descriptors kept free)",
                ratelab_live::server::open_files_limit().unwrap_or(0),
                ratelab_live::server::FD_RESERVE
            );
        }
        say!("Ctrl-C stops it.");
        let _ = std::io::stdout().flush();
        let signal = ratelab_live::ctrl_c().await;
        server.api().flush_trace();
        server.shutdown().await;
        match signal {
            Ok(()) => {
                say!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot watch for Ctrl-C: {e}");
                ExitCode::from(1)
            }
        }
    });
    done.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })
}

fn live_output(
    scenario: &Scenario,
    seed: u64,
    endpoint: &Endpoint,
    spin_us: u64,
    quiet: bool,
    store: &SharedStore,
) -> Result<RunOutput, String> {
    let names = scenario.strategies.iter().map(|s| s.name.clone()).collect();
    let mut line = ProgressLine::new(names, "live ", "elapsed", quiet);
    let out = ratelab_live::block_on(async {
        // The first Ctrl-C stops the run as at a horizon (its results are kept); a second one
        // ends the process at once.
        let (interrupted, watcher) = interrupt_on_ctrl_c(
            || {
                eprintln!(
                    "\ninterrupted: stopping the running strategy and writing the results \
                     (Ctrl-C again to quit at once)"
                )
            },
            INTERRUPTED,
        );
        let out = run_scenario_live_shared(
            scenario,
            seed,
            endpoint,
            Duration::from_micros(spin_us),
            &mut |i, p| line.update(i, p),
            interrupted,
            store,
        )
        .await;
        watcher.abort();
        out
    })?;
    line.clear();
    out
}

/// The settings of `ratelab live`.
pub struct LiveArgs<'a> {
    /// The scenario file.
    pub path: &'a Path,
    /// `--url`.
    pub url: Option<String>,
    /// `--json`.
    pub json: Option<&'a Path>,
    /// `--report`.
    pub report: Option<&'a Path>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--timer-spin-us`.
    pub spin_us: u64,
    /// `--quiet`.
    pub quiet: bool,
    /// `--scale`.
    pub scale: f64,
    /// `--redis`.
    pub redis: Option<String>,
    /// `--processes`.
    pub processes: Option<u32>,
}

/// `ratelab live SCENARIO [--url URL] [--json FILE|-] [--report FILE.html] [--seed N]
/// [--strategy NAME]... [--scale K] [--objective EXPR] [--quiet]`.
pub fn live(args: LiveArgs<'_>, only: &[String], objective: Option<&str>) -> ExitCode {
    let LiveArgs {
        path,
        url,
        json,
        report,
        seed,
        spin_us,
        quiet,
        scale,
        redis,
        processes,
    } = args;
    let mut scenario = match load_only(path, only) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let objective = match crate::report_cmd::parse_objective(objective) {
        Ok(o) => o,
        Err(code) => return code,
    };
    if scale != 1.0 {
        match scenario.scaled(scale) {
            Ok(scaled) => {
                for note in &scaled.notes {
                    eprintln!("note: {note}");
                }
                scenario = scaled.scenario;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let seed = seed.unwrap_or(scenario.seed);
    if let Some(u) = &url
        && let Err(e) = ratelab_live::client::Target::new(u)
    {
        eprintln!("error: --url {e}");
        return ExitCode::from(2);
    }
    let endpoint = match url {
        Some(u) => Endpoint::Url(u),
        None => Endpoint::InProcess,
    };
    let store = match shared_store(&scenario, path, redis, processes) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(code) = crate::report_cmd::prepare_outputs(json, report, None) {
        return code;
    }
    let mut out = match live_output(&scenario, seed, &endpoint, spin_us, quiet, &store) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if objective.is_some() {
        out.judge(objective.as_ref());
    }
    if let Err(code) = crate::report_cmd::print_table_and_json(&out, "live (real time): ", json) {
        return code;
    }
    let gone: String = out.results.iter().filter_map(endpoint_went_away).collect();
    if json.is_some_and(|p| p == Path::new("-")) {
        eprint!("{gone}");
    } else {
        print!("{gone}");
    }
    let options = ratelab_reports::ReportOptions {
        scenario_path: Some(path.display().to_string()),
        built_in: false,
    };
    let code = crate::report_cmd::write_outputs(&out, &options, report, None);
    if out
        .results
        .iter()
        .any(|r| r.stop == StopReason::Interrupted)
    {
        eprintln!(
            "interrupted: {} of {} strategies ran; exit status {INTERRUPTED}",
            out.results.len(),
            scenario.strategies.len()
        );
        return ExitCode::from(INTERRUPTED as u8);
    }
    code
}

/// `--redis` and `--processes`, checked against the scenario.
fn shared_store(
    scenario: &Scenario,
    path: &Path,
    redis: Option<String>,
    processes: Option<u32>,
) -> Result<SharedStore, String> {
    if let Some(url) = &redis
        && !(url.starts_with("redis://")
            || url.starts_with("rediss://")
            || url.starts_with("unix://"))
    {
        return Err(format!(
            "--redis {url:?}: give a Redis URL, e.g. redis://127.0.0.1:6379"
        ));
    }
    let Some(n) = processes else {
        return Ok(SharedStore {
            redis,
            processes: None,
        });
    };
    let clients = scenario.workload.clients;
    if n == 0 || n > clients {
        return Err(format!(
            "--processes {n}: {} has {clients} client(s); give 1..={clients}",
            path.display()
        ));
    }
    if redis.is_none()
        && let Some(s) = scenario.strategies.iter().find(|s| s.has_shared_layers())
    {
        return Err(format!(
            "--processes: strategy {:?} of {} shares a bucket across its clients \
             (token_bucket.shared = true), which processes can only do through Redis: add \
             --redis redis://HOST:PORT",
            s.name,
            path.display()
        ));
    }
    if matches!(
        scenario.workload.arrival,
        Some(ratelab_sim::workload::arrival::ArrivalSpec::Trace(_))
    ) {
        return Err(format!(
            "--processes: {} replays a trace (arrival = {{ kind = \"trace\" }}), which worker \
             processes cannot read; run it in one process",
            path.display()
        ));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    Ok(SharedStore {
        redis,
        processes: Some((
            n,
            Box::new(move || {
                let mut cmd = std::process::Command::new(&exe);
                cmd.arg("live-worker");
                cmd
            }),
        )),
    })
}

/// `ratelab live-worker`: one worker process of `live --processes`.
pub fn live_worker() -> ExitCode {
    let mut text = String::new();
    if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
        eprintln!("error: reading the job: {e}");
        return ExitCode::from(2);
    }
    let job: ratelab_live::workers::WorkerJob = match serde_json::from_str(&text) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: the job is not valid: {e}");
            return ExitCode::from(2);
        }
    };
    let ran = ratelab_live::block_on(ratelab_live::workers::run_worker(&job));
    match ran {
        Ok(Ok((events, done))) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match ratelab_live::workers::write_events(&mut out, &events, done) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: writing the events: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Ok(Err(e)) | Err(e) => {
            eprintln!("error: worker of clients {:?}: {e}", job.clients);
            ExitCode::from(1)
        }
    }
}

/// A note when the endpoint went away during a strategy's run: there were transport errors
/// (connection refused or reset), and from some second on until the end no attempt succeeded or
/// was answered 429 while attempts were still sent, no more of them than there were transport
/// errors and timeouts. Read from the per-second series, so the time is to the series' step
/// (1 s).
fn endpoint_went_away(r: &ratelab_sim::StrategyResult) -> Option<String> {
    let s = &r.series;
    if r.transport_errors == 0 || s.sends.is_empty() {
        return None;
    }
    let answered = |i: usize| {
        s.successes.get(i).copied().unwrap_or(0) + s.http_429.get(i).copied().unwrap_or(0) > 0
    };
    let from = (0..s.sends.len())
        .rev()
        .find(|&i| answered(i))
        .map_or(0, |i| i + 1);
    let unanswered: u64 = s.sends[from.min(s.sends.len())..].iter().sum();
    if unanswered == 0 || unanswered > r.transport_errors + r.timeouts {
        return None;
    }
    let at = from as u64 * s.step_s;
    let when = if from == 0 {
        "from the start".to_string()
    } else {
        format!("at about t = {at} s")
    };
    Some(format!(
        "note: {}: the endpoint stopped answering {when}: none of the {unanswered} attempts sent \
         after it succeeded or was rate limited ({} transport errors: connection refused or \
         reset{})\n",
        r.strategy,
        r.transport_errors,
        match r.timeouts {
            0 => String::new(),
            1 => "; 1 timeout".to_string(),
            t => format!("; {t} timeouts"),
        }
    ))
}

/// `ratelab fidelity SCENARIO --trace FILE.jsonl [--strategy NAME] [--seed N]`: the simulator's
/// prediction of one strategy next to a recorded client's run on the same API.
pub fn fidelity_trace(path: &Path, seed: Option<u64>, only: &[String], trace: &Path) -> ExitCode {
    let scenario = match load_only(path, only) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if scenario.strategies.len() != 1 {
        let names: Vec<&str> = scenario
            .strategies
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        eprintln!(
            "error: {}: --trace compares one strategy with the recorded client; name it with \
             --strategy (the scenario has: {})",
            path.display(),
            names.join(", ")
        );
        return ExitCode::from(2);
    }
    let text = match std::fs::read_to_string(trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read the trace: {e}", trace.display());
            return ExitCode::from(2);
        }
    };
    let recorded = match ratelab_live::trace::read_trace(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e}", trace.display());
            return ExitCode::from(2);
        }
    };
    let seed = seed.unwrap_or(scenario.seed);
    let sim = run_scenario(&scenario, seed, None);
    let r = &sim.results[0];
    println!(
        "fidelity: {} ({}), strategy {}, seed {seed}: the simulator vs the client recorded in {}",
        scenario.name,
        path.display(),
        r.strategy,
        trace.display()
    );
    let (table, agree) = ratelab_live::trace::render_trace(r, &recorded);
    print!("{table}");
    if agree {
        println!("agree: attempts and makespan within 5 %, 429s within 10 %");
        ExitCode::SUCCESS
    } else {
        eprintln!("fidelity: the recorded client missed the target");
        ExitCode::from(1)
    }
}

/// `ratelab fidelity SCENARIO [--scale K] [--seed N] [--strategy NAME]...`.
pub fn fidelity(
    path: &Path,
    scale: f64,
    seed: Option<u64>,
    only: &[String],
    seeds: u64,
    spin_us: u64,
    quiet: bool,
) -> ExitCode {
    let scenario = match load_only(path, only) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let scaled = match scenario.scaled(scale) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = seed.unwrap_or(scenario.seed);
    let s = &scaled.scenario;
    println!(
        "fidelity: {} ({}), seed {seed}, time scaled {scale}x, timer spin {spin_us} us: \
         simulator vs live against an in-process `ratelab serve` on 127.0.0.1",
        s.name,
        path.display()
    );
    for note in &scaled.notes {
        println!("note: {note}");
    }
    let sim = run_scenario(s, seed, None);
    let live = match live_output(
        s,
        seed,
        &Endpoint::InProcess,
        spin_us,
        quiet,
        &SharedStore::default(),
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if live
        .results
        .iter()
        .any(|r| r.stop == StopReason::Interrupted)
    {
        eprintln!(
            "interrupted: no comparison (the live run did not finish); exit status {INTERRUPTED}"
        );
        return ExitCode::from(INTERRUPTED as u8);
    }
    if scale != 1.0 {
        // Honest scaling leaves the dynamics unchanged: the scaled simulation then takes exactly
        // 1/K of the original's time. Whatever does not scale shows up here.
        let original = run_scenario(&scenario, seed, None);
        for (o, r) in original.results.iter().zip(&sim.results) {
            let expected = o.makespan_s / scale;
            let off = r.makespan_s / expected - 1.0;
            println!(
                "scaling check: {}: original makespan / {scale} = {:.3}s, scaled simulation {:.3}s \
                 ({:+.1}%){}",
                o.strategy,
                expected,
                r.makespan_s,
                off * 100.0,
                if off.abs() > 0.01 {
                    ": not the original sped up"
                } else {
                    ""
                }
            );
        }
    }
    println!(
        "diff = (live - sim) / sim; target: makespan and goodput within 5 %, 429s within 10 %"
    );
    let spread: Vec<RunOutput> = (1..=seeds)
        .map(|i| run_scenario(s, seed.wrapping_add(i), None))
        .collect();
    print!("{}", fidelity::render(&sim, &live, &spread));
    let missed = fidelity::missed(&sim, &live);
    if missed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "fidelity: {} missed the target: {}",
            missed.len(),
            missed.join(", ")
        );
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(
        sends: &[u64],
        successes: &[u64],
        http_429: &[u64],
        transport: u64,
    ) -> ratelab_sim::StrategyResult {
        let scenario: Scenario = toml::from_str(
            "name = \"t\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n\
             [[strategy]]\nname = \"s\"\n",
        )
        .unwrap();
        let mut r = run_scenario(&scenario, 1, None).results.remove(0);
        r.series.sends = sends.to_vec();
        r.series.successes = successes.to_vec();
        r.series.http_429 = http_429.to_vec();
        r.transport_errors = transport;
        r
    }

    #[test]
    fn a_note_when_the_endpoint_went_away() {
        // Answers until second 2, then 9 attempts that got nothing, 9 transport errors.
        let r = result(&[5, 5, 3, 4, 2], &[4, 5, 1, 0, 0], &[1, 0, 0, 0, 0], 9);
        let note = endpoint_went_away(&r).unwrap();
        assert!(
            note.contains("stopped answering at about t = 3 s"),
            "{note}"
        );
        assert!(note.contains("none of the 6 attempts"), "{note}");
        // Never answered at all.
        let r = result(&[3, 2], &[0, 0], &[0, 0], 5);
        assert!(endpoint_went_away(&r).unwrap().contains("from the start"));
        // No transport errors, or fewer than the unanswered attempts (other failures), or the
        // endpoint answered to the end: no note.
        assert_eq!(
            endpoint_went_away(&result(&[5, 5], &[5, 0], &[0, 0], 0)),
            None
        );
        assert_eq!(
            endpoint_went_away(&result(&[5, 5], &[5, 0], &[0, 0], 2)),
            None
        );
        assert_eq!(
            endpoint_went_away(&result(&[5, 5], &[4, 1], &[0, 0], 1)),
            None
        );
    }
}
