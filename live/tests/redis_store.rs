//! The shared buckets in a real Redis (`live/src/store.rs`): the Lua script decides as the
//! in-process bucket does, a Redis that is away is met as `on_store_error` says, and a restart
//! loses no more than the documented burst.
//!
//! Needs `RATELAB_REDIS_URL` (e.g. redis://127.0.0.1:6379; `.ci/run` starts one): without it the
//! tests say so and pass, unless `CI=true`, where they fail. The restart test starts its own
//! `redis-server` (Debian's package) on a free port.
#![cfg(feature = "redis")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use ratelab_live::store::{RedisBuckets, RedisGate};
use ratelab_live::{Gate, GateAnswer};
use ratelab_strategies::Strategy as _;
use ratelab_strategies::admission::{OnStoreError, TokenBucket};
use ratelab_strategies::bucket::Rate;
use ratelab_strategies::shared::StoredBucket;
use ratelab_strategies::time::SECOND;
use ratelab_strategies::{Admit, RequestInfo};

/// The Redis of the tests, or `None` (with a notice) when none is configured outside CI.
fn redis_url() -> Option<String> {
    match std::env::var("RATELAB_REDIS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but RATELAB_REDIS_URL is not set: .ci/run starts a redis-server")
        }
        _ => {
            eprintln!("RATELAB_REDIS_URL is not set: skipping the Redis tests");
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn stored(layer: usize, rate: Rate, burst: u64, by_tokens: bool) -> StoredBucket {
    StoredBucket {
        layer,
        rate,
        burst,
        by_tokens,
        starts_empty: false,
        on_error: OnStoreError::Local,
        timeout: 2 * SECOND,
    }
}

fn request(id: u64, tokens: u64) -> RequestInfo {
    RequestInfo {
        client: 0,
        id,
        attempt: 1,
        tokens,
    }
}

fn unique(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "test-{tag}-{}-{}-{}",
        std::process::id(),
        ratelab_live::workers::unix_now_ns(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

fn rates() -> impl Strategy<Value = Rate> {
    prop_oneof![
        // Whole tokens per second that divide 10^6: token times fall on microseconds.
        prop::sample::select(vec![
            1u64, 2, 4, 5, 8, 10, 16, 20, 25, 40, 50, 100, 125, 200, 1000
        ])
        .prop_map(|per_s| Rate {
            milli_per_period: per_s * 1000,
            period: SECOND
        }),
        (1u64..2_000_000).prop_map(|milli| Rate {
            milli_per_period: milli,
            period: SECOND
        }),
        (1_000u64..5_000_000_000).prop_map(|milli| Rate {
            milli_per_period: milli,
            period: 60 * SECOND
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// On every decision of a generated sequence of (time, cost), for one or two buckets, the
    /// script admits exactly when the in-process buckets do, and when it does not, its wait is
    /// theirs rounded up to the microsecond.
    #[test]
    fn the_lua_script_decides_as_the_in_process_bucket(
        layers in prop::collection::vec((rates(), 1u64..50, any::<bool>(), any::<bool>()), 1..=2),
        steps in prop::collection::vec((0u8..3, 0u64..400_000, 1u64..60), 1..80),
    ) {
        let Some(url) = redis_url() else { return Ok(()) };
        let rt = runtime();
        let buckets: Vec<StoredBucket> = layers
            .iter()
            .enumerate()
            .map(|(i, &(rate, burst, by_tokens, empty))| StoredBucket {
                starts_empty: empty,
                ..stored(i, rate, burst, by_tokens)
            })
            .collect();
        let store = rt
            .block_on(RedisBuckets::connect(&url, &unique("gcra"), "s", &buckets))
            .unwrap();
        // A bucket in Redis starts at its first use: the first step is at time 0 here.
        let mut local: Vec<TokenBucket> = layers
            .iter()
            .map(|&(rate, burst, by_tokens, empty)| {
                if empty {
                    TokenBucket::empty(rate, burst, by_tokens)
                } else {
                    TokenBucket::new(rate, burst, by_tokens)
                }
            })
            .collect();
        // Redis' clock is not used: the times are passed, from an epoch like Redis' own.
        let mut now_us = 1_700_000_000_000_000u64;
        let origin = now_us;
        // The last wait the script gave: the next step may go exactly to its end, or to a
        // microsecond before it (the boundaries where an off-by-one would show).
        let mut last_wait = 0u64;
        for (id, &(how, gap_us, tokens)) in steps.iter().enumerate() {
            now_us += match how {
                _ if id == 0 => 0,
                1 if last_wait > 0 => last_wait,
                2 if last_wait > 1 => last_wait - 1,
                _ => gap_us,
            };
            let req = request(id as u64, tokens);
            let costs = store.costs(&req);
            let d = rt.block_on(store.decide(&costs, Some(now_us))).unwrap();
            let now_ns = (now_us - origin) * 1000;
            let mut latest = now_ns;
            for b in &mut local {
                if let Admit::At(t) = b.poll_admit(now_ns, &req) {
                    latest = latest.max(t);
                }
            }
            let admitted = latest == now_ns;
            last_wait = d.wait_us;
            prop_assert_eq!(d.admitted, admitted, "decision {} at {} µs", id, now_us - origin);
            if admitted {
                for b in &mut local {
                    b.on_send(now_ns, &req);
                }
            } else {
                prop_assert_eq!(d.wait_us, (latest - now_ns).div_ceil(1000), "wait of decision {}", id);
            }
        }
    }
}

/// A Redis nobody listens at: the gate answers at once from its fallback, and says so.
#[test]
fn an_unreachable_redis_is_an_error_within_a_second() {
    if redis_url().is_none() {
        return;
    }
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let rt = runtime();
    let t = Instant::now();
    let b = [stored(0, Rate::new(10.0, SECOND).unwrap(), 5, false)];
    let err = rt
        .block_on(RedisBuckets::connect(&url, "x", "s", &b))
        .err()
        .expect("nothing listens there");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(err.to_string().contains(&url), "{err}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct RedisServer {
    child: Child,
}

impl RedisServer {
    fn start(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's package) must be installed for this test");
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { child }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Admits as fast as the gate lets, for `secs` seconds, and returns the admission times.
async fn admit_for(gate: &RedisGate, secs: f64, start: Instant) -> Vec<f64> {
    let mut times = Vec::new();
    let mut id = 0;
    while start.elapsed().as_secs_f64() < secs {
        let req = request(id, 1);
        id += 1;
        match gate.admit(&req).await {
            GateAnswer::Now => times.push(start.elapsed().as_secs_f64()),
            GateAnswer::After(w) => tokio::time::sleep(w.min(Duration::from_millis(20))).await,
        }
    }
    times
}

/// Redis killed for a second and started again, empty (no persistence): while it is away the
/// `local` fallback admits at most its bucket (here the whole bucket: one process); after it
/// is back, the bucket starts full again. So in any window of length T the gate admits at most
/// burst + rate·T for Redis before the restart, one fallback bucket (burst + rate·T) while it is
/// away and one more burst after: 3·burst + rate·T. With `closed`, nothing is admitted while
/// it is away.
#[test]
fn a_redis_restart_costs_at_most_the_documented_bursts() {
    if redis_url().is_none() {
        return;
    }
    for on_error in [OnStoreError::Local, OnStoreError::Closed] {
        let port = free_port();
        let url = format!("redis://127.0.0.1:{port}");
        let mut server = Some(RedisServer::start(port));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (rate, burst) = (50.0, 5u64);
        let mut b = stored(0, Rate::new(rate, SECOND).unwrap(), burst, false);
        b.on_error = on_error;
        b.timeout = 50_000_000;
        let store = rt
            .block_on(RedisBuckets::connect(&url, &unique("restart"), "s", &[b]))
            .unwrap();
        let gate = RedisGate::new(store, 1);
        let start = Instant::now();
        let times = rt.block_on(async {
            let before = admit_for(&gate, 1.0, start).await;
            server = None; // killed
            let away = admit_for(&gate, 2.0, start).await;
            server = Some(RedisServer::start(port));
            let after = admit_for(&gate, 3.0, start).await;
            (before, away, after)
        });
        drop(server);
        let (before, away, after) = times;
        let all: Vec<f64> = [&before[..], &away[..], &after[..]].concat();
        assert!(gate.failures() > 0, "{on_error:?}: the outage was seen");
        if on_error == OnStoreError::Closed {
            assert!(
                away.len() <= burst as usize,
                "{on_error:?}: {} admitted while away",
                away.len()
            );
        } else {
            assert!(
                away.len() > 10,
                "{on_error:?}: the fallback admits ({})",
                away.len()
            );
        }
        assert!(
            after.len() > 10,
            "{on_error:?}: Redis is used again ({})",
            after.len()
        );
        // Every window [t_i, t_j]: j − i + 1 ≤ 3·burst + rate·(t_j − t_i) (+1 for rounding).
        for i in 0..all.len() {
            for j in i..all.len() {
                let allowed = 3.0 * burst as f64 + rate * (all[j] - all[i]) + 1.0;
                assert!(
                    (j - i + 1) as f64 <= allowed,
                    "{on_error:?}: {} admitted in [{:.3}, {:.3}] s, bound {allowed:.1}",
                    j - i + 1,
                    all[i],
                    all[j]
                );
            }
        }
        // And over the whole run, about the rate: no more than the bound.
        let span = all.last().unwrap() - all[0];
        assert!(all.len() as f64 <= 3.0 * burst as f64 + rate * span + 1.0);
    }
}
