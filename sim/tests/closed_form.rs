//! The simulator against answers that can be worked out by hand.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use ratelab_sim::ratelab_strategies::spec::StrategySpec;
use ratelab_sim::ratelab_strategies::{
    Admit, Draws, Nanos, RequestInfo, Response, Strategy, time::SECOND,
};
use ratelab_sim::result::StopReason;
use ratelab_sim::{ClientSetup, Scenario, StrategyResult, run_scenario, simulate};

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// What a strategy saw: every send and every reply, with their times.
#[derive(Default)]
struct Log {
    sends: Vec<(Nanos, RequestInfo)>,
    replies: Vec<(Nanos, Response)>,
}

/// Wraps a strategy and records what the engine tells it, without changing its answers.
struct Recording<S> {
    inner: S,
    log: Rc<RefCell<Log>>,
}

impl<S: Strategy> Strategy for Recording<S> {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        self.inner.poll_admit(now, req)
    }
    fn poll_admit_queued(&mut self, now: Nanos, queued_at: Nanos, req: &RequestInfo) -> Admit {
        self.inner.poll_admit_queued(now, queued_at, req)
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.log.borrow_mut().sends.push((now, *req));
        self.inner.on_send(now, req)
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        self.log.borrow_mut().replies.push((now, *resp));
        self.inner.on_response(now, resp)
    }
}

/// Runs the first strategy of `sc` with every client's sends and replies recorded.
fn recorded(sc: &Scenario) -> (StrategyResult, Vec<Rc<RefCell<Log>>>) {
    let spec: &StrategySpec = &sc.strategies[0];
    let logs: Vec<_> = (0..sc.workload.clients)
        .map(|_| Rc::new(RefCell::new(Log::default())))
        .collect();
    let draws = Draws::new(sc.seed);
    let mut shared = ratelab_strategies::shared::SharedBuckets::in_process();
    let result = simulate(
        sc,
        sc.seed,
        &spec.name,
        |client| {
            let built = spec.build_for(draws, &mut shared);
            ClientSetup {
                strategy: Recording {
                    inner: built.stack,
                    log: logs[client as usize].clone(),
                },
                retry: built.retry,
                timeout: built.timeout,
            }
        },
        None,
    );
    (result, logs)
}

#[test]
fn semaphore_with_fixed_latency_gives_permits_over_latency() {
    let sc = scenario(
        r#"
        name = "sem"
        [workload]
        requests = 100
        [api]
        latency = { kind = "fixed", ms = 200 }
        [[strategy]]
        name = "semaphore-5"
        admission = [{ kind = "semaphore", permits = 5 }]
        "#,
    );
    let r = &run_scenario(&sc, sc.seed, None).results[0];
    // 20 waves of 5, 200 ms each: 4 s, goodput C / L = 25/s.
    assert_eq!(r.succeeded, 100);
    assert_eq!(r.makespan_s, 4.0);
    assert_eq!(r.goodput_rps, 25.0);
    assert_eq!(r.latency_s.max, 4.0);
}

#[test]
fn fixed_delay_gives_one_over_delay_plus_latency() {
    let sc = scenario(
        r#"
        name = "fd"
        [workload]
        requests = 50
        [api]
        latency = { kind = "fixed", ms = 200 }
        [[strategy]]
        name = "fixed-delay-100ms"
        admission = [{ kind = "fixed_delay", delay_ms = 100 }]
        "#,
    );
    let (r, logs) = recorded(&sc);
    // 50 calls of 200 ms with 49 pauses of 100 ms between them.
    assert_eq!(r.makespan_s, 50.0 * 0.2 + 49.0 * 0.1);
    assert!(
        (r.goodput_rps - 1.0 / 0.3).abs() < 0.05,
        "{}",
        r.goodput_rps
    );
    let log = logs[0].borrow();
    for pair in log.sends.windows(2) {
        assert_eq!(pair[1].0 - pair[0].0, 300_000_000, "send every L + d");
    }
}

#[test]
fn client_token_bucket_never_exceeds_burst_plus_rate_times_window() {
    let sc = scenario(
        r#"
        name = "tb"
        [workload]
        requests = 400
        [api]
        latency = { kind = "uniform", min_ms = 10, max_ms = 900 }
        [[strategy]]
        name = "bucket"
        admission = [{ kind = "token_bucket", rate_per_s = 7, burst = 5 }]
        "#,
    );
    let (r, logs) = recorded(&sc);
    assert_eq!(r.succeeded, 400);
    let sends: Vec<Nanos> = logs[0].borrow().sends.iter().map(|s| s.0).collect();
    for window in [1, 100_000_000, SECOND, 3 * SECOND, 10 * SECOND] {
        let allowed = 5 + (7 * window) / SECOND;
        let mut j = 0;
        for i in 0..sends.len() {
            while sends[i] - sends[j] >= window {
                j += 1;
            }
            assert!(
                (i - j + 1) as u64 <= allowed,
                "{} sends in a window of {window} ns from {}",
                i - j + 1,
                sends[j]
            );
        }
    }
    // With demand always waiting, the long-run rate is the bucket's: (400 - 5) / 7 s after t = 0.
    let last = *sends.last().unwrap();
    assert_eq!(last, (395 * SECOND).div_ceil(7));
}

#[test]
fn api_concurrency_never_has_more_than_its_max_in_flight() {
    let sc = scenario(
        r#"
        name = "conc"
        [workload]
        requests = 300
        [api]
        limits = [{ kind = "concurrency", max_in_flight = 3 }]
        latency = { kind = "exponential", mean_ms = 100, offset_ms = 5 }
        rejected_latency_ms = 1
        [[strategy]]
        name = "semaphore-8"
        admission = [{ kind = "semaphore", permits = 8 }]
        retry = { kind = "fixed", delay_ms = 20, max_attempts = 1000 }
        "#,
    );
    let (r, logs) = recorded(&sc);
    assert_eq!(r.succeeded, 300);
    assert!(r.http_429 > 0, "the client offers more than the API takes");
    // Admitted requests occupy the API from send until reply; replies free slots first.
    let mut edges: Vec<(Nanos, i32)> = Vec::new();
    for (at, resp) in &logs[0].borrow().replies {
        if resp.status == 200 {
            edges.push((resp.sent_at, 1));
            edges.push((*at, -1));
        }
    }
    edges.sort();
    let mut busy = 0;
    for (_, d) in edges {
        busy += d;
        assert!(busy <= 3, "{busy} requests served at once");
    }
}

#[test]
fn counts_add_up_and_the_horizon_stops_a_run_that_cannot_finish() {
    let sc = scenario(
        r#"
        name = "ban"
        horizon_s = 60
        [workload]
        requests = 100
        clients = 3
        [api]
        limits = [{ kind = "fixed_window", limit = 5, window_s = 1 }]
        latency = { kind = "fixed", ms = 50 }
        ban = { after_429 = 3, within_s = 1, duration_s = 3600 }
        [[strategy]]
        name = "hammer"
        retry = { kind = "fixed", delay_ms = 100, max_attempts = 1000 }
        "#,
    );
    let r = &run_scenario(&sc, 7, None).results[0];
    assert!(!r.finished);
    assert_eq!(r.makespan_s, 60.0);
    assert!(r.in_flight_at_horizon > 0);
    // `in_flight_at_horizon` is requests − finals by definition; what can go wrong is the
    // accounting of the clients against the whole run, which are recorded separately.
    assert_eq!(r.clients.len(), 3);
    let sum =
        |f: fn(&ratelab_sim::result::ClientResult) -> u64| r.clients.iter().map(f).sum::<u64>();
    assert_eq!(sum(|c| c.requests), r.requests);
    assert_eq!(sum(|c| c.succeeded), r.succeeded);
    assert_eq!(sum(|c| c.dead_lettered), r.dead_lettered);
    assert_eq!(sum(|c| c.in_flight_at_horizon), r.in_flight_at_horizon);
    assert_eq!(sum(|c| c.attempts), r.attempts);
    assert_eq!(sum(|c| c.http_429), r.http_429);
    assert!(r.http_429 > 0, "the hammer is banned: {r:?}");
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let sc = scenario(
        r#"
        name = "det"
        [workload]
        requests = 300
        clients = 2
        arrival = { kind = "poisson", rate_per_s = 20 }
        tokens = { kind = "uniform", min = 1, max = 9 }
        [api]
        limits = [{ kind = "sliding_window", limit = 40, window_s = 2, unit = "tokens" }]
        latency = { kind = "lognormal", median_ms = 100, p99_ms = 900 }
        errors = { probability = 0.05 }
        [[strategy]]
        name = "aimd"
        admission = [{ kind = "aimd" }]
        retry = { kind = "exponential", base_ms = 100, jitter = "decorrelated", max_attempts = 4 }
        timeout_ms = 500
        "#,
    );
    let json = |seed| serde_json::to_string(&run_scenario(&sc, seed, None)).unwrap();
    assert_eq!(json(5), json(5));
    assert_ne!(json(5), json(6));
}

#[test]
fn every_strategy_sees_the_same_latency_for_the_same_attempt() {
    let sc = scenario(
        r#"
        name = "crn"
        [workload]
        requests = 200
        [api]
        latency = { kind = "lognormal", median_ms = 300, p99_ms = 2000 }
        [[strategy]]
        name = "all-at-once"
        [[strategy]]
        name = "one-by-one"
        admission = [{ kind = "fixed_delay", delay_ms = 0 }]
        "#,
    );
    let latencies = |spec: usize| {
        let mut one = sc.clone();
        one.strategies = vec![sc.strategies[spec].clone()];
        let (_, logs) = recorded(&one);
        let mut v: Vec<(u64, Nanos)> = logs[0]
            .borrow()
            .replies
            .iter()
            .map(|(_, r)| (r.request.id, r.latency))
            .collect();
        v.sort();
        v
    };
    assert_eq!(latencies(0), latencies(1));
}

#[test]
fn a_client_timeout_fails_the_attempt_while_the_api_keeps_working() {
    let sc = scenario(
        r#"
        name = "timeout"
        [workload]
        requests = 3
        [api]
        limits = [{ kind = "concurrency", max_in_flight = 1 }]
        latency = { kind = "fixed", ms = 300 }
        rejected_latency_ms = 5
        [[strategy]]
        name = "one-at-a-time"
        admission = [{ kind = "semaphore", permits = 1 }]
        timeout_ms = 100
        "#,
    );
    let r = &run_scenario(&sc, 1, None).results[0];
    // r0 times out at 100 ms but holds the API's only slot until 300 ms, so r1 (sent at 100 ms)
    // and r2 (at 105 ms) are refused in 5 ms each.
    assert_eq!(r.timeouts, 1);
    assert_eq!(r.http_429, 2);
    assert_eq!(r.dead_lettered, 3);
    assert_eq!(r.dead_letter.by_last_status["timeout"], 1);
    assert_eq!(r.dead_letter.by_last_status["429"], 2);
    assert_eq!(r.makespan_s, 0.110);
}

#[test]
fn rate_limit_headers_reach_a_strategy_that_reads_them_and_change_nothing_else() {
    let sc = scenario(
        r#"
        name = "headers"
        [workload]
        requests = 30
        tokens = { kind = "uniform", min = 1, max = 9 }
        [api]
        limits = [{ kind = "token_bucket", rate_per_s = 10, burst = 5 },
                  { kind = "token_bucket", rate_per_s = 40, burst = 60, unit = "tokens" }]
        latency = { kind = "fixed", ms = 50 }
        [[strategy]]
        name = "semaphore-3"
        admission = [{ kind = "semaphore", permits = 3 }]
        retry = { kind = "exponential", base_ms = 100, cap_ms = 1000, max_attempts = 20 }
        "#,
    );
    // `Recording` keeps the default hints (it reads the headers): it gets them, for requests
    // and for tokens, with each limit's capacity.
    let (with, logs) = recorded(&sc);
    let log = logs[0].borrow();
    assert!(!log.replies.is_empty());
    for (_, r) in &log.replies {
        assert!(
            r.remaining_requests.is_some() && r.reset_requests.is_some(),
            "{r:?}"
        );
        assert!(
            r.remaining_tokens.is_some() && r.reset_tokens.is_some(),
            "{r:?}"
        );
        assert_eq!(
            (r.limit_requests, r.limit_tokens),
            (Some(5), Some(60)),
            "{r:?}"
        );
    }
    // The built-in stack reads none, so the engine leaves them out: the result is the same.
    let mut without = run_scenario(&sc, sc.seed, None).results.remove(0);
    without.ideal_makespan_s = None; // `recorded` runs the strategy alone, without the oracle
    assert_eq!(
        serde_json::to_string(&with).unwrap(),
        serde_json::to_string(&without).unwrap()
    );
}

/// Everything due at an instant is applied before the client is asked at that instant, also
/// when the client's wake-up and a reply fall on the same nanosecond. Here the 429 arriving at
/// 200 ms opens the breaker just as the token bucket allows the third send: the third request
/// must meet the open breaker, not reach the API.
#[test]
fn a_reply_due_with_a_wake_up_is_applied_before_the_admission() {
    let sc = scenario(
        r#"
        name = "same-instant"
        [workload]
        requests = 3
        [api]
        limits = [{ kind = "token_bucket", rate_per_s = 1, burst = 1 }]
        latency = { kind = "fixed", ms = 100 }
        rejected_latency_ms = 100
        [[strategy]]
        name = "bucket+breaker"
        admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 1 }]
        retry = { kind = "none" }
        breaker = { consecutive_failures = 1, open_ms = 60000, half_open_probes = 1, on_open = "fail" }
        "#,
    );
    let (r, logs) = recorded(&sc);
    let log = logs[0].borrow();
    let sends: Vec<Nanos> = log.sends.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        sends,
        vec![0, 100_000_000],
        "the third request never reaches the API"
    );
    assert_eq!(
        (r.succeeded, r.dead_lettered, r.rejected_by_breaker),
        (1, 1, 1)
    );
}

#[test]
fn a_run_that_would_hold_too_many_requests_stops_at_the_memory_limit() {
    // Everything at once: 100 slots in flight at t = 0, then the 101st send is refused.
    let sc = scenario(
        r#"
        name = "all-at-once"
        max_requests_held = 100
        [workload]
        requests = 1000
        [api]
        latency = { kind = "fixed", ms = 200 }
        [[strategy]]
        name = "unlimited"
        "#,
    );
    let r = &run_scenario(&sc, sc.seed, None).results[0];
    assert_eq!(r.stop, StopReason::MemoryLimit);
    assert!(!r.finished);
    assert_eq!(r.attempts, 100);
    assert_eq!(r.succeeded, 0);
    assert_eq!(r.in_flight_at_horizon, 1000);
    assert_eq!(r.makespan_s, 0.0);
}

#[test]
fn retries_waiting_count_towards_the_memory_limit() {
    // Two permits, and every attempt after the first is a 429 retried an hour later: each 10 ms
    // round turns the two replies into retries waiting (the requests held do not change) and
    // sends two fresh requests (two more held). After the round at 10·k ms, 2k + 1 requests are
    // held (request 0 succeeded at 10 ms): at 250 ms the first fresh send makes 50, the second
    // would make 51 > 50, and the run stops there: nothing more is sent.
    let sc = scenario(
        r#"
        name = "retries-pile-up"
        max_requests_held = 50
        [workload]
        requests = 1000
        [api]
        limits = [{ kind = "token_bucket", rate_per_min = 0.001, burst = 1 }]
        latency = { kind = "fixed", ms = 10 }
        rejected_latency_ms = 10
        [[strategy]]
        name = "semaphore-2"
        admission = [{ kind = "semaphore", permits = 2 }]
        retry = { kind = "fixed", delay_ms = 3600000, max_attempts = 2 }
        "#,
    );
    let r = &run_scenario(&sc, sc.seed, None).results[0];
    assert_eq!(r.stop, StopReason::MemoryLimit);
    assert_eq!(r.makespan_s, 0.25);
    assert_eq!(r.attempts, 51);
    assert_eq!(r.succeeded, 1);
    assert_eq!(r.in_flight_at_horizon, 999);
}

#[test]
fn the_memory_limit_counts_requests_not_the_slots_they_once_used() {
    // 1000 requests sent at once against 10/s, each retried twice a second apart: at most the
    // 1000 requests themselves are ever held (in flight, then waiting to retry), so a limit of
    // 1000 lets the run finish, and 999 stops it at the 1000th send.
    let text = |max_held: u64| {
        format!(
            r#"
            name = "retries-after-a-burst"
            max_requests_held = {max_held}
            [workload]
            requests = 1000
            [api]
            limits = [{{ kind = "token_bucket", rate_per_s = 10, burst = 10 }}]
            latency = {{ kind = "fixed", ms = 100 }}
            [[strategy]]
            name = "unlimited+fixed-retry"
            retry = {{ kind = "fixed", delay_ms = 1000, max_attempts = 3 }}
            "#
        )
    };
    let r = &run_scenario(&scenario(&text(1000)), 1, None).results[0];
    assert_eq!(r.stop, StopReason::AllFinal);
    assert!(r.finished);
    assert_eq!(r.succeeded + r.dead_lettered, 1000);
    assert_eq!(r.succeeded, 30, "10 per round of three");
    let r = &run_scenario(&scenario(&text(999)), 1, None).results[0];
    assert_eq!(r.stop, StopReason::MemoryLimit);
    assert_eq!((r.attempts, r.makespan_s), (999, 0.0));
}

/// The retry guards end requests exactly when their arithmetic says: five requests at once
/// against an API that always fails. A quota of 10 at 5 a retry pays for two retries, then
/// every request ends for `quota`; a budget of 20 % with no reserve earns one retry from five
/// first sends, then every request ends for `budget`.
#[test]
fn a_retry_quota_and_a_retry_budget_end_requests_when_they_run_out() {
    let run = |guard: &str| {
        let sc = scenario(&format!(
            r#"
            name = "guards"
            [workload]
            requests = 5
            [api]
            latency = {{ kind = "fixed", ms = 10 }}
            errors = {{ probability = 1.0 }}
            [[strategy]]
            name = "g"
            retry = {{ kind = "fixed", delay_ms = 0, max_attempts = 10, {guard} }}
            "#
        ));
        let r = run_scenario(&sc, sc.seed, None).results.remove(0);
        (r.attempts, r.dead_lettered, r.dead_letter.by_reason)
    };
    let (attempts, dead, by) = run("quota = { capacity = 10, cost = 5 }");
    assert_eq!((attempts, dead), (7, 5));
    assert_eq!(by.get("quota"), Some(&5));
    let (attempts, dead, by) = run("budget = { ttl_s = 10, min_per_s = 0, percent = 0.2 }");
    assert_eq!((attempts, dead), (6, 5));
    assert_eq!(by.get("budget"), Some(&5));
}

/// The failure classes 408 and 409: counted by status in the result, retried by default, and a
/// retry whose `on` names only one class gives the other up at once (`not_retryable`).
#[test]
fn request_timeouts_and_conflicts_are_their_own_classes() {
    let run = |status: u16, on: &str| {
        let sc = scenario(&format!(
            r#"
            name = "classes"
            [workload]
            requests = 4
            [api]
            latency = {{ kind = "fixed", ms = 10 }}
            errors = {{ probability = 1.0, status = {status} }}
            [[strategy]]
            name = "c"
            retry = {{ kind = "fixed", delay_ms = 0, max_attempts = 3{on} }}
            "#
        ));
        run_scenario(&sc, sc.seed, None).results.remove(0)
    };
    let r = run(408, "");
    assert_eq!(
        (r.attempts, r.http_408, r.http_409, r.http_5xx),
        (12, 12, 0, 0)
    );
    assert_eq!(r.dead_letter.by_reason.get("attempts"), Some(&4));
    let r = run(409, "");
    assert_eq!((r.attempts, r.http_408, r.http_409), (12, 0, 12));
    let r = run(409, r#", on = ["408"]"#);
    assert_eq!((r.attempts, r.http_409), (4, 4));
    assert_eq!(r.dead_letter.by_reason.get("not_retryable"), Some(&4));
    assert_eq!(r.dead_letter.by_last_status.get("409"), Some(&4));
}

/// `[api] retry_after_precision = "ms"`: two requests at once against 3 requests/s, burst 1.
/// The second is refused at 0 with the next token 1/3 s away: `Retry-After` 334 ms (whole
/// seconds: 1 s). The SDK kinds wait exactly what it says (it "replaces" their backoff): the
/// retry goes at 20 ms + 334 ms and is served 100 ms later; at `"s"` it goes at 1.02 s.
#[test]
fn with_ms_precision_the_sdks_retry_after_the_exact_wait() {
    for (precision, retry_after, makespan) in [("s", SECOND, 1.12), ("ms", 334_000_000, 0.454)] {
        for kind in ["openai_python", "anthropic_python"] {
            let sc = scenario(&format!(
                r#"
                name = "precision"
                [workload]
                requests = 2
                [api]
                limits = [{{ kind = "token_bucket", rate_per_s = 3, burst = 1 }}]
                latency = {{ kind = "fixed", ms = 100 }}
                rejected_latency_ms = 20
                retry_after_precision = "{precision}"
                [[strategy]]
                name = "sdk"
                retry = {{ kind = "{kind}" }}
                "#
            ));
            let (r, logs) = recorded(&sc);
            let log = logs[0].borrow();
            let limited: Vec<_> = log
                .replies
                .iter()
                .filter(|(_, r)| r.status == 429)
                .collect();
            assert_eq!(limited.len(), 1, "{kind} at \"{precision}\"");
            assert_eq!(limited[0].1.retry_after, Some(retry_after), "{kind}");
            let retry = log.sends.iter().find(|(_, q)| q.attempt == 2).unwrap();
            assert_eq!(
                retry.0,
                20_000_000 + retry_after,
                "{kind} at \"{precision}\""
            );
            assert_eq!((r.succeeded, r.attempts, r.http_429), (2, 3, 1));
            assert!((r.makespan_s - makespan).abs() < 1e-9, "{}", r.makespan_s);
        }
    }
}
