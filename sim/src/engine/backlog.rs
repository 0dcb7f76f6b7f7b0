//! What one simulated client has to send: fresh work as a counter (with the ready times of
//! arrivals over time that are not sent yet) and retries in a heap by due time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use ratelab_strategies::RequestInfo;
use ratelab_strategies::client::{Backlog, Head};
use ratelab_strategies::draws::Draws;
use ratelab_strategies::time::Nanos;

use crate::workload::Weights;

/// A retry waiting to be due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PendingRetry {
    pub due: Nanos,
    pub id: u64,
    pub attempt: u32,
    pub ready_at: Nanos,
    pub tokens: u64,
}

/// The token weight of a fresh request that was polled, drawn once however often it is asked.
#[derive(Clone, Copy, Debug)]
struct HeadTokens {
    id: u64,
    tokens: u64,
}

/// One client's backlog in the simulator.
pub(crate) struct SimBacklog {
    client: u32,
    /// Next fresh request id; ids below it were sent (or rejected) at least once.
    next_fresh: u64,
    /// Requests that have arrived (all of them at t = 0 without an arrival process).
    arrived: u64,
    /// Arrival times of arrived requests not yet sent (arrivals over time only).
    ready_times: VecDeque<Nanos>,
    head_tokens: Option<HeadTokens>,
    tokens: Weights,
    draws: Draws,
    retries: BinaryHeap<Reverse<PendingRetry>>,
}

impl SimBacklog {
    /// The backlog of `client`: `arrived` requests ready at t = 0, weighed by `tokens`.
    pub fn new(client: u32, arrived: u64, tokens: Weights, draws: Draws) -> Self {
        SimBacklog {
            client,
            next_fresh: 0,
            arrived,
            ready_times: VecDeque::new(),
            head_tokens: None,
            tokens,
            draws,
            retries: BinaryHeap::new(),
        }
    }

    /// A request arrived at `now`; answers how many have arrived.
    pub fn arrive(&mut self, now: Nanos) -> u64 {
        self.arrived += 1;
        self.ready_times.push_back(now);
        self.arrived
    }

    /// Queues a retry.
    pub fn push_retry(&mut self, retry: PendingRetry) {
        self.retries.push(Reverse(retry));
    }

    /// Retries waiting.
    pub fn retries_waiting(&self) -> usize {
        self.retries.len()
    }

    fn fresh_tokens(&mut self, id: u64) -> u64 {
        match self.head_tokens {
            Some(h) if h.id == id => h.tokens,
            _ => {
                let tokens = self.tokens.tokens_of(&self.draws, self.client, id);
                self.head_tokens = Some(HeadTokens { id, tokens });
                tokens
            }
        }
    }
}

impl Backlog for SimBacklog {
    #[inline(always)]
    fn head(&mut self, now: Nanos) -> Option<Head> {
        if let Some(Reverse(r)) = self.retries.peek()
            && r.due <= now
        {
            return Some(Head {
                info: RequestInfo {
                    client: self.client,
                    id: r.id,
                    attempt: r.attempt,
                    tokens: r.tokens,
                },
                ready_at: r.ready_at,
                retry: true,
                queued_at: r.due,
            });
        }
        if self.next_fresh >= self.arrived {
            return None;
        }
        let id = self.next_fresh;
        let tokens = self.fresh_tokens(id);
        let ready_at = self.ready_times.front().copied().unwrap_or(0);
        Some(Head {
            info: RequestInfo {
                client: self.client,
                id,
                attempt: 1,
                tokens,
            },
            ready_at,
            retry: false,
            queued_at: ready_at,
        })
    }

    #[inline(always)]
    fn remove(&mut self, head: &Head) {
        if head.retry {
            self.retries.pop();
        } else {
            self.next_fresh += 1;
            self.ready_times.pop_front();
        }
    }

    #[inline(always)]
    fn earliest_retry(&self) -> Option<Nanos> {
        self.retries.peek().map(|r| r.0.due)
    }
}
