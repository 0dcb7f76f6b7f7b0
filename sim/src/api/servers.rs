//! A finite service capacity (`[api] servers = C`, `queue_limit = Q`): at most C requests are
//! served at once, the others wait in FIFO order and their latency includes the wait; a request
//! that finds Q waiting is answered 503. A request is served to the end even when its client
//! stopped waiting (wasted work, the seed of a metastable failure).
//!
//! Service is decided at arrival: with FIFO order and the service time drawn at arrival, a
//! request's start is `max(now, the earliest time a server is free)`, known at once.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use ratelab_strategies::time::Nanos;

/// The servers and their queue during a run.
#[derive(Clone, Debug)]
pub struct Servers {
    /// When each server is free (a min-heap: one entry per server).
    free_at: BinaryHeap<Reverse<Nanos>>,
    /// Start times of the requests admitted and not yet started, in FIFO (= start) order.
    waiting: VecDeque<Nanos>,
    queue_limit: u64,
}

impl Servers {
    /// `servers` idle servers and a queue of at most `queue_limit` (`u64::MAX`: unbounded).
    pub fn new(servers: u32, queue_limit: u64) -> Self {
        Servers {
            free_at: (0..servers).map(|_| Reverse(0)).collect(),
            waiting: VecDeque::new(),
            queue_limit,
        }
    }

    /// Requests waiting at `now` (admitted, service not begun).
    pub fn queued(&mut self, now: Nanos) -> u64 {
        while self.waiting.front().is_some_and(|&s| s <= now) {
            self.waiting.pop_front();
        }
        self.waiting.len() as u64
    }

    /// The wait before service for a request arriving at `now`, if one arrived now.
    pub fn wait(&self, now: Nanos) -> Nanos {
        self.free_at
            .peek()
            .map_or(0, |&Reverse(free)| free.saturating_sub(now))
    }

    /// Serves a request arriving at `now` for `service`: the time from `now` to the end of its
    /// service (queue wait + service), or `None` when the queue is full (a 503).
    pub fn serve(&mut self, now: Nanos, service: Nanos) -> Option<Nanos> {
        let start = now.saturating_add(self.wait(now));
        if start > now {
            if self.queued(now) >= self.queue_limit {
                return None;
            }
            self.waiting.push_back(start);
        }
        let end = start.saturating_add(service);
        if let Some(mut free) = self.free_at.peek_mut() {
            *free = Reverse(end);
        }
        Some(end - now)
    }

    /// From `at` on there are `servers` servers: new ones are idle; when there are fewer, the
    /// ones that would be free first are removed (the others finish what they serve), so a
    /// request waits until fewer than `servers` are busy.
    pub fn resize(&mut self, at: Nanos, servers: u32) {
        let servers = servers as usize;
        while self.free_at.len() > servers {
            self.free_at.pop();
        }
        while self.free_at.len() < servers {
            self.free_at.push(Reverse(at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_wait_in_fifo_order_and_a_full_queue_refuses() {
        let mut s = Servers::new(2, 1);
        assert_eq!(s.serve(0, 100), Some(100));
        assert_eq!(s.serve(0, 100), Some(100));
        // Both busy until 100: the third waits 100, the fourth finds the queue full.
        assert_eq!(s.serve(10, 100), Some(190));
        assert_eq!(s.queued(10), 1);
        assert_eq!(s.serve(20, 100), None);
        // At 100 the waiting one starts on one server, the other is free.
        assert_eq!(s.queued(100), 0);
        assert_eq!(s.serve(100, 50), Some(50));
        assert_eq!(s.serve(100, 50), Some(50 + 50));
        assert_eq!(s.serve(300, 10), Some(10));
    }

    #[test]
    fn fewer_servers_wait_for_the_busiest() {
        let mut s = Servers::new(3, u64::MAX);
        s.serve(0, 100);
        s.serve(0, 200);
        s.serve(0, 300);
        s.resize(50, 1);
        // One server from now on: a request starts when none is busy (at 300).
        assert_eq!(s.wait(50), 250);
        s.resize(60, 2);
        assert_eq!(s.wait(60), 0);
    }
}
