//! The tokio driver: the sans-IO strategies of `ratelab-strategies`, unchanged, on real time.
//!
//! A [`Limiter`] is one client's strategy stack, retry policy and timeout behind an
//! `Arc<Mutex<…>>`; it is cheap to clone and shared by every task of that client. Time is the
//! nanoseconds elapsed since the limiter's start ([`tokio::time::Instant`], so tests can pause
//! it). [`Limiter::call`] does what the simulator's client loop does for one request:
//!
//! 1. admission: fresh requests queue in order (retries that are due go first, as in the
//!    simulator); only the head of the queue asks `poll_admit`. `Now` → `on_send` and send;
//!    `At(t)` → sleep until t (or until something completes); `WhenSomethingCompletes` → wait
//!    until a reply arrives; `Reject` → [`CallError::RejectedByBreaker`];
//! 2. the user's future runs, under the client timeout when there is one;
//! 3. its status and headers become a typed [`Response`] ([`crate::headers`]), the stack is told
//!    (`on_response`) and every waiter is woken;
//! 4. a failure is retried when the policy says so (`RetryPolicy::retry_at`), after a sleep.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::HeaderMap;
use ratelab_strategies::spec::{BuiltStrategy, StrategySpec};
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{
    Admit, Draws, Outcome, RequestInfo, Response, Retry, RetryPolicy, Stack, Strategy,
};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::headers::response_from_parts;

/// What the driver needs from a reply: its status and headers. Implemented for
/// `http::Response<B>` (hyper, the hyper-util client, axum…) and `http::response::Parts`; wrap
/// anything else (e.g. a `reqwest::Response`) in [`Inspected`].
pub trait HttpReply {
    /// The HTTP status code.
    fn status_code(&self) -> u16;
    /// The reply's headers.
    fn header_map(&self) -> &HeaderMap;
}

impl<B> HttpReply for http::Response<B> {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
    fn header_map(&self) -> &HeaderMap {
        self.headers()
    }
}

impl HttpReply for http::response::Parts {
    fn status_code(&self) -> u16 {
        self.status.as_u16()
    }
    fn header_map(&self) -> &HeaderMap {
        &self.headers
    }
}

/// A value of any type with the status and headers the driver reads, e.g.
/// `Inspected::new(r.status().as_u16(), r.headers().clone(), r)` for a `reqwest::Response`.
#[derive(Clone, Debug)]
pub struct Inspected<T> {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Whatever the caller wants back.
    pub value: T,
}

impl<T> Inspected<T> {
    /// Wraps `value` with its status and headers.
    pub fn new(status: u16, headers: HeaderMap, value: T) -> Self {
        Inspected {
            status,
            headers,
            value,
        }
    }
}

impl<T> HttpReply for Inspected<T> {
    fn status_code(&self) -> u16 {
        self.status
    }
    fn header_map(&self) -> &HeaderMap {
        &self.headers
    }
}

/// The attempt the user's closure is asked to send: put these in the request (e.g. as the
/// `x-request-id`, `x-attempt` and `x-tokens` headers of `ratelab serve`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The client (limiter) number.
    pub client: u32,
    /// The request's id within the client.
    pub id: u64,
    /// 1 for the first send, 2 for the first retry, …
    pub attempt: u32,
    /// The request's weight in tokens.
    pub tokens: u64,
}

/// Why a call did not succeed.
#[derive(Debug)]
pub enum CallError<T, E> {
    /// An open breaker with `on_open = "fail"` refused it; nothing was sent for this attempt.
    RejectedByBreaker {
        /// Attempts sent before the refusal.
        attempts: u32,
    },
    /// The last attempt failed and the policy does not retry it (out of attempts, or a failure
    /// it does not cover).
    GaveUp {
        /// Attempts sent.
        attempts: u32,
        /// How the last attempt ended.
        last: Failure<T, E>,
    },
}

/// How a failed attempt ended.
#[derive(Debug)]
pub enum Failure<T, E> {
    /// A reply that was not 2xx (429, 5xx, 413…).
    Reply(T),
    /// The user's future returned an error (counted as a server error: retried like a 5xx).
    Error(E),
    /// The client timeout passed.
    Timeout,
}

impl<T: HttpReply, E: fmt::Display> fmt::Display for CallError<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::RejectedByBreaker { attempts } => {
                write!(f, "rejected by the open breaker after {attempts} attempts")
            }
            CallError::GaveUp { attempts, last } => {
                write!(f, "gave up after {attempts} attempts: ")?;
                match last {
                    Failure::Reply(r) => write!(f, "HTTP {}", r.status_code()),
                    Failure::Error(e) => write!(f, "{e}"),
                    Failure::Timeout => write!(f, "timeout"),
                }
            }
        }
    }
}

impl<T: HttpReply + fmt::Debug, E: fmt::Display + fmt::Debug> std::error::Error
    for CallError<T, E>
{
}

/// Told what a limiter does, e.g. to record metrics (the `live` command feeds
/// `ratelab_sim::metrics::Recorder` this way). Times are on the limiter's clock. Every method
/// has an empty default.
pub trait Observer: Send + Sync {
    /// An attempt was sent at `now`.
    fn sent(&self, _now: Nanos, _req: &RequestInfo) {}
    /// A reply (or timeout, or transport error) arrived at `now`.
    fn replied(&self, _now: Nanos, _resp: &Response) {}
    /// The request succeeded at `now`, `latency` after `call` was entered.
    fn succeeded(&self, _now: Nanos, _req: &RequestInfo, _latency: Nanos) {}
    /// The request was given up at `now` after `resp`.
    fn gave_up(&self, _now: Nanos, _resp: &Response) {}
    /// An open breaker refused the request at `now`.
    fn rejected(&self, _now: Nanos, _req: &RequestInfo) {}
}

/// Queue position: due retries (class 0, by due time) before fresh requests (class 1, by ready
/// time and id), as in the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ticket {
    class: u8,
    at: Nanos,
    id: u64,
    seq: u64,
}

struct State<S, R> {
    strategy: S,
    retry: R,
    queue: BTreeMap<Ticket, Arc<Notify>>,
    seq: u64,
    next_id: u64,
    /// The latest time the state machines were told: they never see time go backwards.
    clock: Nanos,
}

impl<S, R> State<S, R> {
    fn tick(&mut self, now: Nanos) -> Nanos {
        self.clock = self.clock.max(now);
        self.clock
    }

    fn wake_head(&self) {
        if let Some(n) = self.queue.values().next() {
            n.notify_one();
        }
    }
}

struct Inner<S, R> {
    start: Instant,
    client: u32,
    timeout: Option<Nanos>,
    spin: Duration,
    state: Mutex<State<S, R>>,
    observer: Option<Arc<dyn Observer>>,
}

/// One client's strategy on real time: a cheaply cloneable handle (an `Arc` around the state
/// machines) whose [`call`](Limiter::call) admits, sends, reads the reply and retries.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use ratelab_live::Limiter;
/// use ratelab_strategies::admission::Semaphore;
/// use ratelab_strategies::{Layer, Retry, Stack};
///
/// // At most 4 in flight, no retries, no timeout (or `Limiter::from_spec` for a scenario's table).
/// let limiter = Limiter::new(Stack::new(vec![Layer::Semaphore(Semaphore::new(4))]), Retry::never(), None);
/// let reply = limiter
///     .call(|attempt| async move {
///         // Send the request here with any HTTP client and return its response.
///         Ok::<_, std::io::Error>(http::Response::new(format!("attempt {}", attempt.attempt)))
///     })
///     .await
///     .unwrap();
/// assert_eq!(reply.body(), "attempt 1");
/// # }
/// ```
pub struct Limiter<S = Stack, R = Retry> {
    inner: Arc<Inner<S, R>>,
}

impl<S, R> Limiter<S, R> {
    fn lock(&self) -> MutexGuard<'_, State<S, R>> {
        // A panic while holding the lock cannot leave the state machines half-updated in a way
        // that matters more than the panic itself: keep going with the inner value.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S, R> Clone for Limiter<S, R> {
    fn clone(&self) -> Self {
        Limiter {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Limiter {
    /// A limiter running the strategy of a scenario's `[[strategy]]` table; `seed` addresses its
    /// jitter draws (as in the simulator). Its clock starts now.
    pub fn from_spec(spec: &StrategySpec, seed: u64) -> Self {
        Limiter::from_built(spec.build(Draws::new(seed)))
    }

    /// A limiter around state machines built from a spec.
    pub fn from_built(built: BuiltStrategy) -> Self {
        Limiter::new(built.stack, built.retry, built.timeout)
    }
}

impl<S, R> Limiter<S, R>
where
    S: Strategy + Send + 'static,
    R: RetryPolicy + Send + 'static,
{
    /// A limiter around any strategy and retry policy, with an optional client timeout in
    /// nanoseconds. Its clock starts now; it is client 0 and has no observer.
    pub fn new(strategy: S, retry: R, timeout: Option<Nanos>) -> Self {
        Limiter::with_options(strategy, retry, timeout, Options::default())
    }

    /// A limiter with a shared start time, a client number and an observer.
    pub fn with_options(strategy: S, retry: R, timeout: Option<Nanos>, options: Options) -> Self {
        Limiter {
            inner: Arc::new(Inner {
                start: options.start.unwrap_or_else(Instant::now),
                client: options.client,
                timeout,
                spin: options.spin,
                state: Mutex::new(State {
                    strategy,
                    retry,
                    queue: BTreeMap::new(),
                    seq: 0,
                    next_id: 0,
                    clock: 0,
                }),
                observer: options.observer,
            }),
        }
    }

    /// Nanoseconds since the limiter's start.
    pub fn now(&self) -> Nanos {
        nanos_since(self.inner.start)
    }

    /// The instant its clock counts from.
    pub fn start(&self) -> Instant {
        self.inner.start
    }

    /// Runs `f` for one request of weight 1 under the strategy: see [`Limiter::call_request`].
    pub async fn call<F, Fut, T, E>(&self, f: F) -> Result<T, CallError<T, E>>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: HttpReply,
    {
        let id = {
            let mut st = self.lock();
            st.next_id += 1;
            st.next_id - 1
        };
        self.call_request(id, 1, f).await
    }

    /// Runs `f` for request `id` weighing `tokens`: admits each attempt, calls `f` to send it,
    /// reads the reply's status and headers, tells the strategy, and retries per the policy.
    /// A 2xx reply is returned as `Ok`; anything else ends in [`CallError`]. An `Err` from `f`
    /// (a transport error) counts as a server error with status 0.
    ///
    /// Ids only matter to the strategy's draws (jitter) and to the API; [`Limiter::call`]
    /// numbers requests itself.
    pub async fn call_request<F, Fut, T, E>(
        &self,
        id: u64,
        tokens: u64,
        mut f: F,
    ) -> Result<T, CallError<T, E>>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: HttpReply,
    {
        let ready = self.now();
        let mut attempt = 1u32;
        let mut ticket = (1u8, ready);
        loop {
            let info = RequestInfo {
                client: self.inner.client,
                id,
                attempt,
                tokens,
            };
            let Some(sent_at) = self.admit(&info, ticket).await else {
                let now = self.now();
                if let Some(o) = &self.inner.observer {
                    o.rejected(now, &info);
                }
                return Err(CallError::RejectedByBreaker {
                    attempts: attempt - 1,
                });
            };
            if let Some(o) = &self.inner.observer {
                o.sent(sent_at, &info);
            }
            // If this future is dropped while the attempt is out (a caller's timeout or
            // `select!`), the strategy still hears of it: otherwise its permit would never come
            // back and the limiter would stall.
            let mut in_flight = InFlightGuard {
                limiter: self,
                info,
                sent_at,
                armed: true,
            };
            let a = Attempt {
                client: info.client,
                id,
                attempt,
                tokens,
            };
            let fut = f(a);
            let result = match self.inner.timeout {
                Some(limit) => {
                    let deadline = self.inner.start + Duration::from_nanos(sent_at + limit);
                    tokio::time::timeout_at(deadline, fut).await.ok()
                }
                None => Some(fut.await),
            };
            let now = self.now();
            let (response, last) = match result {
                None => (
                    Response::timeout(info, sent_at, now.saturating_sub(sent_at)),
                    Failure::Timeout,
                ),
                Some(Ok(reply)) => (
                    response_from_parts(
                        info,
                        sent_at,
                        now,
                        reply.status_code(),
                        reply.header_map(),
                    ),
                    Failure::Reply(reply),
                ),
                Some(Err(e)) => {
                    let mut r = Response::new(info, sent_at, 0, now.saturating_sub(sent_at));
                    r.outcome = Outcome::ServerError;
                    (r, Failure::Error(e))
                }
            };
            in_flight.armed = false;
            let retry_at = self.record_reply(now, &response, true);
            if response.outcome == Outcome::Success {
                if let Some(o) = &self.inner.observer {
                    o.succeeded(now, &info, now.saturating_sub(ready));
                }
                return match last {
                    Failure::Reply(reply) => Ok(reply),
                    // A success always comes with a reply.
                    Failure::Error(e) => Err(CallError::GaveUp {
                        attempts: attempt,
                        last: Failure::Error(e),
                    }),
                    Failure::Timeout => Err(CallError::GaveUp {
                        attempts: attempt,
                        last: Failure::Timeout,
                    }),
                };
            }
            let Some(due) = retry_at else {
                if let Some(o) = &self.inner.observer {
                    o.gave_up(now, &response);
                }
                return Err(CallError::GaveUp {
                    attempts: attempt,
                    last,
                });
            };
            let due = due.max(now);
            if due > now {
                sleep_until(
                    self.inner.start + Duration::from_nanos(due),
                    self.inner.spin,
                )
                .await;
            }
            attempt += 1;
            ticket = (0, due);
        }
    }

    /// Waits until the strategy admits `info`; the send time, or `None` when it is rejected.
    async fn admit(&self, info: &RequestInfo, (class, at): (u8, Nanos)) -> Option<Nanos> {
        let notify = Arc::new(Notify::new());
        let ticket = {
            let mut st = self.lock();
            st.seq += 1;
            let ticket = Ticket {
                class,
                at,
                id: info.id,
                seq: st.seq,
            };
            st.queue.insert(ticket, Arc::clone(&notify));
            ticket
        };
        // Leaves the queue however this future ends (admitted, rejected or dropped).
        let _guard = TicketGuard {
            limiter: self,
            ticket,
        };
        loop {
            enum Next {
                Sent(Nanos),
                Rejected,
                Sleep(Nanos),
                Wait,
            }
            let next = {
                let mut st = self.lock();
                if st.queue.keys().next() != Some(&ticket) {
                    Next::Wait
                } else {
                    let now = st.tick(self.now());
                    match st.strategy.poll_admit(now, info) {
                        Admit::Now => {
                            st.strategy.on_send(now, info);
                            Next::Sent(now)
                        }
                        Admit::Reject => Next::Rejected,
                        // An answer in the past would spin: ask again a little later.
                        Admit::At(t) => Next::Sleep(t.max(now + 1)),
                        Admit::WhenSomethingCompletes => Next::Wait,
                    }
                }
            };
            match next {
                Next::Sent(now) => return Some(now),
                Next::Rejected => return None,
                Next::Sleep(t) => {
                    let deadline = self.inner.start + Duration::from_nanos(t);
                    tokio::select! {
                        biased;
                        _ = notify.notified() => {}
                        _ = sleep_until(deadline, self.inner.spin) => {}
                    }
                }
                Next::Wait => notify.notified().await,
            }
        }
    }
}

impl<S: Strategy, R: RetryPolicy> Limiter<S, R> {
    /// Gives the reply of an attempt to the strategy (and, with `ask_retry`, a failure to the
    /// retry policy, whose answer it returns), lets the head of the queue try again, and tells
    /// the observer: the one way a reply is recorded, whether it came or the call was dropped.
    fn record_reply(&self, now: Nanos, response: &Response, ask_retry: bool) -> Option<Nanos> {
        let retry_at = {
            let mut st = self.lock();
            let now = st.tick(now);
            st.strategy.on_response(now, response);
            let retry_at = if ask_retry && response.outcome != Outcome::Success {
                st.retry.retry_at(now, response)
            } else {
                None
            };
            st.wake_head();
            retry_at
        };
        if let Some(o) = &self.inner.observer {
            o.replied(now, response);
        }
        retry_at
    }
}

/// An attempt that was sent and whose reply has not been given to the strategy yet. Dropped
/// while armed (the call's future was dropped), it tells the strategy the attempt ended as the
/// client's own timeout at that moment, and the observer likewise (the request is then neither
/// succeeded nor dead-lettered: it stays pending).
struct InFlightGuard<'a, S: Strategy, R: RetryPolicy> {
    limiter: &'a Limiter<S, R>,
    info: RequestInfo,
    sent_at: Nanos,
    armed: bool,
}

impl<S: Strategy, R: RetryPolicy> Drop for InFlightGuard<'_, S, R> {
    fn drop(&mut self) {
        if self.armed {
            let now = nanos_since(self.limiter.inner.start);
            let waited = now.saturating_sub(self.sent_at);
            let response = Response::timeout(self.info, self.sent_at, waited);
            // Nothing will retry a dropped call: the policy is not asked.
            self.limiter.record_reply(now, &response, false);
        }
    }
}

struct TicketGuard<'a, S, R> {
    limiter: &'a Limiter<S, R>,
    ticket: Ticket,
}

impl<S, R> Drop for TicketGuard<'_, S, R> {
    fn drop(&mut self) {
        let mut st = self.limiter.lock();
        let was_head = st.queue.keys().next() == Some(&self.ticket);
        st.queue.remove(&self.ticket);
        if was_head {
            st.wake_head();
        }
    }
}

/// Options of [`Limiter::with_options`].
#[derive(Clone, Default)]
pub struct Options {
    /// The instant the clock counts from (default: when the limiter is made). Limiters of one run
    /// share it so their times compare.
    pub start: Option<Instant>,
    /// The client number put in [`Attempt`] and [`RequestInfo`] (default 0).
    pub client: u32,
    /// Told about every send, reply and final state.
    pub observer: Option<Arc<dyn Observer>>,
    /// Precise waits: sleep on tokio's timer until this long before a deadline, then yield until
    /// it (see [`sleep_until`]). Zero (the default) uses tokio's timer alone, which has
    /// millisecond resolution and wakes up to a millisecond or two late. Keep it zero under
    /// `tokio::time::pause`: a paused clock does not advance while a task spins.
    pub spin: Duration,
}

/// Sleeps until `deadline` (not at all when it has passed). With a non-zero `spin` it sleeps on
/// tokio's timer (millisecond resolution, typically 1–2 ms late) only until `spin` before the
/// deadline and then yields to the scheduler until the deadline has passed: waits are then accurate to the scheduler's
/// latency (tens of microseconds on an idle machine) at the price of a busy task during the last
/// `spin` of each wait.
pub async fn sleep_until(deadline: Instant, spin: Duration) {
    // tokio's timer would wait for its next millisecond tick even for a deadline that has passed.
    if deadline <= Instant::now() {
        return;
    }
    if spin.is_zero() {
        tokio::time::sleep_until(deadline).await;
        return;
    }
    if let Some(coarse) = deadline.checked_sub(spin)
        && coarse > Instant::now()
    {
        tokio::time::sleep_until(coarse).await;
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// Nanoseconds from `start` to now, saturating.
pub fn nanos_since(start: Instant) -> Nanos {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
