//! The `Strategy` trait and `Stack`, the composition of admission layers.

use crate::admission::Layer;
use crate::time::Nanos;
use crate::types::{Admit, RequestInfo, Response};

/// A client-side admission strategy as a sans-IO state machine.
///
/// It is told the time and what happened, and answers what may be done; it never sleeps, spawns
/// or reads a clock. The simulator drives it on virtual time, the live driver on real time.
pub trait Strategy {
    /// May `req` be sent at `now`? Must not change what later calls answer (it only reads).
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit;
    /// The same question for an attempt that has waited to be sent since `queued_at` (its
    /// request's ready time, or its retry's due time): a breaker checked before the queue
    /// answers from the state it was in then. The default ignores `queued_at`; a strategy that
    /// wraps others must forward it.
    #[inline(always)]
    fn poll_admit_queued(&mut self, now: Nanos, _queued_at: Nanos, req: &RequestInfo) -> Admit {
        self.poll_admit(now, req)
    }
    /// `req` is sent at `now`: commit (take a token, a permit…).
    fn on_send(&mut self, now: Nanos, req: &RequestInfo);
    /// A reply (or the client's own timeout) for an attempt sent earlier arrived at `now`.
    fn on_response(&mut self, now: Nanos, resp: &Response);
    /// `req` was shed at `now`: some layer answered [`Admit::Shed`] and the request is final,
    /// never sent. The default does nothing.
    fn on_shed(&mut self, _now: Nanos, _req: &RequestInfo) {}
    /// The request of `req` is final at `now` after at least one send: it succeeded, was given
    /// up, was refused on a retry (rejected by a breaker or shed), or its caller stopped waiting.
    /// A request refused before its first send is never told here. Told after [`Strategy::on_response`] of its last
    /// attempt, to the strategies whose [`Hints::hears_finals`] is true. The default does
    /// nothing.
    fn on_final(&mut self, _now: Nanos, _req: &RequestInfo) {}
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
    /// What a driver may leave out for this strategy (see [`Hints`]). The answer must not change
    /// over the strategy's life: a [`Stack`] asks once, when the layer is added, and a driver
    /// once per run. The default, [`Hints::CONSERVATIVE`], is always correct.
    fn hints(&self) -> Hints {
        Hints::CONSERVATIVE
    }
}

/// What a strategy declares about itself, so that a driver can spare work that would change
/// nothing. Every `false` is a promise; `true` is always correct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hints {
    /// It reads a reply's rate-limit headers ([`Response::remaining_requests`] and the other
    /// `x-ratelimit-*` values; `Retry-After` is always sent). A driver may leave them out
    /// (`None`) when no strategy of a client reads them, which spares computing them.
    pub reads_rate_limit_headers: bool,
    /// [`Strategy::on_response`] does something: with `false` a caller such as [`Stack`] may
    /// leave the call out.
    pub hears_responses: bool,
    /// [`Strategy::response_changes_admission`] can ever answer `true`: with `false` a caller
    /// such as [`Stack`] may leave the question out.
    pub response_may_change_admission: bool,
    /// [`Strategy::on_final`] does something: with `false` a caller may leave the call out.
    pub hears_finals: bool,
}

impl Hints {
    /// Reads headers, hears replies, and a reply may change admission: always correct, the
    /// default for a strategy that says nothing.
    pub const CONSERVATIVE: Hints = Hints {
        reads_rate_limit_headers: true,
        hears_responses: true,
        response_may_change_admission: true,
        hears_finals: true,
    };
    /// Ignores replies altogether (a token bucket): no headers, nothing heard, nothing changed.
    pub const IGNORES_REPLIES: Hints = Hints {
        reads_rate_limit_headers: false,
        hears_responses: false,
        response_may_change_admission: false,
        hears_finals: false,
    };
    /// Hears replies, which may change admission, but reads no rate-limit headers and needs
    /// no word of a request's end.
    pub const HEARS_REPLIES: Hints = Hints {
        reads_rate_limit_headers: false,
        hears_responses: true,
        response_may_change_admission: true,
        hears_finals: false,
    };
}

/// Layers that must all admit, like tower layers around one service.
///
/// The stack admits when every layer says `Now`; a `Reject` from any layer rejects; a `Shed` sheds
/// only a request that every other layer would let go now (a throttle decides at the moment of
/// sending, not while another layer holds the request back); otherwise it
/// answers the latest `At` (no layer admits before its own) or, failing that,
/// `WhenSomethingCompletes`.
pub struct Stack {
    layers: Vec<Layer>,
    /// Indices of the layers that hear replies ([`Hints::hears_responses`]), in order: only
    /// they are told of a reply.
    listening: Vec<usize>,
    /// Indices of the layers whose admission a reply may change
    /// ([`Hints::response_may_change_admission`]): only they are asked whether it did.
    reply_sensitive: Vec<usize>,
    /// Indices of the layers told of a request's end ([`Hints::hears_finals`]).
    hearing_finals: Vec<usize>,
    /// The layers' hints together.
    hints: Hints,
}

impl Default for Stack {
    fn default() -> Self {
        Stack {
            layers: Vec::new(),
            listening: Vec::new(),
            reply_sensitive: Vec::new(),
            hearing_finals: Vec::new(),
            hints: Hints::IGNORES_REPLIES,
        }
    }
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
        let hints = layer.hints();
        if hints.hears_responses {
            self.listening.push(self.layers.len());
        }
        if hints.response_may_change_admission {
            self.reply_sensitive.push(self.layers.len());
        }
        if hints.hears_finals {
            self.hearing_finals.push(self.layers.len());
        }
        self.hints.reads_rate_limit_headers |= hints.reads_rate_limit_headers;
        self.hints.hears_responses |= hints.hears_responses;
        self.hints.response_may_change_admission |= hints.response_may_change_admission;
        self.hints.hears_finals |= hints.hears_finals;
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
        self.poll_admit_queued(now, now, req)
    }

    #[inline]
    fn poll_admit_queued(&mut self, now: Nanos, queued_at: Nanos, req: &RequestInfo) -> Admit {
        let mut at: Option<Nanos> = None;
        let mut wait_for_completion = false;
        let mut shed = false;
        for layer in &mut self.layers {
            match layer.poll_admit_queued(now, queued_at, req) {
                Admit::Now => {}
                Admit::Reject => return Admit::Reject,
                Admit::Shed => shed = true,
                Admit::At(t) if t <= now => {}
                Admit::At(t) => at = Some(at.map_or(t, |a| a.max(t))),
                Admit::WhenSomethingCompletes => wait_for_completion = true,
            }
        }
        match (at, wait_for_completion) {
            (Some(t), _) => Admit::At(t),
            (None, true) => Admit::WhenSomethingCompletes,
            (None, false) if shed => Admit::Shed,
            (None, false) => Admit::Now,
        }
    }

    #[inline(always)]
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        for layer in &mut self.layers {
            layer.on_send(now, req);
        }
    }

    #[inline]
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        // In the layers' order, as before the layers that ignore replies were left out.
        for &i in &self.listening {
            self.layers[i].on_response(now, resp);
        }
    }

    fn on_shed(&mut self, now: Nanos, req: &RequestInfo) {
        for layer in &mut self.layers {
            layer.on_shed(now, req);
        }
    }

    fn on_final(&mut self, now: Nanos, req: &RequestInfo) {
        for &i in &self.hearing_finals {
            self.layers[i].on_final(now, req);
        }
    }

    #[inline]
    fn response_changes_admission(&self) -> bool {
        self.reply_sensitive
            .iter()
            .any(|&i| self.layers[i].response_changes_admission())
    }

    fn hints(&self) -> Hints {
        self.hints
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
    fn on_shed(&mut self, now: Nanos, req: &RequestInfo) {
        (**self).on_shed(now, req)
    }
    fn on_final(&mut self, now: Nanos, req: &RequestInfo) {
        (**self).on_final(now, req)
    }
    fn response_changes_admission(&self) -> bool {
        (**self).response_changes_admission()
    }
    fn hints(&self) -> Hints {
        (**self).hints()
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
    fn a_throttle_sheds_only_what_the_other_layers_would_send_now() {
        struct Sheds;
        impl Strategy for Sheds {
            fn poll_admit(&mut self, _now: Nanos, _req: &RequestInfo) -> Admit {
                Admit::Shed
            }
            fn on_send(&mut self, _now: Nanos, _req: &RequestInfo) {}
            fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
        }
        let mut stack = Stack::new(vec![
            Layer::Custom(Box::new(Sheds)),
            Layer::Semaphore(Semaphore::new(1)),
        ]);
        assert_eq!(stack.poll_admit(0, &req(0)), Admit::Shed);
        stack.on_send(0, &req(0)); // as if sent anyway: the semaphore is full
        assert_eq!(
            stack.poll_admit(0, &req(1)),
            Admit::WhenSomethingCompletes,
            "held back by the semaphore, not shed"
        );
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
        assert_eq!(stack.listening, vec![0, 2, 4]);
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
        assert!(quiet.hints().hears_responses);
        assert!(!quiet.hints().response_may_change_admission);
        assert!(!quiet.response_changes_admission());
        assert!(!Stack::new(vec![bucket()]).hints().hears_responses);
        let adaptive = Stack::new(vec![
            bucket(),
            Layer::Semaphore(Semaphore::new(4)),
            Layer::Aimd(Aimd::new(4.0, 1.0, 100.0, 1.0, 0.5)),
        ]);
        assert_eq!(
            (adaptive.listening.clone(), adaptive.reply_sensitive.clone()),
            (vec![1, 2], vec![2])
        );
        assert!(adaptive.hints().response_may_change_admission);
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
            let hints = told.hints();
            assert!(!hints.hears_responses && !hints.response_may_change_admission);
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
            fn hints(&self) -> Hints {
                Hints {
                    hears_responses: false,
                    ..Hints::CONSERVATIVE
                }
            }
        }
        let stack = Stack::new(vec![bucket(), Layer::Custom(Box::new(Outside))]);
        assert_eq!(
            (stack.listening.clone(), stack.reply_sensitive.clone()),
            (vec![], vec![1])
        );
        assert!(stack.response_changes_admission());
    }
}
