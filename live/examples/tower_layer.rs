//! A `Limiter` as a tower layer around hyper-util's client: 30 requests at once, paced by a
//! token bucket at the API's limit, retried with backoff that honours Retry-After.
//!
//! ```sh
//! cargo run --release -- serve scenarios/seed-token-bucket.toml --addr 127.0.0.1:8080
//! cargo run -p ratelab-live --example tower_layer --features tower   # in another terminal
//! ```
//! Your own Cargo.toml: `ratelab-live = { features = ["tower"] }` and `tower` (feature `util`).

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ratelab_live::Limiter;
use ratelab_live::tower::LimiterLayer;
use ratelab_strategies::spec::StrategySpec;
use tower::{ServiceBuilder, ServiceExt};

const STRATEGY: &str = r#"
name = "token-bucket-10/s"
admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
retry = { kind = "exponential", base_ms = 200, cap_ms = 5000, max_attempts = 10, honor_retry_after = true }
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1);
    let url = url.as_deref().unwrap_or("http://127.0.0.1:8080/v1/analyze");
    let spec: StrategySpec = toml::from_str(STRATEGY)?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    // One limiter for every request of this client; the body must be cloneable (retries).
    let service = ServiceBuilder::new()
        .layer(LimiterLayer::new(Limiter::from_spec(&spec, 42)))
        .service(client);
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let request =
            http::Request::post(url).body(Full::new(Bytes::from(format!("{{\"n\":{i}}}"))))?;
        tasks.spawn(service.clone().oneshot(request));
    }
    let (mut ok, mut other) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        // Ok holds the final response (a 2xx, or the last reply given up on); Err a transport
        // error or a refusal, as a ratelab_live::CallError.
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
