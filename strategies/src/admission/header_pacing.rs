//! `header_pacing`: paces sends by what the API says is left: a client-side bucket per limit,
//! calibrated by the `x-ratelimit-*` headers of every reply.

use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, VecDeque};

use super::AdmissionKind;
use super::aimd_rate::{AimdRate, AimdRateConfig};
use crate::config::Checker;
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::{Admit, Nanos, Outcome, RequestInfo, Response, Strategy};

/// `{ kind = "header_pacing", headroom }`, every field optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderPacingConfig {
    /// Share of each limit it plans to use (1: all of it).
    #[serde(default = "one")]
    pub headroom: f64,
}

fn one() -> f64 {
    1.0
}

impl Kind for HeaderPacingConfig {
    const DOC: KindDoc = KindDoc {
        about: "a bucket per limit calibrated by x-ratelimit-* (level = remaining, refill = (limit - remaining)/reset); aimd_rate without headers",
        fields: &[FieldDoc::default("headroom", "1")],
        example: r#"{ kind = "header_pacing" }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.positive("headroom", self.headroom, 0.0, 1.0);
    }
    /// A share: nothing to scale (the headers scale with the API).
    fn scale(&mut self, _k: f64) {}
}

impl AdmissionKind for HeaderPacingConfig {
    type Machine = HeaderPacing;
    fn build(&self, draws: Draws) -> HeaderPacing {
        HeaderPacing {
            headroom: self.headroom,
            share: self.headroom,
            last_cut: None,
            requests: Estimate::default(),
            tokens: Estimate::default(),
            in_flight: BTreeMap::new(),
            sends: VecDeque::new(),
            seq: 0,
            calibrated: None,
            paused_until: 0,
            heard_headers: false,
            replies: 0,
            fallback: AimdRateConfig::defaults().build(draws),
        }
    }
}

/// What one limit (requests or tokens) has left, as its last headers said: a client-side
/// bucket calibrated by every reply.
#[derive(Clone, Copy, Debug, Default)]
struct Estimate {
    /// `None`: the API sent no header for this limit.
    known: Option<Known>,
}

#[derive(Clone, Copy, Debug)]
struct Known {
    /// Units usable at `at` (what remained, less what was sent since it was counted).
    level: f64,
    at: Nanos,
    /// Units the limit gains per nanosecond (`None` until a reply shows it).
    refill: Option<f64>,
    /// The limit's capacity in units, when known.
    capacity: f64,
}

impl Estimate {
    /// A reply's `remaining`, `reset` and `limit` at `now`; `later` units of ours were sent
    /// after the replied attempt (the API had not counted them). The refill is what a bucket
    /// that is full again after `reset` gains: `(limit − remaining) / reset`.
    fn calibrate(
        &mut self,
        now: Nanos,
        remaining: u64,
        reset: Nanos,
        limit: Option<u64>,
        later: u64,
        share: f64,
    ) {
        let missing = limit.map_or(remaining.max(1), |l| l.saturating_sub(remaining));
        let refill = if reset > 0 && missing > 0 {
            Some(missing as f64 * share / reset as f64)
        } else {
            self.known.and_then(|k| k.refill)
        };
        let capacity = limit.map_or(f64::INFINITY, |l| l as f64 * share);
        self.known = Some(Known {
            level: (remaining as f64 * share - later as f64)
                .max(0.0)
                .min(capacity),
            at: now,
            refill,
            capacity,
        });
    }

    fn level_at(k: &Known, now: Nanos) -> f64 {
        let gained = k
            .refill
            .map_or(0.0, |r| now.saturating_sub(k.at) as f64 * r);
        (k.level + gained).min(k.capacity)
    }

    /// When `cost` units are there, at or after `now` (`None`: not before the next reply).
    fn ready_at(&self, now: Nanos, cost: u64) -> Option<Nanos> {
        let Some(k) = &self.known else {
            return Some(now);
        };
        // A request heavier than the capacity goes when the limit is full.
        let need = (cost as f64).min(k.capacity);
        let have = Self::level_at(k, now);
        if have >= need {
            return Some(now);
        }
        let refill = k.refill?;
        let wait = libm::ceil((need - have) / refill);
        Some(now.saturating_add(if wait >= u64::MAX as f64 {
            u64::MAX
        } else {
            (wait as Nanos).max(1)
        }))
    }

    /// `cost` units were sent at `now`.
    fn take(&mut self, now: Nanos, cost: u64) {
        if let Some(k) = &mut self.known {
            k.level = Self::level_at(k, now) - cost as f64;
            k.at = now;
        }
    }
}

/// Header-driven pacing: a client-side bucket per limit (requests and tokens), calibrated by
/// every reply that carries `x-ratelimit-remaining-*` and `-reset-*`: its level is what remains
/// (times `headroom`) less what this client sent after the replied attempt was counted, its
/// refill `(limit − remaining) / reset` (what a bucket that is full again after `reset` gains;
/// with no `limit` header, `remaining / reset`), its capacity the limit. A request goes when
/// every bucket holds its cost (1, or its tokens); a 429 stops all sending until its
/// `Retry-After` (or, without one, the reset of the limit that is empty). Before the first reply
/// one request is in flight at a time; when a bucket is empty and no reply has shown its refill
/// yet, the next reply is awaited. Against an API that sends no rate-limit headers it runs the
/// fallback, `aimd_rate` with its defaults, on the same replies.
#[derive(Clone, Debug)]
pub struct HeaderPacing {
    headroom: f64,
    /// The share of each limit it uses now: `headroom`, halved by a 429 (another client is
    /// using the same quota), given back a little (1/1000 of the headroom) by each success.
    share: f64,
    /// When the share was last halved: a 429 to an attempt sent before then does not halve it
    /// again.
    last_cut: Option<Nanos>,
    requests: Estimate,
    tokens: Estimate,
    /// Attempts in flight: the number of each one's send (a `BTreeMap`: no hasher seeded by the
    /// OS in the simulator's state).
    in_flight: BTreeMap<(u64, u32), u64>,
    /// Sends after the attempt of the last calibration, oldest first: (number, tokens).
    sends: VecDeque<(u64, u64)>,
    /// Sends so far: the number of the next.
    seq: u64,
    /// The send number of the attempt whose reply last calibrated the buckets: a reply to an
    /// earlier attempt (replies come out of order) tells less than what is known, and is not
    /// used to calibrate.
    calibrated: Option<u64>,
    paused_until: Nanos,
    heard_headers: bool,
    replies: u64,
    fallback: AimdRate,
}

impl HeaderPacing {
    /// Has it heard rate-limit headers (and so left the fallback)?
    pub fn paced_by_headers(&self) -> bool {
        self.heard_headers
    }
}

impl Strategy for HeaderPacing {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        if self.replies == 0 && !self.in_flight.is_empty() {
            return Admit::WhenSomethingCompletes;
        }
        let paced = if self.replies > 0 && !self.heard_headers {
            self.fallback.poll_admit(now, req)
        } else {
            let times = [
                self.requests.ready_at(now, 1),
                self.tokens.ready_at(now, req.tokens),
            ];
            if times.contains(&None) {
                if self.in_flight.is_empty() {
                    Admit::Now // nothing will answer: probe
                } else {
                    Admit::WhenSomethingCompletes
                }
            } else {
                match times.into_iter().flatten().max() {
                    Some(t) if t > now => Admit::At(t),
                    _ => Admit::Now,
                }
            }
        };
        match paced {
            Admit::Now if self.paused_until > now => Admit::At(self.paused_until),
            Admit::At(t) => Admit::At(t.max(self.paused_until)),
            other => other,
        }
    }

    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.in_flight.insert((req.id, req.attempt), self.seq);
        self.sends.push_back((self.seq, req.tokens));
        self.seq += 1;
        self.requests.take(now, 1);
        self.tokens.take(now, req.tokens);
        self.fallback.on_send(now, req);
    }

    fn on_response(&mut self, now: Nanos, resp: &Response) {
        let r = resp.request;
        let sent = self.in_flight.remove(&(r.id, r.attempt));
        self.replies += 1;
        self.fallback.on_response(now, resp);
        self.adapt_share(now, resp);
        let share = self.share;
        // Only a reply to an attempt sent after the last calibrating one says something new.
        let fresh = sent.filter(|&n| self.calibrated.is_none_or(|c| n > c));
        let has_headers = resp.remaining_requests.is_some() || resp.remaining_tokens.is_some();
        if let Some(n) = fresh.filter(|_| has_headers) {
            self.calibrated = Some(n);
            // What the API had not counted when it answered: ours sent after this attempt.
            while self.sends.front().is_some_and(|&(m, _)| m <= n) {
                self.sends.pop_front();
            }
            let later = self.sends.len() as u64;
            let later_tokens: u64 = self.sends.iter().map(|&(_, t)| t).sum();
            self.calibrate(now, resp, later, later_tokens, share);
        } else if sent.is_some() && !has_headers && self.calibrated.is_none() {
            // No headers: nothing to keep for calibration.
            self.sends.clear();
        }
        self.pause_on_429(now, resp);
    }

    fn hints(&self) -> Hints {
        Hints::CONSERVATIVE
    }
}

impl HeaderPacing {
    fn calibrate(
        &mut self,
        now: Nanos,
        resp: &Response,
        later: u64,
        later_tokens: u64,
        share: f64,
    ) {
        if let (Some(remaining), Some(reset)) = (resp.remaining_requests, resp.reset_requests) {
            self.heard_headers = true;
            let limit = resp.limit_requests;
            self.requests
                .calibrate(now, remaining, reset, limit, later, share);
        }
        if let (Some(remaining), Some(reset)) = (resp.remaining_tokens, resp.reset_tokens) {
            self.heard_headers = true;
            let limit = resp.limit_tokens;
            self.tokens
                .calibrate(now, remaining, reset, limit, later_tokens, share);
        }
    }

    /// A 429 halves the share (at most once per round trip, down to 1/1024): the headers
    /// promised room that someone else took. Each success gives back 1/1000 of the headroom.
    fn adapt_share(&mut self, now: Nanos, resp: &Response) {
        match resp.outcome {
            Outcome::RateLimited if self.last_cut.is_none_or(|t| resp.sent_at >= t) => {
                self.share = (self.share / 2.0).max(self.headroom / 1024.0);
                self.last_cut = Some(now);
            }
            Outcome::Success => {
                self.share = (self.share + self.headroom / 1000.0).min(self.headroom);
            }
            _ => {}
        }
    }

    fn pause_on_429(&mut self, now: Nanos, resp: &Response) {
        if resp.outcome == Outcome::RateLimited {
            let empty_reset = [
                (resp.remaining_requests, resp.reset_requests),
                (resp.remaining_tokens, resp.reset_tokens),
            ]
            .into_iter()
            .filter_map(|(left, reset)| (left == Some(0)).then_some(reset).flatten())
            .max();
            if let Some(wait) = resp.retry_after.or(empty_reset) {
                self.paused_until = self.paused_until.max(now.saturating_add(wait));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply, req};
    use crate::time::SECOND;

    fn pacing() -> HeaderPacing {
        HeaderPacingConfig { headroom: 1.0 }.build(Draws::new(0))
    }

    fn with_headers(id: u64, sent: Nanos, status: u16, remaining: u64, reset: Nanos) -> Response {
        let mut r = reply(id, sent, status);
        r.remaining_requests = Some(remaining);
        r.reset_requests = Some(reset);
        r.limit_requests = Some(20);
        r
    }

    #[test]
    fn one_probe_then_what_remains_goes_and_the_rest_at_the_refill() {
        let mut s = pacing();
        assert_eq!(s.poll_admit(0, &req(0)), Admit::Now);
        s.on_send(0, &req(0));
        assert_eq!(s.poll_admit(0, &req(1)), Admit::WhenSomethingCompletes);
        // 19 of 20 left, full again in 0.1 s: 10/s refill; 19 go at once.
        s.on_response(SECOND, &with_headers(0, 0, 200, 19, SECOND / 10));
        assert!(s.paced_by_headers());
        for id in 1..20 {
            assert_eq!(s.poll_admit(SECOND, &req(id)), Admit::Now, "{id}");
            s.on_send(SECOND, &req(id));
        }
        // Empty: the next one refill-time later.
        assert_eq!(
            s.poll_admit(SECOND, &req(20)),
            Admit::At(SECOND + SECOND / 10)
        );
    }

    #[test]
    fn sends_the_api_had_not_counted_are_taken_off_and_a_429_pauses() {
        let mut s = pacing();
        s.on_send(0, &req(0));
        s.on_send(5, &req(1)); // as if sent anyway
        s.on_send(6, &req(2));
        // The reply to request 0 counted it, not 1 and 2: 4 − 2 usable.
        s.on_response(10, &with_headers(0, 0, 200, 4, 8 * SECOND));
        assert_eq!(s.poll_admit(10, &req(3)), Admit::Now);
        s.on_send(10, &req(3));
        assert_eq!(s.poll_admit(10, &req(4)), Admit::Now);
        s.on_send(10, &req(4));
        // 4 of 20 remained over 8 s to full: 2/s; empty now: the next 0.5 s later.
        assert_eq!(s.poll_admit(10, &req(5)), Admit::At(10 + SECOND / 2));
        let mut limited = with_headers(1, 5, 429, 0, 8 * SECOND);
        limited.retry_after = Some(20 * SECOND);
        s.on_response(11, &limited);
        assert_eq!(s.poll_admit(11, &req(5)), Admit::At(11 + 20 * SECOND));
    }

    #[test]
    fn tokens_pace_by_their_own_headers() {
        let mut s = pacing();
        let mut r = req(0);
        r.tokens = 100;
        s.on_send(0, &r);
        let mut resp = reply(0, 0, 200);
        resp.request.tokens = 100;
        resp.remaining_tokens = Some(100);
        resp.reset_tokens = Some(9 * SECOND);
        resp.limit_tokens = Some(1000);
        s.on_response(1, &resp);
        assert_eq!(s.poll_admit(1, &r), Admit::Now);
        s.on_send(1, &r);
        // 900 tokens missing over 9 s: 100/s; a request of 100 tokens each second.
        assert_eq!(s.poll_admit(1, &r), Admit::At(1 + SECOND));
    }

    #[test]
    fn without_headers_it_falls_back_to_aimd_rate() {
        let mut s = pacing();
        s.on_send(0, &req(0));
        s.on_response(1, &reply(0, 0, 200));
        assert!(!s.paced_by_headers());
        assert_eq!(
            s.poll_admit(1, &req(1)),
            s.fallback.clone().poll_admit(1, &req(1))
        );
    }
}
