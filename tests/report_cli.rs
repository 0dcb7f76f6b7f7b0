//! The CLI's report commands: `run --report/--csv`, `report RESULTS.json -o`, and `run` with no
//! scenario.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ratelab(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ratelab runs")
}

/// A fresh scratch folder holding a copy of the scenarios (so relative paths work as for a user).
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ratelab-report-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    for f in ["seed-semaphore.toml", "two-instances.toml"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenarios")
                .join(f),
            dir.join("scenarios").join(f),
        )
        .unwrap();
    }
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_report_from_saved_json_matches_the_one_made_during_the_run() {
    let dir = scratch("same");
    let run = ratelab(
        &dir,
        &[
            "run",
            "scenarios/two-instances.toml",
            "--seed",
            "9",
            "--quiet",
            "--json",
            "r.json",
            "--report",
            "during.html",
            "--csv",
            "series",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stderr(&run).contains("Report written to during.html"));
    let report = ratelab(
        &dir,
        &[
            "report",
            "r.json",
            "-o",
            "after.html",
            "--scenario",
            "scenarios/two-instances.toml",
        ],
    );
    assert!(report.status.success(), "{}", stderr(&report));
    let during = std::fs::read(dir.join("during.html")).unwrap();
    let after = std::fs::read(dir.join("after.html")).unwrap();
    assert!(during == after, "the two reports differ");
    let text = String::from_utf8(during).unwrap();
    assert!(text.contains("ratelab run scenarios/two-instances.toml --seed 9"));
    assert!(
        !text.contains(dir.to_string_lossy().as_ref()),
        "no absolute path"
    );
    // Without --scenario, the command names the scenario's file by its name.
    let bare = ratelab(&dir, &["report", "r.json", "-o", "bare.html"]);
    assert!(bare.status.success());
    let bare = std::fs::read_to_string(dir.join("bare.html")).unwrap();
    assert!(bare.contains("ratelab run two-instances.toml --seed 9"));
    // The CSV: the summary, and a series file per strategy and per client.
    let mut csv: Vec<String> = std::fs::read_dir(dir.join("series"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    csv.sort();
    assert_eq!(csv.len(), 13, "{csv:?}");
    assert!(csv.contains(&"summary.csv".to_string()));
    assert!(csv.contains(&"bucket-10-s-each.client-1.csv".to_string()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_without_a_scenario_tells_the_semaphore_story() {
    let dir = scratch("default");
    let run = ratelab(&dir, &["run", "--quiet"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(table.contains("seed-semaphore"), "{table}");
    assert!(table.contains("bucket-10/s+semaphore-5"), "{table}");
    assert!(stderr(&run).contains("ratelab-report.html"));
    let html = std::fs::read_to_string(dir.join("ratelab-report.html")).unwrap();
    assert!(html.contains("<h1>seed-semaphore</h1>"));
    assert!(html.contains("<code class=\"cmd\">ratelab run --seed 42</code>"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_malformed_result_is_refused_with_exit_2() {
    let dir = scratch("bad");
    std::fs::write(dir.join("bad.json"), "{\"scenario\": 3}").unwrap();
    let out = ratelab(&dir, &["report", "bad.json", "-o", "x.html"]);
    assert_eq!(out.status.code(), Some(2));
    let msg = stderr(&out);
    assert!(msg.contains("bad.json"), "{msg}");
    assert!(msg.contains("not a ratelab JSON result"), "{msg}");
    assert!(!dir.join("x.html").exists());
    let missing = ratelab(&dir, &["report", "missing.json", "-o", "x.html"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("missing.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_live_run_writes_a_report_that_says_how_to_rerun_it_live() {
    let dir = scratch("live");
    std::fs::write(
        dir.join("scenarios/tiny.toml"),
        r#"name = "tiny"
[workload]
requests = 12
[api]
limits = [{ kind = "token_bucket", rate_per_s = 100, burst = 4 }]
latency = { kind = "fixed", ms = 10 }
[[strategy]]
name = "paced"
admission = [{ kind = "token_bucket", rate_per_s = 100, burst = 4 }]
retry = { kind = "exponential", base_ms = 20, max_attempts = 5 }
"#,
    )
    .unwrap();
    let out = ratelab(
        &dir,
        &["live", "scenarios/tiny.toml", "--report", "live.html", "-q"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(dir.join("live.html")).unwrap();
    assert!(html.contains("ratelab live scenarios/tiny.toml --seed 1"));
    // The outcome of the real run reached the report (12 requests, five attempts each at most
    // against an API as fast as the client's pace: all succeed).
    assert!(html.contains("All 12 requests succeeded"), "{html}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outputs_go_into_new_folders_and_an_impossible_one_fails_before_the_run() {
    let dir = scratch("folders");
    let run = ratelab(
        &dir,
        &[
            "run",
            "scenarios/seed-semaphore.toml",
            "--quiet",
            "--json",
            "out/json/r.json",
            "--report",
            "out/html/r.html",
            "--csv",
            "out/csv",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    for f in [
        "out/json/r.json",
        "out/html/r.html",
        "out/csv/semaphore-5.csv",
    ] {
        assert!(dir.join(f).is_file(), "{f} written");
    }
    // A report path that is a folder, one under a file, a CSV folder that is a file: refused
    // with exit 1, naming the path, before anything is simulated (no table is printed) and
    // before any folder is created for the other outputs.
    std::fs::write(dir.join("plain-file"), "x").unwrap();
    for (flag, bad) in [
        ("--report", "out/html"),
        ("--report", "new-folder/"),
        ("--report", "plain-file/r.html"),
        ("--csv", "plain-file"),
    ] {
        let out = ratelab(
            &dir,
            &[
                "run",
                "scenarios/seed-semaphore.toml",
                "--quiet",
                "--json",
                "fresh/r.json",
                flag,
                bad,
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(bad), "{bad}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{bad}: ran anyway");
        assert!(
            !dir.join("fresh").exists(),
            "{bad}: a folder was made anyway"
        );
    }
}

#[test]
fn an_output_that_would_clobber_another_is_refused_before_the_run() {
    let dir = scratch("clobber");
    let sc = "scenarios/seed-semaphore.toml";
    // `-` means standard output for the JSON only.
    let dash = ratelab(&dir, &["run", sc, "-q", "--report", "-"]);
    assert_eq!(dash.status.code(), Some(1));
    assert!(
        stderr(&dash).contains("a report is a file"),
        "{}",
        stderr(&dash)
    );
    assert!(!dir.join("-").exists());
    // The JSON and the report in one file: one would overwrite the other.
    let same = ratelab(
        &dir,
        &[
            "run",
            sc,
            "-q",
            "--json",
            "out.json",
            "--report",
            "./out.json",
        ],
    );
    assert_eq!(same.status.code(), Some(1));
    assert!(
        stderr(&same).contains("./out.json: cannot write there: the report goes there too"),
        "{}",
        stderr(&same)
    );
    assert!(!dir.join("out.json").exists());
    // The same file by another way there, and the CSV folder where the JSON goes.
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for args in [
        ["--json", "sub/../b.json", "--report", "b.json"],
        ["--json", "x", "--csv", "x"],
    ] {
        let out = ratelab(&dir, &[&["run", sc, "-q"][..], &args[..]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains("goes there too"), "{}", stderr(&out));
    }
    assert!(!dir.join("b.json").exists() && !dir.join("x").exists());
    // A report drawn over the result it is drawn from.
    let run = ratelab(&dir, &["run", sc, "-q", "--json", "r.json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let before = std::fs::read(dir.join("r.json")).unwrap();
    let over = ratelab(&dir, &["report", "r.json", "-o", "sub/../r.json"]);
    assert_eq!(over.status.code(), Some(1));
    assert!(
        stderr(&over).contains("it is the JSON result being read"),
        "{}",
        stderr(&over)
    );
    assert_eq!(std::fs::read(dir.join("r.json")).unwrap(), before);
    let _ = std::fs::remove_dir_all(&dir);
}
