//! `openai_cookbook`: the OpenAI cookbook's `api_request_parallel_processor.py`, the client
//! many bulk jobs against the OpenAI API start from (openai/openai-cookbook,
//! `examples/api_request_parallel_processor.py`, read at commit 04a30903).
//!
//! Two capacities that start full and refill continuously per minute — requests
//! (`max_requests_per_minute`) and tokens (`max_tokens_per_minute`, a request costing its
//! tokens) — and the head of the queue is sent once both hold it; the main loop sends at most
//! one request per iteration and sleeps 1 ms between iterations
//! (`seconds_to_sleep_each_loop = 0.001`: modelled as sends at least `loop_ms` apart, a waiting
//! request going as soon as the capacities hold it); after any 429, all sending pauses until
//! 15 s after it (`seconds_to_pause_after_rate_limit_error = 15`). The script's defaults are half of the
//! limits it was written for: 1 500 requests and 125 000 tokens per minute. It retries a failed
//! request at once, up to `max_attempts = 5`: pair it with `retry = { kind = "fixed",
//! delay_ms = 0, max_attempts = 5 }`.

use serde::{Deserialize, Serialize};

use super::AdmissionKind;
use crate::bucket::{ExactBucket, Rate};
use crate::config::{Checker, MAX_MS, MAX_RATE};
use crate::draws::Draws;
use crate::kind::{FieldDoc, Kind, KindDoc};
use crate::strategy::Hints;
use crate::time::{Nanos, SECOND, ms_to_nanos, secs_to_nanos};
use crate::{Admit, Outcome, RequestInfo, Response, Strategy};

/// `{ kind = "openai_cookbook", max_requests_per_minute, max_tokens_per_minute,
/// pause_after_429_s, loop_ms }`, every field optional (the script's defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiCookbookConfig {
    /// Request capacity, refilled per minute (default 1500: `3000 * 0.5`).
    #[serde(default = "default_rpm")]
    pub max_requests_per_minute: f64,
    /// Token capacity, refilled per minute (default 125 000: `250000 * 0.5`).
    #[serde(default = "default_tpm")]
    pub max_tokens_per_minute: f64,
    /// All sending pauses until this long after a 429, s (default 15).
    #[serde(default = "default_pause_s")]
    pub pause_after_429_s: f64,
    /// The main loop's sleep: sends are at least this far apart, ms (default 1).
    #[serde(default = "default_loop_ms")]
    pub loop_ms: f64,
}

fn default_rpm() -> f64 {
    1500.0
}
fn default_tpm() -> f64 {
    125_000.0
}
fn default_pause_s() -> f64 {
    15.0
}
fn default_loop_ms() -> f64 {
    1.0
}

impl Default for OpenAiCookbookConfig {
    fn default() -> Self {
        OpenAiCookbookConfig {
            max_requests_per_minute: default_rpm(),
            max_tokens_per_minute: default_tpm(),
            pause_after_429_s: default_pause_s(),
            loop_ms: default_loop_ms(),
        }
    }
}

impl Kind for OpenAiCookbookConfig {
    const DOC: KindDoc = KindDoc {
        about: "the OpenAI cookbook's parallel processor: per-minute request and token capacity, \
                a 15 s pause of all sending after any 429",
        fields: &[
            FieldDoc::default("max_requests_per_minute", "1500"),
            FieldDoc::default("max_tokens_per_minute", "125000"),
            FieldDoc::default("pause_after_429_s", "15"),
            FieldDoc::default("loop_ms", "1"),
        ],
        example: r#"{ kind = "openai_cookbook", max_requests_per_minute = 250, max_tokens_per_minute = 15000 }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number(
            "max_requests_per_minute",
            self.max_requests_per_minute,
            1.0,
            MAX_RATE,
        );
        c.number(
            "max_tokens_per_minute",
            self.max_tokens_per_minute,
            1.0,
            MAX_RATE,
        );
        c.number("pause_after_429_s", self.pause_after_429_s, 0.0, 86_400.0);
        c.number("loop_ms", self.loop_ms, 0.0, MAX_MS);
    }
    fn scale(&mut self, k: f64) {
        self.max_requests_per_minute *= k;
        self.max_tokens_per_minute *= k;
        self.pause_after_429_s /= k;
        self.loop_ms /= k;
    }
}

impl AdmissionKind for OpenAiCookbookConfig {
    type Machine = OpenAiCookbook;
    fn build(&self, _draws: Draws) -> OpenAiCookbook {
        OpenAiCookbook::new(self)
    }
}

/// The script's capacities and pause as a state machine.
#[derive(Clone, Debug)]
pub struct OpenAiCookbook {
    requests: ExactBucket,
    tokens: ExactBucket,
    pause: Nanos,
    loop_gap: Nanos,
    /// No send before this: the last send plus the loop's sleep.
    next_iteration: Nanos,
    /// No send before this: 15 s after the latest 429.
    paused_until: Nanos,
}

/// A bucket holding one minute of `per_minute`, refilled at `per_minute` per minute.
fn per_minute_bucket(per_minute: f64) -> ExactBucket {
    let rate = Rate::new(per_minute, 60 * SECOND).unwrap_or(Rate {
        milli_per_period: 1000,
        period: 60 * SECOND,
    });
    ExactBucket::new(rate, libm::floor(per_minute).max(1.0) as u64)
}

impl OpenAiCookbook {
    /// The machine for `config`: both capacities full.
    pub fn new(config: &OpenAiCookbookConfig) -> Self {
        OpenAiCookbook {
            requests: per_minute_bucket(config.max_requests_per_minute),
            tokens: per_minute_bucket(config.max_tokens_per_minute),
            pause: secs_to_nanos(config.pause_after_429_s),
            loop_gap: ms_to_nanos(config.loop_ms),
            next_iteration: 0,
            paused_until: 0,
        }
    }

    /// A request's token cost (a request heavier than the token capacity waits for a full
    /// bucket: the script would wait for ever).
    fn cost(&self, req: &RequestInfo) -> u64 {
        req.tokens.min(self.tokens.burst())
    }
}

impl Strategy for OpenAiCookbook {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        let from = now.max(self.next_iteration).max(self.paused_until);
        let ready = [
            self.requests.ready_at(from, 1),
            self.tokens.ready_at(from, self.cost(req)),
        ]
        .into_iter()
        .map(|t| t.unwrap_or(from))
        .fold(from, Nanos::max);
        if ready <= now {
            Admit::Now
        } else {
            Admit::At(ready)
        }
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.requests.take(now, 1);
        self.tokens.take(now, self.cost(req));
        self.next_iteration = now.saturating_add(self.loop_gap);
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        if resp.outcome == Outcome::RateLimited {
            self.paused_until = self.paused_until.max(now.saturating_add(self.pause));
        }
    }
    /// A reply can only pause sending (a 429), never bring a send forward.
    fn response_changes_admission(&self) -> bool {
        false
    }
    /// It hears replies (429s pause it) but a reply never brings an `At(t)` forward, and it
    /// reads no headers: the script does not.
    fn hints(&self) -> Hints {
        Hints {
            reads_rate_limit_headers: false,
            hears_responses: true,
            response_may_change_admission: false,
            hears_finals: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{reply, req};
    use crate::time::MS;

    fn cookbook(rpm: f64, tpm: f64) -> OpenAiCookbook {
        OpenAiCookbook::new(&OpenAiCookbookConfig {
            max_requests_per_minute: rpm,
            max_tokens_per_minute: tpm,
            ..OpenAiCookbookConfig::default()
        })
    }

    /// Sends what `s` admits from `now` on, as a driver would, until `n` were sent.
    fn sends(s: &mut OpenAiCookbook, n: u64, tokens: u64) -> Vec<Nanos> {
        let mut now = 0;
        let mut out = vec![];
        for id in 0..n {
            let mut r = req(id);
            r.tokens = tokens;
            loop {
                match s.poll_admit(now, &r) {
                    Admit::Now => break,
                    Admit::At(t) => now = t,
                    other => panic!("{other:?}"),
                }
            }
            s.on_send(now, &r);
            out.push(now);
        }
        out
    }

    #[test]
    fn a_full_minute_goes_at_the_loop_s_pace_then_the_refill_paces() {
        // 60 requests per minute: the first 60 go 1 ms apart, the next one a second later.
        let mut s = cookbook(60.0, 1e6);
        let t = sends(&mut s, 62, 1);
        assert_eq!(t[1], MS);
        assert_eq!(t[59], 59 * MS);
        // The bucket refilled 59 ms' worth while the first 60 went: one token at 1 s.
        assert_eq!(t[60], SECOND);
        assert_eq!(t[61], 2 * SECOND);
    }

    #[test]
    fn tokens_pace_heavy_requests() {
        // 6000 tokens per minute = 100/s, requests of 500: 12 go at once, then one per 5 s.
        let mut s = cookbook(1e6, 6000.0);
        let t = sends(&mut s, 14, 500);
        assert_eq!(t[11], 11 * MS);
        assert_eq!(t[12], 5 * SECOND);
    }

    #[test]
    fn a_429_pauses_all_sending_for_15_seconds() {
        let mut s = cookbook(1500.0, 125_000.0);
        s.on_send(0, &req(0));
        s.on_response(200 * MS, &reply(0, 0, 429));
        assert_eq!(s.poll_admit(300 * MS, &req(1)), Admit::At(15_200 * MS));
        // A success changes nothing; a later 429 extends the pause.
        s.on_response(400 * MS, &reply(2, 0, 200));
        s.on_response(SECOND, &reply(3, 0, 429));
        assert_eq!(s.poll_admit(15_200 * MS, &req(1)), Admit::At(16 * SECOND));
        assert_eq!(s.poll_admit(16 * SECOND, &req(1)), Admit::Now);
    }
}
