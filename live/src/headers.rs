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
/// the driver's clock), from the reply's status and headers, in every profile's format:
///
/// - the wait: `retry-after-ms` (milliseconds, OpenAI and Anthropic) when present, else
///   `Retry-After` as whole (or decimal) seconds or an HTTP date (compared with the system clock);
/// - OpenAI's `x-ratelimit-{remaining,limit,reset}-{requests,tokens}`: counts as integers,
///   resets as durations (`"1s"`, `"6m0s"`, `"20ms"`, `"1.5"` seconds) or RFC 3339 times;
/// - else Anthropic's `anthropic-ratelimit-{requests,tokens}-{remaining,limit,reset}` (resets as
///   RFC 3339 times);
/// - else the IETF draft's `RateLimit: "name";r=REMAINING;t=SECONDS` and `RateLimit-Policy:
///   "name";q=QUOTA;w=WINDOW` (draft-ietf-httpapi-ratelimit-headers-10), as request limits.
///
/// Malformed headers are ignored.
pub fn response_from_parts(
    request: RequestInfo,
    sent_at: Nanos,
    now: Nanos,
    status: u16,
    headers: &HeaderMap,
) -> Response {
    let mut r = Response::new(request, sent_at, status, now.saturating_sub(sent_at));
    let wall = SystemTime::now();
    r.retry_after = header_str(headers, "retry-after-ms")
        .and_then(parse_milliseconds)
        .or_else(|| header_str(headers, "retry-after").and_then(|v| parse_retry_after(v, wall)));
    let count = |name: &str| header_str(headers, name).and_then(parse_count);
    let reset = |name: &str| header_str(headers, name).and_then(|v| parse_reset(v, wall));
    r.remaining_requests =
        count(REMAINING_REQUESTS).or_else(|| count(ANTHROPIC_REMAINING_REQUESTS));
    r.reset_requests = reset(RESET_REQUESTS).or_else(|| reset(ANTHROPIC_RESET_REQUESTS));
    r.remaining_tokens = count(REMAINING_TOKENS).or_else(|| count(ANTHROPIC_REMAINING_TOKENS));
    r.reset_tokens = reset(RESET_TOKENS).or_else(|| reset(ANTHROPIC_RESET_TOKENS));
    r.limit_requests = count(LIMIT_REQUESTS).or_else(|| count(ANTHROPIC_LIMIT_REQUESTS));
    r.limit_tokens = count(LIMIT_TOKENS).or_else(|| count(ANTHROPIC_LIMIT_TOKENS));
    if r.remaining_requests.is_none()
        && let Some((remaining, reset)) = header_str(headers, "ratelimit").and_then(ietf_ratelimit)
    {
        r.remaining_requests = Some(remaining);
        r.reset_requests = reset;
        r.limit_requests = header_str(headers, "ratelimit-policy").and_then(ietf_quota);
    }
    r
}

/// Anthropic's rate-limit headers.
pub const ANTHROPIC_REMAINING_REQUESTS: &str = "anthropic-ratelimit-requests-remaining";
/// See [`ANTHROPIC_REMAINING_REQUESTS`].
pub const ANTHROPIC_RESET_REQUESTS: &str = "anthropic-ratelimit-requests-reset";
/// See [`ANTHROPIC_REMAINING_REQUESTS`].
pub const ANTHROPIC_LIMIT_REQUESTS: &str = "anthropic-ratelimit-requests-limit";
/// See [`ANTHROPIC_REMAINING_REQUESTS`].
pub const ANTHROPIC_REMAINING_TOKENS: &str = "anthropic-ratelimit-tokens-remaining";
/// See [`ANTHROPIC_REMAINING_REQUESTS`].
pub const ANTHROPIC_RESET_TOKENS: &str = "anthropic-ratelimit-tokens-reset";
/// See [`ANTHROPIC_REMAINING_REQUESTS`].
pub const ANTHROPIC_LIMIT_TOKENS: &str = "anthropic-ratelimit-tokens-limit";

/// `retry-after-ms`: non-negative milliseconds (a decimal is accepted), at most
/// [`MAX_HEADER_WAIT`].
fn parse_milliseconds(value: &str) -> Option<Nanos> {
    parse_seconds(value).map(|ns| ns / 1000)
}

/// A reset: a duration ([`parse_duration`]) or an RFC 3339 time, as the wait from `now`.
fn parse_reset(value: &str, now: SystemTime) -> Option<Nanos> {
    parse_duration(value).or_else(|| {
        let at = parse_rfc3339(value)?;
        let wait = at
            .duration_since(now)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        (wait <= MAX_HEADER_WAIT).then_some(wait)
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as a time.
pub fn parse_rfc3339(value: &str) -> Option<SystemTime> {
    let v = value.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = v.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if v.get(4) != Some(&b'-')
        || v.get(7) != Some(&b'-')
        || !matches!(v.get(10), Some(b'T' | b't' | b' '))
        || v.get(13) != Some(&b':')
        || v.get(16) != Some(&b':')
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || s > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u64;
    if v.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while v.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = std::str::from_utf8(&v[start..i]).ok()?;
        if digits.is_empty() {
            return None;
        }
        let padded = format!("{:0<9}", &digits[..digits.len().min(9)]);
        nanos = padded.parse().ok()?;
    }
    let offset_s: i64 = match v.get(i) {
        Some(b'Z' | b'z') if i + 1 == v.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == v.len() && v[i + 3] == b':' => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_s;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::new(secs, nanos as u32))
}

/// A time as RFC 3339 in UTC with milliseconds (`2024-03-01T12:00:30.500Z`), as Anthropic writes
/// its resets; [`parse_rfc3339`] reads it back.
pub fn format_rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// The IETF draft's `RateLimit: "name";r=R;t=T` (the first item): remaining and reset.
fn ietf_ratelimit(value: &str) -> Option<(u64, Option<Nanos>)> {
    let item = value.split(',').next()?;
    let mut remaining = None;
    let mut reset = None;
    for param in item.split(';').skip(1) {
        match param.trim().split_once('=') {
            Some(("r", r)) => remaining = parse_count(r.trim()),
            Some(("t", t)) => reset = parse_seconds(t.trim()),
            _ => {}
        }
    }
    Some((remaining?, reset))
}

/// The IETF draft's `RateLimit-Policy: "name";q=Q;w=W` (the first item): the quota.
fn ietf_quota(value: &str) -> Option<u64> {
    let item = value.split(',').next()?;
    item.split(';')
        .skip(1)
        .find_map(|p| match p.trim().split_once('=') {
            Some(("q", q)) => parse_count(q.trim()),
            _ => None,
        })
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
            settle: false,
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

    fn parts(pairs: &[(&'static str, &str)]) -> Response {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        let req = RequestInfo {
            client: 0,
            id: 0,
            attempt: 1,
            tokens: 1,
        };
        response_from_parts(req, 0, 10, 429, &h)
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let r = parts(&[("retry-after", "2"), ("retry-after-ms", "1500")]);
        assert_eq!(r.retry_after, Some(1_500_000_000));
        let r = parts(&[("retry-after", "2"), ("retry-after-ms", "soon")]);
        assert_eq!(r.retry_after, Some(2 * SECOND), "a bad -ms falls back");
    }

    #[test]
    fn rfc3339_times_parse_to_the_instant() {
        let t = parse_rfc3339("2024-03-01T12:00:30.5Z").unwrap();
        let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(d, std::time::Duration::new(1_709_294_430, 500_000_000));
        let same = parse_rfc3339("2024-03-01T14:00:30.5+02:00").unwrap();
        assert_eq!(t, same);
        for bad in [
            "2024-13-01T00:00:00Z",
            "2024-03-01 12:00",
            "yesterday",
            "2024-03-01T12:00:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn anthropic_and_ietf_headers_fill_the_same_fields() {
        let soon = SystemTime::now() + std::time::Duration::from_secs(30);
        let civil = format_rfc3339(soon);
        let back = parse_rfc3339(&civil).unwrap();
        assert!(soon.duration_since(back).unwrap() < std::time::Duration::from_millis(1));
        let r = parts(&[
            (ANTHROPIC_REMAINING_REQUESTS, "7"),
            (ANTHROPIC_LIMIT_REQUESTS, "50"),
            (ANTHROPIC_RESET_REQUESTS, &civil),
            (ANTHROPIC_REMAINING_TOKENS, "900"),
        ]);
        assert_eq!(
            (r.remaining_requests, r.limit_requests),
            (Some(7), Some(50))
        );
        assert_eq!(r.remaining_tokens, Some(900));
        let wait = r.reset_requests.unwrap();
        assert!((28 * SECOND..=30 * SECOND).contains(&wait), "{wait}");
        let r = parts(&[
            ("ratelimit", "\"default\";r=5;t=12"),
            ("ratelimit-policy", "\"default\";q=100;w=60"),
        ]);
        assert_eq!(r.remaining_requests, Some(5));
        assert_eq!(r.reset_requests, Some(12 * SECOND));
        assert_eq!(r.limit_requests, Some(100));
    }
}
