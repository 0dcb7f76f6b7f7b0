//! `ratelab live` says when the endpoint went away: a storm of transport errors (connection
//! refused) after some time gets one line under the table with about when it began.

use std::path::PathBuf;

fn write(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn live_notes_when_the_endpoint_stopped_answering() {
    // The in-process mock refuses every connection from t = 1 s on: requests arriving at 20/s
    // succeed for a second, then every attempt is refused until the 3 s horizon.
    let path = write(
        "gone.toml",
        "name = \"gone\"\nhorizon_s = 3\n[workload]\nrequests = 80\n\
         arrival = { kind = \"poisson\", rate_per_s = 20 }\n[api]\n\
         latency = { kind = \"fixed\", ms = 5 }\n\
         outages = [{ at_s = 1, for_s = 2, mode = \"refuse\" }]\n\
         [[strategy]]\nname = \"retrying\"\n\
         retry = { kind = \"exponential\", base_ms = 100, cap_ms = 100, jitter = \"none\", max_attempts = 3 }\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ratelab"))
        .args(["live", path.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("note: retrying: the endpoint stopped answering at about t = 1 s"),
        "{table}"
    );
}
