//! The tokio driver: one client's [`ClientCore`] — the same strategies, retry policies and
//! client-loop rules the simulator runs — on real time.
//!
//! A [`Limiter`] is one client's core behind an `Arc<Mutex<…>>`; it is cheap to clone and
//! shared by every task of that client. Time is the nanoseconds elapsed since the limiter's
//! start ([`tokio::time::Instant`], so tests can pause it). [`Limiter::call`] runs one request:
//!
//! 1. admission: each waiting call holds a ticket in the client's backlog, due retries (by due
//!    time) before fresh requests (by ready time and id), as in the simulator; only the head of
//!    the backlog asks [`ClientCore::poll_transmit`]. Send → the strategy commits and the user's
//!    future is called; blocked → sleep until [`ClientCore::poll_timeout`] or until something
//!    completes; rejected → [`CallError::RejectedByBreaker`];
//! 2. the user's future runs, under the client timeout when there is one;
//! 3. its status and headers become a typed [`Response`] ([`crate::headers`]) and
//!    [`ClientCore::handle_reply`] tells the strategy and, for a failure, the retry policy;
//!    every waiter is woken;
//! 4. a retry sleeps until it is due, then takes a retry ticket.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ratelab_strategies::client::{Backlog, ClientCore, Head, Refusal, Transmit, Verdict};
use ratelab_strategies::retry::DeadLetterReason;
use ratelab_strategies::spec::{BuiltStrategy, StrategySpec};
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{
    Draws, Outcome, RequestInfo, Response, Retry, RetryPolicy, Stack, Strategy,
};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::clock::{nanos_since, sleep_until};
use crate::errors::{CallError, Failure};
use crate::headers::response_from_parts;
use crate::reply::HttpReply;

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
    /// The request was given up at `now` after `resp`, for `reason`.
    fn gave_up(&self, _now: Nanos, _resp: &Response, _reason: DeadLetterReason) {}
    /// The request was refused for good at `now`: by an open breaker, or shed by the client's
    /// throttle.
    fn rejected(&self, _now: Nanos, _req: &RequestInfo, _refusal: Refusal) {}
}

/// Position in the backlog: due retries (class 0, by due time) before fresh requests (class 1,
/// by ready time and id), as in the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ticket {
    class: u8,
    at: Nanos,
    id: u64,
    seq: u64,
}

/// A call waiting for admission.
struct Waiting {
    head: Head,
    notify: Arc<Notify>,
}

/// The client's backlog: one ticket per waiting call. A retry takes its ticket only once it is
/// due (its call sleeps until then), so every ticket is ready.
#[derive(Default)]
struct Tickets(BTreeMap<Ticket, Waiting>);

impl Backlog for Tickets {
    fn head(&mut self, _now: Nanos) -> Option<Head> {
        self.0.values().next().map(|w| w.head)
    }
    fn remove(&mut self, head: &Head) {
        if self.0.values().next().is_some_and(|w| w.head == *head) {
            self.0.pop_first();
        }
    }
    fn earliest_retry(&self) -> Option<Nanos> {
        None
    }
}

impl Tickets {
    /// Lets the call at the head try again.
    fn wake_head(&self) {
        if let Some(w) = self.0.values().next() {
            w.notify.notify_one();
        }
    }
}

struct State<S, R> {
    core: ClientCore<S, R>,
    tickets: Tickets,
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
}

struct Inner<S, R> {
    start: Instant,
    client: u32,
    timeout: Option<Nanos>,
    spin: Duration,
    state: Mutex<State<S, R>>,
    observer: Option<Arc<dyn Observer>>,
    gate: Option<Arc<dyn Gate>>,
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
                    core: ClientCore::new(strategy, retry, timeout),
                    tickets: Tickets::default(),
                    seq: 0,
                    next_id: 0,
                    clock: 0,
                }),
                observer: options.observer,
                gate: options.gate,
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
        let mut head = Head {
            info: RequestInfo {
                client: self.inner.client,
                id,
                attempt: 1,
                tokens,
            },
            ready_at: ready,
            retry: false,
            queued_at: ready,
        };
        let mut due = ready;
        // Armed while the request waits to retry: a call dropped then ends its request.
        let mut waiting: Option<WaitingGuard<'_, S, R>> = None;
        loop {
            let info = head.info;
            let admitted = self.admit(head, due).await;
            if let Some(mut w) = waiting.take() {
                w.armed = false; // sent, or refused (which ends it in the core)
            }
            let sent_at = match admitted {
                Ok(sent_at) => sent_at,
                Err(refusal) => {
                    let now = self.now();
                    if let Some(o) = &self.inner.observer {
                        o.rejected(now, &info, refusal);
                    }
                    let attempts = info.attempt - 1;
                    return Err(match refusal {
                        Refusal::Breaker => CallError::RejectedByBreaker { attempts },
                        Refusal::Throttle => CallError::RejectedByThrottle { attempts },
                    });
                }
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
            let fut = f(Attempt {
                client: info.client,
                id,
                attempt: info.attempt,
                tokens,
            });
            let result = match self.inner.timeout {
                Some(limit) => {
                    let deadline = self.inner.start + Duration::from_nanos(sent_at + limit);
                    tokio::time::timeout_at(deadline, fut).await.ok()
                }
                None => Some(fut.await),
            };
            let now = self.now();
            let waited = now.saturating_sub(sent_at);
            let (response, failure) = match result {
                Some(Ok(reply)) => {
                    let response = response_from_parts(
                        info,
                        sent_at,
                        now,
                        reply.status_code(),
                        reply.header_map(),
                    );
                    if response.outcome == Outcome::Success {
                        in_flight.armed = false;
                        self.record_reply(now, &response);
                        if let Some(o) = &self.inner.observer {
                            o.succeeded(now, &info, now.saturating_sub(ready));
                        }
                        return Ok(reply);
                    }
                    (response, Failure::Reply(reply))
                }
                Some(Err(e)) => (
                    Response::connection(info, sent_at, waited),
                    Failure::Error(e),
                ),
                None => (Response::timeout(info, sent_at, waited), Failure::Timeout),
            };
            in_flight.armed = false;
            let retry_due = match self.record_reply(now, &response) {
                Verdict::RetryAt(due) => due,
                Verdict::GaveUp(reason) => {
                    if let Some(o) = &self.inner.observer {
                        o.gave_up(now, &response, reason);
                    }
                    return Err(CallError::GaveUp {
                        attempts: info.attempt,
                        reason,
                        last: failure,
                    });
                }
                Verdict::Succeeded => unreachable!("a failure's reply is not a success"),
            };
            waiting = Some(WaitingGuard {
                limiter: self,
                info,
                armed: true,
            });
            if retry_due > now {
                sleep_until(
                    self.inner.start + Duration::from_nanos(retry_due),
                    self.inner.spin,
                )
                .await;
            }
            head.info.attempt += 1;
            head.retry = true;
            head.queued_at = retry_due;
            due = retry_due;
        }
    }

    /// Waits until the core sends `head` (its backlog position: a retry's due time, a fresh
    /// request's ready time); the send time, or who refused it for good.
    async fn admit(&self, head: Head, at: Nanos) -> Result<Nanos, Refusal> {
        let notify = Arc::new(Notify::new());
        let ticket = {
            let mut st = self.lock();
            st.seq += 1;
            let ticket = Ticket {
                class: u8::from(!head.retry),
                at,
                id: head.info.id,
                seq: st.seq,
            };
            let waiting = Waiting {
                head,
                notify: Arc::clone(&notify),
            };
            st.tickets.0.insert(ticket, waiting);
            ticket
        };
        // Leaves the backlog however this future ends (admitted, rejected or dropped).
        let _guard = TicketGuard {
            limiter: self,
            ticket,
        };
        loop {
            enum Next {
                Sent(Nanos),
                Rejected(Refusal),
                Sleep(Nanos),
                Wait,
                Gate(Head),
            }
            let next = {
                let mut st = self.lock();
                if st.tickets.0.keys().next() != Some(&ticket) {
                    Next::Wait
                } else {
                    let now = st.tick(self.now());
                    let State { core, tickets, .. } = &mut *st;
                    let head = tickets.head(now);
                    match core.poll_transmit(now, head.as_ref()) {
                        Transmit::Send(h) if self.inner.gate.is_some() => Next::Gate(*h),
                        Transmit::Send(h) => {
                            core.on_sent(now, tickets, h);
                            tickets.wake_head();
                            Next::Sent(now)
                        }
                        Transmit::Rejected(h, refusal) => {
                            core.on_rejected(now, tickets, h, refusal);
                            tickets.wake_head();
                            Next::Rejected(refusal)
                        }
                        Transmit::Blocked => match core.poll_timeout(now, tickets) {
                            Some(t) => Next::Sleep(t),
                            None => Next::Wait,
                        },
                    }
                }
            };
            match next {
                Next::Gate(h) => {
                    let gate = self.inner.gate.as_ref().expect("a gate was asked for");
                    match gate.admit(&h.info).await {
                        GateAnswer::Now => {
                            // Committed as the strategy admitted it (a reply that came in
                            // while the gate was asked changes nothing here: the attempt is
                            // sent, as any client's would be once its limiter said yes).
                            let mut st = self.lock();
                            let now = st.tick(self.now());
                            let State { core, tickets, .. } = &mut *st;
                            core.on_sent(now, tickets, &h);
                            tickets.wake_head();
                            return Ok(now);
                        }
                        GateAnswer::After(wait) => {
                            tokio::select! {
                                biased;
                                _ = notify.notified() => {}
                                _ = sleep_until(Instant::now() + wait, self.inner.spin) => {}
                            }
                        }
                    }
                }
                Next::Sent(now) => return Ok(now),
                Next::Rejected(refusal) => return Err(refusal),
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
    /// Gives the reply of an attempt to the core (the strategy, and for a failure the retry
    /// policy, whose verdict it returns), lets the head of the backlog try again, and tells the
    /// observer.
    fn record_reply(&self, now: Nanos, response: &Response) -> Verdict {
        let verdict = {
            let mut st = self.lock();
            let now = st.tick(now);
            let verdict = st.core.handle_reply(now, response);
            st.tickets.wake_head();
            verdict
        };
        if let Some(o) = &self.inner.observer {
            o.replied(now, response);
        }
        verdict
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
        if !self.armed {
            return;
        }
        let limiter = self.limiter;
        let now = nanos_since(limiter.inner.start);
        let response = Response::timeout(self.info, self.sent_at, now.saturating_sub(self.sent_at));
        {
            let mut st = limiter.lock();
            let now = st.tick(now);
            // Nothing will retry a dropped call: the policy is not asked.
            st.core.handle_abandoned(now, &response);
            st.tickets.wake_head();
        }
        if let Some(o) = &limiter.inner.observer {
            o.replied(now, &response);
        }
    }
}

/// A call dropped while its request waits to retry ends the request: the core tells the layers
/// that hear of ends (a semaphore holding its permit through the backoff) and the policy.
struct WaitingGuard<'a, S: Strategy, R: RetryPolicy> {
    limiter: &'a Limiter<S, R>,
    info: RequestInfo,
    armed: bool,
}

impl<S: Strategy, R: RetryPolicy> Drop for WaitingGuard<'_, S, R> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let limiter = self.limiter;
        let mut st = limiter.lock();
        let now = st.tick(nanos_since(limiter.inner.start));
        st.core.handle_dropped(now, &self.info);
        st.tickets.wake_head();
    }
}

struct TicketGuard<'a, S, R> {
    limiter: &'a Limiter<S, R>,
    ticket: Ticket,
}

impl<S, R> Drop for TicketGuard<'_, S, R> {
    fn drop(&mut self) {
        let mut st = self.limiter.lock();
        let was_head = st.tickets.0.keys().next() == Some(&self.ticket);
        st.tickets.0.remove(&self.ticket);
        if was_head {
            st.tickets.wake_head();
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
    /// Asked last, after the strategy admits an attempt: a limit kept outside this process
    /// (a bucket in Redis shared by several processes, [`crate::store`]).
    pub gate: Option<Arc<dyn Gate>>,
}

/// What a [`Gate`] says about an attempt the strategy admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateAnswer {
    /// Send it: the gate has taken what it costs.
    Now,
    /// Not yet (nothing was taken): ask again after this long.
    After(Duration),
}

/// A limit outside the strategy's state machines, asked with an attempt the strategy has
/// admitted, just before it is committed and sent: a shared bucket in an external store. An
/// answer is final for the attempt: [`GateAnswer::Now`] has taken its cost.
pub trait Gate: Send + Sync {
    /// May `req` go now? Takes its cost when it may.
    fn admit<'a>(
        &'a self,
        req: &'a RequestInfo,
    ) -> std::pin::Pin<Box<dyn Future<Output = GateAnswer> + Send + 'a>>;
    /// Decisions the gate's store did not answer (failed or late) so far.
    fn failures(&self) -> u64 {
        0
    }
}
