//! `ratelab sweep`, `merge` and `tune`: a scenario over a grid of parameter values and seeds.
//!
//! A sweep is planned before anything runs ([`Plan::new`]): every point of the grid is the
//! scenario with the point's values set ([`param`]) and is validated, so a wrong path, a value
//! of the wrong type or out of range, or an empty range is an error before the first run. The
//! runs — one per (point, seed), every strategy of the point — go on a thread pool in chunks;
//! each chunk's lines are written in (point, seed, strategy) order before the next chunk
//! starts, so the output is streamed, its bytes do not depend on `--jobs`, and memory holds one
//! chunk. `--shard I/N` runs the points `p` with `p % N == I`; [`merge`] puts shards back
//! together into the bytes of the unsharded run; [`report`] turns the lines into the landscape
//! report's numbers.

pub mod merge;
pub mod param;
pub mod report;
pub mod tune;

use std::io::Write;
use std::path::{Path, PathBuf};

use ratelab_sim::objective::{Direction, Objective, metric};
use ratelab_sim::{Scenario, StrategyResult, run_scenario};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use param::Param;

/// Most points of a grid.
pub const MAX_POINTS: usize = 1_000_000;
/// Most seeds per point.
pub const MAX_SEEDS: u64 = 10_000;

/// A sweep ready to run: every point built and valid.
pub struct Plan {
    /// The parameters, first slowest.
    pub params: Vec<Param>,
    /// The scenario of each point, in Cartesian order.
    pub points: Vec<Scenario>,
    /// The seeds of every point.
    pub seeds: Vec<u64>,
    /// Names the sweep (scenario, parameters, seeds): shards of one sweep share it.
    pub hash: String,
}

/// One line of a sweep's output: one strategy's result at one point and seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Line {
    /// The sweep's hash.
    pub sweep: String,
    /// The point's index in the grid (Cartesian order, first parameter slowest).
    pub point: usize,
    /// The point's values, by path.
    pub params: serde_json::Map<String, Value>,
    /// The seed.
    pub seed: u64,
    /// The strategy's index in the scenario.
    pub index: usize,
    /// Points, seeds and strategies of the whole sweep (for `merge` to check it is whole).
    pub grid: [usize; 3],
    /// The strategy's result.
    pub result: StrategyResult,
}

/// The 64-bit FNV-1a hash of `bytes`, in hex.
fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Plan {
    /// Builds every point of `params` over `base` (read from `path`), with `seeds`.
    pub fn new(
        base: &Scenario,
        path: &Path,
        params: Vec<Param>,
        seeds: Vec<u64>,
    ) -> Result<Plan, String> {
        if params.is_empty() {
            return Err("give at least one --param PATH=VALUES".to_string());
        }
        let count = params
            .iter()
            .try_fold(1usize, |n, p| n.checked_mul(p.values.len()))
            .filter(|&n| n <= MAX_POINTS)
            .ok_or_else(|| format!("the grid has more than {MAX_POINTS} points"))?;
        let json = serde_json::to_value(base).map_err(|e| e.to_string())?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut points = Vec::with_capacity(count);
        for i in 0..count {
            let values = point_values(&params, i);
            let mut sc = json.clone();
            for (p, v) in params.iter().zip(&values) {
                param::set(&mut sc, &p.path, &p.segments, v)?;
            }
            points.push(build(sc, &dir, path, &params, &values)?);
        }
        let mut text = base.to_toml();
        for p in &params {
            text.push_str(&format!(
                "\n--param {}={}",
                p.path,
                Value::from(p.values.clone())
            ));
        }
        text.push_str(&format!("\n--seeds {seeds:?}"));
        Ok(Plan {
            hash: fnv(text.as_bytes()),
            params,
            points,
            seeds,
        })
    }

    /// The values of point `i`.
    pub fn values(&self, i: usize) -> Vec<Value> {
        point_values(&self.params, i)
    }

    /// The (point, seed) runs of shard `shard` = (I, N), in order.
    pub fn jobs(&self, shard: (usize, usize)) -> Vec<(usize, u64)> {
        (0..self.points.len())
            .filter(|p| p % shard.1 == shard.0)
            .flat_map(|p| self.seeds.iter().map(move |&s| (p, s)))
            .collect()
    }

    /// Runs point `p` with `seed`: one line per strategy.
    pub fn run_one(&self, p: usize, seed: u64) -> Vec<Line> {
        let sc = &self.points[p];
        let params: serde_json::Map<String, Value> = self
            .params
            .iter()
            .zip(self.values(p))
            .map(|(param, v)| (param.path.clone(), v))
            .collect();
        let grid = [self.points.len(), self.seeds.len(), sc.strategies.len()];
        run_scenario(sc, seed, None)
            .results
            .into_iter()
            .enumerate()
            .map(|(index, result)| Line {
                sweep: self.hash.clone(),
                point: p,
                params: params.clone(),
                seed,
                index,
                grid,
                result,
            })
            .collect()
    }

    /// Runs `jobs` on `threads` threads, writing each line to `out` in job order as soon as
    /// its chunk is done; `progress` is told the runs done and in all. Returns every line's
    /// objective summary (what [`best`] needs), not the lines.
    pub fn run(
        &self,
        jobs: &[(usize, u64)],
        threads: usize,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize, usize),
    ) -> std::io::Result<Vec<Line>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(std::io::Error::other)?;
        let chunk = (threads * 8).max(1);
        let mut kept = Vec::new();
        let mut done = 0;
        for part in jobs.chunks(chunk) {
            let lines: Vec<Vec<Line>> =
                pool.install(|| part.par_iter().map(|&(p, s)| self.run_one(p, s)).collect());
            for line in lines.into_iter().flatten() {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&line).map_err(std::io::Error::other)?
                )?;
                kept.push(slim(line));
            }
            done += part.len();
            progress(done, jobs.len());
        }
        out.flush()?;
        Ok(kept)
    }
}

/// A line without its series and clients (what the objective reads is kept).
fn slim(mut line: Line) -> Line {
    line.result.series = Default::default();
    line.result.clients = Vec::new();
    line
}

/// The values of point `i` of `params` (Cartesian order, first parameter slowest).
fn point_values(params: &[Param], mut i: usize) -> Vec<Value> {
    let mut values = vec![Value::Null; params.len()];
    for (k, p) in params.iter().enumerate().rev() {
        let n = p.values.len();
        values[k] = p.values[i % n].clone();
        i /= n;
    }
    values
}

/// The scenario of a point, validated; errors name the point's values.
fn build(
    json: Value,
    dir: &Path,
    path: &Path,
    params: &[Param],
    values: &[Value],
) -> Result<Scenario, String> {
    let at = || {
        params
            .iter()
            .zip(values)
            .map(|(p, v)| format!("{}={v}", p.path))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut sc: Scenario = serde_json::from_value(json)
        .map_err(|e| format!("{}: at {}: {e}", path.display(), at()))?;
    sc.workload.read_files(&dir_or_here(dir));
    let problems = sc.problems();
    if let Some(p) = problems.first() {
        return Err(format!("{}: at {}: {p}", path.display(), at()));
    }
    Ok(sc)
}

fn dir_or_here(dir: &Path) -> PathBuf {
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_path_buf()
    }
}

/// The best (point, strategy) of `lines` under `objective` (metrics averaged over seeds;
/// constraints on the means) or, without one, the verdict's default order (most successes,
/// fewest dead-lettered, shortest makespan, fewest 429s). `None` when no point meets it.
pub fn best(lines: &[Line], objective: Option<&Objective>) -> Option<Best> {
    let mut groups: std::collections::BTreeMap<(usize, usize), Vec<&Line>> = Default::default();
    for l in lines {
        groups.entry((l.point, l.index)).or_default().push(l);
    }
    let mean = |g: &[&Line], m: &str| -> Option<f64> {
        let v: Option<Vec<f64>> = g.iter().map(|l| metric(&l.result, m)).collect();
        v.map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
    };
    let mut best: Option<(Vec<f64>, Best)> = None;
    for (&(point, _), g) in &groups {
        let key: Vec<f64> = match objective {
            Some(o) => {
                let ok = o
                    .constraints
                    .iter()
                    .all(|c| mean(g, &c.metric).is_some_and(|v| c.holds_for(v)));
                let Some(v) = mean(g, &o.metric).filter(|_| ok) else {
                    continue;
                };
                vec![if o.direction == Direction::Minimize {
                    v
                } else {
                    -v
                }]
            }
            None => vec![
                -mean(g, "succeeded").unwrap_or(0.0),
                mean(g, "dead_lettered").unwrap_or(0.0),
                mean(g, "makespan_s").unwrap_or(f64::INFINITY),
                mean(g, "http_429").unwrap_or(0.0),
            ],
        };
        let candidate = Best {
            point,
            strategy: g[0].result.strategy.clone(),
            params: g[0].params.clone(),
            value: key[0].abs(),
            seeds: g.len(),
        };
        if best
            .as_ref()
            .is_none_or(|(k, _)| lexicographic_less(&key, k))
        {
            best = Some((key, candidate));
        }
    }
    best.map(|(_, b)| b)
}

fn lexicographic_less(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .find(|(x, y)| x != y)
        .is_some_and(|(x, y)| x < y)
}

/// The best point of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    /// Its index.
    pub point: usize,
    /// The strategy that reached it.
    pub strategy: String,
    /// Its values.
    pub params: serde_json::Map<String, Value>,
    /// The objective's value there (mean over seeds); with the default order, the mean
    /// successes.
    pub value: f64,
    /// Seeds it was measured on.
    pub seeds: usize,
}

/// The line `ratelab sweep` and `tune` print of the best point (`best: NAME at PATH=VALUE … —
/// …`); the landscape report shows the same.
pub fn describe(b: &Best, objective: Option<&Objective>) -> String {
    let at: Vec<String> = b.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let what = match objective {
        Some(o) => format!("{} = {} (mean over {} seeds)", o.metric, b.value, b.seeds),
        None => format!(
            "{} succeeded (mean over {} seeds; most successes, then fewest dead-lettered, \
             shortest makespan, fewest 429s)",
            b.value, b.seeds
        ),
    };
    format!("best: {} at {} — {what}", b.strategy, at.join(" "))
}

/// `I/N` of `--shard`.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard `{text}`: expected I/N with N ≥ 1 and I in 0..N, e.g. 0/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}
