//! The live driver from your own code: a token bucket + semaphore with retries that honour
//! `Retry-After`, calling an HTTP endpoint on real time.
//!
//! ```sh
//! cargo run -p ratelab-live --example live_driver                 # starts its own mock API
//! cargo run -p ratelab-live --example live_driver -- http://127.0.0.1:8080/v1/analyze
//! ```
//!
//! With no URL it starts a `ratelab serve` of a small API (8 requests/s, burst 4, ~50 ms) on an
//! ephemeral loopback port, so it runs offline. Then it sends 40 requests at once through one
//! `Limiter` shared by 40 tasks.

use std::sync::Arc;
use std::time::Instant;

use ratelab_live::client::Target;
use ratelab_live::{Limiter, MockApi, Server};
use ratelab_sim::api::ApiSpec;
use ratelab_strategies::spec::StrategySpec;

const STRATEGY: &str = r#"
name = "bucket+semaphore"
admission = [{ kind = "token_bucket", rate_per_s = 8, burst = 4 }, { kind = "semaphore", permits = 4 }]
retry = { kind = "exponential", base_ms = 200, cap_ms = 5000, jitter = "full", max_attempts = 5, honor_retry_after = true }
timeout_ms = 2000
"#;

const API: &str = r#"
limits = [{ kind = "token_bucket", rate_per_s = 8, burst = 4 }]
latency = { kind = "lognormal", median_ms = 50, p99_ms = 150 }
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = None;
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            let api: ApiSpec = toml_from(API)?;
            let s = Server::bind(
                ([127, 0, 0, 1], 0).into(),
                Arc::new(MockApi::new(&api, 1, 1)),
            )
            .await?;
            let url = format!("http://{}/v1/analyze", s.addr());
            println!("no URL given: serving a mock API (8 requests/s, burst 4) at {url}");
            server = Some(s);
            url
        }
    };
    let spec: StrategySpec = toml_from(STRATEGY)?;
    let limiter = Limiter::from_spec(&spec, 42);
    let target = Target::new(&url)?;

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (limiter, target) = (limiter.clone(), target.clone());
        tasks.spawn(async move {
            // Each attempt is one HTTP request; the limiter admits it, reads the status and
            // the Retry-After / x-ratelimit-* headers, and retries per the policy.
            limiter
                .call(|attempt| {
                    let target = target.clone();
                    async move { target.send(attempt).await }
                })
                .await
        });
    }
    let (mut ok, mut failed) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok(_reply) => ok += 1,
            Err(e) => {
                failed += 1;
                eprintln!("failed: {e}");
            }
        }
    }
    let took = started.elapsed().as_secs_f64();
    print!("{ok} succeeded, {failed} failed in {took:.2} s");
    if let Some(s) = server {
        // Only the mock's limits are known here; another API's are its own.
        println!(
            " (the mock allows 8/s after a burst of 4: about {:.1} s)",
            (40.0 - 4.0) / 8.0
        );
        s.shutdown().await;
    } else {
        println!();
    }
    Ok(())
}

fn toml_from<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Box<dyn std::error::Error>> {
    Ok(toml::from_str(text)?)
}
