//! The charts the README shows are the report's own, for the scenario they name: each file in
//! `docs/` must be what the current code draws. After a change to the charts, refresh them with
//! `RATELAB_BLESS=1 cargo test --test docs_charts` and look at the result.

use std::path::Path;

use ratelab::sim::{Scenario, run_scenario};
use ratelab_reports::{ReportOptions, render_html};

/// The wide drawing of chart `id` in the report of `scenario`.
fn chart(scenario: &str, id: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sc = Scenario::load(&root.join("scenarios").join(scenario)).unwrap();
    let out = run_scenario(&sc, sc.seed, None);
    let html = render_html(&out, &ReportOptions::default());
    let at = html
        .find(&format!("id=\"chart-{id}\""))
        .unwrap_or_else(|| panic!("{scenario}: no chart {id}"));
    let start = at + html[at..].find("<svg").unwrap();
    let end = start + html[start..].find("</svg>").unwrap() + "</svg>".len();
    format!("{}\n", &html[start..end])
}

/// (file in `docs/`, scenario, chart id) of every chart the README shows.
const CHARTS: &[(&str, &str, &str)] = &[(
    "metastable-goodput.svg",
    "metastable-retry-storm.toml",
    "goodput",
)];

#[test]
fn the_readme_charts_are_the_reports_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for &(file, scenario, id) in CHARTS {
        let path = root.join("docs").join(file);
        let drawn = chart(scenario, id);
        if std::env::var_os("RATELAB_BLESS").is_some() {
            std::fs::write(&path, &drawn).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == drawn,
            "docs/{file} is not what the code draws for {scenario}: refresh it with \
             `RATELAB_BLESS=1 cargo test --test docs_charts`"
        );
    }
}
