//! The report's charts: inline SVG drawn with plotters (SVG backend, no fonts needed: the text
//! is emitted as `<text>` elements and laid out by the browser), each drawn wide and narrow
//! (the page shows the one that fits) with an HTML legend under it. This module is the
//! catalogue of the charts a result supports; [`over_time`] holds the time charts' entries and
//! [`time`] draws them on the run's one time frame, [`draw`] draws the latency chart and
//! [`bars`] the bar charts; [`landscape`] and [`heat`] draw a sweep's line charts and heat maps;
//! [`axes`], [`bins`], [`markers`], [`legend`] and [`style`] hold what they share.
//!
//! Every chart gives each strategy the same colour, dash pattern and marker ([`style`],
//! [`markers`]); its legend says which is which. Per-second series are binned to the run's
//! length for drawing only; the statistics in the table come from the result untouched.

mod axes;
mod bars;
mod bins;
mod draw;
pub(crate) mod heat;
pub(crate) mod landscape;
mod legend;
mod markers;
mod over_time;
mod style;
mod time;

use ratelab_sim::RunOutput;
use ratelab_sim::result::StrategyResult;

use bars::{attempts_chart, fairness_chart};
use draw::{drawn, latency_chart};
use legend::{Entry, Key, legend_html};
pub(crate) use style::css_colour;
use time::TimeFrame;

use crate::format::duration;
use crate::story;

/// Clients drawn as grouped bars; beyond this, a sorted line per strategy.
const MAX_CLIENT_BARS: usize = 16;

/// The charts' CSS: the legend under each drawing, and the narrow drawing shown instead of the
/// wide one on small screens.
pub(crate) const STYLE: &str = r#"
svg.chart.narrow { display: none; }
@media (max-width: 640px) {
  svg.chart.wide { display: none; }
  svg.chart.narrow { display: block; }
}
@media print { svg.chart.wide { display: block; } svg.chart.narrow { display: none; } }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0;
  margin: 6px 0 0; font-size: 13px; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
svg.key { flex: none; }
"#;

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
    /// The inline SVG elements (wide and narrow) and the legend, as markup.
    Svg(String),
    /// Plain text saying why nothing is drawn (escaped where the page is written).
    Explanation(String),
}

/// Every chart the result supports, in page order: the time charts (on one time frame), then
/// latency, attempts and fairness.
pub(crate) fn all(out: &RunOutput) -> Vec<Chart> {
    let step = out
        .results
        .iter()
        .map(|r| r.series.step_s.max(1))
        .max()
        .unwrap_or(1);
    let ideal = out
        .results
        .iter()
        .find_map(|r| r.ideal_makespan_s)
        .filter(|t| t.is_finite() && *t > 0.0);
    let span = out
        .results
        .iter()
        .map(|r| {
            let series = r.series.sends.len().max(r.series.in_flight.len()) as u64 * step;
            (series as f64).max(r.makespan_s)
        })
        .chain(ideal)
        .fold(0.0, f64::max);
    let frame = TimeFrame::new(span, step).with_api(&out.scenario.api);
    let capacity = out.api_capacity_rps.filter(|c| c.is_finite() && *c > 0.0);
    let mut charts = vec![
        over_time::progress(out, &frame, ideal),
        over_time::goodput(out, &frame, capacity),
        over_time::rejections(out, &frame),
    ];
    charts.extend(over_time::tokens(out, &frame));
    charts.push(over_time::in_flight(out, &frame));
    charts.extend(over_time::queue(out, &frame));
    charts.extend(over_time::background(out, &frame));
    charts.push(latency(out));
    charts.push(attempts(out));
    if out.results.iter().any(|r| !r.clients.is_empty()) {
        charts.push(fairness(out, capacity));
    }
    charts
}

/// Strategy entries of a legend, labelled by `label`, then `reference` when given.
fn entries(
    out: &RunOutput,
    key: fn(usize) -> Key,
    label: &dyn Fn(&StrategyResult) -> String,
    reference: Option<String>,
) -> String {
    let mut entries: Vec<Entry> = out
        .results
        .iter()
        .enumerate()
        .map(|(i, r)| Entry {
            key: key(i),
            label: label(r),
        })
        .collect();
    entries.extend(reference.map(|label| Entry {
        key: Key::Reference,
        label,
    }));
    legend_html(&entries)
}

fn latency(out: &RunOutput) -> Chart {
    // (latency, quantile) points of each strategy's curve.
    let curves: Vec<Vec<(f64, f64)>> = out
        .results
        .iter()
        .map(|r| {
            r.latency_curve
                .iter()
                .filter(|p| p.s > 0.0 && p.s.is_finite())
                .map(|p| (p.s, p.q))
                .collect()
        })
        .collect();
    let medians: Vec<Option<f64>> = out
        .results
        .iter()
        .map(|r| (r.latency_s.count > 0 && r.latency_s.p50 > 0.0).then_some(r.latency_s.p50))
        .collect();
    let label = |r: &StrategyResult| {
        let l = &r.latency_s;
        match l.count {
            0 => format!("{} (no successes)", r.strategy),
            1 => format!("{} (n = 1 success, {})", r.strategy, duration(l.p50, " ")),
            n => format!(
                "{} (n = {} successes, median {})",
                r.strategy,
                story::count(n),
                duration(l.p50, " ")
            ),
        }
    };
    Chart {
        id: "latency",
        title: "End-to-end latency of successes",
        caption: "Share of each strategy's successful requests (vertical) that succeeded within a                   latency (horizontal, logarithmic), from the moment they were ready to their                   success: queueing, backoff and retries included. The marker on each curve is                   its median. A curve further left is faster; one that reaches 100 % late has a                   long tail. Only successes count: a strategy that gives up on its slow requests                   can look fast here, so read it with the table's losses."
            .to_string(),
        body: if curves.iter().all(Vec::is_empty) {
            ChartBody::Explanation(
                "No request succeeded, so there is no latency to show.".to_string(),
            )
        } else {
            let legend = entries(out, Key::Strategy, &label, None);
            drawn(&legend, &|area, canvas| {
                latency_chart(area, canvas, &curves, &medians)
            })
        },
    }
}

fn attempts(out: &RunOutput) -> Chart {
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
    Chart {
        id: "attempts",
        title: "Attempts per request",
        caption: "How many attempts the final requests needed (1 = the first try succeeded or                   was given up), one bar per strategy in legend order, its marker on top. The                   solid part of a bar counts requests that succeeded after that many attempts,                   the pale part above it those dead-lettered after as many. The vertical axis is                   logarithmic."
            .to_string(),
        body: if histograms.iter().all(|(_, t)| t.iter().all(|&v| v == 0)) {
            ChartBody::Explanation("No request reached a final state.".to_string())
        } else {
            let legend = entries(out, Key::Bar, &|r| r.strategy.clone(), None);
            drawn(&legend, &|area, canvas| {
                attempts_chart(area, canvas, &histograms)
            })
        },
    }
}

fn fairness(out: &RunOutput, capacity: Option<f64>) -> Chart {
    let per_client: Vec<Vec<f64>> = out
        .results
        .iter()
        .map(|r| r.clients.iter().map(|c| c.goodput_rps).collect())
        .collect();
    let clients = per_client.iter().map(Vec::len).max().unwrap_or(0);
    let fair = capacity.map(|c| c / clients.max(1) as f64);
    let bars = clients <= MAX_CLIENT_BARS;
    let reference = fair.map(|f| format!("equal share ({} req/s)", style::axis_number(f)));
    let key = if bars { Key::Bar } else { Key::Strategy };
    let legend = entries(out, key, &|r| r.strategy.clone(), reference);
    Chart {
        id: "fairness",
        title: "Goodput per client (fairness)",
        caption: if bars {
            format!(
                "Each client's successes per second of its own makespan (until its last request                  was final), one group of bars per client, in legend order. Bars of equal                  height mean the strategy shares the API fairly{}.",
                if fair.is_some() {
                    "; the grey dashed line is an equal share of the API's sustainable rate"
                } else {
                    ""
                }
            )
        } else {
            "Each client's successes per second of its own makespan, clients sorted from the              best served to the worst. A flat line means the strategy shares the API fairly; a              steep one means some clients starve."
                .to_string()
        },
        body: drawn(&legend, &|area, canvas| {
            fairness_chart(area, canvas, &per_client, fair)
        }),
    }
}
