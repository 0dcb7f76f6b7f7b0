//! The CLI as a user meets it: the run command, the JSON contract, and every kind of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ratelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ratelab runs")
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const GOOD: &str = r#"
name = "small"
[workload]
requests = 30
[api]
limits = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
latency = { kind = "fixed", ms = 100 }
[[strategy]]
name = "gather"
retry = { kind = "exponential", base_ms = 100, max_attempts = 3 }
[[strategy]]
name = "paced"
admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
"#;

#[test]
fn run_prints_a_table_and_the_json_contract() {
    let out = ratelab(&["run", "scenarios/seed-semaphore.toml", "--json", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stderr);
    assert!(table.contains("bucket-10/s+semaphore-5"), "{table}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    for key in [
        "scenario",
        "description",
        "seed",
        "version",
        "api_capacity_rps",
        "results",
    ] {
        assert!(json.get(key).is_some(), "top-level `{key}` missing");
    }
    assert_eq!(json["seed"], 42);
    assert_eq!(json["api_capacity_rps"], 10.0);
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let required = [
        "strategy",
        "requests",
        "succeeded",
        "dead_lettered",
        "rejected_by_breaker",
        "rejected_by_throttle",
        "in_flight_at_horizon",
        "finished",
        "attempts",
        "http_429",
        "makespan_s",
        "goodput_rps",
        "latency_s",
        "events",
        "series",
        "latency_curve",
        "attempts_histogram",
        "dead_letter",
    ];
    for r in results {
        for key in required {
            assert!(r.get(key).is_some(), "result field `{key}` missing");
        }
        for p in ["p50", "p90", "p99", "max"] {
            assert!(r["latency_s"][p].is_f64(), "latency_s.{p}");
        }
        let n = |k: &str| r[k].as_u64().unwrap();
        assert_eq!(
            n("succeeded")
                + n("dead_lettered")
                + n("rejected_by_breaker")
                + n("rejected_by_throttle")
                + n("in_flight_at_horizon"),
            n("requests")
        );
        let sends: u64 = r["series"]["sends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(
            sends,
            n("attempts"),
            "the series accounts for every attempt"
        );
    }
    assert_eq!(results[3]["strategy"], "bucket-10/s+semaphore-5");
    assert_eq!(results[3]["http_429"], 0);
}

#[test]
fn same_seed_same_bytes_and_seed_flag_changes_them() {
    let path = write("det.toml", GOOD);
    let p = path.to_str().unwrap();
    let a = ratelab(&["run", p, "--json", "-"]);
    let b = ratelab(&["run", p, "--json", "-"]);
    let c = ratelab(&["run", p, "--json", "-", "--seed", "99"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    let json: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
    assert_eq!(json["seed"], 99);
    assert_eq!(
        json["scenario"]["seed"], 99,
        "the scenario as run carries the seed used"
    );
}

#[test]
fn json_to_a_file_keeps_the_table_on_stdout() {
    let scenario = write("tofile.toml", GOOD);
    let dest = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tofile.json");
    let out = ratelab(&[
        "run",
        scenario.to_str().unwrap(),
        "--json",
        dest.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("paced"));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dest).unwrap()).unwrap();
    assert_eq!(saved["results"][1]["strategy"], "paced");
    assert_eq!(saved["results"][1]["http_429"], 0);
}

/// Each mistake: the scenario text, then what the message must contain.
const MISTAKES: &[(&str, &str, &[&str])] = &[
    (
        "store-error-unshared",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nadmission = [{ kind = \"token_bucket\", rate_per_s = 1, burst = 1, on_store_error = \"open\" }]\n",
        &[
            "store-error-unshared.toml",
            "strategy[0].admission[0].on_store_error",
            "only with shared = true",
        ],
    ),
    (
        "store-timeout-range",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nadmission = [{ kind = \"token_bucket\", rate_per_s = 1, burst = 1, shared = true, store_timeout_ms = 0 }]\n",
        &["store-timeout-range.toml", "store_timeout_ms", "10000"],
    ),
    (
        "store-error-value",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nadmission = [{ kind = \"token_bucket\", rate_per_s = 1, burst = 1, shared = true, on_store_error = \"maybe\" }]\n",
        &[
            "store-error-value.toml",
            "unknown variant `maybe`",
            "open",
            "closed",
            "local",
        ],
    ),
    (
        "syntax",
        "name = \"x\"\n[workload\n",
        &["syntax.toml", "line 2"],
    ),
    (
        "missing-field",
        "name = \"x\"\n[workload]\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &["missing-field.toml", "missing field `requests`"],
    ),
    (
        "unknown-field",
        "name = \"x\"\n[workload]\nrequests = 1\nrequest = 2\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &["unknown-field.toml", "unknown field `request`", "line 4"],
    ),
    (
        "unknown-kind",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"gaussian\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &[
            "unknown-kind.toml",
            "unknown variant `gaussian`",
            "lognormal",
        ],
    ),
    (
        "wrong-type",
        "name = \"x\"\n[workload]\nrequests = \"ten\"\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &["wrong-type.toml", "line 3", "expected u64"],
    ),
    (
        "wrong-type-in-kind-table",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"exponential\", mean_ms = \"thirty\" }\n[[strategy]]\nname = \"s\"\n",
        &[
            "wrong-type-in-kind-table.toml",
            "line 5",
            "expected f64",
            "in `mean_ms`",
        ],
    ),
    (
        "unknown-kind-in-the-second-table",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n[[strategy.admission]]\nkind = \"semaphore\"\npermits = 2\n[[strategy.admission]]\nkind = \"leaky\"\nrate_per_s = 3\n",
        &[
            "unknown-kind-in-the-second-table.toml",
            "line 12",
            "unknown variant `leaky`",
        ],
    ),
    (
        "wrong-type-in-the-second-limit",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlimits = [\n  { kind = \"concurrency\", max_in_flight = 2 },\n  { kind = \"token_bucket\", rate_per_s = 1, burst = \"x\" },\n]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &[
            "wrong-type-in-the-second-limit.toml",
            "line 7",
            "expected u64 in `burst`",
        ],
    ),
    (
        "field-of-a-kind-without-fields",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nadmission = [{ kind = \"unlimited\", permits = 3 }]\n",
        &[
            "field-of-a-kind-without-fields.toml",
            "line 8",
            "unknown field `permits`: kind `unlimited` takes no fields",
        ],
    ),
    (
        "negative",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nadmission = [{ kind = \"semaphore\", permits = -1 }]\n",
        &["negative.toml", "line 8", "-1"],
    ),
    (
        "zero-rate",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nadmission = [{ kind = \"token_bucket\", rate_per_s = 0, burst = 1 }]\n",
        &[
            "zero-rate.toml",
            "strategy[0].admission[0].rate_per_s",
            "0.001..=1000000000",
            "got 0",
        ],
    ),
    (
        "two-rates",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlimits = [{ kind = \"token_bucket\", rate_per_s = 1, rate_per_min = 60, burst = 1 }]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &["two-rates.toml", "api.limits[0].rate_per_s", "not both"],
    ),
    (
        "no-rate",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlimits = [{ kind = \"token_bucket\", burst = 1 }]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &["no-rate.toml", "api.limits[0].rate_per_s", "rate_per_min"],
    ),
    (
        "aimd-order",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nadmission = [{ kind = \"aimd\", min = 10, max = 5, initial = 7 }]\n",
        &[
            "aimd-order.toml",
            "strategy[0].admission[0].max",
            "at least min",
        ],
    ),
    (
        "cap-below-base",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nretry = { kind = \"exponential\", base_ms = 5000, cap_ms = 10 }\n",
        &["cap-below-base.toml", "strategy[0].retry.cap_ms", "base_ms"],
    ),
    (
        "too-many-attempts",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\nretry = { kind = \"fixed\", delay_ms = 1, max_attempts = 0 }\n",
        &[
            "too-many-attempts.toml",
            "strategy[0].retry.max_attempts",
            "1..=1000",
            "got 0",
        ],
    ),
    (
        "probability",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\nerrors = { probability = 1.5 }\n[[strategy]]\nname = \"s\"\n",
        &["probability.toml", "api.errors.probability", "0..=1", "1.5"],
    ),
    (
        "horizon",
        "name = \"x\"\nhorizon_s = 0\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &["horizon.toml", "horizon_s", "greater than 0"],
    ),
    (
        "no-strategy",
        "name = \"x\"\nstrategy = []\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n",
        &["no-strategy.toml", "strategy", "at least one"],
    ),
    (
        "duplicate-names",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n[[strategy]]\nname = \"s\"\n",
        &["duplicate-names.toml", "strategy[1].name", "unique"],
    ),
    (
        "lognormal-order",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"lognormal\", median_ms = 500, p99_ms = 100 }\n[[strategy]]\nname = \"s\"\n",
        &["lognormal-order.toml", "api.latency.p99_ms", "median_ms"],
    ),
    (
        "clients",
        "name = \"x\"\n[workload]\nrequests = 1\nclients = 0\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &["clients.toml", "workload.clients", "1..=10000"],
    ),
    (
        "held-zero",
        "name = \"x\"\nmax_requests_held = 0\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
        &[
            "held-zero.toml",
            "max_requests_held",
            "must be in 1..=1000000000 (got 0)",
        ],
    ),
    (
        "schedule-order",
        "name = \"x\"\nhorizon_s = 100\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[api.schedule]]\nat_s = 50\nlatency = { kind = \"fixed\", ms = 2 }\n[[api.schedule]]\nat_s = 20\nlatency = { kind = \"fixed\", ms = 3 }\n[[api.schedule]]\nat_s = 200\nlatency = { kind = \"fixed\", ms = 3 }\n[[strategy]]\nname = \"s\"\n",
        &[
            "schedule-order.toml",
            "api.schedule[1].at_s: 20 is before schedule[0].at_s = 50",
            "api.schedule[2].at_s: must be in 0..=100 (got 200)",
        ],
    ),
    (
        "outages-overlap",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\noutages = [{ at_s = 10, for_s = 10, mode = \"503\" }, { at_s = 15, for_s = 1, mode = \"hang\" }]\n[[strategy]]\nname = \"s\"\n",
        &[
            "outages-overlap.toml",
            "api.outages[1].at_s",
            "must not overlap",
        ],
    ),
    (
        "outage-mode",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\noutages = [{ at_s = 10, for_s = 10, mode = \"down\" }]\n[[strategy]]\nname = \"s\"\n",
        &["outage-mode.toml", "unknown variant `down`", "503"],
    ),
    (
        "retry-after-precision",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\nretry_after_precision = \"seconds\"\n[[strategy]]\nname = \"s\"\n",
        &[
            "retry-after-precision.toml",
            "line 6",
            "retry_after_precision",
            "unknown variant `seconds`, expected `s` or `ms`",
        ],
    ),
    (
        "queue-without-servers",
        "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\nqueue_limit = 5\n[[strategy]]\nname = \"s\"\n",
        &[
            "queue-without-servers.toml",
            "api.queue_limit",
            "needs servers",
        ],
    ),
];

/// A trace's mistakes: exit 2, the scenario, the field, the CSV file and its line, no panic.
#[test]
fn a_bad_trace_names_the_csv_file_and_line_with_exit_code_2() {
    let trace_scenario = "name = \"x\"\n[workload]\nrequests = 3\narrival = { kind = \"trace\", file = \"bad-trace.csv\" }\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n";
    let path = write("bad-trace.toml", trace_scenario);
    let csv = path.with_file_name("bad-trace.csv");
    let shown = csv.display().to_string();
    let cases = [
        (
            "ready_s,tokens\r\n0,1\r\n0.5,2\r\n0.25,3\r\n",
            "line 4: ready_s 0.25 is before line 3's 0.5",
        ),
        (
            "ready_s\n0\n1\n1,5\nabc\n",
            "line 5: ready_s \"abc\" is not a number",
        ),
        ("tokens\n1\n", "line 1: the header has no `ready_s` column"),
        ("ready_s\n0\n1\n", "has only 2 rows"),
    ];
    for (text, needle) in cases {
        std::fs::write(&csv, text).unwrap();
        let out = ratelab(&["run", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(out.stdout.is_empty() && !err.contains("panicked"), "{err}");
        assert!(err.contains("bad-trace.toml: workload."), "{err}");
        assert!(
            err.contains(&shown),
            "{text:?}: the CSV file is not named in:\n{err}"
        );
        assert!(err.contains(needle), "`{needle}` not in:\n{err}");
    }
    std::fs::remove_file(&csv).unwrap();
    let out = ratelab(&["run", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("workload.arrival.file: {shown}: cannot read")),
        "{err}"
    );
}

#[test]
fn every_kind_of_mistake_names_file_field_and_range_with_exit_code_2() {
    for (name, text, expected) in MISTAKES {
        let path = write(&format!("{name}.toml"), text);
        let out = ratelab(&["run", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
        assert!(!err.contains("panicked"), "{name}: {err}");
        for needle in *expected {
            assert!(err.contains(needle), "{name}: `{needle}` not in:\n{err}");
        }
    }
}

#[test]
fn a_run_that_would_hold_too_many_requests_stops_and_the_table_says_why() {
    let path = write(
        "held.toml",
        "name = \"held\"\nmax_requests_held = 100\n[workload]\nrequests = 1000\n[api]\n\
         latency = { kind = \"fixed\", ms = 10 }\n[[strategy]]\nname = \"all-at-once\"\n\
         [[strategy]]\nname = \"semaphore-10\"\n\
         admission = [{ kind = \"semaphore\", permits = 10 }]\n",
    );
    let out = ratelab(&["run", path.to_str().unwrap(), "--json", "-"]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stderr);
    assert!(
        table.contains(
            "+ stopped at the memory limit (all-at-once): more than max_requests_held = 100"
        ),
        "{table}"
    );
    assert!(!table.contains("horizon came first"), "{table}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results[0]["stop"], "memory_limit");
    assert_eq!(results[0]["attempts"], 100);
    assert_eq!(results[0]["in_flight_at_horizon"], 1000);
    // The other strategy is not held back by the first one's stop.
    assert_eq!(results[1]["stop"], "all_final");
    assert_eq!(results[1]["succeeded"], 1000);
    assert_eq!(json["scenario"]["max_requests_held"], 100);
}

#[test]
fn the_table_flags_a_goodput_that_giving_up_flatters_and_explains_413s() {
    // Requests of 1 to 20 tokens against a bucket of 10: the heavy ones are 413s; the others
    // mostly run out of attempts against 10 tokens/s.
    let path = write(
        "heavy.toml",
        "name = \"heavy\"\n[workload]\nrequests = 100\n\
         tokens = { kind = \"uniform\", min = 1, max = 20 }\n[api]\n\
         limits = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 10, unit = \"tokens\" }]\n\
         latency = { kind = \"fixed\", ms = 10 }\n[[strategy]]\nname = \"a\"\n\
         retry = { kind = \"exponential\", base_ms = 100, max_attempts = 3 }\n",
    );
    let out = ratelab(&["run", path.to_str().unwrap(), "--json", "-"]);
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stderr);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &json["results"][0];
    assert!(r["succeeded"].as_u64().unwrap() < 50, "{table}");
    let row = table.lines().find(|l| l.starts_with("a ")).unwrap();
    let goodput = format!("{:.2}*", r["goodput_rps"].as_f64().unwrap());
    assert!(row.contains(&goodput), "{row}");
    assert!(
        table.contains("* lost requests (a): goodput counts successes only"),
        "{table}"
    );
    let n413 = r["http_413"].as_u64().unwrap();
    assert!(n413 > 0);
    assert!(
        table.contains(&format!(
            "413s (a {n413}): requests heavier than a limit's burst"
        )),
        "{table}"
    );
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let out = ratelab(&["run", "scenarios/no-such-file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-file.toml") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn list_shows_the_library_and_every_kind() {
    let out = ratelab(&["list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "seed-semaphore.toml",
        "two-instances.toml",
        "ai-rpm-tpm.toml",
        "decorrelated",
        "on_open",
    ] {
        assert!(
            text.contains(needle),
            "`{needle}` missing from `ratelab list`"
        );
    }
    // Every registered kind, under its section, with its fields.
    for section in ratelab::catalog::sections() {
        let start = text
            .find(&format!("\n{} — ", section.name))
            .unwrap_or_else(|| panic!("no section {} in:\n{text}", section.name));
        for k in section.kinds {
            let entry = format!("\n  {:<15} {}\n", k.name, k.doc.about);
            assert!(
                text[start..].contains(&entry),
                "{} kind {} missing from `ratelab list`",
                section.name,
                k.name
            );
            assert!(text[start..].contains(&k.fields_line()));
        }
    }
    assert!(
        !text.contains("invalid"),
        "every shipped scenario is valid:\n{text}"
    );
}

#[test]
fn list_of_a_missing_folder_says_so_and_fails() {
    let out = ratelab(&["list", "--dir", "no/such/folder"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cannot read no/such/folder"), "{text}");
    assert!(
        text.contains("leaky_bucket"),
        "the kinds are still listed:\n{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no/such/folder: cannot read the folder: "),
        "the reason too: {err}"
    );
}

/// A scenario that runs live in about 0.3 s: 20 requests paced at the API's rate, fixed latency.
const QUICK_LIVE: &str = r#"
name = "quick-live"
[workload]
requests = 20
[api]
limits = [{ kind = "token_bucket", rate_per_s = 100, burst = 5 }]
latency = { kind = "fixed", ms = 10 }
[[strategy]]
name = "leaky-100/s"
admission = [{ kind = "leaky_bucket", rate_per_s = 100 }]
[[strategy]]
name = "semaphore-2"
admission = [{ kind = "semaphore", permits = 2 }]
"#;

#[test]
fn fidelity_puts_the_simulation_beside_a_live_run() {
    let path = write("quick-live.toml", QUICK_LIVE);
    let path = path.to_str().unwrap();
    let out = ratelab(&[
        "fidelity",
        path,
        "--scale",
        "2",
        "--strategy",
        "leaky-100/s",
        "--sim-seeds",
        "2",
        "-q",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("time scaled 2x"), "{text}{err}");
    // The simulated side is deterministic: the scaled run of this scenario is the original
    // sped up exactly, and its makespan is what `run` gives for the scaled scenario: 20 sends
    // 5 ms apart (the first five at once from the API's burst does not matter: the client's
    // leaky bucket spaces them) plus 5 ms of latency.
    assert!(
        text.contains("scaling check: leaky-100/s: original makespan / 2 = 0.100s, scaled simulation 0.100s (+0.0%)"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("leaky-100/s "))
        .unwrap_or_else(|| panic!("a row for the strategy: {text}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], "100.0ms", "{row}");
    // Live cannot beat the pacing: 20 sends 5 ms apart and 5 ms of latency take 100 ms.
    // (The table writes under a second as "123.4ms", from a second on as "1.234s".)
    let live_ms: f64 = match cols[2].strip_suffix("ms") {
        Some(ms) => ms.parse().expect("a live makespan in ms"),
        None => {
            let s: f64 = cols[2]
                .trim_end_matches('s')
                .parse()
                .expect("a live makespan in s");
            s * 1000.0
        }
    };
    assert!((99.0..10_000.0).contains(&live_ms), "{row}");
    // Exit status 0 when the row meets the target, 1 (and a line saying which) when it misses:
    // the live side runs on a shared machine, so either can happen here.
    if row.ends_with(" ok") {
        assert!(out.status.success(), "{text}{err}");
    } else {
        assert!(row.ends_with(" MISSED"), "{row}");
        assert_eq!(out.status.code(), Some(1), "{text}{err}");
        assert!(err.contains("missed the target: leaky-100/s"), "{err}");
    }
    assert!(text.contains("(sim over 3 seeds:"), "{text}");
    assert!(
        !text.contains("semaphore-2"),
        "only the strategy asked for: {text}"
    );
}

#[test]
fn fidelity_refuses_an_unknown_strategy_and_a_bad_scale_before_running() {
    let path = write("quick-live-bad.toml", QUICK_LIVE);
    let path = path.to_str().unwrap();
    let out = ratelab(&["fidelity", path, "--strategy", "nope", "-q"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"nope\"") && err.contains("leaky-100/s, semaphore-2"),
        "{err}"
    );
    let out = ratelab(&["fidelity", path, "--scale", "0", "-q"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn league_runs_every_entry_on_every_api_and_its_json_and_page_are_its_table() {
    let page = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("league.html");
    let out = ratelab(&[
        "league",
        "scenarios/league",
        "--json",
        "-",
        "--quiet",
        "--report",
        page.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stderr);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let apis = json["apis"].as_array().unwrap();
    assert!(apis.len() >= 9);
    for api in apis {
        let name = api["name"].as_str().unwrap();
        assert!(table.contains(name), "{name} in the table");
        for c in api["results"].as_array().unwrap() {
            let n = |k: &str| c[k].as_u64().unwrap();
            assert_eq!(n("succeeded") + n("lost"), n("requests"));
            assert_eq!(
                c["efficiency"].is_null(),
                n("lost") > 0 || api["ideal_makespan_s"].is_null()
            );
        }
    }
    assert!(table.contains("the best zero-knowledge entry meets the target on"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("token-bucket"));
    // The same bytes again.
    let again = ratelab(&["league", "scenarios/league", "--json", "-", "--quiet"]);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn league_of_a_bad_folder_names_the_file_and_exits_2() {
    let out = ratelab(&["league", "no/such/folder"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/folder/entries.toml"), "{err}");
}

const PICK: &str = r#"
name = "pick"
[workload]
requests = 40
[api]
limits = [{ kind = "token_bucket", rate_per_s = 20, burst = 5 }]
latency = { kind = "fixed", ms = 20 }
rejected_latency_ms = 1
[[strategy]]
name = "gives-up"
retry = { kind = "none" }
[[strategy]]
name = "breaker"
retry = { kind = "fixed", delay_ms = 1, max_attempts = 3 }
breaker = { consecutive_failures = 1, open_ms = 60000, on_open = "fail" }
[[strategy]]
name = "paced"
admission = [{ kind = "token_bucket", rate_per_s = 20, burst = 5 }]
"#;

/// The verdict: the JSON's `verdict`, the table's `pick:` line, every strategy that lost
/// requests marked, and `--objective` and `--strategy` changing what runs and what is picked.
#[test]
fn run_says_which_strategy_to_pick_and_marks_every_loss() {
    let path = write("pick.toml", PICK);
    let path = path.to_str().unwrap();
    let out = ratelab(&["run", path, "--json", "-", "-q"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"]["strategy"], "paced");
    let reason = json["verdict"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("all 40 succeeded, no 429s"), "{reason}");
    assert!(reason.contains("the API's limit allows"), "{reason}");
    let table = String::from_utf8_lossy(&out.stderr);
    assert!(
        table.contains(&format!("pick: paced — {reason}")),
        "{table}"
    );
    for lossy in ["gives-up", "breaker"] {
        let row = table.lines().find(|l| l.starts_with(lossy)).unwrap();
        assert!(row.contains('*'), "{row}");
    }
    let paced = table.lines().find(|l| l.starts_with("paced")).unwrap();
    assert!(!paced.contains('*'), "{paced}");
    assert!(
        table.contains("* lost requests (gives-up, breaker)"),
        "{table}"
    );

    // An objective that only the fast loser meets.
    let out = ratelab(&[
        "run",
        path,
        "-q",
        "--json",
        "-",
        "--objective",
        "minimize makespan_s where dead_lettered > 0",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"]["strategy"], "gives-up");
    assert_eq!(
        json["verdict"]["objective"],
        "minimize makespan_s where dead_lettered > 0"
    );

    // --strategy runs only those named, in the file's order.
    let out = ratelab(&[
        "run",
        path,
        "-q",
        "--json",
        "-",
        "--strategy",
        "paced",
        "--strategy",
        "gives-up",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gives-up", "paced"]);
}

#[test]
fn run_refuses_an_unknown_strategy_and_a_bad_objective() {
    let path = write("pick-bad.toml", PICK);
    let path = path.to_str().unwrap();
    let out = ratelab(&["run", path, "-q", "--strategy", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "--strategy \"nope\": no such strategy (the scenario has: gives-up, breaker, paced)"
        ),
        "{err}"
    );
    let out = ratelab(&["run", path, "-q", "--objective", "minimize speed"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--objective: objective `minimize speed`: `speed` is not a metric; metrics: attempts, attempts_per_request, dead_lettered"),
        "{err}"
    );
}

/// A horizon that cuts a run the limits could finish says how long they need.
#[test]
fn a_short_horizon_says_how_long_the_limits_need() {
    let path = write(
        "short-horizon.toml",
        "name = \"short\"\nhorizon_s = 20\n[workload]\nrequests = 500\n[api]\n\
         limits = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 10 }]\n\
         latency = { kind = \"fixed\", ms = 100 }\n[[strategy]]\nname = \"paced\"\n\
         admission = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 10 }]\n",
    );
    let out = ratelab(&["run", path.to_str().unwrap(), "-q"]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    // 10 at once, then 490 more at 10/s: the last is sent at 49.0 s and answered at 49.1 s.
    assert!(
        table.contains(
            "The API's limits need 49.1s for the whole workload (the ideal makespan): set \
             horizon_s above 50."
        ),
        "{table}"
    );
}

/// `ratelab init` writes a starter that runs as it is, named after its file, and never
/// overwrites a file unasked.
#[test]
fn init_writes_a_starter_that_runs() {
    let dir = std::env::temp_dir().join(format!("ratelab-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("acme-api.toml");
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().unwrap();
    let out = ratelab(&["init", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("name = \"acme-api\""), "{text}");
    let out = ratelab(&["init", path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists; pass --force"));
    assert!(ratelab(&["init", path, "--force"]).status.success());
    let out = ratelab(&["run", path, "-q", "--json", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["scenario"]["name"], "acme-api");
    assert_eq!(json["results"].as_array().unwrap().len(), 3);
    assert!(json["verdict"]["strategy"].is_string());
}

/// Ctrl-C during `ratelab live` stops it as at a horizon: the strategy that finished is kept,
/// the running one counts its pending requests, the JSON and the table are written, and the exit
/// status is 130.
#[cfg(unix)]
#[test]
fn live_keeps_its_results_on_ctrl_c() {
    let path = write(
        "interrupted.toml",
        "name = \"interrupted\"\n[workload]\nrequests = 40\n[api]\n\
         latency = { kind = \"fixed\", ms = 5 }\n\
         [[strategy]]\nname = \"quick\"\n\
         [[strategy]]\nname = \"slow\"\n\
         admission = [{ kind = \"token_bucket\", rate_per_s = 2, burst = 1 }]\n",
    );
    let json = path.with_extension("json");
    let _ = std::fs::remove_file(&json);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .args(["live", path.to_str().unwrap(), "-q", "--json"])
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // "quick" takes a few ms; "slow" needs 20 s: interrupt it after a while.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{table}{err}");
    assert!(table.contains("+ interrupted (slow)"), "{table}");
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let results = result["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["stop"], "all_final");
    assert_eq!(results[0]["succeeded"], 40);
    let slow = &results[1];
    assert_eq!(slow["stop"], "interrupted");
    let n = |k: &str| slow[k].as_u64().unwrap();
    assert!(n("succeeded") >= 2 && n("succeeded") < 40, "{slow}");
    assert_eq!(
        n("succeeded") + n("in_flight_at_horizon") + n("dead_lettered"),
        40
    );
}

/// `fidelity --trace`: a client's run recorded by `serve --trace` (here `ratelab live`, a client
/// from outside the server's process) next to the simulator's prediction of its strategy.
#[cfg(unix)]
#[test]
fn fidelity_compares_a_recorded_trace_with_the_simulator() {
    use std::io::{BufRead, BufReader};
    let path = write(
        "traced.toml",
        "name = \"traced\"\n[workload]\nrequests = 20\n[api]\n\
         limits = [{ kind = \"token_bucket\", rate_per_s = 20, burst = 5 }]\n\
         latency = { kind = \"fixed\", ms = 20 }\n\
         [[strategy]]\nname = \"paced\"\n\
         admission = [{ kind = \"token_bucket\", rate_per_s = 18, burst = 4 }]\n",
    );
    let trace = path.with_extension("jsonl");
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .args([
            "serve",
            path.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--trace",
        ])
        .arg(&trace)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut banner = BufReader::new(serve.stdout.take().unwrap());
    banner.read_line(&mut first).unwrap();
    // Read the rest of what it prints, so that its stdout stays open.
    let drain = std::thread::spawn(move || std::io::copy(&mut banner, &mut std::io::sink()));
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("an address in {first:?}"))
        .trim_end_matches('/')
        .to_string();
    let live = ratelab(&[
        "live",
        path.to_str().unwrap(),
        "--url",
        &format!("{url}/v1/x"),
        "-q",
    ]);
    std::process::Command::new("kill")
        .args(["-INT", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(serve.wait().unwrap().success());
    let _ = drain.join();
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let out = ratelab(&[
        "fidelity",
        path.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("the simulator vs the client recorded in"),
        "{text}"
    );
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // 20 requests, none refused: the attempts and 429s agree exactly.
    assert_eq!(row("attempts")[1..3], ["20.000", "20.000"], "{text}");
    assert_eq!(row("429s")[1..3], ["0.000", "0.000"], "{text}");
    // The exit status says whether the makespan agreed too (real time on a shared machine).
    let makespan_ok = row("makespan").last().map(String::as_str) == Some("ok");
    assert_eq!(out.status.success(), makespan_ok, "{text}");
}

/// Names and sizes have limits (exit 2 naming the field and the limit); a name at the limit
/// runs, its JSON is written whole and the table shows it cut; a file that is not UTF-8 names
/// the line and column of the first bad byte.
#[test]
fn names_and_sizes_have_limits_and_long_names_never_break_the_table() {
    let scenario = |name: &str| {
        format!(
            "name = \"x\"\n[workload]\nrequests = 2\n[api]\nlatency = {{ kind = \"fixed\", ms = 1 }}\n[[strategy]]\nname = \"{name}\"\n"
        )
    };
    let long = "n".repeat(257);
    let path = write("long-name.toml", &scenario(&long));
    let out = ratelab(&["run", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("strategy[0].name: has 257 characters; at most 256"),
        "{err}"
    );
    let path = write("control-name.toml", &scenario("a\\u0007b"));
    let err =
        String::from_utf8_lossy(&ratelab(&["run", path.to_str().unwrap()]).stderr).to_string();
    assert!(err.contains("control characters"), "{err}");
    let at_limit = "m".repeat(256);
    let path = write("limit-name.toml", &scenario(&at_limit));
    let json = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("limit-name.json");
    let out = ratelab(&[
        "run",
        path.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(&format!("{}…", "m".repeat(39))), "{table}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["results"][0]["strategy"], at_limit.as_str());
    let mut bytes = scenario("s").into_bytes();
    bytes.splice(9..9, [b'\n', 0xff, 0xfe]);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("not-utf8.toml");
    std::fs::write(&path, &bytes).unwrap();
    let err =
        String::from_utf8_lossy(&ratelab(&["run", path.to_str().unwrap()]).stderr).to_string();
    assert!(
        err.contains("not UTF-8 text: an invalid byte at line 2, column 1 (byte offset 10)"),
        "{err}"
    );
    let many: String = (0..101)
        .map(|i| format!("[[strategy]]\nname = \"s{i}\"\n"))
        .collect();
    let path = write(
        "many.toml",
        &format!(
            "name = \"x\"\n[workload]\nrequests = 1\n[api]\nlatency = {{ kind = \"fixed\", ms = 1 }}\n{many}"
        ),
    );
    let err =
        String::from_utf8_lossy(&ratelab(&["run", path.to_str().unwrap()]).stderr).to_string();
    assert!(err.contains("101 strategies; at most 100"), "{err}");
}

/// A trace or a scenario that names a device is refused, never read forever (found by hand
/// while building the fuzz targets: `/dev/zero` reports no size).
#[test]
fn a_device_is_never_read_forever() {
    let path = write(
        "dev-zero.toml",
        "name = \"x\"\n[workload]\nrequests = 1\narrival = { kind = \"trace\", file = \"/dev/zero\" }\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n",
    );
    let out = ratelab(&["run", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/zero: not a regular file"), "{err}");
    if Path::new("/dev/zero").exists() {
        let out = ratelab(&["run", "/dev/zero"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("longer than 16777216 bytes"), "{err}");
    }
}

/// `live --redis` / `--processes` mistakes are exit 2 before anything runs, naming the flag.
#[test]
fn live_refuses_processes_it_cannot_coordinate() {
    let shared = "scenarios/shared-quota.toml";
    for (args, needle) in [
        (
            vec!["live", shared, "--processes", "4"],
            "which processes can only do through Redis: add --redis",
        ),
        (
            vec![
                "live",
                shared,
                "--processes",
                "5",
                "--redis",
                "redis://127.0.0.1:1",
            ],
            "--processes 5: scenarios/shared-quota.toml has 4 client(s); give 1..=4",
        ),
        (
            vec![
                "live",
                shared,
                "--processes",
                "0",
                "--redis",
                "redis://127.0.0.1:1",
            ],
            "give 1..=4",
        ),
        (
            vec!["live", shared, "--redis", "127.0.0.1:6379"],
            "--redis \"127.0.0.1:6379\": give a Redis URL",
        ),
        (
            vec!["live", "scenarios/trace-replay.toml", "--processes", "1"],
            "replays a trace",
        ),
    ] {
        let out = ratelab(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
    }
    // Redis that does not answer: an error within seconds, exit 1, naming the URL.
    let t = std::time::Instant::now();
    let out = ratelab(&[
        "live",
        shared,
        "--strategy",
        "shared-bucket",
        "--redis",
        "redis://127.0.0.1:1",
        "--quiet",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach Redis at redis://127.0.0.1:1"),
        "{err}"
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
}
