//! `ratelab live`: a scenario's strategies, one after another, against a real endpoint, recorded
//! with the simulator's `Recorder` into the simulator's result shape (`mode = "live"`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ratelab_sim::metrics::Recorder;
use ratelab_sim::result::StopReason;
use ratelab_sim::{Progress, RunOutput, Scenario, StrategyResult};
use ratelab_strategies::client::Refusal;
use ratelab_strategies::retry::DeadLetterReason;
use ratelab_strategies::shared::SharedBuckets;
use ratelab_strategies::spec::StrategySpec;
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{Draws, RequestInfo, Response};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::client::Target;
use crate::clock::nanos_since;
use crate::driver::{Limiter, Observer, Options};
use crate::server::{MockApi, Server};

/// Feeds a [`Recorder`] from the limiters of one run and counts driver events.
struct Recording {
    rec: Mutex<Recorder>,
    events: AtomicU64,
    finals: AtomicU64,
    tap: Option<Arc<dyn Observer>>,
}

impl Recording {
    fn with<T>(&self, f: impl FnOnce(&mut Recorder) -> T) -> T {
        self.events.fetch_add(1, Ordering::Relaxed);
        f(&mut self.rec.lock().unwrap_or_else(|p| p.into_inner()))
    }
    fn finished(&self) {
        self.finals.fetch_add(1, Ordering::Relaxed);
    }
}

impl Observer for Recording {
    fn sent(&self, now: Nanos, req: &RequestInfo) {
        self.with(|r| r.sent(req.client, now, req.tokens));
        if let Some(t) = &self.tap {
            t.sent(now, req);
        }
    }
    fn replied(&self, now: Nanos, resp: &Response) {
        self.with(|r| r.replied(resp.request.client, now, resp.outcome, resp.status));
        if let Some(t) = &self.tap {
            t.replied(now, resp);
        }
    }
    fn succeeded(&self, now: Nanos, req: &RequestInfo, latency: Nanos) {
        self.with(|r| r.succeeded(req.client, now, req.attempt, latency));
        if let Some(t) = &self.tap {
            t.succeeded(now, req, latency);
        }
        self.finished();
    }
    fn gave_up(&self, now: Nanos, resp: &Response, reason: DeadLetterReason) {
        self.with(|r| r.gave_up(now, resp, reason));
        if let Some(t) = &self.tap {
            t.gave_up(now, resp, reason);
        }
        self.finished();
    }
    fn rejected(&self, now: Nanos, req: &RequestInfo, refusal: Refusal) {
        self.with(|r| r.rejected(req.client, now, refusal));
        if let Some(t) = &self.tap {
            t.rejected(now, req, refusal);
        }
        self.finished();
    }
}

/// Inside a runtime: a flag that turns true at the first Ctrl-C (after calling `first`), for
/// [`run_scenario_live_until`]; a second Ctrl-C ends the process with `exit_code`. Abort the
/// task returned when the run is over.
pub fn interrupt_on_ctrl_c(
    first: fn(),
    exit_code: i32,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (interrupt, interrupted) = watch::channel(false);
    let task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            first();
            let _ = interrupt.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(exit_code);
            }
        }
    });
    (interrupted, task)
}

/// Connections opened before each strategy against the in-process server.
pub const WARM_CONNECTIONS: u64 = 64;

/// Where `ratelab live` sends its requests.
pub enum Endpoint {
    /// A `serve` of the scenario's own `[api]`, started once in-process on an ephemeral loopback
    /// port, its model reset (full buckets, clock at 0) before each strategy, as the simulator
    /// starts each strategy with a fresh model.
    InProcess,
    /// Someone else's endpoint (its state carries over from one strategy to the next).
    Url(String),
}

/// Runs one strategy of `scenario` live against `target`, with waits made precise by `spin`
/// ([`crate::clock::sleep_until`]); `progress` is called about five times a second. Requests
/// become ready as the workload says (all at once, or Poisson arrivals on real time); the run
/// stops when every request is final or at the horizon.
pub async fn run_strategy_live(
    scenario: &Scenario,
    spec: &StrategySpec,
    seed: u64,
    target: &Target,
    spin: Duration,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> StrategyResult {
    let (_keep, never) = watch::channel(false);
    run_strategy_live_until(scenario, spec, seed, target, spin, progress, never).await
}

/// [`run_strategy_live`], stopped early when `interrupt` turns true: the result then says
/// [`StopReason::Interrupted`] and counts what was pending as in flight.
pub async fn run_strategy_live_until(
    scenario: &Scenario,
    spec: &StrategySpec,
    seed: u64,
    target: &Target,
    spin: Duration,
    progress: &mut (dyn FnMut(Progress) + Send),
    interrupt: watch::Receiver<bool>,
) -> StrategyResult {
    let setup = LiveClients::default();
    run_clients_live(
        scenario, spec, seed, target, spin, progress, interrupt, &setup,
    )
    .await
}

/// How the clients of a live run are set up beyond the scenario: which of them run here, when
/// their clock starts, where their shared buckets live and who else hears of their events.
/// The default runs every client, from now, with in-process shared buckets.
#[derive(Clone, Default)]
pub struct LiveClients {
    /// Only these clients run here (default: all): one process's part of a run over several.
    /// The result still has a row for every client; the others' rows are empty.
    pub only: Option<Vec<u32>>,
    /// The instant the run's clock counts from (default: when it starts).
    pub start: Option<Instant>,
    /// Where the strategy's shared layers (`token_bucket.shared = true`) are asked: with a gate
    /// they are left out of the stacks and every admitted attempt is put to it (one gate for
    /// all the clients here: a bucket in Redis); without, one in-process bucket per layer.
    pub gate: Option<Arc<dyn crate::driver::Gate>>,
    /// Also told of every event (a worker process passes them to its parent).
    pub tap: Option<Arc<dyn Observer>>,
}

/// [`run_strategy_live_until`] with the clients set up as `setup` says.
#[allow(clippy::too_many_arguments)]
pub async fn run_clients_live(
    scenario: &Scenario,
    spec: &StrategySpec,
    seed: u64,
    target: &Target,
    spin: Duration,
    progress: &mut (dyn FnMut(Progress) + Send),
    mut interrupt: watch::Receiver<bool>,
    setup: &LiveClients,
) -> StrategyResult {
    let wl = &scenario.workload;
    let draws = Draws::new(seed);
    let horizon = scenario.horizon();
    let runs_here = |c: u32| setup.only.as_ref().is_none_or(|o| o.contains(&c));
    let here = (0..wl.clients).filter(|&c| runs_here(c)).count() as u64;
    let total = match &setup.only {
        None => wl.total_requests(),
        // Every client has the same number of requests.
        Some(_) => wl.total_requests() / u64::from(wl.clients.max(1)) * here,
    };
    let recording = Arc::new(Recording {
        rec: Mutex::new(Recorder::new(wl.clients, wl.requests, horizon)),
        events: AtomicU64::new(0),
        finals: AtomicU64::new(0),
        tap: setup.tap.clone(),
    });
    let start = setup.start.unwrap_or_else(Instant::now);
    // A start in the future (the common start of several processes): nothing goes before it.
    if start > Instant::now() {
        tokio::time::sleep_until(start).await;
    }
    let mut tasks = JoinSet::new();
    // One bucket per shared layer for all the clients of this run: in this process, or behind
    // the gate.
    let mut shared = if setup.gate.is_some() {
        SharedBuckets::external()
    } else {
        SharedBuckets::in_process()
    };
    for c in (0..wl.clients).filter(|&c| runs_here(c)) {
        let built = spec.build_for(draws, &mut shared);
        let observer: Arc<dyn Observer> = recording.clone();
        let limiter = Limiter::with_options(
            built.stack,
            built.retry,
            built.timeout,
            Options {
                start: Some(start),
                client: c,
                observer: Some(observer),
                spin,
                gate: if built.stored.is_empty() {
                    None
                } else {
                    setup.gate.clone()
                },
            },
        );
        let mut ready: Nanos = 0;
        for id in 0..wl.requests {
            if let Some(gap) = wl.arrival_gap(&draws, c, id) {
                ready = ready.saturating_add(gap);
            }
            let tokens = wl.tokens_of(&draws, c, id);
            let limiter = limiter.clone();
            let target = target.clone();
            tasks.spawn(async move {
                if ready > 0 {
                    crate::clock::sleep_until(start + Duration::from_nanos(ready), spin).await;
                }
                let _ = limiter
                    .call_request(id, tokens, |a| {
                        let target = target.clone();
                        async move { target.send(a).await }
                    })
                    .await;
            });
        }
    }
    let deadline = tokio::time::sleep_until(start + Duration::from_nanos(horizon));
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let stop = loop {
        tokio::select! {
            biased;
            joined = tasks.join_next() => {
                if joined.is_none() {
                    break StopReason::AllFinal;
                }
            }
            _ = &mut deadline => break StopReason::Horizon,
            Ok(_) = interrupt.wait_for(|stop| *stop) => break StopReason::Interrupted,
            _ = ticker.tick() => progress(Progress {
                finals: recording.finals.load(Ordering::Relaxed),
                requests: total,
                now: nanos_since(start),
                horizon,
            }),
        }
    };
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let end = match stop {
        StopReason::Horizon => horizon,
        _ => nanos_since(start),
    };
    let stop = if stop == StopReason::AllFinal && recording.finals.load(Ordering::Relaxed) < total {
        StopReason::Stalled
    } else {
        stop
    };
    let events = recording.events.load(Ordering::Relaxed);
    let rec = match Arc::try_unwrap(recording) {
        Ok(r) => r.rec.into_inner().unwrap_or_else(|p| p.into_inner()),
        // Every limiter (and so every clone of the observer) is gone once the tasks are.
        Err(shared) => std::mem::replace(
            &mut *shared.rec.lock().unwrap_or_else(|p| p.into_inner()),
            Recorder::new(wl.clients, wl.requests, horizon),
        ),
    };
    rec.into_result(&spec.name, stop, end, events)
}

/// Runs every strategy of `scenario` live, one after another, and returns the simulator's
/// result shape with `mode = "live"`. With [`Endpoint::InProcess`] a `serve` of the scenario's
/// `[api]` is started once on 127.0.0.1 on an ephemeral port and its model reset before each
/// strategy, after up to [`WARM_CONNECTIONS`] connections have been opened to it.
/// `spin` makes the driver's (and the in-process server's) waits precise, see
/// [`crate::clock::sleep_until`]. `progress` is told the strategy's index with each report.
pub async fn run_scenario_live(
    scenario: &Scenario,
    seed: u64,
    endpoint: &Endpoint,
    spin: Duration,
    progress: &mut (dyn FnMut(usize, Progress) + Send),
) -> Result<RunOutput, String> {
    let (_keep, never) = watch::channel(false);
    run_scenario_live_until(scenario, seed, endpoint, spin, progress, never).await
}

/// [`run_scenario_live`], stopped when `interrupt` turns true: the strategies that finished are
/// kept, the running one ends as [`StopReason::Interrupted`], the later ones do not run (the
/// result's scenario lists only the strategies that ran).
pub async fn run_scenario_live_until(
    scenario: &Scenario,
    seed: u64,
    endpoint: &Endpoint,
    spin: Duration,
    progress: &mut (dyn FnMut(usize, Progress) + Send),
    interrupt: watch::Receiver<bool>,
) -> Result<RunOutput, String> {
    let store = SharedStore::default();
    run_scenario_live_shared(scenario, seed, endpoint, spin, progress, interrupt, &store).await
}

/// Where `ratelab live` keeps the strategies' shared buckets, and over how many processes the
/// clients run.
#[derive(Default)]
pub struct SharedStore {
    /// Redis (`--redis URL`): the shared buckets are GCRA buckets there ([`crate::store`]);
    /// `None`: one in-process bucket per shared layer.
    pub redis: Option<String>,
    /// `--processes N`: the clients run in `N` worker processes (round robin), made by `spawn`
    /// (a command that runs [`crate::workers::run_worker`] on the job it reads).
    pub processes: Option<(u32, Box<dyn Fn() -> std::process::Command + Send + Sync>)>,
}

/// [`run_scenario_live_until`] with the shared buckets and processes of `store`.
pub async fn run_scenario_live_shared(
    scenario: &Scenario,
    seed: u64,
    endpoint: &Endpoint,
    spin: Duration,
    progress: &mut (dyn FnMut(usize, Progress) + Send),
    interrupt: watch::Receiver<bool>,
    store: &SharedStore,
) -> Result<RunOutput, String> {
    let (target, server) = match endpoint {
        Endpoint::Url(url) => {
            let target = Target::new(url)?;
            target.check_reachable().await?;
            (target, None)
        }
        Endpoint::InProcess => {
            let api = Arc::new(
                MockApi::new(&scenario.api, seed, scenario.workload.clients).with_spin(spin),
            );
            let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
            let server = Server::bind(addr, api)
                .await
                .map_err(|e| format!("cannot start the in-process server on {addr}: {e}"))?;
            let url = format!("http://{}/v1/analyze", server.addr());
            (Target::new(&url)?, Some(server))
        }
    };
    let mut results = Vec::new();
    for (i, spec) in scenario.strategies.iter().enumerate() {
        if let Some(s) = &server {
            let wl = &scenario.workload;
            target
                .warm_up(wl.total_requests().min(WARM_CONNECTIONS) as usize)
                .await;
            s.api().reset();
        }
        if *interrupt.borrow() {
            break;
        }
        let mut report = |p: Progress| progress(i, p);
        let run_id = format!("{}-{}", crate::workers::unix_now_ns(), std::process::id());
        let result = match &store.processes {
            Some((n, spawn)) => {
                crate::workers::run_processes(
                    scenario,
                    i,
                    seed,
                    &target.url(),
                    store.redis.as_deref(),
                    &run_id,
                    *n,
                    spin,
                    spawn.as_ref(),
                    &mut report,
                )
                .await?
            }
            None => {
                let gate = match &store.redis {
                    Some(url) if spec.has_shared_layers() => {
                        Some(redis_gate(url, &run_id, spec, seed).await?)
                    }
                    _ => None,
                };
                let setup = LiveClients {
                    gate,
                    ..LiveClients::default()
                };
                run_clients_live(
                    scenario,
                    spec,
                    seed,
                    &target,
                    spin,
                    &mut report,
                    interrupt.clone(),
                    &setup,
                )
                .await
            }
        };
        results.push(result);
    }
    if let Some(s) = server {
        s.shutdown().await;
    }
    let mut ran = scenario.clone();
    ran.strategies.truncate(results.len());
    let mut out = ratelab_sim::output(&ran, seed, results);
    out.mode = "live".to_string();
    Ok(out)
}

/// The gate of `spec`'s shared layers in the Redis at `url`, for the clients of one process.
async fn redis_gate(
    url: &str,
    run_id: &str,
    spec: &StrategySpec,
    seed: u64,
) -> Result<Arc<dyn crate::driver::Gate>, String> {
    redis_gate_for(url, run_id, spec, seed, 1).await
}

/// [`redis_gate`] for one of `processes` processes (its local fallback holds that share).
#[cfg(feature = "redis")]
pub async fn redis_gate_for(
    url: &str,
    run_id: &str,
    spec: &StrategySpec,
    seed: u64,
    processes: u32,
) -> Result<Arc<dyn crate::driver::Gate>, String> {
    let stored = spec
        .build_for(Draws::new(seed), &mut SharedBuckets::external())
        .stored;
    let store = crate::store::RedisBuckets::connect(url, run_id, &spec.name, &stored)
        .await
        .map_err(|e| format!("strategy {:?}: {e}", spec.name))?;
    Ok(Arc::new(crate::store::RedisGate::new(store, processes)))
}

/// Without the `redis` feature: an error.
#[cfg(not(feature = "redis"))]
pub async fn redis_gate_for(
    _url: &str,
    _run_id: &str,
    _spec: &StrategySpec,
    _seed: u64,
    _processes: u32,
) -> Result<Arc<dyn crate::driver::Gate>, String> {
    Err("this build of ratelab-live has no Redis (feature `redis`)".into())
}
