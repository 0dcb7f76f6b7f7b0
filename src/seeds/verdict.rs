//! The pick of `ratelab run --seeds N`: the objective of a single run
//! ([`ratelab_sim::verdict`]: by default the most successes, then the fewest dead-lettered, the
//! shortest makespan, the fewest 429s; or `--objective`) applied to each strategy's means over
//! the seeds. Ties go to the first strategy in the file, as for one run.

use std::cmp::Ordering;

use ratelab_sim::RunOutput;
use ratelab_sim::objective::{Direction, Objective};
use ratelab_sim::verdict::{DEFAULT_OBJECTIVE, Verdict};

use super::value;
use crate::table::number;

/// The mean of metric `name` of strategy `i` over the runs where it has a value.
fn mean(runs: &[RunOutput], i: usize, name: &str) -> Option<f64> {
    let xs: Vec<f64> = runs
        .iter()
        .filter_map(|o| value(&o.results[i], name))
        .collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The pick on the means of `runs` (one per seed) under `objective` (`None`: the default); the
/// reason starts with "over N seeds".
pub fn on_means(runs: &[RunOutput], objective: Option<&Objective>) -> Verdict {
    let n = runs.len();
    let names: Vec<&str> = runs[0]
        .results
        .iter()
        .map(|r| r.strategy.as_str())
        .collect();
    let m = |i: usize, name: &str| mean(runs, i, name);
    let said = |i: usize| {
        let requests = runs[0].results[i].requests;
        let mut s = format!(
            "{} of {requests} succeeded",
            number(m(i, "succeeded").unwrap_or(0.0))
        );
        let dead = m(i, "dead_lettered").unwrap_or(0.0);
        if dead > 0.0 {
            s.push_str(&format!(", {} dead-lettered", number(dead)));
        }
        s.push_str(&format!(
            ", {} 429s, makespan {}",
            number(m(i, "http_429").unwrap_or(0.0)),
            crate::table::duration(m(i, "makespan_s").unwrap_or(0.0))
        ));
        s
    };
    match objective {
        None => {
            let key = |i: usize| {
                [
                    -m(i, "succeeded").unwrap_or(0.0),
                    m(i, "dead_lettered").unwrap_or(0.0),
                    m(i, "makespan_s").unwrap_or(0.0),
                    m(i, "http_429").unwrap_or(0.0),
                ]
            };
            let keys: Vec<[f64; 4]> = (0..names.len()).map(key).collect();
            let mut order: Vec<usize> = (0..names.len()).collect();
            order.sort_by(|&a, &b| {
                keys[a]
                    .iter()
                    .zip(&keys[b])
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            });
            let Some(&best) = order.first() else {
                return none("no strategy ran", DEFAULT_OBJECTIVE.to_string());
            };
            let mut reason = format!("over {n} seeds, on average: {}", said(best));
            if let Some(&next) = order.get(1) {
                reason.push_str(&format!("; next: {}, {}", names[next], said(next)));
            }
            Verdict {
                strategy: Some(names[best].to_string()),
                reason,
                objective: DEFAULT_OBJECTIVE.to_string(),
            }
        }
        Some(o) => {
            let admitted: Vec<(usize, f64)> = (0..names.len())
                .filter(|&i| {
                    o.constraints
                        .iter()
                        .all(|c| m(i, &c.metric).is_some_and(|v| c.op.holds(v, c.value)))
                })
                .filter_map(|i| m(i, &o.metric).map(|v| (i, v)))
                .collect();
            let mut order = admitted.clone();
            order.sort_by(|a, b| match o.direction {
                Direction::Minimize => a.1.total_cmp(&b.1),
                Direction::Maximize => b.1.total_cmp(&a.1),
            });
            let Some(&(best, v)) = order.first() else {
                let why = if o.constraints.is_empty() {
                    format!("over {n} seeds, no strategy has a value of {}", o.metric)
                } else {
                    format!("over {n} seeds, no strategy meets the constraints on its means")
                };
                return none(&why, o.to_string());
            };
            let mut reason = format!(
                "over {n} seeds, mean {} = {}, the {} of {} strategies{}: {}",
                o.metric,
                number(v),
                match o.direction {
                    Direction::Minimize => "lowest",
                    Direction::Maximize => "highest",
                },
                admitted.len(),
                if o.constraints.is_empty() {
                    ""
                } else {
                    " whose means meet the constraints"
                },
                said(best)
            );
            if let Some(&(next, v)) = order.get(1) {
                reason.push_str(&format!("; next: {}, {}", names[next], number(v)));
            }
            Verdict {
                strategy: Some(names[best].to_string()),
                reason,
                objective: o.to_string(),
            }
        }
    }
}

fn none(reason: &str, objective: String) -> Verdict {
    Verdict {
        strategy: None,
        reason: reason.to_string(),
        objective,
    }
}
