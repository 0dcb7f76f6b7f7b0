//! `optimistic_concurrency`: one shared row under optimistic concurrency, the contention model of
//! the AWS "Exponential Backoff And Jitter" study (aws-samples/aws-arch-backoff-simulator,
//! `src/backoff_simulator.py`).
//!
//! An attempt is a read and then a write with the version read, each a round trip of two network
//! hops of `|N(hop_mean_ms, hop_sd_ms)|`: the read reaches the row after hop 1, the write after
//! hops 2 and 3, the reply arrives after hop 4 (plus the API's latency, served after the write).
//! The write succeeds when no other write succeeded since the read; otherwise it is a 409, which
//! the client may retry. Whether it conflicts is known only once every earlier write is: the
//! API answers with the latency at the send and settles the status when the reply arrives
//! ([`OccRow::settle`]): by then every write before it has been sent.
//!
//! As a limit it never makes a request wait: the contention is the row's.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use ratelab_strategies::RequestInfo;
use ratelab_strategies::config::{Checker, MAX_MS, Unit};
use ratelab_strategies::draws::{Draws, Purpose};
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::{Nanos, ms_to_nanos};
use serde::{Deserialize, Serialize};

use super::{Limit, LimitKind};
use crate::sampling;

/// `{ kind = "optimistic_concurrency", hop_mean_ms = 10, hop_sd_ms = 2 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimisticConcurrencyConfig {
    /// Mean network delay of one hop, ms (default 10, the study's).
    #[serde(default = "default_hop_mean_ms")]
    pub hop_mean_ms: f64,
    /// Its standard deviation, ms (default 2, the study's).
    #[serde(default = "default_hop_sd_ms")]
    pub hop_sd_ms: f64,
}

fn default_hop_mean_ms() -> f64 {
    10.0
}
fn default_hop_sd_ms() -> f64 {
    2.0
}

impl Kind for OptimisticConcurrencyConfig {
    const DOC: KindDoc = KindDoc {
        about: "one row under optimistic concurrency: read, write with the version read, 409 on \
                a conflict (the AWS backoff-and-jitter study's model)",
        fields: &[
            FieldDoc::default("hop_mean_ms", "10"),
            FieldDoc::default("hop_sd_ms", "2"),
        ],
        example: r#"{ kind = "optimistic_concurrency" }"#,
    };
    fn check(&self, c: &mut Checker) {
        c.number("hop_mean_ms", self.hop_mean_ms, 0.0, MAX_MS);
        c.number("hop_sd_ms", self.hop_sd_ms, 0.0, MAX_MS);
    }
    fn scale(&mut self, k: f64) {
        self.hop_mean_ms /= k;
        self.hop_sd_ms /= k;
    }
}

impl LimitKind for OptimisticConcurrencyConfig {
    type State = NoWait;
    fn build(&self) -> NoWait {
        NoWait
    }
    fn unit(&self) -> Unit {
        Unit::Requests
    }
    fn capacity_rps(&self, _mean_tokens: f64, _mean_latency_ms: f64) -> Option<f64> {
        None
    }
}

/// The limit side of `optimistic_concurrency`: admits everything (the row decides).
#[derive(Clone, Copy, Debug)]
pub struct NoWait;

impl Limit for NoWait {
    fn by_tokens(&self) -> bool {
        false
    }
    fn never_fits(&self, _tokens: u64) -> bool {
        false
    }
    fn wait(&mut self, _now: Nanos, _tokens: u64) -> Nanos {
        0
    }
    fn commit(&mut self, _now: Nanos, _tokens: u64, _end: Nanos) {}
    fn headroom(&mut self, _now: Nanos) -> (u64, Nanos) {
        (1, 0)
    }
    fn capacity(&self) -> u64 {
        1
    }
}

/// Identifies an attempt.
type Key = (u32, u64, u32);

/// The row during a run.
#[derive(Clone, Debug)]
pub struct OccRow {
    hop_mean: f64,
    hop_sd: f64,
    draws: Draws,
    /// Writes not yet settled: (write time, key, read time), earliest first.
    pending: BinaryHeap<Reverse<(Nanos, Key, Nanos)>>,
    /// Settled writes whose reply has not been asked for: key → succeeded.
    settled: BTreeMap<Key, bool>,
    /// The time of the latest successful write.
    last_write: Option<Nanos>,
}

impl OccRow {
    /// The row of `config` under `draws`.
    pub fn new(config: &OptimisticConcurrencyConfig, draws: Draws) -> Self {
        OccRow {
            hop_mean: config.hop_mean_ms,
            hop_sd: config.hop_sd_ms,
            draws,
            pending: BinaryHeap::new(),
            settled: BTreeMap::new(),
            last_write: None,
        }
    }

    /// One hop's delay: `|N(mean, sd)|` in ms, the `hop`-th draw of the attempt.
    fn hop(&self, req: &RequestInfo, hop: u32) -> Nanos {
        let attempt = req.attempt.saturating_mul(4).saturating_add(hop);
        let mut more =
            sampling::further_words(self.draws, Purpose::Network, req.client, req.id, attempt);
        let word = self
            .draws
            .u64(Purpose::Network, req.client, req.id, attempt);
        let z = sampling::normal(word, &mut more);
        ms_to_nanos(libm::fabs(self.hop_mean + self.hop_sd * z)).max(1)
    }

    /// The attempt `req` sent at `now` with `service` of server time after its write: records
    /// its read and write and answers the latency of its reply.
    pub fn send(&mut self, now: Nanos, req: &RequestInfo, service: Nanos) -> Nanos {
        let [d1, d2, d3, d4] = [0, 1, 2, 3].map(|h| self.hop(req, h));
        let read = now.saturating_add(d1);
        let write = read.saturating_add(d2).saturating_add(d3);
        let key = (req.client, req.id, req.attempt);
        self.pending.push(Reverse((write, key, read)));
        (write - now).saturating_add(service).saturating_add(d4)
    }

    /// Whether the write of `req` succeeded, asked at `now`, the time of its reply (after its
    /// write): settles every write up to `now` in time order first.
    pub fn settle(&mut self, now: Nanos, req: &RequestInfo) -> bool {
        while let Some(&Reverse((write, key, read))) = self.pending.peek() {
            if write > now {
                break;
            }
            self.pending.pop();
            let ok = self.last_write.is_none_or(|last| last < read);
            if ok {
                self.last_write = Some(write);
            }
            self.settled.insert(key, ok);
        }
        self.settled
            .remove(&(req.client, req.id, req.attempt))
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(client: u32) -> RequestInfo {
        RequestInfo {
            client,
            id: 0,
            attempt: 1,
            tokens: 1,
        }
    }

    #[test]
    fn overlapping_transactions_conflict_and_the_first_write_wins() {
        let config = OptimisticConcurrencyConfig {
            hop_mean_ms: 10.0,
            hop_sd_ms: 0.0,
        };
        let mut row = OccRow::new(&config, Draws::new(1));
        let ms = 1_000_000;
        // Both read at 10 ms and write at 30 ms and 31 ms: the second finds a newer version.
        assert_eq!(row.send(0, &req(0), 0), 40 * ms);
        assert_eq!(row.send(ms, &req(1), 0), 40 * ms);
        assert!(row.settle(40 * ms, &req(0)));
        assert!(!row.settle(41 * ms, &req(1)));
        // A transaction that reads after the last write succeeds.
        let mut again = req(1);
        again.attempt = 2;
        row.send(50 * ms, &again, 0);
        assert!(row.settle(90 * ms, &again));
    }

    #[test]
    fn hops_are_the_absolute_value_of_a_normal() {
        let config = OptimisticConcurrencyConfig {
            hop_mean_ms: 10.0,
            hop_sd_ms: 2.0,
        };
        let row = OccRow::new(&config, Draws::new(7));
        let n = 4000;
        let hops: Vec<f64> = (0..n)
            .map(|id| {
                let r = RequestInfo {
                    client: 0,
                    id,
                    attempt: 1,
                    tokens: 1,
                };
                row.hop(&r, 0) as f64 / 1e6
            })
            .collect();
        let mean = hops.iter().sum::<f64>() / n as f64;
        let sd = (hops.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((mean - 10.0).abs() < 0.1, "{mean}");
        assert!((sd - 2.0).abs() < 0.1, "{sd}");
    }
}
