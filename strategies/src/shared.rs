//! Buckets shared by all the clients of a strategy (`token_bucket.shared = true`).
//!
//! One bucket per (strategy, layer index): [`SharedBuckets`] is handed to every client's build of
//! one strategy ([`crate::spec::StrategySpec::build_for`]); the first build of a shared layer
//! makes its bucket and the later ones get a handle to the same one. In the simulator and in
//! `ratelab live` without a store that bucket is a [`SharedBucket`], the in-process
//! [`TokenBucket`] behind a mutex: every client's send goes through it, so its remembered wait is
//! dropped by any client's send. With an external store ([`SharedBuckets::external`], `ratelab
//! live --redis`), a shared layer is left out of the stack and described as a [`StoredBucket`]
//! for the driver to ask the store about.
//!
//! Another client's send can only make a bucket's wait longer, never shorter, so a client that
//! was told `At(t)` loses nothing by sleeping until `t` and asking again then.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::admission::AdmissionKind;
use crate::admission::{OnStoreError, TokenBucket, TokenBucketConfig};
use crate::bucket::Rate;
use crate::draws::Draws;
use crate::strategy::Hints;
use crate::strategy::Strategy;
use crate::time::{Nanos, ms_to_nanos};
use crate::types::{Admit, RequestInfo, Response};

/// A handle to one token bucket that several clients draw on; clones share the bucket.
#[derive(Clone, Debug)]
pub struct SharedBucket(Arc<Mutex<TokenBucket>>);

impl SharedBucket {
    /// A handle to a new shared bucket holding `bucket`.
    pub fn new(bucket: TokenBucket) -> Self {
        SharedBucket(Arc::new(Mutex::new(bucket)))
    }

    fn lock(&self) -> MutexGuard<'_, TokenBucket> {
        // The bucket's state is valid between any two calls: a panic elsewhere leaves it usable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many handles (clients) share this bucket.
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl Strategy for SharedBucket {
    #[inline]
    fn poll_admit(&mut self, now: Nanos, req: &RequestInfo) -> Admit {
        self.lock().poll_admit(now, req)
    }
    #[inline]
    fn on_send(&mut self, now: Nanos, req: &RequestInfo) {
        self.lock().on_send(now, req)
    }
    fn on_response(&mut self, _now: Nanos, _resp: &Response) {}
    fn response_changes_admission(&self) -> bool {
        false
    }
    /// As a token bucket: replies change nothing, and other clients' sends only make a wait
    /// longer (an `At(t)` still stands: nothing is admitted before `t`).
    fn hints(&self) -> Hints {
        Hints::IGNORES_REPLIES
    }
}

/// A shared layer kept in an external store: what the driver asks the store with.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredBucket {
    /// The layer's index in the strategy's `admission` list (part of the store's key).
    pub layer: usize,
    /// Refill rate.
    pub rate: Rate,
    /// Capacity in tokens.
    pub burst: u64,
    /// Requests weigh their tokens (`unit = "tokens"`), else 1.
    pub by_tokens: bool,
    /// The bucket starts empty (`start = "empty"`) rather than full.
    pub starts_empty: bool,
    /// What to do when the store fails or times out.
    pub on_error: OnStoreError,
    /// How long a decision may wait for the store.
    pub timeout: Nanos,
}

impl StoredBucket {
    /// The layer at `layer` of a strategy, described for a store.
    pub fn of(layer: usize, c: &TokenBucketConfig) -> Self {
        StoredBucket {
            layer,
            rate: c.rate(),
            burst: c.burst.max(1),
            by_tokens: c.unit == crate::config::Unit::Tokens,
            starts_empty: c.start == crate::admission::Start::Empty,
            on_error: c.on_store_error(),
            timeout: ms_to_nanos(c.store_timeout_ms()).max(1),
        }
    }

    /// What `req` costs this bucket, as in [`TokenBucket`]: its tokens (at most the burst) or 1.
    pub fn cost(&self, req: &RequestInfo) -> u64 {
        if self.by_tokens {
            req.tokens.min(self.burst)
        } else {
            1
        }
    }
}

/// The shared layers of one strategy's clients: pass the same value to every client's
/// [`crate::spec::StrategySpec::build_for`] of one run (a fresh one per strategy).
#[derive(Debug, Default)]
pub struct SharedBuckets {
    external: bool,
    /// Per layer index, the bucket the first client made.
    made: Vec<(usize, SharedBucket)>,
}

impl SharedBuckets {
    /// Shared layers become one in-process [`SharedBucket`] each (the simulator, `ratelab live`).
    pub fn in_process() -> Self {
        SharedBuckets::default()
    }

    /// Shared layers are kept in an external store: they are left out of the stack and listed in
    /// [`crate::spec::BuiltStrategy::stored`].
    pub fn external() -> Self {
        SharedBuckets {
            external: true,
            made: Vec::new(),
        }
    }

    /// Are shared layers kept in an external store?
    pub fn is_external(&self) -> bool {
        self.external
    }

    /// The in-process bucket of layer `layer`, made from `c` by the first caller.
    pub fn bucket(&mut self, layer: usize, c: &TokenBucketConfig) -> SharedBucket {
        if let Some((_, b)) = self.made.iter().find(|(i, _)| *i == layer) {
            return b.clone();
        }
        // A token bucket draws nothing: any draws will do.
        let b = SharedBucket::new(c.build(Draws::new(0)));
        self.made.push((layer, b.clone()));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::req;
    use crate::time::SECOND;

    fn config(toml_text: &str) -> TokenBucketConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn clients_of_one_strategy_draw_on_one_bucket() {
        let c = config("rate_per_s = 10\nburst = 2\nshared = true");
        let mut shared = SharedBuckets::in_process();
        let mut a = shared.bucket(0, &c);
        let mut b = shared.bucket(0, &c);
        assert_eq!(a.handles(), 3);
        a.on_send(0, &req(0));
        assert_eq!(b.poll_admit(0, &req(1)), Admit::Now);
        b.on_send(0, &req(1));
        // Both tokens are gone, whichever client asks.
        assert_eq!(a.poll_admit(0, &req(2)), Admit::At(SECOND / 10));
        assert_eq!(b.poll_admit(0, &req(3)), Admit::At(SECOND / 10));
        // A send by one client moves the other's remembered wait.
        assert_eq!(b.poll_admit(SECOND / 10, &req(3)), Admit::Now);
        b.on_send(SECOND / 10, &req(3));
        assert_eq!(
            a.poll_admit(SECOND / 10, &req(2)),
            Admit::At(2 * SECOND / 10)
        );
        // Another layer index, or another strategy's buckets, is another bucket.
        let mut other = shared.bucket(1, &c);
        assert_eq!(other.poll_admit(0, &req(0)), Admit::Now);
        let mut fresh = SharedBuckets::in_process().bucket(0, &c);
        assert_eq!(fresh.poll_admit(SECOND / 10, &req(0)), Admit::Now);
    }

    #[test]
    fn a_stored_bucket_describes_the_layer() {
        let c = config(
            "rate_per_min = 600\nburst = 50\nunit = \"tokens\"\nshared = true\non_store_error = \"closed\"\nstore_timeout_ms = 20",
        );
        let s = StoredBucket::of(3, &c);
        assert_eq!(s.layer, 3);
        assert_eq!(s.rate, Rate::new(600.0, 60 * SECOND).unwrap());
        assert_eq!((s.burst, s.by_tokens, s.starts_empty), (50, true, false));
        assert_eq!(s.on_error, OnStoreError::Closed);
        assert_eq!(s.timeout, 20_000_000);
        let mut r = req(0);
        r.tokens = 80;
        assert_eq!(s.cost(&r), 50);
        r.tokens = 0;
        assert_eq!(s.cost(&r), 0);
    }
}
