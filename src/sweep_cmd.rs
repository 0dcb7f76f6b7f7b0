//! `ratelab sweep`, `ratelab merge` and `ratelab tune`: the command-line side of
//! [`ratelab::sweep`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use ratelab::sweep::report::{Asked, report_data};
use ratelab::sweep::{
    Line, MAX_SEEDS, Param, Plan, Tally, best, describe, merge, parse_shard, slim, tune,
};
use ratelab_sim::Scenario;
use ratelab_sim::objective::Objective;

/// What `sweep` and `tune` share: the scenario, the grid and the seeds.
pub struct GridArgs<'a> {
    /// The scenario file.
    pub scenario: &'a Path,
    /// `--param PATH=VALUES`, in order.
    pub params: &'a [String],
    /// `--seeds N`.
    pub seeds: u64,
    /// `--seed S`: the first seed (default: the scenario's).
    pub seed: Option<u64>,
    /// `--jobs N` (default: every core).
    pub jobs: Option<usize>,
    /// `--objective EXPR`.
    pub objective: Option<&'a str>,
    /// `--report FILE.html`.
    pub report: Option<&'a Path>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Everything checked before a run: the plan, the objective and the thread count.
fn prepare(args: &GridArgs<'_>) -> Result<(Plan, Option<Objective>, usize), ExitCode> {
    if args.seeds == 0 || args.seeds > MAX_SEEDS {
        return Err(fail(format!(
            "--seeds must be in 1..={MAX_SEEDS} (got {})",
            args.seeds
        )));
    }
    let threads = match args.jobs {
        Some(0) => return Err(fail("--jobs must be at least 1 (got 0)")),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let objective = match args.objective.map(str::parse::<Objective>).transpose() {
        Ok(o) => o,
        Err(e) => return Err(fail(e)),
    };
    let base = Scenario::load(args.scenario).map_err(fail)?;
    let params: Vec<Param> = args
        .params
        .iter()
        .map(|p| Param::parse(p))
        .collect::<Result<_, _>>()
        .map_err(fail)?;
    let first = args.seed.unwrap_or(base.seed);
    let seeds: Vec<u64> = (0..args.seeds).map(|k| first.wrapping_add(k)).collect();
    let plan = Plan::new(&base, args.scenario, params, seeds).map_err(fail)?;
    Ok((plan, objective, threads))
}

/// A progress line on a terminal, unless quiet.
fn progress(quiet: bool) -> impl FnMut(usize, usize) {
    let show = !quiet && std::io::stderr().is_terminal();
    let start = Instant::now();
    move |done, all| {
        if show {
            let s = start.elapsed().as_secs_f64();
            let eta = if done > 0 {
                s * (all - done) as f64 / done as f64
            } else {
                0.0
            };
            eprint!("\r{done} of {all} runs, {s:.0} s, about {eta:.0} s to go   ");
            if done == all {
                eprint!("\r{:60}\r", "");
            }
        }
    }
}

/// Writes the landscape report of `lines` to `dest` (after the JSON Lines, `lines_in`, so that
/// a report that cannot be written loses nothing else); exit status 1 when it cannot be written.
fn write_report(
    dest: &Path,
    plan: &Plan,
    lines: &[Line],
    objective: Option<&Objective>,
    asked: &Asked<'_>,
    lines_in: Option<&Path>,
) -> ExitCode {
    let b = best(lines, objective);
    let html =
        ratelab_reports::render_sweep_html(&report_data(plan, lines, objective, b.as_ref(), asked));
    match std::fs::write(dest, html) {
        Ok(()) => {
            eprintln!("Report written to {}", dest.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let kept = match lines_in {
                Some(p) if p != Path::new("-") => format!("; their lines are in {}", p.display()),
                Some(_) => "; their lines went to standard output".to_string(),
                None => String::new(),
            };
            eprintln!(
                "error: {}: cannot write the report: {e} (the runs are done{kept})",
                dest.display(),
            );
            ExitCode::from(1)
        }
    }
}

/// `ratelab sweep`.
pub fn sweep(args: GridArgs<'_>, shard_arg: Option<&str>, out: &Path, quiet: bool) -> ExitCode {
    let shard = match shard_arg.map(parse_shard).transpose() {
        Ok(s) => s.unwrap_or((0, 1)),
        Err(e) => return fail(e),
    };
    let (plan, objective, threads) = match prepare(&args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(report) = args.report
        && let Err(code) = crate::report_cmd::prepare_outputs(Some(out), Some(report), None)
    {
        return code;
    }
    let jobs = plan.jobs(shard);
    let mut file: Box<dyn Write> = if out == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        match std::fs::File::create(out) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: {}: cannot write: {e}", out.display());
                return ExitCode::from(1);
            }
        }
    };
    let start = Instant::now();
    // The best point from a tally of sums; the lines themselves (slim) only for a report.
    let mut tally = Tally::new(objective.as_ref());
    let mut lines: Vec<Line> = Vec::new();
    let keep = args.report.is_some();
    let ran = plan.run_with(
        &jobs,
        threads,
        &mut file,
        &mut progress(quiet),
        &mut |line| {
            tally.add(line);
            if keep {
                lines.push(slim(line));
            }
        },
    );
    match ran {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {}: cannot write: {e}", out.display());
            return ExitCode::from(1);
        }
    };
    drop(file);
    let say = |s: String| {
        if out == Path::new("-") {
            eprintln!("{s}");
        } else {
            println!("{s}");
        }
    };
    say(format!(
        "{} points × {} seeds{} = {} runs of {} strategies in {:.1} s on {threads} threads; \
         sweep {}",
        plan.points.len(),
        plan.seeds.len(),
        if shard.1 > 1 {
            format!(
                " (shard {}/{}: {} points)",
                shard.0,
                shard.1,
                jobs.len() / plan.seeds.len()
            )
        } else {
            String::new()
        },
        jobs.len(),
        plan.points.first().map_or(0, |p| p.strategies.len()),
        start.elapsed().as_secs_f64(),
        plan.hash
    ));
    match tally.best(objective.as_ref()) {
        Some(b) => say(describe(&b, objective.as_ref())),
        None => say("best: no point meets the objective's constraints".to_string()),
    }
    match args.report {
        Some(dest) => {
            let subset = (shard.1 > 1).then(|| {
                format!(
                    "shard {}/{}: {} of the grid's points",
                    shard.0,
                    shard.1,
                    jobs.len() / plan.seeds.len()
                )
            });
            let asked = Asked {
                scenario: args.scenario,
                objective: args.objective,
                verb: "sweep",
                shard: shard_arg,
                subset,
            };
            write_report(dest, &plan, &lines, objective.as_ref(), &asked, Some(out))
        }
        None => ExitCode::SUCCESS,
    }
}

/// `ratelab tune`.
pub fn tune_cmd(args: GridArgs<'_>) -> ExitCode {
    let (plan, objective, threads) = match prepare(&args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(report) = args.report
        && let Err(code) = crate::report_cmd::prepare_outputs(None, Some(report), None)
    {
        return code;
    }
    let start = Instant::now();
    let tuned = match tune::tune(&plan, objective.as_ref(), threads) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    println!(
        "coordinate descent: {} of the grid's {} points run ({} seeds each) in {:.1} s",
        tuned.points_run,
        plan.points.len(),
        plan.seeds.len(),
        start.elapsed().as_secs_f64()
    );
    match tuned.best {
        Some(b) => println!("{}", describe(&b, objective.as_ref())),
        None => println!("best: no point it ran meets the objective's constraints"),
    }
    match args.report {
        Some(dest) => {
            let asked = Asked {
                scenario: args.scenario,
                objective: args.objective,
                verb: "tune",
                shard: None,
                subset: Some(format!(
                    "coordinate descent: {} of the grid's {} points run",
                    tuned.points_run,
                    plan.points.len()
                )),
            };
            write_report(dest, &plan, &tuned.lines, objective.as_ref(), &asked, None)
        }
        None => ExitCode::SUCCESS,
    }
}

/// `ratelab merge`.
pub fn merge_cmd(files: &[PathBuf], out: &Path) -> ExitCode {
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let text = match merge::merge(&files) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    match std::fs::write(out, text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: cannot write: {e}", out.display());
            ExitCode::from(1)
        }
    }
}
