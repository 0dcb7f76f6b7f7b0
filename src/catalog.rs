//! `ratelab list`: the scenario library and every kind a scenario can use, from the kinds'
//! own registries ([`sections`]), so that a kind that is added is listed.

use std::path::Path;

use ratelab_sim::api::{LatencySpec, LimitSpec};
use ratelab_sim::workload::{ArrivalSpec, TokensSpec};
use ratelab_sim::{Scenario, scenario_files};
use ratelab_strategies::breaker::BreakerSpec;
use ratelab_strategies::kind::KindEntry;
use ratelab_strategies::{AdmissionSpec, RetrySpec};

/// One part of a scenario file that takes kinds, with its kinds in registry order.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    /// Where the kinds go, e.g. `strategy admission`.
    pub name: &'static str,
    /// The table or field it is in a scenario file, e.g. `admission = [...]`.
    pub place: &'static str,
    /// The kinds.
    pub kinds: &'static [KindEntry],
}

/// The `breaker` table, which has no kinds: listed as one entry of its own.
const BREAKER: &[KindEntry] = &[KindEntry {
    name: "breaker",
    doc: BreakerSpec::DOC,
    fields_read: ratelab_strategies::kind::fields_read::<BreakerSpec>,
}];

/// Every section, in the order the README documents them.
pub fn sections() -> [Section; 7] {
    [
        Section {
            name: "strategy admission",
            place: "[[strategy]] admission = [...]",
            kinds: AdmissionSpec::KINDS,
        },
        Section {
            name: "strategy retry",
            place: "[[strategy]] retry = { ... }",
            kinds: RetrySpec::KINDS,
        },
        Section {
            name: "strategy breaker",
            place: "[[strategy]] breaker = { ... } (no kind)",
            kinds: BREAKER,
        },
        Section {
            name: "api limits",
            place: "[api] limits = [...]",
            kinds: LimitSpec::KINDS,
        },
        Section {
            name: "api latency",
            place: "[api] latency = { ... }",
            kinds: LatencySpec::KINDS,
        },
        Section {
            name: "workload arrival",
            place: "[workload] arrival = { ... }",
            kinds: ArrivalSpec::KINDS,
        },
        Section {
            name: "workload tokens",
            place: "[workload] tokens = { ... }",
            kinds: TokensSpec::KINDS,
        },
    ]
}

/// The text of `ratelab list`, and why `dir` could not be read, if it could not.
pub fn render(dir: &Path) -> (String, Option<std::io::Error>) {
    let mut text = format!("Scenarios in {}:\n", dir.display());
    let (files, unreadable) = match scenario_files(dir) {
        Ok(files) => (files, None),
        Err(e) => {
            text.push_str(&format!(
                "  (cannot read {}: {e}; --dir points at a folder of *.toml files)\n",
                dir.display()
            ));
            (Vec::new(), Some(e))
        }
    };
    if unreadable.is_none() && files.is_empty() {
        text.push_str("  (no *.toml files; pass --dir to point at a folder of *.toml files)\n");
    }
    for path in files {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        match Scenario::load(&path) {
            Ok(s) => {
                let strategies: Vec<_> = s.strategies.iter().map(|s| s.name.as_str()).collect();
                text.push_str(&format!("  {file}\n"));
                for line in s.description.trim().lines() {
                    text.push_str(&format!("      {}\n", line.trim()));
                }
                text.push_str(&format!("      strategies: {}\n", strategies.join(", ")));
            }
            Err(e) => text.push_str(&format!("  {file}  (invalid: {e})\n")),
        }
    }
    for section in sections() {
        text.push_str(&format!("\n{} — {}:\n", section.name, section.place));
        for k in section.kinds {
            text.push_str(&format!("  {:<15} {}\n", k.name, k.doc.about));
            text.push_str(&format!("  {:<15} fields: {}\n", "", k.fields_line()));
            text.push_str(&format!("  {:<15} e.g. {}\n", "", k.doc.example));
        }
    }
    text.push_str("\nDefaults are in parentheses; README.md documents every field and unit.\n");
    (text, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario with `table` where `section` puts it.
    fn scenario_with(section: &str, table: &str) -> String {
        let (strategy, api) = match section {
            "strategy admission" => (format!("admission = [{table}]"), String::new()),
            "strategy retry" => (format!("retry = {table}"), String::new()),
            "strategy breaker" => (format!("breaker = {table}"), String::new()),
            "api limits" => (String::new(), format!("limits = [{table}]")),
            _ => (String::new(), String::new()),
        };
        let latency = if section == "api latency" {
            table.to_string()
        } else {
            r#"{ kind = "fixed", ms = 1 }"#.to_string()
        };
        let workload = match section {
            "workload arrival" => format!("arrival = {table}"),
            "workload tokens" => format!("tokens = {table}"),
            _ => String::new(),
        };
        format!(
            "name = \"t\"\n[workload]\nrequests = 1\n{workload}\n[api]\nlatency = {latency}\n{api}\n[[strategy]]\nname = \"s\"\n{strategy}\n"
        )
    }

    /// Every example in the catalogue is accepted where it belongs.
    #[test]
    fn every_example_is_a_valid_table() {
        for section in sections() {
            for k in section.kinds {
                let text = scenario_with(section.name, k.doc.example);
                if let Err(e) = Scenario::parse(&text, Path::new("catalog.toml")) {
                    panic!("{} {}: {e}\n{text}", section.name, k.name);
                }
            }
        }
    }

    /// The fields a kind documents are the fields its configuration reads, in order, and a
    /// kind whose fields all have defaults runs with none given.
    #[test]
    fn every_kind_documents_exactly_the_fields_it_reads() {
        for section in sections() {
            for k in section.kinds {
                let documented: Vec<&str> = k.doc.fields.iter().map(|f| f.name).collect();
                assert_eq!(
                    documented,
                    (k.fields_read)(),
                    "{} {}: KindDoc fields against the config's",
                    section.name,
                    k.name
                );
                let all_defaulted = k
                    .doc
                    .fields
                    .iter()
                    .all(|f| matches!(f.need, ratelab_strategies::kind::Need::Default(_)));
                if all_defaulted && section.name != "strategy breaker" {
                    let text = scenario_with(section.name, &format!("{{ kind = \"{}\" }}", k.name));
                    if let Err(e) = Scenario::parse(&text, Path::new("catalog.toml")) {
                        panic!("{} {} with no fields: {e}", section.name, k.name);
                    }
                }
            }
        }
    }
}
