//! # ratelab-live
//!
//! The only part of ratelab with real clocks and sockets:
//!
//! - [`Limiter`] ([`driver`]): the sans-IO strategies of `ratelab-strategies` and the client
//!   loop's rules (`ClientCore`), unchanged, driven by tokio on real time: admission, the user's
//!   request, the reply's status and headers ([`reply`], [`headers`]), retries, errors
//!   ([`errors`]), precise waits ([`clock`]);
//! - [`server`]: a scenario's `[api]` model over HTTP (`ratelab serve`), the same
//!   `ratelab_sim::api::ApiModel` the simulator runs;
//! - [`run`]: a scenario's strategies against a real endpoint (`ratelab live`), recorded into
//!   the simulator's result shape;
//! - `store` (feature `redis`): a strategy's shared buckets in Redis, for clients in several
//!   processes (`ratelab live --redis`, or `store::shared_limiter` in your own);
//! - `tower` (feature `tower`) and `reqwest` (feature `reqwest`): a [`Limiter`] as a tower
//!   layer (`tower::LimiterLayer`) and as reqwest-middleware middleware
//!   (`reqwest::LimiterMiddleware`);
//! - [`scale`] and [`fidelity`]: a scenario sped up for a live run, and the simulator's
//!   prediction next to the live measurement (`ratelab fidelity`).
//!
//! ```no_run
//! use ratelab_live::Limiter;
//! use ratelab_strategies::spec::StrategySpec;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // A `[[strategy]]` table, as in a scenario file.
//! let spec: StrategySpec = toml::from_str(r#"
//!     name = "paced"
//!     admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
//!     retry = { kind = "exponential", honor_retry_after = true }
//!     timeout_ms = 30000
//! "#)?;
//! let limiter = Limiter::from_spec(&spec, 42);
//! let target = ratelab_live::client::Target::new("http://127.0.0.1:8080/v1/analyze")?;
//! let reply = limiter.call(|attempt| target.send(attempt)).await?;
//! println!("{}", String::from_utf8_lossy(reply.body()));
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod client;
pub mod clock;
pub mod driver;
pub mod errors;
pub mod fidelity;
pub mod headers;
pub mod profile;
pub mod reply;
#[cfg(feature = "reqwest")]
pub mod reqwest;
pub mod run;
pub mod scale;
pub mod server;
#[cfg(feature = "redis")]
pub mod store;
#[cfg(feature = "tower")]
pub mod tower;
pub mod trace;
pub mod workers;

pub use driver::{Attempt, Gate, GateAnswer, Limiter, Observer, Options};
pub use errors::{CallError, Failure};
pub use profile::Profile;
pub use reply::{HttpReply, Inspected};
pub use run::{
    Endpoint, interrupt_on_ctrl_c, run_scenario_live, run_scenario_live_until, run_strategy_live,
    run_strategy_live_until,
};
pub use scale::{ScaleExt, Scaled};
pub use server::{MockApi, ServeLimits, Server};

use std::future::Future;

/// Runs a future to completion on a fresh multi-threaded tokio runtime (for callers without
/// one, such as the `ratelab` CLI). Errors only when the runtime cannot be built.
pub fn block_on<F: Future>(f: F) -> Result<F::Output, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))?;
    Ok(rt.block_on(f))
}

/// Waits for Ctrl-C (SIGINT); returns at once with an error when the signal cannot be watched.
pub async fn ctrl_c() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
