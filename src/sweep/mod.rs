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

    /// [`Plan::run_with`], keeping a slim copy of every line (without series and clients): for
    /// `tune` and tests, whose grids are small. A sweep keeps a [`Tally`] instead.
    pub fn run(
        &self,
        jobs: &[(usize, u64)],
        threads: usize,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize, usize),
    ) -> std::io::Result<Vec<Line>> {
        let mut kept = Vec::new();
        self.run_with(jobs, threads, out, progress, &mut |line| {
            kept.push(slim(line))
        })?;
        Ok(kept)
    }

    /// Runs `jobs` on `threads` threads, writing each line to `out` in job order as soon as
    /// its chunk is done and showing it to `each`; `progress` is told the runs done and in all.
    /// Memory holds one chunk of results.
    pub fn run_with(
        &self,
        jobs: &[(usize, u64)],
        threads: usize,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize, usize),
        each: &mut dyn FnMut(&Line),
    ) -> std::io::Result<()> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(std::io::Error::other)?;
        let chunk = (threads * 8).max(1);
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
                each(&line);
            }
            done += part.len();
            progress(done, jobs.len());
        }
        out.flush()
    }
}

/// A copy of `line` without its series and clients (what the objective and the report read is
/// kept).
pub fn slim(line: &Line) -> Line {
    let mut line = line.clone();
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

/// The metrics the best point is judged on: the objective's metric and those of its
/// constraints, or the default order's.
fn judged(objective: Option<&Objective>) -> Vec<String> {
    match objective {
        Some(o) => std::iter::once(o.metric.clone())
            .chain(o.constraints.iter().map(|c| c.metric.clone()))
            .collect(),
        None => ["succeeded", "dead_lettered", "makespan_s", "http_429"]
            .map(String::from)
            .to_vec(),
    }
}

/// Sums over seeds of the judged metrics of every (point, strategy): what [`Tally::best`] needs,
/// a few numbers per cell of the grid whatever the results hold.
pub struct Tally {
    metrics: Vec<String>,
    cells: std::collections::BTreeMap<(usize, usize), Cell>,
}

struct Cell {
    strategy: String,
    params: serde_json::Map<String, Value>,
    seeds: usize,
    /// Per judged metric: the sum over seeds, or `None` once a seed lacked it.
    sums: Vec<Option<f64>>,
}

impl Tally {
    /// An empty tally for `objective`.
    pub fn new(objective: Option<&Objective>) -> Tally {
        Tally {
            metrics: judged(objective),
            cells: Default::default(),
        }
    }

    /// Counts `line`.
    pub fn add(&mut self, line: &Line) {
        let metrics = &self.metrics;
        let cell = self
            .cells
            .entry((line.point, line.index))
            .or_insert_with(|| Cell {
                strategy: line.result.strategy.clone(),
                params: line.params.clone(),
                seeds: 0,
                sums: vec![Some(0.0); metrics.len()],
            });
        cell.seeds += 1;
        for (sum, m) in cell.sums.iter_mut().zip(metrics) {
            *sum = sum.zip(metric(&line.result, m)).map(|(a, b)| a + b);
        }
    }

    /// The best (point, strategy) under `objective` (the one the tally was made for): metrics
    /// averaged over seeds, constraints on the means; without one, the verdict's default order
    /// (most successes, fewest dead-lettered, shortest makespan, fewest 429s). Ties go to the
    /// earlier point. `None` when no point meets the constraints.
    pub fn best(&self, objective: Option<&Objective>) -> Option<Best> {
        let mut best: Option<(Vec<f64>, Best)> = None;
        for (&(point, _), cell) in &self.cells {
            let mean = |k: usize| cell.sums[k].map(|s| s / cell.seeds.max(1) as f64);
            let key: Vec<f64> = match objective {
                Some(o) => {
                    let ok = o
                        .constraints
                        .iter()
                        .enumerate()
                        .all(|(k, c)| mean(k + 1).is_some_and(|v| c.holds_for(v)));
                    let Some(v) = mean(0).filter(|_| ok) else {
                        continue;
                    };
                    vec![if o.direction == Direction::Minimize {
                        v
                    } else {
                        -v
                    }]
                }
                None => vec![
                    -mean(0).unwrap_or(0.0),
                    mean(1).unwrap_or(0.0),
                    mean(2).unwrap_or(f64::INFINITY),
                    mean(3).unwrap_or(0.0),
                ],
            };
            let candidate = Best {
                point,
                strategy: cell.strategy.clone(),
                params: cell.params.clone(),
                value: key[0].abs(),
                seeds: cell.seeds,
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
}

/// The best (point, strategy) of `lines` under `objective` ([`Tally::best`]).
pub fn best(lines: &[Line], objective: Option<&Objective>) -> Option<Best> {
    let mut tally = Tally::new(objective);
    for l in lines {
        tally.add(l);
    }
    tally.best(objective)
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
