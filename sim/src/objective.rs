//! What "best" means: `minimize METRIC [where METRIC OP VALUE and …]` (or `maximize`), over the
//! numbers of a [`StrategyResult`] as the JSON names them (`makespan_s`, `http_429`,
//! `latency_s.p99`, …) plus `http_429_rate` (429s per attempt), `lost` (requests that did not
//! succeed) and `efficiency` (`ideal_makespan_s / makespan_s`, when nothing was lost).
//!
//! ```
//! use ratelab_sim::objective::Objective;
//!
//! let o: Objective = "minimize makespan_s where dead_lettered == 0 and http_429_rate <= 0.01"
//!     .parse()
//!     .unwrap();
//! assert_eq!(o.metric, "makespan_s");
//! assert_eq!(o.constraints.len(), 2);
//! assert!("minimize makespan".parse::<Objective>().unwrap_err().to_string().contains("makespan_s"));
//! ```

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::result::StrategyResult;

/// Which way the metric should go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The lowest value wins.
    Minimize,
    /// The highest value wins.
    Maximize,
}

/// A comparison in a `where` clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    /// Does `a OP b` hold?
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Ge => a >= b,
            Op::Gt => a > b,
        }
    }

    fn as_str(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(s, _)| s)
    }
}

/// One `METRIC OP VALUE` of a `where` clause.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// The metric's name.
    pub metric: String,
    /// The comparison.
    pub op: Op,
    /// The value compared with.
    pub value: f64,
}

impl Constraint {
    /// Does `r` meet it? A metric without a value (an unknown efficiency) does not.
    pub fn holds(&self, r: &StrategyResult) -> bool {
        metric(r, &self.metric).is_some_and(|v| self.holds_for(v))
    }

    /// Whether the constraint holds for the metric's value `v` (a mean over seeds, say).
    pub fn holds_for(&self, v: f64) -> bool {
        self.op.holds(v, self.value)
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op.as_str(), self.value)
    }
}

/// A parsed `--objective`.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    /// Lower or higher is better.
    pub direction: Direction,
    /// The metric ranked.
    pub metric: String,
    /// What a strategy must meet to be ranked at all.
    pub constraints: Vec<Constraint>,
}

impl Objective {
    /// Does `r` meet every constraint?
    pub fn admits(&self, r: &StrategyResult) -> bool {
        self.constraints.iter().all(|c| c.holds(r))
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.direction {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        };
        write!(f, "{dir} {}", self.metric)?;
        for (i, c) in self.constraints.iter().enumerate() {
            write!(f, " {} {c}", if i == 0 { "where" } else { "and" })?;
        }
        Ok(())
    }
}

/// Why an objective could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectiveError(pub String);

impl fmt::Display for ObjectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ObjectiveError {}

const SYNTAX: &str =
    "minimize|maximize METRIC [where METRIC OP VALUE and …], OP one of < <= == != >= >";

impl FromStr for Objective {
    type Err = ObjectiveError;

    fn from_str(text: &str) -> Result<Objective, ObjectiveError> {
        let err = |m: String| ObjectiveError(format!("objective `{}`: {m}", text.trim()));
        let mut words = text.split_whitespace();
        let direction = match words.next() {
            Some("minimize") => Direction::Minimize,
            Some("maximize") => Direction::Maximize,
            Some(w) => return Err(err(format!("starts with `{w}`; expected {SYNTAX}"))),
            None => return Err(err(format!("is empty; expected {SYNTAX}"))),
        };
        let metric = words
            .next()
            .ok_or_else(|| err(format!("names no metric; expected {SYNTAX}")))?;
        check_metric(metric).map_err(err)?;
        let rest: Vec<&str> = words.collect();
        let mut constraints = Vec::new();
        if let Some((first, clause)) = rest.split_first() {
            if *first != "where" {
                return Err(err(format!("`{first}` after the metric; expected `where`")));
            }
            let clause = clause.join(" ");
            for part in clause.split(" and ") {
                constraints.push(constraint(part.trim()).map_err(err)?);
            }
        }
        Ok(Objective {
            direction,
            metric: metric.to_string(),
            constraints,
        })
    }
}

fn constraint(text: &str) -> Result<Constraint, String> {
    let (at, sym, op) = Op::ALL
        .iter()
        .filter_map(|&(sym, op)| text.find(sym).map(|at| (at, sym, op)))
        .min_by_key(|&(at, sym, _)| (at, usize::MAX - sym.len()))
        .ok_or_else(|| format!("`{text}` has no comparison (< <= == != >= >)"))?;
    let metric = text[..at].trim();
    let value = text[at + sym.len()..].trim();
    if metric.is_empty() {
        return Err(format!("`{text}` compares no metric"));
    }
    check_metric(metric)?;
    let value: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("`{value}` in `{text}` is not a number"))?;
    Ok(Constraint {
        metric: metric.to_string(),
        op,
        value,
    })
}

/// The metrics computed from a result rather than read from its JSON.
const DERIVED: [&str; 3] = ["http_429_rate", "lost", "efficiency"];

/// Every metric an objective may name: the numbers of a result's JSON (nested ones dotted),
/// and the derived ones.
pub fn metric_names() -> Vec<String> {
    let sample = serde_json::to_value(StrategyResult::default()).unwrap_or(Value::Null);
    let mut names = Vec::new();
    collect_numbers(&sample, "", &mut names);
    names.extend(DERIVED.iter().map(|s| s.to_string()));
    names
}

fn collect_numbers(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = v {
        for (k, v) in map {
            let name = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Number(_) | Value::Bool(_) => out.push(name),
                // `ideal_makespan_s` is a number when known.
                Value::Null if k == "ideal_makespan_s" => out.push(name),
                Value::Object(_) if k == "latency_s" => collect_numbers(v, &name, out),
                _ => {}
            }
        }
    }
}

fn check_metric(name: &str) -> Result<(), String> {
    let names = metric_names();
    if names.iter().any(|n| n == name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a metric; metrics: {}",
            names.join(", ")
        ))
    }
}

/// The value of metric `name` for `r` (`None`: the metric has no value here, or no such metric).
pub fn metric(r: &StrategyResult, name: &str) -> Option<f64> {
    match name {
        "http_429_rate" => return Some(r.rate_429()),
        "lost" => return Some(r.lost() as f64),
        "efficiency" => return r.efficiency(),
        _ => {}
    }
    let json = serde_json::to_value(r).ok()?;
    let mut v = &json;
    for part in name.split('.') {
        v = v.get(part)?;
    }
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_reads_and_prints_the_syntax() {
        let text = "minimize makespan_s where dead_lettered == 0 and http_429_rate <= 0.01";
        let o: Objective = text.parse().unwrap();
        assert_eq!(o.to_string(), text);
        assert_eq!(o.constraints[1].op, Op::Le);
        let o: Objective = "maximize latency_s.p99 where lost<1".parse().unwrap();
        assert_eq!(
            (o.direction, o.constraints[0].op),
            (Direction::Maximize, Op::Lt)
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        for (text, says) in [
            ("", "is empty"),
            ("fastest makespan_s", "starts with `fastest`"),
            ("minimize", "names no metric"),
            (
                "minimize speed",
                "`speed` is not a metric; metrics: attempts",
            ),
            ("minimize makespan_s if lost == 0", "expected `where`"),
            ("minimize makespan_s where lost", "has no comparison"),
            (
                "minimize makespan_s where lost == zero",
                "`zero` in `lost == zero`",
            ),
            ("minimize makespan_s where == 3", "compares no metric"),
        ] {
            let e = text.parse::<Objective>().unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn metrics_come_from_the_json_and_the_derived_ones() {
        let mut r = StrategyResult {
            requests: 10,
            succeeded: 8,
            attempts: 20,
            http_429: 5,
            makespan_s: 4.0,
            ideal_makespan_s: Some(2.0),
            ..StrategyResult::default()
        };
        r.latency_s.p99 = 1.5;
        assert_eq!(metric(&r, "makespan_s"), Some(4.0));
        assert_eq!(metric(&r, "latency_s.p99"), Some(1.5));
        assert_eq!(metric(&r, "http_429_rate"), Some(0.25));
        assert_eq!(metric(&r, "lost"), Some(2.0));
        assert_eq!(metric(&r, "efficiency"), None, "lost requests");
        r.succeeded = 10;
        assert_eq!(metric(&r, "efficiency"), Some(0.5));
    }
}
