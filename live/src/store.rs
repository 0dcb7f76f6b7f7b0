//! A strategy's shared buckets (`token_bucket.shared = true`) in Redis, for clients in several
//! processes: `ratelab live --redis URL [--processes N]` (feature `redis`).
//!
//! Each shared layer is one Redis hash, `ratelab:{run id}:{strategy}:{layer}`, holding the
//! bucket's `level` and the time it was `updated`. A decision is one Lua script ([`SCRIPT`]),
//! which Redis runs atomically: it reads the clock with `TIME` (µs; a test may pass the time), refills every
//! bucket of the attempt, and either takes the attempt's cost from all of them or from none and
//! says how long until all hold it. This is GCRA in its bucket form (the theoretical arrival
//! time is `updated + (capacity − level) / rate`): the bucket form is kept because Lua's numbers
//! are doubles, and so every value stays an integer below 2^53 — the script's decisions are those
//! of the in-process [`ExactBucket`](ratelab_strategies::bucket::ExactBucket) at the same
//! microseconds (`live/tests/redis_store.rs` checks this on generated sequences).
//!
//! Redis turns a Lua number into a string with 14 significant digits, so the script writes its
//! integers with `string.format('%.0f', …)`.
//!
//! Units: a token is `period_µs · 1000` units and a bucket gains `milli_per_period` units per
//! µs (the in-process bucket's units at µs resolution), both divided by their greatest common
//! divisor; a bucket whose capacity in these units exceeds 2^52 is refused with a message.
//!
//! When Redis fails, or answers later than `store_timeout_ms`, the layer's `on_store_error`
//! decides: `open` sends, `closed` waits and asks again after the timeout, `local` (the default)
//! falls back to an in-process bucket holding this process's share (rate and burst divided by
//! the number of processes) until Redis answers again. The first failure and the recovery are
//! written to stderr once each.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ratelab_strategies::admission::{OnStoreError, TokenBucket};
use ratelab_strategies::bucket::Rate;
use ratelab_strategies::shared::StoredBucket;
use ratelab_strategies::time::Nanos;
use ratelab_strategies::{Admit, RequestInfo, Strategy};
use redis::aio::ConnectionManager;

use crate::driver::{Gate, GateAnswer};

/// The decision, atomically in Redis. KEYS: one hash per bucket. ARGV[1]: the time in µs, or
/// `-1` for Redis' own `TIME`; then per bucket: capacity, gain per µs, cost (all in the
/// bucket's units), the level of a new bucket, and the key's lifetime in ms once full.
/// Returns `{admitted (0/1), wait in µs, the time used in µs}`.
pub const SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local levels = {}
local updates = {}
local fresh = {}
local wait = 0
for i = 1, #KEYS do
  local a = 1 + (i - 1) * 5
  local cap = tonumber(ARGV[a + 1])
  local gain = tonumber(ARGV[a + 2])
  local cost = tonumber(ARGV[a + 3])
  local st = redis.call('HMGET', KEYS[i], 'level', 'updated')
  local level = tonumber(st[1])
  local updated = tonumber(st[2])
  if level == nil or updated == nil then
    level = tonumber(ARGV[a + 4])
    updated = now
    fresh[i] = true
  end
  if now > updated and level < cap then
    local room = cap - level
    local need = math.floor(room / gain)
    if need * gain < room then need = need + 1 end
    if now - updated >= need then
      level = cap
    else
      level = level + (now - updated) * gain
    end
  end
  if now > updated then updated = now end
  levels[i] = level
  updates[i] = updated
  if level < cost then
    local missing = cost - level
    local w = math.floor(missing / gain)
    if w * gain < missing then w = w + 1 end
    w = updates[i] - now + w
    if w > wait then wait = w end
  end
end
if wait > 0 then
  -- A bucket met for the first time is stored even when nothing is taken: one that starts
  -- empty refills from now on.
  for i = 1, #KEYS do
    if fresh[i] then
      local a = 1 + (i - 1) * 5
      redis.call('HSET', KEYS[i], 'level', string.format('%.0f', levels[i]),
        'updated', string.format('%.0f', updates[i]))
      redis.call('PEXPIRE', KEYS[i], string.format('%.0f', math.floor(
        (tonumber(ARGV[a + 1]) - levels[i]) / tonumber(ARGV[a + 2]) / 1000) + 1 + tonumber(ARGV[a + 5])))
    end
  end
  return {0, wait, now}
end
for i = 1, #KEYS do
  local a = 1 + (i - 1) * 5
  local cap = tonumber(ARGV[a + 1])
  local gain = tonumber(ARGV[a + 2])
  local level = levels[i] - tonumber(ARGV[a + 3])
  redis.call('HSET', KEYS[i], 'level', string.format('%.0f', level),
    'updated', string.format('%.0f', updates[i]))
  local full_in = math.floor((cap - level) / gain) + 1
  redis.call('PEXPIRE', KEYS[i], string.format('%.0f', math.floor(full_in / 1000) + tonumber(ARGV[a + 5])))
end
return {1, 0, now}
"#;

/// Largest capacity, in a bucket's units, that the script keeps exact.
pub const MAX_UNITS: u64 = 1 << 52;

/// How long a key outlives its bucket's refill to full, ms.
const KEY_SLACK_MS: u64 = 600_000;

/// One bucket in the script's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Units {
    /// Units per token.
    pub per_token: u64,
    /// Units gained per µs.
    pub gain_per_us: u64,
    /// Capacity in units.
    pub capacity: u64,
}

impl Units {
    /// The units of a bucket of `burst` tokens at `rate`, or why the script cannot keep it exact.
    pub fn of(rate: Rate, burst: u64) -> Result<Units, String> {
        let per_token = u128::from(rate.period / 1000) * 1000;
        let gain = u128::from(rate.milli_per_period);
        if per_token == 0 {
            return Err("a rate period under 1 µs".into());
        }
        let g = gcd(per_token, gain);
        let (per_token, gain) = (per_token / g, gain / g);
        let capacity = per_token * u128::from(burst);
        if capacity > u128::from(MAX_UNITS) {
            return Err(format!(
                "burst {burst} at {} per s needs {capacity} units, more than Redis' Lua numbers \
                 keep exact (2^52); lower the burst or round the rate",
                rate.per_second()
            ));
        }
        Ok(Units {
            per_token: per_token as u64,
            gain_per_us: gain as u64,
            capacity: capacity as u64,
        })
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// A failure of the store: Redis unreachable, an error reply, or no answer in time.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// What the script answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The cost was taken from every bucket.
    pub admitted: bool,
    /// When not: how long until every bucket holds it, µs.
    pub wait_us: u64,
    /// The time the script used, µs (Redis' clock, or the one passed).
    pub now_us: u64,
}

/// One strategy's shared buckets in Redis.
pub struct RedisBuckets {
    conn: ConnectionManager,
    script: redis::Script,
    keys: Vec<String>,
    buckets: Vec<(StoredBucket, Units)>,
    timeout: Duration,
}

impl RedisBuckets {
    /// Connects to `url` (within the buckets' store timeout, at least 1 s) for `buckets`, the
    /// stored layers of strategy `strategy`, under `run_id`.
    pub async fn connect(
        url: &str,
        run_id: &str,
        strategy: &str,
        buckets: &[StoredBucket],
    ) -> Result<RedisBuckets, StoreError> {
        let mut with_units = Vec::new();
        for b in buckets {
            let units = Units::of(b.rate, b.burst)
                .map_err(|e| StoreError(format!("shared bucket of layer {}: {e}", b.layer)))?;
            with_units.push((b.clone(), units));
        }
        let client = redis::Client::open(url)
            .map_err(|e| StoreError(format!("bad Redis URL {url:?}: {e}")))?;
        let timeout = buckets
            .iter()
            .map(|b| Duration::from_nanos(b.timeout))
            .max()
            .unwrap_or(Duration::from_millis(50));
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_secs(1))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            timeout.max(Duration::from_secs(1)),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| StoreError(format!("Redis at {url} did not answer within 1 s")))?
        .map_err(|e| StoreError(format!("cannot reach Redis at {url}: {e}")))?;
        let keys = buckets
            .iter()
            .map(|b| format!("ratelab:{run_id}:{strategy}:{}", b.layer))
            .collect();
        // Loaded now, so that no decision pays for sending the script.
        let script = redis::Script::new(SCRIPT);
        let mut c = conn.clone();
        tokio::time::timeout(Duration::from_secs(1), script.load_async(&mut c))
            .await
            .map_err(|_| StoreError(format!("Redis at {url} did not load the script within 1 s")))?
            .map_err(|e| StoreError(format!("Redis at {url} cannot load the script: {e}")))?;
        Ok(RedisBuckets {
            conn,
            script,
            keys,
            buckets: with_units,
            timeout,
        })
    }

    /// The keys, one per bucket.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// Asks the script about costs `costs` (tokens, one per bucket) at `now_us` (`None`: Redis'
    /// clock), within the store timeout.
    pub async fn decide(&self, costs: &[u64], now_us: Option<u64>) -> Result<Decision, StoreError> {
        let mut inv = self.script.prepare_invoke();
        for k in &self.keys {
            inv.key(k);
        }
        inv.arg(now_us.map_or(-1i64, |t| t as i64));
        for ((b, u), &cost) in self.buckets.iter().zip(costs) {
            let start = if b.starts_empty { 0 } else { u.capacity };
            inv.arg(u.capacity)
                .arg(u.gain_per_us)
                .arg(cost.min(b.burst) * u.per_token)
                .arg(start)
                .arg(KEY_SLACK_MS);
        }
        let mut conn = self.conn.clone();
        let reply: Vec<i64> = tokio::time::timeout(self.timeout, inv.invoke_async(&mut conn))
            .await
            .map_err(|_| {
                StoreError(format!(
                    "Redis did not answer within {} ms",
                    self.timeout.as_millis()
                ))
            })?
            .map_err(|e| StoreError(format!("Redis: {e}")))?;
        match reply[..] {
            [a, w, n] => Ok(Decision {
                admitted: a == 1,
                wait_us: w.max(0) as u64,
                now_us: n.max(0) as u64,
            }),
            _ => Err(StoreError(format!(
                "unexpected reply from the script: {reply:?}"
            ))),
        }
    }

    /// The cost of `req` to each bucket.
    pub fn costs(&self, req: &RequestInfo) -> Vec<u64> {
        self.buckets.iter().map(|(b, _)| b.cost(req)).collect()
    }
}

/// The [`Gate`] of a client whose strategy has shared layers in Redis: asks [`RedisBuckets`],
/// and when Redis fails applies each layer's `on_store_error`.
pub struct RedisGate {
    store: RedisBuckets,
    /// The strictest choice among the layers: closed before local before open.
    on_error: OnStoreError,
    /// The local fallback: each layer's bucket divided by the number of processes.
    local: Mutex<Vec<TokenBucket>>,
    start: tokio::time::Instant,
    down: AtomicBool,
    failures: AtomicU64,
}

impl RedisGate {
    /// A gate on `store`, whose local fallback holds `1/processes` of each bucket.
    pub fn new(store: RedisBuckets, processes: u32) -> RedisGate {
        let n = u64::from(processes.max(1));
        let on_error = store
            .buckets
            .iter()
            .map(|(b, _)| b.on_error)
            .max_by_key(|e| match e {
                OnStoreError::Closed => 2,
                OnStoreError::Local => 1,
                OnStoreError::Open => 0,
            })
            .unwrap_or_default();
        let local = store
            .buckets
            .iter()
            .map(|(b, _)| {
                let rate = Rate {
                    milli_per_period: (b.rate.milli_per_period / n).max(1),
                    period: b.rate.period,
                };
                TokenBucket::new(rate, b.burst.div_ceil(n), b.by_tokens)
            })
            .collect();
        RedisGate {
            store,
            on_error,
            local: Mutex::new(local),
            start: tokio::time::Instant::now(),
            down: AtomicBool::new(false),
            failures: AtomicU64::new(0),
        }
    }

    fn local_admit(&self, req: &RequestInfo) -> GateAnswer {
        let now: Nanos = self.start.elapsed().as_nanos() as Nanos;
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let mut latest = now;
        for b in local.iter_mut() {
            if let Admit::At(t) = b.poll_admit(now, req) {
                latest = latest.max(t);
            }
        }
        if latest > now {
            return GateAnswer::After(Duration::from_nanos(latest - now));
        }
        for b in local.iter_mut() {
            b.on_send(now, req);
        }
        GateAnswer::Now
    }

    async fn ask(&self, req: &RequestInfo) -> GateAnswer {
        match self.store.decide(&self.store.costs(req), None).await {
            Ok(d) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    eprintln!("ratelab: Redis answers again; the shared bucket is back in Redis");
                }
                if d.admitted {
                    GateAnswer::Now
                } else {
                    GateAnswer::After(Duration::from_micros(d.wait_us.max(1)))
                }
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                if !self.down.swap(true, Ordering::Relaxed) {
                    let what = match self.on_error {
                        OnStoreError::Open => {
                            "sending without the shared bucket (on_store_error = \"open\")"
                        }
                        OnStoreError::Closed => {
                            "holding requests until it answers (on_store_error = \"closed\")"
                        }
                        OnStoreError::Local => {
                            "using this process's share of the bucket locally (on_store_error = \"local\")"
                        }
                    };
                    eprintln!("ratelab: {e}; {what}");
                }
                match self.on_error {
                    OnStoreError::Open => GateAnswer::Now,
                    OnStoreError::Closed => GateAnswer::After(self.store.timeout),
                    OnStoreError::Local => self.local_admit(req),
                }
            }
        }
    }
}

impl Gate for RedisGate {
    fn admit<'a>(
        &'a self,
        req: &'a RequestInfo,
    ) -> std::pin::Pin<Box<dyn Future<Output = GateAnswer> + Send + 'a>> {
        Box::pin(self.ask(req))
    }
    fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

/// A [`Limiter`](crate::Limiter) running the `[[strategy]]` table `spec` whose shared layers
/// (`token_bucket.shared = true`) are kept in the Redis at `url` under `key_prefix` (every
/// process that passes the same prefix draws on the same buckets; `ratelab live` uses a run id),
/// as one of `processes` processes (the share of the local fallback). `seed` addresses the
/// strategy's jitter draws.
///
/// ```no_run
/// # async fn demo() -> Result<(), String> {
/// let spec: ratelab_strategies::spec::StrategySpec = toml::from_str(r#"
///     name = "workers"
///     admission = [{ kind = "token_bucket", rate_per_s = 20, burst = 20, shared = true }]
///     retry = { kind = "exponential", honor_retry_after = true }
/// "#).map_err(|e| e.to_string())?;
/// let limiter = ratelab_live::store::shared_limiter(&spec, 42, "redis://127.0.0.1:6379", "my-app", 4).await?;
/// # let _ = limiter; Ok(()) }
/// ```
pub async fn shared_limiter(
    spec: &ratelab_strategies::spec::StrategySpec,
    seed: u64,
    url: &str,
    key_prefix: &str,
    processes: u32,
) -> Result<crate::Limiter, String> {
    let built = spec.build_for(
        ratelab_strategies::Draws::new(seed),
        &mut ratelab_strategies::shared::SharedBuckets::external(),
    );
    let gate: Option<std::sync::Arc<dyn Gate>> = if built.stored.is_empty() {
        None
    } else {
        let store = RedisBuckets::connect(url, key_prefix, &spec.name, &built.stored)
            .await
            .map_err(|e| format!("strategy {:?}: {e}", spec.name))?;
        Some(std::sync::Arc::new(RedisGate::new(store, processes)))
    };
    Ok(crate::Limiter::with_options(
        built.stack,
        built.retry,
        built.timeout,
        crate::Options {
            gate,
            ..crate::Options::default()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_strategies::time::SECOND;

    #[test]
    fn units_are_reduced_and_bounded() {
        let u = Units::of(Rate::new(20.0, SECOND).unwrap(), 20).unwrap();
        // 1e9 units per token, 20 000 per µs: divided by 20 000.
        assert_eq!(
            (u.per_token, u.gain_per_us, u.capacity),
            (50_000, 1, 1_000_000)
        );
        let tpm = Units::of(Rate::new(2e6, 60 * SECOND).unwrap(), 2_000_000).unwrap();
        assert_eq!((tpm.per_token, tpm.gain_per_us), (30, 1));
        let odd = Units::of(Rate::new(1234.567, SECOND).unwrap(), 10_000_000);
        assert!(odd.unwrap_err().contains("2^52"));
    }
}
