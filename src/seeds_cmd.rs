//! CLI glue of `ratelab run --seeds N`: the seeds and the baseline checked before any run, and
//! with N > 1 the table, the JSON of every run, and the report and CSV of the first seed.

use std::path::Path;
use std::process::ExitCode;

use ratelab::seeds::{MAX_SEEDS, MultiSeed, table};
use ratelab_reports::{ReportOptions, escape, render_html, write_csv};
use ratelab_sim::objective::Objective;
use ratelab_sim::{RunOutput, Scenario};

/// The seeds `seed … seed + n − 1`; `None`, said, when the last would pass `u64::MAX`.
pub fn seed_list(seed: u64, n: u64) -> Option<Vec<u64>> {
    if seed.checked_add(n - 1).is_none() {
        eprintln!(
            "error: --seeds {n}: seed {seed} + {n} - 1 passes the largest seed ({}); \
             give a smaller --seed or fewer seeds (1..={MAX_SEEDS})",
            u64::MAX
        );
        return None;
    }
    Some((0..n).map(|i| seed + i).collect())
}

/// The index of `--baseline NAME` among the scenario's strategies (0 without one); exit 2
/// naming the strategies when it has none of that name.
pub fn baseline_index(
    scenario: &Scenario,
    file: &str,
    name: Option<&str>,
) -> Result<usize, ExitCode> {
    let Some(name) = name else {
        return Ok(0);
    };
    scenario
        .strategies
        .iter()
        .position(|s| s.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = scenario
                .strategies
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            eprintln!(
                "error: {file}: --baseline {name:?}: no such strategy (the run has: {})",
                known.join(", ")
            );
            ExitCode::from(2)
        })
}

/// Where the outputs of a multi-seed run go.
pub struct Outputs<'a> {
    /// `--json` (`-`: standard output).
    pub json: Option<&'a Path>,
    /// `--report`.
    pub report: Option<&'a Path>,
    /// `--csv`.
    pub csv: Option<&'a Path>,
    /// How the report names the scenario.
    pub options: &'a ReportOptions,
}

/// Summarises the runs (one per seed, N > 1), prints the table and writes the outputs.
pub fn finish(
    mut runs: Vec<RunOutput>,
    baseline: usize,
    objective: Option<&Objective>,
    out: Outputs<'_>,
) -> ExitCode {
    use std::io::IsTerminal;
    if objective.is_some() {
        for r in &mut runs {
            r.judge(objective);
        }
    }
    let multi = MultiSeed::new(runs, baseline, objective);
    let json_to_stdout = out.json.is_some_and(|p| p == Path::new("-"));
    let terminal = if json_to_stdout {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let text = table::render(&multi, ratelab::table::colour_for(terminal));
    if json_to_stdout {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    if let Some(dest) = out.json {
        let json = match multi.to_json() {
            Ok(j) => j,
            Err(e) => {
                eprintln!("error: cannot serialise the result: {e}");
                return ExitCode::from(1);
            }
        };
        if let Err(code) = crate::report_cmd::write_json(dest, &json, json_to_stdout) {
            return code;
        }
        if !json_to_stdout {
            eprintln!("JSON result written to {}", dest.display());
        }
    }
    let first = &multi.runs[0];
    if let Some(dest) = out.report {
        let html = with_summary(render_html(first, out.options), &multi);
        if let Err(e) = std::fs::write(dest, html) {
            eprintln!("error: {}: cannot write the report: {e}", dest.display());
            return ExitCode::from(1);
        }
        eprintln!(
            "Report written to {} (the run of the first seed, {}, with the summary over {} seeds)",
            dest.display(),
            first.seed,
            multi.seeds.len()
        );
    }
    if let Some(dir) = out.csv {
        match write_csv(first, dir) {
            Ok(files) => eprintln!(
                "{} CSV series of the first seed ({}) written to {}",
                files.len(),
                first.seed,
                dir.display()
            ),
            Err(e) => {
                eprintln!("error: {}: cannot write the CSV series: {e}", dir.display());
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

/// The first seed's report with a section "Over N seeds" (the plain summary table) put first,
/// before the first seed's own verdict.
pub fn with_summary(html: String, multi: &MultiSeed) -> String {
    let n = multi.seeds.len();
    let section = format!(
        "<section id=\"seeds\">\n<h2>Over {n} seeds</h2>\n<p class=\"note\">Seeds {}–{}: mean ± \
         95 % CI half-width of each metric, the paired differences and the pick on the means. \
         The rest of this page is the run of the first seed, {}; the JSON result (--json) \
         holds every run.</p>\n<pre class=\"scenario\">{}</pre>\n</section>\n",
        multi.seeds[0],
        multi.seeds[n - 1],
        multi.seeds[0],
        escape(table::render(multi, false).trim_end())
    );
    let at = [
        "<section id=\"verdict\"",
        "<section id=\"summary\"",
        "</main>",
    ]
    .iter()
    .find_map(|marker| html.find(marker))
    .unwrap_or(html.len());
    let mut html = html;
    html.insert_str(at, &section);
    html
}
