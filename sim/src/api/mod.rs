//! Modelled rate-limited APIs: the server side as a sans-IO state machine.
//!
//! [`ApiModel::handle`] decides at the instant a request is sent: it checks every limit and
//! commits only if all admit, then samples the service latency. The simulator, the mock server
//! and test responders all run this one implementation.

pub mod latency;
pub mod limits;

pub use latency::{LatencySampler, LatencySpec};
pub use limits::{Limit, LimitSpec, LimitState};

use std::collections::VecDeque;

use ratelab_strategies::config::{Checker, MAX_MS};
use ratelab_strategies::draws::{DrawCache, Draws, Purpose};
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
    /// A 429 carries `Retry-After` in whole seconds (default true).
    #[serde(default = "yes")]
    pub retry_after: bool,
    /// Replies carry `x-ratelimit-remaining-*` / `x-ratelimit-reset-*` (default true).
    #[serde(default = "yes")]
    pub headers: bool,
    /// Server errors on admitted requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorsSpec>,
    /// A client that collects too many 429s is refused everything for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ban: Option<BanSpec>,
}

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
    /// Checks every field (`c` prefixed `api`).
    pub fn check(&self, c: &mut Checker) {
        for (i, l) in self.limits.iter().enumerate() {
            l.check(&mut c.nested(&format!("limits[{i}]")));
        }
        self.latency.check(&mut c.nested("latency"));
        c.number("rejected_latency_ms", self.rejected_latency_ms, 0.0, MAX_MS);
        if let Some(e) = &self.errors {
            let mut c = c.nested("errors");
            c.number("probability", e.probability, 0.0, 1.0);
            if !matches!(e.status, 408 | 409 | 500..=599) {
                c.fail(
                    "status",
                    format!("must be 408, 409 or in 500..=599 (got {})", e.status),
                );
            }
        }
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
    /// [`ratelab_strategies::kind::Kind::scale`]), the latency of rejections, and a ban's window
    /// and duration.
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
    }

    /// A fresh model for a run with `clients` clients.
    pub fn build(&self, draws: Draws, clients: u32) -> ApiModel {
        let limits: Vec<LimitState> = self.limits.iter().map(LimitSpec::build).collect();
        ApiModel {
            every_request_fits: limits.iter().all(|l| !l.by_tokens() && !l.never_fits(1)),
            limits,
            latency: self.latency.sampler(),
            rejected_latency: ms_to_nanos(self.rejected_latency_ms),
            count_rejected: self.count_rejected,
            retry_after: self.retry_after,
            headers: self.headers,
            error_threshold: self
                .errors
                .as_ref()
                .map(|e| (probability_threshold(e.probability), e.status)),
            ban: self.ban.as_ref().map(|b| Ban {
                after: b.after_429 as usize,
                within: secs_to_nanos(b.within_s),
                duration: secs_to_nanos(b.duration_s),
                clients: vec![ClientBan::default(); clients as usize],
            }),
            latency_draws: DrawCache::new(draws, Purpose::Latency),
            error_draws: DrawCache::new(draws, Purpose::ServerError),
        }
    }
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
    /// HTTP status: 200, 429, 413 or the configured server error.
    pub status: u16,
    /// Time from the request to the reply.
    pub latency: Nanos,
    /// `Retry-After` (whole seconds, as nanoseconds) on a 429, when enabled.
    pub retry_after: Option<Nanos>,
    /// The reply carries the `x-ratelimit-*` values ([`ApiModel::headers`], asked right after
    /// [`ApiModel::handle`]): the scenario sends them, and this is neither a 413 nor a ban.
    pub has_headers: bool,
    /// The refusal came from a ban.
    pub banned: bool,
}

impl Reply {
    /// The reply as the client's strategy sees it, without the rate-limit headers (see
    /// [`RateLimitHeaders::apply`]).
    #[inline]
    pub fn to_response(&self, request: RequestInfo, sent_at: Nanos) -> Response {
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
    headers: bool,
    error_threshold: Option<(u64, u16)>,
    ban: Option<Ban>,
    /// Latency draws (cached: requests mostly arrive in order).
    latency_draws: DrawCache,
    /// Server-error draws.
    error_draws: DrawCache,
}

/// `max(1, ceil(seconds))` of a wait, as whole seconds in nanoseconds (what `Retry-After` says).
pub fn retry_after_secs(wait: Nanos) -> Nanos {
    wait.div_ceil(SECOND).max(1).saturating_mul(SECOND)
}

impl ApiModel {
    /// Answers `req`, sent at `now`.
    #[inline]
    pub fn handle(&mut self, now: Nanos, req: &RequestInfo) -> Reply {
        let mut reply = Reply {
            status: 200,
            latency: self.rejected_latency,
            retry_after: None,
            has_headers: false,
            banned: false,
        };
        if let Some(until) = self
            .ban
            .as_ref()
            .and_then(|b| b.banned_until(req.client, now))
        {
            reply.status = 429;
            reply.banned = true;
            if self.retry_after {
                reply.retry_after = Some(retry_after_secs(until - now));
            }
            return reply;
        }
        if !self.every_request_fits && self.limits.iter().any(|l| l.never_fits(req.tokens)) {
            reply.status = 413;
            return reply;
        }
        // One limit that is not the concurrency limit (the usual case) is asked and charged in
        // one step; otherwise every limit is asked before any is charged.
        let mut committed = false;
        let wait = match &mut self.limits[..] {
            [only] if !only.needs_end_of_service() => {
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
                reply.retry_after = Some(retry_after_secs(wait));
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

    /// The `x-ratelimit-*` values at `now`: for each unit, what the tightest limit has left,
    /// when it is full again and its capacity. Asked right after [`ApiModel::handle`], for a
    /// reply that [`Reply::has_headers`], they are that reply's; a driver whose clients do not
    /// read them does not ask (they only report the limits' state and change nothing).
    #[inline(never)]
    pub fn headers(&mut self, now: Nanos) -> RateLimitHeaders {
        let mut h = RateLimitHeaders::default();
        for l in &mut self.limits {
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
