//! `trace`: every client replays the rows of a CSV file, one request per row, at its `ready_s`
//! (and with its `tokens`, when the file has that column). The file is named relative to the
//! scenario file's folder; it is read when the scenario is loaded ([`TraceConfig::read_from`])
//! and held behind an `Arc`, so a run's gaps and tokens are lookups.

mod csv;

use std::path::Path;
use std::sync::Arc;

use ratelab_strategies::config::Checker;
use ratelab_strategies::draws::Draws;
use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
use ratelab_strategies::time::{Nanos, as_secs_f64};
use serde::{Deserialize, Serialize};

pub use csv::{MAX_TRACE_BYTES, Trace};

use super::ArrivalKind;

/// `{ kind = "trace", file }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConfig {
    /// The CSV file, as written: relative to the scenario file's folder (or absolute).
    pub file: String,
    /// The file's rows, once read (not part of the table: a scenario written back keeps `file`).
    #[serde(skip)]
    rows: Rows,
}

/// What became of reading the file.
#[derive(Clone, Debug, Default, PartialEq)]
enum Rows {
    /// Not read yet (a configuration made in code, or read back from a JSON result).
    #[default]
    NotRead,
    /// Read.
    Read(Arc<Trace>),
    /// Could not be read or parsed: why, naming the file and line.
    Failed(String),
}

impl Kind for TraceConfig {
    const DOC: KindDoc = KindDoc {
        about: "every client replays a CSV file: a header naming ready_s (and optionally \
                tokens), then one request per row, sorted by ready_s; the path is relative to \
                the scenario file",
        fields: &[FieldDoc::required("file").text()],
        example: r#"{ kind = "trace", file = "scenarios/trace-replay.csv" }"#,
    };
    fn check(&self, c: &mut Checker) {
        match &self.rows {
            Rows::Read(_) => {}
            Rows::Failed(problem) => c.fail("file", problem.clone()),
            Rows::NotRead => c.fail(
                "file",
                format!(
                    "{}: not read (a trace is read when its scenario is loaded)",
                    self.file
                ),
            ),
        }
    }
    fn scale(&mut self, k: f64) {
        if let Rows::Read(trace) = &self.rows {
            self.rows = Rows::Read(Arc::new(trace.scaled(k)));
        }
    }
}

impl TraceConfig {
    /// A trace of `file`, not read yet.
    pub fn new(file: impl Into<String>) -> Self {
        TraceConfig {
            file: file.into(),
            rows: Rows::NotRead,
        }
    }

    /// Reads the file, relative to `dir` (the scenario file's folder; empty: the current
    /// directory). A failure is kept and reported by [`Kind::check`].
    pub fn read_from(&mut self, dir: &Path) {
        self.rows = match Trace::read(&dir.join(&self.file)) {
            Ok(trace) => Rows::Read(Arc::new(trace)),
            Err(problem) => Rows::Failed(problem),
        };
    }

    /// The rows, once read.
    pub fn trace(&self) -> Option<&Trace> {
        match &self.rows {
            Rows::Read(trace) => Some(trace),
            _ => None,
        }
    }

    /// The rows, shared, once read.
    pub(crate) fn shared(&self) -> Option<Arc<Trace>> {
        match &self.rows {
            Rows::Read(trace) => Some(trace.clone()),
            _ => None,
        }
    }

    /// The tokens of request `id` when the file has a `tokens` column.
    #[inline]
    pub fn tokens_of(&self, id: u64) -> Option<u64> {
        self.trace().and_then(|t| t.tokens_of(id))
    }

    /// Checks the trace against the rest of the scenario: `requests` per client at most the
    /// rows, no `[workload] tokens` beside a `tokens` column, every row within `horizon`.
    /// `c` is prefixed `workload`.
    pub fn check_against(
        &self,
        requests: u64,
        has_tokens_kind: bool,
        horizon: Nanos,
        c: &mut Checker,
    ) {
        let Some(trace) = self.trace() else {
            return;
        };
        let shown = trace.shown();
        if requests > trace.len() as u64 {
            c.fail(
                "requests",
                format!(
                    "{requests} requests per client, but {shown} has only {} rows: requests must \
                     be at most the trace's rows",
                    trace.len()
                ),
            );
        }
        if trace.has_tokens() && has_tokens_kind {
            c.fail(
                "tokens",
                format!(
                    "{shown} has a tokens column, which gives each request's tokens: leave \
                     [workload] tokens out"
                ),
            );
        }
        if let Some((line, ready_s)) = trace.first_after(horizon) {
            c.fail(
                "arrival.file",
                format!(
                    "{shown} line {line}: ready_s {ready_s} is after the horizon (horizon_s = {})",
                    as_secs_f64(horizon)
                ),
            );
        }
    }
}

impl ArrivalKind for TraceConfig {
    /// The row's ready time less the previous row's.
    #[inline]
    fn gap(&self, _draws: &Draws, _client: u32, id: u64) -> Option<Nanos> {
        Some(self.trace().map_or(0, |t| t.gap(id)))
    }
}
