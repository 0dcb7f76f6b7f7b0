//! `ratelab run` on every core: each (seed, strategy) run and each seed's oracle (the ideal
//! makespan) is one task on a rayon pool; the results are put back in seed order and file order,
//! so the [`RunOutput`]s are those of [`ratelab_sim::run_scenario`] seed by seed, whatever the
//! number of threads. The simulator itself stays single-threaded: every run builds its own
//! strategies inside its task, so nothing but the scenario (read only) crosses threads.

use ratelab_sim::{Progress, RunOutput, Scenario, StrategyResult, oracle, run_strategy};
use rayon::prelude::*;

/// What a task gives back.
enum Done {
    Result(Box<StrategyResult>),
    Ideal(Option<f64>),
}

/// Runs every strategy of `scenario` with each of `seeds` on `jobs` threads (`None`: one per
/// core), returning one [`RunOutput`] per seed, in the order of `seeds` — each identical to
/// `run_scenario(scenario, seed, None)`. `progress(k, i, p)` hears strategy `i` of seed
/// `seeds[k]`, from whichever thread runs it. Fails only when the threads cannot be started.
pub fn run_seeds(
    scenario: &Scenario,
    seeds: &[u64],
    jobs: Option<usize>,
    progress: &(dyn Fn(usize, usize, Progress) + Sync),
) -> Result<Vec<RunOutput>, rayon::ThreadPoolBuildError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()?;
    let m = scenario.strategies.len();
    // Seed k's tasks: its strategies 0..m, then its oracle (None).
    let tasks: Vec<(usize, Option<usize>)> = (0..seeds.len())
        .flat_map(|k| (0..m).map(move |i| (k, Some(i))).chain([(k, None)]))
        .collect();
    let done: Vec<Done> = pool.install(|| {
        tasks
            .par_iter()
            .map(|&(k, i)| match i {
                Some(i) => {
                    let mut report = |p: Progress| progress(k, i, p);
                    Done::Result(Box::new(run_strategy(
                        scenario,
                        &scenario.strategies[i],
                        seeds[k],
                        Some(&mut report),
                    )))
                }
                None => Done::Ideal(oracle::ideal_makespan_s(scenario, seeds[k])),
            })
            .collect()
    });
    let mut done = done.into_iter();
    let outputs = seeds
        .iter()
        .map(|&seed| {
            let mut results = Vec::with_capacity(m);
            let mut ideal = None;
            for d in done.by_ref().take(m + 1) {
                match d {
                    Done::Result(r) => results.push(*r),
                    Done::Ideal(x) => ideal = x,
                }
            }
            ratelab_sim::output_with_ideal(scenario, seed, results, ideal)
        })
        .collect();
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_outputs_as_run_scenario_on_any_number_of_threads() {
        let sc = Scenario::parse(
            "name = \"p\"\n[workload]\nrequests = 40\n[api]\n\
             limits = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 5 }]\n\
             latency = { kind = \"lognormal\", median_ms = 100, p99_ms = 400 }\n\
             [[strategy]]\nname = \"greedy\"\n\
             retry = { kind = \"exponential\", base_ms = 100, jitter = \"full\" }\n\
             [[strategy]]\nname = \"paced\"\n\
             admission = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 5 }]\n",
            "p.toml".as_ref(),
        )
        .unwrap();
        let seeds = [7, 8, 9];
        let serial: Vec<RunOutput> = seeds
            .iter()
            .map(|&s| ratelab_sim::run_scenario(&sc, s, None))
            .collect();
        for jobs in [Some(1), Some(2), Some(3), None] {
            let out = run_seeds(&sc, &seeds, jobs, &|_, _, _| {}).unwrap();
            assert_eq!(out, serial, "jobs {jobs:?}");
        }
    }
}
