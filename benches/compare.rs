//! `cargo bench --bench compare`: the strategy comparison.
//!
//! Runs every scenario in `scenarios/` with every strategy it lists and prints one table per
//! scenario (the same table as `ratelab run`), then writes each scenario's JSON result to
//! `target/ratelab/<scenario>.json` and its HTML report to `target/ratelab/<scenario>.html`. The point is the outcome, not wall time: the numbers are the
//! same on every run (a run is a pure function of scenario and seed).
//!
//! Arguments that do not start with `-` filter scenarios by file name:
//! `cargo bench --bench compare -- seed-` runs the seed scenarios only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ratelab::table;
use ratelab_sim::{RunOutput, Scenario, run_scenario, scenario_files};

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` (and criterion-style flags); the rest are name filters.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = target_dir(root).join("ratelab");
    let scenarios = match scenario_files(&root.join("scenarios")) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: scenarios/: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("error: {}: {e}", out_dir.display());
        return ExitCode::from(1);
    }
    let mut written = Vec::new();
    for path in scenarios {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if !filters.is_empty() && !filters.iter().any(|f| stem.contains(f.as_str())) {
            continue;
        }
        let scenario = match Scenario::load(&path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let out = run_scenario(&scenario, scenario.seed, None);
        println!("{}", table::render(&out));
        match write_outputs(&out, &out_dir, stem) {
            Ok(files) => written.extend(files),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    }
    if written.is_empty() {
        println!("no scenario matched {filters:?}");
    } else {
        println!("results written to {}:", out_dir.display());
        for f in &written {
            println!("  {}", f.display());
        }
    }
    ExitCode::SUCCESS
}

/// Writes what one scenario produced into `dir` and returns the files written.
fn write_outputs(out: &RunOutput, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, String> {
    let json = dir.join(format!("{stem}.json"));
    let text = out.to_json().map_err(|e| e.to_string())?;
    std::fs::write(&json, text).map_err(|e| format!("{}: {e}", json.display()))?;
    let html = dir.join(format!("{stem}.html"));
    let options = ratelab_reports::ReportOptions {
        scenario_path: Some(format!("scenarios/{stem}.toml")),
        built_in: false,
    };
    std::fs::write(&html, ratelab_reports::render_html(out, &options))
        .map_err(|e| format!("{}: {e}", html.display()))?;
    Ok(vec![json, html])
}

/// Cargo's target directory (`CARGO_TARGET_DIR` when set, else `target/` in the workspace).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}
