//! The scenario library tells the articles' stories: each file runs, its counts add up, and the
//! outcome its header comment promises is what the simulator produces.

use std::path::Path;

use ratelab::sim::{RunOutput, Scenario, StrategyResult, run_scenario, scenario_files};

fn run(file: &str) -> RunOutput {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    run_scenario(&scenario, scenario.seed, None)
}

fn by_name<'a>(out: &'a RunOutput, name: &str) -> &'a StrategyResult {
    out.results
        .iter()
        .find(|r| r.strategy == name)
        .unwrap_or_else(|| panic!("{}: no strategy {name}", out.scenario.name))
}

fn assert_counts_add_up(out: &RunOutput) {
    for r in &out.results {
        let finals = r.succeeded + r.dead_lettered + r.rejected_by_breaker + r.rejected_by_throttle;
        assert_eq!(
            finals + r.in_flight_at_horizon,
            r.requests,
            "{}",
            r.strategy
        );
        assert_eq!(r.finished, r.in_flight_at_horizon == 0, "{}", r.strategy);
        let sends: u64 = r.series.sends.iter().sum();
        assert_eq!(sends, r.attempts, "{}: series sends", r.strategy);
        let ok: u64 = r.series.successes.iter().sum();
        assert_eq!(ok, r.succeeded, "{}: series successes", r.strategy);
        let limited: u64 = r.series.http_429.iter().sum();
        assert_eq!(limited, r.http_429, "{}: series 429s", r.strategy);
        let hist_ok: u64 = r.attempts_histogram.succeeded.iter().sum();
        let hist_dead: u64 = r.attempts_histogram.dead_lettered.iter().sum();
        assert_eq!(
            (hist_ok, hist_dead),
            (r.succeeded, r.dead_lettered),
            "{}",
            r.strategy
        );
        let dead: u64 = r.dead_letter.by_last_status.values().sum();
        assert_eq!(
            dead, r.dead_lettered,
            "{}: dead letters by status",
            r.strategy
        );
        for c in &r.clients {
            let finals =
                c.succeeded + c.dead_lettered + c.rejected_by_breaker + c.rejected_by_throttle;
            assert_eq!(
                finals + c.in_flight_at_horizon,
                c.requests,
                "{}",
                r.strategy
            );
        }
    }
}

#[test]
fn every_scenario_file_is_documented_and_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut count = 0;
    for path in scenario_files(&dir).unwrap() {
        count += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# "),
            "{}: starts with a header comment",
            path.display()
        );
        assert!(
            text.contains("What you should see"),
            "{}: says the outcome",
            path.display()
        );
        let sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !sc.description.is_empty(),
            "{}: has a description",
            path.display()
        );
        assert!(!sc.strategies.is_empty());
        let round_trip = Scenario::parse(&sc.to_toml(), &path).unwrap();
        assert_eq!(
            round_trip,
            sc,
            "{}: survives a TOML round trip",
            path.display()
        );
    }
    assert!(count >= 10, "the library has its stories");
}

#[test]
fn sequential_sleep_takes_about_ten_minutes() {
    let out = run("seed-sequential-sleep.toml");
    assert_counts_add_up(&out);
    let slow = by_name(&out, "sleep-1s-loop");
    assert!(
        (540.0..660.0).contains(&slow.makespan_s),
        "{}",
        slow.makespan_s
    );
    assert_eq!(slow.http_429, 0);
    let paced = by_name(&out, "bucket-10/s+semaphore-5");
    assert!(paced.makespan_s < 60.0 && paced.http_429 == 0);
}

#[test]
fn gather_burst_is_a_429_storm() {
    let out = run("seed-gather-burst.toml");
    assert_counts_add_up(&out);
    let gather = by_name(&out, "gather");
    assert!(gather.succeeded <= 20 && gather.dead_lettered >= 480);
    let sleepy = by_name(&out, "gather+sleep-1s-retry");
    assert_eq!(sleepy.succeeded, 500);
    assert!(sleepy.http_429 > 10 * 500, "{}", sleepy.http_429);
    let bucket = by_name(&out, "token-bucket-10/s");
    assert_eq!((bucket.succeeded, bucket.http_429), (500, 0));
}

#[test]
fn fixed_delay_is_safe_but_idle() {
    let out = run("seed-fixed-delay.toml");
    assert_counts_add_up(&out);
    let cap = out.api_capacity_rps.unwrap();
    let fd = by_name(&out, "fixed-delay-100ms");
    assert_eq!(fd.http_429, 0);
    assert!(fd.goodput_rps / cap < 0.25);
    let bucket = by_name(&out, "bucket-10/s+semaphore-10");
    assert!(bucket.goodput_rps / cap > 0.95 && bucket.http_429 == 0);
}

#[test]
fn semaphore_alone_meets_429s() {
    let out = run("seed-semaphore.toml");
    assert_counts_add_up(&out);
    assert!(by_name(&out, "semaphore-5").dead_lettered > 400);
    let retried = by_name(&out, "semaphore-5+backoff");
    assert!(retried.http_429 > retried.succeeded);
    let paced = by_name(&out, "bucket-10/s+semaphore-5");
    assert_eq!((paced.succeeded, paced.http_429), (500, 0));
}

#[test]
fn backoff_without_jitter_retries_in_lockstep() {
    let out = run("seed-backoff-no-jitter.toml");
    assert_counts_add_up(&out);
    let none = by_name(&out, "no-jitter");
    assert!(none.dead_lettered > 100, "{}", none.dead_lettered);
    for jittered in ["full-jitter", "equal-jitter", "decorrelated-jitter"] {
        let j = by_name(&out, jittered);
        assert!(
            j.succeeded >= 180 && j.http_429 < none.http_429,
            "{jittered}"
        );
    }
    // The waves: nearly every retry of the no-jitter client lands in the same few seconds.
    let busiest: u64 = {
        let mut s = none.series.sends.clone();
        s.sort_unstable();
        s.iter().rev().take(6).sum()
    };
    assert!(
        busiest * 10 > none.attempts * 9,
        "{busiest} of {}",
        none.attempts
    );
}

#[test]
fn token_bucket_with_retry_queue_has_no_429() {
    let out = run("seed-token-bucket.toml");
    assert_counts_add_up(&out);
    let bucket = by_name(&out, "token-bucket-10/s");
    assert_eq!((bucket.succeeded, bucket.http_429), (500, 0));
    assert!(by_name(&out, "token-bucket-12/s").http_429 > 0);
    assert!(by_name(&out, "unpaced+retry-queue").http_429 > 1000);
}

#[test]
fn tenacity_breaker_fails_fast() {
    let out = run("seed-tenacity-breaker.toml");
    assert_counts_add_up(&out);
    assert!(by_name(&out, "tenacity+breaker-fail").rejected_by_breaker > 400);
    // Checked before the queue: every text is sent once, and the breaker ends the retries.
    let exact = by_name(&out, "article-exactly");
    assert_eq!(exact.attempts, 500);
    assert!(exact.http_429 > 450 && exact.rejected_by_breaker == exact.http_429);
    let wait = by_name(&out, "tenacity+breaker-wait");
    assert_eq!(wait.rejected_by_breaker, 0);
    let paced = by_name(&out, "bucket-5/s+semaphore-5");
    assert_eq!((paced.succeeded, paced.http_429), (500, 0));
    assert!(wait.makespan_s > 10.0 * paced.makespan_s);
}

#[test]
fn two_instances_share_one_quota() {
    let out = run("two-instances.toml");
    assert_counts_add_up(&out);
    let greedy = by_name(&out, "bucket-10/s-each");
    assert!(greedy.http_429 > 100);
    assert_eq!(greedy.clients.len(), 2);
    let split = by_name(&out, "bucket-5/s-each");
    assert_eq!(split.http_429, 0);
    assert!(split.makespan_s < greedy.makespan_s);
}

#[test]
fn a_shared_bucket_takes_the_whole_quota_without_429s() {
    let out = run("shared-quota.toml");
    assert_counts_add_up(&out);
    let shared = by_name(&out, "shared-bucket");
    assert_eq!((shared.succeeded, shared.http_429), (600, 0));
    // As early as the API allows: the oracle's makespan, to the millisecond.
    assert!((shared.makespan_s - shared.ideal_makespan_s.unwrap()).abs() < 1e-3);
    // Four clients really did draw on it (each of them sent).
    assert!(shared.clients.iter().all(|c| c.succeeded > 0));
    let each = by_name(&out, "bucket-each-at-quota");
    assert!(each.http_429 > each.succeeded);
    assert!(each.makespan_s > shared.makespan_s);
}

#[test]
fn ai_token_limit_binds() {
    let out = run("ai-rpm-tpm.toml");
    assert_counts_add_up(&out);
    assert!(by_name(&out, "rpm-bucket").http_429 > 100);
    let both = by_name(&out, "rpm+tpm-buckets");
    assert_eq!((both.succeeded, both.http_429), (1000, 0));
}

#[test]
fn a_ban_longer_than_the_horizon_ends_cleanly_at_the_horizon() {
    let out = run("seed-threadpool-ban.toml");
    assert_counts_add_up(&out);
    let banned = by_name(&out, "threads-10+fixed-retry");
    assert!(!banned.finished);
    assert_eq!(banned.makespan_s, out.scenario.horizon_s);
    assert!(banned.in_flight_at_horizon > 400);
    assert!(by_name(&out, "semaphore-5+backoff").finished);
}

#[test]
fn bulk_runs_scaled_down() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bulk.toml");
    let mut scenario = Scenario::load(&path).unwrap();
    scenario.workload.requests = 20_000;
    let out = run_scenario(&scenario, scenario.seed, None);
    assert_counts_add_up(&out);
    let r = &out.results[0];
    assert_eq!(r.succeeded, 20_000);
    let rate = r.http_429 as f64 / r.attempts as f64;
    assert!((0.03..0.2).contains(&rate), "429 share {rate}");
}

#[test]
fn an_unknown_limit_is_found_by_the_kinds_that_need_no_number() {
    let out = run("unknown-limit.toml");
    assert_counts_add_up(&out);
    let ideal = ratelab::sim::oracle::ideal_makespan_s(&out.scenario, out.seed).unwrap();
    let fast = by_name(&out, "guess-10/s");
    assert!(
        (0.15..0.25).contains(&fast.rate_429()),
        "{}",
        fast.rate_429()
    );
    let slow = by_name(&out, "guess-5/s");
    assert_eq!(slow.http_429, 0);
    assert!(slow.makespan_s > 1.55 * ideal, "60 % longer");
    let hp = by_name(&out, "header_pacing");
    assert_eq!((hp.http_429, hp.succeeded), (0, 2000));
    assert!(
        hp.makespan_s <= 1.01 * ideal,
        "{} vs {ideal}",
        hp.makespan_s
    );
    let ar = by_name(&out, "aimd_rate");
    assert!(ar.makespan_s <= 1.02 * ideal && ar.rate_429() < 0.05);
    let aws = by_name(&out, "aws_adaptive");
    assert!(aws.makespan_s <= 1.02 * ideal && aws.rate_429() > 0.4);
}

#[test]
fn the_sdks_retries_give_up_fast_against_a_busy_api() {
    let out = run("sdk-retries.toml");
    assert_counts_add_up(&out);
    for name in ["openai-sdk", "anthropic-sdk", "tenacity-article"] {
        let r = by_name(&out, name);
        assert!(r.dead_lettered > 900, "{name}: {}", r.dead_lettered);
        assert_eq!(
            r.dead_letter.by_reason.get("attempts"),
            Some(&r.dead_lettered),
            "{name}: out of attempts"
        );
    }
    for (name, within) in [
        ("openai-sdk", 10.0),
        ("anthropic-sdk", 10.0),
        ("tenacity-article", 30.0),
    ] {
        assert!(by_name(&out, name).makespan_s < within, "{name}");
    }
    let b = by_name(&out, "backoff-8");
    assert!((250..400).contains(&b.dead_lettered), "{}", b.dead_lettered);
    assert!(b.makespan_s > 60.0);
}

#[test]
fn gradient2_ignores_429s_where_vegas_and_aimd_back_off() {
    let out = run("concurrency-limiters.toml");
    assert_counts_add_up(&out);
    assert!(by_name(&out, "gradient2").rate_429() > 0.5);
    for name in ["vegas", "aimd"] {
        let r = by_name(&out, name);
        assert!(r.rate_429() < 0.1, "{name}: {}", r.rate_429());
    }
    assert!(out.results.iter().all(|r| r.succeeded == 2000));
}

#[test]
fn sre_throttling_sheds_locally_instead_of_retrying_into_the_overload() {
    let out = run("sre-throttle.toml");
    assert_counts_add_up(&out);
    let plain = by_name(&out, "retries-only");
    let sre = by_name(&out, "sre_throttle");
    assert!(plain.dead_lettered > 800 && plain.rate_429() > 0.7);
    assert_eq!(plain.rejected_by_throttle, 0);
    assert!(
        sre.rejected_by_throttle > 700,
        "{}",
        sre.rejected_by_throttle
    );
    assert!(sre.attempts * 2 < plain.attempts);
    assert!((sre.http_429 as f64) < 0.3 * plain.http_429 as f64);
    assert!(sre.succeeded + 50 > plain.succeeded);
}

/// The first second from `from_s` on at which the 5 s mean of successes per second reaches
/// `rate`.
fn recovered_at(r: &StrategyResult, from_s: usize, rate: f64) -> Option<usize> {
    let ok = &r.series.successes;
    (from_s..ok.len().saturating_sub(5))
        .find(|&t| ok[t..t + 5].iter().sum::<u64>() as f64 / 5.0 >= rate)
}

#[test]
fn a_slowdown_turns_into_a_metastable_failure_that_a_budget_or_throttle_ends() {
    let out = run("metastable-retry-storm.toml");
    assert_counts_add_up(&out);
    let plain = by_name(&out, "plain-retries");
    let budget = by_name(&out, "retry-budget");
    let sre = by_name(&out, "sre_throttle");
    // The slowdown ends at 40 s; the offered load is 50/s.
    assert_eq!(
        recovered_at(plain, 40, 45.0),
        None,
        "plain retries never recover"
    );
    let after: u64 = plain.series.successes[45..].iter().sum();
    assert!(after < 50, "plain: {after} successes after 45 s");
    assert!(
        plain.series.queue[60..170].iter().all(|&q| q == 2000),
        "the queue stays full"
    );
    assert!(plain.dead_lettered > 6000, "{}", plain.dead_lettered);
    let b = recovered_at(budget, 40, 45.0).expect("the budget recovers");
    let s = recovered_at(sre, 40, 45.0).expect("the throttle recovers");
    assert!((60..=85).contains(&b), "budget back at {b} s");
    assert!((70..=100).contains(&s), "sre_throttle back at {s} s");
    assert_eq!(
        out.verdict.as_ref().unwrap().strategy.as_deref(),
        Some("retry-budget")
    );
}

#[test]
fn an_outage_costs_what_the_retries_cannot_outlast() {
    let out = run("outage.toml");
    assert_counts_add_up(&out);
    let none = by_name(&out, "no-retry");
    let short = by_name(&out, "exp-4-attempts");
    let patient = by_name(&out, "exp-patient");
    let paced = by_name(&out, "paced-breaker");
    assert!((70..=100).contains(&none.http_5xx), "{}", none.http_5xx);
    assert!(short.dead_lettered > 30 && short.dead_lettered < none.dead_lettered);
    assert_eq!(patient.succeeded, 600);
    assert!(
        patient.http_429 > 300,
        "the retries come back together: {}",
        patient.http_429
    );
    assert_eq!(paced.succeeded, 600);
    assert_eq!(paced.http_429, 0);
    assert!(paced.http_5xx < 20 && paced.attempts_per_request < 1.05);
}

#[test]
fn a_tier_downgrade_costs_the_old_tier_429s_and_the_safe_tier_time() {
    let out = run("tier-downgrade.toml");
    assert_counts_add_up(&out);
    let old = by_name(&out, "bucket-20");
    let safe = by_name(&out, "bucket-10");
    let headers = by_name(&out, "header_pacing");
    let aimd = by_name(&out, "aimd_rate");
    let ideal = headers.ideal_makespan_s.unwrap();
    assert!((ideal - 158.0).abs() < 1.0, "{ideal}");
    assert!(old.rate_429() > 0.3 && old.attempts_per_request > 1.5);
    assert_eq!(safe.http_429, 0);
    assert!(safe.makespan_s > 1.2 * ideal);
    assert!(headers.http_429 < 5 && headers.makespan_s < ideal + 2.0);
    assert!(aimd.rate_429() < 0.05);
    assert!(aimd.makespan_s > headers.makespan_s && aimd.makespan_s < safe.makespan_s);
}

#[test]
fn a_client_that_takes_the_whole_quota_starves_its_neighbour() {
    let out = run("noisy-neighbour.toml");
    assert_counts_add_up(&out);
    let refused = |r: &StrategyResult| r.series.background_429.iter().sum::<u64>();
    let sent = |r: &StrategyResult| r.series.background.iter().sum::<u64>();
    let greedy = by_name(&out, "bucket-20");
    assert_eq!(greedy.http_429, 0);
    assert!(
        refused(greedy) * 10 > sent(greedy) * 9,
        "nearly all of theirs refused"
    );
    for name in ["bucket-12", "header_pacing", "aimd_rate"] {
        let r = by_name(&out, name);
        assert!(
            refused(r) * 20 < sent(r),
            "{name}: {} of {}",
            refused(r),
            sent(r)
        );
        assert!(r.rate_429() < 0.02, "{name}");
    }
}

#[test]
fn the_backoff_study_ranks_the_five_strategies_as_published() {
    let out = run("backoff-jitter-study.toml");
    assert_counts_add_up(&out);
    let [none, exp, full, equal, decorr] = [
        "no-backoff",
        "exponential",
        "full-jitter",
        "equal-jitter",
        "decorrelated-jitter",
    ]
    .map(|n| by_name(&out, n));
    assert!(
        out.results
            .iter()
            .all(|r| r.succeeded == 50 && r.http_409 > 0)
    );
    let jittered = [full, equal, decorr];
    assert!(none.attempts > exp.attempts);
    assert!(jittered.iter().all(|r| exp.attempts > r.attempts));
    assert!(jittered.iter().all(|r| exp.makespan_s > 5.0 * r.makespan_s));
    assert!(full.makespan_s < equal.makespan_s && decorr.makespan_s < equal.makespan_s);
}

#[test]
fn a_replayed_trace_overflows_in_its_bursts_unless_the_client_paces_its_tokens() {
    let out = run("trace-replay.toml");
    assert_counts_add_up(&out);
    let gather = by_name(&out, "gather");
    let paced = by_name(&out, "token-bucket");
    assert!(gather.dead_lettered > 10, "{}", gather.dead_lettered);
    assert!(gather.rate_429() > 0.4, "{}", gather.rate_429());
    assert_eq!(
        (paced.succeeded, paced.http_429, paced.attempts),
        (200, 0, 200)
    );
    // Nothing is sent before the trace has it ready: the last row is at 114.717 s.
    for r in [gather, paced] {
        assert!(
            (114.7..125.0).contains(&r.makespan_s),
            "{}: {}",
            r.strategy,
            r.makespan_s
        );
    }
}
