//! `ratelab serve`: a scenario's `[api]` model over HTTP/1.1 on real time.
//!
//! Every request, on any path and with any method, is one attempt: the server reads who sends it
//! from the headers ([`crate::headers::CLIENT`], [`crate::headers::REQUEST_ID`],
//! [`crate::headers::ATTEMPT`], [`crate::headers::TOKENS`]), asks the same
//! `ratelab_sim::api::ApiModel::handle` the simulator runs at the nanoseconds elapsed since the
//! model's start, sleeps the reply's latency, and answers its status with `Retry-After` and the
//! `x-ratelimit-*` headers and a small JSON body. A header that cannot be read gets a 400 with the
//! reason; nothing a client sends can crash it.
//!
//! Limits, so that no client can exhaust it: a connection must send its request headers within
//! [`HEADER_READ_TIMEOUT`]; at most [`MAX_CONNECTIONS`] connections are open at once, fewer when
//! `ulimit -n` is lower ([`connection_cap`]); beyond them [`OVERFLOW_CONNECTIONS`] more are
//! looked at, a health probe ([`HEALTH_PATH`]) answered at once, a whole request kept until a
//! slot frees, a slow one closed (more wait in the kernel's backlog); a body is read (so
//! keep-alive connections are reused) up to [`MAX_BODY_BYTES`] and a longer one gets a 413; an
//! error from `accept` (out of file
//! descriptors) makes it wait [`ACCEPT_BACKOFF`] before the next try instead of spinning; the
//! per-client state is bounded by the scenario's `clients` (other ids get a 400).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use ratelab_sim::api::{ApiModel, ApiSpec};
use ratelab_strategies::{Draws, RateLimitHeaders, RequestInfo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use crate::clock::nanos_since;
use crate::headers::{
    ANTHROPIC_LIMIT_REQUESTS, ANTHROPIC_LIMIT_TOKENS, ANTHROPIC_REMAINING_REQUESTS,
    ANTHROPIC_REMAINING_TOKENS, ANTHROPIC_RESET_REQUESTS, ANTHROPIC_RESET_TOKENS, format_rfc3339,
};
use crate::headers::{
    ATTEMPT, CLIENT, REQUEST_ID, RESET_REQUESTS, RESET_TOKENS, TOKENS, reply_headers,
};
use crate::profile::{
    ANTHROPIC_PATH, OPENAI_PATHS, OpenAiReply, Profile, anthropic_body, go_duration, openai_body,
    openai_headers, retry_after_ms_header, tokens_of_body,
};

/// The model and its clock.
struct Model {
    api: ApiModel,
    start: Instant,
    /// Next id per client for requests that carry no `x-request-id`.
    next_id: BTreeMap<u32, u64>,
    /// The latest time the model was told: it never sees time go backwards.
    clock: u64,
    /// `serve --trace`: a line per request.
    trace: Option<Trace>,
}

/// `serve --trace FILE.jsonl`: one JSON line per request, in arrival order: `t_s` (since the
/// model's start), `client`, `id`, `attempt`, `tokens`, `status`, `latency_s`, `path`. Written
/// through a buffer, flushed when the model is dropped or reset.
pub struct Trace {
    out: std::io::BufWriter<std::fs::File>,
}

impl Trace {
    /// A trace written to `file` (created, or truncated).
    pub fn create(file: &std::path::Path) -> std::io::Result<Trace> {
        Ok(Trace {
            out: std::io::BufWriter::new(std::fs::File::create(file)?),
        })
    }

    fn record(&mut self, now: u64, info: &RequestInfo, status: u16, latency: u64, path: &str) {
        use std::io::Write as _;
        let line = serde_json::json!({
            "t_s": now as f64 / 1e9, "client": info.client, "id": info.id,
            "attempt": info.attempt, "tokens": info.tokens, "status": status,
            "latency_s": latency as f64 / 1e9, "path": path,
        });
        // A full disk must not stop the mock: the trace is best effort.
        let _ = writeln!(self.out, "{line}");
    }
}

/// The API model shared by every connection, with what is needed to start it afresh.
pub struct MockApi {
    spin: Duration,
    profile: Profile,
    spec: ApiSpec,
    draws: Draws,
    clients: u32,
    model: Mutex<Model>,
}

impl MockApi {
    /// A fresh model of `spec` for `clients` clients with the scenario's `seed`; its clock starts
    /// now.
    pub fn new(spec: &ApiSpec, seed: u64, clients: u32) -> Self {
        let draws = Draws::new(seed);
        MockApi {
            spin: Duration::ZERO,
            profile: Profile::Generic,
            spec: spec.clone(),
            draws,
            clients: clients.max(1),
            model: Mutex::new(Model {
                api: spec.build(draws, clients.max(1)),
                start: Instant::now(),
                next_id: BTreeMap::new(),
                clock: 0,
                trace: None,
            }),
        }
    }

    /// Writes out what the trace holds (it is also written out when the model is dropped).
    pub fn flush_trace(&self) {
        use std::io::Write as _;
        if let Some(t) = &mut self.model.lock().unwrap_or_else(|p| p.into_inner()).trace {
            let _ = t.out.flush();
        }
    }

    /// The same model, writing a line per request to `trace` (`serve --trace`).
    pub fn with_trace(self, trace: Trace) -> Self {
        self.model.lock().unwrap_or_else(|p| p.into_inner()).trace = Some(trace);
        self
    }

    /// Answers at the reply's latency within the scheduler's latency instead of tokio's
    /// millisecond timer (see [`crate::clock::sleep_until`]); zero (the default) uses the timer.
    pub fn with_spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// Clients it accepts (`x-ratelimit-client` in `0..clients`).
    pub fn clients(&self) -> u32 {
        self.clients
    }

    /// Starts the model afresh: full buckets, empty windows, no bans, its clock at 0 from now (the
    /// simulator builds a fresh model for each strategy; so does `ratelab live`).
    pub fn reset(&self) {
        let mut m = self.model.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = &mut m.trace {
            use std::io::Write as _;
            let _ = t.out.flush();
        }
        *m = Model {
            api: self.spec.build(self.draws, self.clients),
            start: Instant::now(),
            next_id: BTreeMap::new(),
            clock: 0,
            trace: m.trace.take(),
        };
    }

    /// The same model presented as `profile`.
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Answers one request as the profile says: `path` and `body` matter to the `openai`
    /// profile (its endpoints, and the token weight of a body without `x-tokens`).
    pub fn answer_request(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> Answer {
        match self.profile {
            Profile::Generic => self.answer_generic(path, headers, false),
            Profile::OpenAi => self.answer_openai(path, headers, body),
            Profile::Anthropic => self.answer_anthropic(path, headers, body),
            Profile::Ietf => self.answer_generic(path, headers, true),
        }
    }

    fn answer_anthropic(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> Answer {
        let json_headers = || {
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            h
        };
        let error = |status: u16| Answer {
            status,
            headers: json_headers(),
            deliver_at: None,
            body: anthropic_body(status, "", 0, ""),
        };
        if path != ANTHROPIC_PATH {
            return error(404);
        }
        let tokens = (!headers.contains_key(TOKENS)).then(|| tokens_of_body(body));
        let Ok(decided) = self.decide(path, headers, tokens) else {
            return error(400);
        };
        let model = model_of(body, "ratelab-mock");
        let info = decided.info;
        let request_id = format!("req_{}_{}_{}", info.client, info.id, info.attempt);
        let mut out = json_headers();
        if let Some(ra) = decided.reply.retry_after {
            out.insert("retry-after", HeaderValue::from(ra.div_ceil(1_000_000_000)));
        }
        self.precise_retry_after(&mut out, decided.reply.retry_after);
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            out.insert("request-id", v);
        }
        // Resets as RFC 3339 times: the wall clock now plus the model's wait.
        let wall = std::time::SystemTime::now();
        let l = decided.limits;
        let at = |wait: Option<u64>| wait.map(|w| format_rfc3339(wall + Duration::from_nanos(w)));
        for (name, value) in [
            (
                ANTHROPIC_LIMIT_REQUESTS,
                l.limit_requests.map(|v| v.to_string()),
            ),
            (
                ANTHROPIC_REMAINING_REQUESTS,
                l.remaining_requests.map(|v| v.to_string()),
            ),
            (ANTHROPIC_RESET_REQUESTS, at(l.reset_requests)),
            (
                ANTHROPIC_LIMIT_TOKENS,
                l.limit_tokens.map(|v| v.to_string()),
            ),
            (
                ANTHROPIC_REMAINING_TOKENS,
                l.remaining_tokens.map(|v| v.to_string()),
            ),
            (ANTHROPIC_RESET_TOKENS, at(l.reset_tokens)),
        ] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                out.insert(name, v);
            }
        }
        let status = decided.reply.status;
        Answer {
            status,
            headers: out,
            deliver_at: Some(decided.deliver_at),
            body: anthropic_body(status, &model, info.tokens, &request_id),
        }
    }

    fn answer_openai(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> Answer {
        let error = |status: u16| {
            let mut h = HeaderMap::new();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            Answer {
                status,
                headers: h,
                deliver_at: None,
                body: openai_body(&OpenAiReply {
                    path,
                    status,
                    model: "",
                    tokens: 0,
                    tokens_limited: false,
                    request_id: "",
                    created: 0,
                }),
            }
        };
        if !OPENAI_PATHS.contains(&path) {
            return error(404);
        }
        let tokens = if headers.contains_key(TOKENS) {
            None
        } else {
            Some(tokens_of_body(body))
        };
        let Ok(decided) = self.decide(path, headers, tokens) else {
            return error(400);
        };
        let model = model_of(body, "ratelab-mock");
        let info = decided.info;
        let request_id = format!("req_{}_{}_{}", info.client, info.id, info.attempt);
        let mut out = HeaderMap::new();
        reply_headers(&decided.reply, &decided.limits, &mut out);
        for (name, value) in [
            (RESET_REQUESTS, decided.limits.reset_requests),
            (RESET_TOKENS, decided.limits.reset_tokens),
        ] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&go_duration(v)).ok()) {
                out.insert(name, v);
            }
        }
        openai_headers(&mut out, decided.reply.retry_after, &request_id);
        out.insert("content-type", HeaderValue::from_static("application/json"));
        let status = decided.reply.status;
        let body = openai_body(&OpenAiReply {
            path,
            status,
            model: &model,
            tokens: info.tokens,
            tokens_limited: status == 429
                && decided
                    .limits
                    .remaining_tokens
                    .is_some_and(|r| r < info.tokens),
            request_id: &request_id,
            created: decided.created_s,
        });
        Answer {
            status,
            headers: out,
            deliver_at: Some(decided.deliver_at),
            body,
        }
    }

    /// Runs the model for one attempt: who sent it (from the headers; `tokens` overrides
    /// `x-tokens` when given), the reply, the headers' values, when to deliver it.
    fn decide(
        &self,
        path: &str,
        headers: &HeaderMap,
        tokens: Option<u64>,
    ) -> Result<Decided, String> {
        let (client, id, attempt, header_tokens) = self.parse(headers)?;
        let mut m = self.model.lock().unwrap_or_else(|p| p.into_inner());
        let id = id.unwrap_or_else(|| {
            let next = m.next_id.entry(client).or_insert(0);
            *next += 1;
            *next - 1
        });
        let now = nanos_since(m.start).max(m.clock);
        m.clock = now;
        let info = RequestInfo {
            client,
            id,
            attempt,
            tokens: tokens.unwrap_or(header_tokens),
        };
        let reply = m.api.handle(now, &info);
        let limits = if reply.has_headers {
            m.api.headers(now)
        } else {
            RateLimitHeaders::default()
        };
        // A hanging reply (an outage in `hang` mode) is due at the end of time: never.
        let deliver_at = m
            .start
            .checked_add(Duration::from_nanos(now.saturating_add(reply.latency)))
            .unwrap_or_else(|| m.start + NEVER);
        if let Some(trace) = &mut m.trace {
            trace.record(now, &info, reply.status, reply.latency, path);
        }
        Ok(Decided {
            info,
            reply,
            limits,
            deliver_at,
            created_s: now / 1_000_000_000,
        })
    }

    /// Answers one attempt described by request headers: the status, the headers to send, the
    /// latency to wait before answering, and the JSON body. A header that cannot be read is
    /// answered 400 at once.
    pub fn answer(&self, headers: &HeaderMap) -> Answer {
        self.answer_generic("", headers, false)
    }

    /// ratelab's own answer; with `ietf` the request limit goes in the IETF draft's
    /// `RateLimit-Policy` and `RateLimit` fields instead of `x-ratelimit-*`.
    fn answer_generic(&self, path: &str, headers: &HeaderMap, ietf: bool) -> Answer {
        let d = match self.decide(path, headers, None) {
            Ok(d) => d,
            Err(reason) => return Answer::bad_request(&reason),
        };
        let (reply, info) = (&d.reply, d.info);
        let mut out = HeaderMap::new();
        if ietf {
            // Retry-After (and the ban flag) as usual; the limit in the draft's fields.
            reply_headers(reply, &RateLimitHeaders::default(), &mut out);
            let l = &d.limits;
            let window_s = self
                .spec
                .capacity_rps(1.0)
                .filter(|c| *c > 0.0)
                .zip(l.limit_requests)
                .map(|(c, q)| (q as f64 / c).ceil() as u64);
            crate::profile::ietf_headers(
                &mut out,
                l.limit_requests,
                l.remaining_requests,
                l.reset_requests,
                window_s,
            );
        } else {
            reply_headers(reply, &d.limits, &mut out);
        }
        self.precise_retry_after(&mut out, reply.retry_after);
        out.insert("content-type", HeaderValue::from_static("application/json"));
        let error = match reply.status {
            200 => None,
            429 if reply.banned => Some("banned: too many 429s"),
            429 => Some("rate limited"),
            413 => Some("request heavier than a limit's burst: it can never pass"),
            _ => Some("server error"),
        };
        let body = match error {
            None => serde_json::json!({
                "ok": true, "client": info.client, "id": info.id, "attempt": info.attempt,
                "tokens": info.tokens, "latency_ms": reply.latency as f64 / 1e6,
            }),
            Some(e) => serde_json::json!({
                "ok": false, "error": e, "client": info.client, "id": info.id,
                "attempt": info.attempt,
            }),
        };
        Answer {
            status: reply.status,
            headers: out,
            deliver_at: Some(d.deliver_at),
            body: body.to_string(),
        }
    }

    /// With `[api] retry_after_precision = "ms"`, every profile sends `retry-after-ms` (the
    /// `openai` profile always does).
    fn precise_retry_after(&self, out: &mut HeaderMap, retry_after: Option<u64>) {
        if !self.spec.retry_after_precision.is_seconds() {
            retry_after_ms_header(out, retry_after);
        }
    }

    fn parse(&self, headers: &HeaderMap) -> Result<(u32, Option<u64>, u32, u64), String> {
        let client =
            header_number(headers, CLIENT, 0, u64::from(self.clients - 1))?.map_or(0, |c| c as u32);
        let id = header_number(headers, REQUEST_ID, 0, (1 << 48) - 1)?;
        let attempt = header_number(headers, ATTEMPT, 1, 0xffff)?.map_or(1, |a| a as u32);
        let tokens = header_number(headers, TOKENS, 1, 1_000_000_000)?.unwrap_or(1);
        Ok((client, id, attempt, tokens))
    }
}

fn header_number(
    headers: &HeaderMap,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, String> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    let text = v.to_str().map_err(|_| format!("{name}: not ASCII"))?.trim();
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "{name}: must be an integer in {min}..={max} (got {text:?})"
        )),
    }
}

/// The `model` a JSON request body names, or `default`.
fn model_of(body: &[u8], default: &str) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("model").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| default.to_string())
}

/// One attempt as the model decided it.
struct Decided {
    info: RequestInfo,
    reply: ratelab_sim::api::Reply,
    limits: RateLimitHeaders,
    deliver_at: Instant,
    created_s: u64,
}

/// What the server sends back for one request.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers (`Retry-After`, `x-ratelimit-*`, content type).
    pub headers: HeaderMap,
    /// When to send it (the reply's latency after its arrival); `None`: at once.
    pub deliver_at: Option<Instant>,
    /// JSON body.
    pub body: String,
}

impl Answer {
    fn bad_request(reason: &str) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        Answer {
            status: 400,
            headers,
            deliver_at: None,
            body: serde_json::json!({ "ok": false, "error": reason }).to_string(),
        }
    }
}

/// How long a connection may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections open at once; the next ones wait to be accepted.
pub const MAX_CONNECTIONS: usize = 4096;
/// The largest request body read; a longer one is answered 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The pause after a failed `accept` (e.g. out of file descriptors).
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// File descriptors left free under `ulimit -n`: the cap on open connections is lowered to
/// the limit minus this ([`connection_cap`]).
pub const FD_RESERVE: usize = 64;
/// Connections accepted beyond the cap at once, to be looked at ([`OVERFLOW_GRACE`]).
pub const OVERFLOW_CONNECTIONS: usize = 32;
/// How long a connection accepted beyond the cap has to send its request head.
pub const OVERFLOW_GRACE: Duration = Duration::from_millis(100);
/// A connection beyond the cap that sent part of a head and nothing more for this long is slow.
pub const OVERFLOW_PAUSE: Duration = Duration::from_millis(10);

/// What a server allows a connection: [`ServeLimits::default`] has the constants above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a connection may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// Connections open at once (lowered to the file-descriptor limit minus [`FD_RESERVE`]
    /// when that is less: [`Server::max_connections`]).
    pub max_connections: usize,
    /// The largest request body read.
    pub max_body_bytes: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

/// A path answered 204 at once, outside the model: `ratelab live` opens its connections with it
/// before a strategy starts, so that TCP set-up is not part of the measurement.
pub const WARM_UP_PATH: &str = "/_ratelab/warm-up";

/// A path answered `200` at once, outside the model, with `{"ok":true,"connections":N,
/// "max_connections":M}` (the connections open now and the cap): a health probe.
pub const HEALTH_PATH: &str = "/_ratelab/health";

/// A reply later than this is never sent (an outage in `hang` mode).
const NEVER: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The connection is closed without an answer (an outage in `refuse` mode).
#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused by an outage")
    }
}

impl std::error::Error for Refused {}

/// The connections a server is serving, for its health probe.
struct Gauge {
    open: std::sync::atomic::AtomicUsize,
    cap: usize,
}

impl Gauge {
    fn health(&self) -> Response<Full<Bytes>> {
        let body = serde_json::json!({
            "ok": true,
            "connections": self.open.load(std::sync::atomic::Ordering::Relaxed),
            "max_connections": self.cap,
        });
        let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        resp
    }
}

async fn handle(
    api: Arc<MockApi>,
    gauge: Arc<Gauge>,
    max_body_bytes: usize,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Refused> {
    if req.uri().path() == WARM_UP_PATH {
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = StatusCode::NO_CONTENT;
        return Ok(resp);
    }
    if req.uri().path() == HEALTH_PATH {
        return Ok(gauge.health());
    }
    let (parts, body) = req.into_parts();
    // Read the body (a client may then reuse the connection), within bounds.
    let body = match Limited::new(body, max_body_bytes).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let mut resp = Response::new(Full::new(Bytes::from(
                serde_json::json!({ "ok": false, "error": format!(
                    "the request body is longer than {max_body_bytes} bytes, or was cut off"
                ) })
                .to_string(),
            )));
            *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(resp);
        }
    };
    let answer = api.answer_request(parts.uri.path(), &parts.headers, &body);
    if let Some(at) = answer.deliver_at {
        if at.saturating_duration_since(Instant::now()) >= NEVER {
            // An outage in `hang` mode: the request is held until the client gives up.
            std::future::pending::<()>().await;
        }
        crate::clock::sleep_until(at, api.spin).await;
    }
    if answer.status == 0 {
        // An outage in `refuse` mode: the connection is closed without an answer.
        return Err(Refused);
    }
    let mut resp = Response::new(Full::new(Bytes::from(answer.body)));
    *resp.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *resp.headers_mut() = answer.headers;
    Ok(resp)
}

/// What every connection is served with.
struct Ctx {
    api: Arc<MockApi>,
    gauge: Arc<Gauge>,
    limits: ServeLimits,
}

/// A connection's place: one of the open slots, or the overflow lane (all slots taken).
enum Slot {
    Open(OwnedSemaphorePermit),
    Overflow(OwnedSemaphorePermit),
}

/// The next place for a connection: an open slot when one is free, otherwise whichever of an
/// open slot and the overflow lane frees first. `None` when the semaphores are closed.
async fn next_slot(open: &Arc<Semaphore>, overflow: &Arc<Semaphore>) -> Option<Slot> {
    if let Ok(p) = Arc::clone(open).try_acquire_owned() {
        return Some(Slot::Open(p));
    }
    tokio::select! {
        biased;
        p = Arc::clone(open).acquire_owned() => p.ok().map(Slot::Open),
        p = Arc::clone(overflow).acquire_owned() => p.ok().map(Slot::Overflow),
    }
}

/// Serves `stream` over HTTP/1.1 until it closes (after one request unless `keep_alive`),
/// holding `permit` until then.
async fn serve_connection(
    ctx: Arc<Ctx>,
    stream: TcpStream,
    permit: OwnedSemaphorePermit,
    keep_alive: bool,
    header_read_timeout: Duration,
    watcher: Watcher,
) {
    let served = Arc::clone(&ctx);
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(keep_alive)
        .header_read_timeout(header_read_timeout)
        .serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| {
                handle(
                    Arc::clone(&served.api),
                    Arc::clone(&served.gauge),
                    served.limits.max_body_bytes,
                    req,
                )
            }),
        );
    use std::sync::atomic::Ordering::Relaxed;
    ctx.gauge.open.fetch_add(1, Relaxed);
    let _ = watcher.watch(conn).await;
    ctx.gauge.open.fetch_sub(1, Relaxed);
    drop(permit);
}

/// A connection accepted while every open slot is taken. Its request head must already be
/// there ([`head_at_once`]): a probe (`/_ratelab/health`, `/_ratelab/warm-up`) is answered at
/// once and the connection closed; another request waits for an open slot and is then served
/// as usual; a connection without a whole head (slow, or silent) is closed, unless a slot has
/// freed meanwhile.
async fn overflow_connection(
    ctx: Arc<Ctx>,
    stream: TcpStream,
    lane: OwnedSemaphorePermit,
    open: Arc<Semaphore>,
    watcher: Watcher,
) {
    let timeout = ctx.limits.header_read_timeout;
    match head_at_once(&stream).await {
        Head::Probe => serve_connection(ctx, stream, lane, false, timeout, watcher).await,
        Head::Request => {
            let Ok(permit) = open.acquire_owned().await else {
                return;
            };
            drop(lane);
            serve_connection(ctx, stream, permit, true, timeout, watcher).await;
        }
        Head::Slow => {
            if let Ok(permit) = open.try_acquire_owned() {
                drop(lane);
                serve_connection(ctx, stream, permit, true, timeout, watcher).await;
            }
        }
    }
}

/// What a connection over the cap has sent.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// A whole request head for a probe path.
    Probe,
    /// A whole request head (or 8 KiB of one) for another path.
    Request,
    /// Nothing within [`OVERFLOW_GRACE`], or part of a head and then nothing for
    /// [`OVERFLOW_PAUSE`].
    Slow,
}

/// Looks (without reading) at what `stream` has sent: a client writes its request head at
/// once; one that sends part of it and pauses, or nothing within [`OVERFLOW_GRACE`], is slow.
async fn head_at_once(stream: &TcpStream) -> Head {
    let deadline = Instant::now() + OVERFLOW_GRACE;
    let mut buf = vec![0u8; 8192];
    let mut seen = 0;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return Head::Slow,
        };
        let sent = &buf[..n];
        if n == buf.len() || sent.windows(4).any(|w| w == b"\r\n\r\n") {
            return head_kind(sent);
        }
        if n == seen || Instant::now() >= deadline {
            return Head::Slow;
        }
        seen = n;
        tokio::time::sleep(OVERFLOW_PAUSE).await;
    }
}

/// [`Head::Probe`] when the request line's path is a probe's, else [`Head::Request`].
fn head_kind(head: &[u8]) -> Head {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let path = line.split(|&b| b == b' ').nth(1).unwrap_or_default();
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    if path == HEALTH_PATH.as_bytes() || path == WARM_UP_PATH.as_bytes() {
        Head::Probe
    } else {
        Head::Request
    }
}

/// The soft limit on the process's open file descriptors (`ulimit -n`), when it has one.
pub fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0
            && r.rlim_cur != libc::RLIM_INFINITY
        {
            #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
            return u64::try_from(r.rlim_cur).ok();
        }
    }
    None
}

/// The connections a server keeps open: `configured`, but no more than the file-descriptor
/// limit `nofile` minus [`FD_RESERVE`] (and at least half of it, and 1), so that `accept`
/// never runs out of descriptors for the overflow lane, a probe, or the trace.
pub fn connection_cap(configured: usize, nofile: Option<u64>) -> usize {
    let by_fds = nofile.map_or(usize::MAX, |n| {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        n.saturating_sub(FD_RESERVE).max(n / 2)
    });
    configured.min(by_fds).max(1)
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    api: Arc<MockApi>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    max_connections: usize,
}

impl Server {
    /// Binds `addr` and serves `api` until [`Server::shutdown`] (or the handle is dropped), with
    /// the default [`ServeLimits`].
    pub async fn bind(addr: SocketAddr, api: Arc<MockApi>) -> std::io::Result<Server> {
        Self::bind_with(addr, api, ServeLimits::default()).await
    }

    /// [`Server::bind`] with these limits.
    pub async fn bind_with(
        addr: SocketAddr,
        api: Arc<MockApi>,
        limits: ServeLimits,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let served = Arc::clone(&api);
        let cap = connection_cap(limits.max_connections, open_files_limit());
        let task = tokio::spawn(async move {
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            let open = Arc::new(Semaphore::new(cap));
            let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
            let ctx = Arc::new(Ctx {
                api: served,
                gauge: Arc::new(Gauge {
                    open: 0.into(),
                    cap,
                }),
                limits,
            });
            let mut warned = false;
            loop {
                let slot = tokio::select! {
                    biased;
                    _ = stopped.changed() => break,
                    slot = next_slot(&open, &overflow) => slot,
                };
                let Some(slot) = slot else { break };
                let stream = tokio::select! {
                    biased;
                    _ = stopped.changed() => break,
                    conn = listener.accept() => match conn {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            if !warned {
                                eprintln!(
                                    "serve: accept failed ({e}); retrying every {} ms",
                                    ACCEPT_BACKOFF.as_millis()
                                );
                                warned = true;
                            }
                            drop(slot);
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                            continue;
                        }
                    },
                };
                let _ = stream.set_nodelay(true);
                let watcher = graceful.watcher();
                let ctx = Arc::clone(&ctx);
                match slot {
                    Slot::Open(permit) => {
                        let timeout = ctx.limits.header_read_timeout;
                        tokio::spawn(serve_connection(
                            ctx, stream, permit, true, timeout, watcher,
                        ));
                    }
                    Slot::Overflow(permit) => {
                        tokio::spawn(overflow_connection(
                            ctx,
                            stream,
                            permit,
                            Arc::clone(&open),
                            watcher,
                        ));
                    }
                }
            }
            drop(listener);
            // Requests being answered get a moment to finish.
            let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
        });
        Ok(Server {
            addr,
            api,
            stop,
            task,
            max_connections: cap,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The most connections it keeps open at once: [`ServeLimits::max_connections`], lowered
    /// to leave [`FD_RESERVE`] file descriptors free under the process's `ulimit -n` (see
    /// [`connection_cap`]).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The model it serves.
    pub fn api(&self) -> &Arc<MockApi> {
        &self.api
    }

    /// Stops accepting, lets answers in progress finish (at most 2 s), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The `[api]` table as TOML (limits, latency, options), indented, for `serve`'s banner.
pub fn describe(spec: &ApiSpec) -> String {
    toml::to_string(spec)
        .unwrap_or_default()
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_free() {
        assert_eq!(connection_cap(4096, None), 4096);
        assert_eq!(connection_cap(4096, Some(1024)), 960);
        assert_eq!(connection_cap(4096, Some(256)), 192);
        assert_eq!(connection_cap(4096, Some(100)), 50);
        assert_eq!(connection_cap(4096, Some(1)), 1);
        assert_eq!(connection_cap(8, Some(1024)), 8);
        assert_eq!(connection_cap(0, None), 1);
    }

    #[test]
    fn a_probe_is_told_by_its_request_line() {
        assert_eq!(
            head_kind(b"GET /_ratelab/health HTTP/1.1\r\nhost: x\r\n\r\n"),
            Head::Probe
        );
        assert_eq!(
            head_kind(b"HEAD /_ratelab/warm-up?x=1 HTTP/1.1\r\n\r\n"),
            Head::Probe
        );
        assert_eq!(
            head_kind(b"GET /_ratelab/healthz HTTP/1.1\r\n\r\n"),
            Head::Request
        );
        assert_eq!(
            head_kind(b"POST /v1/chat/completions HTTP/1.1\r\n\r\n"),
            Head::Request
        );
        assert_eq!(head_kind(b""), Head::Request);
    }
}
