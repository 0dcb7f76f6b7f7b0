//! `--report FILE.html` of `sweep` and `tune`: the sweep's lines as the numbers the landscape
//! report draws ([`ratelab_reports::SweepData`]), a few metrics per line and nothing else.

use std::collections::BTreeMap;
use std::path::Path;

use ratelab_reports::{SweepBest, SweepCell, SweepData, SweepParam};
use ratelab_sim::StrategyResult;
use ratelab_sim::objective::{Direction, Objective, metric};
use serde_json::Value;

use super::{Best, Line, Plan, describe};

/// The default order's tie-breakers after the most successes, each the lower the better.
const DEFAULT_THEN: [&str; 3] = ["dead_lettered", "makespan_s", "http_429"];

/// How the sweep was asked for, beyond the plan: for the report's header.
pub struct Asked<'a> {
    /// The scenario file as given (an absolute path is shown by its file name).
    pub scenario: &'a Path,
    /// `--objective` as given.
    pub objective: Option<&'a str>,
    /// `sweep` or `tune`.
    pub verb: &'a str,
    /// `--shard I/N` as given.
    pub shard: Option<&'a str>,
    /// How the points were chosen, when not the whole grid.
    pub subset: Option<String>,
}

/// The command that reproduces the sweep (outputs as placeholders: the page is the same
/// whatever the files are called).
fn command(plan: &Plan, asked: &Asked<'_>) -> String {
    let file = if asked.scenario.is_absolute() {
        asked
            .scenario
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        asked.scenario.to_string_lossy().into_owned()
    };
    let mut words = vec![
        "ratelab".to_string(),
        asked.verb.to_string(),
        ratelab_reports::shell_quote(&file),
    ];
    for p in &plan.params {
        let values: Vec<String> = p.values.iter().map(text).collect();
        words.push("--param".into());
        words.push(ratelab_reports::shell_quote(&format!(
            "{}={}",
            p.path,
            values.join(",")
        )));
    }
    words.push(format!("--seeds {}", plan.seeds.len()));
    if let Some(first) = plan.seeds.first() {
        words.push(format!("--seed {first}"));
    }
    if let Some(o) = asked.objective {
        words.push(format!(
            "--objective {}",
            ratelab_reports::shell_quote(o.trim())
        ));
    }
    if let Some(s) = asked.shard {
        words.push(format!("--shard {}", ratelab_reports::shell_quote(s)));
    }
    if asked.verb == "sweep" {
        words.push("--out FILE.jsonl".into());
    }
    words.push("--report FILE.html".into());
    words.join(" ")
}

/// A parameter's value as the report shows it: strings without quotes.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The metrics the report charts, of one result.
fn metrics(r: &StrategyResult, objective: Option<&Objective>) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::from([
        ("succeeded".to_string(), r.succeeded as f64),
        ("makespan_s".to_string(), r.makespan_s),
        ("http_429_rate".to_string(), r.rate_429()),
        ("goodput_rps".to_string(), r.goodput_rps),
    ]);
    if objective.is_none() {
        for name in DEFAULT_THEN {
            m.extend(metric(r, name).map(|v| (name.to_string(), v)));
        }
    }
    let wanted = objective
        .into_iter()
        .flat_map(|o| std::iter::once(&o.metric).chain(o.constraints.iter().map(|c| &c.metric)));
    for name in wanted {
        if !m.contains_key(name)
            && let Some(v) = metric(r, name)
        {
            m.insert(name.clone(), v);
        }
    }
    m.retain(|_, v| v.is_finite());
    m
}

/// The value indices of point `i` of `plan`.
fn indices(plan: &Plan, mut i: usize) -> Vec<usize> {
    let mut out = vec![0; plan.params.len()];
    for (k, p) in plan.params.iter().enumerate().rev() {
        out[k] = i % p.values.len();
        i /= p.values.len();
    }
    out
}

/// The report's data: `lines` of `plan` (any order), with the best point `best`.
pub fn report_data(
    plan: &Plan,
    lines: &[Line],
    objective: Option<&Objective>,
    best: Option<&Best>,
    asked: &Asked<'_>,
) -> SweepData {
    let base = plan.points.first();
    let strategies: Vec<String> = base
        .map(|sc| sc.strategies.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let mut cells: Vec<SweepCell> = lines
        .iter()
        .map(|l| SweepCell {
            point: indices(plan, l.point),
            strategy: l.index,
            seed: l.seed,
            meets: true,
            metrics: metrics(&l.result, objective),
        })
        .collect();
    cells.sort_by(|a, b| (&a.point, a.strategy, a.seed).cmp(&(&b.point, b.strategy, b.seed)));
    // The constraints hold on the means over the seeds, as for `best`.
    if let Some(o) = objective.filter(|o| !o.constraints.is_empty()) {
        for group in cells.chunk_by_mut(|a, b| a.point == b.point && a.strategy == b.strategy) {
            let meets = o.constraints.iter().all(|c| {
                let v: Option<Vec<f64>> = group
                    .iter()
                    .map(|x| x.metrics.get(&c.metric).copied())
                    .collect();
                v.is_some_and(|v| c.holds_for(v.iter().sum::<f64>() / v.len().max(1) as f64))
            });
            for c in group {
                c.meets = meets;
            }
        }
    }
    let runs = {
        let mut pairs: Vec<(usize, u64)> = lines.iter().map(|l| (l.point, l.seed)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs.len()
    };
    let (objective_text, metric, maximize) = match objective {
        Some(o) => (
            format!(
                "{} {}{}",
                if o.direction == Direction::Minimize {
                    "minimize"
                } else {
                    "maximize"
                },
                o.metric,
                if o.constraints.is_empty() {
                    String::new()
                } else {
                    let c: Vec<String> = o.constraints.iter().map(|c| c.to_string()).collect();
                    format!(" where {}", c.join(" and "))
                }
            ),
            o.metric.clone(),
            o.direction == Direction::Maximize,
        ),
        None => (
            "the default order: most successes, then fewest dead-lettered, shortest makespan, \
             fewest 429s (means over the seeds)"
                .to_string(),
            "succeeded".to_string(),
            true,
        ),
    };
    let then = if objective.is_none() {
        DEFAULT_THEN
            .iter()
            .map(|m| (m.to_string(), false))
            .collect()
    } else {
        Vec::new()
    };
    SweepData {
        scenario: base.map(|s| s.name.clone()).unwrap_or_default(),
        description: base.map(|s| s.description.clone()).unwrap_or_default(),
        command: command(plan, asked),
        params: plan
            .params
            .iter()
            .map(|p| SweepParam {
                path: p.path.clone(),
                values: p.values.iter().map(text).collect(),
            })
            .collect(),
        strategies: strategies.clone(),
        seeds: plan.seeds.clone(),
        points: plan.points.len(),
        runs,
        subset: asked.subset.clone(),
        hash: plan.hash.clone(),
        objective: objective_text,
        metric,
        maximize,
        then,
        best: best.map(|b| SweepBest {
            point: indices(plan, b.point),
            strategy: strategies
                .iter()
                .position(|s| *s == b.strategy)
                .unwrap_or(0),
            summary: describe(b, objective),
        }),
        cells,
    }
}
