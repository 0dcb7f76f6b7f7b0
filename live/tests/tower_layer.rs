//! `ratelab_live::tower::LimiterLayer` around hyper-util's client against `ratelab serve` on
//! loopback (real HTTP, real time): paced at the API's limit nothing is refused; paced at 4×
//! the limit the 429s are retried and every request still succeeds; two limiters sharing one
//! bucket in Redis (`store::shared_limiter`, as two processes would) stay under the limit
//! together.
#![cfg(feature = "tower")]

mod common;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use ratelab_live::Limiter;
use ratelab_live::tower::LimiterLayer;
use std::time::Instant;
use tower::{ServiceBuilder, ServiceExt};

/// Sends `n` requests at once through `limiter` as a tower layer; the statuses of the final
/// responses.
async fn drive(limiter: Limiter, api: &common::Api, n: usize) -> Vec<u16> {
    let url = &api.url();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let service = ServiceBuilder::new()
        .layer(LimiterLayer::new(limiter))
        .service(client);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let request = http::Request::post(url)
            .body(Full::new(Bytes::from(format!("{{\"n\":{i}}}"))))
            .unwrap();
        tasks.spawn(service.clone().oneshot(request));
    }
    let mut statuses = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        statuses.push(
            joined
                .unwrap()
                .expect("no transport error")
                .status()
                .as_u16(),
        );
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_layer_at_the_limit_gets_no_429() {
    let api = common::Api::start().await;
    let started = Instant::now();
    let statuses = drive(common::limiter(5, 2, "empty"), &api, 20).await;
    let took = started.elapsed().as_secs_f64();
    let (ok, refused) = api.finish(&statuses).await;
    assert_eq!(ok, 20, "{statuses:?}");
    assert_eq!(refused, 0, "paced at the API's limit: no 429");
    // 20 requests at 5/s from an empty bucket: the last leaves at 4 s.
    assert!(took >= 3.5, "paced: {took:.2} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_layer_above_the_limit_retries_its_429s() {
    let api = common::Api::start().await;
    let statuses = drive(common::limiter(20, 8, "full"), &api, 20).await;
    let (ok, refused) = api.finish(&statuses).await;
    assert_eq!(ok, 20, "{statuses:?}");
    assert!(refused > 0, "4× the limit meets 429s");
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_layers_of_two_limiters_share_one_bucket_in_redis() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let api = common::Api::start().await;
    // Burst 1 against the API's 2: the spare token absorbs arrival jitter (see
    // `common::limiter`). Not `start = "empty"`: store.rs's script writes a bucket to Redis
    // only when it admits, so a new empty shared bucket is new again at every decision and
    // never admits (found here; store.rs is left to its owner).
    let spec: ratelab_strategies::spec::StrategySpec = toml::from_str(&format!(
        "name = \"shared\"\n\
         admission = [{{ kind = \"token_bucket\", rate_per_s = 5, burst = 1, shared = true }}]\n{}",
        common::RETRY
    ))
    .unwrap();
    let prefix = format!(
        "test-tower-{}-{}",
        std::process::id(),
        ratelab_live::workers::unix_now_ns()
    );
    let started = Instant::now();
    // Two limiters, as two processes would have: they meet only in Redis.
    let a = ratelab_live::store::shared_limiter(&spec, 1, &url, &prefix, 2)
        .await
        .unwrap();
    let b = ratelab_live::store::shared_limiter(&spec, 2, &url, &prefix, 2)
        .await
        .unwrap();
    let (sa, sb) = tokio::join!(drive(a, &api, 10), drive(b, &api, 10));
    let took = started.elapsed().as_secs_f64();
    let statuses: Vec<u16> = sa.into_iter().chain(sb).collect();
    let (ok, refused) = api.finish(&statuses).await;
    assert_eq!(ok, 20, "{statuses:?}");
    assert_eq!(refused, 0, "one bucket at the API's limit for both: no 429");
    // Each alone at 5/s would be done in 9 / 5 = 1.8 s; sharing one bucket, 19 / 5 = 3.8 s.
    assert!(took >= 3.5, "the two drew on one bucket: {took:.2} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tower_layer_gives_back_the_last_429_and_tells_inner_layers_the_attempt() {
    use ratelab_live::{Attempt, CallError, Failure};
    use std::sync::{Arc, Mutex};
    let api = common::Api::start().await;
    let spec = toml::from_str(
        r#"name = "two-shots"
           retry = { kind = "exponential", base_ms = 10, max_attempts = 2, honor_retry_after = false }"#,
    )
    .unwrap();
    let limiter = Limiter::from_spec(&spec, 1);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let layer = LimiterLayer::new(limiter.clone());
    let record = {
        let seen = Arc::clone(&seen);
        move |req: http::Request<Full<Bytes>>| {
            let a = *req.extensions().get::<Attempt>().expect("the attempt");
            seen.lock().unwrap().push((a.id, a.attempt));
            req
        }
    };
    let service = ServiceBuilder::new()
        .layer(layer.clone())
        .map_request(record.clone())
        .service(client.clone());
    let post = || {
        http::Request::post(api.url())
            .body(Full::new(Bytes::from("{}")))
            .unwrap()
    };
    // The burst of 2 passes; the third request is refused twice, ~10 ms apart (long before
    // the API's next token, 200 ms later), and its last 429 comes back as the response.
    for _ in 0..2 {
        assert_eq!(service.clone().oneshot(post()).await.unwrap().status(), 200);
    }
    assert_eq!(service.clone().oneshot(post()).await.unwrap().status(), 429);
    assert_eq!(*seen.lock().unwrap(), [(0, 1), (1, 1), (2, 1), (2, 2)]);
    // Asked for, the same ends as an error holding the CallError.
    let strict = ServiceBuilder::new()
        .layer(layer.final_reply_as_error(true))
        .map_request(record)
        .service(client);
    match strict.oneshot(post()).await {
        Err(CallError::GaveUp {
            attempts: 2,
            last: Failure::Reply(r),
            ..
        }) => assert_eq!(r.status(), 429),
        other => panic!("{other:?}"),
    }
    let (ok, refused) = api.finish(&[200, 200]).await;
    assert_eq!((ok, refused), (2, 4));
}
