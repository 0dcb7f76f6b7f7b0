//! The arrival kinds through the simulator: against an API without limits every request is sent
//! the instant it is ready, so the send times are the arrival process itself; and a trace's
//! problems reach `Scenario::parse` naming the file and the line.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use ratelab_sim::ratelab_strategies::{Admit, Draws, Nanos, RequestInfo, Response, Strategy};
use ratelab_sim::result::StopReason;
use ratelab_sim::workload::ArrivalSpec;
use ratelab_sim::{ClientSetup, Scenario, StrategyResult, simulate};
use ratelab_strategies::time::{MS, SECOND};

/// Sends as the engine tells them: (time, request) per client.
type Sends = Rc<RefCell<Vec<(Nanos, RequestInfo)>>>;

/// A strategy's answers, with every send recorded.
struct Recording<S> {
    inner: S,
    sends: Sends,
}

impl<S: Strategy> Strategy for Recording<S> {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        self.inner.poll_admit(now, req)
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.sends.borrow_mut().push((now, *req));
        self.inner.on_send(now, req);
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        self.inner.on_response(now, resp);
    }
}

/// Runs the first strategy of `sc`, recording every client's sends.
fn run(sc: &Scenario) -> (StrategyResult, Vec<Vec<(Nanos, RequestInfo)>>) {
    let spec = &sc.strategies[0];
    let logs: Vec<Sends> = (0..sc.workload.clients).map(|_| Sends::default()).collect();
    let draws = Draws::new(sc.seed);
    let mut shared = ratelab_strategies::shared::SharedBuckets::in_process();
    let result = simulate(
        sc,
        sc.seed,
        &spec.name,
        |c| {
            let built = spec.build_for(draws, &mut shared);
            ClientSetup {
                strategy: Recording {
                    inner: built.stack,
                    sends: logs[c as usize].clone(),
                },
                retry: built.retry,
                timeout: built.timeout,
            }
        },
        None,
    );
    let logs = logs.iter().map(|l| l.borrow().clone()).collect();
    (result, logs)
}

/// A scenario of `workload` lines against an API without limits answering in 10 ms.
fn unlimited(workload: &str, path: &Path) -> Result<Scenario, String> {
    let text = format!(
        "name = \"arrivals\"\nhorizon_s = 1000\n[workload]\n{workload}\n[api]\nlatency = {{ kind = \
         \"fixed\", ms = 10 }}\n[[strategy]]\nname = \"unlimited\"\n"
    );
    Scenario::parse(&text, path).map_err(|e| e.to_string())
}

fn scenario(workload: &str) -> Scenario {
    unlimited(workload, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The send times of one client's requests, by id (each is sent once: nothing is rejected).
fn send_times(sends: &[(Nanos, RequestInfo)]) -> Vec<Nanos> {
    let mut by_id: Vec<(u64, Nanos)> = sends.iter().map(|(t, r)| (r.id, *t)).collect();
    by_id.sort();
    for (i, (id, _)) in by_id.iter().enumerate() {
        assert_eq!(*id, i as u64, "every request sent once");
    }
    by_id.into_iter().map(|(_, t)| t).collect()
}

#[test]
fn bursts_are_sent_together_every_every_s() {
    let sc = scenario(
        "requests = 10\nclients = 2\narrival = { kind = \"bursts\", every_s = 2, size = 4 }",
    );
    let (res, logs) = run(&sc);
    assert_eq!(res.stop, StopReason::AllFinal);
    assert_eq!((res.succeeded, res.attempts), (20, 20));
    let s = 2 * SECOND;
    let want = vec![0, 0, 0, 0, s, s, s, s, 2 * s, 2 * s];
    for log in &logs {
        assert_eq!(send_times(log), want);
    }
    // The last burst is sent at 4 s and answered 10 ms later.
    assert!((res.makespan_s - 4.01).abs() < 1e-9, "{}", res.makespan_s);
    // Every burst shows in the per-second sends: 8 (two clients × 4) at 0 s and 2 s, 4 at 4 s.
    assert_eq!(&res.series.sends[..5], &[8, 0, 8, 0, 4]);
}

#[test]
fn a_ramp_sends_at_its_closed_form_times() {
    // 10 → 30 /s over 10 s: Λ(t) = 10t + t², so request k goes at (−10 + √(100 + 4k)) / 2 up to
    // k = 200 (t = 10 s), and 30 per second after it.
    let sc = scenario(
        "requests = 260\narrival = { kind = \"ramp\", from_per_s = 10, to_per_s = 30, over_s = 10 }",
    );
    let Some(ArrivalSpec::Ramp(ramp)) = &sc.workload.arrival else {
        panic!("a ramp");
    };
    let (res, logs) = run(&sc);
    assert_eq!(res.succeeded, 260);
    let sent = send_times(&logs[0]);
    for k in [0u64, 1, 50, 100, 199, 200, 201, 259] {
        let exact = if k <= 200 {
            (-10.0 + (100.0 + 4.0 * k as f64).sqrt()) / 2.0
        } else {
            10.0 + (k - 200) as f64 / 30.0
        };
        let got = sent[k as usize] as f64 / 1e9;
        assert!(
            (got - exact).abs() < 1e-8,
            "request {k}: {got} s, want {exact} s"
        );
        assert_eq!(sent[k as usize], ramp.ready_at(k));
    }
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "sends never go back");
    assert_eq!(sent[200], 10 * SECOND);
    assert!((res.makespan_s - (12.0 - 1.0 / 30.0 + 0.01)).abs() < 1e-8);
    // Sends per second climb from about 10 to 30 and stay there.
    assert!(
        (10..=12).contains(&res.series.sends[0]),
        "{:?}",
        res.series.sends
    );
    assert!(
        (28..=31).contains(&res.series.sends[9]),
        "{:?}",
        res.series.sends
    );
    assert_eq!(res.series.sends[10], 30);
}

/// A folder of its own under the system's temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ratelab-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_client_replays_the_trace_with_its_tokens() {
    let dir = TempDir::new("trace-replay");
    dir.write(
        "data/t.csv",
        "tokens,ready_s,who\r\n5,0,a\r\n7,0.25,b\r\n1,0.25,c\r\n30,3,d\r\n99,4,unused\r\n",
    );
    // The file is relative to the scenario's folder, not to the current directory.
    let path = dir.0.join("scenario.toml");
    let sc = unlimited(
        "requests = 4\nclients = 2\narrival = { kind = \"trace\", file = \"data/t.csv\" }",
        &path,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        sc.to_toml().contains("file = \"data/t.csv\""),
        "the echo keeps the file as written"
    );
    assert_eq!(
        sc.workload.mean_tokens(),
        43.0 / 4.0,
        "the mean of the rows used"
    );
    let (res, logs) = run(&sc);
    assert_eq!((res.succeeded, res.attempts), (8, 8));
    for log in &logs {
        assert_eq!(send_times(log), vec![0, 250 * MS, 250 * MS, 3 * SECOND]);
        let mut tokens: Vec<(u64, u64)> = log.iter().map(|(_, r)| (r.id, r.tokens)).collect();
        tokens.sort();
        assert_eq!(tokens, vec![(0, 5), (1, 7), (2, 1), (3, 30)]);
    }
    assert!((res.makespan_s - 3.01).abs() < 1e-9);
}

#[test]
fn a_trace_without_tokens_weighs_by_the_tokens_kind() {
    let dir = TempDir::new("trace-kind-tokens");
    let path = dir.write("s.toml", "");
    dir.write("t.csv", "ready_s\n1\n2\n");
    let sc = unlimited(
        "requests = 2\narrival = { kind = \"trace\", file = \"t.csv\" }\ntokens = { kind = \"fixed\", n = 9 }",
        &path,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (_, logs) = run(&sc);
    assert_eq!(send_times(&logs[0]), vec![SECOND, 2 * SECOND]);
    assert!(logs[0].iter().all(|(_, r)| r.tokens == 9));
}

/// The message of the scenario `workload` in `dir` with trace `csv` as `t.csv`.
fn trace_error(dir: &TempDir, csv: &str, workload: &str) -> String {
    let path = dir.write("s.toml", "");
    dir.write("t.csv", csv);
    unlimited(workload, &path).expect_err("an invalid scenario")
}

#[test]
fn a_traces_problems_name_the_file_and_the_line() {
    let dir = TempDir::new("trace-errors");
    let csv = dir.0.join("t.csv").display().to_string();
    let toml = dir.0.join("s.toml").display().to_string();
    let arrival = "arrival = { kind = \"trace\", file = \"t.csv\" }";
    let two = format!("requests = 2\n{arrival}");
    let cases = [
        (
            "ready_s\n0\nabc\n",
            two.clone(),
            format!("{csv} line 3: ready_s \"abc\" is not a number"),
        ),
        (
            "ready_s\n2.0\n1.5\n",
            two.clone(),
            format!("{csv} line 3: ready_s 1.5 is before line 2's 2.0"),
        ),
        (
            "ready,x\n1,2\n",
            two.clone(),
            format!("{csv} line 1: the header has no `ready_s` column"),
        ),
        ("", two.clone(), format!("{csv}: empty")),
        ("ready_s\n", two.clone(), format!("{csv}: no rows")),
        (
            "ready_s\n0\n\n2000\n",
            two.clone(),
            format!("{csv} line 4: ready_s 2000 is after the horizon (horizon_s = 1000)"),
        ),
        (
            "ready_s\n0\n",
            two.clone(),
            format!("workload.requests: 2 requests per client, but {csv} has only 1 rows"),
        ),
        (
            "ready_s,tokens\n0,1\n1,2\n",
            format!("{two}\ntokens = {{ kind = \"fixed\", n = 2 }}"),
            format!("workload.tokens: {csv} has a tokens column"),
        ),
    ];
    for (text, workload, want) in cases {
        let e = trace_error(&dir, text, &workload);
        assert!(e.starts_with(&format!("{toml}: ")), "{e}");
        assert!(e.contains(&want), "{text:?}: {e}\nwant: {want}");
    }
    // Row problems are reported at the `file` field.
    let e = trace_error(&dir, "ready_s\nx\n", &two);
    assert!(
        e.starts_with(&format!("{toml}: workload.arrival.file: {csv} line 2:")),
        "{e}"
    );
    // A missing file.
    let missing = dir.0.join("nope.csv").display().to_string();
    let e = trace_error(
        &dir,
        "",
        "requests = 1\narrival = { kind = \"trace\", file = \"nope.csv\" }",
    );
    assert!(
        e.contains(&format!("workload.arrival.file: {missing}: cannot read")),
        "{e}"
    );
}

#[test]
fn a_trace_in_a_scenario_without_a_folder_is_read_from_the_current_directory() {
    // Tests run in the crate's folder: `tests/data/…` from there.
    let sc = scenario(
        "requests = 120\narrival = { kind = \"trace\", file = \"tests/data/trace-small.csv\" }",
    );
    let (res, _) = run(&sc);
    assert_eq!(res.succeeded, 120);
    let e = unlimited(
        "requests = 1\narrival = { kind = \"trace\", file = \"data/trace-small.csv\" }",
        Path::new("<input>"),
    )
    .unwrap_err();
    assert!(
        e.starts_with("<input>: workload.arrival.file: data/trace-small.csv: cannot read"),
        "{e}"
    );
}

#[test]
fn arrival_ranges_are_checked_in_the_scenario() {
    let e = unlimited(
        "requests = 1\narrival = { kind = \"bursts\", every_s = 0, size = 0 }",
        Path::new("b.toml"),
    )
    .unwrap_err();
    assert!(
        e.contains("b.toml: workload.arrival.every_s: must be greater than 0"),
        "{e}"
    );
    assert!(
        e.contains("b.toml: workload.arrival.size: must be in 1..="),
        "{e}"
    );
    let e = unlimited(
        "requests = 12\narrival = { kind = \"ramp\", from_per_s = 2, to_per_s = 0, over_s = 10 }",
        Path::new("r.toml"),
    )
    .unwrap_err();
    assert!(
        e.contains("r.toml: workload.requests: 12 requests per client, but a ramp down"),
        "{e}"
    );
    assert!(e.contains("only ever sends 11"), "{e}");
    // A ramp down to 0 that sends them all.
    let sc = scenario(
        "requests = 11\narrival = { kind = \"ramp\", from_per_s = 2, to_per_s = 0, over_s = 10 }",
    );
    let (res, logs) = run(&sc);
    assert_eq!(res.succeeded, 11);
    assert_eq!(send_times(&logs[0])[10], 10 * SECOND);
}
