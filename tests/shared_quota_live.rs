//! One quota across processes, measured: four worker processes (`ratelab live --processes 4`)
//! against the in-process `serve` of the scenario's API, their bucket in a real Redis
//! (`--redis`), next to the simulator's prediction of the same scenario.
//!
//! - Shared (one bucket at the API's limit, in Redis): every request succeeds, the makespan is
//!   within 5 % of the simulator's, and the 429s stay within the bound derived in README ("One
//!   quota across processes"): a bucket that conforms at the client can meet a 429 at the API
//!   only where the delay from the decision to the API's arrival varies; with that variation J,
//!   the API's bucket refuses at most ⌈rate · J⌉ attempts per busy period. J ≤ 50 ms on loopback
//!   gives ⌈40 · 0.05⌉ = 2.
//! - Unshared (four buckets, each at the whole limit): the share of attempts answered 429 is
//!   the simulator's within 10 %.
//!
//! Needs `RATELAB_REDIS_URL` (`.ci/run` starts a redis-server): without it the test says so
//! and passes, unless `CI=true`, where it fails.

use std::process::Command;

use serde_json::Value;

fn redis_url() -> Option<String> {
    match std::env::var("RATELAB_REDIS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but RATELAB_REDIS_URL is not set: .ci/run starts a redis-server")
        }
        _ => {
            eprintln!("RATELAB_REDIS_URL is not set: skipping the four-process live test");
            None
        }
    }
}

fn ratelab(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ratelab {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn by_name<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["strategy"] == name)
        .unwrap()
}

fn num(r: &Value, field: &str) -> f64 {
    r[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} in {r}"))
}

#[test]
fn four_processes_share_one_bucket_in_redis_as_the_simulator_predicts() {
    let Some(url) = redis_url() else { return };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/shared/shared-quota-live.toml"
    );
    let sim = ratelab(&["run", path, "--json", "-", "--quiet"]);
    let live = ratelab(&[
        "live",
        path,
        "--redis",
        &url,
        "--processes",
        "4",
        "--json",
        "-",
        "--quiet",
    ]);
    assert_eq!(live["mode"], "live");

    let (s, l) = (
        by_name(&sim, "shared-bucket"),
        by_name(&live, "shared-bucket"),
    );
    eprintln!(
        "shared: sim {} 429s, {:.3} s; live {} 429s, {:.3} s",
        s["http_429"],
        num(s, "makespan_s"),
        l["http_429"],
        num(l, "makespan_s")
    );
    assert_eq!(num(s, "http_429"), 0.0);
    assert_eq!(num(l, "succeeded"), 400.0, "{l}");
    assert!(
        num(l, "http_429") <= 2.0,
        "the derived bound: {}",
        l["http_429"]
    );
    let gap = num(l, "makespan_s") / num(s, "makespan_s") - 1.0;
    assert!(gap.abs() <= 0.05, "makespan {:+.1} %", gap * 100.0);
    // Every process sent its share: the clients are the four processes.
    for c in l["clients"].as_array().unwrap() {
        assert_eq!(num(c, "succeeded"), 100.0, "{c}");
    }

    let (s, l) = (
        by_name(&sim, "bucket-each-at-quota"),
        by_name(&live, "bucket-each-at-quota"),
    );
    let share = |r: &Value| num(r, "http_429") / num(r, "attempts");
    eprintln!(
        "unshared: sim {:.3} of attempts 429, live {:.3}",
        share(s),
        share(l)
    );
    assert!(
        share(s) > 0.3,
        "the simulator predicts many 429s: {}",
        share(s)
    );
    let off = share(l) / share(s) - 1.0;
    assert!(off.abs() <= 0.10, "429 share {:+.1} % off", off * 100.0);
}
