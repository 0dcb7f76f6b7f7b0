//! CLI glue for reports: the built-in default scenario, `run --report/--csv` and
//! `ratelab report RESULTS.json -o FILE.html`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ratelab_reports::{ReportOptions, render_html, write_csv};
use ratelab_sim::{RunOutput, Scenario};

/// The scenario `ratelab run` runs when given none: the semaphore story.
const DEFAULT_SCENARIO: &str = include_str!("../scenarios/seed-semaphore.toml");

/// Where `ratelab run` without a scenario writes its report.
pub const DEFAULT_REPORT: &str = "ratelab-report.html";

/// The scenario to run: the file given, or the built-in default; with the options the report
/// will use to name it.
pub fn load(path: Option<&Path>) -> Result<(Scenario, ReportOptions), String> {
    match path {
        Some(path) => Scenario::load(path)
            .map(|s| {
                let options = ReportOptions {
                    scenario_path: Some(path.to_string_lossy().into_owned()),
                    built_in: false,
                };
                (s, options)
            })
            .map_err(|e| e.to_string()),
        None => Scenario::parse(
            DEFAULT_SCENARIO,
            Path::new("<built-in scenarios/seed-semaphore.toml>"),
        )
        .map(|s| {
            let options = ReportOptions {
                scenario_path: None,
                built_in: true,
            };
            (s, options)
        })
        .map_err(|e| e.to_string()),
    }
}

/// Makes sure the outputs a run was asked for can be written before it starts (a long run must
/// not end in "cannot write"): creates the missing folders of `files` (`-`, standard output, is
/// skipped) and the `dir` itself, and refuses a file path that is a folder. Exit status 1, with
/// the path, when one cannot be prepared.
pub fn prepare_outputs(files: &[Option<&Path>], dir: Option<&Path>) -> Result<(), ExitCode> {
    let fail = |path: &Path, why: String| {
        eprintln!("error: {}: cannot write there: {why}", path.display());
        ExitCode::from(1)
    };
    for &path in files.iter().flatten() {
        if path == Path::new("-") {
            continue;
        }
        if path.is_dir() {
            return Err(fail(path, "it is a folder".to_string()));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| fail(path, e.to_string()))?;
        }
    }
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e.to_string()))?;
    }
    Ok(())
}

/// Writes the report and the CSV series `ratelab run` was asked for; exit status 1 when one
/// cannot be written.
pub fn write_outputs(
    out: &RunOutput,
    options: &ReportOptions,
    report: Option<&Path>,
    csv: Option<&Path>,
) -> ExitCode {
    if let Some(dest) = report
        && let Err(code) = write_report(out, options, dest)
    {
        return code;
    }
    if let Some(dir) = csv {
        match write_csv(out, dir) {
            Ok(files) => eprintln!("{} CSV series written to {}", files.len(), dir.display()),
            Err(e) => {
                eprintln!("error: {}: cannot write the CSV series: {e}", dir.display());
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

fn write_report(out: &RunOutput, options: &ReportOptions, dest: &Path) -> Result<(), ExitCode> {
    prepare_outputs(&[Some(dest)], None)?;
    let html = render_html(out, options);
    match std::fs::write(dest, html) {
        Ok(()) => {
            eprintln!("Report written to {}", dest.display());
            Ok(())
        }
        Err(e) => {
            eprintln!("error: {}: cannot write the report: {e}", dest.display());
            Err(ExitCode::from(1))
        }
    }
}

/// `ratelab report RESULTS.json -o FILE.html [--scenario PATH]`.
pub fn report(results: &Path, output: &Path, scenario: Option<PathBuf>) -> ExitCode {
    let text = match std::fs::read_to_string(results) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", results.display());
            return ExitCode::from(2);
        }
    };
    let out: RunOutput = match serde_json::from_str(&text) {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "error: {}: not a ratelab JSON result (as written by `ratelab run --json`): {e}",
                results.display()
            );
            return ExitCode::from(2);
        }
    };
    let options = ReportOptions {
        scenario_path: scenario.map(|p| p.to_string_lossy().into_owned()),
        built_in: false,
    };
    match write_report(&out, &options, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Prints the table and writes the JSON result where `--json` asked (`-`: standard output, the
/// table then going to standard error, so the JSON stays parseable); exit status 1 when the JSON
/// cannot be written.
pub fn print_table_and_json(
    out: &RunOutput,
    heading: &str,
    json: Option<&Path>,
) -> Result<(), ExitCode> {
    let table = ratelab::table::render(out);
    let json_to_stdout = json.is_some_and(|p| p == Path::new("-"));
    if json_to_stdout {
        eprint!("{heading}{table}");
    } else {
        print!("{heading}{table}");
    }
    let Some(dest) = json else {
        return Ok(());
    };
    let text = out.to_json().map_err(|e| {
        eprintln!("error: cannot serialise the result: {e}");
        ExitCode::from(1)
    })?;
    let written = if json_to_stdout {
        std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())
    } else {
        std::fs::write(dest, text)
    };
    if let Err(e) = written {
        eprintln!(
            "error: {}: cannot write the JSON result: {e}",
            dest.display()
        );
        return Err(ExitCode::from(1));
    }
    if !json_to_stdout {
        eprintln!("JSON result written to {}", dest.display());
    }
    Ok(())
}
