//! The `Strategy` trait and `Stack`, the composition of admission layers.

use crate::admission::{Aimd, FixedDelay, Semaphore, TokenBucket, Unlimited};
use crate::breaker::Breaker;
use crate::time::Nanos;
use crate::types::{Admit, RequestInfo, Response};

/// A client-side admission strategy as a sans-IO state machine.
///
/// It is told the time and what happened, and answers what may be done; it never sleeps, spawns
/// or reads a clock. The simulator drives it on virtual time, the live driver on real time.
pub trait Strategy {
    /// May `req` be sent at `now`? Must not change what later calls answer (it only reads).
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit;
    /// `req` is sent at `now`: commit (take a token, a permit…).
    fn on_send(&mut self, now: Nanos, req: &RequestInfo);
    /// A reply (or the client's own timeout) for an attempt sent earlier arrived at `now`.
    fn on_response(&mut self, now: Nanos, resp: &Response);
    /// Does this strategy read a reply's rate-limit headers ([`Response::remaining`],
    /// [`Response::reset`])? A driver may leave them out (`None`) when no strategy of a client
    /// reads them, which spares computing them. The default is `true`: a strategy that does not
    /// say otherwise always gets them.
    fn reads_rate_limit_headers(&self) -> bool {
        true
    }
    /// Asked right after [`Strategy::on_response`]: could that reply have made `poll_admit`
    /// answer differently? A driver whose last answer for a request was `At(t)` may, when this
    /// says no, not ask again about it until `t` (or an earlier wake of its own). So answer
    /// `false` only when that `At(t)` still stands after the reply: nothing is admitted before
    /// `t` by the passing of time alone (what [`Admit::At`] promises) nor because of this reply
    /// (a token bucket ignores replies, a semaphore that was not full stays open). The default,
    /// `true`, is always correct.
    fn response_changes_admission(&self) -> bool {
        true
    }
    /// Does this strategy hear replies? Answer `false` only when [`Strategy::on_response`] does
    /// nothing (a token bucket's): a caller such as [`Stack`] may then leave the call out. The
    /// answer must not change over the strategy's life (a `Stack` asks once, when the layer is
    /// added). The default, `true`, is always correct.
    fn hears_responses(&self) -> bool {
        true
    }
    /// Can [`Strategy::response_changes_admission`] ever answer `true`? Answer `false` only when
    /// it never does (a semaphore's, a token bucket's): a caller such as [`Stack`] may then leave
    /// the question out. The answer must not change over the strategy's life (a `Stack` asks
    /// once, when the layer is added). The default, `true`, is always correct.
    fn response_may_change_admission(&self) -> bool {
        true
    }
}

/// One layer of a [`Stack`]: the built-ins as an enum (no dynamic dispatch on the hot path) and
/// users' own strategies behind the open trait.
#[repr(u8)]
pub enum Layer {
    /// Admit everything at once.
    Unlimited(Unlimited),
    /// One at a time, a pause after each reply.
    FixedDelay(FixedDelay),
    /// At most `permits` in flight.
    Semaphore(Semaphore),
    /// A token bucket (a leaky bucket is one with a burst of one).
    TokenBucket(TokenBucket),
    /// An adaptive concurrency window.
    Aimd(Aimd),
    /// A circuit breaker.
    Breaker(Breaker),
    /// A user's own strategy.
    Custom(Box<dyn Strategy + Send>),
}

macro_rules! each_layer {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Layer::Unlimited($s) => $body,
            Layer::FixedDelay($s) => $body,
            Layer::Semaphore($s) => $body,
            Layer::TokenBucket($s) => $body,
            Layer::Aimd($s) => $body,
            Layer::Breaker($s) => $body,
            Layer::Custom($s) => $body,
        }
    };
}

impl Strategy for Layer {
    #[inline]
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        each_layer!(self, s => s.poll_admit(now, req))
    }
    #[inline]
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        each_layer!(self, s => s.on_send(now, req))
    }
    #[inline]
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        each_layer!(self, s => s.on_response(now, resp))
    }
    fn reads_rate_limit_headers(&self) -> bool {
        match self {
            // None of the built-ins looks at `remaining`/`reset`.
            Layer::Custom(s) => s.reads_rate_limit_headers(),
            _ => false,
        }
    }
    #[inline]
    fn response_changes_admission(&self) -> bool {
        each_layer!(self, s => s.response_changes_admission())
    }
    fn hears_responses(&self) -> bool {
        each_layer!(self, s => s.hears_responses())
    }
    fn response_may_change_admission(&self) -> bool {
        each_layer!(self, s => s.response_may_change_admission())
    }
}

/// Layers that must all admit, like tower layers around one service.
///
/// The stack admits when every layer says `Now`; a `Reject` from any layer rejects; otherwise it
/// answers the latest `At` (no layer admits before its own) or, failing that,
/// `WhenSomethingCompletes`.
#[derive(Default)]
pub struct Stack {
    layers: Vec<Layer>,
    /// Indices of the layers that hear replies ([`Strategy::hears_responses`]), in order: only
    /// they are told of a reply.
    hearers: Vec<usize>,
    /// Indices of the layers whose admission a reply may change
    /// ([`Strategy::response_may_change_admission`]): only they are asked whether it did.
    changers: Vec<usize>,
}

impl Stack {
    /// A stack of these layers, asked in order.
    pub fn new(layers: Vec<Layer>) -> Self {
        let mut stack = Stack::default();
        for layer in layers {
            stack.push(layer);
        }
        stack
    }

    /// Adds a layer at the end.
    pub fn push(&mut self, layer: Layer) {
        if layer.hears_responses() {
            self.hearers.push(self.layers.len());
        }
        if layer.response_may_change_admission() {
            self.changers.push(self.layers.len());
        }
        self.layers.push(layer);
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
}

impl Strategy for Stack {
    #[inline]
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        let mut at: Option<Nanos> = None;
        let mut wait_for_completion = false;
        for layer in &mut self.layers {
            match layer.poll_admit(now, req) {
                Admit::Now => {}
                Admit::Reject => return Admit::Reject,
                Admit::At(t) if t <= now => {}
                Admit::At(t) => at = Some(at.map_or(t, |a| a.max(t))),
                Admit::WhenSomethingCompletes => wait_for_completion = true,
            }
        }
        match (at, wait_for_completion) {
            (Some(t), _) => Admit::At(t),
            (None, true) => Admit::WhenSomethingCompletes,
            (None, false) => Admit::Now,
        }
    }

    #[inline]
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        for layer in &mut self.layers {
            layer.on_send(now, req);
        }
    }

    #[inline]
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        // In the layers' order, as before the layers that ignore replies were left out.
        for &i in &self.hearers {
            self.layers[i].on_response(now, resp);
        }
    }

    fn reads_rate_limit_headers(&self) -> bool {
        self.layers.iter().any(Layer::reads_rate_limit_headers)
    }

    #[inline]
    fn response_changes_admission(&self) -> bool {
        self.changers
            .iter()
            .any(|&i| self.layers[i].response_changes_admission())
    }

    fn hears_responses(&self) -> bool {
        !self.hearers.is_empty()
    }

    fn response_may_change_admission(&self) -> bool {
        !self.changers.is_empty()
    }
}

impl<S: Strategy + ?Sized> Strategy for Box<S> {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        (**self).poll_admit(now, req)
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        (**self).on_send(now, req)
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        (**self).on_response(now, resp)
    }
    fn reads_rate_limit_headers(&self) -> bool {
        (**self).reads_rate_limit_headers()
    }
    fn response_changes_admission(&self) -> bool {
        (**self).response_changes_admission()
    }
    fn hears_responses(&self) -> bool {
        (**self).hears_responses()
    }
    fn response_may_change_admission(&self) -> bool {
        (**self).response_may_change_admission()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{Aimd, Semaphore, TokenBucket};
    use crate::bucket::Rate;
    use crate::testing::{reply_ok, req};
    use crate::time::SECOND;

    fn bucket() -> Layer {
        Layer::TokenBucket(TokenBucket::new(
            Rate::new(1000.0, SECOND).unwrap(),
            10,
            false,
        ))
    }

    #[test]
    fn a_reply_reaches_every_layer_that_hears_it_wherever_it_stands() {
        let mut stack = Stack::new(vec![
            Layer::Semaphore(Semaphore::new(1)),
            bucket(),
            Layer::Semaphore(Semaphore::new(2)),
        ]);
        stack.push(bucket());
        stack.push(Layer::Semaphore(Semaphore::new(1)));
        assert_eq!(stack.hearers, vec![0, 2, 4]);
        assert_eq!(stack.poll_admit(0, &req(0)), Admit::Now);
        stack.on_send(0, &req(0));
        assert_eq!(stack.poll_admit(0, &req(1)), Admit::WhenSomethingCompletes);
        stack.on_response(5, &reply_ok(0, 0));
        for layer in stack.layers() {
            if let Layer::Semaphore(s) = layer {
                assert_eq!(s.in_flight(), 0);
            }
        }
        assert_eq!(stack.poll_admit(5, &req(1)), Admit::Now);
    }

    #[test]
    fn only_layers_whose_admission_a_reply_may_change_are_asked_whether_it_did() {
        let quiet = Stack::new(vec![bucket(), Layer::Semaphore(Semaphore::new(4))]);
        assert!(quiet.hears_responses());
        assert!(!quiet.response_may_change_admission());
        assert!(!quiet.response_changes_admission());
        assert!(!Stack::new(vec![bucket()]).hears_responses());
        let adaptive = Stack::new(vec![
            bucket(),
            Layer::Semaphore(Semaphore::new(4)),
            Layer::Aimd(Aimd::new(4.0, 1.0, 100.0, 1.0, 0.5)),
        ]);
        assert_eq!(
            (adaptive.hearers.clone(), adaptive.changers.clone()),
            (vec![1, 2], vec![2])
        );
        assert!(adaptive.response_may_change_admission());
        assert!(adaptive.response_changes_admission());
    }

    /// The built-ins that say they ignore replies do: told of every reply or of none, they give
    /// the same answers (so a `Stack` may leave them out).
    #[test]
    fn layers_that_say_they_ignore_replies_answer_the_same_without_them() {
        use crate::admission::Unlimited;
        use crate::testing::reply;
        let builds: [fn() -> Layer; 3] = [
            bucket,
            || Layer::TokenBucket(TokenBucket::new(Rate::new(7.5, SECOND).unwrap(), 3, true)),
            || Layer::Unlimited(Unlimited),
        ];
        for build in builds {
            let (mut told, mut untold) = (build(), build());
            assert!(!told.hears_responses() && !told.response_may_change_admission());
            let mut now = 0;
            for id in 0..300u64 {
                let mut r = req(id);
                r.tokens = 1 + id % 3;
                let answer = told.poll_admit(now, &r);
                assert_eq!(answer, untold.poll_admit(now, &r), "request {id} at {now}");
                if answer == Admit::Now {
                    told.on_send(now, &r);
                    untold.on_send(now, &r);
                }
                let status = [200, 429, 503][(id % 3) as usize];
                told.on_response(now + 1, &reply(id, now, status));
                now += 1 + (id * 48_271) % 200_000_000;
            }
        }
    }

    /// A strategy that ignores replies but whose `At(t)` may move anyway (say, a bucket shared
    /// with something outside the stack) is still asked.
    #[test]
    fn a_layer_that_ignores_replies_may_still_say_admission_changed() {
        struct Outside;
        impl Strategy for Outside {
            fn poll_admit(&mut self, now: Nanos, _req: &RequestInfo) -> Admit {
                Admit::At(now + 1)
            }
            fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {}
            fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
            fn hears_responses(&self) -> bool {
                false
            }
        }
        let stack = Stack::new(vec![bucket(), Layer::Custom(Box::new(Outside))]);
        assert_eq!(
            (stack.hearers.clone(), stack.changers.clone()),
            (vec![], vec![1])
        );
        assert!(stack.response_changes_admission());
    }
}
