//! `header_pacing`: paces sends by what the API says is left, spreading the remaining requests
//! (and tokens) over the time until the limit resets.

use serde::{Deserialize, Serialize};

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
    /// Share of what remains it plans to use before the reset (1: all of it).
    #[serde(default = "one")]
    pub headroom: f64,
}

fn one() -> f64 {
    1.0
}

impl Kind for HeaderPacingConfig {
    const DOC: KindDoc = KindDoc {
        about: "spreads the remaining requests and tokens (x-ratelimit-*) over the time to their reset; aimd_rate without headers",
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
            requests: Pace::default(),
            tokens: Pace::default(),
            in_flight: 0,
            in_flight_tokens: 0,
            last_send: None,
            paused_until: 0,
            heard_headers: false,
            replies: 0,
            fallback: AimdRateConfig::defaults().build(draws),
            changed: false,
        }
    }
}

/// Nanoseconds per unit (request or token) for one limit, from its last headers.
#[derive(Clone, Copy, Debug, Default)]
struct Pace {
    /// `None`: the API sent no header for this limit.
    ns_per_unit: Option<f64>,
}

impl Pace {
    /// From `remaining` units left, `in_flight` of ours not yet counted, `reset` until the
    /// limit is full again and its `limit` when known: the remaining units spread over the
    /// reset. When nothing remains, one unit per `reset / (limit − remaining)` (what a bucket
    /// refills), or the whole reset when the limit is not known.
    fn set(
        &mut self,
        remaining: u64,
        in_flight: u64,
        reset: Nanos,
        limit: Option<u64>,
        share: f64,
    ) {
        let usable = (remaining.saturating_sub(in_flight)) as f64 * share;
        let reset = reset as f64;
        self.ns_per_unit = Some(if usable >= 1.0 {
            reset / usable
        } else {
            match limit {
                Some(l) if l > remaining => reset / (l - remaining) as f64,
                _ => reset,
            }
        });
    }

    /// The wait after a send of `cost` units.
    fn gap(&self, cost: u64) -> Nanos {
        match self.ns_per_unit {
            None => 0,
            Some(ns) => {
                let g = libm::ceil(ns * cost as f64);
                if g >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    g as Nanos
                }
            }
        }
    }
}

/// Header-driven pacing. Every reply that carries `x-ratelimit-remaining-*` and `-reset-*` sets
/// the pace of that limit: `(remaining − ours in flight) · headroom` units spread evenly over
/// the time to the reset (against a fixed window that uses the window exactly; against a token
/// bucket it settles where the pace equals the refill, the bucket half full). A send of cost `c`
/// is followed, at the earliest, `c` units of each limit's pace later. A 429 stops all sending
/// until its `Retry-After` (or, without one, the reset of the limit that is empty). Before the
/// first reply one request is in flight at a time; an API that sends no rate-limit headers gets
/// the fallback, `aimd_rate` with its defaults, driven by the same replies.
#[derive(Clone, Debug)]
pub struct HeaderPacing {
    headroom: f64,
    requests: Pace,
    tokens: Pace,
    in_flight: u64,
    in_flight_tokens: u64,
    /// The last send: its time and tokens.
    last_send: Option<(Nanos, u64)>,
    paused_until: Nanos,
    heard_headers: bool,
    replies: u64,
    fallback: AimdRate,
    changed: bool,
}

impl HeaderPacing {
    fn next_send_at(&self) -> Nanos {
        let paced = match self.last_send {
            None => 0,
            Some((t, tokens)) => {
                t.saturating_add(self.requests.gap(1).max(self.tokens.gap(tokens)))
            }
        };
        paced.max(self.paused_until)
    }

    /// Has it heard rate-limit headers (and so left the fallback)?
    pub fn paced_by_headers(&self) -> bool {
        self.heard_headers
    }
}

impl Strategy for HeaderPacing {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        if self.replies == 0 && self.in_flight > 0 {
            return Admit::WhenSomethingCompletes;
        }
        if self.replies > 0 && !self.heard_headers {
            let at = self.fallback.poll_admit(now, req);
            return match at {
                Admit::Now if self.paused_until > now => Admit::At(self.paused_until),
                Admit::At(t) => Admit::At(t.max(self.paused_until)),
                other => other,
            };
        }
        let at = self.next_send_at();
        if at <= now { Admit::Now } else { Admit::At(at) }
    }

    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.in_flight += 1;
        self.in_flight_tokens += req.tokens;
        self.last_send = Some((now, req.tokens));
        self.fallback.on_send(now, req);
    }

    fn on_response(&mut self, now: Nanos, resp: &Response) {
        let before = (self.next_send_at(), self.heard_headers);
        self.in_flight = self.in_flight.saturating_sub(1);
        self.in_flight_tokens = self.in_flight_tokens.saturating_sub(resp.request.tokens);
        self.replies += 1;
        self.fallback.on_response(now, resp);
        let share = self.headroom;
        if let (Some(remaining), Some(reset)) = (resp.remaining_requests, resp.reset_requests) {
            self.heard_headers = true;
            let limit = resp.limit_requests;
            self.requests
                .set(remaining, self.in_flight, reset, limit, share);
        }
        if let (Some(remaining), Some(reset)) = (resp.remaining_tokens, resp.reset_tokens) {
            self.heard_headers = true;
            let (limit, ours) = (resp.limit_tokens, self.in_flight_tokens);
            self.tokens.set(remaining, ours, reset, limit, share);
        }
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
        self.changed = (self.next_send_at(), self.heard_headers) != before
            || self.replies == 1
            || (!self.heard_headers && self.fallback.response_changes_admission());
    }

    fn response_changes_admission(&self) -> bool {
        self.changed
    }

    fn hints(&self) -> Hints {
        Hints::CONSERVATIVE
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
        r.limit_requests = Some(100);
        r
    }

    #[test]
    fn one_probe_then_the_remaining_requests_spread_over_the_reset() {
        let mut s = pacing();
        assert_eq!(s.poll_admit(0, &req(0)), Admit::Now);
        s.on_send(0, &req(0));
        assert_eq!(s.poll_admit(0, &req(1)), Admit::WhenSomethingCompletes);
        // 10 left, full again in 5 s: one every 0.5 s.
        s.on_response(SECOND, &with_headers(0, 0, 200, 10, 5 * SECOND));
        assert!(s.response_changes_admission());
        assert!(s.paced_by_headers());
        assert_eq!(s.poll_admit(SECOND, &req(1)), Admit::Now);
        s.on_send(SECOND, &req(1));
        assert_eq!(
            s.poll_admit(SECOND, &req(2)),
            Admit::At(SECOND + SECOND / 2)
        );
    }

    #[test]
    fn requests_in_flight_are_not_counted_twice_and_a_429_pauses() {
        let mut s = pacing();
        s.on_send(0, &req(0));
        s.on_response(1, &with_headers(0, 0, 200, 4, 8 * SECOND));
        for id in 1..4 {
            s.on_send(1, &req(id));
        }
        // 4 left, but 2 of ours still in flight after this reply: 2 over 8 s.
        s.on_response(2, &with_headers(1, 1, 200, 4, 8 * SECOND));
        assert_eq!(s.poll_admit(2, &req(4)), Admit::At(1 + 4 * SECOND));
        let mut limited = with_headers(2, 1, 429, 0, 8 * SECOND);
        limited.retry_after = Some(20 * SECOND);
        s.on_response(3, &limited);
        assert_eq!(s.poll_admit(3, &req(4)), Admit::At(3 + 20 * SECOND));
    }

    #[test]
    fn tokens_pace_by_their_own_headers() {
        let mut s = pacing();
        let mut r = req(0);
        r.tokens = 100;
        s.on_send(0, &r);
        let mut resp = reply(0, 0, 200);
        resp.request.tokens = 100;
        resp.remaining_tokens = Some(1000);
        resp.reset_tokens = Some(10 * SECOND);
        s.on_response(1, &resp);
        s.on_send(1, &r);
        // 1000 tokens over 10 s: a request of 100 tokens each second.
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
