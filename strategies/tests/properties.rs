//! Property tests of the client-side state machines: token and leaky buckets, semaphore, fixed
//! delay, AIMD, retry policies, the breaker, the exact bucket against a naive rational reference,
//! and the addressable draws.
//!
//! Each machine is driven directly (sans-IO) by a tiny driver over generated time steps, demand
//! and replies; the simulator-level versions of these invariants live in
//! `sim/tests/properties.rs`. `PROPTEST_CASES=N` overrides the modest default case counts.

use std::collections::VecDeque;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use ratelab_strategies::admission::{
    AdmissionKind, Aimd, AimdRateConfig, AwsAdaptiveConfig, FixedDelay, Semaphore, TokenBucket,
};
use ratelab_strategies::breaker::{Breaker, BreakerState};
use ratelab_strategies::bucket::{ExactBucket, Rate};
use ratelab_strategies::draws::{DrawCache, Draws, Purpose, uniform_upto, unit_open};
use ratelab_strategies::retry::{
    Backoff, DeadLetterReason, ExponentialRetry, GiveUp, Jitter, OpenAiPythonConfig, RetryAfter,
    RetryKind, RetryOn, TenacityConfig, exponential_ceiling,
};
use ratelab_strategies::time::{Nanos, SECOND};
use ratelab_strategies::{Admit, Outcome, RequestInfo, Response, RetryPolicy, Strategy as _};

/// `cases` unless `PROPTEST_CASES` is set (then proptest's own reading of it wins); regressions
/// are kept in `strategies/proptest-regressions/properties.txt`.
fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c.max_shrink_iters = 4096;
    c.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/proptest-regressions/properties.txt"
    ))));
    c
}

fn req(id: u64, tokens: u64) -> RequestInfo {
    RequestInfo {
        client: 0,
        id,
        attempt: 1,
        tokens,
    }
}

fn reply(request: RequestInfo, sent_at: Nanos, now: Nanos, status: u16) -> Response {
    Response::new(request, sent_at, status, now - sent_at)
}

/// Exact rates: thousandths of a token per second or per minute, from very slow to very fast.
fn rate() -> impl Strategy<Value = Rate> {
    (
        prop_oneof![1u64..2_000, 2_000u64..200_000, 200_000u64..100_000_000],
        prop_oneof![Just(SECOND), Just(60 * SECOND)],
    )
        .prop_map(|(milli_per_period, period)| Rate {
            milli_per_period,
            period,
        })
}

/// Units per token of an [`ExactBucket`] with this rate (a token is `period · 1000` units).
fn units(rate: Rate) -> u128 {
    u128::from(rate.period) * 1000
}

/// Time steps: mostly short, sometimes zero (same instant), sometimes long.
fn step() -> impl Strategy<Value = Nanos> {
    prop_oneof![
        2 => Just(0u64),
        4 => 0u64..10_000_000,
        3 => 0u64..2 * SECOND,
        1 => 0u64..120 * SECOND,
    ]
}

// ---------------------------------------------------------------------------------------------
// The exact bucket against a deliberately naive reference.

/// A token bucket kept as its whole history of takes, replayed from scratch in u128/i128
/// rational arithmetic (units = tokens · period · 1000), with waits found by binary search
/// instead of a rounded-up division.
struct NaiveBucket {
    milli: i128,
    unit: i128,
    burst: i128,
    takes: Vec<(Nanos, u64)>,
}

impl NaiveBucket {
    fn level(&self, now: Nanos) -> i128 {
        let cap = self.burst * self.unit;
        let mut level = cap;
        let mut t0 = 0u64;
        for &(t, n) in self.takes.iter().filter(|(t, _)| *t <= now) {
            level = (level + self.milli * i128::from(t - t0)).min(cap) - i128::from(n) * self.unit;
            t0 = t;
        }
        (level + self.milli * i128::from(now - t0)).min(cap)
    }

    fn first_time(&self, now: Nanos, pred: impl Fn(i128) -> bool) -> Nanos {
        // Up to 2^62 ns (146 years): a deep run found a 13-day wait (a debt at 0.001/min)
        // beyond an earlier bound of 2^50 ns.
        let (mut lo, mut hi) = (0u64, 1u64 << 62);
        if pred(self.level(now)) {
            return now;
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(self.level(now + mid)) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        now + hi
    }

    fn ready_at(&self, now: Nanos, n: u64) -> Option<Nanos> {
        let need = i128::from(n) * self.unit;
        (i128::from(n) <= self.burst).then(|| self.first_time(now, |l| l >= need))
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// `ExactBucket` agrees with the naive replayed rational bucket on every decision: when `n`
    /// tokens are ready, how many whole tokens remain, when it is full again; debts included
    /// (a take that was not ready, as an API with `count_rejected` does).
    #[test]
    fn exact_bucket_agrees_with_a_naive_rational_reference(
        rate in rate(),
        burst in 1u64..12,
        ops in prop::collection::vec((step(), 1u64..14, any::<bool>()), 1..60),
    ) {
        let mut real = ExactBucket::new(rate, burst);
        let mut naive = NaiveBucket {
            milli: i128::from(rate.milli_per_period),
            unit: units(rate) as i128,
            burst: i128::from(burst),
            takes: vec![],
        };
        let mut now = 0;
        for (dt, n, force) in ops {
            now += dt;
            let expected = naive.ready_at(now, n);
            prop_assert_eq!(real.ready_at(now, n), expected, "ready_at({}, {})", now, n);
            let level = naive.level(now);
            prop_assert_eq!(real.remaining(now), (level.max(0) / naive.unit) as u64);
            let cap = naive.burst * naive.unit;
            prop_assert_eq!(real.until_full(now), naive.first_time(now, |l| l >= cap) - now);
            if n <= burst && (force || expected == Some(now)) {
                real.take(now, n);
                naive.takes.push((now, n));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client admission layers, each driven by a tiny event loop over generated demand.

/// Sends of a single-layer client: requests arrive in batches (`(gap, count, tokens)`), the
/// driver sends whatever is admitted, jumping to the `At` the strategy names.
fn drive_rate_limited(
    s: &mut TokenBucket,
    arrivals: &[(Nanos, u32, u64)],
) -> Vec<(Nanos, RequestInfo)> {
    let mut due: VecDeque<(Nanos, RequestInfo)> = VecDeque::new();
    let mut t = 0;
    let mut id = 0;
    for &(gap, count, tokens) in arrivals {
        t += gap;
        for _ in 0..count {
            due.push_back((t, req(id, tokens)));
            id += 1;
        }
    }
    let mut pending: VecDeque<RequestInfo> = VecDeque::new();
    let mut sends = vec![];
    let mut now = 0;
    loop {
        while due.front().is_some_and(|(t, _)| *t <= now) {
            pending.push_back(due.pop_front().unwrap().1);
        }
        let mut wake = None;
        while let Some(r) = pending.front().copied() {
            match s.poll_admit(now, &r) {
                Admit::Now => {
                    s.on_send(now, &r);
                    sends.push((now, r));
                    pending.pop_front();
                }
                Admit::At(t) => {
                    assert!(t > now, "At({t}) at {now} would spin");
                    wake = Some(t);
                    break;
                }
                other => panic!("a token bucket answered {other:?}"),
            }
        }
        let next = [wake, due.front().map(|d| d.0)].into_iter().flatten().min();
        match next {
            Some(t) => now = t,
            None => return sends,
        }
    }
}

/// For every pair of sends i ≤ j: `cost(i..=j) ≤ burst + rate · (t_j − t_i)`, exactly.
fn check_windows(
    sends: &[(Nanos, u64)],
    rate: Rate,
    burst: u64,
) -> Result<(), proptest::test_runner::TestCaseError> {
    let unit = units(rate);
    for i in 0..sends.len() {
        let mut cost = 0u128;
        for j in i..sends.len() {
            cost += u128::from(sends[j].1);
            let over = cost.saturating_sub(u128::from(burst));
            let dt = u128::from(sends[j].0 - sends[i].0);
            prop_assert!(
                over * unit <= u128::from(rate.milli_per_period) * dt,
                "sends {}..={} cost {} in {} ns: more than burst {} + {:?}·T",
                i,
                j,
                cost,
                dt,
                burst,
                rate
            );
        }
    }
    Ok(())
}

fn arrivals() -> impl Strategy<Value = Vec<(Nanos, u32, u64)>> {
    prop::collection::vec((step(), 1u32..6, 1u64..20), 1..25)
}

proptest! {
    #![proptest_config(config(192))]

    /// Client token bucket: in every window of length T, sends ≤ burst + rate·T (token-weighted:
    /// tokens, each request counting at most the burst).
    #[test]
    fn token_bucket_never_exceeds_burst_plus_rate_times_t(
        rate in rate(),
        burst in 1u64..10,
        by_tokens in any::<bool>(),
        arrivals in arrivals(),
    ) {
        let mut s = TokenBucket::new(rate, burst, by_tokens);
        let sends = drive_rate_limited(&mut s, &arrivals);
        let total: u32 = arrivals.iter().map(|a| a.1).sum();
        prop_assert_eq!(sends.len(), total as usize, "every request is eventually sent");
        let costs: Vec<_> = sends
            .iter()
            .map(|(t, r)| (*t, if by_tokens { r.tokens.min(burst) } else { 1 }))
            .collect();
        check_windows(&costs, rate, burst)?;
    }

    /// With enough demand (everything ready at t = 0) the long-run send rate is the rate: the
    /// n-th send beyond the burst comes no later than the exact time plus 1 ns of rounding per
    /// send.
    #[test]
    fn token_bucket_long_run_rate_is_the_rate(
        rate in rate(),
        burst in 1u64..10,
        extra in 1u64..150,
    ) {
        let mut s = TokenBucket::new(rate, burst, false);
        let n = burst + extra;
        let sends = drive_rate_limited(&mut s, &[(0, n as u32, 1)]);
        let last = sends.last().unwrap().0;
        let exact = (u128::from(extra) * units(rate)).div_ceil(u128::from(rate.milli_per_period));
        prop_assert!(u128::from(last) >= exact, "too fast: last send {} < {}", last, exact);
        prop_assert!(
            u128::from(last) <= exact + u128::from(extra),
            "too slow: last send {} > {} + {}", last, exact, extra
        );
        // Exactly `burst` go at t = 0.
        prop_assert_eq!(sends.iter().filter(|s| s.0 == 0).count() as u64, burst);
    }

    /// Leaky bucket: consecutive sends are at least 1/rate apart, rounded up to the nanosecond;
    /// under saturation exactly that far apart.
    #[test]
    fn leaky_bucket_spaces_sends_at_least_one_over_rate(
        rate in rate(),
        arrivals in arrivals(),
        saturated in any::<bool>(),
    ) {
        let mut s = TokenBucket::leaky(rate);
        let sends = if saturated {
            drive_rate_limited(&mut s, &[(0, 40, 1)])
        } else {
            drive_rate_limited(&mut s, &arrivals)
        };
        let gap = units(rate).div_ceil(u128::from(rate.milli_per_period));
        for w in sends.windows(2) {
            let d = u128::from(w[1].0 - w[0].0);
            prop_assert!(d >= gap, "sends {} ns apart, 1/rate is {} ns", d, gap);
            if saturated {
                prop_assert_eq!(d, gap);
            }
        }
    }
}

/// One step of a concurrency test: send one more if admitted, or complete an attempt in flight.
#[derive(Clone, Debug)]
enum Op {
    Send,
    Complete(usize, u16),
}

fn ops() -> impl Strategy<Value = Vec<(Nanos, Op)>> {
    let status =
        prop_oneof![4 => Just(200u16), 3 => Just(429u16), 1 => Just(503u16), 1 => Just(0u16)];
    let op = prop_oneof![
        Just(Op::Send),
        (any::<usize>(), status).prop_map(|(i, s)| Op::Complete(i, s)),
    ];
    prop::collection::vec((step(), op), 1..120)
}

fn respond(req: RequestInfo, sent_at: Nanos, now: Nanos, status: u16) -> Response {
    if status == 0 {
        Response::timeout(req, sent_at, now - sent_at)
    } else {
        reply(req, sent_at, now, status)
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Semaphore: in flight never exceeds the permits, and it admits exactly while below them.
    #[test]
    fn semaphore_never_exceeds_its_permits(permits in 1u32..8, ops in ops()) {
        let mut s = Semaphore::new(permits);
        let mut flying: Vec<(Nanos, RequestInfo)> = vec![];
        let mut now = 0;
        for (id, (dt, op)) in ops.into_iter().enumerate() {
            now += dt;
            match op {
                Op::Send => {
                    let r = req(id as u64, 1);
                    let a = s.poll_admit(now, &r);
                    if (flying.len() as u32) < permits {
                        prop_assert_eq!(a, Admit::Now);
                        s.on_send(now, &r);
                        flying.push((now, r));
                    } else {
                        prop_assert_eq!(a, Admit::WhenSomethingCompletes);
                    }
                }
                Op::Complete(i, status) if !flying.is_empty() => {
                    let (sent, r) = flying.remove(i % flying.len());
                    s.on_response(now, &respond(r, sent, now, status));
                }
                Op::Complete(..) => {}
            }
            prop_assert!(flying.len() as u32 <= permits);
            prop_assert_eq!(s.in_flight(), flying.len() as u32);
        }
    }

    /// Fixed delay: never two in flight, and each send comes at least `delay` after the
    /// previous reply (admitted as soon as both hold).
    #[test]
    fn fixed_delay_one_at_a_time_with_the_pause(delay in 0u64..3 * SECOND, ops in ops()) {
        let mut s = FixedDelay::new(delay);
        let mut flying: Option<(Nanos, RequestInfo)> = None;
        let mut last_reply: Option<Nanos> = None;
        let mut now = 0;
        for (id, (dt, op)) in ops.into_iter().enumerate() {
            now += dt;
            match op {
                Op::Send => {
                    let r = req(id as u64, 1);
                    let a = s.poll_admit(now, &r);
                    let ready = last_reply.map_or(0, |t| t + delay);
                    if flying.is_some() {
                        prop_assert_eq!(a, Admit::WhenSomethingCompletes);
                    } else if now < ready {
                        prop_assert_eq!(a, Admit::At(ready));
                    } else {
                        prop_assert_eq!(a, Admit::Now);
                        s.on_send(now, &r);
                        flying = Some((now, r));
                    }
                }
                Op::Complete(_, status) => {
                    if let Some((sent, r)) = flying.take() {
                        s.on_response(now, &respond(r, sent, now, status));
                        last_reply = Some(now);
                    }
                }
            }
        }
    }

    /// AIMD: the window stays in [min, max]; it admits exactly while in flight < ⌊w⌋; only a
    /// 429 shrinks it, by `decrease` (floored at min), and at most once per round trip (only a
    /// 429 to an attempt sent at or after the last decrease); a success never shrinks it.
    #[test]
    fn aimd_window_stays_in_bounds_and_shrinks_once_per_round_trip(
        min in 1u32..5,
        span in 0u32..40,
        initial_frac in 0.0f64..=1.0,
        increase in 0.1f64..4.0,
        decrease in 0.05f64..0.95,
        ops in ops(),
    ) {
        let (min, max) = (f64::from(min), f64::from(min + span));
        let initial = min + (max - min) * initial_frac;
        let mut s = Aimd::new(initial, min, max, increase, decrease);
        let mut flying: Vec<(Nanos, RequestInfo)> = vec![];
        let mut last_decrease: Option<Nanos> = None;
        let mut now = 0;
        for (id, (dt, op)) in ops.into_iter().enumerate() {
            now += dt;
            let before = s.window();
            prop_assert!((min..=max).contains(&before), "window {} outside [{}, {}]", before, min, max);
            match op {
                Op::Send => {
                    let r = req(id as u64, 1);
                    let a = s.poll_admit(now, &r);
                    if (flying.len() as f64) < before.floor() {
                        prop_assert_eq!(a, Admit::Now);
                        s.on_send(now, &r);
                        flying.push((now, r));
                    } else {
                        prop_assert_eq!(a, Admit::WhenSomethingCompletes);
                    }
                }
                Op::Complete(i, status) if !flying.is_empty() => {
                    let (sent, r) = flying.remove(i % flying.len());
                    s.on_response(now, &respond(r, sent, now, status));
                    let step = AimdStep { before, after: s.window(), min, max, decrease };
                    step.check(status, sent, now, &mut last_decrease)?;
                }
                Op::Complete(..) => {}
            }
        }
    }
}

/// One reply's move of an AIMD quantity (a window or a rate) kept in `[min, max]`.
struct AimdStep {
    before: f64,
    after: f64,
    min: f64,
    max: f64,
    decrease: f64,
}

impl AimdStep {
    /// A success never shrinks it (nor past `max`); a 429 to an attempt sent at or after the
    /// last decrease multiplies it by `decrease` (floored at `min`) and is the new last
    /// decrease; any other reply leaves it.
    fn check(
        &self,
        status: u16,
        sent: Nanos,
        now: Nanos,
        last_decrease: &mut Option<Nanos>,
    ) -> Result<(), TestCaseError> {
        let AimdStep {
            before,
            after,
            min,
            max,
            decrease,
        } = *self;
        match status {
            200 => prop_assert!(after >= before && after <= max),
            429 if last_decrease.is_none_or(|d| sent >= d) => {
                prop_assert_eq!(after, (before * decrease).max(min));
                *last_decrease = Some(now);
            }
            _ => prop_assert_eq!(after, before, "status {} moved it", status),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Retry policies.

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
    ]
}

fn backoff() -> impl Strategy<Value = (Nanos, Nanos, f64, Jitter)> {
    (0u64..5 * SECOND, 0u64..120 * SECOND, 1.0f64..5.0, jitter())
        .prop_map(|(base, extra, m, j)| (base, base + extra, m, j))
}

fn retry(
    (base, cap, multiplier, jitter): (Nanos, Nanos, f64, Jitter),
    max_attempts: u32,
    honor: bool,
    seed: u64,
) -> ExponentialRetry {
    ExponentialRetry::new(
        Backoff {
            base,
            cap,
            min: 0,
            multiplier,
            jitter,
        },
        GiveUp {
            retry_after: if honor {
                RetryAfter::AtLeast
            } else {
                RetryAfter::Ignore
            },
            ..GiveUp::new(RetryOn::ALL, max_attempts)
        },
        Draws::new(seed),
    )
}

proptest! {
    #![proptest_config(config(256))]

    /// Every computed delay is within [0, cap]: no jitter is the ceiling itself, equal jitter is
    /// in [ceiling/2, ceiling], decorrelated in [base, cap]; ceilings never shrink with n.
    #[test]
    fn retry_delays_stay_within_their_bounds(
        b in backoff(),
        seed in any::<u64>(),
        client in 0u32..4,
        id in 0u64..1_000_000,
    ) {
        let (base, cap, multiplier, jitter) = b;
        let r = retry(b, 30, false, seed);
        let mut prev_ceiling = 0;
        for n in 1..30 {
            let c = exponential_ceiling(base, cap, multiplier, n);
            prop_assert!(c >= prev_ceiling && c <= cap && (n > 1 || c == base));
            prev_ceiling = c;
            let d = r.delay(client, id, n);
            prop_assert!(d <= cap, "delay {} above cap {}", d, cap);
            match jitter {
                Jitter::None => prop_assert_eq!(d, c),
                Jitter::Full => prop_assert!(d <= c),
                Jitter::Equal => prop_assert!(d >= c / 2 && d <= c),
                Jitter::Decorrelated => prop_assert!(d >= base && d <= cap),
            }
            prop_assert_eq!(d, r.delay(client, id, n), "a delay is a pure function of its key");
        }
    }

}

proptest! {
    // Each case draws 6000 delays; a few cases are plenty by default.
    #![proptest_config(config(16))]

    /// Full jitter's mean over many draws is half the exponential ceiling: within 5%, which is
    /// 6.7 standard errors at 6000 draws (the standard deviation of a uniform on [0, c] is
    /// c/√12, so the mean's relative standard error is 0.577/√6000 = 0.75%). With 1500 draws
    /// and the same 5% (3.4 standard errors) a deep run found a fluke (kept as a regression).
    #[test]
    fn full_jitter_mean_is_half_the_ceiling(
        base in 1_000u64..5 * SECOND,
        n in 1u32..8,
        seed in any::<u64>(),
        client in 0u32..4,
    ) {
        let r = retry((base, 1000 * base, 2.0, Jitter::Full), 10, false, seed);
        let c = exponential_ceiling(base, 1000 * base, 2.0, n) as f64;
        let draws = 6000;
        let mean = (0..draws).map(|id| r.delay(client, id, n) as f64).sum::<f64>() / draws as f64;
        prop_assert!((mean / (c / 2.0) - 1.0).abs() < 0.05, "mean {} vs ceiling/2 {}", mean, c / 2.0);
    }

}

proptest! {
    #![proptest_config(config(256))]

    /// `retry_at`: never before now; `Retry-After`, when honoured, is never undercut; attempts
    /// never exceed `max_attempts`; only retryable failures are retried.
    #[test]
    fn retry_at_honours_retry_after_and_max_attempts(
        b in backoff(),
        max_attempts in 1u32..8,
        honor in any::<bool>(),
        seed in any::<u64>(),
        now in 0u64..1_000 * SECOND,
        attempt in 1u32..10,
        status in prop_oneof![Just(200u16), Just(429u16), Just(500u16), Just(503u16), Just(413u16), Just(0u16)],
        retry_after in proptest::option::of(0u64..100).prop_map(|s| s.map(|s| s * SECOND)),
    ) {
        let mut r = retry(b, max_attempts, honor, seed);
        let mut request = req(7, 1);
        request.attempt = attempt;
        let mut resp = respond(request, now / 2, now, status);
        resp.retry_after = retry_after;
        let at = r.retry_at(now, &resp).ok();
        let retryable = matches!(resp.outcome, Outcome::RateLimited | Outcome::ServerError | Outcome::Timeout);
        prop_assert_eq!(at.is_some(), retryable && attempt < max_attempts);
        if let Some(at) = at {
            prop_assert_eq!(at - now >= r.delay(0, 7, attempt), true);
            prop_assert!(at <= now + r.delay(0, 7, attempt) + retry_after.unwrap_or(0));
            if let (true, Some(ra)) = (honor, retry_after) {
                prop_assert!(at >= now + ra, "Retry-After {} undercut: {} after now", ra, at - now);
            } else {
                prop_assert_eq!(at, now + r.delay(0, 7, attempt));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The breaker.

proptest! {
    #![proptest_config(config(256))]

    /// Breaker: nothing is admitted while open; it opens for exactly `open_ms` and half-opens
    /// only after it; half-open it lets at most `half_open_probes` through; only `fail_fast`
    /// rejects. Its moves agree with a small reference model: `consecutive_failures` counted
    /// failures in a row open it, a success resets the count, a failed probe reopens it, all
    /// probes succeeding closes it, and replies to attempts sent before its last state change
    /// do not move it.
    #[test]
    fn breaker_admits_nothing_while_open(
        threshold in 1u32..5,
        open_for in 1u64..5 * SECOND,
        probes in 1u32..4,
        fail_fast in any::<bool>(),
        ops in ops(),
    ) {
        let mut b = Breaker::new(threshold, open_for, probes, fail_fast);
        let mut flying: Vec<(Nanos, RequestInfo)> = vec![];
        let mut opened: Option<(Nanos, Nanos)> = None;
        let mut probes_sent = 0;
        let mut was_half_open = false;
        // A small reference model of what moves it: the time of its last state change,
        // consecutive counted failures while closed, successful probes while half-open.
        let mut last_change = 0;
        let (mut consecutive, mut probes_ok) = (0u32, 0u32);
        let mut now = 0;
        for (id, (dt, op)) in ops.into_iter().enumerate() {
            now += dt;
            let state = b.state_at(now);
            if state == BreakerState::HalfOpen {
                let (at, until) = opened.expect("half-open without having opened");
                prop_assert!(now >= at + open_for && now >= until, "half-open at {} before {}+{}", now, at, open_for);
                if !was_half_open {
                    probes_sent = 0;
                    probes_ok = 0;
                    last_change = until;
                }
            }
            was_half_open = state == BreakerState::HalfOpen;
            match op {
                Op::Send => {
                    let r = req(id as u64, 1);
                    match b.poll_admit(now, &r) {
                        Admit::Now => {
                            prop_assert!(!matches!(state, BreakerState::Open { .. }), "admitted while open at {}", now);
                            b.on_send(now, &r);
                            flying.push((now, r));
                            if state == BreakerState::HalfOpen {
                                probes_sent += 1;
                                prop_assert!(probes_sent <= probes, "{} probes > {}", probes_sent, probes);
                            }
                        }
                        Admit::Reject => prop_assert!(fail_fast && state != BreakerState::Closed),
                        Admit::Shed => prop_assert!(false, "a breaker never sheds"),
                        Admit::At(t) => {
                            prop_assert!(!fail_fast);
                            prop_assert_eq!(state, BreakerState::Open { until: t });
                        }
                        Admit::WhenSomethingCompletes => {
                            prop_assert!(!fail_fast && state == BreakerState::HalfOpen);
                        }
                    }
                }
                Op::Complete(i, status) if !flying.is_empty() => {
                    let (sent, r) = flying.remove(i % flying.len());
                    b.on_response(now, &respond(r, sent, now, status));
                    let after = b.state_at(now);
                    let failed = status != 200;
                    let expected = if sent < last_change {
                        state // sent before the last change: it does not move the breaker
                    } else {
                        match state {
                            BreakerState::Closed if failed => {
                                consecutive += 1;
                                if consecutive >= threshold {
                                    BreakerState::Open { until: now + open_for }
                                } else {
                                    state
                                }
                            }
                            BreakerState::Closed => {
                                consecutive = 0;
                                state
                            }
                            BreakerState::HalfOpen if failed => BreakerState::Open { until: now + open_for },
                            BreakerState::HalfOpen => {
                                probes_ok += 1;
                                if probes_ok >= probes { BreakerState::Closed } else { state }
                            }
                            BreakerState::Open { .. } => state,
                        }
                    };
                    prop_assert_eq!(after, expected, "reply to an attempt sent at {} (last change {}) at {}", sent, last_change, now);
                    if after != state {
                        last_change = now;
                        consecutive = 0;
                    }
                    if let BreakerState::Open { until } = after
                        && state != after
                    {
                        prop_assert_eq!(until, now + open_for, "opened for the wrong time");
                        prop_assert!(status != 200, "a success opened the breaker");
                        opened = Some((now, until));
                        was_half_open = false;
                    }
                    if after == BreakerState::Closed && state == BreakerState::HalfOpen {
                        prop_assert_eq!(status, 200);
                    }
                }
                Op::Complete(..) => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Draws.

proptest! {
    #![proptest_config(config(256))]

    /// Draws are addressed: a key's draw does not depend on which other draws were made first
    /// (another client, another request), every key part changes it, `unit_open` stays inside
    /// (0, 1) and `uniform_upto` inside 0..=max.
    #[test]
    fn draws_are_addressable_and_in_range(
        seed in any::<u64>(),
        client in 0u32..100,
        id in 0u64..1u64 << 40,
        attempt in 1u32..1000,
        // Few distinct clients, requests and attempts, so that the cache's slots are shared.
        others in prop::collection::vec((0u32..17, 0u64..100, 1u32..3), 0..40),
        max in any::<u64>(),
    ) {
        let d = Draws::new(seed);
        let first = d.u64(Purpose::Jitter, client, id, attempt);
        // `Draws` is a stateless key; the state is in `DrawCache`, which must give the same
        // draw however the other keys were interleaved before and after it.
        let mut cache = DrawCache::new(d, Purpose::Jitter);
        for &(c, i, a) in &others {
            prop_assert_eq!(cache.u64(c, i, a), d.u64(Purpose::Jitter, c, i, a));
        }
        prop_assert_eq!(cache.u64(client, id, attempt), first);
        for &(c, i, a) in others.iter().rev() {
            prop_assert_eq!(cache.u64(c, i, a), d.u64(Purpose::Jitter, c, i, a));
        }
        prop_assert_eq!(cache.u64(client, id, attempt), first);
        prop_assert_ne!(first, d.u64(Purpose::Jitter, client + 1, id, attempt));
        prop_assert_ne!(first, d.u64(Purpose::Jitter, client, id + 1, attempt));
        prop_assert_ne!(first, d.u64(Purpose::Jitter, client, id, attempt + 1));
        prop_assert_ne!(first, d.u64(Purpose::Latency, client, id, attempt));
        let u = unit_open(first);
        prop_assert!(u > 0.0 && u < 1.0);
        prop_assert!(uniform_upto(first, max) <= max);
        prop_assert!(uniform_upto(first, max) <= uniform_upto(first.saturating_add(1), max));
    }
}

// ---------------------------------------------------------------------------------------------
// The adaptive kinds that find the limit themselves, and the libraries' retry loops.

fn build_admission(toml_table: &str) -> ratelab_strategies::Layer {
    let spec: ratelab_strategies::admission::AdmissionSpec = toml::from_str(toml_table).unwrap();
    spec.build(Draws::new(0))
}

proptest! {
    #![proptest_config(config(256))]

    /// aimd_rate: the rate stays in [min, max]; a send is admitted exactly from `cost/rate`
    /// after the previous one on; only a 429 lowers the rate, by `decrease`, at most once per
    /// round trip; a success never lowers it.
    #[test]
    fn aimd_rate_stays_in_bounds_and_paces_by_its_rate(
        min in 0.01f64..5.0,
        span in 0.0f64..100.0,
        frac in 0.0f64..=1.0,
        increase in 0.01f64..10.0,
        decrease in 0.05f64..0.95,
        ops in ops(),
    ) {
        let max = min + span;
        let initial = (min + span * frac).min(max);
        let cfg: AimdRateConfig = toml::from_str(&format!(
            "initial_per_s = {initial}\nmin_per_s = {min}\nmax_per_s = {max}\nincrease_per_s = {increase}\ndecrease = {decrease}"
        )).unwrap();
        let mut s = cfg.build(Draws::new(0));
        let mut flying: Vec<(Nanos, RequestInfo)> = vec![];
        let mut last_send: Option<Nanos> = None;
        let mut last_decrease: Option<Nanos> = None;
        let mut now = 0;
        for (id, (dt, op)) in ops.into_iter().enumerate() {
            now += dt;
            let before = s.rate();
            prop_assert!(before >= min && before <= max, "rate {} outside [{}, {}]", before, min, max);
            match op {
                Op::Send => {
                    let r = req(id as u64, 1);
                    let earliest = last_send.map_or(0, |t| t + (SECOND as f64 / before).ceil() as Nanos);
                    let a = s.poll_admit(now, &r);
                    if now >= earliest {
                        prop_assert_eq!(a, Admit::Now);
                        s.on_send(now, &r);
                        flying.push((now, r));
                        last_send = Some(now);
                    } else {
                        prop_assert_eq!(a, Admit::At(earliest));
                    }
                }
                Op::Complete(i, status) if !flying.is_empty() => {
                    let (sent, r) = flying.remove(i % flying.len());
                    s.on_response(now, &respond(r, sent, now, status));
                    let step = AimdStep { before, after: s.rate(), min, max, decrease };
                    step.check(status, sent, now, &mut last_decrease)?;
                }
                Op::Complete(..) => {}
            }
        }
    }

    /// aws_adaptive: off (admitting everything) until the first 429; from then on the fill
    /// rate never drops below the floor; right after a throttle it is `β · min(measured,
    /// previous fill rate)` (or the floor), and never above twice the measured rate (or the
    /// floor); CUBIC climbs back: with successes only, the fill rate never falls between
    /// throttles while the measured rate holds.
    #[test]
    fn aws_adaptive_is_off_until_a_throttle_and_keeps_its_bounds(ops in ops()) {
        let mut s = toml::from_str::<AwsAdaptiveConfig>("").unwrap().build(Draws::new(0));
        let mut flying: Vec<(Nanos, RequestInfo)> = vec![];
        let mut throttled = false;
        let mut now = 0;
        for (id, (dt, op)) in ops.into_iter().enumerate() {
            now += dt;
            match op {
                Op::Send => {
                    let r = req(id as u64, 1);
                    let a = s.poll_admit(now, &r);
                    if !throttled {
                        prop_assert_eq!(a, Admit::Now);
                    }
                    if a == Admit::Now {
                        s.on_send(now, &r);
                        flying.push((now, r));
                    } else {
                        prop_assert!(matches!(a, Admit::At(t) if t > now));
                    }
                }
                Op::Complete(i, status) if !flying.is_empty() => {
                    let (sent, r) = flying.remove(i % flying.len());
                    let fill_before = s.fill_rate();
                    s.on_response(now, &respond(r, sent, now, status));
                    let measured = s.measured_rate();
                    prop_assert!(s.fill_rate() >= 0.5);
                    prop_assert!(s.fill_rate() <= (2.0 * measured).max(0.5) + 1e-9);
                    if status == 429 {
                        let used = if throttled { measured.min(fill_before) } else { measured };
                        let expected = (0.7 * used).min(2.0 * measured).max(0.5);
                        prop_assert!((s.fill_rate() - expected).abs() <= 1e-9 * expected.max(1.0),
                            "after a throttle {} (expected {})", s.fill_rate(), expected);
                        throttled = true;
                    }
                    prop_assert_eq!(s.enabled(), throttled);
                }
                Op::Complete(..) => {}
            }
        }
    }

    /// header_pacing: one request in flight until the first reply; after a 429 with a
    /// Retry-After nothing is admitted before it has passed.
    #[test]
    fn header_pacing_probes_once_and_respects_retry_after(
        ops in ops(),
        remaining in 0u64..50,
        reset in 0u64..10 * SECOND,
        retry_after in 0u64..30,
    ) {
        let mut s = build_admission(r#"kind = "header_pacing""#);
        let mut flying: Vec<(Nanos, RequestInfo)> = vec![];
        let mut replies = 0;
        let mut quiet_until = 0;
        let mut now = 0;
        for (id, (dt, op)) in ops.into_iter().enumerate() {
            now += dt;
            match op {
                Op::Send => {
                    let r = req(id as u64, 1);
                    if s.poll_admit(now, &r) == Admit::Now {
                        prop_assert!(replies > 0 || flying.is_empty(), "a second probe");
                        prop_assert!(now >= quiet_until, "sent at {} before Retry-After ends at {}", now, quiet_until);
                        s.on_send(now, &r);
                        flying.push((now, r));
                    }
                }
                Op::Complete(i, status) if !flying.is_empty() => {
                    let (sent, r) = flying.remove(i % flying.len());
                    let mut resp = respond(r, sent, now, status);
                    resp.remaining_requests = Some(remaining);
                    resp.reset_requests = Some(reset);
                    if status == 429 {
                        resp.retry_after = Some(retry_after * SECOND);
                        quiet_until = quiet_until.max(now + retry_after * SECOND);
                    }
                    s.on_response(now, &resp);
                    replies += 1;
                }
                Op::Complete(..) => {}
            }
        }
    }

    /// tenacity: the wait after attempt n is `max(min, min(multiplier·exp_base^(n−1), max))`
    /// plus at most `jitter_s`, and without jitter it never shrinks from one attempt to the next;
    /// openai_python: the wait is the Retry-After when it is in (0, 120 s], otherwise 75–100 % of
    /// `min(0.5·2^(n−1), 8)` s, and no request gets more than `max_retries` retries.
    #[test]
    fn the_libraries_waits_keep_their_published_bounds(
        multiplier in 0.0f64..5.0,
        min_s in 0.0f64..10.0,
        max_s in 0.0f64..100.0,
        exp_base in 1.0f64..4.0,
        jitter_s in prop_oneof![Just(0.0f64), 0.0f64..3.0],
        max_retries in 0u32..6,
        n in 1u32..12,
        id in 0u64..1000,
        retry_after in proptest::option::of(0u64..200),
    ) {
        let cfg: TenacityConfig = toml::from_str(&format!(
            "multiplier = {multiplier}\nmin_s = {min_s}\nmax_s = {max_s}\nexp_base = {exp_base}\njitter_s = {jitter_s}\nstop_after_attempt = 20"
        )).unwrap();
        let t = RetryKind::build(&cfg, Draws::new(id));
        let base = min_s.max((multiplier * exp_base.powi(n as i32 - 1)).min(max_s));
        let d = t.delay(0, id, n) as f64 / SECOND as f64;
        prop_assert!(d >= base - 1e-6 && d <= base + jitter_s + 1e-6, "wait {} for base {}", d, base);
        if jitter_s == 0.0 {
            prop_assert!(t.delay(0, id, n + 1) >= t.delay(0, id, n));
        }

        let cfg: OpenAiPythonConfig = toml::from_str(&format!("max_retries = {max_retries}")).unwrap();
        let mut p = RetryKind::build(&cfg, Draws::new(id));
        let mut r = req(id, 1);
        r.attempt = n;
        let mut resp = reply(r, 0, 0, 429);
        resp.retry_after = retry_after.map(|s| s * SECOND);
        let at = p.retry_at(0, &resp);
        match (at, retry_after) {
            (Ok(_), _) if n > max_retries => prop_assert!(false, "retry {} beyond max_retries {}", n, max_retries),
            (Err(DeadLetterReason::RetryAfterTooLong), Some(ra)) => prop_assert!(ra > 120),
            (Err(DeadLetterReason::Attempts), _) => prop_assert!(n > max_retries),
            (Ok(at), Some(ra)) if ra > 0 => prop_assert_eq!(at, ra * SECOND),
            (Ok(at), _) => {
                let c = (0.5 * 2f64.powi(n as i32 - 1)).min(8.0);
                let s = at as f64 / SECOND as f64;
                prop_assert!(s >= 0.75 * c - 1e-9 && s <= c + 1e-9, "wait {} for ceiling {}", s, c);
            }
            (other, _) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
