//! Modelled rate-limited APIs: the server side as a sans-IO state machine.
//!
//! [`ApiModel::handle`] decides at the instant a request is sent: it checks every limit and
//! commits only if all admit, then samples the service latency. The simulator, the mock server
//! and test responders all run this one implementation.

pub mod background;
pub mod latency;
pub mod limits;
pub mod schedule;
pub mod servers;

pub use background::BackgroundSpec;
pub use latency::{LatencySampler, LatencySpec};
pub use limits::{Limit, LimitSpec, LimitState};
pub use schedule::{OutageMode, OutageSpec, ScheduleEntry};

use background::Background;
use limits::OccRow;
use servers::Servers;

use std::collections::VecDeque;

use ratelab_strategies::config::{Checker, MAX_MS};
use ratelab_strategies::draws::{BACKGROUND_CLIENT, DrawCache, Draws, Purpose};
use ratelab_strategies::time::{Nanos, SECOND, ms_to_nanos, secs_to_nanos};
use ratelab_strategies::{RateLimitHeaders, RequestInfo, Response};
use serde::{Deserialize, Serialize};

/// The `[api]` table of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSpec {
    /// Every limit must admit a request (e.g. RPM and TPM).
    #[serde(default)]
    pub limits: Vec<LimitSpec>,
    /// Service latency of admitted requests.
    pub latency: LatencySpec,
    /// Latency of a 429 or 413, ms (default 5).
    #[serde(default = "default_rejected_latency_ms")]
    pub rejected_latency_ms: f64,
    /// Rejected requests count against the limits too (default false).
    #[serde(default)]
    pub count_rejected: bool,
    /// A 429 carries `Retry-After` (default true).
    #[serde(default = "yes")]
    pub retry_after: bool,
    /// How precise that `Retry-After` is: whole seconds (`"s"`, the default) or the exact wait
    /// rounded up to 1 ms (`"ms"`, sent by `ratelab serve` as `retry-after-ms`).
    #[serde(default, skip_serializing_if = "RetryAfterPrecision::is_seconds")]
    pub retry_after_precision: RetryAfterPrecision,
    /// Replies carry `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` (default true).
    #[serde(default = "yes")]
    pub headers: bool,
    /// Server errors on admitted requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorsSpec>,
    /// A client that collects too many 429s is refused everything for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban: Option<BanSpec>,
    /// At most this many requests are served at once; the others wait in FIFO order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<u32>,
    /// With `servers`: a request that finds this many waiting is answered 503 (default:
    /// unbounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_limit: Option<u64>,
    /// Other tenants' traffic on the same limits and servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<BackgroundSpec>,
    /// Intervals during which the API answers 503, refuses connections or hangs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<OutageSpec>,
    /// Changes of the limits, latency, errors or servers during the run (`[[api.schedule]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduleEntry>,
}

/// `[api] retry_after_precision`: the unit a 429's `Retry-After` is rounded up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryAfterPrecision {
    /// Whole seconds, at least 1 s (what the `Retry-After` header can say).
    #[default]
    #[serde(rename = "s")]
    Seconds,
    /// The exact wait rounded up to 1 ms (what `retry-after-ms` says).
    #[serde(rename = "ms")]
    Milliseconds,
}

impl RetryAfterPrecision {
    /// The default, whole seconds (kept out of the scenario's echo).
    pub fn is_seconds(&self) -> bool {
        *self == RetryAfterPrecision::Seconds
    }

    /// The `Retry-After` that answers a `wait` (> 0) at this precision, in nanoseconds.
    #[inline]
    pub fn retry_after(self, wait: Nanos) -> Nanos {
        match self {
            RetryAfterPrecision::Seconds => retry_after_secs(wait),
            RetryAfterPrecision::Milliseconds => retry_after_millis(wait),
        }
    }
}

/// Most servers (`[api] servers`).
pub const MAX_SERVERS: u32 = 1_000_000;

fn default_rejected_latency_ms() -> f64 {
    5.0
}
fn yes() -> bool {
    true
}

/// `errors = { probability, status = 500 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorsSpec {
    /// Chance that an admitted attempt fails, 0..=1.
    pub probability: f64,
    /// Status of the failure: 408, 409 or 500..=599 (default 500).
    #[serde(default = "default_error_status")]
    pub status: u16,
}

fn default_error_status() -> u16 {
    500
}

impl ErrorsSpec {
    /// Checks the fields (`c` prefixed `…errors`).
    pub fn check(&self, c: &mut Checker) {
        c.number("probability", self.probability, 0.0, 1.0);
        if !matches!(self.status, 408 | 409 | 500..=599) {
            c.fail(
                "status",
                format!("must be 408, 409 or in 500..=599 (got {})", self.status),
            );
        }
    }

    /// The probability as a threshold on a uniform draw, and the status.
    fn threshold(&self) -> (u64, u16) {
        (probability_threshold(self.probability), self.status)
    }
}

/// `ban = { after_429, within_s, duration_s }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanSpec {
    /// 429s that trigger the ban…
    pub after_429: u32,
    /// …within this many seconds.
    pub within_s: f64,
    /// How long the client is refused, s.
    pub duration_s: f64,
}

impl ApiSpec {
    /// Checks every field (`c` prefixed `api`); schedule entries and outages must lie within
    /// `horizon_s`.
    pub fn check(&self, c: &mut Checker, horizon_s: f64) {
        for (i, l) in self.limits.iter().enumerate() {
            l.check(&mut c.nested(&format!("limits[{i}]")));
        }
        let occ = |limits: &[LimitSpec]| {
            limits
                .iter()
                .any(|l| matches!(l, LimitSpec::OptimisticConcurrency(_)))
        };
        if occ(&self.limits) && self.limits.len() > 1 {
            c.fail(
                "limits",
                "optimistic_concurrency models the whole API: it must be the only limit",
            );
        }
        for (i, e) in self.schedule.iter().enumerate() {
            if let Some(l) = &e.limits
                && occ(l) != occ(&self.limits)
            {
                c.fail(
                    &format!("schedule[{i}].limits"),
                    "cannot add or remove optimistic_concurrency during a run",
                );
            }
        }
        self.latency.check(&mut c.nested("latency"));
        c.number("rejected_latency_ms", self.rejected_latency_ms, 0.0, MAX_MS);
        if let Some(e) = &self.errors {
            e.check(&mut c.nested("errors"));
        }
        if let Some(s) = self.servers {
            c.integer("servers", u64::from(s), 1, u64::from(MAX_SERVERS));
        }
        if let Some(q) = self.queue_limit {
            if self.servers.is_none() {
                c.fail(
                    "queue_limit",
                    "needs servers: the queue is the servers' queue",
                );
            }
            c.integer("queue_limit", q, 0, 1 << 40);
        }
        if self.schedule.iter().any(|e| e.servers.is_some()) && self.servers.is_none() {
            c.fail(
                "schedule",
                "an entry sets servers, so [api] servers must be set from the start",
            );
        }
        if let Some(b) = &self.background {
            b.check(&mut c.nested("background"));
        }
        schedule::check_schedule(&self.schedule, horizon_s, c);
        schedule::check_outages(&self.outages, horizon_s, c);
        if let Some(b) = &self.ban {
            let mut c = c.nested("ban");
            c.integer("after_429", u64::from(b.after_429), 1, 1_000_000);
            c.positive("within_s", b.within_s, 0.0, 86_400.0);
            c.positive("duration_s", b.duration_s, 0.0, 30.0 * 86_400.0);
        }
    }

    /// The sustainable rate in requests per second that the limits imply, when they imply one:
    /// the smallest over rate limits (token limits divided by the mean tokens per request) and
    /// concurrency limits (max in flight over the mean latency).
    pub fn capacity_rps(&self, mean_tokens: f64) -> Option<f64> {
        let mean_latency_ms = self.latency.mean_ms(mean_tokens);
        self.limits
            .iter()
            .filter_map(|l| l.capacity_rps(mean_tokens, mean_latency_ms))
            .min_by(f64::total_cmp)
    }

    /// The same API `k` times faster: every limit and the latency (see
    /// [`ratelab_strategies::kind::Kind::scale`]), the latency of rejections, a ban's window
    /// and duration, the other tenants' rate, the outages and the schedule's instants and values.
    pub fn scale(&mut self, k: f64) {
        for l in &mut self.limits {
            l.scale(k);
        }
        self.latency.scale(k);
        self.rejected_latency_ms /= k;
        if let Some(ban) = &mut self.ban {
            ban.within_s /= k;
            ban.duration_s /= k;
        }
        if let Some(b) = &mut self.background {
            b.rate_per_s *= k;
        }
        for o in &mut self.outages {
            o.at_s /= k;
            o.for_s /= k;
        }
        for e in &mut self.schedule {
            e.at_s /= k;
            for l in e.limits.iter_mut().flatten() {
                l.scale(k);
            }
            if let Some(l) = &mut e.latency {
                l.scale(k);
            }
        }
    }

    /// The API changes during a run (a schedule, outages, other tenants, servers or a row under
    /// optimistic concurrency): not the plain model of the fast path.
    pub fn changes(&self) -> bool {
        !self.schedule.is_empty()
            || !self.outages.is_empty()
            || self.background.is_some()
            || self.servers.is_some()
            || self.occ().is_some()
    }

    /// The `optimistic_concurrency` limit, if it is the API's.
    fn occ(&self) -> Option<&limits::OptimisticConcurrencyConfig> {
        self.limits.iter().find_map(|l| match l {
            LimitSpec::OptimisticConcurrency(c) => Some(c),
            _ => None,
        })
    }

    /// A fresh model for a run with `clients` clients.
    pub fn build(&self, draws: Draws, clients: u32) -> ApiModel {
        let limits: Vec<LimitState> = self.limits.iter().map(LimitSpec::build).collect();
        let mut model = ApiModel {
            every_request_fits: every_request_fits(&limits),
            limits,
            latency: self.latency.sampler(),
            rejected_latency: ms_to_nanos(self.rejected_latency_ms),
            count_rejected: self.count_rejected,
            retry_after: self.retry_after,
            retry_after_precision: self.retry_after_precision,
            headers: self.headers,
            error_threshold: self.errors.as_ref().map(ErrorsSpec::threshold),
            ban: self.ban.as_ref().map(|b| Ban {
                after: b.after_429 as usize,
                within: secs_to_nanos(b.within_s),
                duration: secs_to_nanos(b.duration_s),
                clients: vec![ClientBan::default(); clients as usize],
            }),
            latency_draws: DrawCache::new(draws, Purpose::Latency),
            error_draws: DrawCache::new(draws, Purpose::ServerError),
            changing: None,
        };
        if self.changes() {
            let mut c = Changing {
                schedule: self.schedule.clone(),
                next_entry: 0,
                outages: self.outages.iter().map(|o| (o.span(), o.mode)).collect(),
                next_outage: 0,
                outage: None,
                background: self.background.as_ref().map(|b| Background::new(b, draws)),
                servers: self
                    .servers
                    .map(|s| Servers::new(s, self.queue_limit.unwrap_or(u64::MAX))),
                occ: self.occ().map(|o| OccRow::new(o, draws)),
                next_change: 0,
                series: ApiSeries::default(),
                step: SECOND,
            };
            c.next_change = c.next_change();
            model.changing = Some(Box::new(c));
        }
        model
    }
}

/// No limit counts tokens and each admits one unit at some point: no request is a 413.
fn every_request_fits(limits: &[LimitState]) -> bool {
    limits.iter().all(|l| !l.by_tokens() && !l.never_fits(1))
}

/// `p` as a threshold on a uniform `u64`: P(draw < threshold) = p; `u64::MAX` means always.
fn probability_threshold(p: f64) -> u64 {
    if p >= 1.0 {
        u64::MAX
    } else if p > 0.0 {
        (p * 18_446_744_073_709_551_616.0) as u64
    } else {
        0
    }
}

/// What the API answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status: 200, 429, 413, 503 or the configured server error; 0 when the connection
    /// was refused (an outage in `refuse` mode: a transport error, no HTTP answer).
    pub status: u16,
    /// Time from the request to the reply (`Nanos::MAX`: never, an outage in `hang` mode).
    pub latency: Nanos,
    /// `Retry-After` on a 429, when enabled: whole seconds, or whole milliseconds with
    /// `retry_after_precision = "ms"` (as nanoseconds).
    pub retry_after: Option<Nanos>,
    /// The reply carries the `x-ratelimit-*` values ([`ApiModel::headers`], asked right after
    /// [`ApiModel::handle`]): the scenario sends them, and this is neither a 413 nor a ban.
    pub has_headers: bool,
    /// The refusal came from a ban.
    pub banned: bool,
    /// The status is settled when the reply arrives ([`ApiModel::settle`]): a write under
    /// optimistic concurrency, whose conflict depends on writes not yet sent.
    pub settle: bool,
}

impl Reply {
    /// The reply as the client's strategy sees it, without the rate-limit headers (see
    /// [`RateLimitHeaders::apply`]).
    #[inline]
    pub fn to_response(&self, request: RequestInfo, sent_at: Nanos) -> Response {
        if self.status == 0 {
            return Response::connection(request, sent_at, self.latency);
        }
        let mut r = Response::new(request, sent_at, self.status, self.latency);
        r.retry_after = self.retry_after;
        r
    }
}

#[derive(Clone, Debug, Default)]
struct ClientBan {
    recent_429: VecDeque<Nanos>,
    until: Nanos,
}

#[derive(Clone, Debug)]
struct Ban {
    after: usize,
    within: Nanos,
    duration: Nanos,
    clients: Vec<ClientBan>,
}

impl Ban {
    /// Records a 429 sent to `client` at `now`; starts a ban when there were too many.
    #[inline(never)]
    fn record_429(&mut self, client: u32, now: Nanos) {
        let Some(c) = self.clients.get_mut(client as usize) else {
            return;
        };
        c.recent_429.push_back(now);
        while c
            .recent_429
            .front()
            .is_some_and(|&t| t.saturating_add(self.within) <= now)
        {
            c.recent_429.pop_front();
        }
        if c.recent_429.len() >= self.after {
            c.until = now.saturating_add(self.duration);
            c.recent_429.clear();
        }
    }

    fn banned_until(&self, client: u32, now: Nanos) -> Option<Nanos> {
        self.clients
            .get(client as usize)
            .map(|c| c.until)
            .filter(|&u| u > now)
    }
}

/// What the API itself does over time, per series step: other tenants' requests sent and
/// refused, and the longest queue (with `servers`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiSeries {
    /// Other tenants' requests that reached the API.
    pub background: Vec<u64>,
    /// Of those, the ones answered 429.
    pub background_429: Vec<u64>,
    /// Most requests waiting for a server.
    pub queue: Vec<u64>,
}

/// The parts of an API that change during a run (boxed: the plain model does without).
#[derive(Clone, Debug)]
struct Changing {
    schedule: Vec<ScheduleEntry>,
    next_entry: usize,
    /// `((start, end), mode)` of each outage, in order.
    outages: Vec<((Nanos, Nanos), OutageMode)>,
    /// The first outage not yet over.
    next_outage: usize,
    /// The outage in force.
    outage: Option<OutageMode>,
    background: Option<Background>,
    servers: Option<Servers>,
    occ: Option<OccRow>,
    /// The earliest instant at which something above changes.
    next_change: Nanos,
    series: ApiSeries,
    /// Width of a series element.
    step: Nanos,
}

/// What is due next in a [`Changing`] API.
enum Due {
    Outage,
    Entry,
    Background,
}

impl Changing {
    /// The earliest of the next schedule entry, outage edge and background arrival.
    fn next_due(&self) -> Option<(Nanos, Due)> {
        let outage = self
            .outages
            .get(self.next_outage)
            .map(|&((start, end), _)| {
                (if self.outage.is_some() { end } else { start }, Due::Outage)
            });
        let entry = self
            .schedule
            .get(self.next_entry)
            .map(|e| (e.at(), Due::Entry));
        let background = self
            .background
            .as_ref()
            .map(|b| (b.next_at, Due::Background));
        // Ties: outage edges, then schedule entries, then arrivals.
        [outage, entry, background]
            .into_iter()
            .flatten()
            .min_by_key(|(t, _)| *t)
    }

    fn next_change(&self) -> Nanos {
        self.next_due().map_or(Nanos::MAX, |(t, _)| t)
    }

    /// Counts one in `v` at `at`'s step, or raises it to `n` (`max`).
    fn record(v: &mut Vec<u64>, step: Nanos, at: Nanos, n: u64, max: bool) {
        let i = (at / step) as usize;
        if v.len() <= i {
            v.resize(i + 1, 0);
        }
        v[i] = if max { v[i].max(n) } else { v[i] + n };
    }
}

/// A rate-limited API during a run.
#[derive(Clone, Debug)]
pub struct ApiModel {
    limits: Vec<LimitState>,
    /// No limit counts tokens and each admits one unit at some point: no request is a 413.
    every_request_fits: bool,
    latency: LatencySampler,
    rejected_latency: Nanos,
    count_rejected: bool,
    retry_after: bool,
    retry_after_precision: RetryAfterPrecision,
    headers: bool,
    error_threshold: Option<(u64, u16)>,
    ban: Option<Ban>,
    /// Latency draws (cached: requests mostly arrive in order).
    latency_draws: DrawCache,
    /// Server-error draws.
    error_draws: DrawCache,
    /// Schedules, outages, other tenants, servers and the optimistic-concurrency row.
    changing: Option<Box<Changing>>,
}

/// `max(1, ceil(seconds))` of a wait, as whole seconds in nanoseconds (what `Retry-After` says).
pub fn retry_after_secs(wait: Nanos) -> Nanos {
    wait.div_ceil(SECOND).max(1).saturating_mul(SECOND)
}

/// `max(1, ceil(milliseconds))` of a wait, as whole milliseconds in nanoseconds (what
/// `retry-after-ms` says with `retry_after_precision = "ms"`).
pub fn retry_after_millis(wait: Nanos) -> Nanos {
    const MS: Nanos = 1_000_000;
    wait.div_ceil(MS).max(1).saturating_mul(MS)
}

impl ApiModel {
    /// Answers `req`, sent at `now`.
    #[inline(always)]
    pub fn handle(&mut self, now: Nanos, req: &RequestInfo) -> Reply {
        if self.changing.is_some() {
            return self.handle_changing(now, req);
        }
        if let Some(reply) = self.ban_reply(now, req) {
            return reply;
        }
        self.decide::<false>(now, req)
    }

    /// [`ApiModel::handle`] for an API that changes: what is due first, then an outage, a ban
    /// or the decision.
    #[inline(never)]
    fn handle_changing(&mut self, now: Nanos, req: &RequestInfo) -> Reply {
        if self.changing.as_ref().is_some_and(|c| now >= c.next_change) {
            self.advance(now);
        }
        if let Some(mode) = self.changing.as_ref().and_then(|c| c.outage) {
            return self.outage_reply(mode);
        }
        if let Some(reply) = self.ban_reply(now, req) {
            return reply;
        }
        self.decide::<true>(now, req)
    }

    /// The 429 of a ban on `req`'s client, if it is banned at `now`.
    #[inline(always)]
    fn ban_reply(&self, now: Nanos, req: &RequestInfo) -> Option<Reply> {
        let until = self
            .ban
            .as_ref()
            .and_then(|b| b.banned_until(req.client, now))?;
        let mut reply = self.refusal(429);
        reply.banned = true;
        if self.retry_after {
            reply.retry_after = Some(self.retry_after_precision.retry_after(until - now));
        }
        Some(reply)
    }

    /// A refusal with `status` after the rejected latency.
    #[inline]
    fn refusal(&self, status: u16) -> Reply {
        Reply {
            status,
            latency: self.rejected_latency,
            retry_after: None,
            has_headers: false,
            banned: false,
            settle: false,
        }
    }

    #[cold]
    fn outage_reply(&self, mode: OutageMode) -> Reply {
        match mode {
            OutageMode::Unavailable => self.refusal(503),
            OutageMode::Refuse => self.refusal(0),
            OutageMode::Hang => Reply {
                latency: Nanos::MAX,
                ..self.refusal(200)
            },
        }
    }

    /// The limits, the servers and the errors decide `req` at `now`; `CHANGING`: the API has
    /// servers or a row (the plain instantiation has no check for them).
    #[inline(always)]
    fn decide<const CHANGING: bool>(&mut self, now: Nanos, req: &RequestInfo) -> Reply {
        let mut reply = self.refusal(200);
        if !self.every_request_fits && self.limits.iter().any(|l| l.never_fits(req.tokens)) {
            reply.status = 413;
            return reply;
        }
        // One limit that is not the concurrency limit (the usual case) is asked and charged in
        // one step; otherwise every limit is asked before any is charged.
        let mut committed = false;
        let wait = match &mut self.limits[..] {
            [only] if !only.needs_end_of_service() && !CHANGING => {
                let wait = only.wait_or_commit(now, req.tokens);
                committed = wait == 0;
                wait
            }
            limits => limits
                .iter_mut()
                .map(|l| l.wait(now, req.tokens))
                .max()
                .unwrap_or(0),
        };
        if wait > 0 {
            if self.count_rejected {
                for l in self.limits.iter_mut().filter(|l| !l.needs_end_of_service()) {
                    l.commit(now, req.tokens, now);
                }
            }
            reply.status = 429;
            if self.retry_after {
                reply.retry_after = Some(self.retry_after_precision.retry_after(wait));
            }
            if let Some(ban) = &mut self.ban {
                ban.record_429(req.client, now);
            }
        } else {
            reply.latency = self.latency.sample_cached(
                &mut self.latency_draws,
                req.client,
                req.id,
                req.attempt,
                req.tokens,
            );
            if let Some(c) = self.changing.as_mut().filter(|_| CHANGING) {
                match c.served(now, req, reply.latency) {
                    Some(latency) => {
                        reply.latency = latency;
                        reply.settle = c.occ.is_some();
                    }
                    None => {
                        // The queue is full: a 503, and the limits are not charged.
                        let mut full = self.refusal(503);
                        full.has_headers = self.headers;
                        return full;
                    }
                }
            }
            if !committed {
                let end = now.saturating_add(reply.latency);
                for l in &mut self.limits {
                    l.commit(now, req.tokens, end);
                }
            }
            if let Some((threshold, status)) = self.error_threshold {
                let bits = self.error_draws.u64(req.client, req.id, req.attempt);
                if bits < threshold || threshold == u64::MAX {
                    reply.status = status;
                }
            }
        }
        reply.has_headers = self.headers;
        reply
    }

    /// Applies what is due up to `now`, in time order: outage edges, schedule entries and other
    /// tenants' requests (each decided as a client's would be, at its own instant).
    #[cold]
    #[inline(never)]
    fn advance(&mut self, now: Nanos) {
        loop {
            let Some(c) = self.changing.as_mut() else {
                return;
            };
            let Some((at, due)) = c.next_due().filter(|(t, _)| *t <= now) else {
                c.next_change = c.next_change();
                return;
            };
            match due {
                Due::Outage => {
                    if c.outage.is_some() {
                        c.outage = None;
                        c.next_outage += 1;
                    } else {
                        c.outage = Some(c.outages[c.next_outage].1);
                    }
                }
                Due::Entry => {
                    let entry = c.schedule[c.next_entry].clone();
                    c.next_entry += 1;
                    self.apply_entry(at, &entry);
                }
                Due::Background => {
                    let Some(b) = c.background.as_mut() else {
                        return;
                    };
                    let req = RequestInfo {
                        client: BACKGROUND_CLIENT,
                        id: b.next_id,
                        attempt: 1,
                        tokens: b.tokens,
                    };
                    b.advance();
                    if c.outage.is_none() {
                        let status = self.decide::<true>(at, &req).status;
                        if let Some(c) = self.changing.as_mut() {
                            Changing::record(&mut c.series.background, c.step, at, 1, false);
                            if status == 429 {
                                Changing::record(
                                    &mut c.series.background_429,
                                    c.step,
                                    at,
                                    1,
                                    false,
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// From `at` on, the entry's fields are the API's.
    fn apply_entry(&mut self, at: Nanos, entry: &ScheduleEntry) {
        if let Some(specs) = &entry.limits {
            let mut old = std::mem::take(&mut self.limits).into_iter();
            self.limits = specs
                .iter()
                .map(|spec| {
                    let next = spec.build();
                    match old.next() {
                        Some(mut state) => {
                            state.retune(at, next);
                            state
                        }
                        None => next,
                    }
                })
                .collect();
            self.every_request_fits = every_request_fits(&self.limits);
        }
        if let Some(latency) = &entry.latency {
            self.latency = latency.sampler();
        }
        if let Some(errors) = &entry.errors {
            self.error_threshold = Some(errors.threshold());
        }
        if let (Some(servers), Some(c)) = (entry.servers, self.changing.as_mut())
            && let Some(s) = &mut c.servers
        {
            s.resize(at, servers);
        }
    }

    /// Asks the series of what the API itself does, in elements of `step` (the recorder's).
    pub fn record_series(&mut self, step: Nanos) {
        if let Some(c) = &mut self.changing {
            c.step = step.max(1);
        }
    }

    /// What the API itself did up to `end` (other tenants' requests are generated up to then).
    pub fn finish(&mut self, end: Nanos) -> ApiSeries {
        if self.changing.is_some() {
            self.advance(end);
        }
        let Some(c) = self.changing.as_mut() else {
            return ApiSeries::default();
        };
        if c.servers.is_some() && c.series.queue.is_empty() {
            // Servers that served nothing still had a queue: an empty one.
            c.series.queue.push(0);
        }
        std::mem::take(&mut c.series)
    }

    /// Whether the write of `req`, whose reply ([`Reply::settle`]) arrives at `now`, succeeded
    /// (a 409 otherwise). Asked in reply order.
    pub fn settle(&mut self, now: Nanos, req: &RequestInfo) -> bool {
        match self.changing.as_mut().and_then(|c| c.occ.as_mut()) {
            Some(row) => row.settle(now, req),
            None => true,
        }
    }

    /// How long from `now` until a request of `tokens` would be served at once, without a
    /// refusal or a wait in a queue (0: now): what the oracle asks. During an outage, its end.
    pub fn admit_wait(&mut self, now: Nanos, tokens: u64) -> Nanos {
        if let Some(c) = &self.changing
            && now >= c.next_change
        {
            self.advance(now);
        }
        let mut wait = 0;
        if let Some(c) = &self.changing {
            if c.outage.is_some() {
                let ((_, end), _) = c.outages[c.next_outage];
                return end - now;
            }
            if let Some(s) = &c.servers {
                wait = s.wait(now);
            }
        }
        if !self.every_request_fits && self.limits.iter().any(|l| l.never_fits(tokens)) {
            return 0; // a 413 whenever it goes
        }
        self.limits
            .iter_mut()
            .map(|l| l.wait(now, tokens))
            .fold(wait, Nanos::max)
    }

    /// The `x-ratelimit-*` values at `now`: for each unit, what the tightest limit has left,
    /// when it is full again and its capacity. Asked right after [`ApiModel::handle`], for a
    /// reply that [`Reply::has_headers`], they are that reply's; a driver whose clients do not
    /// read them does not ask (they only report the limits' state and change nothing).
    #[inline(never)]
    pub fn headers(&mut self, now: Nanos) -> RateLimitHeaders {
        let mut h = RateLimitHeaders::default();
        for l in &mut self.limits {
            if matches!(l, LimitState::OptimisticConcurrency(_)) {
                continue;
            }
            let (left, reset) = l.headroom(now);
            let (remaining, until, limit) = if l.by_tokens() {
                (
                    &mut h.remaining_tokens,
                    &mut h.reset_tokens,
                    &mut h.limit_tokens,
                )
            } else {
                (
                    &mut h.remaining_requests,
                    &mut h.reset_requests,
                    &mut h.limit_requests,
                )
            };
            if remaining.is_none_or(|r| left < r) {
                *remaining = Some(left);
                *until = Some(reset);
                *limit = Some(l.capacity());
            }
        }
        h
    }
}

impl Changing {
    /// The servers (queue wait added to `service`) and the row (its hops around it) take a
    /// request admitted by the limits at `now`: its latency, or `None` when the queue is full.
    fn served(&mut self, now: Nanos, req: &RequestInfo, service: Nanos) -> Option<Nanos> {
        let mut latency = service;
        if let Some(s) = &mut self.servers {
            latency = s.serve(now, service)?;
            let queued = s.queued(now);
            Changing::record(&mut self.series.queue, self.step, now, queued, true);
        }
        if let Some(row) = &mut self.occ {
            latency = row.send(now, req, latency);
        }
        Some(latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(toml_text: &str) -> ApiModel {
        let spec: ApiSpec = toml::from_str(toml_text).unwrap();
        spec.build(Draws::new(1), 1)
    }

    fn req(id: u64) -> RequestInfo {
        RequestInfo {
            client: 0,
            id,
            attempt: 1,
            tokens: 1,
        }
    }

    #[test]
    fn a_429_says_when_to_come_back_in_whole_seconds() {
        let mut a = api(
            r#"limits = [{ kind = "token_bucket", rate_per_s = 2, burst = 1 }]
               latency = { kind = "fixed", ms = 100 }"#,
        );
        assert_eq!(a.handle(0, &req(0)).status, 200);
        let r = a.handle(0, &req(1));
        assert_eq!(r.status, 429);
        assert_eq!(r.retry_after, Some(SECOND)); // 0.5 s rounded up
        assert_eq!(r.latency, 5 * 1_000_000);
        assert!(r.has_headers);
        let h = a.headers(0);
        assert_eq!(h.remaining_requests, Some(0));
        assert_eq!(h.reset_requests, Some(SECOND / 2));
    }

    #[test]
    fn with_ms_precision_a_429_says_the_exact_wait_rounded_up_to_a_millisecond() {
        // 3 requests/s, burst 1: the bucket is empty after the first, and the next token comes
        // 1/3 s after it, so at 0.1 s the wait is 233.3 ms: 234 ms ("ms") or 1 s ("s").
        let text = r#"limits = [{ kind = "token_bucket", rate_per_s = 3, burst = 1 }]
               latency = { kind = "fixed", ms = 1 }
               ban = { after_429 = 3, within_s = 10, duration_s = 2.5004 }
               retry_after_precision = "#;
        const MS: Nanos = 1_000_000;
        for (precision, first, ban) in [
            ("\"s\"", SECOND, 3 * SECOND),
            ("\"ms\"", 234 * MS, 2500 * MS),
        ] {
            let mut a = api(&format!("{text}{precision}"));
            assert_eq!(a.handle(0, &req(0)).status, 200);
            let r = a.handle(100 * MS, &req(1));
            assert_eq!((r.status, r.retry_after), (429, Some(first)), "{precision}");
            // A third of a millisecond to wait is still a whole one (or a whole second).
            let r = a.handle(333 * MS, &req(2));
            let expected = if precision == "\"ms\"" { MS } else { SECOND };
            assert_eq!(
                (r.status, r.retry_after),
                (429, Some(expected)),
                "{precision}"
            );
            // The third 429 starts a ban of 2.5004 s; 1 ms later 2.499 400 001 s of it remain.
            assert_eq!(a.handle(333 * MS + 1, &req(3)).status, 429);
            let r = a.handle(334 * MS, &req(4));
            assert!(r.banned, "{precision}");
            assert_eq!(r.retry_after, Some(ban), "{precision}");
        }
        assert_eq!(retry_after_millis(1), MS);
        assert_eq!(retry_after_millis(1_500_000_001), 1_501 * MS);
        assert_eq!(retry_after_secs(1_500_000_001), 2 * SECOND);
        // The default is kept out of the echo; "ms" is written as given.
        let spec: ApiSpec = toml::from_str("latency = { kind = \"fixed\", ms = 1 }").unwrap();
        assert_eq!(spec.retry_after_precision, RetryAfterPrecision::Seconds);
        assert!(!toml::to_string(&spec).unwrap().contains("precision"));
        let spec: ApiSpec = toml::from_str(
            "latency = { kind = \"fixed\", ms = 1 }\nretry_after_precision = \"ms\"",
        )
        .unwrap();
        assert!(
            toml::to_string(&spec)
                .unwrap()
                .contains("retry_after_precision = \"ms\"")
        );
        let bad = toml::from_str::<ApiSpec>(
            "latency = { kind = \"fixed\", ms = 1 }\nretry_after_precision = \"us\"",
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("unknown variant `us`, expected `s` or `ms`"),
            "{bad}"
        );
    }

    #[test]
    fn rejected_requests_count_only_when_asked() {
        for (count, expected) in [(false, 200), (true, 429)] {
            let mut a = api(&format!(
                r#"count_rejected = {count}
                   limits = [{{ kind = "sliding_window", limit = 1, window_s = 1 }}]
                   latency = {{ kind = "fixed", ms = 1 }}"#
            ));
            assert_eq!(a.handle(0, &req(0)).status, 200);
            assert_eq!(a.handle(900_000_000, &req(1)).status, 429);
            // The admitted entry has left the window; the rejected one is logged only if counted.
            assert_eq!(
                a.handle(SECOND, &req(2)).status,
                expected,
                "count_rejected = {count}"
            );
        }
        let mut s = api(r#"count_rejected = true
               limits = [{ kind = "token_bucket", rate_per_s = 1, burst = 1 }]
               latency = { kind = "fixed", ms = 1 }"#);
        s.handle(0, &req(0));
        s.handle(0, &req(1)); // rejected, but takes a token anyway: debt
        assert_eq!(s.handle(SECOND, &req(2)).status, 429); // debt paid back, bucket empty
        assert_eq!(s.handle(3 * SECOND, &req(3)).status, 200); // ...and that 429 counted too
    }

    #[test]
    fn too_heavy_is_413_and_a_ban_refuses_everything() {
        let mut a = api(
            r#"limits = [{ kind = "token_bucket", rate_per_min = 60, burst = 1 }]
               latency = { kind = "fixed", ms = 1 }
               ban = { after_429 = 2, within_s = 10, duration_s = 3600 }"#,
        );
        let mut heavy = req(9);
        heavy.tokens = 5;
        assert_eq!(
            a.handle(0, &heavy).status,
            200,
            "request-unit limits ignore tokens"
        );
        assert_eq!(a.handle(0, &req(1)).status, 429);
        assert_eq!(a.handle(0, &req(2)).status, 429); // second 429 within 10 s: banned
        let r = a.handle(5 * SECOND, &req(3));
        assert!(r.banned);
        assert_eq!(r.retry_after, Some(3595 * SECOND));
        assert_eq!(a.handle(3600 * SECOND, &req(4)).status, 200);
        let mut t = api(
            r#"limits = [{ kind = "token_bucket", rate_per_min = 60, burst = 4, unit = "tokens" }]
               latency = { kind = "fixed", ms = 1 }"#,
        );
        assert_eq!(t.handle(0, &heavy).status, 413);
    }

    #[test]
    fn server_errors_follow_the_probability() {
        let mut a = api(r#"latency = { kind = "fixed", ms = 1 }
               errors = { probability = 0.25, status = 503 }"#);
        let errors = (0..4000)
            .filter(|&i| a.handle(0, &req(i)).status == 503)
            .count();
        assert!((900..1100).contains(&errors), "{errors}");
    }
}
