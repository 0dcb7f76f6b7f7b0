//! The client loop: clients, their strategies and the API on one virtual clock.
//!
//! Semantics (ARCHITECTURE.md, "Decisions"): at an instant t every event due at t is applied,
//! in the order it was scheduled, before any admission at t; due retries go before fresh
//! requests; with several clients, the client asked first rotates from instant to instant, an
//! instant being a time at which an event (a reply, an arrival) or a client's pending wake-up is
//! due. Each client keeps at most one pending wake-up, outside the event queue (a small heap of
//! wake times; an entry that no longer matches its client's wake is stale and skipped), fresh
//! work is a counter, and attempts in flight live in a slab.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use ratelab_strategies::draws::Draws;
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{Admit, Outcome, RequestInfo, Response, RetryPolicy, Strategy};

use crate::api::ApiModel;
use crate::metrics::Recorder;
use crate::queue::EventQueue;
use crate::result::{StopReason, StrategyResult};
use crate::scenario::Scenario;

/// One client's strategy: admission, retry policy and optional timeout.
pub struct ClientSetup<S, R> {
    /// Admission (a [`ratelab_strategies::Stack`] for the built-ins).
    pub strategy: S,
    /// Retry policy.
    pub retry: R,
    /// The client gives up waiting for a reply after this long.
    pub timeout: Option<Nanos>,
}

/// How far a run has come, for progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Requests in a final state.
    pub finals: u64,
    /// Requests in all.
    pub requests: u64,
    /// Virtual time.
    pub now: Nanos,
    /// The horizon.
    pub horizon: Nanos,
}

/// Events between two progress reports.
const PROGRESS_EVERY: u64 = 1 << 18;

#[derive(Clone, Copy, Debug)]
enum Event {
    /// The reply (or the client's timeout) of the attempt in this slab slot.
    Reply(u32),
    /// The next request of a client with Poisson arrivals is ready.
    Arrival(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PendingRetry {
    due: Nanos,
    id: u64,
    attempt: u32,
    ready_at: Nanos,
    tokens: u64,
}

#[derive(Clone, Copy, Debug)]
struct Flight {
    ready_at: Nanos,
    response: Response,
}

struct Client<S, R> {
    setup: ClientSetup<S, R>,
    /// Next fresh request id; ids below it were sent (or rejected) at least once.
    next_fresh: u64,
    /// Requests that have arrived (all of them at t = 0 without an arrival process).
    arrived: u64,
    /// Arrival times of arrived requests not yet sent (Poisson arrivals only).
    ready_times: VecDeque<Nanos>,
    /// Tokens of the fresh request at the head, drawn once however often it is polled.
    head_tokens: Option<(u64, u64)>,
    retries: BinaryHeap<Reverse<PendingRetry>>,
    /// The pending wake-up, if any (its entry in `Engine::wakes` is the live one).
    wake: Option<Nanos>,
    dirty: bool,
    /// The strategy's last answer was `At(t)` for the request at the head: until `t` it stands
    /// unless the strategy says a reply changed it.
    blocked_until: Option<Nanos>,
}

struct Engine<'a, S, R> {
    scenario: &'a Scenario,
    draws: Draws,
    horizon: Nanos,
    requests: u64,
    api: ApiModel,
    clients: Vec<Client<S, R>>,
    queue: EventQueue<Event>,
    /// Clients' wake-ups by time (stale entries included, skipped when met).
    wakes: BinaryHeap<Reverse<(Nanos, u32)>>,
    flights: Vec<Flight>,
    free_slots: Vec<u32>,
    /// Retries waiting in the clients' queues, all clients together.
    retries_waiting: u64,
    /// `scenario.max_requests_held`: slab slots plus retries waiting may not go beyond it.
    max_held: u64,
    /// The run met `max_held`: it stops at the current instant.
    held_too_many: bool,
    dirty: Vec<u32>,
    rec: Recorder,
    now: Nanos,
    events: u64,
}

/// Runs one strategy of `scenario` with `seed`; `setup` builds each client's state machines.
pub fn simulate<S: Strategy, R: RetryPolicy>(
    scenario: &Scenario,
    seed: u64,
    name: &str,
    mut setup: impl FnMut(u32) -> ClientSetup<S, R>,
    mut progress: Option<&mut dyn FnMut(Progress)>,
) -> StrategyResult {
    let draws = Draws::new(seed);
    let wl = &scenario.workload;
    let batch = wl.arrival_gap(&draws, 0, 0).is_none();
    let clients = (0..wl.clients)
        .map(|c| Client {
            setup: setup(c),
            next_fresh: 0,
            arrived: if batch { wl.requests } else { 0 },
            ready_times: VecDeque::new(),
            head_tokens: None,
            retries: BinaryHeap::new(),
            wake: None,
            dirty: false,
            blocked_until: None,
        })
        .collect();
    let horizon = scenario.horizon();
    let mut engine = Engine {
        scenario,
        draws,
        horizon,
        requests: wl.total_requests(),
        api: scenario.api.build(draws, wl.clients),
        clients,
        queue: EventQueue::default(),
        wakes: BinaryHeap::new(),
        flights: Vec::new(),
        free_slots: Vec::new(),
        retries_waiting: 0,
        max_held: scenario.max_requests_held,
        held_too_many: false,
        dirty: Vec::new(),
        rec: Recorder::new(wl.clients, wl.requests, horizon),
        now: 0,
        events: 0,
    };
    // The rate-limit headers cost a computation per reply: skip them when no one reads them.
    if !engine.clients.iter().any(|c| {
        c.setup.strategy.reads_rate_limit_headers() || c.setup.retry.reads_rate_limit_headers()
    }) {
        engine.api.omit_headers();
    }
    for c in 0..wl.clients {
        match wl.arrival_gap(&draws, c, 0) {
            Some(gap) => engine.queue.push(gap, Event::Arrival(c)),
            None => engine.schedule_wake(c, 0),
        }
    }
    let mut stop = engine.run(&mut progress);
    // Stopped by the limit (at the instant it was met), unless everything still ended there.
    if engine.held_too_many && stop != StopReason::AllFinal {
        stop = StopReason::MemoryLimit;
    }
    engine.into_result(name, stop)
}

impl<S: Strategy, R: RetryPolicy> Engine<'_, S, R> {
    fn run(&mut self, progress: &mut Option<&mut dyn FnMut(Progress)>) -> StopReason {
        let n = self.clients.len() as u32;
        let mut first = 0u32;
        let mut last_instant = None;
        let mut next_report = PROGRESS_EVERY;
        loop {
            if self.rec.finals() == self.requests {
                return StopReason::AllFinal;
            }
            let next_event = self.queue.peek_time();
            let next_wake = self.next_wake();
            let t = match (next_event, next_wake) {
                (Some(e), Some(w)) => e.min(w),
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => return StopReason::Stalled,
            };
            if t > self.horizon {
                return StopReason::Horizon;
            }
            self.now = t;
            self.queue.advance_to(t);
            // Everything due at t, including what applying it schedules at t. Waking a client
            // only marks it for admission, so wakes and events commute.
            if next_wake == Some(t) {
                self.wake_due(t);
            }
            while let Some(event) = self.queue.pop_due() {
                self.events += 1;
                self.apply(event);
            }
            if self.events >= next_report {
                next_report = self.events + PROGRESS_EVERY;
                if let Some(report) = progress.as_mut() {
                    report(Progress {
                        finals: self.rec.finals(),
                        requests: self.requests,
                        now: t,
                        horizon: self.horizon,
                    });
                }
            }
            // A lone client is always first: no rotation to keep.
            if n > 1 && last_instant != Some(t) {
                if last_instant.is_some() {
                    // `(first + 1) % n` without a division per instant.
                    first = if first + 1 == n { 0 } else { first + 1 };
                }
                last_instant = Some(t);
            }
            // About half the instants are replies that leave every client as it was. Once the
            // memory limit stopped the run, no one is asked (what was due now still came in).
            if self.dirty.is_empty() || self.held_too_many {
                continue;
            }
            let mut dirty = std::mem::take(&mut self.dirty);
            if dirty.len() > 1 {
                dirty.sort_unstable_by_key(|&c| (c + n - first) % n);
            }
            for &c in &dirty {
                self.clients[c as usize].dirty = false;
                self.admit(c);
            }
            dirty.clear();
            self.dirty = dirty;
        }
    }

    fn mark_dirty(&mut self, c: u32) {
        let client = &mut self.clients[c as usize];
        if !client.dirty {
            client.dirty = true;
            self.dirty.push(c);
        }
    }

    fn schedule_wake(&mut self, c: u32, at: Nanos) {
        let client = &mut self.clients[c as usize];
        if client.wake.is_none_or(|w| at < w) {
            client.wake = Some(at);
            // A single client's wake is its own field: no heap needed.
            if self.clients.len() > 1 {
                self.wakes.push(Reverse((at, c)));
            }
        }
    }

    /// Marks the clients whose wake-up is due at `t`.
    fn wake_due(&mut self, t: Nanos) {
        if self.clients.len() == 1 {
            self.clients[0].wake = None;
            self.events += 1;
            self.mark_dirty(0);
            return;
        }
        while let Some(&Reverse((w, c))) = self.wakes.peek()
            && w == t
        {
            self.wakes.pop();
            let client = &mut self.clients[c as usize];
            if client.wake == Some(t) {
                client.wake = None;
                self.events += 1;
                self.mark_dirty(c);
            }
        }
    }

    /// The earliest pending wake-up, dropping stale entries on the way.
    fn next_wake(&mut self) -> Option<Nanos> {
        if self.clients.len() == 1 {
            return self.clients[0].wake;
        }
        while let Some(&Reverse((t, c))) = self.wakes.peek() {
            if self.clients[c as usize].wake == Some(t) {
                return Some(t);
            }
            self.wakes.pop();
        }
        None
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Reply(slot) => self.on_reply(slot),
            Event::Arrival(c) => {
                let now = self.now;
                let requests = self.scenario.workload.requests;
                let cl = &mut self.clients[c as usize];
                cl.arrived += 1;
                cl.ready_times.push_back(now);
                let next = cl.arrived;
                if next < requests
                    && let Some(gap) = self.scenario.workload.arrival_gap(&self.draws, c, next)
                {
                    self.queue.push(now.saturating_add(gap), Event::Arrival(c));
                }
                self.mark_dirty(c);
            }
        }
    }

    /// Sends what the client's strategy admits at `now`: due retries first, then fresh work;
    /// then schedules the client's wake-up.
    fn admit(&mut self, c: u32) {
        let now = self.now;
        let mut wake_at = None;
        self.clients[c as usize].blocked_until = None;
        loop {
            let cl = &mut self.clients[c as usize];
            let due = cl.retries.peek().filter(|r| r.0.due <= now).map(|r| r.0);
            let (info, ready_at) = if let Some(r) = due {
                let info = RequestInfo {
                    client: c,
                    id: r.id,
                    attempt: r.attempt,
                    tokens: r.tokens,
                };
                (info, r.ready_at)
            } else if cl.next_fresh < cl.arrived {
                let id = cl.next_fresh;
                let tokens = match cl.head_tokens {
                    Some((head, tokens)) if head == id => tokens,
                    _ => {
                        let tokens = self.scenario.workload.tokens_of(&self.draws, c, id);
                        cl.head_tokens = Some((id, tokens));
                        tokens
                    }
                };
                let info = RequestInfo {
                    client: c,
                    id,
                    attempt: 1,
                    tokens,
                };
                (info, cl.ready_times.front().copied().unwrap_or(0))
            } else {
                break;
            };
            match cl.setup.strategy.poll_admit(now, &info) {
                Admit::Now => {
                    // A free slot, or a new one if the requests held then (one more slot, and
                    // one retry less if this is one) stay within the limit.
                    let Some(slot) = self.free_slots.pop().or_else(|| {
                        let held = self.flights.len() as u64 + 1 + self.retries_waiting
                            - u64::from(due.is_some());
                        new_slot(&mut self.flights, held, self.max_held, self.held_too_many)
                    }) else {
                        self.stop_held_too_many();
                        break;
                    };
                    cl.setup.strategy.on_send(now, &info);
                    cl.take_head(due.is_some(), &mut self.retries_waiting);
                    self.send(info, ready_at, slot);
                }
                Admit::Reject => {
                    cl.take_head(due.is_some(), &mut self.retries_waiting);
                    self.rec.rejected(c, now);
                }
                Admit::At(t) => {
                    // An answer in the past would spin: ask again one nanosecond later.
                    wake_at = Some(t.max(now + 1));
                    cl.blocked_until = wake_at;
                    break;
                }
                Admit::WhenSomethingCompletes => break,
            }
        }
        let cl = &self.clients[c as usize];
        let next_retry = cl.retries.peek().map(|r| r.0.due).filter(|&d| d > now);
        let wake = match (wake_at, next_retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(t) = wake {
            self.schedule_wake(c, t);
        }
    }

    /// Sends the attempt `info` into the slab slot `slot` (free, or new).
    fn send(&mut self, info: RequestInfo, ready_at: Nanos, slot: u32) {
        let now = self.now;
        let reply = self.api.handle(now, &info);
        let timeout = self.clients[info.client as usize].setup.timeout;
        let (at, response) = match timeout {
            Some(limit) if reply.latency > limit => {
                (now + limit, Response::timeout(info, now, limit))
            }
            _ => (
                now.saturating_add(reply.latency),
                reply.to_response(info, now),
            ),
        };
        self.flights[slot as usize] = Flight { ready_at, response };
        self.queue.push(at, Event::Reply(slot));
        self.rec.sent(info.client, now);
    }

    fn on_reply(&mut self, slot: u32) {
        let now = self.now;
        self.free_slots.push(slot);
        // The reply is read in place in the slab (the slot is not reused before this returns).
        let Engine {
            flights,
            clients,
            rec,
            retries_waiting,
            max_held,
            ..
        } = self;
        let mut too_many = false;
        let Flight { ready_at, response } = &flights[slot as usize];
        let req = response.request;
        let c = req.client;
        rec.replied(c, now, response.outcome, response.status);
        let cl = &mut clients[c as usize];
        cl.setup.strategy.on_response(now, response);
        if response.outcome == Outcome::Success {
            rec.succeeded(c, now, req.attempt, now - ready_at);
        } else if let Some(due) = cl.setup.retry.retry_at(now, response) {
            cl.retries.push(Reverse(PendingRetry {
                due: due.max(now),
                id: req.id,
                attempt: req.attempt + 1,
                ready_at: *ready_at,
                tokens: req.tokens,
            }));
            *retries_waiting += 1;
            too_many = flights.len() as u64 + *retries_waiting > *max_held;
        } else {
            rec.gave_up(now, response);
        }
        if !cl.reply_changes_nothing(now) {
            self.mark_dirty(c);
        }
        if too_many {
            self.stop_held_too_many();
        }
    }

    /// The run holds as many requests as it may: it ends at the current instant (what is due
    /// now is still applied), as at a horizon, and nothing more is sent: the main loop asks no
    /// one after this instant's events, and a client still being asked now gets no new slot
    /// (there is no free one: a send is refused only when there is none).
    #[cold]
    fn stop_held_too_many(&mut self) {
        self.held_too_many = true;
        self.horizon = self.now;
    }

    fn into_result(self, name: &str, stop: StopReason) -> StrategyResult {
        debug_assert_eq!(
            self.retries_waiting,
            self.clients
                .iter()
                .map(|c| c.retries.len() as u64)
                .sum::<u64>(),
            "retries_waiting is the count of every client's retries"
        );
        let end = if stop == StopReason::Horizon {
            self.horizon
        } else {
            self.now
        };
        self.rec.into_result(name, stop, end, self.events)
    }
}

/// A new slot at the end of the slab, unless the run was `stopped` or `held` (the requests held
/// once it is taken) would be more than `max_held`.
#[cold]
fn new_slot(flights: &mut Vec<Flight>, held: u64, max_held: u64, stopped: bool) -> Option<u32> {
    if stopped || held > max_held {
        return None;
    }
    let empty = RequestInfo {
        client: 0,
        id: 0,
        attempt: 0,
        tokens: 0,
    };
    flights.push(Flight {
        ready_at: 0,
        response: Response::new(empty, 0, 0, 0),
    });
    Some((flights.len() - 1) as u32)
}

impl<S: Strategy, R> Client<S, R> {
    /// After a reply at `now`: would asking the strategy again now send nothing and schedule no
    /// earlier wake? True when its last answer `At(t)` still stands (`t` is ahead, a wake is
    /// pending, the strategy says the reply changed nothing) and no retry is due before that
    /// wake. Then the client is not asked again before its wake (an exact shortcut).
    fn reply_changes_nothing(&self, now: Nanos) -> bool {
        let Some(wake) = self.wake else {
            return false;
        };
        self.blocked_until.is_some_and(|t| t > now)
            && self.retries.peek().is_none_or(|r| r.0.due >= wake)
            && !self.setup.strategy.response_changes_admission()
    }
}

impl<S, R> Client<S, R> {
    /// Removes the request that was just sent or rejected from the head of its queue (a retry:
    /// one less in `retries_waiting`, the count over all clients).
    fn take_head(&mut self, retry: bool, retries_waiting: &mut u64) {
        if retry {
            self.retries.pop();
            *retries_waiting -= 1;
        } else {
            self.next_fresh += 1;
            self.ready_times.pop_front();
        }
    }
}
