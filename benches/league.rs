//! `cargo bench --bench league`: the league of scenarios/league — every zero-knowledge strategy
//! and library preset against every API — printed as `ratelab league` prints it, with the time
//! the whole league took. The targets it reports on are domain targets (efficiency and 429s),
//! not speed targets.

use std::path::Path;
use std::time::Instant;

use ratelab::league::{League, render_table};

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/league");
    let league = match League::load(&dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let out = league.run(|name| eprintln!("league: {name}"));
    let took = started.elapsed();
    print!("{}", render_table(&out));
    let runs = out.apis.len() * league.entries.len();
    println!(
        "\n{runs} runs ({} APIs × {} entries) in {:.2} s",
        out.apis.len(),
        league.entries.len(),
        took.as_secs_f64()
    );
}
