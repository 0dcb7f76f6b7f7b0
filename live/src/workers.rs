//! One live run over several OS processes (`ratelab live --processes N`): each worker process
//! runs some of the clients and passes every event to the parent, which records them all into
//! one result, as if the clients had run in one process. The workers coordinate only through the
//! endpoint and their shared buckets' store (Redis).
//!
//! The parent writes a [`WorkerJob`] as JSON to a worker's standard input; the worker starts its
//! clients at the job's start instant (wall clock, so that every process counts from the same
//! moment), and writes one [`WireEvent`] per line to its standard output, then a
//! [`WireEvent::Done`]. [`Merge`] replays them into the simulator's `Recorder`.

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ratelab_sim::metrics::Recorder;
use ratelab_sim::result::StopReason;
use ratelab_sim::{Scenario, StrategyResult};
use ratelab_strategies::client::Refusal;
use ratelab_strategies::retry::DeadLetterReason;
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{Outcome, RequestInfo, Response};
use serde::{Deserialize, Serialize};

use crate::driver::Observer;

/// What a worker process runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerJob {
    /// The scenario, as the parent runs it.
    pub scenario: Scenario,
    /// The index of the strategy to run.
    pub strategy: usize,
    /// The seed of every draw.
    pub seed: u64,
    /// The endpoint.
    pub url: String,
    /// The Redis URL of the shared buckets (`None`: the strategy has none, or they are the
    /// process's own).
    pub redis: Option<String>,
    /// The run's id, part of every Redis key.
    pub run_id: String,
    /// How many processes share the run (the local fallback's share).
    pub processes: u32,
    /// The clients this worker runs.
    pub clients: Vec<u32>,
    /// The run's start, nanoseconds since the Unix epoch.
    pub start_unix_ns: u64,
    /// Precise waits (see [`crate::clock::sleep_until`]), ns.
    pub spin_ns: u64,
}

/// Nanoseconds since the Unix epoch, now.
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The local instant of `start_unix_ns` (in the past or the future).
pub fn instant_of(start_unix_ns: u64) -> tokio::time::Instant {
    let now_unix = unix_now_ns();
    let now = tokio::time::Instant::now();
    if start_unix_ns >= now_unix {
        now + Duration::from_nanos(start_unix_ns - now_unix)
    } else {
        now.checked_sub(Duration::from_nanos(now_unix - start_unix_ns))
            .unwrap_or(now)
    }
}

/// One line of a worker's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
pub enum WireEvent {
    /// An attempt was sent.
    Sent {
        /// Client.
        c: u32,
        /// Time since the run's start, ns.
        t: Nanos,
        /// Tokens.
        tokens: u64,
    },
    /// A reply (or timeout, or transport error) came.
    Replied {
        /// Client.
        c: u32,
        /// Time, ns.
        t: Nanos,
        /// The outcome's name.
        outcome: String,
        /// HTTP status (0: none).
        status: u16,
    },
    /// A request succeeded.
    Succeeded {
        /// Client.
        c: u32,
        /// Time, ns.
        t: Nanos,
        /// Attempts it took.
        attempt: u32,
        /// End-to-end latency, ns.
        latency: Nanos,
    },
    /// A request was dead-lettered.
    GaveUp {
        /// Client.
        c: u32,
        /// Time, ns.
        t: Nanos,
        /// Request id.
        id: u64,
        /// Its last attempt.
        attempt: u32,
        /// The last outcome's name.
        outcome: String,
        /// The last status.
        status: u16,
        /// Why.
        reason: DeadLetterReason,
    },
    /// A request was refused for good (`breaker` or `throttle`).
    Rejected {
        /// Client.
        c: u32,
        /// Time, ns.
        t: Nanos,
        /// By the breaker (else shed by a throttle).
        breaker: bool,
    },
    /// The worker is done.
    Done {
        /// Why it stopped.
        stop: StopReason,
        /// When, ns since the start.
        end: Nanos,
        /// Driver events it counted.
        events: u64,
        /// Decisions its store did not answer.
        store_failures: u64,
    },
}

const OUTCOMES: [(Outcome, &str); 8] = [
    (Outcome::Success, "success"),
    (Outcome::RateLimited, "rate_limited"),
    (Outcome::ServerError, "server_error"),
    (Outcome::Timeout, "timeout"),
    (Outcome::ClientError, "client_error"),
    (Outcome::RequestTimeout, "request_timeout"),
    (Outcome::Conflict, "conflict"),
    (Outcome::Connection, "connection"),
];

fn outcome_name(o: Outcome) -> String {
    OUTCOMES
        .iter()
        .find(|(x, _)| *x == o)
        .map_or("server_error", |(_, n)| n)
        .to_string()
}

fn outcome_of(name: &str) -> Result<Outcome, String> {
    OUTCOMES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(o, _)| *o)
        .ok_or_else(|| format!("unknown outcome {name:?}"))
}

/// An [`Observer`] that keeps every event as a [`WireEvent`], for a worker to print.
#[derive(Default)]
pub struct Tap(Mutex<Vec<WireEvent>>);

impl Tap {
    fn push(&self, e: WireEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }
    /// The events so far, taken out.
    pub fn take(&self) -> Vec<WireEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Observer for Tap {
    fn sent(&self, now: Nanos, req: &RequestInfo) {
        self.push(WireEvent::Sent {
            c: req.client,
            t: now,
            tokens: req.tokens,
        });
    }
    fn replied(&self, now: Nanos, resp: &Response) {
        self.push(WireEvent::Replied {
            c: resp.request.client,
            t: now,
            outcome: outcome_name(resp.outcome),
            status: resp.status,
        });
    }
    fn succeeded(&self, now: Nanos, req: &RequestInfo, latency: Nanos) {
        self.push(WireEvent::Succeeded {
            c: req.client,
            t: now,
            attempt: req.attempt,
            latency,
        });
    }
    fn gave_up(&self, now: Nanos, resp: &Response, reason: DeadLetterReason) {
        let r = resp.request;
        self.push(WireEvent::GaveUp {
            c: r.client,
            t: now,
            id: r.id,
            attempt: r.attempt,
            outcome: outcome_name(resp.outcome),
            status: resp.status,
            reason,
        });
    }
    fn rejected(&self, now: Nanos, req: &RequestInfo, refusal: Refusal) {
        self.push(WireEvent::Rejected {
            c: req.client,
            t: now,
            breaker: refusal == Refusal::Breaker,
        });
    }
}

/// The parent's side: every worker's events of one strategy, recorded into one result.
pub struct Merge {
    events: Vec<WireEvent>,
    done: Vec<(StopReason, Nanos, u64)>,
    /// Decisions the workers' stores did not answer.
    pub store_failures: u64,
}

impl Merge {
    /// Nothing yet.
    pub fn new() -> Self {
        Merge {
            events: Vec::new(),
            done: Vec::new(),
            store_failures: 0,
        }
    }

    /// Reads one worker's output (its lines until [`WireEvent::Done`]).
    pub fn read(&mut self, out: impl BufRead) -> Result<(), String> {
        for line in out.lines() {
            let line = line.map_err(|e| format!("reading a worker's output: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let e: WireEvent =
                serde_json::from_str(&line).map_err(|e| format!("a worker wrote {line:?}: {e}"))?;
            if let WireEvent::Done {
                stop,
                end,
                events,
                store_failures,
            } = e
            {
                self.done.push((stop, end, events));
                self.store_failures += store_failures;
                return Ok(());
            }
            self.events.push(e);
        }
        Err("a worker ended without its last line (it crashed, or was killed)".into())
    }

    /// The result of strategy `name` of `scenario`: the events in time order into one
    /// `Recorder`; it stopped as the first worker that did not finish (interrupted before the
    /// horizon before stalled), at the latest worker's end.
    pub fn into_result(
        mut self,
        scenario: &Scenario,
        name: &str,
    ) -> Result<StrategyResult, String> {
        let wl = &scenario.workload;
        let horizon = scenario.horizon();
        self.events.sort_by_key(|e| match e {
            WireEvent::Sent { t, .. }
            | WireEvent::Replied { t, .. }
            | WireEvent::Succeeded { t, .. }
            | WireEvent::GaveUp { t, .. }
            | WireEvent::Rejected { t, .. } => *t,
            WireEvent::Done { end, .. } => *end,
        });
        let mut rec = Recorder::new(wl.clients, wl.requests, horizon);
        for e in self.events {
            match e {
                WireEvent::Sent { c, t, tokens } => rec.sent(c, t, tokens),
                WireEvent::Replied {
                    c,
                    t,
                    outcome,
                    status,
                } => rec.replied(c, t, outcome_of(&outcome)?, status),
                WireEvent::Succeeded {
                    c,
                    t,
                    attempt,
                    latency,
                } => rec.succeeded(c, t, attempt, latency),
                WireEvent::GaveUp {
                    c,
                    t,
                    id,
                    attempt,
                    outcome,
                    status,
                    reason,
                } => {
                    let info = RequestInfo {
                        client: c,
                        id,
                        attempt,
                        tokens: 1,
                    };
                    let mut last = Response::timeout(info, t, 0);
                    last.outcome = outcome_of(&outcome)?;
                    last.status = status;
                    rec.gave_up(t, &last, reason);
                }
                WireEvent::Rejected { c, t, breaker } => rec.rejected(
                    c,
                    t,
                    if breaker {
                        Refusal::Breaker
                    } else {
                        Refusal::Throttle
                    },
                ),
                WireEvent::Done { .. } => {}
            }
        }
        let rank = |s: StopReason| match s {
            StopReason::Interrupted => 0,
            StopReason::Horizon => 1,
            StopReason::Stalled => 2,
            _ => 3,
        };
        let stop = self
            .done
            .iter()
            .map(|d| d.0)
            .min_by_key(|&s| rank(s))
            .unwrap_or(StopReason::Stalled);
        let end = self.done.iter().map(|d| d.1).max().unwrap_or(0);
        let events = self.done.iter().map(|d| d.2).sum();
        Ok(rec.into_result(name, stop, end, events))
    }
}

impl Merge {
    /// Adds another worker's events.
    pub fn absorb(&mut self, other: Merge) {
        self.events.extend(other.events);
        self.done.extend(other.done);
        self.store_failures += other.store_failures;
    }
}

impl Default for Merge {
    fn default() -> Self {
        Merge::new()
    }
}

/// Writes `events` and then `done` as lines to `out`.
pub fn write_events(
    out: &mut impl std::io::Write,
    events: &[WireEvent],
    done: WireEvent,
) -> std::io::Result<()> {
    for e in events.iter().chain(std::iter::once(&done)) {
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Runs `job` in this process (a worker): its clients from the job's start instant, its shared
/// buckets in the job's Redis, and returns every event and the last line.
pub async fn run_worker(job: &WorkerJob) -> Result<(Vec<WireEvent>, WireEvent), String> {
    let spec = job.scenario.strategies.get(job.strategy).ok_or_else(|| {
        format!(
            "the job names strategy {} of {}",
            job.strategy,
            job.scenario.strategies.len()
        )
    })?;
    let target = crate::client::Target::new(&job.url)?;
    let tap = Arc::new(Tap::default());
    let gate = match &job.redis {
        Some(url) if spec.has_shared_layers() => {
            Some(crate::run::redis_gate_for(url, &job.run_id, spec, job.seed, job.processes).await?)
        }
        _ => None,
    };
    let setup = crate::run::LiveClients {
        only: Some(job.clients.clone()),
        start: Some(instant_of(job.start_unix_ns)),
        gate,
        tap: Some(tap.clone()),
    };
    // Ctrl-C reaches the whole process group: the worker stops as at a horizon and reports.
    let (interrupt, watcher) = crate::run::interrupt_on_ctrl_c(|| {}, 130);
    let result = crate::run::run_clients_live(
        &job.scenario,
        spec,
        job.seed,
        &target,
        Duration::from_nanos(job.spin_ns),
        &mut |_| {},
        interrupt,
        &setup,
    )
    .await;
    watcher.abort();
    let end = match result.stop {
        StopReason::Horizon => job.scenario.horizon(),
        _ => (result.makespan_s * 1e9).round() as Nanos,
    };
    let done = WireEvent::Done {
        stop: result.stop,
        end,
        events: result.events,
        store_failures: setup.gate.as_ref().map_or(0, |g| g.failures()),
    };
    Ok((tap.take(), done))
}

/// The parent's side of one strategy over `processes` worker processes (at most one per
/// client; clients dealt round robin): writes each its [`WorkerJob`], waits for all, and
/// records their events into one result. `spawn` makes the command of a worker.
#[allow(clippy::too_many_arguments)]
pub async fn run_processes(
    scenario: &Scenario,
    strategy: usize,
    seed: u64,
    url: &str,
    redis: Option<&str>,
    run_id: &str,
    processes: u32,
    spin: Duration,
    spawn: &(dyn Fn() -> std::process::Command + Send + Sync),
    progress: &mut (dyn FnMut(ratelab_sim::Progress) + Send),
) -> Result<StrategyResult, String> {
    use std::io::Write;
    use std::process::Stdio;
    let clients = scenario.workload.clients.max(1);
    let n = processes.clamp(1, clients);
    // Time for every worker to start and connect before the run's clock starts.
    let start_unix_ns = unix_now_ns() + 500_000_000 + 50_000_000 * u64::from(n);
    let mut set = tokio::task::JoinSet::new();
    for p in 0..n {
        let job = WorkerJob {
            scenario: scenario.clone(),
            strategy,
            seed,
            url: url.to_string(),
            redis: redis.map(str::to_string),
            run_id: run_id.to_string(),
            processes: n,
            clients: (0..clients).filter(|c| c % n == p).collect(),
            start_unix_ns,
            spin_ns: spin.as_nanos() as u64,
        };
        let mut cmd = spawn();
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start worker process {p}: {e}"))?;
        let text = serde_json::to_vec(&job).map_err(|e| format!("a worker's job: {e}"))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(&text)
            .map_err(|e| format!("writing worker {p}'s job: {e}"))?;
        drop(stdin);
        set.spawn_blocking(move || {
            let out = child.stdout.take().expect("piped stdout");
            let mut merge = Merge::new();
            let read = merge.read(std::io::BufReader::new(out));
            let status = child.wait();
            (p, merge, read, status)
        });
    }
    let horizon = scenario.horizon();
    let start = instant_of(start_unix_ns);
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut all = Merge::new();
    let mut failed = Vec::new();
    loop {
        tokio::select! {
            joined = set.join_next() => {
                let Some(joined) = joined else { break };
                let (p, merge, read, status) = joined.map_err(|e| format!("a worker's reader: {e}"))?;
                match (read, status) {
                    (Ok(()), Ok(s)) if s.success() => all.absorb(merge),
                    (_, Ok(s)) if !s.success() => failed.push(format!(
                        "worker process {p} failed ({s}; its message is above)"
                    )),
                    (Err(e), _) => failed.push(format!("worker process {p}: {e}")),
                    (_, Err(e)) => failed.push(format!("worker process {p}: {e}")),
                    (Ok(()), Ok(_)) => unreachable!("handled above"),
                }
            }
            _ = ticker.tick() => progress(ratelab_sim::Progress {
                finals: 0,
                requests: scenario.workload.total_requests(),
                now: tokio::time::Instant::now().saturating_duration_since(start).as_nanos() as Nanos,
                horizon,
            }),
        }
    }
    if !failed.is_empty() {
        return Err(failed.join("; "));
    }
    if all.store_failures > 0 {
        eprintln!(
            "ratelab: {} decisions of {:?} were not answered by Redis in time; their layers' \
             on_store_error applied",
            all.store_failures, scenario.strategies[strategy].name
        );
    }
    all.into_result(scenario, &scenario.strategies[strategy].name)
}
