//! `ratelab sweep`, `merge` and `tune`: the same bytes whatever `--jobs` and however sharded,
//! every mistake an exit-2 error before any run, and `tune` against the whole grid on the
//! scenario library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ratelab::sweep::{Param, Plan, best, tune};
use ratelab_sim::Scenario;
use ratelab_sim::objective::Objective;
use serde_json::Value;

fn ratelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ratelab runs")
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

const SCENARIO: &str = "scenarios/seed-token-bucket.toml";
const RATE: &str = r#"strategy."token-bucket-10/s".admission.0.rate_per_s=6..=14:2"#;
const ATTEMPTS: &str = "strategy.*.retry.max_attempts=3,10";

fn sweep(extra: &[&str], out: &Path) -> Output {
    let mut args = vec![
        "sweep", SCENARIO, "--param", RATE, "--param", ATTEMPTS, "--seeds", "3", "--quiet", "--out",
    ];
    let out = out.to_str().unwrap();
    args.push(out);
    args.extend(extra);
    ratelab(&args)
}

#[test]
fn the_bytes_do_not_depend_on_jobs_or_shards() {
    let (one, two) = (tmp("jobs1.jsonl"), tmp("jobs2.jsonl"));
    assert!(sweep(&["--jobs", "1"], &one).status.success());
    let run = sweep(&["--jobs", "2"], &two);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&one).unwrap();
    assert_eq!(bytes, std::fs::read(&two).unwrap(), "--jobs 1 and 2");
    let text = String::from_utf8(bytes.clone()).unwrap();
    // 5 × 2 points × 3 seeds × 4 strategies, in (point, seed, strategy) order.
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 120);
    let keys: Vec<(u64, u64, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["point"].as_u64().unwrap(),
                l["seed"].as_u64().unwrap(),
                l["index"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // The first parameter is the slowest: point 1 is rate 6 with 10 attempts.
    assert_eq!(lines[12]["params"][ATTEMPTS.split('=').next().unwrap()], 10);
    assert_eq!(lines[12]["result"]["strategy"], "token-bucket-10/s");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("10 points × 3 seeds = 30 runs"), "{stdout}");
    assert!(stdout.contains("best: "), "{stdout}");
    // Three shards, merged in any order, are the unsharded bytes.
    let parts: Vec<PathBuf> = (0..3).map(|i| tmp(&format!("shard{i}.jsonl"))).collect();
    for (i, p) in parts.iter().enumerate() {
        let shard = format!("{i}/3");
        assert!(sweep(&["--shard", &shard], p).status.success());
    }
    let merged = tmp("merged.jsonl");
    let m = ratelab(&[
        "merge",
        parts[2].to_str().unwrap(),
        parts[0].to_str().unwrap(),
        parts[1].to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    assert_eq!(std::fs::read(&merged).unwrap(), bytes, "merged shards");
    // A missing shard, a shard twice, and a shard of another sweep are refused.
    let two_of_three = ratelab(&[
        "merge",
        parts[0].to_str().unwrap(),
        parts[1].to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(two_of_three.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&two_of_three.stderr).contains("a shard is missing"));
    let twice = ratelab(&[
        "merge",
        parts[0].to_str().unwrap(),
        parts[0].to_str().unwrap(),
        parts[1].to_str().unwrap(),
        parts[2].to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&twice.stderr).contains("appears twice"));
    let other = tmp("other.jsonl");
    assert!(
        ratelab(&[
            "sweep",
            SCENARIO,
            "--param",
            RATE,
            "--seeds",
            "3",
            "--quiet",
            "--shard",
            "1/3",
            "--out",
            other.to_str().unwrap()
        ])
        .status
        .success()
    );
    let mixed = ratelab(&[
        "merge",
        parts[0].to_str().unwrap(),
        other.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("not shards of one sweep"));
}

#[test]
fn every_mistake_is_an_exit_2_before_any_run() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--param", "strategy.nope.retry.base_ms=1"],
            "no strategy is called `nope` (there are: token-bucket-10/s, leaky-bucket-10/s",
        ),
        (
            &["--param", "api.limitz.0.rate_per_s=1"],
            "`limitz` is not in api (it has:",
        ),
        (
            &["--param", "strategy.*.retry.base_msx=1"],
            "unknown field `base_msx`",
        ),
        (
            &["--param", "strategy.*.retry.max_attempts=two"],
            "strategy.*.retry.max_attempts=\"two\"",
        ),
        (
            &["--param", "api.limits.0.rate_per_s=0,5"],
            "api.limits[0].rate_per_s",
        ),
        (
            &["--param", "workload.requests=5..=1:1"],
            "is empty: END is below START",
        ),
        (&["--param", "workload.requests"], "expected PATH=VALUES"),
        (
            &["--param", "workload.requests=10", "--shard", "3/3"],
            "--shard `3/3`",
        ),
        (
            &["--param", "workload.requests=10", "--seeds", "0"],
            "--seeds must be in 1..=10000",
        ),
        (
            &["--param", "workload.requests=10", "--jobs", "0"],
            "--jobs must be at least 1",
        ),
        (
            &[
                "--param",
                "workload.requests=10",
                "--objective",
                "minimize nonsense",
            ],
            "nonsense",
        ),
    ];
    for (extra, needle) in cases {
        let out_file = tmp("never.jsonl");
        let _ = std::fs::remove_file(&out_file);
        let mut args = vec![
            "sweep",
            SCENARIO,
            "--quiet",
            "--out",
            out_file.to_str().unwrap(),
        ];
        args.extend(extra.iter());
        let out = ratelab(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: `{needle}` not in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            !out_file.exists(),
            "{extra:?}: nothing runs, nothing is written"
        );
    }
}

/// Numeric knobs of a scenario's first strategy that has them: its first admission layer's first
/// number and its retry's base or attempts, each over a few multiples of its value.
fn knobs(sc: &Scenario) -> Vec<Param> {
    let json = serde_json::to_value(sc).unwrap();
    for s in json["strategy"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let mut params = Vec::new();
        let number_of = |table: &Value, skip: &[&str]| -> Option<(String, f64)> {
            table.as_object()?.iter().find_map(|(k, v)| {
                (!skip.contains(&k.as_str()) && v.is_number())
                    .then(|| (k.clone(), v.as_f64().unwrap()))
            })
        };
        if let Some((field, v)) = number_of(&s["admission"][0], &[]) {
            let values: Vec<String> = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0]
                .iter()
                .map(|m| {
                    if v.fract() == 0.0 {
                        format!("{}", (v * m).round().max(1.0))
                    } else {
                        format!("{}", v * m)
                    }
                })
                .collect();
            params.push(format!(
                "strategy.\"{name}\".admission.0.{field}={}",
                values.join(",")
            ));
        }
        if let Some(b) = s["retry"]["base_ms"].as_f64() {
            params.push(format!(
                "strategy.\"{name}\".retry.base_ms={},{},{},{}",
                b / 4.0,
                b / 2.0,
                b,
                b * 2.0
            ));
        } else if s["retry"]["max_attempts"].is_number() {
            params.push(format!("strategy.\"{name}\".retry.max_attempts=1,2,3,5,8"));
        }
        if !params.is_empty() {
            return params.iter().map(|p| Param::parse(p).unwrap()).collect();
        }
    }
    Vec::new()
}

/// `tune` on the library: within 2 % of the whole grid's best, in fewer runs.
#[test]
fn tune_finds_the_grids_best_within_two_percent_on_the_library() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let objective: Objective = "maximize goodput_rps".parse().unwrap();
    let (mut checked, mut grid_runs, mut tune_runs) = (0, 0, 0);
    for path in ratelab_sim::scenario_files(&dir).unwrap() {
        let mut sc = Scenario::load(&path).unwrap();
        if sc.workload.total_requests() > 20_000 {
            continue; // bulk: a million requests
        }
        // Smaller batches keep the test short in a debug build; the landscape keeps its shape.
        sc.workload.requests = sc.workload.requests.min(300);
        if sc
            .workload
            .arrival
            .as_ref()
            .is_some_and(|a| a.kind() == "trace")
        {
            continue; // a trace's rows fix the requests
        }
        let params = knobs(&sc);
        if params.is_empty() {
            continue;
        }
        let plan = Plan::new(&sc, &path, params, vec![sc.seed]).unwrap();
        let jobs = plan.jobs((0, 1));
        let lines = plan
            .run(&jobs, 2, &mut std::io::sink(), &mut |_, _| {})
            .unwrap();
        let grid = best(&lines, Some(&objective)).unwrap();
        let tuned = tune::tune(&plan, Some(&objective), 2).unwrap();
        let found = tuned.best.unwrap();
        assert!(
            found.value >= grid.value * 0.98,
            "{}: tune {} at {:?} against the grid's {} at {:?}",
            path.display(),
            found.value,
            found.params,
            grid.value,
            grid.params
        );
        assert!(tuned.points_run <= plan.points.len());
        checked += 1;
        grid_runs += plan.points.len();
        tune_runs += tuned.points_run;
    }
    assert!(checked >= 15, "only {checked} library scenarios have knobs");
    assert!(
        tune_runs < grid_runs,
        "tune ran {tune_runs} points, the grids {grid_runs}"
    );
    eprintln!("tune: {tune_runs} points against the grids' {grid_runs} over {checked} scenarios");
}
