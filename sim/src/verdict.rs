//! Which strategy to pick, and why, in words: the `verdict` of a run's JSON, the table's last
//! line and the top of the report.
//!
//! The default objective ranks by the most successes, then the fewest dead-lettered, then the
//! shortest makespan, then the fewest 429s (so a strategy that lost requests never wins over
//! one that lost none); an [`Objective`] replaces it. Ties go to the first strategy in the file.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::objective::{Direction, Objective, metric};
use crate::result::StrategyResult;

/// The default objective, as the JSON names it.
pub const DEFAULT_OBJECTIVE: &str =
    "most succeeded, then fewest dead_lettered, then shortest makespan_s, then fewest http_429";

/// The pick of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The strategy to pick (`None`: none meets the objective's constraints).
    pub strategy: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// The objective it was picked by.
    pub objective: String,
}

/// The verdict on `results` under `objective` (`None`: the default).
pub fn verdict(results: &[StrategyResult], objective: Option<&Objective>) -> Verdict {
    match objective {
        None => default_verdict(results),
        Some(o) => objective_verdict(results, o),
    }
}

fn default_key(a: &StrategyResult, b: &StrategyResult) -> Ordering {
    b.succeeded
        .cmp(&a.succeeded)
        .then(a.dead_lettered.cmp(&b.dead_lettered))
        .then(a.makespan_s.total_cmp(&b.makespan_s))
        .then(a.http_429.cmp(&b.http_429))
}

/// Indices sorted best first (stable: ties keep file order).
fn ranked(
    results: &[StrategyResult],
    cmp: impl Fn(&StrategyResult, &StrategyResult) -> Ordering,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| cmp(&results[a], &results[b]));
    order
}

fn default_verdict(results: &[StrategyResult]) -> Verdict {
    let objective = DEFAULT_OBJECTIVE.to_string();
    let order = ranked(results, default_key);
    let Some(&best) = order.first() else {
        return Verdict {
            strategy: None,
            reason: "no strategy ran".into(),
            objective,
        };
    };
    let w = &results[best];
    let mut reason = summary(w);
    if let Some(&next) = order.get(1) {
        let n = &results[next];
        reason.push_str(&format!("; next: {}, {}", n.strategy, separation(w, n)));
    }
    Verdict {
        strategy: Some(w.strategy.clone()),
        reason,
        objective,
    }
}

/// What the runner-up `n` did worse than `w`, on the first criterion that separated them.
fn separation(w: &StrategyResult, n: &StrategyResult) -> String {
    if n.succeeded != w.succeeded {
        format!("{} succeeded", n.succeeded)
    } else if n.dead_lettered != w.dead_lettered {
        format!("{} dead-lettered", n.dead_lettered)
    } else if n.makespan_s != w.makespan_s {
        duration(n.makespan_s)
    } else if n.http_429 != w.http_429 {
        format!("{} 429s", n.http_429)
    } else {
        "tied on every count; the first in the file is picked".into()
    }
}

fn objective_verdict(results: &[StrategyResult], o: &Objective) -> Verdict {
    let objective = o.to_string();
    // Each metric once per strategy (a metric may be read through the result's JSON).
    let values: Vec<Option<f64>> = results.iter().map(|r| metric(r, &o.metric)).collect();
    let admitted: Vec<usize> = (0..results.len())
        .filter(|&i| o.admits(&results[i]) && values[i].is_some())
        .collect();
    let better = |a: f64, b: f64| match o.direction {
        Direction::Minimize => a.total_cmp(&b),
        Direction::Maximize => b.total_cmp(&a),
    };
    let mut order = admitted.clone();
    order.sort_by(|&a, &b| better(values[a].unwrap_or(f64::NAN), values[b].unwrap_or(f64::NAN)));
    let Some(&best) = order.first() else {
        let failing: Vec<String> = o
            .constraints
            .iter()
            .map(|c| {
                let meet = results.iter().filter(|r| c.holds(r)).count();
                format!("{c} ({meet} of {} meet it)", results.len())
            })
            .collect();
        return Verdict {
            strategy: None,
            reason: if failing.is_empty() {
                format!("no strategy has a value of {}", o.metric)
            } else {
                format!("no strategy meets {}", failing.join(" and "))
            },
            objective,
        };
    };
    let w = &results[best];
    let v = values[best].unwrap_or(0.0);
    let mut reason = format!(
        "{} = {}, the {} of {} strategies{}: {}",
        o.metric,
        trimmed(v),
        match o.direction {
            Direction::Minimize => "lowest",
            Direction::Maximize => "highest",
        },
        admitted.len(),
        if o.constraints.is_empty() {
            String::new()
        } else {
            " that meet the constraints".into()
        },
        summary(w)
    );
    if let Some(&next) = order.get(1) {
        let n = &results[next];
        reason.push_str(&format!(
            "; next: {}, {}",
            n.strategy,
            trimmed(values[next].unwrap_or(0.0))
        ));
    }
    Verdict {
        strategy: Some(w.strategy.clone()),
        reason,
        objective,
    }
}

/// What a strategy did, in words: its successes and losses, its 429s, its time against the
/// ideal.
pub fn summary(r: &StrategyResult) -> String {
    let mut parts = Vec::new();
    if r.lost() == 0 {
        parts.push(format!("all {} succeeded", r.requests));
    } else {
        let mut lost = Vec::new();
        for (n, what) in [
            (r.dead_lettered, "dead-lettered"),
            (r.rejected_by_breaker, "rejected by the breaker"),
            (r.rejected_by_throttle, "shed by the throttle"),
            (r.in_flight_at_horizon, "pending at the horizon"),
        ] {
            if n > 0 {
                lost.push(format!("{n} {what}"));
            }
        }
        parts.push(format!(
            "{} of {} succeeded ({})",
            r.succeeded,
            r.requests,
            lost.join(", ")
        ));
    }
    parts.push(match r.http_429 {
        0 => "no 429s".to_string(),
        n => format!("{n} 429s ({:.1} % of attempts)", 100.0 * r.rate_429()),
    });
    let mut time = if r.finished {
        duration(r.makespan_s)
    } else {
        format!("not finished at {}", duration(r.makespan_s))
    };
    if let Some(ideal) = r.ideal_makespan_s {
        time.push_str(&format!(" — the API's limit allows {}", duration(ideal)));
    }
    parts.push(time);
    parts.join(", ")
}

/// Seconds in words: `49.2 s`, `12m05s`, `2h05m`.
fn duration(s: f64) -> String {
    if s < 100.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        let m = (s / 60.0).floor();
        format!("{}m{:02}s", m as u64, (s - 60.0 * m).round() as u64)
    } else {
        let h = (s / 3600.0).floor();
        format!(
            "{}h{:02}m",
            h as u64,
            ((s - 3600.0 * h) / 60.0).round() as u64
        )
    }
}

/// A number with at most four significant decimals, trailing zeros dropped.
fn trimmed(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, ok: u64, dead: u64, makespan: f64, http_429: u64) -> StrategyResult {
        StrategyResult {
            strategy: name.into(),
            requests: 100,
            succeeded: ok,
            dead_lettered: dead,
            finished: true,
            attempts: 100 + http_429,
            http_429,
            makespan_s: makespan,
            ideal_makespan_s: Some(10.0),
            ..StrategyResult::default()
        }
    }

    #[test]
    fn the_default_never_picks_a_strategy_that_lost_requests_over_one_that_lost_none() {
        let rs = [
            result("fast-but-lossy", 90, 10, 2.0, 0),
            result("slow-and-whole", 100, 0, 50.0, 7),
            result("whole", 100, 0, 50.0, 3),
        ];
        let v = verdict(&rs, None);
        assert_eq!(v.strategy.as_deref(), Some("whole"));
        assert_eq!(
            v.reason,
            "all 100 succeeded, 3 429s (2.9 % of attempts), 50.0 s — the API's limit allows \
             10.0 s; next: slow-and-whole, 7 429s"
        );
    }

    #[test]
    fn ties_go_to_the_first_in_the_file() {
        let rs = [result("a", 100, 0, 5.0, 0), result("b", 100, 0, 5.0, 0)];
        let v = verdict(&rs, None);
        assert_eq!(v.strategy.as_deref(), Some("a"));
        assert!(
            v.reason
                .ends_with("tied on every count; the first in the file is picked")
        );
    }

    #[test]
    fn an_objective_ranks_within_its_constraints_or_says_none_meets_them() {
        let rs = [
            result("lossy", 90, 10, 2.0, 0),
            result("whole", 100, 0, 50.0, 3),
        ];
        let o: Objective = "minimize makespan_s where dead_lettered == 0"
            .parse()
            .unwrap();
        let v = verdict(&rs, Some(&o));
        assert_eq!(v.strategy.as_deref(), Some("whole"));
        assert!(
            v.reason
                .starts_with("makespan_s = 50, the lowest of 1 strategies that meet")
        );
        let o: Objective = "minimize makespan_s where lost > 50".parse().unwrap();
        let v = verdict(&rs, Some(&o));
        assert_eq!(v.strategy, None);
        assert_eq!(v.reason, "no strategy meets lost > 50 (0 of 2 meet it)");
    }
}
