//! The summary table: one row per strategy, the best value of each column marked.

use std::fmt::Write as _;

use ratelab_sim::{RunOutput, StrategyResult};

use super::escape;
use super::specs::number2;
use crate::charts::css_colour;
use crate::story::{count, duration, percent};

/// Which rows a column's "best" is chosen among.
#[derive(Clone, Copy, PartialEq)]
enum Among {
    /// Every strategy.
    All,
    /// Only the strategies that delivered the most successes: a strategy that gives up on most
    /// requests is fast and cheap, and must not win on cost, time or latency for it.
    MostSucceeded,
}

struct Column {
    head: &'static str,
    title: &'static str,
    cells: Vec<Cell>,
    higher_is_better: bool,
    among: Among,
}

struct Cell {
    value: Option<f64>,
    text: String,
}

fn cell(value: f64, text: String) -> Cell {
    Cell {
        value: Some(value),
        text,
    }
}

fn no_cell() -> Cell {
    Cell {
        value: None,
        text: "–".into(),
    }
}

fn latency_cell(r: &StrategyResult, v: f64) -> Cell {
    if r.latency_s.count == 0 {
        no_cell()
    } else {
        cell(v, duration(v))
    }
}

/// `*` after the numbers of a strategy that lost requests (dead-lettered, rejected or pending):
/// its goodput counts successes only.
fn lost_mark(r: &StrategyResult) -> &'static str {
    if r.lost() > 0 { "*" } else { "" }
}

fn columns(out: &RunOutput) -> Vec<Column> {
    let rs = &out.results;
    let col = |head, title, higher_is_better, among, f: &dyn Fn(&StrategyResult) -> Cell| Column {
        head,
        title,
        cells: rs.iter().map(f).collect(),
        higher_is_better,
        among,
    };
    let mut cols = vec![
        col(
            "succeeded",
            "requests that succeeded",
            true,
            Among::All,
            &|r| cell(r.succeeded as f64, count(r.succeeded)),
        ),
        col(
            "dead-lettered",
            "requests given up: out of attempts or a failure that is not retried",
            false,
            Among::All,
            &|r| cell(r.dead_lettered as f64, count(r.dead_lettered)),
        ),
    ];
    if rs.iter().any(|r| r.rejected_by_throttle > 0) {
        cols.push(col(
            "shed",
            "requests shed by the client's own throttle (sre_throttle), never sent",
            false,
            Among::All,
            &|r| cell(r.rejected_by_throttle as f64, count(r.rejected_by_throttle)),
        ));
    }
    if rs.iter().any(|r| r.rejected_by_breaker > 0) {
        cols.push(col(
            "failed fast",
            "requests failed fast by an open circuit breaker",
            false,
            Among::All,
            &|r| cell(r.rejected_by_breaker as f64, count(r.rejected_by_breaker)),
        ));
    }
    for (head, title, pick) in [
        (
            "5xx",
            "server errors received",
            (|r| r.http_5xx) as fn(&StrategyResult) -> u64,
        ),
        ("timeouts", "the client's own timeouts", |r| r.timeouts),
        (
            "transport errors",
            "attempts that got no HTTP reply: connection refused or reset",
            |r| r.transport_errors,
        ),
    ] {
        if rs.iter().any(|r| pick(r) > 0) {
            cols.push(col(head, title, false, Among::MostSucceeded, &|r| {
                cell(pick(r) as f64, count(pick(r)))
            }));
        }
    }
    cols.extend([
        col(
            "in flight at horizon",
            "requests not final when the run stopped (at the horizon or the memory limit): queued, \
             waiting to retry or awaiting a reply",
            false,
            Among::All,
            &|r| cell(r.in_flight_at_horizon as f64, count(r.in_flight_at_horizon)),
        ),
        col(
            "attempts / request",
            "attempts that reached the API per request, retries included",
            false,
            Among::MostSucceeded,
            &|r| {
                cell(
                    r.attempts_per_request,
                    format!("{:.2}", r.attempts_per_request),
                )
            },
        ),
        col(
            "429s",
            "429 replies received",
            false,
            Among::MostSucceeded,
            &|r| cell(r.http_429 as f64, count(r.http_429)),
        ),
        col(
            "429 rate",
            "429s per attempt",
            false,
            Among::MostSucceeded,
            &|r| cell(r.rate_429(), percent(r.rate_429())),
        ),
        col(
            "makespan",
            "time of the last final state; + : not finished (the horizon came first, the run \
             stalled, or it met its memory limit: see What happened)",
            false,
            Among::MostSucceeded,
            &|r| {
                cell(
                    if r.finished {
                        r.makespan_s
                    } else {
                        f64::INFINITY
                    },
                    format!(
                        "{}{}",
                        duration(r.makespan_s),
                        if r.finished { "" } else { "+" }
                    ),
                )
            },
        ),
        col(
            "goodput",
            "successes per second of makespan",
            true,
            Among::MostSucceeded,
            &|r| {
                cell(
                    r.goodput_rps,
                    format!("{}/s{}", number2(r.goodput_rps), lost_mark(r)),
                )
            },
        ),
    ]);
    let capacity = out.api_capacity_rps.filter(|c| c.is_finite() && *c > 0.0);
    if capacity.is_some() || rs.iter().any(|r| r.ideal_makespan_s.is_some()) {
        cols.push(col(
            "of capacity",
            "the ideal makespan (an oracle that knows the limits) over this one, when nothing was \
             lost; otherwise goodput as a share of the API's sustainable rate, marked *",
            true,
            Among::MostSucceeded,
            &move |r| match (r.efficiency(), capacity) {
                (Some(e), _) => cell(e, percent(e)),
                (None, Some(c)) => cell(
                    r.goodput_rps / c,
                    format!("{}{}", percent(r.goodput_rps / c), lost_mark(r)),
                ),
                (None, None) => no_cell(),
            },
        ));
    }
    cols.extend([
        col(
            "p50 of ok",
            "median end-to-end latency of successes",
            false,
            Among::MostSucceeded,
            &|r| latency_cell(r, r.latency_s.p50),
        ),
        col(
            "p90 of ok",
            "90th percentile end-to-end latency of successes",
            false,
            Among::MostSucceeded,
            &|r| latency_cell(r, r.latency_s.p90),
        ),
        col(
            "p99 of ok",
            "99th percentile end-to-end latency of successes",
            false,
            Among::MostSucceeded,
            &|r| latency_cell(r, r.latency_s.p99),
        ),
        col(
            "max of ok",
            "largest end-to-end latency of a success",
            false,
            Among::MostSucceeded,
            &|r| latency_cell(r, r.latency_s.max),
        ),
    ]);
    cols
}

/// Which cells of a column are the best: every row that ties for the best value, among the rows
/// the column compares; none when all compared rows are equal (nothing to point at).
fn best(column: &Column, eligible: &[bool]) -> Vec<bool> {
    let values: Vec<Option<f64>> = column
        .cells
        .iter()
        .zip(eligible)
        .map(|(c, &e)| {
            c.value
                .filter(|v| (e || column.among == Among::All) && !v.is_nan())
        })
        .collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let Some(target) = present.iter().copied().reduce(|a, b| {
        if column.higher_is_better {
            a.max(b)
        } else {
            a.min(b)
        }
    }) else {
        return vec![false; values.len()];
    };
    let all_values: Vec<f64> = column.cells.iter().filter_map(|c| c.value).collect();
    if all_values.iter().all(|&v| v == target) || !target.is_finite() {
        return vec![false; values.len()];
    }
    // Ties as shown: a cell that reads the same as the best one is marked too.
    let shown: Vec<&str> = column
        .cells
        .iter()
        .zip(&values)
        .filter(|(_, v)| **v == Some(target))
        .map(|(c, _)| c.text.as_str())
        .collect();
    values
        .iter()
        .zip(&column.cells)
        .map(|(v, c)| v.is_some() && shown.contains(&c.text.as_str()))
        .collect()
}

pub(super) fn summary(h: &mut String, out: &RunOutput) {
    let cols = columns(out);
    let most = out.results.iter().map(|r| r.succeeded).max().unwrap_or(0);
    let eligible: Vec<bool> = out.results.iter().map(|r| r.succeeded == most).collect();
    let marks: Vec<Vec<bool>> = cols.iter().map(|c| best(c, &eligible)).collect();
    h.push_str(
        "<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"wide\"><table>\n<thead>\n<tr><th>strategy</th>",
    );
    for c in &cols {
        let _ = write!(
            h,
            "<th title=\"{}\">{}</th>",
            escape(c.title),
            escape(c.head)
        );
    }
    h.push_str("</tr>\n</thead>\n<tbody>\n");
    for (i, r) in out.results.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td class=\"name\"><span class=\"swatch\" style=\"background:{}\"></span>{}{}</td>",
            css_colour(i),
            escape(&r.strategy),
            if r.lost() > 0 {
                format!(
                    " <span class=\"lost\" title=\"{} of {} requests did not succeed\">* lost {}</span>",
                    r.lost(),
                    r.requests,
                    count(r.lost())
                )
            } else {
                String::new()
            }
        );
        for (c, m) in cols.iter().zip(&marks) {
            if m[i] {
                let _ = write!(
                    h,
                    "<td class=\"best\"><b>{}</b></td>",
                    escape(&c.cells[i].text)
                );
            } else {
                let _ = write!(h, "<td>{}</td>", escape(&c.cells[i].text));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table></div>\n");
    h.push_str(
        "<p class=\"note\">Bold on green marks the best value of a column. Apart from the outcome \
         counts, columns are compared only among the strategies that delivered the most successes \
         (giving up is fast and cheap, not good). Latency is end to end: from the moment a request was ready to its \
         success, queueing, backoff and retries included. ",
    );
    if out.results.iter().any(|r| !r.finished) {
        h.push_str("+ : not finished (see What happened). ");
    }
    if out.results.iter().any(|r| r.lost() > 0) {
        h.push_str(
            "* : the strategy lost requests (dead-lettered, rejected or pending): its goodput \
             counts successes only, and a run that gives up or stops early looks better than it is. ",
        );
    }
    let measured: Vec<String> = out
        .results
        .iter()
        .filter(|r| r.lost() > 0)
        .map(|r| {
            format!(
                "{} {} of {}",
                r.strategy,
                count(r.succeeded),
                count(r.requests)
            )
        })
        .collect();
    if !measured.is_empty() {
        let _ = write!(
            h,
            "Latency columns (\u{201c}of ok\u{201d}) are of successes only: {}. ",
            escape(&measured.join(", "))
        );
    }
    h.push_str("Hover a column heading for its definition.</p>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_cell_and_those_that_read_the_same_are_marked() {
        let column = |values: &[(f64, &str)], among| Column {
            head: "p50",
            title: "",
            cells: values
                .iter()
                .map(|&(v, t)| cell(v, t.to_string()))
                .collect(),
            higher_is_better: false,
            among,
        };
        // 24.21 s is the best; 24.24 s reads the same, so it is marked too; 24.4 s is not.
        let c = column(
            &[(24.4, "24.4s"), (24.21, "24.2s"), (24.24, "24.2s")],
            Among::All,
        );
        assert_eq!(best(&c, &[true; 3]), [false, true, true]);
        // Only eligible rows compete, but a tie as shown with the best is marked among them.
        let c = column(
            &[(1.0, "1.0s"), (24.21, "24.2s"), (24.24, "24.2s")],
            Among::MostSucceeded,
        );
        assert_eq!(best(&c, &[false, true, true]), [false, true, true]);
        // All equal: nothing to point at.
        let c = column(&[(3.0, "3s"), (3.0, "3s")], Among::All);
        assert_eq!(best(&c, &[true; 2]), [false, false]);
    }
}
