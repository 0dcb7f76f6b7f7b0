//! The driver against wiremock on loopback, on real time (kept short): a responder that enforces
//! limits through the shared API-model code, and plain scripted mocks for the edge cases. Each
//! test asserts on the requests wiremock received and when they arrived.

use ratelab_strategies::retry::DeadLetterReason;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;
use ratelab_live::client::Target;
use ratelab_live::headers::{ATTEMPT, REQUEST_ID};
use ratelab_live::{CallError, Failure, Limiter, MockApi};
use ratelab_sim::api::ApiSpec;
use ratelab_strategies::spec::StrategySpec;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn spec(text: &str) -> StrategySpec {
    toml::from_str(&format!("name = \"t\"\n{text}")).unwrap()
}

/// When each request arrived and its headers.
type Arrivals = Arc<Mutex<Vec<(Instant, SystemTime, HeaderMap)>>>;

/// Answers with the shared API model (`MockApi::answer` runs `ApiModel::handle` behind a Mutex at
/// the time since the model's start), as `ratelab serve` does.
struct ModelResponder {
    api: MockApi,
    arrivals: Arrivals,
}

impl Respond for ModelResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.arrivals.lock().unwrap().push((
            Instant::now(),
            SystemTime::now(),
            req.headers.clone(),
        ));
        let answer = self.api.answer(&req.headers);
        let mut t = ResponseTemplate::new(answer.status).set_body_string(answer.body);
        for (name, value) in &answer.headers {
            t = t.insert_header(name.clone(), value.clone());
        }
        if let Some(at) = answer.deliver_at {
            t = t.set_delay(at.saturating_duration_since(tokio::time::Instant::now()));
        }
        t
    }
}

/// Serves the replies in order (the last one repeats) and logs arrivals.
struct Script {
    replies: Vec<ResponseTemplate>,
    arrivals: Arrivals,
}

impl Respond for Script {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut log = self.arrivals.lock().unwrap();
        log.push((Instant::now(), SystemTime::now(), req.headers.clone()));
        self.replies[(log.len() - 1).min(self.replies.len() - 1)].clone()
    }
}

async fn scripted(replies: Vec<ResponseTemplate>) -> (MockServer, Target, Arrivals) {
    let server = MockServer::start().await;
    let arrivals = Arrivals::default();
    Mock::given(any())
        .respond_with(Script {
            replies,
            arrivals: arrivals.clone(),
        })
        .mount(&server)
        .await;
    let target = Target::new(&format!("{}/v1/analyze", server.uri())).unwrap();
    (server, target, arrivals)
}

async fn call(limiter: &Limiter, target: &Target) -> Result<http::Response<bytes::Bytes>, String> {
    limiter
        .call(|a| {
            let t = target.clone();
            async move { t.send(a).await }
        })
        .await
        .map_err(|e| e.to_string())
}

fn gaps_ms(arrivals: &Arrivals) -> Vec<u128> {
    let log = arrivals.lock().unwrap();
    log.windows(2)
        .map(|w| w[1].0.duration_since(w[0].0).as_millis())
        .collect()
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name).unwrap().to_str().unwrap().to_string()
}

#[tokio::test]
async fn the_model_responder_enforces_limits_and_retry_after_is_honoured() {
    let api: ApiSpec = toml::from_str(
        r#"limits = [{ kind = "token_bucket", rate_per_s = 2, burst = 4 }]
           latency = { kind = "fixed", ms = 10 }"#,
    )
    .unwrap();
    let server = MockServer::start().await;
    let arrivals = Arrivals::default();
    Mock::given(any())
        .respond_with(ModelResponder {
            api: MockApi::new(&api, 1, 1),
            arrivals: arrivals.clone(),
        })
        .mount(&server)
        .await;
    let target = Target::new(&format!("{}/v1/analyze", server.uri())).unwrap();
    // Six at once against a burst of four: two 429s with Retry-After: 1, retried after it.
    let limiter = Limiter::from_spec(
        &spec(
            r#"retry = { kind = "fixed", delay_ms = 20, max_attempts = 3, honor_retry_after = true }"#,
        ),
        1,
    );
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (l, t) = (limiter.clone(), target.clone());
        tasks.spawn(async move { call(&l, &t).await });
    }
    while let Some(r) = tasks.join_next().await {
        assert!(r.unwrap().is_ok());
    }
    let log = arrivals.lock().unwrap().clone();
    assert_eq!(log.len(), 8, "6 first attempts + 2 retries");
    let retries: Vec<_> = log
        .iter()
        .filter(|(_, _, h)| header(h, ATTEMPT) == "2")
        .collect();
    assert_eq!(retries.len(), 2);
    for (at, _, h) in retries {
        let id = header(h, REQUEST_ID);
        let first = log
            .iter()
            .find(|(_, _, g)| header(g, REQUEST_ID) == id && header(g, ATTEMPT) == "1")
            .unwrap();
        let gap = at.duration_since(first.0);
        assert!(gap >= Duration::from_millis(990), "retried after {gap:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn retry_after_3_is_not_undercut() {
    let (_server, target, arrivals) = scripted(vec![
        ResponseTemplate::new(429).insert_header("retry-after", "3"),
        ResponseTemplate::new(200),
    ])
    .await;
    let limiter = Limiter::from_spec(
        &spec(
            r#"retry = { kind = "exponential", base_ms = 10, jitter = "none", max_attempts = 2, honor_retry_after = true }"#,
        ),
        1,
    );
    assert!(call(&limiter, &target).await.is_ok());
    let gaps = gaps_ms(&arrivals);
    assert_eq!(gaps.len(), 1);
    assert!((3000..3300).contains(&gaps[0]), "gap {} ms", gaps[0]);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let (_server, target, arrivals) = scripted(vec![
        ResponseTemplate::new(429).insert_header("retry-after", date.as_str()),
        ResponseTemplate::new(200),
    ])
    .await;
    let limiter = Limiter::from_spec(
        &spec(
            r#"retry = { kind = "fixed", delay_ms = 10, max_attempts = 2, honor_retry_after = true }"#,
        ),
        1,
    );
    assert!(call(&limiter, &target).await.is_ok());
    let log = arrivals.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    let not_before = httpdate::parse_http_date(&date).unwrap();
    assert!(log[1].1 >= not_before, "retried before the date {date}");
    assert!(log[1].0.duration_since(log[0].0) < Duration::from_millis(2300));
}

#[tokio::test]
async fn malformed_headers_are_ignored_safely() {
    let (_server, target, arrivals) = scripted(vec![
        ResponseTemplate::new(429)
            .insert_header("retry-after", "in a moment")
            .insert_header("x-ratelimit-remaining-requests", "-7")
            .insert_header("x-ratelimit-reset-requests", "1 fortnight"),
        ResponseTemplate::new(503).insert_header("retry-after", "99999999999999999999999"),
        ResponseTemplate::new(200).insert_header("x-ratelimit-reset-requests", "%%%"),
    ])
    .await;
    let limiter = Limiter::from_spec(
        &spec(
            r#"retry = { kind = "fixed", delay_ms = 50, max_attempts = 3, honor_retry_after = true }"#,
        ),
        1,
    );
    assert!(call(&limiter, &target).await.is_ok());
    let gaps = gaps_ms(&arrivals);
    assert_eq!(gaps.len(), 2);
    for g in gaps {
        assert!(
            (50..500).contains(&g),
            "the policy's 50 ms, no header wait: {g} ms"
        );
    }
}

#[tokio::test]
async fn server_errors_are_retried_per_policy_then_given_up() {
    let (_server, target, arrivals) = scripted(vec![ResponseTemplate::new(500)]).await;
    let limiter = Limiter::from_spec(
        &spec(r#"retry = { kind = "fixed", delay_ms = 30, max_attempts = 3, on = ["5xx"] }"#),
        1,
    );
    let out = limiter
        .call(|a| {
            let t = target.clone();
            async move { t.send(a).await }
        })
        .await;
    match out {
        Err(CallError::GaveUp {
            attempts: 3,
            last: Failure::Reply(r),
            reason: DeadLetterReason::Attempts,
        }) => assert_eq!(r.status(), 500),
        other => panic!("unexpected {other:?}"),
    }
    let log = arrivals.lock().unwrap().clone();
    let attempts: Vec<String> = log.iter().map(|(_, _, h)| header(h, ATTEMPT)).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    for g in gaps_ms(&arrivals) {
        assert!(g >= 30, "gap {g} ms");
    }
}

#[tokio::test]
async fn timeouts_are_retried_per_policy() {
    let (_server, target, arrivals) = scripted(vec![
        ResponseTemplate::new(200).set_delay(Duration::from_millis(600)),
    ])
    .await;
    let limiter = Limiter::from_spec(
        &spec(
            "retry = { kind = \"fixed\", delay_ms = 20, max_attempts = 2, on = [\"timeout\"] }\ntimeout_ms = 100",
        ),
        1,
    );
    let started = Instant::now();
    let out = limiter
        .call(|a| {
            let t = target.clone();
            async move { t.send(a).await }
        })
        .await;
    assert!(matches!(
        out,
        Err(CallError::GaveUp {
            attempts: 2,
            last: Failure::Timeout,
            reason: DeadLetterReason::Attempts,
        })
    ));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "gave up before the slow reply"
    );
    let gaps = gaps_ms(&arrivals);
    assert_eq!(gaps.len(), 1);
    assert!(
        (120..400).contains(&gaps[0]),
        "timeout 100 ms + 20 ms: {} ms",
        gaps[0]
    );
}

#[tokio::test]
async fn a_breaker_opens_after_consecutive_429s() {
    let (_server, target, arrivals) = scripted(vec![ResponseTemplate::new(429)]).await;
    let limiter = Limiter::from_spec(
        &spec(r#"breaker = { consecutive_failures = 3, open_ms = 60000, on_open = "fail" }"#),
        1,
    );
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        outcomes.push(
            match limiter
                .call(|a| {
                    let t = target.clone();
                    async move { t.send(a).await }
                })
                .await
            {
                Ok(_) => "ok",
                Err(CallError::GaveUp { .. }) => "429",
                Err(CallError::RejectedByBreaker { .. }) => "rejected",
                Err(CallError::RejectedByThrottle { .. }) => "shed",
            },
        );
    }
    assert_eq!(outcomes, ["429", "429", "429", "rejected", "rejected"]);
    assert_eq!(
        arrivals.lock().unwrap().len(),
        3,
        "an open breaker sends nothing"
    );
}

/// A refused connection is its own class, `connection`: retried by default, and not by a policy
/// whose `on` names only `5xx` (it used to count as a 5xx).
#[tokio::test]
async fn a_refused_connection_is_the_connection_class() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = Target::new(&format!("http://127.0.0.1:{port}/v1/analyze")).unwrap();
    let gave_up = |retry: &str| {
        let limiter = Limiter::from_spec(&spec(retry), 1);
        let target = target.clone();
        async move {
            match limiter
                .call(|a| {
                    let t = target.clone();
                    async move { t.send(a).await }
                })
                .await
            {
                Err(CallError::GaveUp {
                    attempts,
                    reason,
                    last: Failure::Error(_),
                }) => (attempts, reason),
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    assert_eq!(
        gave_up(r#"retry = { kind = "fixed", delay_ms = 1, max_attempts = 3 }"#).await,
        (3, DeadLetterReason::Attempts)
    );
    assert_eq!(
        gave_up(r#"retry = { kind = "fixed", delay_ms = 1, max_attempts = 3, on = ["5xx"] }"#)
            .await,
        (1, DeadLetterReason::NotRetryable)
    );
    assert_eq!(
        gave_up(
            r#"retry = { kind = "fixed", delay_ms = 1, max_attempts = 3, on = ["connection"] }"#
        )
        .await,
        (3, DeadLetterReason::Attempts)
    );
}
