//! The recording seam: the real built strategies and retry policies, wrapped so that every call
//! the engine makes is logged (with the AIMD windows and breaker state around it). The engine is
//! not changed.

use std::cell::RefCell;
use std::rc::Rc;

use ratelab_sim::scenario::Scenario;
use ratelab_sim::{ClientSetup, StrategyResult, simulate};
use ratelab_strategies::breaker::BreakerState;
use ratelab_strategies::retry::DeadLetterReason;
use ratelab_strategies::spec::StrategySpec;
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{Admit, Draws, Layer, RequestInfo, Response, Retry, RetryPolicy, Stack};

/// One call the engine made into a client's strategy or retry policy.
#[derive(Clone, Debug)]
pub enum Ev {
    /// `poll_admit_queued(t, queued_at, req)` answered `admit`.
    Poll {
        t: Nanos,
        queued_at: Nanos,
        req: RequestInfo,
        admit: Admit,
    },
    /// `on_send(t, req)`; AIMD windows and breaker state just before.
    Send {
        t: Nanos,
        req: RequestInfo,
        aimd: Vec<f64>,
        breaker: Option<BreakerState>,
    },
    /// `on_response(t, resp)`; AIMD windows and breaker state before and after.
    Response {
        t: Nanos,
        resp: Response,
        aimd_before: Vec<f64>,
        aimd_after: Vec<f64>,
        breaker_before: Option<BreakerState>,
        breaker_after: Option<BreakerState>,
    },
    /// `retry_at(t, resp)` answered `at`.
    Retry {
        t: Nanos,
        resp: Response,
        at: Result<Nanos, DeadLetterReason>,
    },
}

impl Ev {
    /// When it happened.
    pub fn t(&self) -> Nanos {
        match self {
            Ev::Poll { t, .. }
            | Ev::Send { t, .. }
            | Ev::Response { t, .. }
            | Ev::Retry { t, .. } => *t,
        }
    }
}

/// The log shared by every client of a run, in call order.
pub type Log = Rc<RefCell<Vec<Ev>>>;

/// A built strategy stack that logs every call.
pub struct Recording {
    log: Log,
    inner: Stack,
}

impl Recording {
    fn aimd(&self) -> Vec<f64> {
        self.inner
            .layers()
            .iter()
            .filter_map(|l| match l {
                Layer::Aimd(a) => Some(a.window()),
                _ => None,
            })
            .collect()
    }

    fn breaker(&self, now: Nanos) -> Option<BreakerState> {
        self.inner.layers().iter().find_map(|l| match l {
            Layer::Breaker(b) => Some(b.state_at(now)),
            _ => None,
        })
    }
}

impl ratelab_strategies::Strategy for Recording {
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        self.poll_admit_queued(now, now, req)
    }
    fn poll_admit_queued(&mut self, now: Nanos, queued_at: Nanos, req: &RequestInfo) -> Admit {
        let admit = self.inner.poll_admit_queued(now, queued_at, req);
        self.log.borrow_mut().push(Ev::Poll {
            t: now,
            queued_at,
            req: *req,
            admit,
        });
        admit
    }
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        let ev = Ev::Send {
            t: now,
            req: *req,
            aimd: self.aimd(),
            breaker: self.breaker(now),
        };
        self.log.borrow_mut().push(ev);
        self.inner.on_send(now, req);
    }
    fn on_shed(&mut self, now: Nanos, req: &RequestInfo) {
        self.inner.on_shed(now, req);
    }
    fn on_final(&mut self, now: Nanos, req: &RequestInfo) {
        self.inner.on_final(now, req);
    }
    fn on_response(&mut self, now: Nanos, resp: &Response) {
        let (aimd_before, breaker_before) = (self.aimd(), self.breaker(now));
        self.inner.on_response(now, resp);
        let ev = Ev::Response {
            t: now,
            resp: *resp,
            aimd_before,
            aimd_after: self.aimd(),
            breaker_before,
            breaker_after: self.breaker(now),
        };
        self.log.borrow_mut().push(ev);
    }
}

/// A built retry policy that logs every call.
pub struct RecordingRetry {
    log: Log,
    inner: Retry,
}

impl RetryPolicy for RecordingRetry {
    fn retry_at(&mut self, now: Nanos, resp: &Response) -> Result<Nanos, DeadLetterReason> {
        let at = self.inner.retry_at(now, resp);
        self.log.borrow_mut().push(Ev::Retry {
            t: now,
            resp: *resp,
            at,
        });
        at
    }
    fn on_first_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.inner.on_first_send(now, req);
    }
    fn on_final(&mut self, now: Nanos, req: &RequestInfo, succeeded: bool) {
        self.inner.on_final(now, req, succeeded);
    }
}

/// Runs one strategy of a scenario through the real engine with the recording seam.
pub fn run_recorded(
    scenario: &Scenario,
    spec: &StrategySpec,
    seed: u64,
) -> (StrategyResult, Vec<Ev>) {
    let log: Log = Rc::default();
    let draws = Draws::new(seed);
    let mut shared = ratelab_strategies::shared::SharedBuckets::in_process();
    let result = simulate(
        scenario,
        seed,
        &spec.name,
        |_client| {
            let built = spec.build_for(draws, &mut shared);
            ClientSetup {
                strategy: Recording {
                    log: log.clone(),
                    inner: built.stack,
                },
                retry: RecordingRetry {
                    log: log.clone(),
                    inner: built.retry,
                },
                timeout: built.timeout,
            }
        },
        None,
    );
    let events = log.borrow().clone();
    (result, events)
}
