//! `ratelab fidelity --trace`: a recorded client's run (the JSON lines `serve --trace` writes)
//! summarised in the simulator's terms, and put next to the simulator's prediction of the
//! matching strategy on the same API.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ratelab_sim::StrategyResult;
use serde::Deserialize;

use crate::fidelity::{TARGET_429, TARGET_MAKESPAN, relative};

/// One line of a trace.
#[derive(Clone, Debug, Deserialize)]
struct Line {
    t_s: f64,
    client: u32,
    id: u64,
    status: u16,
    latency_s: f64,
}

/// A recorded run, in the simulator's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSummary {
    /// Attempts (lines).
    pub attempts: u64,
    /// 429 replies.
    pub http_429: u64,
    /// Distinct requests (client, id).
    pub requests: u64,
    /// Requests with a 2xx attempt.
    pub succeeded: u64,
    /// From the first send to the last reply, s.
    pub makespan_s: f64,
    /// Median, from a request's first send to its success, s (`None`: no success). The server
    /// cannot see how long a request waited in its client before that.
    pub p50_s: Option<f64>,
    /// Attempts sent by the end of each tenth of the makespan (10 values).
    pub sends_by_tenth: Vec<u64>,
}

/// Reads a trace; a line that is not one names its number.
pub fn read_trace(text: &str) -> Result<TraceSummary, String> {
    let mut lines = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1))?;
        if !(line.t_s.is_finite() && line.t_s >= 0.0 && line.latency_s.is_finite()) {
            return Err(format!(
                "line {}: t_s and latency_s must be finite, t_s ≥ 0",
                i + 1
            ));
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return Err("the trace has no requests".into());
    }
    let start = lines.iter().map(|l| l.t_s).fold(f64::INFINITY, f64::min);
    let end = lines
        .iter()
        .map(|l| l.t_s + l.latency_s)
        .fold(f64::NEG_INFINITY, f64::max);
    let makespan_s = end - start;
    // Per request: its first send and its success's reply.
    let mut requests: BTreeMap<(u32, u64), (f64, Option<f64>)> = BTreeMap::new();
    for l in &lines {
        let e = requests.entry((l.client, l.id)).or_insert((l.t_s, None));
        e.0 = e.0.min(l.t_s);
        if (200..300).contains(&l.status) {
            e.1 = Some(l.t_s + l.latency_s);
        }
    }
    let mut latencies: Vec<f64> = requests
        .values()
        .filter_map(|(first, ok)| ok.map(|ok| ok - first))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let p50_s = (!latencies.is_empty()).then(|| latencies[(latencies.len() - 1) / 2]);
    let sends_by_tenth = (1..=10)
        .map(|k| {
            let until = start + makespan_s * f64::from(k) / 10.0;
            lines.iter().filter(|l| l.t_s <= until).count() as u64
        })
        .collect();
    Ok(TraceSummary {
        attempts: lines.len() as u64,
        http_429: lines.iter().filter(|l| l.status == 429).count() as u64,
        requests: requests.len() as u64,
        succeeded: latencies.len() as u64,
        makespan_s,
        p50_s,
        sends_by_tenth,
    })
}

/// The simulator's attempts sent by the end of each tenth of its makespan, from its per-second
/// series.
fn sim_sends_by_tenth(r: &StrategyResult) -> Vec<u64> {
    let step = r.series.step_s.max(1) as f64;
    (1..=10)
        .map(|k| {
            let until = r.makespan_s * f64::from(k) / 10.0;
            // A bucket partly before `until` counts in proportion (the sends in a bucket are
            // taken as spread over it).
            let sent: f64 = r
                .series
                .sends
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let part = ((until - i as f64 * step) / step).clamp(0.0, 1.0);
                    n as f64 * part
                })
                .sum();
            sent.round() as u64
        })
        .collect()
}

/// The side-by-side table of a simulated strategy and a recorded client, and whether they agree
/// (attempts and makespan within 5 %, 429s within 10 %).
pub fn render_trace(sim: &StrategyResult, t: &TraceSummary) -> (String, bool) {
    let mut out = format!("{:<14} {:>10} {:>10} {:>8}\n", "", "sim", "trace", "diff");
    let pct = |d: Option<f64>| d.map_or("n/a".into(), |d| format!("{:+.1}%", d * 100.0));
    let mut ok = true;
    let mut row = |what: &str, s: f64, r: f64, target: Option<f64>| {
        let d = relative(s, r);
        let verdict = match target {
            Some(t) if d.is_some_and(|d| d.abs() <= t) => "ok",
            Some(_) => {
                ok = false;
                "MISSED"
            }
            None => "",
        };
        let _ = writeln!(
            out,
            "{what:<14} {s:>10.3} {r:>10.3} {:>8}  {verdict}",
            pct(d)
        );
    };
    row("requests", sim.requests as f64, t.requests as f64, None);
    row("succeeded", sim.succeeded as f64, t.succeeded as f64, None);
    row(
        "attempts",
        sim.attempts as f64,
        t.attempts as f64,
        Some(TARGET_MAKESPAN),
    );
    row(
        "429s",
        sim.http_429 as f64,
        t.http_429 as f64,
        Some(TARGET_429),
    );
    row(
        "makespan (s)",
        sim.makespan_s,
        t.makespan_s,
        Some(TARGET_MAKESPAN),
    );
    if let Some(p50) = t.p50_s {
        // The server sees a request from its first send; the simulator from when it was ready
        // (the client's own queue included): a paced client's p50 differs for that reason.
        row("p50 (s)", sim.latency_s.p50, p50, None);
        out.push_str("  (p50: sim from a request's ready time, trace from its first send)\n");
    }
    let _ = writeln!(
        out,
        "sends by each tenth of the makespan:\n  sim   {:?}\n  trace {:?}",
        sim_sends_by_tenth(sim),
        t.sends_by_tenth
    );
    (out, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_reads_into_the_simulators_terms() {
        let text = r#"{"t_s":1.0,"client":0,"id":0,"attempt":1,"tokens":1,"status":429,"latency_s":0.01,"path":"/"}
{"t_s":1.0,"client":0,"id":1,"attempt":1,"tokens":1,"status":200,"latency_s":0.5,"path":"/"}
{"t_s":2.0,"client":0,"id":0,"attempt":2,"tokens":1,"status":200,"latency_s":0.5,"path":"/"}
"#;
        let t = read_trace(text).unwrap();
        assert_eq!(
            (t.attempts, t.http_429, t.requests, t.succeeded),
            (3, 1, 2, 2)
        );
        assert_eq!(t.makespan_s, 1.5);
        // Request 1: 0.5 s; request 0: 1.5 s; the lower median is 0.5 s.
        assert_eq!(t.p50_s, Some(0.5));
        assert_eq!(t.sends_by_tenth.last(), Some(&3));
        let e = read_trace("{\"t_s\":1}\nnot json").unwrap_err();
        assert!(e.starts_with("line 1: missing field"), "{e}");
        assert_eq!(read_trace("\n").unwrap_err(), "the trace has no requests");
    }
}
