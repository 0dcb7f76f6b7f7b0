//! HTTP header conventions, both ways: reading a reply's status and headers into the typed
//! [`Response`] a strategy sees, and writing an API model's [`Reply`] as headers.
//!
//! Reading is lenient: a header that is missing, not UTF-8, negative, out of range or otherwise
//! malformed is ignored (the field stays `None`), never an error.

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue};
use ratelab_sim::api::Reply;
use ratelab_strategies::time::{Nanos, SECOND};
use ratelab_strategies::{RateLimitHeaders, RequestInfo, Response};

/// Request header naming the client (0-based; default 0).
pub const CLIENT: &str = "x-ratelimit-client";
/// Request header naming the request within its client's workload (default: the server counts).
pub const REQUEST_ID: &str = "x-request-id";
/// Request header with the attempt number, 1 for the first send (default 1).
pub const ATTEMPT: &str = "x-attempt";
/// Request header with the request's weight in tokens (default 1).
pub const TOKENS: &str = "x-tokens";
/// Reply header: requests left under the tightest request limit.
pub const REMAINING_REQUESTS: &str = "x-ratelimit-remaining-requests";
/// Reply header: time until the tightest request limit is full again (`"1.5s"`, `"20ms"`).
pub const RESET_REQUESTS: &str = "x-ratelimit-reset-requests";
/// Reply header: tokens left under the tightest token limit.
pub const REMAINING_TOKENS: &str = "x-ratelimit-remaining-tokens";
/// Reply header: time until the tightest token limit is full again.
pub const RESET_TOKENS: &str = "x-ratelimit-reset-tokens";
/// Reply header: the capacity of the request limit `x-ratelimit-remaining-requests` is of.
pub const LIMIT_REQUESTS: &str = "x-ratelimit-limit-requests";
/// Reply header: the capacity of the token limit `x-ratelimit-remaining-tokens` is of.
pub const LIMIT_TOKENS: &str = "x-ratelimit-limit-tokens";
/// Reply header set to `true` on a 429 that comes from a ban.
pub const BANNED: &str = "x-ratelimit-banned";

/// Longest wait a header may ask for: one day (a larger one is treated as malformed).
pub const MAX_HEADER_WAIT: Nanos = 86_400 * SECOND;

/// The typed [`Response`] for attempt `request`, sent at `sent_at` and answered at `now` (both on
/// the driver's clock), from the reply's status and headers. `Retry-After` is read as whole (or
/// decimal) seconds or as an HTTP date (compared with the system clock); `x-ratelimit-remaining-
/// requests`, `-remaining-tokens` and `-limit-*` as integers; `x-ratelimit-reset-requests` and
/// `-reset-tokens` as durations (`"1s"`, `"6m0s"`, `"20ms"`, `"1.5"` seconds). Malformed headers
/// are ignored.
pub fn response_from_parts(
    request: RequestInfo,
    sent_at: Nanos,
    now: Nanos,
    status: u16,
    headers: &HeaderMap,
) -> Response {
    let mut r = Response::new(request, sent_at, status, now.saturating_sub(sent_at));
    r.retry_after =
        header_str(headers, "retry-after").and_then(|v| parse_retry_after(v, SystemTime::now()));
    r.remaining_requests = header_str(headers, REMAINING_REQUESTS).and_then(parse_count);
    r.reset_requests = header_str(headers, RESET_REQUESTS).and_then(parse_duration);
    r.remaining_tokens = header_str(headers, REMAINING_TOKENS).and_then(parse_count);
    r.reset_tokens = header_str(headers, RESET_TOKENS).and_then(parse_duration);
    r.limit_requests = header_str(headers, LIMIT_REQUESTS).and_then(parse_count);
    r.limit_tokens = header_str(headers, LIMIT_TOKENS).and_then(parse_count);
    r
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `Retry-After` as a wait: delay-seconds (a decimal is accepted too) or an HTTP date, which is
/// compared with `now` (a date in the past means no wait). `None` when malformed or longer than
/// [`MAX_HEADER_WAIT`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Nanos> {
    let value = value.trim();
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_seconds(value);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let wait = date
        .duration_since(now)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    (wait <= MAX_HEADER_WAIT).then_some(wait)
}

/// Non-negative decimal seconds (`"3"`, `"0.25"`) as nanoseconds, at most [`MAX_HEADER_WAIT`].
fn parse_seconds(value: &str) -> Option<Nanos> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = value.parse().ok()?;
    let ns = secs * 1e9;
    (ns.is_finite() && ns >= 0.0 && ns <= MAX_HEADER_WAIT as f64).then_some(ns.round() as Nanos)
}

/// A non-negative integer count.
fn parse_count(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// A duration as rate-limit headers write it: `"1s"`, `"6m0s"`, `"1h2m3.5s"`, `"20ms"`,
/// `"150us"`, `"10ns"`, or bare decimal seconds. `None` when malformed or over a day.
pub fn parse_duration(value: &str) -> Option<Nanos> {
    let value = value.trim();
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_seconds(value);
    }
    let mut total = 0f64;
    let mut rest = value;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let scale = match &rest[..unit_len] {
            "h" => 3600e9,
            "m" => 60e9,
            "s" => 1e9,
            "ms" => 1e6,
            "us" | "µs" => 1e3,
            "ns" => 1.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    (total.is_finite() && total <= MAX_HEADER_WAIT as f64).then_some(total.round() as Nanos)
}

/// A duration written the way [`parse_duration`] reads it back exactly: whole seconds as `"3s"`,
/// otherwise milliseconds with up to six decimals (`"12.5ms"`).
pub fn format_duration(ns: Nanos) -> String {
    if ns.is_multiple_of(SECOND) {
        format!("{}s", ns / SECOND)
    } else {
        let ms = ns / 1_000_000;
        let frac = ns % 1_000_000;
        if frac == 0 {
            format!("{ms}ms")
        } else {
            let s = format!("{ms}.{frac:06}");
            format!("{}ms", s.trim_end_matches('0'))
        }
    }
}

/// The headers of an API model's reply: `Retry-After` in whole seconds, the `x-ratelimit-*`
/// values of `limits` (remaining, reset and limit, of requests and of tokens) (the model's [`ratelab_sim::api::ApiModel::headers`] when the reply has
/// them), and `x-ratelimit-banned: true` during a ban.
pub fn reply_headers(reply: &Reply, limits: &RateLimitHeaders, headers: &mut HeaderMap) {
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    if let Some(ra) = reply.retry_after {
        put("retry-after", (ra.div_ceil(SECOND)).to_string());
    }
    let h = limits;
    if let Some(r) = h.remaining_requests {
        put(REMAINING_REQUESTS, r.to_string());
    }
    if let Some(r) = h.reset_requests {
        put(RESET_REQUESTS, format_duration(r));
    }
    if let Some(r) = h.remaining_tokens {
        put(REMAINING_TOKENS, r.to_string());
    }
    if let Some(r) = h.reset_tokens {
        put(RESET_TOKENS, format_duration(r));
    }
    if let Some(l) = h.limit_requests {
        put(LIMIT_REQUESTS, l.to_string());
    }
    if let Some(l) = h.limit_tokens {
        put(LIMIT_TOKENS, l.to_string());
    }
    if reply.banned {
        put(BANNED, "true".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_strategies::Outcome;
    use std::time::Duration;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(3 * SECOND));
        assert_eq!(parse_retry_after(" 0.5 ", now), Some(SECOND / 2));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&date, now), Some(7 * SECOND));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(parse_retry_after(&past, now), Some(0));
        for bad in [
            "",
            "soon",
            "-1",
            "1e3",
            "3 s",
            "99999999999999999999999",
            "Wed, 99 Foo",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn durations_round_trip_and_reject_junk() {
        assert_eq!(parse_duration("6m0s"), Some(360 * SECOND));
        assert_eq!(parse_duration("1h2m3.5s"), Some(3723 * SECOND + SECOND / 2));
        assert_eq!(parse_duration("20ms"), Some(20_000_000));
        assert_eq!(parse_duration("1.5"), Some(1_500_000_000));
        for ns in [0, 1, 999, 1_000_000, 12_345_678, 3 * SECOND, 3 * SECOND + 7] {
            assert_eq!(parse_duration(&format_duration(ns)), Some(ns), "{ns}");
        }
        for bad in ["", "s", "5x", "-3s", "1s2", "ms", "2d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn malformed_headers_leave_fields_empty() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("whenever"));
        h.insert(REMAINING_REQUESTS, HeaderValue::from_static("-4"));
        h.insert(RESET_REQUESTS, HeaderValue::from_static("soonish"));
        let req = RequestInfo {
            client: 0,
            id: 1,
            attempt: 1,
            tokens: 1,
        };
        let r = response_from_parts(req, 10, 25, 429, &h);
        assert_eq!(r.outcome, Outcome::RateLimited);
        assert_eq!(r.latency, 15);
        assert_eq!(
            (r.retry_after, r.remaining_requests, r.reset_requests),
            (None, None, None)
        );
        h.insert("retry-after", HeaderValue::from_static("2"));
        h.insert(REMAINING_REQUESTS, HeaderValue::from_static("0"));
        h.insert(RESET_REQUESTS, HeaderValue::from_static("250ms"));
        h.insert(REMAINING_TOKENS, HeaderValue::from_static("1200"));
        h.insert(RESET_TOKENS, HeaderValue::from_static("6m0s"));
        let r = response_from_parts(req, 10, 25, 429, &h);
        assert_eq!(
            (r.retry_after, r.remaining_requests, r.reset_requests),
            (Some(2 * SECOND), Some(0), Some(250_000_000))
        );
        assert_eq!(
            (r.remaining_tokens, r.reset_tokens),
            (Some(1200), Some(360 * SECOND))
        );
        assert_eq!((r.limit_requests, r.limit_tokens), (None, None));
        h.insert(LIMIT_REQUESTS, HeaderValue::from_static("500"));
        h.insert(LIMIT_TOKENS, HeaderValue::from_static("x"));
        let r = response_from_parts(req, 10, 25, 429, &h);
        assert_eq!((r.limit_requests, r.limit_tokens), (Some(500), None));
    }

    #[test]
    fn what_serve_sends_is_what_the_driver_reads() {
        let limits = RateLimitHeaders {
            remaining_requests: Some(7),
            reset_requests: Some(1_500_000_000),
            remaining_tokens: Some(900),
            reset_tokens: Some(20_000_000),
            limit_requests: Some(10),
            limit_tokens: Some(1000),
        };
        let reply = Reply {
            status: 429,
            latency: 1,
            retry_after: Some(2 * SECOND),
            has_headers: true,
            banned: false,
        };
        let mut h = HeaderMap::new();
        reply_headers(&reply, &limits, &mut h);
        let req = RequestInfo {
            client: 0,
            id: 0,
            attempt: 1,
            tokens: 1,
        };
        let r = response_from_parts(req, 0, 1, 429, &h);
        let mut read = RateLimitHeaders::default();
        (read.remaining_requests, read.reset_requests) = (r.remaining_requests, r.reset_requests);
        (read.remaining_tokens, read.reset_tokens) = (r.remaining_tokens, r.reset_tokens);
        (read.limit_requests, read.limit_tokens) = (r.limit_requests, r.limit_tokens);
        assert_eq!(read, limits);
        assert_eq!(r.retry_after, Some(2 * SECOND));
    }
}
