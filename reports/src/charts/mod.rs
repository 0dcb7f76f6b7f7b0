//! The report's charts: inline SVG drawn with plotters (SVG backend, no fonts needed: the text
//! is emitted as `<text>` elements and laid out by the browser). This module is the catalogue
//! (which charts a result supports, with their captions); [`draw`] draws each kind, [`axes`]
//! and [`style`] hold what they share, [`downsample`] bounds the points of long series.
//!
//! Every chart gives each strategy the same colour ([`style::colour`]) and carries its own legend in a
//! strip on its right, so no legend ever covers data. Long series are downsampled for drawing
//! only; the statistics in the table come from the result untouched.

mod axes;
mod downsample;
mod draw;
mod style;

use plotters::coord::Shift;
use plotters::prelude::*;
use ratelab_sim::RunOutput;
use ratelab_sim::result::Series;

use axes::{TimeUnit, nines};
use downsample::downsample;
use draw::{DrawResult, attempts_chart, fairness_chart, latency_chart, svg_sized, time_chart};
pub(crate) use style::css_colour;
use style::legend_height;

/// Clients drawn as grouped bars; beyond this, a sorted line per strategy.
const MAX_CLIENT_BARS: usize = 16;

/// One chart of the report.
pub(crate) struct Chart {
    /// Anchor id in the page.
    pub id: &'static str,
    /// Heading.
    pub title: &'static str,
    /// How to read it (plain text, escaped by the page).
    pub caption: String,
    /// What is shown.
    pub body: ChartBody,
}

/// What a chart shows: the drawing, or why there is none.
pub(crate) enum ChartBody {
    /// An inline SVG element.
    Svg(String),
    /// Plain text saying why nothing is drawn (escaped where the page is written).
    Explanation(String),
}

/// Every chart the result supports, in page order.
pub(crate) fn all(out: &RunOutput) -> Vec<Chart> {
    let names: Vec<&str> = out.results.iter().map(|r| r.strategy.as_str()).collect();
    let span = out
        .results
        .iter()
        .map(|r| {
            r.series.sends.len().max(r.series.in_flight.len()) * r.series.step_s.max(1) as usize
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let unit = TimeUnit::for_span(span as f64);
    // `counts`: values are counts per bucket, drawn as rates per second; otherwise (in flight)
    // they are means already.
    let per_second = |pick: fn(&Series) -> Vec<f64>, counts: bool| -> Vec<Vec<(f64, f64)>> {
        out.results
            .iter()
            .map(|r| {
                let step = r.series.step_s.max(1) as f64;
                let mut values = pick(&r.series);
                if counts {
                    values.iter_mut().for_each(|v| *v /= step);
                }
                downsample(&values, unit, step)
            })
            .collect()
    };
    let capacity = out.api_capacity_rps.filter(|c| c.is_finite() && *c > 0.0);
    let height = legend_height(names.len() + 1);
    let svg =
        |draw: &dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult| svg_sized(height, draw);
    // A chart of one per-second series per strategy (`counts`: drawn as a rate per second).
    let over_time = |id: &'static str,
                     title: &'static str,
                     caption: String,
                     pick: fn(&Series) -> Vec<f64>,
                     counts: bool,
                     y_label: &str,
                     reference: Option<f64>| Chart {
        id,
        title,
        caption,
        body: svg(&|area| {
            time_chart(
                area,
                &names,
                &per_second(pick, counts),
                unit,
                y_label,
                reference,
            )
        }),
    };
    let mut charts = vec![
        over_time(
            "goodput",
            "Goodput over time",
            format!(
                "Successes received in each second of the run{}. A strategy that keeps the API \
                 busy without being refused runs flat along its limit and stops early; a line \
                 that ends sooner finished sooner.",
                if capacity.is_some() {
                    "; the dashed line is the API's sustainable rate"
                } else {
                    ""
                }
            ),
            |s| s.successes.iter().map(|&v| v as f64).collect(),
            true,
            "goodput (successes/s)",
            capacity,
        ),
        over_time(
            "http429",
            "429s over time",
            "429 (Too Many Requests) replies received in each second. Every 429 is an attempt the \
             API refused: wasted quota on APIs that count rejections, and a step towards a ban on \
             those that ban."
                .to_string(),
            |s| s.http_429.iter().map(|&v| v as f64).collect(),
            true,
            "429s per second",
            None,
        ),
        over_time(
            "inflight",
            "Requests in flight over time",
            "Attempts sent and not yet answered, averaged over each second (time-weighted). This \
             is the concurrency the API sees from the client; a concurrency limit caps it, a rate \
             limit does not."
                .to_string(),
            |s| s.in_flight.clone(),
            false,
            "attempts in flight",
            None,
        ),
    ];
    let curves: Vec<Vec<(f64, f64)>> = out
        .results
        .iter()
        .map(|r| {
            r.latency_curve
                .iter()
                .filter(|p| p.s > 0.0 && p.s.is_finite())
                .map(|p| (nines(p.q), p.s))
                .collect()
        })
        .collect();
    charts.push(Chart {
        id: "latency",
        title: "End-to-end latency distribution",
        caption: "Latency of successful requests from the moment they were ready to their success \
                  (queueing, backoff and retries included), by percentile. The horizontal axis \
                  stretches the tail (90th, 99th, 99.9th percentile…); the vertical axis is \
                  logarithmic. Lower is better; a strategy with no success has no curve."
            .to_string(),
        body: if curves.iter().all(Vec::is_empty) {
            ChartBody::Explanation(
                "No request succeeded, so there is no latency to show.".to_string(),
            )
        } else {
            svg(&|area| latency_chart(area, &names, &curves))
        },
    });
    let histograms: Vec<(Vec<u64>, Vec<u64>)> = out
        .results
        .iter()
        .map(|r| {
            let h = &r.attempts_histogram;
            let len = h.succeeded.len().max(h.dead_lettered.len());
            let succeeded: Vec<u64> = (0..len)
                .map(|i| h.succeeded.get(i).copied().unwrap_or(0))
                .collect();
            let total = (0..len)
                .map(|i| succeeded[i] + h.dead_lettered.get(i).copied().unwrap_or(0))
                .collect();
            (succeeded, total)
        })
        .collect();
    charts.push(Chart {
        id: "attempts",
        title: "Attempts per request",
        caption: "How many attempts the final requests needed (1 = the first try succeeded or \
                  was given up). The solid part of a bar counts requests that succeeded after \
                  that many attempts, the pale part above it those dead-lettered after as many. \
                  The vertical axis is logarithmic."
            .to_string(),
        body: if histograms.iter().all(|(_, t)| t.iter().all(|&v| v == 0)) {
            ChartBody::Explanation("No request reached a final state.".to_string())
        } else {
            svg(&|area| attempts_chart(area, &names, &histograms))
        },
    });
    if out.results.iter().any(|r| !r.clients.is_empty()) {
        let per_client: Vec<Vec<f64>> = out
            .results
            .iter()
            .map(|r| r.clients.iter().map(|c| c.goodput_rps).collect())
            .collect();
        let clients = per_client.iter().map(Vec::len).max().unwrap_or(0);
        let fair = capacity.map(|c| c / clients.max(1) as f64);
        charts.push(Chart {
            id: "fairness",
            title: "Goodput per client (fairness)",
            caption: if clients <= MAX_CLIENT_BARS {
                format!(
                    "Each client's successes per second of its own makespan (until its last \
                     request was final), one group of bars per client. Bars of equal height mean \
                     the strategy shares the API fairly{}.",
                    if fair.is_some() {
                        "; the dashed line is an equal share of the API's sustainable rate"
                    } else {
                        ""
                    }
                )
            } else {
                "Each client's successes per second of its own makespan, clients sorted from \
                 the best served to the worst. A flat line means the strategy shares the API \
                 fairly; a steep one means some clients starve."
                    .to_string()
            },
            body: svg(&|area| fairness_chart(area, &names, &per_client, fair)),
        });
    }
    charts
}
