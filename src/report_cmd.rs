//! CLI glue for reports: the built-in default scenario, `run --report/--csv` and
//! `ratelab report RESULTS.json -o FILE.html`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ratelab_reports::{ReportOptions, render_html, write_csv};
use ratelab_sim::objective::Objective;
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

/// Makes sure the outputs a run was asked for can be placed before it starts (a long run must
/// not end in "cannot write"): a file path (`--json`, `-` being standard output, `--report`)
/// must not be a folder, the `--csv` path must not be a file, no path may run through a file,
/// `--report` is not `-`, and no two outputs are the same path (one would overwrite the other).
/// Only when all pass are the missing folders created. Exit status 1, with the path, when one
/// fails. (Permissions are found out when writing.)
pub fn prepare_outputs(
    json: Option<&Path>,
    report: Option<&Path>,
    csv: Option<&Path>,
) -> Result<(), ExitCode> {
    let json = json.filter(|p| *p != Path::new("-"));
    if let Some(dash) = report.filter(|p| *p == Path::new("-")) {
        return Err(cannot_place(
            dash,
            "a report is a file, not standard output; name one, e.g. report.html",
        ));
    }
    let outputs = [
        (json, "the JSON result"),
        (report, "the report"),
        (csv, "the CSV folder"),
    ];
    for (i, &(a, _)) in outputs.iter().enumerate() {
        for &(b, what) in &outputs[i + 1..] {
            if let (Some(a), Some(b)) = (a, b)
                && same_path(a, b)
            {
                return Err(cannot_place(b, &format!("{what} goes there too")));
            }
        }
    }
    // (the folder to create, the output it is for)
    let mut folders: Vec<(&Path, &Path)> = Vec::new();
    for path in [json, report].into_iter().flatten() {
        let names_a_folder = path.as_os_str().to_string_lossy().ends_with(['/', '\\']);
        if path.is_dir() || names_a_folder || path.file_name().is_none() {
            return Err(cannot_place(path, "it is a folder"));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            folders.push((parent, path));
        }
    }
    folders.extend(csv.map(|dir| (dir, dir)));
    for &(folder, path) in &folders {
        // The nearest part of the folder that exists must be a folder itself.
        if let Some(existing) = folder.ancestors().find(|a| a.exists())
            && !existing.is_dir()
        {
            let why = format!("{} is a file, not a folder", existing.display());
            return Err(cannot_place(path, &why));
        }
    }
    for (folder, path) in folders {
        std::fs::create_dir_all(folder).map_err(|e| cannot_place(path, &e.to_string()))?;
    }
    Ok(())
}

/// Whether two paths name the same file: compared as the system resolves them (links, `..`)
/// where they exist, and, below the deepest folder that exists, by their remaining components.
/// Paths that cannot be resolved at all are not taken for the same.
pub fn same_path(a: &Path, b: &Path) -> bool {
    matches!((resolved(a), resolved(b)), (Some(a), Some(b)) if a == b)
}

/// `path` with its deepest existing ancestor canonicalized and the rest appended as written
/// (`.` left out, `..` taking off the last component).
fn resolved(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let mut rest = Vec::new();
    let mut base = absolute.as_path();
    let canonical = loop {
        if let Ok(c) = base.canonicalize() {
            break c;
        }
        rest.push(base.file_name()?.to_owned());
        base = base.parent()?;
    };
    let mut out = canonical;
    for part in rest.iter().rev() {
        match part.to_str() {
            Some(".") => {}
            Some("..") => {
                out.pop();
            }
            _ => out.push(part),
        }
    }
    Some(out)
}

fn cannot_place(path: &Path, why: &str) -> ExitCode {
    eprintln!("error: {}: cannot write there: {why}", path.display());
    ExitCode::from(1)
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
    if same_path(results, output) {
        return cannot_place(output, "it is the JSON result being read");
    }
    if let Err(code) = prepare_outputs(None, Some(output), None) {
        return code;
    }
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

/// Writes the JSON `text` to `dest` (standard output when `to_stdout`); exit status 1 when it
/// cannot be written.
pub fn write_json(dest: &Path, text: &str, to_stdout: bool) -> Result<(), ExitCode> {
    let written = if to_stdout {
        std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())
    } else {
        std::fs::write(dest, text)
    };
    written.map_err(|e| {
        eprintln!(
            "error: {}: cannot write the JSON result: {e}",
            dest.display()
        );
        ExitCode::from(1)
    })
}

/// Prints the table and writes the JSON result where `--json` asked (`-`: standard output, the
/// table then going to standard error, so the JSON stays parseable); exit status 1 when the JSON
/// cannot be written.
pub fn print_table_and_json(
    out: &RunOutput,
    heading: &str,
    json: Option<&Path>,
) -> Result<(), ExitCode> {
    use std::io::IsTerminal;
    let json_to_stdout = json.is_some_and(|p| p == Path::new("-"));
    let terminal = if json_to_stdout {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let table = ratelab::table::render_with(out, ratelab::table::colour_for(terminal));
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
    write_json(dest, &text, json_to_stdout)?;
    if !json_to_stdout {
        eprintln!("JSON result written to {}", dest.display());
    }
    Ok(())
}

/// `--strategy NAME…`: keeps only the strategies named, in the file's order (all when none is
/// named); a name the scenario does not have is an exit-2 error naming the file and the
/// strategies it has.
pub fn keep_strategies(
    scenario: &mut Scenario,
    file: &str,
    only: &[String],
) -> Result<(), ExitCode> {
    for name in only {
        if !scenario.strategies.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = scenario
                .strategies
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            eprintln!(
                "error: {file}: --strategy {name:?}: no such strategy (the scenario has: {})",
                known.join(", ")
            );
            return Err(ExitCode::from(2));
        }
    }
    if !only.is_empty() {
        scenario.strategies.retain(|s| only.contains(&s.name));
    }
    Ok(())
}

/// `--objective EXPR`, parsed (exit 2 with what is wrong).
pub fn parse_objective(text: Option<&str>) -> Result<Option<Objective>, ExitCode> {
    match text.map(str::parse::<Objective>) {
        None => Ok(None),
        Some(Ok(o)) => Ok(Some(o)),
        Some(Err(e)) => {
            eprintln!("error: --objective: {e}");
            Err(ExitCode::from(2))
        }
    }
}
