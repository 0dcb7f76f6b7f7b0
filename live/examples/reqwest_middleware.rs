//! A `Limiter` as reqwest-middleware middleware: 30 requests at once, paced by a token bucket
//! at the API's limit, retried with backoff that honours Retry-After.
//!
//! ```sh
//! cargo run --release -- serve scenarios/seed-token-bucket.toml --addr 127.0.0.1:8080
//! cargo run -p ratelab-live --example reqwest_middleware --features reqwest   # in another terminal
//! ```
//! Your own Cargo.toml: `ratelab-live = { features = ["reqwest"] }`, `reqwest`, `reqwest-middleware`.

use ratelab_live::Limiter;
use ratelab_live::reqwest::LimiterMiddleware;
use ratelab_strategies::spec::StrategySpec;
use reqwest_middleware::ClientBuilder;

const STRATEGY: &str = r#"
name = "token-bucket-10/s"
admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
retry = { kind = "exponential", base_ms = 200, cap_ms = 5000, max_attempts = 10, honor_retry_after = true }
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1);
    let url = url.unwrap_or_else(|| "http://127.0.0.1:8080/v1/analyze".into());
    let spec: StrategySpec = toml::from_str(STRATEGY)?;
    // One limiter for every request of this client; bodies must not be streams (retries).
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(LimiterMiddleware::new(Limiter::from_spec(&spec, 42)))
        .build();
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let request = client.post(&url).body(format!("{{\"n\":{i}}}"));
        tasks.spawn(request.send());
    }
    let (mut ok, mut other) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        // Ok holds the final response (a 2xx, or the last reply given up on); Err the last
        // transport error, or a refusal (a ratelab_live::reqwest::LimiterError inside).
        match joined? {
            Ok(response) if response.status().is_success() => ok += 1,
            Ok(response) => (other += 1, eprintln!("gave up: HTTP {}", response.status())).0,
            Err(e) => (other += 1, eprintln!("failed: {e}")).0,
        }
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "{ok} succeeded, {other} not, in {took:.2} s (10/s after a burst of 10: ~2 s + latency)"
    );
    Ok(())
}
