//! Reading a trace file: CSV text whose header names a `ready_s` column and optionally a
//! `tokens` column (other columns are ignored, in any order), then one row per request, sorted
//! by `ready_s`. Every error names the file and, where there is one, the line.
//!
//! The format is kept small on purpose: cells are split at commas, trimmed, and a cell wholly in
//! double quotes loses them (`"ready_s"`); a quoted cell holding a comma is not supported. Line
//! endings may be `\n` or `\r\n`, blank lines are skipped, a UTF-8 byte-order mark is dropped.

use std::path::Path;

use ratelab_strategies::time::{Nanos, as_secs_f64, secs_to_nanos};

use crate::workload::tokens::MAX_TOKENS;

/// Largest trace file read, in bytes.
pub const MAX_TRACE_BYTES: u64 = 256 << 20;

/// The rows of a trace file: each request's ready time and, with a `tokens` column, its tokens.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// The file as named in messages.
    shown: String,
    /// Ready times, sorted.
    ready: Vec<Nanos>,
    /// Tokens per row, when the file has a `tokens` column.
    tokens: Option<Vec<u64>>,
    /// The line of each row in the file (1-based), for messages.
    lines: Vec<u32>,
}

impl Trace {
    /// Reads and parses the trace file at `path` (named in messages as `path` displays).
    pub fn read(path: &Path) -> Result<Trace, String> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
        if !meta.is_file() {
            // A device or a pipe (/dev/zero, a FIFO) could be endless or never answer.
            return Err(format!("{shown}: not a regular file"));
        }
        if meta.len() > MAX_TRACE_BYTES {
            return Err(format!(
                "{shown}: {} bytes, a trace may have at most {MAX_TRACE_BYTES}",
                meta.len()
            ));
        }
        let bytes = crate::scenario::read_at_most(path, MAX_TRACE_BYTES)
            .map_err(|e| format!("{shown}: cannot read: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            format!(
                "{shown}: not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            )
        })?;
        Trace::parse(&text, &shown)
    }

    /// Parses trace text; `shown` names the file in messages.
    pub fn parse(text: &str, shown: &str) -> Result<Trace, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((header_line, header)) = lines.next() else {
            return Err(format!(
                "{shown}: empty: it needs a header line naming a `ready_s` column"
            ));
        };
        let columns = Columns::of(header)
            .map_err(|problem| format!("{shown} line {header_line}: {problem}"))?;
        let mut trace = Trace {
            shown: shown.to_string(),
            tokens: columns.tokens.map(|_| Vec::new()),
            ..Trace::default()
        };
        // The previous row's ready time, its text and its line, for the order check.
        let mut previous: Option<(f64, String, usize)> = None;
        for (line, row) in lines {
            let at = |problem: String| format!("{shown} line {line}: {problem}");
            let cells: Vec<&str> = row.split(',').collect();
            let raw = columns.cell(&cells, columns.ready, "ready_s").map_err(at)?;
            let ready = match raw.parse::<f64>() {
                Err(_) => return Err(at(format!("ready_s \"{raw}\" is not a number"))),
                Ok(v) if !v.is_finite() || v < 0.0 => {
                    return Err(at(format!("ready_s {raw} must be a finite number ≥ 0")));
                }
                Ok(v) => v,
            };
            if let Some((before, before_raw, before_line)) = &previous
                && ready < *before
            {
                return Err(at(format!(
                    "ready_s {raw} is before line {before_line}'s {before_raw}: rows must be \
                     sorted by ready_s"
                )));
            }
            if let (Some(i), Some(tokens)) = (columns.tokens, trace.tokens.as_mut()) {
                let raw = columns.cell(&cells, i, "tokens").map_err(at)?;
                match raw.parse::<u64>() {
                    Ok(n) if (1..=MAX_TOKENS).contains(&n) => tokens.push(n),
                    Ok(_) => {
                        return Err(at(format!("tokens {raw} must be in 1..={MAX_TOKENS}")));
                    }
                    Err(_) => {
                        return Err(at(format!("tokens \"{raw}\" is not a whole number ≥ 1")));
                    }
                }
            }
            trace.ready.push(secs_to_nanos(ready));
            trace.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
            previous = Some((ready, raw.to_string(), line));
        }
        if trace.ready.is_empty() {
            return Err(format!(
                "{shown}: no rows after the header (line {header_line}): a trace needs at least \
                 one request"
            ));
        }
        Ok(trace)
    }

    /// The file as named in messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Rows (requests).
    pub fn len(&self) -> usize {
        self.ready.len()
    }

    /// No rows (only a default, unread trace).
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    /// Whether the file has a `tokens` column.
    pub fn has_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// When request `id` is ready (0 beyond the last row).
    pub fn ready_at(&self, id: u64) -> Nanos {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.ready.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// The gap before request `id` after the previous one (0 beyond the last row; never
    /// negative: the rows are sorted).
    #[inline]
    pub fn gap(&self, id: u64) -> Nanos {
        let Ok(i) = usize::try_from(id) else {
            return 0;
        };
        match (i.checked_sub(1), self.ready.get(i)) {
            (_, None) => 0,
            (None, Some(&t)) => t,
            (Some(p), Some(&t)) => t.saturating_sub(self.ready[p]),
        }
    }

    /// The tokens of request `id`, when the file has a `tokens` column (1 beyond the last row).
    #[inline]
    pub fn tokens_of(&self, id: u64) -> Option<u64> {
        let tokens = self.tokens.as_ref()?;
        let i = usize::try_from(id).ok()?;
        Some(tokens.get(i).copied().unwrap_or(1))
    }

    /// Mean tokens of the first `n` rows (1 without a `tokens` column).
    pub fn mean_tokens(&self, n: u64) -> f64 {
        let Some(tokens) = &self.tokens else {
            return 1.0;
        };
        let used = &tokens[..tokens.len().min(usize::try_from(n).unwrap_or(usize::MAX))];
        if used.is_empty() {
            return 1.0;
        }
        used.iter().map(|&t| t as f64).sum::<f64>() / used.len() as f64
    }

    /// The first row ready after `horizon`, as (line, ready_s), if any.
    pub fn first_after(&self, horizon: Nanos) -> Option<(u32, f64)> {
        let i = self.ready.partition_point(|&t| t <= horizon);
        (i < self.ready.len()).then(|| (self.lines[i], as_secs_f64(self.ready[i])))
    }

    /// The same trace `k` times faster: every ready time ÷ k.
    pub fn scaled(&self, k: f64) -> Trace {
        Trace {
            ready: self
                .ready
                .iter()
                .map(|&t| secs_to_nanos(as_secs_f64(t) / k))
                .collect(),
            ..self.clone()
        }
    }
}

/// Where the columns a trace reads are.
struct Columns {
    ready: usize,
    tokens: Option<usize>,
}

impl Columns {
    /// The columns named by `header`.
    fn of(header: &str) -> Result<Columns, String> {
        let names: Vec<&str> = header.split(',').map(unquote).collect();
        let find = |name: &str| -> Result<Option<usize>, String> {
            let mut at = names.iter().enumerate().filter(|(_, n)| **n == name);
            match (at.next(), at.next()) {
                (Some((i, _)), None) => Ok(Some(i)),
                (None, _) => Ok(None),
                (Some(_), Some(_)) => Err(format!("the header names `{name}` twice")),
            }
        };
        let Some(ready) = find("ready_s")? else {
            return Err(format!(
                "the header has no `ready_s` column (the first line must name the columns, e.g. \
                 `ready_s,tokens`; found `{}`)",
                names.join("`, `")
            ));
        };
        Ok(Columns {
            ready,
            tokens: find("tokens")?,
        })
    }

    /// Cell `i` of a row, trimmed and unquoted.
    fn cell<'a>(&self, cells: &[&'a str], i: usize, name: &str) -> Result<&'a str, String> {
        cells.get(i).map(|c| unquote(c)).ok_or_else(|| {
            let n = cells.len();
            let s = if n == 1 { "" } else { "s" };
            format!(
                "no {name} value: the row has {n} cell{s}, {name} is column {}",
                i + 1
            )
        })
    }
}

/// A cell trimmed, without the double quotes around it if it has them.
fn unquote(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .map_or(cell, str::trim)
}

#[cfg(test)]
mod tests;
