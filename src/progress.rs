//! The one-line progress display of `ratelab run` and `ratelab live` on standard error.

use std::io::IsTerminal;

use ratelab_sim::Progress;

use crate::table;

/// Progress of a run of several strategies, redrawn in place; shown only on a terminal and
/// unless quiet, and wiped when the run ends.
pub struct ProgressLine {
    show: bool,
    shown: bool,
    /// Put before the line (`live`), or empty.
    prefix: &'static str,
    /// What the progress's time is (`virtual time`, `elapsed`).
    clock: &'static str,
    names: Vec<String>,
}

impl ProgressLine {
    /// A line for strategies called `names`.
    pub fn new(names: Vec<String>, prefix: &'static str, clock: &'static str, quiet: bool) -> Self {
        ProgressLine {
            show: !quiet && std::io::stderr().is_terminal(),
            shown: false,
            prefix,
            clock,
            names,
        }
    }

    /// Shows how far strategy `i` has come.
    pub fn update(&mut self, i: usize, p: Progress) {
        self.update_seed(0, 1, i, p);
    }

    /// Shows how far strategy `i` has come with seed `k` (from 0) of `n`; with one seed, as
    /// [`ProgressLine::update`].
    pub fn update_seed(&mut self, k: usize, n: usize, i: usize, p: Progress) {
        if self.show {
            self.shown = true;
            let seed = if n > 1 {
                format!("seed {} of {n}, ", k + 1)
            } else {
                String::new()
            };
            eprint!(
                "\r{}{seed}[{}/{}] {}: {:.0}% of requests final, {} {}   ",
                self.prefix,
                i + 1,
                self.names.len(),
                self.names[i],
                100.0 * p.finals as f64 / p.requests.max(1) as f64,
                self.clock,
                table::duration(p.now as f64 / 1e9),
            );
        }
    }

    /// Wipes the line if it was shown.
    pub fn clear(&self) {
        if self.shown {
            eprint!("\r{:100}\r", "");
        }
    }
}
