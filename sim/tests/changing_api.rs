//! APIs that change during a run — schedules, outages, other tenants, servers with a queue, a
//! row under optimistic concurrency — against answers worked out by hand.

use std::path::Path;

use ratelab_sim::ratelab_strategies::{Draws, RequestInfo};
use ratelab_sim::{Scenario, StrategyResult, run_scenario};

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(text: &str) -> Vec<StrategyResult> {
    let sc = scenario(text);
    run_scenario(&sc, sc.seed, None).results
}

fn req(client: u32, id: u64) -> RequestInfo {
    RequestInfo {
        client,
        id,
        attempt: 1,
        tokens: 1,
    }
}

fn counts_add_up(r: &StrategyResult) {
    assert_eq!(
        r.succeeded
            + r.dead_lettered
            + r.rejected_by_breaker
            + r.rejected_by_throttle
            + r.in_flight_at_horizon,
        r.requests,
        "{}: final states add up",
        r.strategy
    );
}

/// At 100 % failure, N retries put (1 + N)× the load on the API; a retry budget of 10 % about
/// 1.1×.
#[test]
fn retries_amplify_the_load_and_a_budget_caps_the_amplification() {
    let results = run(r#"
        name = "amplification"
        [workload]
        requests = 20000
        arrival = { kind = "poisson", rate_per_s = 100 }
        [api]
        latency = { kind = "fixed", ms = 10 }
        errors = { probability = 1, status = 503 }
        [[strategy]]
        name = "three-retries"
        retry = { kind = "exponential", base_ms = 10, max_attempts = 4 }
        [[strategy]]
        name = "budget"
        retry = { kind = "exponential", base_ms = 10, max_attempts = 4, budget = { percent = 0.1, min_per_s = 0 } }
    "#);
    let load = |r: &StrategyResult| r.attempts as f64 / r.requests as f64;
    assert_eq!(results[0].attempts, 4 * 20000, "exactly (1 + 3)×");
    assert_eq!(results[0].http_5xx, 4 * 20000);
    let budget = load(&results[1]);
    assert!((1.08..1.12).contains(&budget), "budget: {budget}×");
    for r in &results {
        counts_add_up(r);
        assert_eq!(r.succeeded, 0);
    }
}

/// A schedule entry replaces the limit from its instant on; the bucket keeps its level (clamped
/// to the new burst) and refills at the new rate.
#[test]
fn a_schedule_halves_the_rate_from_its_instant_on() {
    let results = run(r#"
        name = "downgrade"
        [workload]
        requests = 400
        [api]
        limits = [{ kind = "token_bucket", rate_per_s = 10, burst = 1 }]
        latency = { kind = "fixed", ms = 1 }
        [[api.schedule]]
        at_s = 10
        limits = [{ kind = "token_bucket", rate_per_s = 5, burst = 1 }]
        [[strategy]]
        name = "oracle-paced"
        admission = [{ kind = "header_pacing" }]
        retry = { kind = "exponential", retry_after = "at_least", max_attempts = 50 }
    "#);
    let r = &results[0];
    counts_add_up(r);
    // 1 at t = 0 and 10/s until 10 s (101 sends), then 5/s: the 400th at 10 + 299/5 = 69.8 s.
    let ideal = r.ideal_makespan_s.expect("an ideal");
    assert!((ideal - 69.801).abs() < 0.01, "ideal {ideal}");
    let sends = &r.series.successes;
    assert_eq!(sends[5], 10, "10/s before the change");
    assert_eq!(sends[30], 5, "5/s after it");
}

#[test]
fn an_outage_answers_503_refuses_or_hangs_in_its_half_open_interval() {
    for (mode, check) in [
        ("503", "http_5xx"),
        ("refuse", "transport_errors"),
        ("hang", "timeouts"),
    ] {
        let results = run(&format!(
            r#"
            name = "outage"
            horizon_s = 100
            [workload]
            requests = 30
            arrival = {{ kind = "poisson", rate_per_s = 1 }}
            [api]
            latency = {{ kind = "fixed", ms = 10 }}
            outages = [{{ at_s = 5, for_s = 10, mode = "{mode}" }}]
            [[strategy]]
            name = "none"
            timeout_ms = 500
            retry = {{ kind = "none" }}
        "#
        ));
        let r = &results[0];
        counts_add_up(r);
        let failed = match check {
            "http_5xx" => r.http_5xx,
            "transport_errors" => r.transport_errors,
            _ => r.timeouts,
        };
        // The requests sent in [5, 15) s fail; the sends series says how many there were.
        let in_outage: u64 = r.series.sends[5..15].iter().sum();
        assert!(in_outage > 3, "{mode}: {in_outage} sent during the outage");
        assert_eq!(
            failed, in_outage,
            "{mode}: every request in [5, 15) s fails"
        );
        assert_eq!(r.succeeded, r.requests - in_outage, "{mode}");
    }
}

/// Servers serve at most C at once, the rest wait in FIFO order (latency includes the wait), a
/// full queue answers 503, and an abandoned request is still served.
#[test]
fn servers_queue_in_fifo_order_and_a_full_queue_answers_503() {
    let results = run(r#"
        name = "servers"
        [workload]
        requests = 10
        [api]
        latency = { kind = "fixed", ms = 100 }
        servers = 2
        queue_limit = 4
        [[strategy]]
        name = "all-at-once"
        retry = { kind = "none" }
    "#);
    let r = &results[0];
    counts_add_up(r);
    // 2 served at once, 4 wait (100, 100, 200, 200 ms), 4 find the queue full.
    assert_eq!(r.succeeded, 6);
    assert_eq!(r.http_5xx, 4);
    assert!((r.latency_s.max - 0.3).abs() < 1e-9, "{}", r.latency_s.max);
    assert_eq!(r.series.queue[0], 4, "the longest queue");
    // The oracle sends when a server is free: 5 rounds of 2.
    assert!((r.ideal_makespan_s.unwrap() - 0.5).abs() < 1e-9);
}

#[test]
fn other_tenants_draw_on_the_same_limit_and_are_the_same_for_every_strategy() {
    let results = run(r#"
        name = "neighbour"
        [workload]
        requests = 200
        [api]
        limits = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
        latency = { kind = "fixed", ms = 1 }
        background = { rate_per_s = 5 }
        [[strategy]]
        name = "paced-3"
        admission = [{ kind = "token_bucket", rate_per_s = 3, burst = 1 }]
        retry = { kind = "exponential", retry_after = "at_least", max_attempts = 50 }
        [[strategy]]
        name = "greedy"
        retry = { kind = "exponential", retry_after = "at_least", max_attempts = 50 }
    "#);
    for r in &results {
        counts_add_up(r);
        assert_eq!(r.succeeded, 200);
        assert_eq!(r.series.background.len(), r.series.sends.len());
    }
    // Leaving the other tenant its share and more, the paced client rarely collides with it.
    let (paced, greedy) = (&results[0], &results[1]);
    let refused = |r: &StrategyResult| r.series.background_429.iter().sum::<u64>();
    let sent = |r: &StrategyResult| r.series.background.iter().sum::<u64>();
    assert!(sent(paced) > 250, "about 5/s over 67 s: {}", sent(paced));
    assert!(
        refused(greedy) > 5 * refused(paced).max(1),
        "{} vs {}",
        refused(greedy),
        refused(paced)
    );
    // The arrivals are addressed draws: the same for both strategies up to the shorter run.
    let n = greedy
        .series
        .background
        .len()
        .min(paced.series.background.len())
        - 1;
    assert_eq!(greedy.series.background[..n], paced.series.background[..n]);
}

#[test]
fn the_optimistic_concurrency_row_lets_one_of_two_overlapping_writes_win() {
    let sc = scenario(
        r#"
        name = "row"
        [workload]
        requests = 1
        clients = 2
        [api]
        limits = [{ kind = "optimistic_concurrency", hop_sd_ms = 0 }]
        latency = { kind = "fixed", ms = 0 }
        [[strategy]]
        name = "s"
        retry = { kind = "fixed", delay_ms = 0, max_attempts = 10, on = ["409"] }
    "#,
    );
    let mut api = sc.api.build(Draws::new(1), 2);
    let (a, b) = (req(0, 0), req(1, 0));
    // Both read at 10 ms and write at 30 ms: the first write processed wins.
    assert_eq!(api.handle(0, &a).latency, 40_000_000);
    assert!(api.handle(0, &b).settle);
    assert!(api.settle(40_000_000, &a));
    assert!(!api.settle(40_000_000, &b));
    let r = &run_scenario(&sc, 1, None).results[0];
    counts_add_up(r);
    // The loser retries at once and, alone, wins: 3 attempts, one 409.
    assert_eq!((r.succeeded, r.attempts, r.http_409), (2, 3, 1));
    assert!((r.makespan_s - 0.08).abs() < 1e-9, "{}", r.makespan_s);
    assert_eq!(r.ideal_makespan_s, None, "no ideal under contention");
}

#[test]
fn a_changing_api_gives_the_same_bytes_for_the_same_seed() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/metastable-retry-storm.toml"),
    )
    .unwrap();
    let mut sc = scenario(&text);
    sc.workload.requests = 1500;
    let one = serde_json::to_string(&run_scenario(&sc, 4, None)).unwrap();
    let two = serde_json::to_string(&run_scenario(&sc, 4, None)).unwrap();
    assert_eq!(one, two);
    assert_ne!(
        one,
        serde_json::to_string(&run_scenario(&sc, 5, None)).unwrap()
    );
}

/// A schedule entry that shrinks a bucket clamps its level: the new burst, no more.
#[test]
fn a_smaller_burst_clamps_the_bucket_at_the_change() {
    let sc = scenario(
        r#"
        name = "clamp"
        [workload]
        requests = 1
        [api]
        limits = [{ kind = "token_bucket", rate_per_s = 1, burst = 10 }]
        latency = { kind = "fixed", ms = 1 }
        [[api.schedule]]
        at_s = 5
        limits = [{ kind = "token_bucket", rate_per_s = 1, burst = 2 }]
        [[strategy]]
        name = "s"
    "#,
    );
    let mut api = sc.api.build(Draws::new(1), 1);
    let admitted = (0..10)
        .filter(|&i| api.handle(5_000_000_000, &req(0, i)).status == 200)
        .count();
    assert_eq!(admitted, 2, "the full bucket of 10 is clamped to 2");
}
