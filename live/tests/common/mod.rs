//! What the adapter tests share: a `ratelab serve` on loopback (a token bucket of 5/s, burst 2)
//! tracing every request, the strategies, and the Redis of the tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use ratelab_live::server::Trace;
use ratelab_live::{Limiter, MockApi, Server};

/// The retry of every strategy here: exponential, honouring Retry-After, attempts enough.
pub const RETRY: &str = r#"retry = { kind = "exponential", base_ms = 100, cap_ms = 2000, max_attempts = 20, honor_retry_after = true }"#;

/// A token bucket at `rate_per_s` with `burst`, starting `"full"` or `"empty"`, and [`RETRY`].
///
/// At exactly the API's limit the client's bucket starts empty: the API's full bucket is then
/// a burst of slack for arrival jitter. With both full, a request that reaches the server a
/// millisecond sooner after its predecessor than it left the client (the first burst opening
/// connections, a busy scheduler) finds the API's bucket a hair short and gets a 429.
pub fn limiter(rate_per_s: u32, burst: u32, start: &str) -> Limiter {
    let spec: ratelab_strategies::spec::StrategySpec = toml::from_str(&format!(
        "name = \"bucket\"\n\
         admission = [{{ kind = \"token_bucket\", rate_per_s = {rate_per_s}, burst = {burst}, start = \"{start}\" }}]\n\
         {RETRY}"
    ))
    .unwrap();
    Limiter::from_spec(&spec, 7)
}

/// `ratelab serve` of a token bucket at 5/s, burst 2, 5 ms latency, tracing to a file.
pub struct Api {
    server: Server,
    trace: PathBuf,
}

impl Api {
    pub async fn start() -> Api {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let spec = toml::from_str(
            r#"limits = [{ kind = "token_bucket", rate_per_s = 5, burst = 2 }]
               latency = { kind = "fixed", ms = 5 }"#,
        )
        .unwrap();
        let trace = std::env::temp_dir().join(format!(
            "ratelab-adapter-{}-{}.jsonl",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let api = MockApi::new(&spec, 1, 1).with_trace(Trace::create(&trace).unwrap());
        let server = Server::bind(([127, 0, 0, 1], 0).into(), Arc::new(api))
            .await
            .unwrap();
        Api { server, trace }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1/analyze", self.server.addr())
    }

    /// Stops the server; (2xx final statuses, 429s the server sent), and checks that the
    /// server saw one 200 per success and nothing but 200s and 429s.
    pub async fn finish(self, statuses: &[u16]) -> (usize, usize) {
        let api = Arc::clone(self.server.api());
        self.server.shutdown().await;
        api.flush_trace();
        let text = std::fs::read_to_string(&self.trace).unwrap();
        let _ = std::fs::remove_file(&self.trace);
        let sent: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["status"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        let ok = statuses.iter().filter(|s| (200..300).contains(*s)).count();
        let served = sent.iter().filter(|s| **s == 200).count();
        let refused = sent.iter().filter(|s| **s == 429).count();
        assert_eq!(served, ok, "one 200 per success: {sent:?}");
        assert_eq!(served + refused, sent.len(), "only 200s and 429s: {sent:?}");
        eprintln!("{} attempts: {served} × 200, {refused} × 429", sent.len());
        (ok, refused)
    }
}

/// The Redis of the tests, or `None` (with a notice) when none is configured outside CI.
pub fn redis_url() -> Option<String> {
    match std::env::var("RATELAB_REDIS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but RATELAB_REDIS_URL is not set: .ci/run starts a redis-server")
        }
        _ => {
            eprintln!("RATELAB_REDIS_URL is not set: skipping the Redis test");
            None
        }
    }
}
