//! # ratelab-strategies
//!
//! Client strategies for rate-limited APIs as sans-IO state machines: admission layers
//! ([`admission`]), retry policies ([`retry`]) and a circuit breaker ([`breaker`]), composed in a
//! [`Stack`], and the client loop's rules ([`client`]) that the simulator and the live driver
//! share. Nothing here sleeps, spawns or reads a clock: time is `u64` nanoseconds passed in by
//! the caller, and every random draw is addressed by (seed, purpose, client, request, attempt)
//! ([`draws`]). Each kind of a scenario's `{ kind = … }` tables is one module ([`kind`]).
//!
//! ```
//! use ratelab_strategies::{Admit, RequestInfo, Strategy, admission::Semaphore};
//!
//! let mut sem = Semaphore::new(1);
//! let req = RequestInfo { client: 0, id: 0, attempt: 1, tokens: 1 };
//! assert_eq!(sem.poll_admit(0, &req), Admit::Now);
//! sem.on_send(0, &req);
//! assert_eq!(sem.poll_admit(0, &req), Admit::WhenSomethingCompletes);
//! ```

#![warn(missing_docs)]

pub mod admission;
pub mod breaker;
pub mod bucket;
pub mod client;
pub mod config;
pub mod draws;
pub mod kind;
pub mod retry;
pub mod shared;
pub mod spec;
pub mod strategy;
pub mod time;
pub mod types;

#[cfg(test)]
mod testing;

pub use admission::{AdmissionSpec, Layer};
pub use client::{Backlog, ClientCore, Head, Heard, Transmit, Verdict};
pub use draws::{Draws, Purpose};
pub use retry::{Retry, RetryPolicy, RetrySpec};
pub use strategy::{Hints, Stack, Strategy};
pub use time::Nanos;
pub use types::{Admit, Outcome, RateLimitHeaders, RequestInfo, Response};
