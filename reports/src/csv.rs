//! A run as CSV files: `summary.csv` (one row per strategy) and each strategy's per-second
//! series.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ratelab_sim::RunOutput;
use ratelab_sim::result::Series;

/// One CSV file of a run's series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvFile {
    /// File name (no directory): `<strategy>.csv` for the whole run of a strategy and
    /// `<strategy>.client-<k>.csv` for client `k` when there are several clients, where
    /// `<strategy>` is the strategy's name with every run of characters other than ASCII letters,
    /// digits and `_` (`-` included) replaced by one `-`, none at either end (a clash gets `-2`,
    /// `-3`, … appended).
    pub name: String,
    /// Its contents: a header `second,sends,successes,http_429,in_flight` and one line per second
    /// of the run (`second` = i covers `[i s, i+1 s)`; `in_flight` is the time-weighted mean).
    pub contents: String,
}

/// The CSV files of a run: `summary.csv`, then in strategy order each strategy's file and its
/// clients' files (a strategy whose stem would be `summary` gets `summary-2`).
pub fn csv_files(out: &RunOutput) -> Vec<CsvFile> {
    let mut files = vec![CsvFile {
        name: "summary.csv".into(),
        contents: summary_csv(out),
    }];
    let mut used: Vec<String> = vec!["summary".into()];
    for r in &out.results {
        let base = slug(&r.strategy);
        let mut stem = base.clone();
        let mut n = 2;
        while used.contains(&stem) {
            stem = format!("{base}-{n}");
            n += 1;
        }
        used.push(stem.clone());
        files.push(CsvFile {
            name: format!("{stem}.csv"),
            contents: series_csv(&r.series),
        });
        if r.clients.len() > 1 {
            for c in &r.clients {
                files.push(CsvFile {
                    name: format!("{stem}.client-{}.csv", c.client),
                    contents: series_csv(&c.series),
                });
            }
        }
    }
    files
}

/// Writes [`csv_files`] into `dir` (created if missing) and returns the paths written.
pub fn write_csv(out: &RunOutput, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for f in csv_files(out) {
        let path = dir.join(&f.name);
        std::fs::write(&path, f.contents)?;
        written.push(path);
    }
    Ok(written)
}

/// The header of `summary.csv`.
pub const SUMMARY_HEADER: &str = "strategy,requests,succeeded,dead_lettered,rejected_by_breaker,\
rejected_by_throttle,in_flight_at_horizon,finished,attempts,http_429,http_429_rate,http_5xx,\
timeouts,transport_errors,makespan_s,ideal_makespan_s,efficiency,goodput_rps,p50_s,p99_s,picked";

/// One row per strategy, in file order: its outcome counts, failures by class, makespan against
/// the ideal, goodput, the latency of successes, and `picked` (1 for the verdict's pick).
pub fn summary_csv(out: &RunOutput) -> String {
    let pick = out.verdict.as_ref().and_then(|v| v.strategy.as_deref());
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut text = format!("{SUMMARY_HEADER}\n");
    for r in &out.results {
        let ok = r.latency_s.count > 0;
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            quoted(&r.strategy),
            r.requests,
            r.succeeded,
            r.dead_lettered,
            r.rejected_by_breaker,
            r.rejected_by_throttle,
            r.in_flight_at_horizon,
            r.finished,
            r.attempts,
            r.http_429,
            r.rate_429(),
            r.http_5xx,
            r.timeouts,
            r.transport_errors,
            r.makespan_s,
            opt(r.ideal_makespan_s),
            opt(r.efficiency()),
            r.goodput_rps,
            opt(ok.then_some(r.latency_s.p50)),
            opt(ok.then_some(r.latency_s.p99)),
            u8::from(pick == Some(r.strategy.as_str())),
        );
    }
    text
}

/// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A strategy name as a safe file-name stem.
pub(crate) fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            s.push(c);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_matches('-');
    if s.is_empty() {
        "strategy".to_string()
    } else {
        s.to_string()
    }
}

/// One line per series bucket: `second` is the bucket's start (buckets are one second wide
/// unless the run's `step_s` says otherwise), counts are per bucket.
fn series_csv(s: &Series) -> String {
    let mut text = String::from("second,sends,successes,http_429,in_flight\n");
    let len = s
        .sends
        .len()
        .max(s.successes.len())
        .max(s.http_429.len())
        .max(s.in_flight.len());
    for i in 0..len {
        let _ = writeln!(
            text,
            "{},{},{},{},{}",
            i as u64 * s.step_s.max(1),
            s.sends.get(i).copied().unwrap_or(0),
            s.successes.get(i).copied().unwrap_or(0),
            s.http_429.get(i).copied().unwrap_or(0),
            s.in_flight.get(i).copied().unwrap_or(0.0),
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_commas_and_quotes_are_quoted() {
        assert_eq!(quoted("plain"), "plain");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn slugs_are_safe_file_names() {
        assert_eq!(slug("bucket-10/s+semaphore-5"), "bucket-10-s-semaphore-5");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("<>"), "strategy");
        assert_eq!(slug("aimd_each"), "aimd_each");
        assert_eq!(slug("naïve run"), "na-ve-run");
    }

    #[test]
    fn series_lines_cover_every_second() {
        let s = Series {
            step_s: 1,
            sends: vec![3, 1],
            successes: vec![2, 1],
            http_429: vec![1, 0],
            in_flight: vec![1.5, 0.25],
            ..Series::default()
        };
        assert_eq!(
            series_csv(&s),
            "second,sends,successes,http_429,in_flight\n0,3,2,1,1.5\n1,1,1,0,0.25\n"
        );
    }
}
