//! The API's limits over what it admitted, and a client bucket over what it sent.

use std::collections::BTreeMap;

use ratelab_sim::api::LimitSpec;
use ratelab_strategies::bucket::Rate;
use ratelab_strategies::config::Unit;
use ratelab_strategies::time::{Nanos, secs_to_nanos};

/// An attempt the API admitted: sent at `sent`, weighing `tokens`, served until `end` (`None`
/// when the client timed out first and the end is unknown).
#[derive(Clone, Copy, Debug)]
pub struct Admitted {
    pub sent: Nanos,
    pub tokens: u64,
    pub end: Option<Nanos>,
}

/// The limit's promise over admitted attempts (sorted by `sent`): a token bucket never more than
/// burst + rate·T in any window of length T, a fixed window never more than its limit per
/// aligned window, a sliding window never more than its limit in ANY window of its length, a
/// concurrency limit never more than max in flight. Token-weighted limits count tokens.
pub fn check_limit(spec: &LimitSpec, admitted: &[Admitted]) -> Result<(), String> {
    let by_tokens = spec.unit() == Unit::Tokens;
    let cost = |a: &Admitted| if by_tokens { a.tokens } else { 1 };
    match spec {
        LimitSpec::TokenBucket(b) => {
            let (rate, burst): (Rate, &u64) = (b.rate(), &b.burst);
            let unit = u128::from(rate.period) * 1000;
            for i in 0..admitted.len() {
                let mut sum = 0u128;
                for j in i..admitted.len() {
                    sum += u128::from(cost(&admitted[j]));
                    let dt = u128::from(admitted[j].sent - admitted[i].sent);
                    ensure!(
                        sum.saturating_sub(u128::from(*burst)) * unit
                            <= u128::from(rate.milli_per_period) * dt,
                        "{spec:?}: {sum} admitted in {dt} ns (attempts {i}..={j}), more than burst + rate·T"
                    );
                }
            }
        }
        LimitSpec::FixedWindow(fw) => {
            let (limit, w) = (&fw.limit, secs_to_nanos(fw.window_s).max(1));
            let mut per: BTreeMap<Nanos, u64> = BTreeMap::new();
            for a in admitted {
                *per.entry(a.sent / w).or_default() += cost(a);
            }
            for (k, n) in per {
                ensure!(
                    n <= *limit,
                    "{spec:?}: {n} admitted in window {k}, limit {limit}"
                );
            }
        }
        LimitSpec::SlidingWindow(sw) => {
            // Any window's content is a subset of the window starting at its first attempt.
            let (limit, w) = (&sw.limit, secs_to_nanos(sw.window_s).max(1));
            for (i, a) in admitted.iter().enumerate() {
                let n: u64 = admitted[i..]
                    .iter()
                    .take_while(|b| b.sent < a.sent + w)
                    .map(cost)
                    .sum();
                ensure!(
                    n <= *limit,
                    "{spec:?}: {n} admitted in [{}, {}+{w}), limit {limit}",
                    a.sent,
                    a.sent
                );
            }
        }
        LimitSpec::Concurrency(cl) => {
            let max_in_flight = &cl.max_in_flight;
            for a in admitted {
                let n = admitted
                    .iter()
                    .filter(|b| b.sent <= a.sent && b.end.is_some_and(|e| e > a.sent))
                    .count();
                ensure!(
                    n <= *max_in_flight as usize,
                    "{spec:?}: {n} in flight at {}",
                    a.sent
                );
            }
        }
        // Admits everything: the row's conflicts are checked by their own property.
        LimitSpec::OptimisticConcurrency(_) => {}
    }
    Ok(())
}

/// For sends (time, cost) of one client, sorted: cost in every window ≤ burst + rate·T.
pub fn check_client_bucket(sends: &[(Nanos, u64)], rate: Rate, burst: u64) -> Result<(), String> {
    let unit = u128::from(rate.period) * 1000;
    for i in 0..sends.len() {
        let mut sum = 0u128;
        for j in i..sends.len() {
            sum += u128::from(sends[j].1);
            let dt = u128::from(sends[j].0 - sends[i].0);
            ensure!(
                sum.saturating_sub(u128::from(burst)) * unit
                    <= u128::from(rate.milli_per_period) * dt,
                "client token bucket {rate:?} burst {burst}: cost {sum} sent in {dt} ns"
            );
        }
    }
    Ok(())
}
