//! Shared pieces of the simulator's property tests: the proptest configuration, generators of
//! valid scenarios ([`generators`]), a recording seam around the real strategies
//! ([`recording`]), naive reference limits ([`naive`]) and the invariant checkers
//! ([`check_run`] and the checks it calls).

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use ratelab_sim::scenario::Scenario;

/// `Err(message)` unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {{
        let ok: bool = $cond;
        if !ok {
            return Err(format!($($fmt)+));
        }
    }};
}

pub mod check_layers;
pub mod check_limits;
pub mod check_metrics;
pub mod check_run;
pub mod generators;
pub mod naive;
pub mod recording;

pub use check_limits::{Admitted, check_limit};
pub use check_run::check_run;
pub use generators::*;
pub use naive::NaiveLimit;
pub use recording::{Ev, run_recorded};

/// `cases` unless `PROPTEST_CASES` is set (then proptest's own reading of it wins); regressions
/// are kept in `sim/proptest-regressions/properties.txt`.
pub fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c.max_shrink_iters = 4096;
    c.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/proptest-regressions/properties.txt"
    ))));
    c
}

/// How to replay a failing case with the CLI.
pub fn replay(scenario: &Scenario, seed: u64) -> String {
    let mut s = scenario.clone();
    s.seed = seed;
    format!(
        "\nreplay: save the scenario below as case.toml and run \
         `ratelab run case.toml --seed {seed}`\n--- case.toml ---\n{}--- end ---",
        s.to_toml()
    )
}
