//! The simulator's driver: clients, their strategies and the API on one virtual clock.
//!
//! Semantics (ARCHITECTURE.md, "Decisions"): at an instant t every event due at t is applied,
//! in the order it was scheduled, before any admission at t; with several clients, the client
//! asked first rotates from instant to instant, an instant being a time at which an event (a
//! reply, an arrival) or a client's pending wake-up is due. The rules of each client's loop —
//! due retries first, the head alone asked, retries scheduled, timeouts, the next wake — are
//! [`ClientCore`]'s, shared with the live driver; what is the engine's own: each client keeps at
//! most one pending wake-up, outside the event queue (a small heap of wake times; an entry that
//! no longer matches its client's wake is stale and skipped), fresh work is a counter
//! (`backlog.rs`), and attempts in flight live in a slab.

mod backlog;
mod slab;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ratelab_strategies::client::{Backlog, ClientCore, Heard, Transmit, Verdict};
use ratelab_strategies::draws::Draws;
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{RequestInfo, Response, RetryPolicy, Strategy};

use crate::api::ApiModel;
use crate::metrics::Recorder;
use crate::queue::EventQueue;
use crate::result::{StopReason, StrategyResult};
use crate::scenario::Scenario;
use backlog::{PendingRetry, SimBacklog};
use slab::{Flight, Slab};

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
    /// The next request of a client with arrivals over time is ready.
    Arrival(u32),
}

struct Client<S, R> {
    core: ClientCore<S, R>,
    backlog: SimBacklog,
    /// The pending wake-up, if any (its entry in `Engine::wakes` is the live one).
    wake: Option<Nanos>,
    /// The client is in `Engine::to_admit`.
    queued_for_admission: bool,
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
    flights: Slab,
    /// Requests held: in flight or waiting to retry, all clients together.
    held: u64,
    /// `scenario.max_requests_held`: `held` may not go beyond it.
    max_held: u64,
    /// The run met `max_held`: it stops at the current instant.
    held_too_many: bool,
    /// Some client reads the rate-limit headers: replies carry them.
    headers_read: bool,
    /// Clients to ask at the end of this instant (a reply, an arrival or a wake-up came).
    to_admit: Vec<u32>,
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
        .map(|c| {
            let s = setup(c);
            let arrived = if batch { wl.requests } else { 0 };
            Client {
                core: ClientCore::new(s.strategy, s.retry, s.timeout),
                backlog: SimBacklog::new(c, arrived, wl.weights(), draws),
                wake: None,
                queued_for_admission: false,
            }
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
        flights: Slab::default(),
        held: 0,
        max_held: scenario.max_requests_held,
        held_too_many: false,
        headers_read: true,
        to_admit: Vec::new(),
        rec: Recorder::new(wl.clients, wl.requests, horizon),
        now: 0,
        events: 0,
    };
    engine.api.record_series(engine.rec.step());
    // The rate-limit headers cost a computation per reply: skip them when no one reads them.
    if !engine
        .clients
        .iter()
        .any(|c| c.core.reads_rate_limit_headers())
    {
        engine.headers_read = false;
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
            if self.to_admit.is_empty() || self.held_too_many {
                continue;
            }
            let mut to_admit = std::mem::take(&mut self.to_admit);
            if to_admit.len() > 1 {
                to_admit.sort_unstable_by_key(|&c| (c + n - first) % n);
            }
            for &c in &to_admit {
                if self.held_too_many {
                    break;
                }
                self.clients[c as usize].queued_for_admission = false;
                self.admit(c);
            }
            to_admit.clear();
            self.to_admit = to_admit;
        }
    }

    fn queue_for_admission(&mut self, c: u32) {
        let client = &mut self.clients[c as usize];
        if !client.queued_for_admission {
            client.queued_for_admission = true;
            self.to_admit.push(c);
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
            self.queue_for_admission(0);
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
                self.queue_for_admission(c);
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
            Event::Arrival(c) => self.arrive(c),
        }
    }

    /// The next request of client `c` (arrivals over time) is ready now.
    #[inline(never)]
    fn arrive(&mut self, c: u32) {
        let now = self.now;
        let wl = &self.scenario.workload;
        let arrived = self.clients[c as usize].backlog.arrive(now);
        if arrived < wl.requests
            && let Some(gap) = wl.arrival_gap(&self.draws, c, arrived)
        {
            self.queue.push(now.saturating_add(gap), Event::Arrival(c));
        }
        self.queue_for_admission(c);
    }

    /// Sends what the client's strategy admits at `now`, then schedules its wake-up.
    fn admit(&mut self, c: u32) {
        let now = self.now;
        loop {
            let cl = &mut self.clients[c as usize];
            let Some(head) = cl.backlog.head(now) else {
                cl.core.poll_transmit(now, None);
                break;
            };
            match cl.core.poll_transmit(now, Some(&head)) {
                Transmit::Send(head) => {
                    // A fresh request adds one to what the run holds: past the limit the run
                    // stops, and nothing more is sent (the main loop asks no one after this).
                    if !head.retry && self.held >= self.max_held {
                        self.stop_held_too_many();
                        break;
                    }
                    cl.core.on_sent(now, &mut cl.backlog, head);
                    self.held += u64::from(!head.retry);
                    self.send(head.info, head.ready_at);
                }
                Transmit::Rejected(head, refusal) => {
                    cl.core.on_rejected(now, &mut cl.backlog, head, refusal);
                    self.held -= u64::from(head.retry);
                    self.rec.rejected(c, now, refusal);
                }
                Transmit::Blocked => break,
            }
        }
        let cl = &self.clients[c as usize];
        if let Some(t) = cl.core.poll_timeout(now, &cl.backlog) {
            self.schedule_wake(c, t);
        }
    }

    /// Sends the attempt `info`, whose request became ready at `ready_at`.
    fn send(&mut self, info: RequestInfo, ready_at: Nanos) {
        let now = self.now;
        let reply = self.api.handle(now, &info);
        let slot = self.flights.take_slot();
        let flight = self.flights.get_mut(slot);
        flight.ready_at = ready_at;
        flight.settle = false;
        let at = match self.clients[info.client as usize].core.hears(reply.latency) {
            Heard::Reply => {
                flight.settle = reply.settle;
                flight.response = reply.to_response(info, now);
                if reply.has_headers && self.headers_read {
                    self.api.headers(now).apply(&mut flight.response);
                }
                now.saturating_add(reply.latency)
            }
            Heard::Timeout(limit) => {
                flight.response = Response::timeout(info, now, limit);
                now + limit
            }
        };
        self.queue.push(at, Event::Reply(slot));
        self.rec.sent(info.client, now, info.tokens);
    }

    fn on_reply(&mut self, slot: u32) {
        let now = self.now;
        self.flights.free(slot);
        if self.flights.get(slot).settle {
            self.settle(slot);
        }
        // The reply is read in place in the slab (the slot is not reused before this returns).
        let Engine {
            flights,
            clients,
            rec,
            held,
            ..
        } = self;
        let Flight {
            ready_at, response, ..
        } = flights.get(slot);
        let (ready_at, req) = (*ready_at, response.request);
        let c = req.client;
        rec.replied(c, now, response.outcome, response.status);
        let cl = &mut clients[c as usize];
        match cl.core.handle_reply(now, response) {
            Verdict::Succeeded => {
                *held -= 1;
                rec.succeeded(c, now, req.attempt, now - ready_at);
            }
            Verdict::RetryAt(due) => cl.backlog.push_retry(PendingRetry {
                due,
                id: req.id,
                attempt: req.attempt + 1,
                ready_at,
                tokens: req.tokens,
            }),
            Verdict::GaveUp(reason) => {
                *held -= 1;
                rec.gave_up(now, response, reason);
            }
        }
        if !cl.core.reply_changes_nothing(now, cl.wake, &cl.backlog) {
            self.queue_for_admission(c);
        }
    }

    /// The API settles the status of the reply in `slot` (a 409 when its write conflicted).
    #[cold]
    fn settle(&mut self, slot: u32) {
        let flight = self.flights.get_mut(slot);
        if !self.api.settle(self.now, &flight.response.request) {
            flight.response.status = 409;
            flight.response.outcome = ratelab_strategies::Outcome::Conflict;
        }
    }

    /// The run holds as many requests as it may: it ends at the current instant (what is due
    /// now is still applied), as at a horizon, and nothing more is sent: the client being asked
    /// stops there, and the main loop asks no one else.
    #[cold]
    fn stop_held_too_many(&mut self) {
        self.held_too_many = true;
        self.horizon = self.now;
    }

    fn into_result(self, name: &str, stop: StopReason) -> StrategyResult {
        debug_assert_eq!(
            self.held,
            self.flights.len() as u64
                + self
                    .clients
                    .iter()
                    .map(|c| c.backlog.retries_waiting() as u64)
                    .sum::<u64>(),
            "held is the count of attempts in flight and retries waiting"
        );
        let end = if stop == StopReason::Horizon {
            self.horizon
        } else {
            self.now
        };
        let mut api = self.api;
        let mut result = self.rec.into_result(name, stop, end, self.events);
        let series = api.finish(end);
        result.series.set_api(series);
        result
    }
}
