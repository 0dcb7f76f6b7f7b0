//! The time charts of the catalogue, with their captions and legends: successes (cumulative),
//! goodput, 429s, tokens and requests in flight, all on the run's one [`TimeFrame`].

use ratelab_sim::RunOutput;
use ratelab_sim::ratelab_strategies::config::Unit;
use ratelab_sim::result::StrategyResult;

use super::axes::{LogAxis, ScaledAxis};
use super::bins::{Binned, binned, cumulative};
use super::draw::drawn;
use super::legend::Key;
use super::style::{axis_number, count_label, value_label};
use super::time::{TimeFrame, TimeLine, time_chart};
use super::{Chart, ChartBody};
use crate::format::duration;
use crate::story::count;

/// The legend: one entry per strategy labelled by `label`, then the reference line's.
fn legend(
    out: &RunOutput,
    label: &dyn Fn(&StrategyResult) -> String,
    reference: Option<String>,
) -> String {
    super::entries(out, Key::Strategy, label, reference)
}

/// One binned line per strategy of the series `pick` picks.
fn binned_lines(
    out: &RunOutput,
    frame: &TimeFrame,
    pick: &dyn Fn(&StrategyResult) -> Vec<f64>,
    how: Binned,
) -> Vec<TimeLine> {
    out.results
        .iter()
        .enumerate()
        .map(|(i, r)| TimeLine {
            strategy: i,
            points: binned(&pick(r), r.series.step_s, frame.bin_s, how),
            mark_end: false,
        })
        .collect()
}

/// A horizontal reference line at `y` across the frame.
fn across(frame: &TimeFrame, y: f64) -> Vec<(f64, f64)> {
    vec![(0.0, y), (frame.span_s, y)]
}

/// The largest y of the lines and of `also`.
fn top(lines: &[TimeLine], also: Option<f64>) -> f64 {
    lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .chain(also)
        .fold(0.0, f64::max)
}

/// Cumulative successes per strategy, and the ideal line when the ideal makespan is known.
pub(super) fn progress(out: &RunOutput, frame: &TimeFrame, ideal: Option<f64>) -> Chart {
    let requests = out.results.iter().map(|r| r.requests).max().unwrap_or(0);
    let lines: Vec<TimeLine> = out
        .results
        .iter()
        .enumerate()
        .map(|(i, r)| TimeLine {
            strategy: i,
            points: cumulative(
                &r.series.successes,
                r.series.step_s,
                frame.bin_s,
                r.makespan_s,
            ),
            mark_end: true,
        })
        .collect();
    let ideal_line = ideal.map(|t| vec![(0.0, 0.0), (t, requests as f64)]);
    let reference =
        ideal.map(|t| format!("ideal: the API's limits, no retries ({})", duration(t, " ")));
    let label = |r: &StrategyResult| {
        let when = if r.finished {
            format!("by {}", duration(r.makespan_s, " "))
        } else {
            format!("at the horizon, {}", duration(r.makespan_s, " "))
        };
        format!(
            "{} ({} of {} {when})",
            r.strategy,
            count(r.succeeded),
            count(r.requests)
        )
    };
    let y_max = requests.max(1) as f64;
    Chart {
        id: "progress",
        title: "Successes over time",
        caption: format!(
            "Requests succeeded so far, by strategy: the line that reaches the top first \
             finished first; its marker at the end is where its last request was final. {}",
            if ideal.is_some() {
                "The grey dashed line is the ideal: a client that sends exactly what the API's \
                 limits allow, without retries, on the same workload. A line close to it lost \
                 little time to the limits; a flat stretch is a client waiting (backoff, a \
                 breaker)."
            } else {
                "No ideal line: the API's limits do not give an ideal time for this workload \
                 (no limits, or an oracle client does not finish within the horizon either)."
            }
        ),
        body: drawn(&legend(out, &label, reference), &|area, canvas| {
            time_chart(
                area,
                canvas,
                frame,
                ScaledAxis::linear(y_max / 1.08),
                "requests succeeded",
                &|v| value_label(v),
                &lines,
                ideal_line.as_slice(),
            )
        }),
    }
}

/// Successes per second, binned, with the API's sustainable rate.
pub(super) fn goodput(out: &RunOutput, frame: &TimeFrame, capacity: Option<f64>) -> Chart {
    let lines = binned_lines(
        out,
        frame,
        &|r| r.series.successes.iter().map(|&v| v as f64).collect(),
        Binned::PerSecond,
    );
    let label = capacity.map(|c| format!("API's sustainable rate ({} req/s)", axis_number(c)));
    let reference: Vec<Vec<(f64, f64)>> = capacity.map(|c| across(frame, c)).into_iter().collect();
    let y_max = top(&lines, capacity);
    Chart {
        id: "goodput",
        title: "Goodput over time",
        caption: format!(
            "Successes per second, averaged over bins of {}{}. A strategy that keeps the API \
             busy without being refused runs flat along its limit and stops early; a line that \
             ends sooner finished sooner.",
            frame.bin_label(),
            if capacity.is_some() {
                "; the grey dashed line is the API's sustainable rate"
            } else {
                ""
            }
        ),
        body: drawn(
            &legend(out, &|r| r.strategy.clone(), label),
            &|area, canvas| {
                time_chart(
                    area,
                    canvas,
                    frame,
                    ScaledAxis::linear(y_max),
                    "goodput (successes/s)",
                    &|v| value_label(v),
                    &lines,
                    &reference,
                )
            },
        ),
    }
}

/// 429s per bin, on a symlog axis.
///
/// Symlog rather than small multiples: one chart keeps the run's one time axis and one scale,
/// so a strategy's 600 429s a second and another's single 429 compare at a glance, while the
/// linear part below 1 keeps 0 at the bottom (a log axis has no 0) and the log part above it
/// lifts a bin's single 429 a quarter of the way up next to a spike of hundreds. Small
/// multiples would need either one linear scale (flattening the small counts again) or one
/// scale per panel (making 1 and 600 look alike). Counts per bin, not rates: a bin with one
/// 429 is drawn at 1, never at a fraction.
pub(super) fn rejections(out: &RunOutput, frame: &TimeFrame) -> Chart {
    let lines = binned_lines(
        out,
        frame,
        &|r| r.series.http_429.iter().map(|&v| v as f64).collect(),
        Binned::Total,
    );
    let y_max = top(&lines, None);
    let label = |r: &StrategyResult| format!("{} ({} 429s)", r.strategy, count(r.http_429));
    Chart {
        id: "http429",
        title: "429s over time",
        caption: format!(
            "429 (Too Many Requests) replies received in each bin of {}. The vertical axis is \
             linear from 0 to 1 and logarithmic above, so a handful of 429s shows next to a \
             spike of hundreds. Every 429 is an attempt the API refused: wasted quota on APIs \
             that count rejections, and a step towards a ban on those that ban.",
            frame.bin_label()
        ),
        body: drawn(&legend(out, &label, None), &|area, canvas| {
            time_chart(
                area,
                canvas,
                frame,
                ScaledAxis::symlog(y_max),
                &format!("429s per {} bin", frame.bin_label()),
                &|v| count_label(v),
                &lines,
                &[],
            )
        }),
    }
}

/// The API's token limit in tokens per second: the tightest of its limits that count tokens.
fn token_limit(out: &RunOutput) -> Option<f64> {
    let latency_ms = out
        .scenario
        .api
        .latency
        .mean_ms(out.scenario.workload.mean_tokens());
    out.scenario
        .api
        .limits
        .iter()
        .filter(|l| l.unit() == Unit::Tokens)
        // A token limit's capacity for requests of one token is its rate in tokens.
        .filter_map(|l| l.capacity_rps(1.0, latency_ms))
        .filter(|t| t.is_finite() && *t > 0.0)
        .min_by(f64::total_cmp)
}

/// Tokens sent per second, binned, with the API's token limit: when the workload has token
/// sizes.
pub(super) fn tokens(out: &RunOutput, frame: &TimeFrame) -> Option<Chart> {
    if out.scenario.workload.tokens.is_none()
        || out.results.iter().all(|r| r.series.tokens.is_empty())
    {
        return None;
    }
    let lines = binned_lines(
        out,
        frame,
        &|r| r.series.tokens.iter().map(|&v| v as f64).collect(),
        Binned::PerSecond,
    );
    let limit = token_limit(out);
    let label = limit.map(|t| format!("API's token limit ({} tokens/s)", count(t.round() as u64)));
    let reference: Vec<Vec<(f64, f64)>> = limit.map(|t| across(frame, t)).into_iter().collect();
    // Logarithmic: a client hammering the API sends a hundred times the limit, which would
    // flatten the lines that run along it.
    let y_max = top(&lines, limit);
    let y_min = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .chain(limit)
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let y_min = if y_min.is_finite() { y_min } else { 1.0 };
    let y_lo = 10f64.powf((y_min * 0.8).log10().floor());
    Some(Chart {
        id: "tokens",
        title: "Tokens over time",
        caption: format!(
            "Tokens of the attempts sent (retries included) per second, averaged over bins of \
             {}, on a logarithmic axis{}",
            frame.bin_label(),
            if limit.is_some() {
                ". The grey dashed line is the API's token limit: a line above it is sending \
                 tokens the API will refuse (429s), a line along it uses the whole budget."
            } else {
                "; the API has no token limit."
            }
        ),
        body: drawn(
            &legend(out, &|r| r.strategy.clone(), label),
            &|area, canvas| {
                time_chart(
                    area,
                    canvas,
                    frame,
                    LogAxis::new(y_lo, y_max * 1.5),
                    "tokens sent per second (log scale)",
                    &|v| count_label(v),
                    &lines,
                    &reference,
                )
            },
        ),
    })
}

/// The body of a time chart of `lines` on a linear axis from 0, labelled by strategy, with
/// one labelled reference line when given (its top counts in the axis).
fn linear_chart(
    out: &RunOutput,
    frame: &TimeFrame,
    lines: &[TimeLine],
    y_desc: &str,
    reference: Option<(String, Vec<(f64, f64)>)>,
) -> ChartBody {
    let (label, line) = reference.unzip();
    let y_max = top(lines, line.iter().flatten().map(|p| p.1).reduce(f64::max));
    let references: Vec<Vec<(f64, f64)>> = line.into_iter().collect();
    drawn(
        &legend(out, &|r| r.strategy.clone(), label),
        &|area, canvas| {
            time_chart(
                area,
                canvas,
                frame,
                ScaledAxis::linear(y_max),
                y_desc,
                &|v| value_label(v),
                lines,
                &references,
            )
        },
    )
}

/// Attempts in flight, binned (time-weighted means).
pub(super) fn in_flight(out: &RunOutput, frame: &TimeFrame) -> Chart {
    let lines = binned_lines(out, frame, &|r| r.series.in_flight.clone(), Binned::Mean);
    let body = linear_chart(out, frame, &lines, "attempts in flight", None);
    Chart {
        id: "inflight",
        title: "Requests in flight over time",
        caption: format!(
            "Attempts sent and not yet answered, time-weighted mean over bins of {}. This is the \
             concurrency the API sees from the client; a concurrency limit caps it, a rate limit \
             does not.",
            frame.bin_label()
        ),
        body,
    }
}

/// The longest queue for the API's servers per bin, when the API has `servers`.
pub(super) fn queue(out: &RunOutput, frame: &TimeFrame) -> Option<Chart> {
    if out.results.iter().all(|r| r.series.queue.is_empty()) {
        return None;
    }
    let lines = binned_lines(
        out,
        frame,
        &|r| r.series.queue.iter().map(|&v| v as f64).collect(),
        Binned::Max,
    );
    let limit = out.scenario.api.queue_limit.map(|q| {
        (
            "queue_limit".to_string(),
            vec![(0.0, q as f64), (frame.span_s, q as f64)],
        )
    });
    let body = linear_chart(out, frame, &lines, "requests waiting for a server", limit);
    Some(Chart {
        id: "queue",
        title: "The API's queue over time",
        caption: format!(
            "The most requests waiting for one of the API's {} servers in each bin of {}. A \
             request waits in FIFO order and is served even when its client has stopped waiting; \
             a queue that stays long after its trigger is over is an overload that sustains \
             itself.",
            out.scenario.api.servers.unwrap_or(0),
            frame.bin_label()
        ),
        body,
    })
}

/// Other tenants' requests the API refused (429) per bin, when the API has `background`
/// traffic; the reference line is all of theirs that reached it.
pub(super) fn background(out: &RunOutput, frame: &TimeFrame) -> Option<Chart> {
    let first = out
        .results
        .iter()
        .find(|r| !r.series.background.is_empty())?;
    let lines = binned_lines(
        out,
        frame,
        &|r| r.series.background_429.iter().map(|&v| v as f64).collect(),
        Binned::Total,
    );
    let sent: Vec<(f64, f64)> = binned(
        &first
            .series
            .background
            .iter()
            .map(|&v| v as f64)
            .collect::<Vec<_>>(),
        first.series.step_s.max(1),
        frame.bin_s,
        Binned::Total,
    );
    let y_max = top(&lines, sent.iter().map(|p| p.1).reduce(f64::max));
    let label = |r: &StrategyResult| {
        let refused: u64 = r.series.background_429.iter().sum();
        format!("{} ({} of theirs refused)", r.strategy, count(refused))
    };
    let reference = [sent];
    let body = drawn(
        &legend(out, &label, Some("their requests".to_string())),
        &|area, canvas| {
            time_chart(
                area,
                canvas,
                frame,
                ScaledAxis::linear(y_max),
                &format!("other tenants' 429s per {} bin", frame.bin_label()),
                &|v| count_label(v),
                &lines,
                &reference,
            )
        },
    );
    Some(Chart {
        id: "background",
        title: "Other tenants over time",
        caption: format!(
            "The other tenants sharing the API's limits send about {}/s (the dashed line: their \
             requests per bin of {}); each line is how many of theirs the API refused while the \
             strategy ran. A strategy that takes the whole quota pushes its neighbours into 429s.",
            out.scenario
                .api
                .background
                .as_ref()
                .map_or(0.0, |b| b.rate_per_s),
            frame.bin_label()
        ),
        body,
    })
}
