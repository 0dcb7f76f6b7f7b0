//! The comparison table `ratelab run` prints.

use ratelab_reports::format;
use ratelab_sim::result::StopReason;
use ratelab_sim::{RunOutput, StrategyResult};

/// Seconds as a short human string: 850ms, 12.3s, 9m58s, 2h05m.
pub fn duration(s: f64) -> String {
    format::duration(s, "")
}

/// A number with at most three decimals, trailing zeros dropped.
pub fn number(x: f64) -> String {
    format::trimmed(x, 3)
}

/// The share of the API's capacity: the ideal makespan over this one when nothing was lost
/// (`ideal_makespan_s / makespan_s`), else goodput over the capacity at t = 0, marked when
/// requests were lost.
fn share(r: &StrategyResult, capacity: Option<f64>) -> String {
    if let Some(e) = r.efficiency() {
        return format!("{:.0}%", 100.0 * e);
    }
    match capacity {
        Some(c) if c > 0.0 => format!("{:.0}%{}", 100.0 * r.goodput_rps / c, lost_mark(r)),
        _ => "-".into(),
    }
}

/// A strategy that lost requests (dead-lettered, rejected, or pending at the horizon): its
/// goodput counts only successes over a makespan that giving up may have cut short.
fn lost(r: &StrategyResult) -> bool {
    r.lost() > 0
}

fn lost_mark(r: &StrategyResult) -> &'static str {
    if lost(r) { "*" } else { "" }
}

/// 429s per attempt.
fn rate_429(r: &StrategyResult) -> String {
    if r.attempts == 0 {
        "-".into()
    } else {
        format::percent(r.rate_429(), "")
    }
}

fn latency(r: &StrategyResult, v: f64) -> String {
    if r.latency_s.count == 0 {
        "-".into()
    } else {
        duration(v)
    }
}

/// The table: one row per strategy (a `shed` column after `breaker` when a throttle shed any),
/// its failures by class, and a last line with the pick. Plain text (see [`render_with`]).
pub fn render(out: &RunOutput) -> String {
    render_with(out, false)
}

/// ANSI styles of a coloured table.
pub(crate) const BOLD: &str = "\x1b[1m";
pub(crate) const LOST: &str = "\x1b[33m";
pub(crate) const PICK: &str = "\x1b[1;32m";
pub(crate) const RESET: &str = "\x1b[0m";

/// Should a table written to this stream be coloured: a terminal, and `NO_COLOR` unset or
/// empty (<https://no-color.org>)?
pub fn colour_for(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// [`render`], with ANSI colour when `colour`: the header bold, the rows of strategies that lost
/// requests yellow, the pick green.
pub fn render_with(out: &RunOutput, colour: bool) -> String {
    let paint = |style: &str, text: String| {
        if colour {
            format!("{style}{text}{RESET}")
        } else {
            text
        }
    };
    let shed = out.results.iter().any(|r| r.rejected_by_throttle > 0);
    let mut headers = vec![
        "strategy",
        "ok",
        "dead",
        "breaker",
        "pending",
        "att/req",
        "429s",
        "429 %",
        "5xx",
        "timeout",
        "transport",
        "makespan",
        "goodput/s",
        "of cap",
        "p50 of ok",
        "p99 of ok",
    ];
    if shed {
        headers.insert(4, "shed");
    }
    // The classes after 429 get columns when any strategy met one (a note says so otherwise).
    let classes = out
        .results
        .iter()
        .any(|r| r.http_5xx + r.timeouts + r.transport_errors > 0);
    let class_at = headers.iter().position(|h| *h == "5xx").unwrap_or(0);
    if !classes {
        headers.drain(class_at..class_at + 3);
    }
    // Conflicts (409s, optimistic concurrency) get a column after the 429s when any came.
    let conflicts = out.results.iter().any(|r| r.http_409 > 0);
    let conflict_at = headers.iter().position(|h| *h == "429 %").unwrap_or(0) + 1;
    if conflicts {
        headers.insert(conflict_at, "409s");
    }
    let rows: Vec<Vec<String>> = out
        .results
        .iter()
        .map(|r| {
            let mut row = vec![
                shorten(&r.strategy),
                r.succeeded.to_string(),
                r.dead_lettered.to_string(),
                r.rejected_by_breaker.to_string(),
                r.in_flight_at_horizon.to_string(),
                format!("{:.2}", r.attempts_per_request),
                r.http_429.to_string(),
                rate_429(r),
                r.http_5xx.to_string(),
                r.timeouts.to_string(),
                r.transport_errors.to_string(),
                format!(
                    "{}{}",
                    duration(r.makespan_s),
                    if r.finished { "" } else { "+" }
                ),
                format!("{:.2}{}", r.goodput_rps, lost_mark(r)),
                share(r, out.api_capacity_rps),
                latency(r, r.latency_s.p50),
                latency(r, r.latency_s.p99),
            ];
            if shed {
                row.insert(4, r.rejected_by_throttle.to_string());
            }
            if !classes {
                row.drain(class_at..class_at + 3);
            }
            if conflicts {
                row.insert(conflict_at, r.http_409.to_string());
            }
            row
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut text = String::new();
    let sc = &out.scenario;
    text.push_str(&format!(
        "{} — {} requests{}, seed {}{}\n",
        sc.name,
        sc.workload.total_requests(),
        if sc.workload.clients > 1 {
            format!(" over {} clients", sc.workload.clients)
        } else {
            String::new()
        },
        out.seed,
        match out.api_capacity_rps {
            Some(c) => format!(", API capacity {} req/s", number(c)),
            None => String::new(),
        }
    ));
    if !out.description.trim().is_empty() {
        text.push_str(&format!("{}\n", out.description.trim()));
    }
    text.push('\n');
    text.push_str(&paint(
        BOLD,
        line(headers.iter().map(|h| h.to_string()).collect()),
    ));
    text.push('\n');
    for (row, r) in rows.into_iter().zip(&out.results) {
        let row = line(row);
        text.push_str(&if lost(r) { paint(LOST, row) } else { row });
        text.push('\n');
    }
    text.push_str(&notes(out));
    if let Some(v) = &out.verdict {
        let pick = format!("pick: {}", v.strategy.as_deref().unwrap_or("none"));
        text.push_str(&format!("\n{} — {}\n", paint(PICK, pick), v.reason));
    }
    text
}

/// One line for a goodput marked `*`, one for 413s (the table has no column for them), and one
/// for each way a strategy of the table did not finish (its makespan has a `+`).
fn notes(out: &RunOutput) -> String {
    let names = |stop: StopReason| {
        out.results
            .iter()
            .filter(|r| !r.finished && r.stop == stop)
            .map(|r| r.strategy.as_str())
            .collect::<Vec<_>>()
    };
    let mut notes = String::new();
    if out
        .results
        .iter()
        .all(|r| r.http_5xx + r.timeouts + r.transport_errors == 0)
    {
        notes.push_str("No 5xx, timeouts or transport errors.\n");
    }
    let lossy: Vec<&str> = out
        .results
        .iter()
        .filter(|r| lost(r))
        .map(|r| r.strategy.as_str())
        .collect();
    if !lossy.is_empty() {
        notes.push_str(&format!(
            "* lost requests ({}): goodput counts successes only, and a run that gives up or \
             stops early looks better than it is; read it with ok, dead and pending.\n",
            lossy.join(", ")
        ));
    }
    let few_ok: Vec<String> = out
        .results
        .iter()
        .filter(|r| lost(r) && r.succeeded > 0)
        .map(|r| format!("{} {} of {}", r.strategy, r.succeeded, r.requests))
        .collect();
    if !few_ok.is_empty() {
        notes.push_str(&format!(
            "p50/p99 of ok: end-to-end latency of successes only ({}).\n",
            few_ok.join(", ")
        ));
    }
    let too_heavy: Vec<String> = out
        .results
        .iter()
        .filter(|r| r.http_413 > 0)
        .map(|r| format!("{} {}", r.strategy, r.http_413))
        .collect();
    if !too_heavy.is_empty() {
        notes.push_str(&format!(
            "413s ({}): requests heavier than a limit's burst, which the API can never serve; \
             they are dead-lettered, and no retry helps.\n",
            too_heavy.join(", ")
        ));
    }
    if !names(StopReason::Horizon).is_empty() {
        let horizon = out.scenario.horizon_s;
        let ideal = ratelab_sim::oracle::ideal_beyond_horizon_s(&out.scenario, out.seed);
        notes.push_str(&match ideal {
            Some(ideal) if ideal > horizon => format!(
                "+ not finished: the horizon ({}) came first; \"pending\" requests were not \
                 final. The API's limits need {} for the whole workload (the ideal makespan): \
                 set horizon_s above {}.\n",
                duration(horizon),
                duration(ideal),
                ideal.ceil()
            ),
            Some(ideal) => format!(
                "+ not finished: the horizon ({}) came first; \"pending\" requests were not \
                 final, although the API's limits allow the whole workload in {}.\n",
                duration(horizon),
                duration(ideal)
            ),
            None => "+ not finished: the horizon came first; \"pending\" requests were not \
                     final.\n"
                .to_string(),
        });
    }
    let stalled = names(StopReason::Stalled);
    if !stalled.is_empty() {
        notes.push_str(&format!(
            "+ stalled ({}): requests were pending but nothing was left to happen (a strategy \
             that never admits them).\n",
            stalled.join(", ")
        ));
    }
    let interrupted = names(StopReason::Interrupted);
    if !interrupted.is_empty() {
        notes.push_str(&format!(
            "+ interrupted ({}): Ctrl-C stopped the run; requests not final then count as \
             \"pending\", and the strategies after it did not run.\n",
            interrupted.join(", ")
        ));
    }
    let held = names(StopReason::MemoryLimit);
    if !held.is_empty() {
        notes.push_str(&format!(
            "+ stopped at the memory limit ({}): more than max_requests_held = {} requests would \
             have been in flight or waiting to retry at once. Pace the strategy, send fewer \
             requests, or raise max_requests_held (about 210 bytes each).\n",
            held.join(", "),
            out.scenario.max_requests_held
        ));
    }
    if notes.is_empty() {
        notes
    } else {
        format!("\n{notes}")
    }
}

/// Longest strategy name the table shows in full, characters (names may have 256).
const NAME_COLUMN: usize = 40;

/// `name`, cut to [`NAME_COLUMN`] characters with an ellipsis.
fn shorten(name: &str) -> String {
    if name.chars().count() <= NAME_COLUMN {
        name.to_string()
    } else {
        let mut cut: String = name.chars().take(NAME_COLUMN - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_sim::{Scenario, run_scenario};

    #[test]
    fn colour_marks_the_header_the_losses_and_the_pick_and_plain_has_none() {
        let sc = Scenario::parse(
            "name = \"c\"\n[workload]\nrequests = 20\n[api]\n\
             limits = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 5 }]\n\
             latency = { kind = \"fixed\", ms = 10 }\n\
             [[strategy]]\nname = \"greedy\"\n\
             [[strategy]]\nname = \"paced\"\n\
             admission = [{ kind = \"token_bucket\", rate_per_s = 10, burst = 5 }]\n",
            "c.toml".as_ref(),
        )
        .unwrap();
        let out = run_scenario(&sc, sc.seed, None);
        let plain = render(&out);
        assert!(!plain.contains('\x1b'));
        let coloured = render_with(&out, true);
        assert!(coloured.contains(&format!("{BOLD}strategy")));
        let greedy = coloured.lines().find(|l| l.contains("greedy ")).unwrap();
        assert!(
            greedy.starts_with(LOST) && greedy.ends_with(RESET),
            "{greedy:?}"
        );
        let paced = coloured.lines().find(|l| l.starts_with("paced")).unwrap();
        assert!(!paced.contains('\x1b'), "{paced:?}");
        assert!(coloured.contains(&format!("{PICK}pick: paced{RESET} — all 20 succeeded")));
        // Without the escapes it is the plain table, byte for byte.
        let stripped = [BOLD, LOST, PICK, RESET]
            .iter()
            .fold(coloured, |t, code| t.replace(code, ""));
        assert_eq!(stripped, plain);
    }
}
