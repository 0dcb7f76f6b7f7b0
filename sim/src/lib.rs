//! # ratelab-sim
//!
//! A deterministic virtual-clock simulator: clients running [`ratelab_strategies`] state
//! machines against modelled rate-limited APIs ([`api`]). Time is `u64` nanoseconds in an event
//! queue keyed `(time, seq)` (a calendar queue, [`queue`]); the loop jumps from event to event
//! ([`engine`]). A run is a pure function of (scenario, seed): the same inputs give the same
//! [`RunOutput`], byte for byte once serialised.
//!
//! ```
//! use ratelab_sim::{Scenario, run_scenario};
//!
//! let scenario = Scenario::parse(r#"
//!     name = "doc"
//!     [workload]
//!     requests = 20
//!     [api]
//!     limits = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
//!     latency = { kind = "fixed", ms = 100 }
//!     [[strategy]]
//!     name = "paced"
//!     admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
//! "#, "doc.toml".as_ref()).unwrap();
//! let out = run_scenario(&scenario, scenario.seed, None);
//! assert_eq!(out.results[0].succeeded, 20);
//! assert_eq!(out.results[0].http_429, 0);
//! ```

#![warn(missing_docs)]

pub mod api;
pub mod engine;
pub mod metrics;
pub mod objective;
pub mod oracle;
pub mod queue;
pub mod result;
pub mod sampling;
pub mod scenario;
pub mod verdict;
pub mod workload;

pub use engine::{ClientSetup, Progress, simulate};
pub use ratelab_strategies;
pub use result::{RunOutput, StrategyResult};
pub use scenario::{Scenario, ScenarioError, scenario_files};

use ratelab_strategies::Draws;
use ratelab_strategies::shared::SharedBuckets;
use ratelab_strategies::spec::StrategySpec;

/// The version written into results.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs one built-in strategy of a scenario with `seed`.
pub fn run_strategy(
    scenario: &Scenario,
    spec: &StrategySpec,
    seed: u64,
    progress: Option<&mut dyn FnMut(Progress)>,
) -> StrategyResult {
    let draws = Draws::new(seed);
    // One bucket per shared layer for all the clients of this run.
    let mut shared = SharedBuckets::in_process();
    simulate(
        scenario,
        seed,
        &spec.name,
        |_client| {
            let built = spec.build_for(draws, &mut shared);
            ClientSetup {
                strategy: built.stack,
                retry: built.retry,
                timeout: built.timeout,
            }
        },
        progress,
    )
}

/// Runs every strategy of a scenario, in file order, with `seed`; `progress` is told the
/// strategy's index along with each report.
pub fn run_scenario(
    scenario: &Scenario,
    seed: u64,
    mut progress: Option<&mut dyn FnMut(usize, Progress)>,
) -> RunOutput {
    let results = scenario
        .strategies
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut report = |p: Progress| {
                if let Some(f) = progress.as_mut() {
                    f(i, p)
                }
            };
            run_strategy(scenario, spec, seed, Some(&mut report))
        })
        .collect();
    output(scenario, seed, results)
}

/// Wraps strategy results into the JSON result of a run (the scenario as run, seed, capacity),
/// and gives every result the scenario's ideal makespan ([`oracle::ideal_makespan_s`]).
pub fn output(scenario: &Scenario, seed: u64, results: Vec<StrategyResult>) -> RunOutput {
    let ideal = oracle::ideal_makespan_s(scenario, seed);
    output_with_ideal(scenario, seed, results, ideal)
}

/// [`output`] with the ideal makespan already computed (`oracle::ideal_makespan_s(scenario,
/// seed)`), for a driver that runs the oracle beside the strategies (`ratelab run --jobs`): the
/// same [`RunOutput`] as [`output`].
pub fn output_with_ideal(
    scenario: &Scenario,
    seed: u64,
    mut results: Vec<StrategyResult>,
    ideal: Option<f64>,
) -> RunOutput {
    for r in &mut results {
        r.ideal_makespan_s = ideal;
    }
    let mut as_run = scenario.clone();
    as_run.seed = seed;
    RunOutput {
        verdict: Some(verdict::verdict(&results, None)),
        description: scenario.description.clone(),
        seed,
        version: VERSION.to_string(),
        mode: "sim".to_string(),
        api_capacity_rps: scenario.api_capacity_rps(),
        results,
        scenario: as_run,
    }
}
