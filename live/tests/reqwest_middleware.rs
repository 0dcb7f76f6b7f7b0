//! `ratelab_live::reqwest::LimiterMiddleware` in a reqwest-middleware client against
//! `ratelab serve` on loopback (real HTTP, real time): paced at the API's limit nothing is
//! refused; paced at 4× the limit the 429s are retried and every request still succeeds.
#![cfg(feature = "reqwest")]

mod common;

use ratelab_live::reqwest::{LimiterError, LimiterMiddleware};
use ratelab_live::{CallError, Failure, Limiter};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use std::time::Instant;

fn client(limiter: Limiter) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(LimiterMiddleware::new(limiter))
        .build()
}

/// Sends `n` requests at once through `client`; the statuses of the final responses.
async fn drive(client: &ClientWithMiddleware, url: &str, n: usize) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        tasks.spawn(client.post(url).body(format!("{{\"n\":{i}}}")).send());
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
async fn reqwest_middleware_at_the_limit_gets_no_429() {
    let api = common::Api::start().await;
    let started = Instant::now();
    let statuses = drive(&client(common::limiter(5, 2, "empty")), &api.url(), 20).await;
    let took = started.elapsed().as_secs_f64();
    let (ok, refused) = api.finish(&statuses).await;
    assert_eq!(ok, 20, "{statuses:?}");
    assert_eq!(refused, 0, "paced at the API's limit: no 429");
    // 20 requests at 5/s from an empty bucket: the last leaves at 4 s.
    assert!(took >= 3.5, "paced: {took:.2} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_middleware_above_the_limit_retries_its_429s() {
    let api = common::Api::start().await;
    let statuses = drive(&client(common::limiter(20, 8, "full")), &api.url(), 20).await;
    let (ok, refused) = api.finish(&statuses).await;
    assert_eq!(ok, 20, "{statuses:?}");
    assert!(refused > 0, "4× the limit meets 429s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_middleware_gives_back_the_last_429_as_the_response() {
    let api = common::Api::start().await;
    let spec = toml::from_str(
        r#"name = "two-shots"
           retry = { kind = "exponential", base_ms = 10, max_attempts = 2, honor_retry_after = false }"#,
    )
    .unwrap();
    let limiter = Limiter::from_spec(&spec, 1);
    // The burst of 2 passes; the third request is refused twice, ~10 ms apart (long before
    // the API's next token, 200 ms later), and its last 429 comes back as the response.
    assert_eq!(
        drive(&client(limiter.clone()), &api.url(), 2).await,
        [200, 200]
    );
    let last = client(limiter.clone())
        .post(api.url())
        .body("{}")
        .send()
        .await;
    assert_eq!(last.unwrap().status(), 429);
    // Asked for, the same ends as an error holding the CallError.
    let strict = ClientBuilder::new(reqwest::Client::new())
        .with(LimiterMiddleware::new(limiter).final_reply_as_error(true))
        .build();
    let err = strict.post(api.url()).body("{}").send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(e) = &err else {
        panic!("{err}")
    };
    match e.downcast_ref::<LimiterError>() {
        Some(CallError::GaveUp {
            attempts: 2,
            last: Failure::Reply(r),
            ..
        }) => assert_eq!(r.status(), 429),
        other => panic!("{other:?}"),
    }
    let (ok, refused) = api.finish(&[200, 200]).await;
    assert_eq!((ok, refused), (2, 4));
}
