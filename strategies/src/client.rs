//! The client loop's rules as one sans-IO machine, driven by the simulator on virtual time and
//! by the live driver on real time, in the style of quinn-proto's `Connection`: the driver asks
//! [`ClientCore::poll_transmit`] whether the head of its [`Backlog`] may go, says when it sent
//! it ([`ClientCore::on_sent`]), hands it each reply ([`ClientCore::handle_reply`]) and sleeps
//! until [`ClientCore::poll_timeout`].
//!
//! The rules it holds: due retries go before fresh requests (the order of a [`Backlog`]); only
//! the head of the backlog is asked, and a `Reject` makes it final; an `At(t)` in the past is
//! asked again one nanosecond later, so a confused strategy cannot spin an instant; a reply goes
//! to the strategy first, then a failure to the retry policy, whose time is never before the
//! reply; the client's own timeout replaces a reply that would come later; the next wake is the
//! earlier of the strategy's `At` and the next retry; and a reply that leaves an `At(t)`
//! standing needs no new question before `t`. Where the work waits is the driver's: the
//! simulator keeps fresh work as a counter and retries in a heap, the live driver a ticket per
//! waiting call — both behind [`Backlog`].

use crate::retry::{DeadLetterReason, RetryPolicy};
use crate::strategy::Strategy;
use crate::time::Nanos;
use crate::types::{Admit, Outcome, RequestInfo, Response};

/// An attempt waiting to be sent: the head of a [`Backlog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// The attempt.
    pub info: RequestInfo,
    /// When its request became ready (end-to-end latency counts from here).
    pub ready_at: Nanos,
    /// It is a retry (not a request's first send).
    pub retry: bool,
    /// When it joined the queue: its request's ready time for a first send, the retry's due
    /// time for a retry (a breaker checked before the queue looks at this time).
    pub queued_at: Nanos,
}

/// What one client has to send, in the order the client loop sends it.
pub trait Backlog {
    /// The attempt to ask about at `now`: the earliest retry due at or before `now`, else the
    /// next fresh request that is ready, else `None`.
    fn head(&mut self, now: Nanos) -> Option<Head>;
    /// Removes `head`, the value [`Backlog::head`] just answered (it was sent or rejected).
    fn remove(&mut self, head: &Head);
    /// The due time of the earliest retry waiting, due or not (`None` when none waits here).
    fn earliest_retry(&self) -> Option<Nanos>;
}

/// What [`ClientCore::poll_transmit`] says the driver should do with the head it was asked
/// about (a reference to it: the head is made once, where the driver keeps it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transmit<'h> {
    /// Send this attempt, then call [`ClientCore::on_sent`] (or, if the driver cannot send it,
    /// leave it where it is: nothing was committed).
    Send(&'h Head),
    /// The strategy refused this request for good, for the reason given: it is final; take it
    /// out of the backlog with [`ClientCore::on_rejected`].
    Rejected(&'h Head, Refusal),
    /// Nothing to send now: ask again at [`ClientCore::poll_timeout`] or after the next reply.
    Blocked,
}

/// Who refused a request for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An open breaker with `on_open = "fail"` ([`Admit::Reject`]): `rejected_by_breaker`.
    Breaker,
    /// The client's own throttle ([`Admit::Shed`]): `rejected_by_throttle`.
    Throttle,
}

/// What became of a request after a reply to one of its attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The attempt succeeded: the request is final.
    Succeeded,
    /// It failed and is tried again at this time (never before the reply).
    RetryAt(Nanos),
    /// It failed and the policy gives up, for this reason: the request is dead-lettered.
    GaveUp(DeadLetterReason),
}

/// How the client hears of an attempt whose reply takes `latency`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    /// The reply itself, `latency` after the send.
    Reply,
    /// The client's own timeout, this long after the send: the reply would come later.
    Timeout(Nanos),
}

/// One client: its strategy, retry policy and timeout, and the rules of the client loop.
#[derive(Clone, Debug)]
pub struct ClientCore<S, R> {
    strategy: S,
    retry: R,
    timeout: Option<Nanos>,
    /// The strategy's last answer for the head was `At(t)`: `t`, moved past the time it was
    /// asked. It stands until then unless the strategy says a reply changed it.
    blocked_until: Option<Nanos>,
    /// The strategy hears of a request's end ([`crate::Hints::hears_finals`], asked once).
    hears_finals: bool,
}

impl<S: Strategy, R: RetryPolicy> ClientCore<S, R> {
    /// A client with this strategy, retry policy and timeout (nanoseconds; `None`: it waits for
    /// every reply).
    pub fn new(strategy: S, retry: R, timeout: Option<Nanos>) -> Self {
        ClientCore {
            hears_finals: strategy.hints().hears_finals,
            strategy,
            retry,
            timeout,
            blocked_until: None,
        }
    }

    /// Asks the strategy about `head`, what [`Backlog::head`] answered at `now` (`None`: nothing
    /// waits; it must still be told, as that ends a wait for the previous head). The head stays in the backlog until [`ClientCore::on_sent`] or
    /// [`ClientCore::on_rejected`].
    #[inline(always)]
    pub fn poll_transmit<'h>(&mut self, now: Nanos, head: Option<&'h Head>) -> Transmit<'h> {
        self.blocked_until = None;
        let Some(head) = head else {
            return Transmit::Blocked;
        };
        match self
            .strategy
            .poll_admit_queued(now, head.queued_at, &head.info)
        {
            Admit::Now => Transmit::Send(head),
            Admit::Reject => Transmit::Rejected(head, Refusal::Breaker),
            Admit::Shed => Transmit::Rejected(head, Refusal::Throttle),
            Admit::At(t) => {
                // An answer in the past would spin: ask again one nanosecond later.
                self.blocked_until = Some(t.max(now + 1));
                Transmit::Blocked
            }
            Admit::WhenSomethingCompletes => Transmit::Blocked,
        }
    }

    /// `head`, answered [`Transmit::Send`], is sent at `now`: the strategy commits (takes its
    /// token, its permit…) and the head leaves the backlog.
    #[inline(always)]
    pub fn on_sent(&mut self, now: Nanos, backlog: &mut impl Backlog, head: &Head) {
        self.strategy.on_send(now, &head.info);
        if !head.retry {
            self.retry.on_first_send(now, &head.info);
        }
        backlog.remove(head);
    }

    /// `head`, answered [`Transmit::Rejected`] at `now` for `refusal`, is final: it leaves the
    /// backlog, and a shed request is told to the strategy ([`Strategy::on_shed`]).
    #[inline(always)]
    pub fn on_rejected(
        &mut self,
        now: Nanos,
        backlog: &mut impl Backlog,
        head: &Head,
        refusal: Refusal,
    ) {
        if refusal == Refusal::Throttle {
            self.strategy.on_shed(now, &head.info);
        }
        // A refused retry ends a request that was sent before (it may hold a permit); a refused
        // first attempt was never sent and holds nothing.
        if self.hears_finals && head.retry {
            self.strategy.on_final(now, &head.info);
        }
        self.retry.on_final(now, &head.info, false);
        backlog.remove(head);
    }

    /// When to ask again, if nothing completes first: the strategy's `At`, or the next retry
    /// that is not due yet, whichever is earlier.
    #[inline(always)]
    pub fn poll_timeout(&self, now: Nanos, backlog: &impl Backlog) -> Option<Nanos> {
        let next_retry = backlog.earliest_retry().filter(|&d| d > now);
        match (self.blocked_until, next_retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How the client hears of an attempt whose reply takes `latency`: the reply, or its own
    /// timeout when that comes first.
    #[inline(always)]
    pub fn hears(&self, latency: Nanos) -> Heard {
        match self.timeout {
            Some(limit) if latency > limit => Heard::Timeout(limit),
            _ => Heard::Reply,
        }
    }

    /// The client's timeout, if it has one.
    pub fn timeout(&self) -> Option<Nanos> {
        self.timeout
    }

    /// The reply (or timeout) `resp` arrived at `now`: the strategy is told, then a failure is
    /// put to the retry policy.
    #[inline(always)]
    pub fn handle_reply(&mut self, now: Nanos, resp: &Response) -> Verdict {
        self.strategy.on_response(now, resp);
        let verdict = if resp.outcome == Outcome::Success {
            Verdict::Succeeded
        } else {
            match self.retry.retry_at(now, resp) {
                Ok(due) => return Verdict::RetryAt(due.max(now)),
                Err(reason) => Verdict::GaveUp(reason),
            }
        };
        if self.hears_finals {
            self.strategy.on_final(now, &resp.request);
        }
        self.retry
            .on_final(now, &resp.request, verdict == Verdict::Succeeded);
        verdict
    }

    /// The caller stopped waiting for an attempt (its call was dropped): the strategy hears of
    /// it as `resp` (a timeout), so that its permit comes back; nothing retries it.
    pub fn handle_abandoned(&mut self, now: Nanos, resp: &Response) {
        self.strategy.on_response(now, resp);
        if self.hears_finals {
            self.strategy.on_final(now, &resp.request);
        }
        self.retry.on_final(now, &resp.request, false);
    }

    /// The caller stopped waiting for a request between its attempts (its call was dropped while
    /// it waited to retry): the request is final; the layers that hear of ends and the retry
    /// policy are told.
    pub fn handle_dropped(&mut self, now: Nanos, req: &RequestInfo) {
        if self.hears_finals {
            self.strategy.on_final(now, req);
        }
        self.retry.on_final(now, req, false);
    }

    /// After a reply at `now`: would asking again now send nothing and bring no wake earlier
    /// than `wake` (the driver's pending one)? True when the strategy's last answer `At(t)`
    /// still stands (`t` is ahead and the strategy says the reply changed nothing) and no retry
    /// is due before that wake. Then the driver need not ask before its wake (an exact
    /// shortcut).
    #[inline(always)]
    pub fn reply_changes_nothing(
        &self,
        now: Nanos,
        wake: Option<Nanos>,
        backlog: &impl Backlog,
    ) -> bool {
        let Some(wake) = wake else {
            return false;
        };
        self.blocked_until.is_some_and(|t| t > now)
            && backlog.earliest_retry().is_none_or(|due| due >= wake)
            && !self.strategy.response_changes_admission()
    }

    /// Does the strategy or the retry policy read the rate-limit headers?
    pub fn reads_rate_limit_headers(&self) -> bool {
        self.strategy.hints().reads_rate_limit_headers || self.retry.reads_rate_limit_headers()
    }

    /// The strategy.
    pub fn strategy(&self) -> &S {
        &self.strategy
    }

    /// The retry policy.
    pub fn retry(&self) -> &R {
        &self.retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{FixedDelay, Semaphore};
    use crate::retry::{FixedRetry, GiveUp, RetryOn};
    use crate::testing::{reply, req};

    /// Retries in a list, fresh requests from a counter.
    #[derive(Default)]
    struct Work {
        retries: Vec<(Nanos, RequestInfo)>,
        fresh: u64,
        sent_fresh: u64,
    }

    impl Backlog for Work {
        fn head(&mut self, now: Nanos) -> Option<Head> {
            self.retries.sort_by_key(|r| r.0);
            if let Some(&(due, info)) = self.retries.first()
                && due <= now
            {
                return Some(Head {
                    info,
                    ready_at: 0,
                    retry: true,
                    queued_at: due,
                });
            }
            (self.sent_fresh < self.fresh).then(|| Head {
                info: req(self.sent_fresh),
                ready_at: 0,
                retry: false,
                queued_at: 0,
            })
        }
        fn remove(&mut self, head: &Head) {
            if head.retry {
                self.retries.remove(0);
            } else {
                self.sent_fresh += 1;
            }
        }
        fn earliest_retry(&self) -> Option<Nanos> {
            self.retries.iter().map(|r| r.0).min()
        }
    }

    fn fixed_retry(delay: Nanos) -> FixedRetry {
        FixedRetry::new(delay, GiveUp::new(RetryOn::ALL, 3))
    }

    #[test]
    fn due_retries_go_before_fresh_work_and_waits_are_the_earlier() {
        let mut core = ClientCore::new(Semaphore::new(1), fixed_retry(50), None);
        let mut work = Work {
            fresh: 3,
            ..Work::default()
        };
        let head = work.head(0);
        let Transmit::Send(first) = core.poll_transmit(0, head.as_ref()) else {
            panic!("the first request goes at once");
        };
        core.on_sent(0, &mut work, first);
        let head = work.head(0);
        assert_eq!(core.poll_transmit(0, head.as_ref()), Transmit::Blocked);
        assert_eq!(core.poll_timeout(0, &work), None, "waits for a reply");
        assert_eq!(
            core.handle_reply(10, &reply(0, 0, 429)),
            Verdict::RetryAt(60)
        );
        let mut retry = req(0);
        retry.attempt = 2;
        work.retries.push((60, retry));
        // Fresh work goes while the retry is not due; the wake is the retry's.
        let head = work.head(10);
        let Transmit::Send(next) = core.poll_transmit(10, head.as_ref()) else {
            panic!("fresh work is not blocked by a retry not due");
        };
        assert!(!next.retry);
        core.on_sent(10, &mut work, next);
        assert_eq!(core.poll_timeout(10, &work), Some(60));
        assert_eq!(
            core.handle_reply(60, &reply(1, 10, 200)),
            Verdict::Succeeded
        );
        let head = work.head(60);
        let Transmit::Send(due) = core.poll_transmit(60, head.as_ref()) else {
            panic!("the due retry goes");
        };
        assert_eq!((due.retry, due.info.attempt), (true, 2));
    }

    #[test]
    fn a_refused_first_attempt_is_no_end_for_the_layers_a_refused_retry_is() {
        use std::cell::Cell;
        use std::rc::Rc;
        struct Ends(Rc<Cell<u32>>);
        impl Strategy for Ends {
            fn poll_admit(&mut self, _now: Nanos, _req: &RequestInfo) -> Admit {
                Admit::Shed
            }
            fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {}
            fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
            fn on_final(&mut self, _now: Nanos, _req: &RequestInfo) {
                self.0.set(self.0.get() + 1);
            }
        }
        let ends = Rc::new(Cell::new(0));
        let mut core = ClientCore::new(Ends(Rc::clone(&ends)), fixed_retry(1), None);
        let mut work = Work {
            fresh: 1,
            ..Work::default()
        };
        let fresh = work.head(0).unwrap();
        core.on_rejected(0, &mut work, &fresh, Refusal::Throttle);
        assert_eq!(ends.get(), 0, "never sent: holds nothing");
        let mut retry = req(7);
        retry.attempt = 2;
        work.retries.push((0, retry));
        let head = work.head(0).unwrap();
        core.on_rejected(0, &mut work, &head, Refusal::Breaker);
        assert_eq!(
            ends.get(),
            1,
            "a refused retry ends a request that was sent"
        );
    }

    #[test]
    fn an_answer_in_the_past_is_asked_again_a_nanosecond_later() {
        struct Stale;
        impl Strategy for Stale {
            fn poll_admit(&mut self, _now: Nanos, _req: &RequestInfo) -> Admit {
                Admit::At(5)
            }
            fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {}
            fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
        }
        let mut core = ClientCore::new(Stale, fixed_retry(1), None);
        let mut work = Work {
            fresh: 1,
            ..Work::default()
        };
        assert_eq!(
            core.poll_transmit(100, work.head(100).as_ref()),
            Transmit::Blocked
        );
        assert_eq!(core.poll_timeout(100, &work), Some(101));
    }

    #[test]
    fn a_timeout_replaces_a_later_reply_and_a_standing_wait_needs_no_question() {
        let mut core = ClientCore::new(FixedDelay::new(100), fixed_retry(1), Some(30));
        assert_eq!(core.hears(30), Heard::Reply);
        assert_eq!(core.hears(31), Heard::Timeout(30));
        let mut work = Work {
            fresh: 2,
            ..Work::default()
        };
        let head = work.head(0);
        let Transmit::Send(h) = core.poll_transmit(0, head.as_ref()) else {
            panic!()
        };
        core.on_sent(0, &mut work, h);
        assert_eq!(core.handle_reply(10, &reply(0, 0, 200)), Verdict::Succeeded);
        assert_eq!(
            core.poll_transmit(10, work.head(10).as_ref()),
            Transmit::Blocked
        );
        assert_eq!(core.poll_timeout(10, &work), Some(110));
        // A fixed delay says every reply may change admission: it is asked again.
        assert!(!core.reply_changes_nothing(20, Some(110), &work));
        assert!(!core.reply_changes_nothing(20, None, &work));
    }
}
