//! The driver on tokio's paused clock: no sockets, the user's future answers from memory, so
//! waits are exact and the tests take no real time.

use ratelab_strategies::retry::DeadLetterReason;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderValue, Response};
use ratelab_live::{CallError, Failure, Limiter};
use ratelab_strategies::spec::StrategySpec;
use tokio::time::Instant;

fn spec(text: &str) -> StrategySpec {
    toml::from_str(&format!("name = \"t\"\n{text}")).unwrap()
}

fn reply(status: u16, retry_after: Option<&'static str>) -> Response<()> {
    let mut r = Response::new(());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    if let Some(ra) = retry_after {
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static(ra));
    }
    r
}

/// Milliseconds since `t0` of each attempt, as (id, attempt, ms).
type Log = Arc<Mutex<Vec<(u64, u32, u128)>>>;

/// Requests 0..n called at once through `limiter`, each answered at once with `answer()`; every
/// call must succeed. The (id, attempt, ms since the start) of every attempt, in send order.
async fn call_all(
    limiter: &Limiter,
    n: u64,
    answer: fn() -> Response<()>,
) -> Vec<(u64, u32, u128)> {
    let t0 = Instant::now();
    let log: Log = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..n {
        let (limiter, log) = (limiter.clone(), log.clone());
        tasks.spawn(async move {
            limiter
                .call_request(id, 1, |a| {
                    let log = log.clone();
                    async move {
                        log.lock()
                            .unwrap()
                            .push((a.id, a.attempt, t0.elapsed().as_millis()));
                        Ok::<_, std::convert::Infallible>(answer())
                    }
                })
                .await
                .is_ok()
        });
    }
    while let Some(ok) = tasks.join_next().await {
        assert!(ok.unwrap());
    }
    log.lock().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_not_undercut() {
    for (honour, expected_ms) in [(true, 3000), (false, 100)] {
        let limiter = Limiter::from_spec(
            &spec(&format!(
                "retry = {{ kind = \"fixed\", delay_ms = 100, max_attempts = 3, honor_retry_after = {honour} }}"
            )),
            1,
        );
        let t0 = Instant::now();
        let log: Log = Arc::default();
        let out = limiter
            .call(|a| {
                let log = log.clone();
                async move {
                    log.lock()
                        .unwrap()
                        .push((a.id, a.attempt, t0.elapsed().as_millis()));
                    let r = if a.attempt == 1 {
                        reply(429, Some("3"))
                    } else {
                        reply(200, None)
                    };
                    Ok::<_, std::convert::Infallible>(r)
                }
            })
            .await;
        assert!(out.is_ok());
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            vec![(0, 1, 0), (0, 2, expected_ms)],
            "honour = {honour}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_leaky_bucket_spaces_sends_exactly_in_request_order() {
    let limiter = Limiter::from_spec(
        &spec("admission = [{ kind = \"leaky_bucket\", rate_per_s = 10 }]"),
        1,
    );
    let log = call_all(&limiter, 5, || reply(200, None)).await;
    assert_eq!(
        log,
        (0..5u64)
            .map(|i| (i, 1, u128::from(i) * 100))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn a_semaphore_waits_for_completions() {
    let limiter = Limiter::from_spec(
        &spec("admission = [{ kind = \"semaphore\", permits = 2 }]"),
        1,
    );
    let t0 = Instant::now();
    let in_flight = Arc::new(Mutex::new((0u32, 0u32)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (limiter, in_flight) = (limiter.clone(), in_flight.clone());
        tasks.spawn(async move {
            limiter
                .call(|_| {
                    let in_flight = in_flight.clone();
                    async move {
                        {
                            let mut f = in_flight.lock().unwrap();
                            f.0 += 1;
                            f.1 = f.1.max(f.0);
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        in_flight.lock().unwrap().0 -= 1;
                        Ok::<_, std::convert::Infallible>(reply(200, None))
                    }
                })
                .await
                .is_ok()
        });
    }
    while let Some(ok) = tasks.join_next().await {
        assert!(ok.unwrap());
    }
    assert_eq!(
        in_flight.lock().unwrap().1,
        2,
        "never more than 2 in flight"
    );
    assert_eq!(t0.elapsed().as_millis(), 300);
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_transport_errors_are_retried_per_policy() {
    let limiter = Limiter::from_spec(
        &spec("retry = { kind = \"fixed\", delay_ms = 50, max_attempts = 3 }\ntimeout_ms = 100"),
        1,
    );
    let t0 = Instant::now();
    let log: Log = Arc::default();
    let out = limiter
        .call(|a| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push((a.id, a.attempt, t0.elapsed().as_millis()));
                match a.attempt {
                    1 => {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        Ok(reply(200, None))
                    }
                    _ => Err("connection refused"),
                }
            }
        })
        .await;
    // 1: times out at 100 ms, retried at 150; 2: error, retried at 200; 3: error, out of attempts.
    assert_eq!(
        log.lock().unwrap().clone(),
        vec![(0, 1, 0), (0, 2, 150), (0, 3, 200)]
    );
    match out {
        Err(CallError::GaveUp {
            attempts: 3,
            last: Failure::Error("connection refused"),
            reason: DeadLetterReason::Attempts,
        }) => {}
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_fails_fast_then_half_opens() {
    let limiter = Limiter::from_spec(
        &spec(
            "breaker = { consecutive_failures = 3, open_ms = 1000, half_open_probes = 1, on_open = \"fail\" }",
        ),
        1,
    );
    let sent = Arc::new(Mutex::new(0u32));
    let mut outcomes = Vec::new();
    for i in 0..6 {
        if i == 5 {
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
        let sent = sent.clone();
        let out = limiter
            .call(|_| {
                let sent = sent.clone();
                async move {
                    *sent.lock().unwrap() += 1;
                    Ok::<_, std::convert::Infallible>(reply(429, None))
                }
            })
            .await;
        outcomes.push(match out {
            Ok(_) => "ok",
            Err(CallError::GaveUp { .. }) => "429",
            Err(CallError::RejectedByBreaker { .. }) => "rejected",
            Err(CallError::RejectedByThrottle { .. }) => "shed",
        });
    }
    assert_eq!(
        outcomes,
        ["429", "429", "429", "rejected", "rejected", "429"]
    );
    assert_eq!(
        *sent.lock().unwrap(),
        4,
        "rejections send nothing; the probe does"
    );
}

/// A caller that drops a call while its attempt is out (a timeout around `call`) gives the
/// permit back: the next call is admitted at once instead of never.
#[tokio::test(start_paused = true)]
async fn a_dropped_call_gives_its_permit_back() {
    for kind in [
        "admission = [{ kind = \"semaphore\", permits = 1 }]",
        "admission = [{ kind = \"fixed_delay\", delay_ms = 100 }]",
    ] {
        let limiter = Limiter::from_spec(&spec(kind), 1);
        let t0 = Instant::now();
        let slow = limiter.call(|_| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, std::convert::Infallible>(reply(200, None))
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slow)
                .await
                .is_err(),
            "the slow call is cut off"
        );
        let sent = Arc::new(Mutex::new(None));
        let fast = limiter.call(|_| {
            let sent = sent.clone();
            async move {
                *sent.lock().unwrap() = Some(t0.elapsed().as_millis());
                Ok::<_, std::convert::Infallible>(reply(200, None))
            }
        });
        let done = tokio::time::timeout(Duration::from_secs(5), fast).await;
        assert!(
            matches!(done, Ok(Ok(_))),
            "{kind}: the next call went through"
        );
        // The semaphore admits at once; the fixed delay counts its pause from the drop.
        let expected = if kind.contains("semaphore") { 50 } else { 150 };
        assert_eq!(*sent.lock().unwrap(), Some(expected), "{kind}");
    }
}

/// `header_pacing` runs unchanged on real time: the driver reads `x-ratelimit-*` into the
/// `Response` and the kind paces by the refill they imply (none of 4 left, full again in 2 s:
/// one every 0.5 s) after its single probe.
#[tokio::test(start_paused = true)]
async fn header_pacing_paces_by_the_refill_the_headers_imply() {
    let limiter = Limiter::from_spec(&spec("admission = [{ kind = \"header_pacing\" }]"), 1);
    let log = call_all(&limiter, 3, || {
        let mut r = reply(200, None);
        let h = r.headers_mut();
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("0"),
        );
        h.insert("x-ratelimit-limit-requests", HeaderValue::from_static("4"));
        h.insert("x-ratelimit-reset-requests", HeaderValue::from_static("2s"));
        r
    })
    .await;
    assert_eq!(log, vec![(0, 1, 0), (1, 1, 500), (2, 1, 1000)]);
}

/// A call dropped while it waits to retry ends its request: a semaphore holding permits through
/// the backoff gets its permit back, and the next call goes.
#[tokio::test(start_paused = true)]
async fn a_call_dropped_while_it_waits_to_retry_gives_its_held_permit_back() {
    let limiter = Limiter::from_spec(
        &spec(
            "admission = [{ kind = \"semaphore\", permits = 1, hold_during_backoff = true }]\n\
             retry = { kind = \"fixed\", delay_ms = 1000, max_attempts = 3 }",
        ),
        1,
    );
    let first = tokio::time::timeout(
        Duration::from_millis(500),
        limiter.call_request(0, 1, |_| async {
            Ok::<_, std::convert::Infallible>(reply(429, None))
        }),
    )
    .await;
    assert!(first.is_err(), "dropped while it waited to retry");
    let second = tokio::time::timeout(
        Duration::from_millis(100),
        limiter.call_request(1, 1, |_| async {
            Ok::<_, std::convert::Infallible>(reply(200, None))
        }),
    )
    .await;
    assert!(matches!(second, Ok(Ok(_))), "the held permit came back");
}
