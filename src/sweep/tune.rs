//! `ratelab tune`: the best point of a grid without running the whole grid.
//!
//! Coordinate descent on the grid, deterministic: start at the middle value of every parameter,
//! then, one parameter after another, try every value of that parameter with the others fixed
//! and move to the best; stop when a whole round moves nothing. Every point is measured on all
//! the seeds and remembered, so no point runs twice. It suits what sweeps here look like — few
//! parameters, each a rate, a concurrency or a backoff whose objective is unimodal or close to
//! it — and it costs the sum of the axes' lengths per round instead of their product. Its
//! answer is checked against the whole grid's on the scenario library (`tests/sweep.rs`).

use std::collections::BTreeMap;

use ratelab_sim::objective::Objective;

use super::{Best, Line, Plan, best};

/// What tuning found.
pub struct Tuned {
    /// The best point it measured.
    pub best: Option<Best>,
    /// Points it ran (each on every seed).
    pub points_run: usize,
    /// The lines of the points it ran (slim, as [`Plan::run`] keeps them), in point order.
    pub lines: Vec<Line>,
}

/// Tunes `plan` under `objective` on `threads` threads.
pub fn tune(plan: &Plan, objective: Option<&Objective>, threads: usize) -> Result<Tuned, String> {
    let axes: Vec<usize> = plan.params.iter().map(|p| p.values.len()).collect();
    let index_of = |coords: &[usize]| coords.iter().zip(&axes).fold(0, |i, (c, n)| i * n + c);
    let mut measured: BTreeMap<usize, Vec<Line>> = BTreeMap::new();
    let measure =
        |points: &[usize], measured: &mut BTreeMap<usize, Vec<Line>>| -> Result<(), String> {
            let jobs: Vec<(usize, u64)> = points
                .iter()
                .filter(|p| !measured.contains_key(p))
                .flat_map(|&p| plan.seeds.iter().map(move |&s| (p, s)))
                .collect();
            let lines = plan
                .run(&jobs, threads, &mut std::io::sink(), &mut |_, _| {})
                .map_err(|e| e.to_string())?;
            for l in lines {
                measured.entry(l.point).or_default().push(l);
            }
            Ok(())
        };
    let score = |p: usize, measured: &BTreeMap<usize, Vec<Line>>| -> Option<Best> {
        measured.get(&p).and_then(|lines| best(lines, objective))
    };
    let mut coords: Vec<usize> = axes.iter().map(|n| n / 2).collect();
    loop {
        let mut moved = false;
        for d in 0..axes.len() {
            let line: Vec<usize> = (0..axes[d])
                .map(|v| {
                    let mut c = coords.clone();
                    c[d] = v;
                    index_of(&c)
                })
                .collect();
            measure(&line, &mut measured)?;
            let all: Vec<Line> = line
                .iter()
                .flat_map(|p| measured[p].iter().cloned())
                .collect();
            if let Some(b) = best(&all, objective) {
                let here = index_of(&coords);
                let current = score(here, &measured);
                if b.point != here
                    && current
                        .as_ref()
                        .is_none_or(|c| better(&b, c, &all, objective))
                {
                    coords = decode(b.point, &axes);
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }
    let points_run = measured.len();
    let all: Vec<Line> = measured.into_values().flatten().collect();
    Ok(Tuned {
        best: best(&all, objective),
        points_run,
        lines: all,
    })
}

/// `a` is strictly better than `b` among `lines`.
fn better(a: &Best, b: &Best, lines: &[Line], objective: Option<&Objective>) -> bool {
    let two: Vec<Line> = lines
        .iter()
        .filter(|l| l.point == a.point || l.point == b.point)
        .cloned()
        .collect();
    best(&two, objective).is_some_and(|w| w.point == a.point && w.point != b.point)
}

fn decode(mut i: usize, axes: &[usize]) -> Vec<usize> {
    let mut c = vec![0; axes.len()];
    for (d, &n) in axes.iter().enumerate().rev() {
        c[d] = i % n;
        i /= n;
    }
    c
}
