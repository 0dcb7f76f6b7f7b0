//! The invariants of every admission layer and of the breaker, over one client's calls.

use ratelab_strategies::admission::{AdmissionSpec, Start};
use ratelab_strategies::breaker::{BreakerCheck, BreakerState, OnOpen};
use ratelab_strategies::bucket::Rate;
use ratelab_strategies::config::{RateSpec, Unit};
use ratelab_strategies::spec::StrategySpec;
use ratelab_strategies::time::{Nanos, SECOND, ms_to_nanos, secs_to_nanos};
use ratelab_strategies::{Admit, Outcome, RequestInfo};

use super::check_limits::check_client_bucket;
use super::recording::Ev;

/// The invariants of every admission layer and of the breaker, over one client's calls.
pub fn check_layers(spec: &StrategySpec, c: u32, log: &[Ev]) -> Result<(), String> {
    let mine = |e: &&Ev| match e {
        Ev::Poll { req, .. } | Ev::Send { req, .. } => req.client == c,
        Ev::Response { resp, .. } | Ev::Retry { resp, .. } => resp.request.client == c,
    };
    let events: Vec<&Ev> = log.iter().filter(mine).collect();
    let sends: Vec<(Nanos, RequestInfo)> = events
        .iter()
        .filter_map(|e| match e {
            Ev::Send { t, req, .. } => Some((*t, *req)),
            _ => None,
        })
        .collect();
    let mut aimd_index = 0;
    for layer in &spec.admission {
        match layer {
            AdmissionSpec::Unlimited(_) => {}
            AdmissionSpec::TokenBucket(b) => {
                let (burst, unit) = (&b.burst, &b.unit);
                let costs: Vec<(Nanos, u64)> = sends
                    .iter()
                    .map(|(t, r)| {
                        (
                            *t,
                            if *unit == Unit::Tokens {
                                r.tokens.min(*burst)
                            } else {
                                1
                            },
                        )
                    })
                    .collect();
                check_client_bucket(&costs, b.rate(), *burst)?;
                if b.start == Start::Empty {
                    // Started empty at 0: by any send, no more sent than refilled since.
                    let rate = b.rate();
                    let unit = u128::from(rate.period) * 1000;
                    let mut sum = 0u128;
                    for (t, cost) in &costs {
                        sum += u128::from(*cost);
                        ensure!(
                            sum * unit <= u128::from(rate.milli_per_period) * u128::from(*t),
                            "empty token bucket {rate:?}: cost {sum} sent by {t} ns"
                        );
                    }
                }
            }
            AdmissionSpec::AimdRate(a) => {
                // Never faster than max_per_s: a send of cost c is followed c/max later at the
                // earliest (the rate only moves between max and min_per_s).
                for w in sends.windows(2) {
                    let cost = if a.unit == Unit::Tokens {
                        w[0].1.tokens.max(1)
                    } else {
                        1
                    };
                    let least = (cost as f64 * SECOND as f64 / a.max_per_s).floor() as u64;
                    ensure!(
                        w[1].0 - w[0].0 + 1 >= least,
                        "aimd_rate: sends {} ns apart, cost {cost} at max {} /s",
                        w[1].0 - w[0].0,
                        a.max_per_s
                    );
                }
            }
            // Its bounds (the fill rate's floor, a capacity of at most max(rate, 1), off until
            // the first 429) are held on the machine itself: strategies/tests/properties.rs.
            AdmissionSpec::AwsAdaptive(_) => {}
            AdmissionSpec::Gradient2(_) | AdmissionSpec::Vegas(_) => {
                // In flight never above max_concurrency (the limit's upper clamp).
                let max = match layer {
                    AdmissionSpec::Gradient2(g) => g.max_concurrency,
                    AdmissionSpec::Vegas(v) => v.max_concurrency,
                    _ => unreachable!(),
                };
                let mut in_flight = 0u32;
                for e in &events {
                    match e {
                        Ev::Send { t, .. } => {
                            in_flight += 1;
                            ensure!(
                                in_flight <= max,
                                "{layer:?}: {in_flight} in flight at {t}, max {max}"
                            );
                        }
                        Ev::Response { .. } => in_flight -= 1,
                        _ => {}
                    }
                }
            }
            AdmissionSpec::SreThrottle(_) => {
                // A shed only when some throttle's window holds more requests than K times its
                // accepts (p > 0); checked once, with every throttle of the stack.
                let throttles: Vec<_> = spec
                    .admission
                    .iter()
                    .filter_map(|a| match a {
                        AdmissionSpec::SreThrottle(t) => Some(t),
                        _ => None,
                    })
                    .collect();
                if !std::ptr::eq(
                    layer,
                    spec.admission
                        .iter()
                        .find(|a| matches!(a, AdmissionSpec::SreThrottle(_)))
                        .unwrap(),
                ) {
                    continue;
                }
                let mut history: Vec<(Nanos, bool)> = vec![]; // (time, is an accept)
                for e in &events {
                    match e {
                        Ev::Send { t, .. } => history.push((*t, false)),
                        Ev::Response { t, resp, .. }
                            if matches!(
                                resp.outcome,
                                Outcome::Success | Outcome::ClientError | Outcome::Conflict
                            ) =>
                        {
                            history.push((*t, true))
                        }
                        Ev::Poll {
                            t,
                            admit: Admit::Shed,
                            ..
                        } => {
                            let shedding = throttles.iter().any(|sre| {
                                let window = secs_to_nanos(sre.window_s).max(1);
                                let from = t.saturating_sub(window);
                                let inside = |&&(at, _): &&(Nanos, bool)| at > from || *t < window;
                                let requests =
                                    history.iter().filter(inside).filter(|h| !h.1).count();
                                let accepts = history.iter().filter(inside).filter(|h| h.1).count();
                                requests as f64 > sre.k * accepts as f64
                            });
                            ensure!(
                                shedding,
                                "sre_throttle shed at {t} with p = 0 in every window"
                            );
                            history.push((*t, false));
                        }
                        _ => {}
                    }
                }
            }
            AdmissionSpec::HeaderPacing(_) => {
                // One probe before the first reply.
                let first_reply = events
                    .iter()
                    .position(|e| matches!(e, Ev::Response { .. }))
                    .unwrap_or(events.len());
                let early = events[..first_reply]
                    .iter()
                    .filter(|e| matches!(e, Ev::Send { .. }))
                    .count();
                ensure!(
                    early <= 1,
                    "header_pacing: {early} sends before the first reply"
                );
            }
            AdmissionSpec::LeakyBucket(l) => {
                let rate = RateSpec::of(Some(l.rate_per_s), None).rate();
                let gap =
                    (u128::from(rate.period) * 1000).div_ceil(u128::from(rate.milli_per_period));
                for w in sends.windows(2) {
                    let d = u128::from(w[1].0 - w[0].0);
                    ensure!(
                        d >= gap,
                        "leaky bucket: sends {d} ns apart, 1/rate = {gap} ns"
                    );
                }
            }
            AdmissionSpec::Semaphore(s) if s.hold_during_backoff => {
                // At most `permits` requests between their first send and their end.
                let mut open: std::collections::BTreeSet<u64> = Default::default();
                for e in &events {
                    match e {
                        Ev::Send { t, req, .. } => {
                            if req.attempt == 1 {
                                open.insert(req.id);
                            }
                            ensure!(
                                open.contains(&req.id),
                                "hold_during_backoff: retry {req:?} holds no permit"
                            );
                            ensure!(
                                open.len() <= s.permits as usize,
                                "hold_during_backoff: {} requests hold permits at {t}, {} permits",
                                open.len(),
                                s.permits
                            );
                        }
                        Ev::Response { resp, .. } if resp.outcome == Outcome::Success => {
                            open.remove(&resp.request.id);
                        }
                        Ev::Retry {
                            resp, at: Err(_), ..
                        } => {
                            open.remove(&resp.request.id);
                        }
                        Ev::Poll {
                            req,
                            admit: Admit::Reject | Admit::Shed,
                            ..
                        } => {
                            open.remove(&req.id);
                        }
                        _ => {}
                    }
                }
            }
            AdmissionSpec::Semaphore(_) | AdmissionSpec::FixedDelay(_) => {
                let (limit, delay) = match layer {
                    AdmissionSpec::Semaphore(s) => (s.permits, 0),
                    AdmissionSpec::FixedDelay(f) => (1, ms_to_nanos(f.delay_ms)),
                    _ => unreachable!(),
                };
                let mut in_flight = 0u32;
                let mut last_reply: Option<Nanos> = None;
                for e in &events {
                    match e {
                        Ev::Send { t, .. } => {
                            in_flight += 1;
                            ensure!(
                                in_flight <= limit,
                                "{layer:?}: {in_flight} in flight at {t}"
                            );
                            if let Some(r) = last_reply {
                                ensure!(
                                    *t >= r + delay,
                                    "{layer:?}: sent at {t}, {} after the reply",
                                    t - r
                                );
                            }
                        }
                        Ev::Response { t, .. } => {
                            in_flight -= 1;
                            last_reply = Some(*t);
                        }
                        _ => {}
                    }
                }
            }
            AdmissionSpec::Aimd(aimd) => {
                let (min, max, decrease) = (&aimd.min, &aimd.max, &aimd.decrease);
                let i = aimd_index;
                aimd_index += 1;
                let mut in_flight = 0u32;
                let mut last_decrease: Option<Nanos> = None;
                for e in &events {
                    match e {
                        Ev::Send { t, aimd, .. } => {
                            ensure!(
                                f64::from(in_flight) < aimd[i].floor(),
                                "AIMD: sent at {t} with {in_flight} in flight, window {}",
                                aimd[i]
                            );
                            in_flight += 1;
                        }
                        Ev::Response {
                            t,
                            resp,
                            aimd_before,
                            aimd_after,
                            ..
                        } => {
                            in_flight -= 1;
                            let (b, a) = (aimd_before[i], aimd_after[i]);
                            ensure!(
                                a >= *min && a <= *max,
                                "AIMD window {a} outside [{min}, {max}]"
                            );
                            match resp.outcome {
                                ratelab_strategies::Outcome::Success => {
                                    ensure!(a >= b, "AIMD shrank on a success: {b} -> {a}")
                                }
                                ratelab_strategies::Outcome::RateLimited
                                    if last_decrease.is_none_or(|d| resp.sent_at >= d) =>
                                {
                                    ensure!(
                                        a == (b * decrease).max(*min),
                                        "AIMD: 429 took {b} to {a}"
                                    );
                                    last_decrease = Some(*t);
                                }
                                _ => ensure!(
                                    a == b,
                                    "AIMD moved {b} -> {a} on {:?} (sent {}, last decrease {last_decrease:?})",
                                    resp.outcome,
                                    resp.sent_at
                                ),
                            }
                        }
                        _ => {}
                    }
                }
            }
            AdmissionSpec::OpenAiCookbook(cb) => {
                // Both capacities: a bucket of one minute's worth, refilled per minute.
                let minute = |per_minute: f64| {
                    (
                        Rate::new(per_minute, 60 * SECOND).unwrap(),
                        (per_minute.floor() as u64).max(1),
                    )
                };
                let (rate, burst) = minute(cb.max_requests_per_minute);
                let ones: Vec<(Nanos, u64)> = sends.iter().map(|(t, _)| (*t, 1)).collect();
                check_client_bucket(&ones, rate, burst)?;
                let (rate, burst) = minute(cb.max_tokens_per_minute);
                let costs: Vec<(Nanos, u64)> = sends
                    .iter()
                    .map(|(t, r)| (*t, r.tokens.min(burst)))
                    .collect();
                check_client_bucket(&costs, rate, burst)?;
                let gap = ms_to_nanos(cb.loop_ms);
                for w in sends.windows(2) {
                    ensure!(
                        w[1].0 - w[0].0 >= gap,
                        "openai_cookbook: sends {} ns apart, loop {gap} ns",
                        w[1].0 - w[0].0
                    );
                }
                // Nothing is sent within the pause after a 429 reply.
                let pause = secs_to_nanos(cb.pause_after_429_s);
                let mut paused_until = 0;
                for e in &events {
                    match e {
                        Ev::Response { t, resp, .. }
                            if resp.outcome == ratelab_strategies::Outcome::RateLimited =>
                        {
                            paused_until = paused_until.max(t + pause);
                        }
                        Ev::Send { t, .. } => ensure!(
                            *t >= paused_until,
                            "openai_cookbook: sent at {t} during the pause until {paused_until}"
                        ),
                        _ => {}
                    }
                }
            }
        }
    }
    if let Some(b) = &spec.breaker
        && b.check == BreakerCheck::BeforeQueue
    {
        // Checked before the queue (no probes): an attempt that joined the queue while the
        // breaker was open is never admitted before it closes, and only such an attempt is
        // refused.
        let open_for = ms_to_nanos(b.open_ms);
        let mut opened: Vec<(Nanos, Nanos)> = vec![];
        for e in &events {
            match e {
                Ev::Response {
                    t,
                    breaker_before,
                    breaker_after,
                    ..
                } if breaker_before != breaker_after
                    && matches!(breaker_after, Some(BreakerState::Open { .. })) =>
                {
                    opened.push((*t, t + open_for));
                }
                Ev::Poll {
                    t,
                    queued_at,
                    admit,
                    ..
                } => {
                    let open = opened
                        .iter()
                        .find(|&&(from, until)| from <= *queued_at && *queued_at < until);
                    match admit {
                        Admit::Now => ensure!(
                            open.is_none_or(|&(_, until)| until <= *t),
                            "breaker: admitted at {t} an attempt queued at {queued_at}, in {open:?}"
                        ),
                        Admit::Reject => ensure!(
                            b.on_open == OnOpen::Fail && open.is_some(),
                            "breaker: rejected at {t} an attempt queued at {queued_at} ({open:?})"
                        ),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    } else if let Some(b) = &spec.breaker {
        let open_for = ms_to_nanos(b.open_ms);
        let mut opened_at: Option<Nanos> = None;
        for e in &events {
            match e {
                Ev::Send { t, breaker, .. } => {
                    ensure!(
                        !matches!(breaker, Some(BreakerState::Open { .. })),
                        "breaker: admitted at {t} while open"
                    );
                    if *breaker == Some(BreakerState::HalfOpen) {
                        ensure!(
                            opened_at.is_some_and(|o| *t >= o + open_for),
                            "breaker: half-open at {t}, opened at {opened_at:?} for {open_for}"
                        );
                    }
                }
                Ev::Response {
                    t,
                    breaker_before,
                    breaker_after,
                    ..
                } => {
                    let opened = match breaker_after {
                        Some(BreakerState::Open { until }) => {
                            breaker_before != breaker_after && {
                                if *until != t + open_for {
                                    return Err(format!("breaker opened at {t} until {until}"));
                                }
                                true
                            }
                        }
                        // Opened for 0 ms: half-open at once.
                        Some(BreakerState::HalfOpen) => {
                            open_for == 0 && breaker_before != breaker_after
                        }
                        _ => false,
                    };
                    if opened {
                        opened_at = Some(*t);
                    }
                }
                Ev::Poll {
                    t,
                    admit: Admit::Reject,
                    ..
                } => {
                    ensure!(
                        b.on_open == OnOpen::Fail,
                        "breaker rejected at {t} without fail-fast"
                    );
                }
                _ => {}
            }
        }
    }
    Ok(())
}
