//! The README shows real output: its first-run table is what `ratelab run` prints today.

use std::path::Path;

use ratelab::sim::{Scenario, run_scenario};
use ratelab::table;

#[test]
fn the_first_run_in_the_readme_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let marker = "$ cargo run --release -- run scenarios/seed-semaphore.toml\n";
    let start = readme.find(marker).expect("the README shows a first run") + marker.len();
    let end = start + readme[start..].find("```").unwrap();
    let scenario = Scenario::load(&root.join("scenarios/seed-semaphore.toml")).unwrap();
    let printed = table::render(&run_scenario(&scenario, scenario.seed, None));
    assert_eq!(
        &readme[start..end],
        printed,
        "update the README's first run: cargo run --release -- run scenarios/seed-semaphore.toml"
    );
}
