//! One recorded run against everything the engine, the API model, the strategy's layers and
//! the result promise.

use std::collections::{BTreeMap, BTreeSet};

use ratelab_sim::StrategyResult;
use ratelab_sim::api::RetryAfterPrecision;
use ratelab_sim::result::StopReason;
use ratelab_sim::scenario::Scenario;
use ratelab_strategies::admission::AdmissionSpec;
use ratelab_strategies::breaker::OnOpen;
use ratelab_strategies::spec::StrategySpec;
use ratelab_strategies::time::{Nanos, SECOND, ms_to_nanos};
use ratelab_strategies::{Admit, Draws, RequestInfo, Response, RetryPolicy};

use super::check_layers::check_layers;
use super::check_limits::{Admitted, check_limit};
use super::check_metrics::{check_in_flight, check_metrics};
use super::recording::Ev;

/// What a request ended as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Final {
    /// Succeeded.
    Succeeded,
    /// Dead-lettered.
    DeadLettered,
    /// Rejected by a fail-fast breaker.
    Rejected,
    /// Shed by the client's throttle.
    Shed,
}

/// Checks one recorded run of `spec` against everything the engine, the API model, the
/// strategy's layers and the result promise.
pub fn check_run(
    sc: &Scenario,
    spec: &StrategySpec,
    seed: u64,
    res: &StrategyResult,
    log: &[Ev],
) -> Result<(), String> {
    let wl = &sc.workload;
    let draws = Draws::new(seed);
    let horizon = sc.horizon();
    let timeout = spec.build(draws).timeout;
    // One reference policy per client, told what each client's policy is told (first sends,
    // retry questions, final states): budgets and quotas are per client.
    let mut reference_retry: Vec<_> = (0..sc.workload.clients)
        .map(|_| spec.retry.build(draws))
        .collect();
    let max_attempts = spec.retry.max_attempts();
    let rejected_latency = ms_to_nanos(sc.api.rejected_latency_ms);
    let retry_after_unit = match sc.api.retry_after_precision {
        RetryAfterPrecision::Seconds => SECOND,
        RetryAfterPrecision::Milliseconds => 1_000_000,
    };

    let mut last_t = 0;
    // What the engine holds: the attempts in flight plus the retries waiting (`due`), requests
    // in all. Only a fresh send adds one; it is refused when the requests held would then be
    // more than `max_requests_held`, and then nothing more is sent (a client still being asked
    // at that instant is refused too), and the run ends with that instant.
    let max_held = sc.max_requests_held;
    let mut in_flight = 0u64;
    // A poll answered `Now` whose send has not been seen yet.
    let mut admitted_now: Option<RequestInfo> = None;
    // When the limit stopped the run.
    let mut held_stop: Option<Nanos> = None;
    let mut sent: BTreeMap<(u32, u64, u32), Nanos> = BTreeMap::new();
    let mut flying: BTreeSet<(u32, u64, u32)> = BTreeSet::new();
    let mut due: BTreeMap<(u32, u64, u32), Nanos> = BTreeMap::new();
    let mut finals: BTreeMap<(u32, u64), Final> = BTreeMap::new();
    let mut next_fresh = vec![0u64; wl.clients as usize];
    let mut admitted: Vec<Admitted> = vec![];
    let (mut sends, mut http_429) = (0u64, 0u64);
    let mut last_reply_at: BTreeMap<(u32, u64, u32), Nanos> = BTreeMap::new();
    // (time, attempts, final, end-to-end latency of a success) of every final state.
    let mut final_log: Vec<(Nanos, u32, u32, Final, Nanos)> = vec![];
    let mut send_times: Vec<Nanos> = vec![];
    // (time, client, +1 for a send / -1 for a reply): attempts in flight over time.
    let mut flight_changes: Vec<(Nanos, u32, i64)> = vec![];
    let mut replies: Vec<(Nanos, u32, Response)> = vec![];
    // When each request is ready: t = 0, or the sum of its client's Poisson gaps so far.
    let ready: Vec<Vec<Nanos>> = (0..wl.clients)
        .map(|c| {
            let mut at = 0u64;
            (0..wl.requests)
                .map(|id| {
                    at = at.saturating_add(wl.arrival_gap(&draws, c, id).unwrap_or(0));
                    at
                })
                .collect()
        })
        .collect();

    // A poll answered `Now` and not sent: the engine refused it for want of memory.
    let refused = |req: RequestInfo, in_flight: u64, waiting: u64| {
        ensure!(
            req.attempt == 1 && in_flight + waiting + 1 > max_held,
            "{req:?} admitted but not sent, holding {in_flight} in flight and {waiting} retries \
             of max_requests_held = {max_held}"
        );
        Ok(())
    };
    for ev in log {
        let t = ev.t();
        if let Some(req) = admitted_now.take()
            && !matches!(ev, Ev::Send { req: sent, .. } if *sent == req)
            && held_stop.is_none()
        {
            refused(req, in_flight, due.len() as u64)?;
            held_stop = Some(last_t);
        }
        if let Some(at) = held_stop {
            ensure!(
                t == at && !matches!(ev, Ev::Send { .. }),
                "{ev:?} after the memory limit stopped the run at {at}"
            );
        }
        ensure!(
            t >= last_t,
            "virtual time went backwards: {t} after {last_t} ({ev:?})"
        );
        ensure!(t <= horizon, "an event at {t}, after the horizon {horizon}");
        last_t = t;
        match ev {
            Ev::Poll { req, admit, .. } => {
                let key = (req.client, req.id);
                ensure!(!finals.contains_key(&key), "polled a final request {req:?}");
                if matches!(admit, Admit::Reject | Admit::Shed) {
                    let fin = if *admit == Admit::Reject {
                        ensure!(
                            spec.breaker
                                .as_ref()
                                .is_some_and(|b| b.on_open == OnOpen::Fail),
                            "Reject without a fail-fast breaker"
                        );
                        Final::Rejected
                    } else {
                        ensure!(
                            spec.admission
                                .iter()
                                .any(|a| matches!(a, AdmissionSpec::SreThrottle(_))),
                            "Shed without a throttle"
                        );
                        Final::Shed
                    };
                    finals.insert(key, fin);
                    final_log.push((t, req.client, req.attempt - 1, fin, 0));
                    reference_retry[req.client as usize].on_final(t, req, false);
                    if req.attempt == 1 {
                        let nf = &mut next_fresh[req.client as usize];
                        ensure!(
                            req.id == *nf,
                            "fresh request {} out of order (next {nf})",
                            req.id
                        );
                        *nf += 1;
                    } else {
                        due.remove(&(req.client, req.id, req.attempt));
                    }
                }
            }
            Ev::Send { req, .. } => {
                if req.attempt == 1 {
                    reference_retry[req.client as usize].on_first_send(t, req);
                }
                let key = (req.client, req.id, req.attempt);
                ensure!(
                    !finals.contains_key(&(req.client, req.id)),
                    "sent a final request {req:?}"
                );
                ensure!(sent.insert(key, t).is_none(), "attempt sent twice: {req:?}");
                ensure!(
                    req.attempt >= 1 && req.attempt <= max_attempts,
                    "attempt {} beyond max_attempts {max_attempts}",
                    req.attempt
                );
                ensure!(
                    req.tokens == wl.tokens_of(&draws, req.client, req.id),
                    "request {req:?} does not weigh its drawn tokens"
                );
                if req.attempt == 1 {
                    let nf = &mut next_fresh[req.client as usize];
                    ensure!(
                        req.id == *nf,
                        "fresh request {} out of order (next {nf})",
                        req.id
                    );
                    *nf += 1;
                    let arrives = ready[req.client as usize][req.id as usize];
                    ensure!(
                        t >= arrives,
                        "{req:?} sent at {t} before it arrived at {arrives}"
                    );
                    let waiting = due
                        .iter()
                        .find(|((c, _, _), d)| *c == req.client && **d <= t);
                    ensure!(
                        waiting.is_none(),
                        "fresh request {} sent at {t} while retry {waiting:?} was due",
                        req.id
                    );
                } else {
                    let at = due.remove(&key);
                    ensure!(
                        at.is_some_and(|at| t >= at),
                        "retry {req:?} sent at {t}, due {at:?}"
                    );
                    if spec.retry.honours_retry_after()
                        && let Some(prev) =
                            last_reply_at.get(&(req.client, req.id, req.attempt - 1))
                    {
                        ensure!(t >= *prev, "Retry-After undercut for {req:?}");
                    }
                }
                flying.insert(key);
                sends += 1;
                send_times.push(t);
                flight_changes.push((t, req.client, 1));
            }
            Ev::Response { resp, .. } => {
                let r = resp.request;
                let key = (r.client, r.id, r.attempt);
                ensure!(
                    flying.remove(&key),
                    "a reply to an attempt not in flight: {r:?}"
                );
                ensure!(
                    sent.get(&key) == Some(&resp.sent_at),
                    "reply's sent_at is wrong: {resp:?}"
                );
                ensure!(
                    t == resp.sent_at + resp.latency,
                    "reply at {t} is not sent + latency: {resp:?}"
                );
                match resp.status {
                    0 => ensure!(
                        Some(resp.latency) == timeout,
                        "timeout after {} not {timeout:?}",
                        resp.latency
                    ),
                    429 | 413 => {
                        ensure!(
                            resp.latency == rejected_latency,
                            "rejection latency {} not {rejected_latency}",
                            resp.latency
                        );
                        if resp.status == 429 {
                            http_429 += 1;
                            ensure!(
                                resp.retry_after.is_some() == sc.api.retry_after
                                    && resp.retry_after.is_none_or(|ra| {
                                        ra >= retry_after_unit && ra % retry_after_unit == 0
                                    }),
                                "Retry-After {:?} with retry_after = {}",
                                resp.retry_after,
                                sc.api.retry_after
                            );
                        }
                    }
                    _ => {
                        let expected = sc
                            .api
                            .latency
                            .sample(&draws, r.client, r.id, r.attempt, r.tokens);
                        ensure!(
                            resp.latency == expected,
                            "common random numbers: latency of {r:?} is {} not the drawn {expected}",
                            resp.latency
                        );
                        ensure!(
                            timeout.is_none_or(|l| resp.latency <= l),
                            "reply slower than the timeout"
                        );
                        admitted.push(Admitted {
                            sent: resp.sent_at,
                            tokens: r.tokens,
                            end: Some(t),
                        });
                    }
                }
                // A timed-out attempt may or may not have been admitted: it is left out of the
                // API checks (a subset of what was admitted must respect the limits too).
                if resp.outcome == ratelab_strategies::Outcome::Success {
                    ensure!(
                        finals.insert((r.client, r.id), Final::Succeeded).is_none(),
                        "{r:?} reached a second final state"
                    );
                    let e2e = t - ready[r.client as usize][r.id as usize];
                    final_log.push((t, r.client, r.attempt, Final::Succeeded, e2e));
                    reference_retry[r.client as usize].on_final(t, &r, true);
                }
                replies.push((t, r.client, *resp));
                flight_changes.push((t, r.client, -1));
                last_reply_at.insert(
                    key,
                    t + if spec.retry.honours_retry_after() {
                        resp.retry_after.unwrap_or(0)
                    } else {
                        0
                    },
                );
            }
            Ev::Retry { resp, at, .. } => {
                let r = resp.request;
                ensure!(
                    resp.outcome != ratelab_strategies::Outcome::Success,
                    "retry_at asked about a success"
                );
                let expected = reference_retry[r.client as usize].retry_at(t, resp);
                if expected.is_err() {
                    reference_retry[r.client as usize].on_final(t, &r, false);
                }
                ensure!(
                    *at == expected,
                    "retry policy answered {at:?}, reference {expected:?}"
                );
                match at {
                    Ok(at) => {
                        ensure!(*at >= t, "retry scheduled in the past");
                        ensure!(r.attempt < max_attempts, "retry beyond max_attempts");
                        if spec.retry.honours_retry_after()
                            && let Some(ra) = resp.retry_after
                        {
                            ensure!(
                                *at >= t + ra,
                                "Retry-After {ra} undercut: retry at {at}, reply at {t}"
                            );
                        }
                        due.insert((r.client, r.id, r.attempt + 1), *at);
                    }
                    Err(_) => {
                        ensure!(
                            finals
                                .insert((r.client, r.id), Final::DeadLettered)
                                .is_none(),
                            "{r:?} reached a second final state"
                        );
                        final_log.push((t, r.client, r.attempt, Final::DeadLettered, 0));
                    }
                }
            }
        }
        match ev {
            Ev::Poll {
                req,
                admit: Admit::Now,
                ..
            } => admitted_now = Some(*req),
            Ev::Send { .. } => in_flight += 1,
            Ev::Response { .. } => in_flight -= 1,
            _ => {}
        }
        ensure!(
            in_flight + due.len() as u64 <= max_held,
            "{} requests held after {ev:?}, over max_requests_held = {max_held}",
            in_flight + due.len() as u64
        );
    }
    if let Some(req) = admitted_now
        && held_stop.is_none()
    {
        refused(req, in_flight, due.len() as u64)?;
        held_stop = Some(last_t);
    }

    // Conservation, by our own tally and by the result's.
    let count = |c: Option<u32>, f: Final| {
        finals
            .iter()
            .filter(|((cl, _), v)| **v == f && c.is_none_or(|c| c == *cl))
            .count() as u64
    };
    let total = wl.requests * u64::from(wl.clients);
    ensure!(
        res.requests == total,
        "requests {} != {total}",
        res.requests
    );
    ensure!(
        res.succeeded == count(None, Final::Succeeded),
        "succeeded {} but {} observed",
        res.succeeded,
        count(None, Final::Succeeded)
    );
    ensure!(
        res.dead_lettered == count(None, Final::DeadLettered),
        "dead_lettered {} but {} observed",
        res.dead_lettered,
        count(None, Final::DeadLettered)
    );
    ensure!(
        res.rejected_by_breaker == count(None, Final::Rejected),
        "rejected_by_breaker {} but {} observed",
        res.rejected_by_breaker,
        count(None, Final::Rejected)
    );
    ensure!(
        res.rejected_by_throttle == count(None, Final::Shed),
        "rejected_by_throttle {} but {} observed",
        res.rejected_by_throttle,
        count(None, Final::Shed)
    );
    ensure!(
        res.succeeded
            + res.dead_lettered
            + res.rejected_by_breaker
            + res.rejected_by_throttle
            + res.in_flight_at_horizon
            == total,
        "conservation: {} + {} + {} + {} + {} != {total}",
        res.succeeded,
        res.dead_lettered,
        res.rejected_by_breaker,
        res.rejected_by_throttle,
        res.in_flight_at_horizon
    );
    ensure!(
        res.finished == (res.in_flight_at_horizon == 0),
        "finished = {} with {} not final",
        res.finished,
        res.in_flight_at_horizon
    );
    ensure!(
        res.attempts == sends,
        "attempts {} but {sends} sends",
        res.attempts
    );
    ensure!(
        res.http_429 == http_429,
        "http_429 {} but {http_429} seen",
        res.http_429
    );
    if wl.clients > 1 {
        ensure!(
            res.clients.len() == wl.clients as usize,
            "{} client results",
            res.clients.len()
        );
        let (mut s, mut d, mut r, mut f) = (0, 0, 0, 0);
        for cr in &res.clients {
            let c = Some(cr.client);
            ensure!(
                cr.requests == wl.requests,
                "client {} requests {}",
                cr.client,
                cr.requests
            );
            ensure!(
                cr.succeeded == count(c, Final::Succeeded),
                "client {} succeeded",
                cr.client
            );
            ensure!(
                cr.dead_lettered == count(c, Final::DeadLettered),
                "client {} dead_lettered",
                cr.client
            );
            ensure!(
                cr.rejected_by_breaker == count(c, Final::Rejected),
                "client {} rejected",
                cr.client
            );
            ensure!(
                cr.rejected_by_throttle == count(c, Final::Shed),
                "client {} shed",
                cr.client
            );
            ensure!(
                cr.succeeded
                    + cr.dead_lettered
                    + cr.rejected_by_breaker
                    + cr.rejected_by_throttle
                    + cr.in_flight_at_horizon
                    == cr.requests,
                "client {} does not add up",
                cr.client
            );
            s += cr.succeeded;
            d += cr.dead_lettered;
            r += cr.rejected_by_breaker;
            f += cr.in_flight_at_horizon;
        }
        ensure!(
            (s, d, r, f)
                == (
                    res.succeeded,
                    res.dead_lettered,
                    res.rejected_by_breaker,
                    res.in_flight_at_horizon
                ),
            "clients do not add up to the total"
        );
    }

    // When the run ended: its last final state, the instant it met its memory limit, or the
    // horizon.
    let end = if res.finished {
        final_log.iter().map(|f| f.0).max().unwrap_or(0)
    } else if let Some(at) = held_stop {
        ensure!(
            res.stop == StopReason::MemoryLimit,
            "the memory limit stopped the run at {at}, but the result says {:?}",
            res.stop
        );
        at
    } else {
        horizon
    };
    ensure!(
        (res.stop == StopReason::MemoryLimit) == (held_stop.is_some() && !res.finished),
        "stop {:?}, but the memory limit {} the run",
        res.stop,
        if held_stop.is_some() {
            "stopped"
        } else {
            "never stopped"
        }
    );
    check_metrics(res, &send_times, &replies, &final_log, end)?;
    check_in_flight(
        "series.in_flight",
        &res.series.in_flight,
        &flight_changes,
        None,
        end,
    )?;
    for cr in &res.clients {
        check_in_flight(
            &format!("clients[{}].series.in_flight", cr.client),
            &cr.series.in_flight,
            &flight_changes,
            Some(cr.client),
            end,
        )?;
    }

    // The API's limits hold over what it admitted (all clients together).
    admitted.sort_by_key(|a| a.sent);
    for limit in &sc.api.limits {
        check_limit(limit, &admitted)?;
    }

    // Each client's layers keep their promises.
    for c in 0..wl.clients {
        check_layers(spec, c, log)?;
    }
    Ok(())
}
