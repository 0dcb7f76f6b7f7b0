//! `ratelab run --seeds N` (N > 1): every seed's run kept, each strategy's metrics summarised
//! over the seeds (mean ± 95 % CI, [`stats`]), every other strategy compared with a baseline on
//! the same seeds (the paired difference beside the interval independent seeds would give: the
//! gain of common random numbers), and the pick on the means ([`verdict`]). [`table`] prints it.

pub mod stats;
pub mod table;
pub mod verdict;

use ratelab_sim::objective::Objective;
use ratelab_sim::result::SCHEMA_VERSION;
use ratelab_sim::verdict::Verdict;
use ratelab_sim::{RunOutput, StrategyResult};
use serde::{Deserialize, Serialize};

/// The most seeds `ratelab run --seeds` takes (every run is kept in memory for the JSON).
pub const MAX_SEEDS: u64 = 10_000;

/// A metric summarised over seeds: its name as the JSON and `--objective` name it, and its value
/// in one run (`None`: it has none there, e.g. a latency when nothing succeeded).
pub struct Metric {
    /// The name, e.g. `makespan_s`, `latency_s.p99`.
    pub name: &'static str,
    /// Its value in a result.
    pub value: fn(&StrategyResult) -> Option<f64>,
}

fn ok_latency(r: &StrategyResult, v: f64) -> Option<f64> {
    (r.latency_s.count > 0).then_some(v)
}

/// The metrics summarised, in the order the JSON lists them.
pub const METRICS: [Metric; 10] = [
    Metric {
        name: "succeeded",
        value: |r| Some(r.succeeded as f64),
    },
    Metric {
        name: "dead_lettered",
        value: |r| Some(r.dead_lettered as f64),
    },
    Metric {
        name: "lost",
        value: |r| Some(r.lost() as f64),
    },
    Metric {
        name: "attempts_per_request",
        value: |r| Some(r.attempts_per_request),
    },
    Metric {
        name: "http_429",
        value: |r| Some(r.http_429 as f64),
    },
    Metric {
        name: "http_429_rate",
        value: |r| (r.attempts > 0).then(|| r.rate_429()),
    },
    Metric {
        name: "makespan_s",
        value: |r| Some(r.makespan_s),
    },
    Metric {
        name: "goodput_rps",
        value: |r| Some(r.goodput_rps),
    },
    Metric {
        name: "latency_s.p50",
        value: |r| ok_latency(r, r.latency_s.p50),
    },
    Metric {
        name: "latency_s.p99",
        value: |r| ok_latency(r, r.latency_s.p99),
    },
];

/// The metrics of the paired comparison printed under the table (the JSON has every metric).
pub const PAIRED_IN_TABLE: [&str; 2] = ["makespan_s", "goodput_rps"];

/// The value of metric `name` in `r`: by [`METRICS`] when it is one, else as `--objective`
/// reads it ([`ratelab_sim::objective::metric`]).
pub fn value(r: &StrategyResult, name: &str) -> Option<f64> {
    match METRICS.iter().find(|m| m.name == name) {
        Some(m) => (m.value)(r),
        None => ratelab_sim::objective::metric(r, name),
    }
}

/// One strategy's metric over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// The strategy.
    pub strategy: String,
    /// The metric, as the JSON result names it.
    pub metric: String,
    /// Seeds where it has a value.
    pub n: usize,
    /// Mean over those seeds.
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1).
    pub sd: Option<f64>,
    /// Half-width of the mean's 95 % confidence interval (Student t, n − 1 df).
    pub ci95_half_width: Option<f64>,
}

/// One strategy against the baseline, on one metric, seed by seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedRow {
    /// The strategy.
    pub strategy: String,
    /// What it is compared with.
    pub baseline: String,
    /// The metric.
    pub metric: String,
    /// Seeds where both have a value.
    pub n: usize,
    /// Mean of (strategy − baseline).
    pub mean_diff: Option<f64>,
    /// 95 % half-width from the per-seed differences.
    pub paired_ci95_half_width: Option<f64>,
    /// 95 % half-width with independent seeds (Welch, from the two strategies' variances).
    pub independent_ci95_half_width: Option<f64>,
    /// independent / paired (`None` when the paired half-width is 0).
    pub gain: Option<f64>,
}

/// The JSON of `ratelab run --seeds N` with N > 1 (README.md, "The JSON result").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MultiSeed {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The seeds, in the order run.
    pub seeds: Vec<u64>,
    /// Each seed's full result, in seed order.
    pub runs: Vec<RunOutput>,
    /// Per strategy (file order), per metric ([`METRICS`] order).
    pub summary: Vec<SummaryRow>,
    /// Per strategy other than the baseline, per metric.
    pub paired: Vec<PairedRow>,
    /// The pick on the means.
    pub verdict: Verdict,
}

impl MultiSeed {
    /// Summarises `runs` (one per seed, the same strategies in each), comparing every strategy
    /// with the one at index `baseline`, and picks by `objective` (`None`: the default) on the
    /// means.
    ///
    /// # Panics
    /// When `runs` is empty or `baseline` is not a strategy's index.
    pub fn new(runs: Vec<RunOutput>, baseline: usize, objective: Option<&Objective>) -> Self {
        let names: Vec<String> = runs[0].results.iter().map(|r| r.strategy.clone()).collect();
        let per_seed = |i: usize, m: &Metric| -> Vec<Option<f64>> {
            runs.iter().map(|o| (m.value)(&o.results[i])).collect()
        };
        let mut summary = Vec::new();
        for (i, name) in names.iter().enumerate() {
            for m in &METRICS {
                let xs: Vec<f64> = per_seed(i, m).into_iter().flatten().collect();
                let d = stats::describe(&xs);
                summary.push(SummaryRow {
                    strategy: name.clone(),
                    metric: m.name.to_string(),
                    n: d.n,
                    mean: d.mean,
                    sd: d.sd,
                    ci95_half_width: d.ci95_half_width,
                });
            }
        }
        let mut paired = Vec::new();
        for (i, name) in names.iter().enumerate().filter(|(i, _)| *i != baseline) {
            for m in &METRICS {
                let p = stats::paired(&per_seed(baseline, m), &per_seed(i, m));
                paired.push(PairedRow {
                    strategy: name.clone(),
                    baseline: names[baseline].clone(),
                    metric: m.name.to_string(),
                    n: p.n,
                    mean_diff: p.mean_diff,
                    paired_ci95_half_width: p.paired_ci95_half_width,
                    independent_ci95_half_width: p.independent_ci95_half_width,
                    gain: p.gain,
                });
            }
        }
        let verdict = verdict::on_means(&runs, objective);
        MultiSeed {
            schema_version: SCHEMA_VERSION,
            seeds: runs.iter().map(|o| o.seed).collect(),
            runs,
            summary,
            paired,
            verdict,
        }
    }

    /// The summary of `strategy` on `metric`.
    pub fn stat(&self, strategy: &str, metric: &str) -> Option<&SummaryRow> {
        self.summary
            .iter()
            .find(|s| s.strategy == strategy && s.metric == metric)
    }

    /// The JSON as `ratelab run --seeds N --json` writes it: pretty, with a final newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}
