//! `ratelab sweep … --report FILE.html` and `tune --report`: the landscape is written after the
//! JSON Lines, names the best point `sweep` prints, has a chart per (parameter, metric) and heat
//! maps with two parameters, and is the same bytes whatever `--jobs`; an output that cannot be
//! placed is refused before the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ratelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("ratelab runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sweep-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

const SCENARIO: &str = "scenarios/seed-token-bucket.toml";
const RATE: &str = r#"strategy."token-bucket-10/s".admission.0.rate_per_s=6..=14:2"#;
const BASE: &str = r#"strategy."token-bucket-10/s".retry.base_ms=250,500,1000,2000"#;

fn sweep(params: &[&str], extra: &[&str], out: &Path, report: &Path) -> Output {
    let mut args = vec!["sweep", SCENARIO, "--seeds", "3", "--quiet"];
    for p in params {
        args.extend(["--param", p]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(["--report", report.to_str().unwrap()]);
    args.extend(extra);
    ratelab(&args)
}

fn count(html: &str, class: &str) -> usize {
    html.matches(&format!("class=\"{class}\"")).count()
}

#[test]
fn the_report_names_the_best_point_and_does_not_depend_on_jobs() {
    let (out1, rep1) = (tmp("j1.jsonl"), tmp("j1.html"));
    let (out2, rep2) = (tmp("j2.jsonl"), tmp("j2.html"));
    let run = sweep(&[RATE, BASE], &["--jobs", "1"], &out1, &rep1);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("Report written to"));
    let run2 = sweep(&[RATE, BASE], &["--jobs", "2"], &out2, &rep2);
    assert!(run2.status.success());
    let html = std::fs::read_to_string(&rep1).unwrap();
    assert_eq!(
        html,
        std::fs::read_to_string(&rep2).unwrap(),
        "--jobs 1 and 2"
    );
    // The best point, as `sweep` printed it.
    let stdout = String::from_utf8_lossy(&run.stdout);
    let best = stdout
        .lines()
        .find(|l| l.starts_with("best: "))
        .expect("sweep prints its best point");
    let escaped = ratelab_reports::escape(best);
    assert!(html.contains(&escaped), "{best} not in the report");
    // Two parameters × four metrics (the default order ranks successes, one of them).
    assert_eq!(count(&html, "sweep-line"), 8);
    // Four strategies: a heat map each.
    assert_eq!(count(&html, "sweep-heat"), 4);
    assert!(html.contains("20 points × 3 seeds = 60 runs of 4 strategies"));
    assert!(html.contains("mean ± its 95 % confidence interval over the 3 seeds"));
    assert!(!html.contains("<script"));
    // The README's example is this sweep.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme
        .find("### The landscape report")
        .expect("README section")..];
    for part in [RATE, BASE, "--seeds 3", "--report s.html", SCENARIO] {
        assert!(section.contains(part), "the README's example lacks {part}");
    }
}

#[test]
fn an_objective_and_a_word_valued_parameter() {
    let (out, rep) = (tmp("obj.jsonl"), tmp("obj.html"));
    let run = sweep(
        &[RATE, "strategy.*.retry.jitter=full,none,equal"],
        &[
            "--objective",
            "minimize makespan_s where http_429_rate <= 0.01",
            "--jobs",
            "2",
        ],
        &out,
        &rep,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let html = std::fs::read_to_string(&rep).unwrap();
    assert_eq!(count(&html, "sweep-line"), 8);
    assert_eq!(count(&html, "sweep-heat"), 4);
    assert!(html.contains("a categorical axis"));
    // The word values are the heat maps' column labels and the jitter charts' ticks.
    assert!(html.contains(">\nequal\n</text>") || html.contains(">equal</text>"));
    assert!(html.contains("minimize makespan_s where http_429_rate &lt;= 0.01"));
    // Strategies over 1 % of 429s miss the constraint: grey cells, said in the legend.
    assert!(html.contains("misses the objective&#39;s constraints"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let best = stdout.lines().find(|l| l.starts_with("best: ")).unwrap();
    assert!(html.contains(&ratelab_reports::escape(best)));
}

#[test]
fn one_parameter_has_no_heat_map_and_tune_reports_the_points_it_ran() {
    let (out, rep) = (tmp("one.jsonl"), tmp("one.html"));
    let run = sweep(&[RATE], &[], &out, &rep);
    assert!(run.status.success());
    let html = std::fs::read_to_string(&rep).unwrap();
    assert_eq!(count(&html, "sweep-line"), 4);
    assert_eq!(count(&html, "sweep-heat"), 0);
    let rep = tmp("tune.html");
    let run = ratelab(&[
        "tune",
        SCENARIO,
        "--param",
        RATE,
        "--param",
        BASE,
        "--objective",
        "minimize makespan_s",
        "--report",
        rep.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let html = std::fs::read_to_string(&rep).unwrap();
    assert!(
        html.contains("coordinate descent: "),
        "tune says how it chose"
    );
    assert!(html.contains("ratelab tune scenarios/seed-token-bucket.toml"));
    assert_eq!(count(&html, "sweep-heat"), 4);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let best = stdout.lines().find(|l| l.starts_with("best: ")).unwrap();
    assert!(html.contains(&ratelab_reports::escape(best)));
}

#[test]
fn a_report_that_cannot_be_placed_is_refused_before_the_run() {
    let out = tmp("refused.jsonl");
    let file = tmp("a-file");
    std::fs::write(&file, "").unwrap();
    for report in [tmp(""), out.clone(), file.join("x.html")] {
        let _ = std::fs::remove_file(&out);
        let run = sweep(&[RATE], &[], &out, &report);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{}: {err}", report.display());
        assert!(err.contains("cannot write there"), "{err}");
        assert!(!out.exists(), "nothing ran: {err}");
    }
}
