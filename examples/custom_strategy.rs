//! A strategy of your own, run in the simulator next to the built-ins.
//!
//! `PauseOn429` caps concurrency and, when any reply is a 429, pauses the whole client until the
//! API's `Retry-After` has passed (the built-in retry policies only delay the one request that
//! failed). It implements the open `Strategy` trait: a sans-IO state machine that is told the time
//! and what happened, and answers what may be done.
//!
//! Run it with `cargo run --release --example custom_strategy [SCENARIO.toml]`.

use std::path::PathBuf;

use ratelab::sim::{ClientSetup, Scenario, output, run_scenario, simulate};
use ratelab::strategies::{
    Admit, Draws, Hints, Nanos, Outcome, RequestInfo, Response, RetrySpec, Strategy,
};

/// At most `permits` in flight; after a 429, nothing is sent until its `Retry-After` has passed.
struct PauseOn429 {
    permits: u32,
    in_flight: u32,
    paused_until: Nanos,
}

impl Strategy for PauseOn429 {
    fn poll_admit(&mut self, now: Nanos, _req: &RequestInfo) -> Admit {
        if now < self.paused_until {
            Admit::At(self.paused_until)
        } else if self.in_flight >= self.permits {
            Admit::WhenSomethingCompletes
        } else {
            Admit::Now
        }
    }

    fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {
        self.in_flight += 1;
    }

    fn on_response(&mut self, now: Nanos, resp: &Response) {
        self.in_flight -= 1;
        if resp.outcome == Outcome::RateLimited {
            let pause = resp.retry_after.unwrap_or(1_000_000_000);
            self.paused_until = self.paused_until.max(now + pause);
        }
    }

    /// Optional: what the driver may leave out. This one hears replies (they move its pause)
    /// but reads none of the `x-ratelimit-*` headers, so the simulator need not compute them.
    fn hints(&self) -> Hints {
        Hints::HEARS_REPLIES
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("scenarios/seed-semaphore.toml"));
    let scenario = Scenario::load(&path)?;
    let seed = scenario.seed;

    // The built-in strategies of the scenario…
    let mut results = run_scenario(&scenario, seed, None).results;

    // …and ours, with a retry policy from the same configuration types the scenarios use.
    let retry: RetrySpec = toml::from_str(
        r#"kind = "exponential"
           base_ms = 1000
           jitter = "full"
           max_attempts = 10
           honor_retry_after = true"#,
    )?;
    let draws = Draws::new(seed);
    results.push(simulate(
        &scenario,
        seed,
        "custom: pause-on-429 (5)",
        |_client| ClientSetup {
            strategy: PauseOn429 {
                permits: 5,
                in_flight: 0,
                paused_until: 0,
            },
            retry: retry.build(draws),
            timeout: None,
        },
        None,
    ));

    // The CLI's comparison table, with our strategy as one more row.
    print!(
        "{}",
        ratelab::table::render(&output(&scenario, seed, results))
    );
    Ok(())
}
