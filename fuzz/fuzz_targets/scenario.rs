//! The scenario parser and validator on arbitrary bytes: no input panics or hangs; a scenario
//! that parses survives a TOML round trip.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ratelab_sim::Scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    if let Ok(sc) = Scenario::parse(text, path) {
        let again = Scenario::parse(&sc.to_toml(), path).expect("a valid scenario reads back");
        assert_eq!(again.to_toml(), sc.to_toml(), "the round trip is stable");
    }
});
