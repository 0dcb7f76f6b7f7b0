//! The landscape report of a sweep (`ratelab sweep … --report FILE.html`): one self-contained
//! HTML page with a line chart per (parameter, metric) — one line per strategy, a band across
//! the seeds — and, with two parameters or more, heat maps of the objective over the first two.
//!
//! The input is [`SweepData`], numbers only (the CLI converts its sweep lines into it), so this
//! crate needs nothing of the sweep runner. Everything is sorted before it is drawn and nothing
//! reads a clock: the same data gives the same bytes.

mod page;
mod stats;

use std::collections::BTreeMap;

pub use stats::{Band, t95};

/// One `--param`: its path as written and its values as text, in grid order.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepParam {
    /// The dotted path, e.g. `strategy."token-bucket-10/s".retry.base_ms`.
    pub path: String,
    /// Its values as text (`500`, `0.25`, `full`).
    pub values: Vec<String>,
}

impl SweepParam {
    /// Whether every value is a number (a numeric axis); otherwise the axis is categorical.
    pub fn numeric(&self) -> bool {
        self.values
            .iter()
            .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite))
    }
}

/// One run's numbers: one strategy at one point and seed.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepCell {
    /// The point, as the index of its value in each parameter's `values`.
    pub point: Vec<usize>,
    /// The strategy's index in [`SweepData::strategies`].
    pub strategy: usize,
    /// The seed.
    pub seed: u64,
    /// Whether this (point, strategy) meets the objective's constraints (on the means over
    /// seeds); `true` when there are none.
    pub meets: bool,
    /// The metrics by name (`succeeded`, `makespan_s`, `http_429_rate`, `goodput_rps`, …);
    /// a metric without a value here is left out.
    pub metrics: BTreeMap<String, f64>,
}

/// The best point of the sweep, as `ratelab sweep` prints it.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepBest {
    /// The point, as value indices.
    pub point: Vec<usize>,
    /// The strategy's index.
    pub strategy: usize,
    /// The line `ratelab sweep` prints (`best: NAME at PATH=VALUE … — …`).
    pub summary: String,
}

/// What the landscape report shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepData {
    /// The scenario's name.
    pub scenario: String,
    /// Its description (may be empty).
    pub description: String,
    /// The command that reproduces the sweep.
    pub command: String,
    /// The parameters, first slowest.
    pub params: Vec<SweepParam>,
    /// The strategies, in scenario order.
    pub strategies: Vec<String>,
    /// The seeds of every point.
    pub seeds: Vec<u64>,
    /// Points in the whole grid.
    pub points: usize,
    /// Runs made: (point, seed) pairs, every strategy in each.
    pub runs: usize,
    /// How the points were chosen, when not the whole grid (`shard 0/4`, `coordinate
    /// descent: 9 of 20 points`).
    pub subset: Option<String>,
    /// The sweep's hash.
    pub hash: String,
    /// The objective as text.
    pub objective: String,
    /// The metric the objective ranks (`succeeded` for the default order).
    pub metric: String,
    /// Higher is better for [`SweepData::metric`].
    pub maximize: bool,
    /// The metrics that break ties after [`SweepData::metric`], each with "higher is better"
    /// (the default order's dead-lettered, makespan and 429s); a heat map shows the first of
    /// these that differs between its cells when the objective's metric does not.
    pub then: Vec<(String, bool)>,
    /// The best point, if any point meets the objective.
    pub best: Option<SweepBest>,
    /// Every run's numbers.
    pub cells: Vec<SweepCell>,
}

/// The metrics every landscape charts, in order, with how they are named on an axis.
pub const METRICS: [(&str, &str); 4] = [
    ("succeeded", "requests succeeded"),
    ("makespan_s", "makespan (s)"),
    ("http_429_rate", "429s per attempt"),
    ("goodput_rps", "goodput (successes/s)"),
];

impl SweepData {
    /// The metrics charted: [`METRICS`], then the objective's metric when it is another.
    pub fn charted(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = METRICS
            .iter()
            .map(|(m, l)| (m.to_string(), l.to_string()))
            .collect();
        if !out.iter().any(|(m, _)| *m == self.metric) && !self.metric.is_empty() {
            out.push((self.metric.clone(), self.metric.clone()));
        }
        out
    }
}

/// The landscape report: one self-contained HTML document (no script, nothing fetched).
pub fn render_sweep_html(data: &SweepData) -> String {
    page::render(data)
}
