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

/// The text of the README from the line starting with `from` up to the line starting with `to`.
fn part<'a>(readme: &'a str, from: &str, to: &str) -> &'a str {
    let start = readme
        .find(&format!("\n{from}"))
        .unwrap_or_else(|| panic!("README has no line starting {from:?}"));
    let rest = &readme[start + 1..];
    let end = rest[from.len()..]
        .find(&format!("\n{to}"))
        .map_or(rest.len(), |i| i + from.len());
    &rest[..end]
}

/// The README's scenario reference holds every kind of every family, each row naming the kind's
/// fields (a field every kind of a family takes may be named once, in the text under the
/// table), and no kind that does not exist: the tables against the catalog `ratelab list`
/// prints, which is made from the kinds' own registries.
#[test]
fn the_readme_documents_every_kind_and_its_fields() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let parts = [
        (
            "strategy admission",
            part(&readme, "### Strategies", "`retry` (default"),
        ),
        (
            "strategy retry",
            part(&readme, "`retry` (default", "`breaker` (default"),
        ),
        ("strategy breaker", part(&readme, "`breaker` (default", "#")),
        (
            "api limits",
            part(&readme, "### API limits", "### API latency"),
        ),
        (
            "api latency",
            part(&readme, "### API latency", "### Strategies"),
        ),
        (
            "workload arrival",
            part(&readme, "### Workload", "### API limits"),
        ),
        (
            "workload tokens",
            part(&readme, "### Workload", "### API limits"),
        ),
    ];
    for section in ratelab::catalog::sections() {
        let text = parts
            .iter()
            .find(|(name, _)| *name == section.name)
            .unwrap_or_else(|| panic!("no README part for {}", section.name))
            .1;
        let prose: String = text
            .lines()
            .filter(|l| !l.starts_with('|'))
            .collect::<Vec<_>>()
            .join("\n");
        let row_of = |kind: &str| -> Option<String> {
            match section.name {
                // The workload table has a row per field, listing its kinds inline.
                "workload arrival" | "workload tokens" => {
                    let field = section.name.trim_start_matches("workload ");
                    text.lines()
                        .find(|l| l.starts_with(&format!("| `{field}` |")))
                        .filter(|l| l.contains(&format!("kind = \"{kind}\"")))
                        .map(str::to_owned)
                }
                "strategy breaker" => Some(prose.clone()),
                _ => text
                    .lines()
                    .find(|l| l.starts_with(&format!("| `{kind}` |")))
                    .map(str::to_owned),
            }
        };
        for k in section.kinds {
            let row = row_of(k.name).unwrap_or_else(|| {
                panic!(
                    "README: no row for {} kind `{}` (in the part starting {:?})",
                    section.name,
                    k.name,
                    text.lines().next().unwrap_or("")
                )
            });
            for f in k.doc.fields {
                assert!(
                    row.contains(f.name) || prose.contains(&format!("`{}`", f.name)),
                    "README: {} kind `{}` does not name its field `{}`:\n{row}",
                    section.name,
                    k.name,
                    f.name
                );
            }
        }
        // No row for a kind the registry does not have.
        if !matches!(
            section.name,
            "workload arrival" | "workload tokens" | "strategy breaker"
        ) {
            for line in text.lines().filter(|l| l.starts_with("| `")) {
                let name = line[3..].split('`').next().unwrap_or("");
                assert!(
                    section.kinds.iter().any(|k| k.name == name),
                    "README documents {} kind `{name}`, which does not exist",
                    section.name
                );
            }
        }
    }
}

/// The README's league matrix is what `ratelab league` prints today.
#[test]
fn the_league_in_the_readme_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let league = ratelab::league::League::load(&root.join("scenarios/league")).unwrap();
    let matrix = ratelab::league::render_matrix(&league.run(|_| {}));
    assert!(
        readme.contains(&format!("```\n{matrix}```")),
        "update the README's league (ratelab league):\n{matrix}"
    );
}
