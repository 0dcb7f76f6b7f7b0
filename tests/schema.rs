//! `ratelab schema` validates every scenario of the library (and the league's APIs written as
//! scenarios) and rejects the mistakes the README warns of: an unknown field, an unknown kind,
//! a value of the wrong type, a missing required field.

use std::path::Path;

use ratelab::schema::schema;
use ratelab::sim::scenario_files;

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).expect("the schema is a valid draft 2020-12 schema")
}

fn as_json(toml_text: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(toml_text).unwrap();
    serde_json::to_value(value).unwrap()
}

#[test]
fn every_scenario_of_the_library_is_valid() {
    let v = validator();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = scenario_files(&root.join("scenarios")).unwrap();
    assert!(files.len() >= 10);
    let starter = root.join("src/templates/starter.toml");
    for path in files.iter().chain([&starter]) {
        let json = as_json(&std::fs::read_to_string(path).unwrap());
        let errors: Vec<String> = v.iter_errors(&json).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

const GOOD: &str = r#"
name = "ok"
[workload]
requests = 10
[api]
limits = [{ kind = "token_bucket", rate_per_min = 600, burst = 10 }]
latency = { kind = "fixed", ms = 100 }
[[strategy]]
name = "paced"
admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 1 }]
retry = { kind = "exponential", base_ms = 500, retry_after = "at_least" }
breaker = { consecutive_failures = 3, on_open = "fail" }
"#;

#[test]
fn the_documented_mistakes_are_rejected() {
    let v = validator();
    assert!(v.is_valid(&as_json(GOOD)));
    let ms = "latency = { kind = \"fixed\", ms = 100 }\nretry_after_precision = \"ms\"";
    assert!(v.is_valid(&as_json(&GOOD.replacen(
        "latency = { kind = \"fixed\", ms = 100 }",
        ms,
        1
    ))));
    for (mistake, from, to) in [
        (
            "a precision not in the list",
            "latency = { kind = \"fixed\", ms = 100 }",
            "latency = { kind = \"fixed\", ms = 100 }\nretry_after_precision = \"us\"",
        ),
        (
            "an unknown field (a typo)",
            "base_ms = 500",
            "base_msec = 500",
        ),
        ("an unknown kind", "\"exponential\"", "\"exponentail\""),
        ("a number as a string", "burst = 10 }]", "burst = \"10\" }]"),
        ("a value not in the list", "\"at_least\"", "\"always\""),
        (
            "a rate given twice",
            "rate_per_min = 600",
            "rate_per_min = 600, rate_per_s = 10",
        ),
        ("no rate at all", "rate_per_min = 600, ", ""),
        ("a missing required table", "[api]\n", "[apis]\n"),
        ("a breaker field misspelt", "on_open", "on_opened"),
        (
            "a top-level typo",
            "name = \"ok\"",
            "name = \"ok\"\nhorizon = 10",
        ),
    ] {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "{mistake}: the replacement applies");
        assert!(
            !v.is_valid(&as_json(&text)),
            "{mistake} passes the schema:\n{text}"
        );
    }
}

/// The CLI prints the same schema.
#[test]
fn ratelab_schema_prints_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, schema());
}
