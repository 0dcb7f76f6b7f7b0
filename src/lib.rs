//! # ratelab
//!
//! A lab for client strategies against rate-limited APIs. This crate is the CLI plus a thin
//! facade: the strategies live in [`strategies`] (`ratelab-strategies`), the simulator, API
//! models and scenario schema in [`sim`] (`ratelab-sim`). [`table`] renders the comparison table
//! that `ratelab run` and `cargo bench --bench compare` print, [`catalog`] what `ratelab list`
//! prints of every kind, [`league`] the league of strategies against a folder of APIs, [`schema`]
//! the JSON Schema of scenario files, [`parallel`] runs a scenario's strategies and seeds on
//! every core, [`seeds`] summarises a run over several seeds, [`sweep`] a scenario over a grid of
//! parameters and seeds (`ratelab sweep`, `merge`, `tune`).

#![warn(missing_docs)]

pub mod catalog;
pub mod league;
pub mod parallel;
pub mod schema;
pub mod seeds;
pub mod sweep;
pub mod table;

pub use ratelab_sim as sim;
pub use ratelab_strategies as strategies;
