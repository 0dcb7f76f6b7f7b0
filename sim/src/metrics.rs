//! Collects what a run produces: final states, counts, per-second series and latency
//! histograms (hdrhistogram on integer nanoseconds), for the whole run and per client.

use hdrhistogram::Histogram;
use ratelab_strategies::client::Refusal;
use ratelab_strategies::retry::DeadLetterReason;
use ratelab_strategies::time::{Nanos, SECOND, as_secs_f64};
use ratelab_strategies::{Outcome, Response};

use crate::result::{
    AttemptsHistogram, ClientResult, DeadLetter, DeadLetters, LatencySummary, QuantilePoint,
    Series, StopReason, StrategyResult,
};

/// Dead letters listed by id in the result.
const FIRST_DEAD_LETTERS: usize = 20;
/// Clients up to which each gets its own latency histogram.
const CLIENT_HISTOGRAMS_UP_TO: u32 = 256;
/// Quantiles of the latency curve.
const CURVE: [f64; 20] = [
    0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999,
    0.9995, 0.9999, 1.0,
];
/// Most series buckets kept for the whole run, and again for all clients together: each series
/// has a bucket per second until that would exceed this, then per 2, 4, 8… seconds. It bounds
/// the memory of long horizons with many clients (5 series × 8 bytes × 2^21 = 80 MiB).
const SERIES_BUCKETS: u64 = 1 << 21;

/// The bucket width of the series: the smallest power of two in seconds that keeps `scopes`
/// series of `horizon` within `SERIES_BUCKETS`.
pub fn series_step(horizon: Nanos, scopes: u64) -> Nanos {
    let seconds = horizon.div_ceil(SECOND).max(1);
    let mut step = 1u64;
    while scopes.saturating_mul(seconds.div_ceil(step)) > SERIES_BUCKETS {
        step *= 2;
    }
    step * SECOND
}

/// Counts and series for one scope (the whole run, or one client).
#[derive(Default)]
struct Scope {
    requests: u64,
    succeeded: u64,
    dead_lettered: u64,
    rejected: u64,
    shed: u64,
    attempts: u64,
    http_429: u64,
    last_final: Nanos,
    sends: Vec<u64>,
    successes: Vec<u64>,
    rejections: Vec<u64>,
    /// Tokens of the attempts sent.
    tokens: Vec<u64>,
    /// Some attempt weighed other than one token: the series then has its tokens.
    weighted: bool,
    /// Integral of attempts in flight over each bucket, in attempt·ns.
    in_flight_ns: Vec<u64>,
    /// Width of a series bucket (one second unless the run is very long).
    step: Nanos,
    in_flight: u64,
    since: Nanos,
    latency: Option<Histogram<u64>>,
    /// Exact largest latency (the histogram keeps 3 significant digits).
    latency_max: Nanos,
    /// Exact sum of latencies, for an exact mean.
    latency_sum: u128,
    /// The bucket of the latest event, counted here and added to the vectors when a later
    /// bucket begins (or at the end).
    open: OpenBucket,
}

/// The series bucket being filled. Events come in time order (almost always: the live driver
/// may record a few out of order), so a record is a comparison and an addition here instead of
/// a division and a vector write per series; an event before the bucket goes to the vectors.
#[derive(Default)]
struct OpenBucket {
    index: usize,
    start: Nanos,
    /// 0 before the first event, so that any time opens a bucket.
    end: Nanos,
    sends: u64,
    successes: u64,
    rejections: u64,
    tokens: u64,
    in_flight_ns: u64,
}

/// Adds `n` to `v[i]`, growing `v` with zeros as needed (a vector grows only for what it gets).
#[inline]
fn add_at(v: &mut Vec<u64>, i: usize, n: u64) {
    if v.len() <= i {
        v.resize(i + 1, 0);
    }
    v[i] = v[i].saturating_add(n);
}

/// The counted series of a [`Scope`].
#[derive(Clone, Copy)]
enum Counted {
    Sends,
    Successes,
    Rejections,
}

fn histogram(highest: Nanos) -> Option<Histogram<u64>> {
    Histogram::new_with_bounds(1, highest.max(2), 3).ok()
}

impl Scope {
    fn new(requests: u64, highest: Option<Nanos>, step: Nanos) -> Self {
        Scope {
            requests,
            step,
            latency: highest.and_then(histogram),
            ..Scope::default()
        }
    }

    /// An attempt of `tokens` was sent at `now`.
    #[inline]
    fn sent(&mut self, now: Nanos, tokens: u64) {
        self.roll(now);
        self.integrate(now);
        self.in_flight += 1;
        self.attempts += 1;
        self.weighted |= tokens != 1;
        self.count(now, Counted::Sends);
        if now >= self.open.start {
            self.open.tokens += tokens;
        } else {
            add_at(&mut self.tokens, (now / self.step) as usize, tokens);
        }
    }

    /// A reply came at `now`; `limited` when it was a 429.
    #[inline]
    fn replied(&mut self, now: Nanos, limited: bool) {
        self.roll(now);
        self.integrate(now);
        self.in_flight -= 1;
        if limited {
            self.http_429 += 1;
            self.count(now, Counted::Rejections);
        }
    }

    /// A request succeeded at `now`, `latency` after it was ready.
    #[inline]
    fn succeeded(&mut self, now: Nanos, latency: Nanos) {
        self.succeeded += 1;
        self.last_final = now;
        self.roll(now);
        self.count(now, Counted::Successes);
        if let Some(h) = &mut self.latency {
            h.saturating_record(latency);
        }
        self.latency_max = self.latency_max.max(latency);
        self.latency_sum += u128::from(latency);
    }

    /// Moves the open bucket to the one holding `at` if `at` is past it.
    #[inline]
    fn roll(&mut self, at: Nanos) {
        if at >= self.open.end {
            self.flush();
            let index = at / self.step;
            self.open.index = index as usize;
            self.open.start = index * self.step;
            self.open.end = self.open.start.saturating_add(self.step);
        }
    }

    /// Adds the open bucket's counts to the vectors (a vector grows only for a count it gets).
    fn flush(&mut self) {
        let o = &mut self.open;
        for (v, n) in [
            (&mut self.sends, &mut o.sends),
            (&mut self.successes, &mut o.successes),
            (&mut self.rejections, &mut o.rejections),
            (&mut self.tokens, &mut o.tokens),
            (&mut self.in_flight_ns, &mut o.in_flight_ns),
        ] {
            if *n > 0 {
                add_at(v, o.index, std::mem::take(n));
            }
        }
    }

    /// Counts an event at `at` in `series` (after [`Scope::roll`]).
    #[inline]
    fn count(&mut self, at: Nanos, series: Counted) {
        if at >= self.open.start {
            match series {
                Counted::Sends => self.open.sends += 1,
                Counted::Successes => self.open.successes += 1,
                Counted::Rejections => self.open.rejections += 1,
            }
        } else {
            let v = match series {
                Counted::Sends => &mut self.sends,
                Counted::Successes => &mut self.successes,
                Counted::Rejections => &mut self.rejections,
            };
            add_at(v, (at / self.step) as usize, 1);
        }
    }

    /// Integrates attempts in flight up to `now`, bucket by bucket (after [`Scope::roll`]).
    #[inline]
    fn integrate(&mut self, now: Nanos) {
        let t = self.since;
        if self.in_flight > 0 && t < now {
            if t >= self.open.start && now < self.open.end {
                let area = self.in_flight.saturating_mul(now - t);
                self.open.in_flight_ns = self.open.in_flight_ns.saturating_add(area);
            } else {
                self.integrate_across(now);
            }
        }
        self.since = self.since.max(now);
    }

    /// [`Scope::integrate`] over bucket boundaries, straight into the vector.
    fn integrate_across(&mut self, now: Nanos) {
        let mut t = self.since;
        while t < now {
            let bucket = t / self.step;
            let end = now.min((bucket + 1) * self.step);
            let area = self.in_flight.saturating_mul(end - t);
            add_at(&mut self.in_flight_ns, bucket as usize, area);
            t = end;
        }
    }

    fn summary(&self) -> LatencySummary {
        match &self.latency {
            Some(h) if !h.is_empty() => LatencySummary {
                count: h.len(),
                // Exact, like `max`: the histogram's values are bucket bounds, which can lie
                // above the largest latency (a single 400 ms success had p50 = 400.03 ms).
                mean: self.latency_sum as f64 / h.len() as f64 / 1e9,
                p50: as_secs_f64(h.value_at_quantile(0.5).min(self.latency_max)),
                p90: as_secs_f64(h.value_at_quantile(0.9).min(self.latency_max)),
                p99: as_secs_f64(h.value_at_quantile(0.99).min(self.latency_max)),
                max: as_secs_f64(self.latency_max),
            },
            _ => LatencySummary::default(),
        }
    }

    fn series(&self, end: Nanos) -> Series {
        let seconds = [
            end.div_ceil(self.step).max(1) as usize,
            self.sends.len(),
            self.successes.len(),
            self.rejections.len(),
            self.tokens.len(),
            self.in_flight_ns.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(1);
        let fit = |v: &[u64]| {
            let mut v = v.to_vec();
            v.resize(seconds, 0);
            v
        };
        let in_flight = (0..seconds)
            .map(|i| {
                let ns = self.in_flight_ns.get(i).copied().unwrap_or(0);
                let start = i as u64 * self.step;
                let covered = end.saturating_sub(start).clamp(1, self.step);
                (ns as f64 / covered as f64 * 1000.0).round() / 1000.0
            })
            .collect();
        Series {
            step_s: self.step / SECOND,
            sends: fit(&self.sends),
            successes: fit(&self.successes),
            http_429: fit(&self.rejections),
            in_flight,
            tokens: if self.weighted {
                fit(&self.tokens)
            } else {
                Vec::new()
            },
            ..Series::default()
        }
    }

    fn finals(&self) -> u64 {
        self.succeeded + self.dead_lettered + self.rejected + self.shed
    }
}

/// Records a run as it happens and turns it into a result at the end.
pub struct Recorder {
    total: Scope,
    clients: Vec<Scope>,
    http_5xx: u64,
    http_413: u64,
    http_408: u64,
    http_409: u64,
    timeouts: u64,
    transport_errors: u64,
    attempts_ok: Vec<u64>,
    attempts_dead: Vec<u64>,
    dead: DeadLetters,
}

impl Recorder {
    /// A recorder for `clients` clients of `requests` each; latencies up to `horizon`.
    pub fn new(clients: u32, requests: u64, horizon: Nanos) -> Self {
        let per_client = if clients > 1 {
            let hist = (clients <= CLIENT_HISTOGRAMS_UP_TO).then_some(horizon);
            let step = series_step(horizon, u64::from(clients));
            (0..clients)
                .map(|_| Scope::new(requests, hist, step))
                .collect()
        } else {
            Vec::new()
        };
        Recorder {
            total: Scope::new(
                requests * u64::from(clients),
                Some(horizon),
                series_step(horizon, 1),
            ),
            clients: per_client,
            http_5xx: 0,
            http_413: 0,
            http_408: 0,
            http_409: 0,
            timeouts: 0,
            transport_errors: 0,
            attempts_ok: Vec::new(),
            attempts_dead: Vec::new(),
            dead: DeadLetters::default(),
        }
    }

    /// The width of the whole run's series elements.
    pub fn step(&self) -> Nanos {
        self.total.step
    }

    fn each(&mut self, client: u32, mut f: impl FnMut(&mut Scope)) {
        f(&mut self.total);
        if let Some(c) = self.clients.get_mut(client as usize) {
            f(c);
        }
    }

    /// Requests that reached a final state so far.
    pub fn finals(&self) -> u64 {
        self.total.finals()
    }

    /// An attempt of `tokens` was sent at `now`.
    #[inline]
    pub fn sent(&mut self, client: u32, now: Nanos, tokens: u64) {
        self.total.sent(now, tokens);
        if let Some(c) = self.clients.get_mut(client as usize) {
            c.sent(now, tokens);
        }
    }

    /// A reply (or timeout) with `outcome`/`status` reached the client at `now`.
    #[inline]
    pub fn replied(&mut self, client: u32, now: Nanos, outcome: Outcome, status: u16) {
        match outcome {
            Outcome::ServerError => self.http_5xx += 1,
            Outcome::Timeout => self.timeouts += 1,
            Outcome::RequestTimeout => self.http_408 += 1,
            Outcome::Conflict => self.http_409 += 1,
            Outcome::Connection => self.transport_errors += 1,
            Outcome::ClientError if status == 413 => self.http_413 += 1,
            _ => {}
        }
        let limited = outcome == Outcome::RateLimited;
        self.total.replied(now, limited);
        if let Some(c) = self.clients.get_mut(client as usize) {
            c.replied(now, limited);
        }
    }

    /// A request succeeded at `now` after `attempts` attempts, `latency` after it was ready.
    #[inline]
    pub fn succeeded(&mut self, client: u32, now: Nanos, attempts: u32, latency: Nanos) {
        bump_index(&mut self.attempts_ok, attempts);
        self.total.succeeded(now, latency);
        if let Some(c) = self.clients.get_mut(client as usize) {
            c.succeeded(now, latency);
        }
    }

    /// A request was dead-lettered at `now` for `reason` after `last`, the reply (or timeout,
    /// or transport error: status 0) of its last attempt. The dead-letter list names it by that
    /// status and the reason.
    pub fn gave_up(&mut self, now: Nanos, last: &Response, reason: DeadLetterReason) {
        let status = match last.outcome {
            Outcome::Timeout => "timeout".to_string(),
            Outcome::Connection => "connection".to_string(),
            _ if last.status == 0 => "error".to_string(),
            _ => last.status.to_string(),
        };
        let req = last.request;
        bump_index(&mut self.attempts_dead, req.attempt);
        *self.dead.by_last_status.entry(status.clone()).or_insert(0) += 1;
        *self
            .dead
            .by_reason
            .entry(reason.as_str().to_string())
            .or_insert(0) += 1;
        let client = req.client;
        if self.dead.first.len() < FIRST_DEAD_LETTERS {
            self.dead.first.push(DeadLetter {
                client,
                id: req.id,
                attempts: req.attempt,
                last_status: status,
                reason: reason.as_str().to_string(),
                at_s: as_secs_f64(now),
            });
        }
        self.each(client, |s| {
            s.dead_lettered += 1;
            s.last_final = now;
        });
    }

    /// A request was refused for good at `now`: failed fast by an open breaker, or shed by the
    /// client's throttle.
    pub fn rejected(&mut self, client: u32, now: Nanos, refusal: Refusal) {
        self.each(client, |s| {
            match refusal {
                Refusal::Breaker => s.rejected += 1,
                Refusal::Throttle => s.shed += 1,
            }
            s.last_final = now;
        });
    }

    /// Closes the recording at `end` and builds the result of strategy `name`: the makespan is
    /// the time of the last final state when every request is final (`stop` is
    /// [`StopReason::AllFinal`]), `end` otherwise; `events` is what the driver counted. Every
    /// driver (the simulator, the live driver) builds its result here, so they agree on the
    /// definitions.
    pub fn into_result(
        mut self,
        name: &str,
        stop: StopReason,
        end: Nanos,
        events: u64,
    ) -> StrategyResult {
        for s in std::iter::once(&mut self.total).chain(&mut self.clients) {
            s.integrate(end);
            s.flush();
        }
        let t = &self.total;
        let finished = stop == StopReason::AllFinal;
        let secs = as_secs_f64(if finished { t.last_final } else { end });
        let latency_curve = match &t.latency {
            Some(h) if !h.is_empty() => CURVE
                .iter()
                .map(|&q| QuantilePoint {
                    q,
                    s: as_secs_f64(if q >= 1.0 {
                        t.latency_max
                    } else {
                        h.value_at_quantile(q).min(t.latency_max)
                    }),
                })
                .collect(),
            _ => Vec::new(),
        };
        let clients = self
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // A client's own makespan: its last final state, or the run's end if it has
                // work left; its goodput is over that span, so clients can be compared.
                let own = as_secs_f64(if c.finals() == c.requests {
                    c.last_final
                } else {
                    end
                });
                ClientResult {
                    client: i as u32,
                    requests: c.requests,
                    succeeded: c.succeeded,
                    dead_lettered: c.dead_lettered,
                    rejected_by_breaker: c.rejected,
                    rejected_by_throttle: c.shed,
                    in_flight_at_horizon: c.requests - c.finals(),
                    attempts: c.attempts,
                    http_429: c.http_429,
                    makespan_s: own,
                    goodput_rps: if own > 0.0 {
                        c.succeeded as f64 / own
                    } else {
                        0.0
                    },
                    latency_s: c.summary(),
                    series: c.series(end),
                }
            })
            .collect();
        StrategyResult {
            strategy: name.to_string(),
            requests: t.requests,
            succeeded: t.succeeded,
            dead_lettered: t.dead_lettered,
            rejected_by_breaker: t.rejected,
            rejected_by_throttle: t.shed,
            in_flight_at_horizon: t.requests - t.finals(),
            finished,
            stop,
            attempts: t.attempts,
            attempts_per_request: t.attempts as f64 / t.requests.max(1) as f64,
            http_429: t.http_429,
            http_5xx: self.http_5xx,
            http_413: self.http_413,
            http_408: self.http_408,
            http_409: self.http_409,
            timeouts: self.timeouts,
            transport_errors: self.transport_errors,
            makespan_s: secs,
            ideal_makespan_s: None,
            goodput_rps: if secs > 0.0 {
                t.succeeded as f64 / secs
            } else {
                0.0
            },
            latency_s: t.summary(),
            events,
            dead_letter: self.dead,
            attempts_histogram: AttemptsHistogram {
                succeeded: self.attempts_ok,
                dead_lettered: self.attempts_dead,
            },
            latency_curve,
            series: t.series(end),
            clients,
        }
    }
}

fn bump_index(v: &mut Vec<u64>, attempts: u32) {
    add_at(v, attempts.max(1) as usize - 1, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_buckets_widen_only_for_very_long_or_wide_runs() {
        assert_eq!(series_step(3600 * SECOND, 1), SECOND);
        assert_eq!(series_step(3600 * SECOND, 500), SECOND);
        assert_eq!(series_step(30 * 86_400 * SECOND, 1), 2 * SECOND);
        assert_eq!(series_step(30 * 86_400 * SECOND, 20), 32 * SECOND);
        assert_eq!(series_step(3600 * SECOND, 10_000), 32 * SECOND);
    }

    /// Found by the property tests: a single success of 400 ms reported p50 = p90 = p99 =
    /// 400.031743 ms (the histogram bucket's upper bound) above max = 400 ms, and a mean of
    /// 399.900672 ms (the bucket's middle).
    #[test]
    fn latency_summary_is_ordered_and_exact() {
        let mut r = Recorder::new(1, 1, 5 * SECOND);
        r.sent(0, 0, 1);
        r.replied(0, 400_000_000, Outcome::Success, 200);
        r.succeeded(0, 400_000_000, 1, 400_000_000);
        let l = r
            .into_result("t", StopReason::AllFinal, 400_000_000, 0)
            .latency_s;
        assert_eq!((l.count, l.mean, l.max), (1, 0.4, 0.4));
        assert_eq!((l.p50, l.p90, l.p99), (0.4, 0.4, 0.4));
        // Bucket bounds on both sides of the true values.
        let mut r = Recorder::new(1, 2, 5 * SECOND);
        for ns in [399_769_600u64, 400_031_000] {
            r.sent(0, 0, 1);
            r.replied(0, ns, Outcome::Success, 200);
            r.succeeded(0, ns, 1, ns);
        }
        let l = r
            .into_result("t", StopReason::AllFinal, 400_031_000, 0)
            .latency_s;
        assert_eq!(l.max, 0.400031);
        assert!(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, "{l:?}");
        assert_eq!(l.mean, (399_769_600.0 + 400_031_000.0) / 2.0 / 1e9);
    }

    #[test]
    fn tokens_are_counted_only_when_attempts_weigh_them() {
        let mut r = Recorder::new(1, 3, 5 * SECOND);
        for (at, tokens) in [(0, 300), (SECOND / 2, 200), (2 * SECOND, 50)] {
            r.sent(0, at, tokens);
        }
        let s = r
            .into_result("t", StopReason::Horizon, 3 * SECOND, 0)
            .series;
        assert_eq!(s.tokens, vec![500, 0, 50]);
        let mut r = Recorder::new(1, 1, 5 * SECOND);
        r.sent(0, 0, 1);
        let s = r.into_result("t", StopReason::Horizon, SECOND, 0).series;
        assert!(s.tokens.is_empty(), "one token each: no tokens series");
    }
}
