//! A scenario file: the API, the workload and the strategies to compare, with validation that
//! names the file, the field and the allowed range.

use std::fmt;
use std::path::{Path, PathBuf};

use ratelab_strategies::config::{Checker, Invalid};
use ratelab_strategies::spec::StrategySpec;
use ratelab_strategies::time::{Nanos, secs_to_nanos};
use serde::{Deserialize, Serialize};

use crate::api::ApiSpec;
use crate::workload::WorkloadSpec;

/// Longest description, bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;
/// Most strategies in one scenario.
pub const MAX_STRATEGIES: usize = 100;
/// Largest scenario file, bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Longest horizon accepted: 30 days of virtual time.
pub const MAX_HORIZON_S: f64 = 30.0 * 86_400.0;

/// A scenario, as read from TOML (and written back: a generated case is replayable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, shown in tables and reports.
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Seed of every random draw (default 1).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// A run stops here if work is still pending, s of virtual time (default 3600).
    #[serde(default = "default_horizon_s")]
    pub horizon_s: f64,
    /// Most requests the simulator holds at once, in flight or waiting to retry (default
    /// 10 000 000: 2.1 GB with all of them in flight). A run that would need more stops there, with
    /// [`crate::result::StopReason::MemoryLimit`], instead of exhausting the machine's memory.
    #[serde(
        default = "default_max_requests_held",
        skip_serializing_if = "is_default_max_requests_held"
    )]
    pub max_requests_held: u64,
    /// What is sent.
    pub workload: WorkloadSpec,
    /// Who answers.
    pub api: ApiSpec,
    /// The strategies to compare, in file order.
    #[serde(rename = "strategy")]
    pub strategies: Vec<StrategySpec>,
}

fn default_seed() -> u64 {
    1
}
fn default_horizon_s() -> f64 {
    3600.0
}
/// Default of [`Scenario::max_requests_held`].
pub const DEFAULT_MAX_REQUESTS_HELD: u64 = 10_000_000;
/// Highest [`Scenario::max_requests_held`] accepted.
pub const MAX_REQUESTS_HELD: u64 = 1_000_000_000;
fn default_max_requests_held() -> u64 {
    DEFAULT_MAX_REQUESTS_HELD
}
fn is_default_max_requests_held(n: &u64) -> bool {
    *n == DEFAULT_MAX_REQUESTS_HELD
}

/// Why a scenario could not be used.
#[derive(Debug)]
pub enum ScenarioError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// Not valid TOML, an unknown field or kind, or a value of the wrong type.
    Parse {
        /// The file (or `<input>`).
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Fields out of their allowed range.
    Invalid {
        /// The file (or `<input>`).
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Invalid>,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Io { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            ScenarioError::Parse { path, message } => {
                write!(f, "{}: {}", path.display(), message.trim_end())
            }
            ScenarioError::Invalid { path, problems } => {
                for (i, p) in problems.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{}: {p}", path.display())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

/// The bytes of `path`, an error past `max` bytes (a file that grew, or a device such as
/// `/dev/zero` that reports no size).
pub fn read_at_most(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!("longer than {max} bytes")));
    }
    Ok(bytes)
}

/// The scenario files (`*.toml`) of `dir`, sorted by name.
pub fn scenario_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let io = |error| ScenarioError::Io {
            path: path.to_path_buf(),
            error,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_FILE_BYTES {
            return Err(ScenarioError::Parse {
                path: path.to_path_buf(),
                message: format!("the file has {size} bytes; at most {MAX_FILE_BYTES} (16 MiB)"),
            });
        }
        let bytes = read_at_most(path, MAX_FILE_BYTES).map_err(io)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = at
                - before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1)
                + 1;
            ScenarioError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "not UTF-8 text: an invalid byte at line {line}, column {column} (byte \
                     offset {at})"
                ),
            }
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses and validates scenario text; `path` names it in messages, and the files it names
    /// (a trace) are read relative to `path`'s folder (the current directory for a bare name
    /// such as `<input>`).
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        scenario
            .workload
            .read_files(path.parent().unwrap_or(Path::new("")));
        let problems = scenario.problems();
        if problems.is_empty() {
            Ok(scenario)
        } else {
            Err(ScenarioError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// Every field out of its allowed range (empty when the scenario is valid).
    pub fn problems(&self) -> Vec<Invalid> {
        let mut errors = Vec::new();
        let mut c = Checker::new("", &mut errors);
        c.name("name", &self.name);
        if self.description.len() > MAX_DESCRIPTION_BYTES {
            c.fail(
                "description",
                format!(
                    "has {} bytes; at most {MAX_DESCRIPTION_BYTES} (64 KiB)",
                    self.description.len()
                ),
            );
        }
        if self.strategies.len() > MAX_STRATEGIES {
            c.fail(
                "strategy",
                format!(
                    "{} strategies; at most {MAX_STRATEGIES}",
                    self.strategies.len()
                ),
            );
        }
        c.positive("horizon_s", self.horizon_s, 0.0, MAX_HORIZON_S);
        c.integer(
            "max_requests_held",
            self.max_requests_held,
            1,
            MAX_REQUESTS_HELD,
        );
        self.workload.check(&mut c.nested("workload"));
        self.workload
            .check_within(self.horizon(), &mut c.nested("workload"));
        self.api.check(&mut c.nested("api"), self.horizon_s);
        if self.strategies.is_empty() {
            c.fail("strategy", "at least one [[strategy]] is needed");
        }
        for (i, s) in self.strategies.iter().enumerate() {
            s.check(&mut c.nested(&format!("strategy[{i}]")));
            if self.strategies[..i].iter().any(|o| o.name == s.name) {
                c.fail(
                    &format!("strategy[{i}].name"),
                    format!(
                        "\"{}\" is used by an earlier strategy; names must be unique",
                        s.name
                    ),
                );
            }
        }
        errors
    }

    /// The scenario as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario always serialises to TOML")
    }

    /// The horizon in nanoseconds.
    pub fn horizon(&self) -> Nanos {
        secs_to_nanos(self.horizon_s)
    }

    /// The sustainable request rate the API's limits imply, when they imply one.
    pub fn api_capacity_rps(&self) -> Option<f64> {
        self.api.capacity_rps(self.workload.mean_tokens())
    }
}
