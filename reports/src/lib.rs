//! # ratelab-reports
//!
//! Turns the JSON result of a run ([`ratelab_sim::RunOutput`]) into one self-contained HTML file
//! (inline CSS, inline SVG charts drawn with plotters, no JavaScript, nothing fetched) and into
//! per-strategy CSV series. Everything is drawn from the result and the [`ReportOptions`] (which
//! only shape the reproduce line), so a report made from a saved `--json` result with the same
//! options is byte-identical to one made during the run, and the same result gives the same bytes
//! (no timestamps, no absolute paths).
//!
//! ```
//! use ratelab_reports::{ReportOptions, render_html};
//! use ratelab_sim::{Scenario, run_scenario};
//!
//! let scenario = Scenario::parse(r#"
//!     name = "doc"
//!     [workload]
//!     requests = 20
//!     [api]
//!     limits = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
//!     latency = { kind = "fixed", ms = 100 }
//!     [[strategy]]
//!     name = "paced"
//!     admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
//! "#, "doc.toml".as_ref()).unwrap();
//! let out = run_scenario(&scenario, scenario.seed, None);
//! let html = render_html(&out, &ReportOptions::default());
//! assert!(html.contains("ratelab run doc.toml --seed 1"));
//! ```

#![warn(missing_docs)]

mod charts;
mod csv;
pub mod format;
mod html;
mod story;
pub mod sweep;

pub use csv::{CsvFile, SUMMARY_HEADER, csv_files, summary_csv, write_csv};
pub use html::escape;
pub use sweep::{SweepBest, SweepCell, SweepData, SweepParam, render_sweep_html};

use ratelab_sim::RunOutput;

/// How a report is made, beyond the result itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// The scenario file as the user named it, shown in the command that reproduces the run
    /// (`ratelab run <file> --seed N`). An absolute path is reduced to its file name so that the
    /// report carries no machine-specific path. `None`: the scenario's name + `.toml`.
    pub scenario_path: Option<String>,
    /// The run used ratelab's built-in default scenario: the reproducing command is then
    /// `ratelab run --seed N`.
    pub built_in: bool,
}

impl ReportOptions {
    /// The command that reproduces `out`.
    pub fn command(&self, out: &RunOutput) -> String {
        if self.built_in {
            return format!("ratelab run --seed {}", out.seed);
        }
        let file = match &self.scenario_path {
            Some(p) => {
                let path = std::path::Path::new(p);
                if path.is_absolute() || p.starts_with('~') {
                    path.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_else(|| format!("{}.toml", out.scenario.name))
                } else {
                    p.clone()
                }
            }
            None => format!("{}.toml", out.scenario.name),
        };
        // A live result is reproduced (as far as real time allows) by `ratelab live`.
        let verb = if out.mode == "live" { "live" } else { "run" };
        format!("ratelab {verb} {} --seed {}", shell_quote(&file), out.seed)
    }
}

/// Quotes a word for a POSIX shell when it needs quoting.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./+=:,@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The report: one self-contained HTML document (UTF-8, XHTML-compatible markup) with a header
/// describing the scenario, a summary table, a "what happened" line per strategy and the charts.
pub fn render_html(out: &RunOutput, options: &ReportOptions) -> String {
    html::render(out, options)
}
