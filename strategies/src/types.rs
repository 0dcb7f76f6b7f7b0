//! The vocabulary a strategy speaks: what is about to be sent, what came back, what may happen.

use crate::time::Nanos;

/// One attempt a client is about to send (or has sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// The client (copy of the strategy) that owns the request.
    pub client: u32,
    /// The request's index within its client's workload, from 0.
    pub id: u64,
    /// 1 for the first send, 2 for the first retry, …
    pub attempt: u32,
    /// Weight in tokens (1 when the workload has no token sizes).
    pub tokens: u64,
}

/// How an attempt ended, as far as retry policies and breakers care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// 2xx.
    Success,
    /// 429 Too Many Requests (also the answer during a ban).
    RateLimited,
    /// 5xx.
    ServerError,
    /// The client gave up waiting (its `timeout_ms` passed); the API may still be working.
    Timeout,
    /// Any other 4xx (413: heavier than a limit's burst): retrying cannot help.
    ClientError,
    /// 408 Request Timeout: the server gave up waiting for the request.
    RequestTimeout,
    /// 409 Conflict (optimistic concurrency: another write came first).
    Conflict,
    /// No HTTP reply at all: the connection was refused or reset (status 0).
    Connection,
}

impl Outcome {
    /// The class of an HTTP status code.
    pub fn from_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Success,
            408 => Outcome::RequestTimeout,
            409 => Outcome::Conflict,
            429 => Outcome::RateLimited,
            500..=599 => Outcome::ServerError,
            _ => Outcome::ClientError,
        }
    }

    /// True for outcomes a breaker counts as failures (429, 5xx, timeout, connection).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::RateLimited | Outcome::ServerError | Outcome::Timeout | Outcome::Connection
        )
    }
}

/// A reply as a strategy sees it: typed fields only, no header maps on the hot path.
///
/// Made with [`Response::new`] (or [`Response::timeout`]) and filled field by field: more fields
/// may come (`#[non_exhaustive]`), and a reply that does not carry one leaves it `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The attempt this answers.
    pub request: RequestInfo,
    /// When the attempt was sent.
    pub sent_at: Nanos,
    /// HTTP status (0 for a client timeout).
    pub status: u16,
    /// The class of `status`.
    pub outcome: Outcome,
    /// How long the reply took, from send to reply (or to the timeout).
    pub latency: Nanos,
    /// `Retry-After`, when the API sent one.
    pub retry_after: Option<Nanos>,
    /// `x-ratelimit-remaining-requests`: requests left under the tightest request limit.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-reset-requests`: time until the request limit is full again.
    pub reset_requests: Option<Nanos>,
    /// `x-ratelimit-remaining-tokens`: tokens left under the tightest token limit.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-reset-tokens`: time until the token limit is full again.
    pub reset_tokens: Option<Nanos>,
    /// `x-ratelimit-limit-requests`: the request limit's capacity.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-limit-tokens`: the token limit's capacity.
    pub limit_tokens: Option<u64>,
}

impl Response {
    /// A reply without rate-limit headers.
    pub fn new(request: RequestInfo, sent_at: Nanos, status: u16, latency: Nanos) -> Self {
        Response {
            request,
            sent_at,
            status,
            outcome: Outcome::from_status(status),
            latency,
            retry_after: None,
            remaining_requests: None,
            reset_requests: None,
            remaining_tokens: None,
            reset_tokens: None,
            limit_requests: None,
            limit_tokens: None,
        }
    }

    /// The client's own timeout: no status, outcome [`Outcome::Timeout`].
    pub fn timeout(request: RequestInfo, sent_at: Nanos, waited: Nanos) -> Self {
        Response {
            outcome: Outcome::Timeout,
            ..Response::new(request, sent_at, 0, waited)
        }
    }

    /// A transport error `waited` after the send (refused, reset): no status, outcome
    /// [`Outcome::Connection`].
    pub fn connection(request: RequestInfo, sent_at: Nanos, waited: Nanos) -> Self {
        Response {
            outcome: Outcome::Connection,
            ..Response::new(request, sent_at, 0, waited)
        }
    }
}

/// The `x-ratelimit-*` values of one reply, as an API model answers them (each `None` when the
/// API has no limit of that unit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// Requests left under the tightest request limit.
    pub remaining_requests: Option<u64>,
    /// Time until that limit is full again.
    pub reset_requests: Option<Nanos>,
    /// Tokens left under the tightest token limit.
    pub remaining_tokens: Option<u64>,
    /// Time until that limit is full again.
    pub reset_tokens: Option<Nanos>,
    /// The capacity of the request limit `remaining_requests` is of.
    pub limit_requests: Option<u64>,
    /// The capacity of the token limit `remaining_tokens` is of.
    pub limit_tokens: Option<u64>,
}

impl RateLimitHeaders {
    /// Writes these values into `r`'s fields of the same names.
    #[inline]
    pub fn apply(&self, r: &mut Response) {
        r.remaining_requests = self.remaining_requests;
        r.reset_requests = self.reset_requests;
        r.remaining_tokens = self.remaining_tokens;
        r.reset_tokens = self.reset_tokens;
        r.limit_requests = self.limit_requests;
        r.limit_tokens = self.limit_tokens;
    }
}

/// A strategy's answer to "may this attempt be sent now?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Yes: call `on_send` and send it.
    Now,
    /// Not before this time; ask again then (unless a completion comes first).
    At(Nanos),
    /// Not until something in flight completes; ask again at the next reply.
    WhenSomethingCompletes,
    /// Never: fail it fast (an open breaker with `on_open = "fail"`); it is final
    /// (`rejected_by_breaker`).
    Reject,
    /// Never: the client's own throttle sheds it (`sre_throttle`); it is final
    /// (`rejected_by_throttle`) and the layers hear of it through [`Strategy::on_shed`].
    ///
    /// [`Strategy::on_shed`]: crate::Strategy::on_shed
    Shed,
}
