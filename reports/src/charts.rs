//! The report's charts: inline SVG drawn with plotters (SVG backend, no fonts needed: the text
//! is emitted as `<text>` elements and laid out by the browser).
//!
//! Every chart gives each strategy the same colour ([`colour`]) and carries its own legend in a
//! strip on its right, so no legend ever covers data. Long series are downsampled for drawing
//! only ([`downsample`]); the statistics in the table come from the result untouched.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use ratelab_sim::RunOutput;
use ratelab_sim::result::Series;

/// Width of every chart, px (the SVG scales to the page).
const WIDTH: u32 = 960;
/// Height of a chart's plot, px.
const HEIGHT: u32 = 320;
/// Points drawn at most per line: series longer than this are bucketed.
pub(crate) const MAX_POINTS: usize = 1200;
/// Legend rows' spacing, px.
const LEGEND_ROW: i32 = 20;
/// Grid and axis colours.
const GRID: RGBColor = RGBColor(228, 228, 228);
const AXIS: RGBColor = RGBColor(90, 90, 90);
const REFERENCE: RGBColor = RGBColor(110, 110, 110);
const FONT: &str = "sans-serif";

/// Tableau 10: distinct, colour-blind-aware, prints well.
const PALETTE: [(u8, u8, u8); 10] = [
    (0x4e, 0x79, 0xa7),
    (0xf2, 0x8e, 0x2b),
    (0xe1, 0x57, 0x59),
    (0x76, 0xb7, 0xb2),
    (0x59, 0xa1, 0x4f),
    (0xed, 0xc9, 0x48),
    (0xb0, 0x7a, 0xa1),
    (0xff, 0x9d, 0xa7),
    (0x9c, 0x75, 0x5f),
    (0xba, 0xb0, 0xac),
];

/// The colour of strategy `i`, the same in every chart and in the table.
pub(crate) fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// [`colour`] as CSS `#rrggbb`.
pub(crate) fn css_colour(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// One chart of the report.
pub(crate) struct Chart {
    /// Anchor id in the page.
    pub id: &'static str,
    /// Heading.
    pub title: &'static str,
    /// How to read it (plain text, escaped by the page).
    pub caption: String,
    /// The SVG element, or an explanation in HTML when there is nothing to draw.
    pub body: String,
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

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
            empty("No request succeeded, so there is no latency to show.")
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
            empty("No request reached a final state.")
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

/// A linear axis whose labels and grid lines sit exactly at the given values (plotters' own
/// `with_key_points` gives up the label formatter).
struct KeyedAxis {
    range: Range<f64>,
    keys: Vec<f64>,
}

impl KeyedAxis {
    fn new(range: Range<f64>, keys: Vec<f64>) -> KeyedAxis {
        KeyedAxis { range, keys }
    }
}

impl Ranged for KeyedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.range.start) / span;
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A logarithmic axis labelled at 1, 2 and 5 times the powers of ten it spans (only the powers
/// when that would crowd it).
struct LogAxis {
    lo: f64,
    hi: f64,
    keys: Vec<f64>,
}

impl LogAxis {
    fn new(lo: f64, hi: f64) -> LogAxis {
        let (lo, hi) = (lo.max(f64::MIN_POSITIVE), hi.max(lo * 10.0));
        let mut keys = Vec::new();
        let mut decade = 10f64.powf(lo.log10().floor());
        while decade <= hi {
            for m in [1.0, 2.0, 5.0] {
                let k = decade * m;
                if k >= lo * 0.999_999 && k <= hi {
                    keys.push(k);
                }
            }
            decade *= 10.0;
        }
        if keys.len() > 10 {
            keys.retain(|k| (k.log10() - k.log10().round()).abs() < 1e-9);
        }
        LogAxis { lo, hi, keys }
    }
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let v = v.max(self.lo);
        let t = (v / self.lo).ln() / (self.hi / self.lo).ln();
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// Clients drawn as grouped bars; beyond this, a sorted line per strategy.
const MAX_CLIENT_BARS: usize = 16;

/// The unit of a time axis.
#[derive(Clone, Copy)]
struct TimeUnit {
    seconds: f64,
    name: &'static str,
}

impl TimeUnit {
    fn for_span(span_s: f64) -> TimeUnit {
        if span_s <= 600.0 {
            TimeUnit {
                seconds: 1.0,
                name: "s",
            }
        } else if span_s <= 36_000.0 {
            TimeUnit {
                seconds: 60.0,
                name: "min",
            }
        } else {
            TimeUnit {
                seconds: 3600.0,
                name: "h",
            }
        }
    }
}

/// The points to draw for a per-second series: every second when the series is short, else
/// buckets of whole seconds, each drawn by its smallest and its largest value in time order (so
/// peaks and troughs survive at any length), at most [`MAX_POINTS`] points. x is the start of
/// the second, in `unit`.
fn downsample(values: &[f64], unit: TimeUnit, step_s: f64) -> Vec<(f64, f64)> {
    let at = |i: usize| (i as f64 * step_s / unit.seconds, values[i]);
    if values.len() <= MAX_POINTS {
        return (0..values.len()).map(at).collect();
    }
    let bucket = values.len().div_ceil(MAX_POINTS / 2);
    let mut points = Vec::with_capacity(MAX_POINTS);
    for start in (0..values.len()).step_by(bucket) {
        let end = (start + bucket).min(values.len());
        let (mut lo, mut hi) = (start, start);
        for i in start..end {
            if values[i] < values[lo] {
                lo = i;
            }
            if values[i] > values[hi] {
                hi = i;
            }
        }
        let (a, b) = (lo.min(hi), lo.max(hi));
        points.push(at(a));
        if b != a {
            points.push(at(b));
        }
    }
    points
}

/// Draws into a fresh SVG string; an error (none is expected from an in-memory backend) becomes
/// a note in the page rather than a panic.
fn svg_sized(
    height: u32,
    draw: &dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> String {
    let mut text = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut text, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Into::into))
    };
    match result {
        Ok(()) => {
            // Let the chart scale with the page: drop the fixed size, keep the viewBox.
            let fixed = format!("<svg width=\"{WIDTH}\" height=\"{height}\" ");
            text.replacen(&fixed, "<svg class=\"chart\" role=\"img\" ", 1)
        }
        Err(e) => empty(&format!("This chart could not be drawn: {e}")),
    }
}

fn empty(why: &str) -> String {
    format!("<p class=\"empty\">{}</p>", crate::html::escape(why))
}

/// Splits off the legend strip on the right and draws the legend into it; returns the plot area.
fn with_legend<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    names: &[&str],
    extra: Option<&str>,
) -> Result<DrawingArea<SVGBackend<'a>, Shift>, Box<dyn std::error::Error>> {
    let longest = names
        .iter()
        .copied()
        .chain(extra)
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0);
    let strip = (longest as u32 * 15 / 2 + 44).clamp(150, 360);
    let (plot, legend) = root.split_horizontally(WIDTH - strip);
    let style = TextStyle::from((FONT, 16).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = 24;
    for (i, name) in names.iter().enumerate() {
        legend.draw(&Rectangle::new(
            [(6, y - 5), (26, y + 5)],
            colour(i).filled(),
        ))?;
        legend.draw(&Text::new(name.to_string(), (32, y), style.clone()))?;
        y += LEGEND_ROW;
    }
    if let Some(extra) = extra {
        for x in [6, 18] {
            legend.draw(&PathElement::new(
                vec![(x, y), (x + 8, y)],
                REFERENCE.stroke_width(2),
            ))?;
        }
        legend.draw(&Text::new(extra.to_string(), (32, y), style))?;
    }
    Ok(plot)
}

/// Height needed for `rows` legend rows.
fn legend_height(rows: usize) -> u32 {
    (rows as u32 * LEGEND_ROW as u32 + 40).max(HEIGHT)
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        1.0
    } else {
        v * 1.08
    }
}

/// A number for an axis label: integers plain, others with up to two decimals.
fn axis_number(v: f64) -> String {
    crate::format::trimmed(v, 2)
}

/// Seconds as a short latency label: 120 ms, 1.5 s, 2000 s.
fn seconds_label(s: f64) -> String {
    if s < 1.0 {
        format!("{} ms", axis_number(s * 1000.0))
    } else {
        format!("{} s", axis_number(s))
    }
}

/// A count for a log axis: 500, 20k, 1M.
fn count_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", axis_number(v / 1e6))
    } else if v >= 1e4 {
        format!("{}k", axis_number(v / 1e3))
    } else {
        axis_number(v)
    }
}

fn time_chart(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    names: &[&str],
    lines: &[Vec<(f64, f64)>],
    unit: TimeUnit,
    y_desc: &str,
    reference: Option<f64>,
) -> DrawResult {
    let reference_label = reference.map(|c| format!("API limit ({} req/s)", axis_number(c)));
    let plot = with_legend(root, names, reference_label.as_deref())?;
    let x_max = lines
        .iter()
        .flat_map(|l| l.iter().map(|p| p.0))
        .fold(0.0, f64::max)
        + 1.0 / unit.seconds;
    let y_max = nice_max(
        lines
            .iter()
            .flat_map(|l| l.iter().map(|p| p.1))
            .chain(reference)
            .fold(0.0, f64::max),
    );
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    let x_desc = format!("time ({})", unit.name);
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(10)
        .y_labels(6)
        .x_label_formatter(&|v| axis_number(*v))
        .y_label_formatter(&|v| axis_number(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    if let Some(c) = reference {
        chart.draw_series(DashedLineSeries::new(
            [(0.0, c), (x_max, c)],
            8,
            5,
            REFERENCE.stroke_width(2),
        ))?;
    }
    for (i, line) in lines.iter().enumerate() {
        chart.draw_series(LineSeries::new(
            line.iter().copied(),
            colour(i).stroke_width(2),
        ))?;
    }
    Ok(())
}

/// Position of quantile `q` on the latency chart's axis: "nines", so that p90, p99, p99.9 and
/// p99.99 are evenly spaced; the maximum sits at the right end.
fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        NINES_MAX
    } else {
        (-(1.0 - q).log10()).clamp(0.0, 4.0)
    }
}
const NINES_MAX: f64 = 4.5;

fn nines_label(x: f64) -> String {
    match (x * 2.0).round() as i64 {
        0 => "min".into(),
        2 => "p90".into(),
        4 => "p99".into(),
        6 => "p99.9".into(),
        8 => "p99.99".into(),
        9 => "max".into(),
        _ => String::new(),
    }
}

fn latency_chart(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    names: &[&str],
    curves: &[Vec<(f64, f64)>],
) -> DrawResult {
    let plot = with_legend(root, names, None)?;
    let values = curves.iter().flat_map(|c| c.iter().map(|p| p.1));
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(0.0, f64::max);
    let (lo, hi) = (lo * 0.8, hi * 1.3);
    let x = KeyedAxis::new(0.0..NINES_MAX, vec![0.0, 1.0, 2.0, 3.0, 4.0, NINES_MAX]);
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x, LogAxis::new(lo, hi))?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_desc("percentile of successful requests")
        .y_desc("end-to-end latency (log scale)")
        .y_labels(8)
        .x_label_formatter(&|v| nines_label(*v))
        .y_label_formatter(&|v| seconds_label(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    for (i, curve) in curves.iter().enumerate() {
        if curve.is_empty() {
            continue;
        }
        chart.draw_series(LineSeries::new(
            curve.iter().copied(),
            colour(i).stroke_width(2),
        ))?;
        chart.draw_series(curve.iter().map(|&p| Circle::new(p, 2, colour(i).filled())))?;
    }
    Ok(())
}

/// Width of one bar in axis units (a group is 1 wide): groups fill 80 % of their slot, but a bar
/// is never wider than about a tenth of the plot.
fn bar_width(bars_per_group: f64, groups: usize) -> f64 {
    (0.8 / bars_per_group).min(0.1 * groups as f64)
}

/// Groups of attempts counts shown at most; beyond, neighbouring counts share a bar.
const MAX_GROUPS: usize = 50;

fn attempts_chart(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    names: &[&str],
    histograms: &[(Vec<u64>, Vec<u64>)],
) -> DrawResult {
    let plot = with_legend(root, names, None)?;
    let len = histograms.iter().map(|(_, t)| t.len()).max().unwrap_or(1);
    let width = len.div_ceil(MAX_GROUPS).max(1);
    let groups = len.div_ceil(width);
    let binned = |v: &[u64], g: usize| -> u64 { v.iter().skip(g * width).take(width).sum() };
    let top = histograms
        .iter()
        .flat_map(|(_, t)| (0..groups).map(move |g| binned(t, g)))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    // Labels at 1 and at round multiples: 1, 5, 10, 15… or 1, 10, 20…
    let wanted = groups.div_ceil(12).max(1);
    let step = [1, 2, 5, 10, 20, 25, 50, 100]
        .into_iter()
        .find(|&s| s >= wanted)
        .unwrap_or(wanted);
    let keys: Vec<f64> = std::iter::once(1)
        .chain((step..=groups).step_by(step).filter(|&k| k > 1))
        .map(|g| g as f64)
        .collect();
    let x = KeyedAxis::new(0.5..groups as f64 + 0.5, keys);
    let label = move |v: &f64| {
        let g = v.round() as usize - 1;
        let first = g * width + 1;
        if width == 1 {
            first.to_string()
        } else {
            format!("{}–{}", first, first + width - 1)
        }
    };
    let base = 0.5;
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x, LogAxis::new(base, top * 2.0))?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .disable_x_mesh()
        .x_desc("attempts the request needed")
        .y_desc("requests (log scale)")
        .x_label_formatter(&label)
        .y_label_formatter(&|v| count_label(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .draw()?;
    let n = histograms.len().max(1) as f64;
    let bar = bar_width(n, groups);
    for (i, (succeeded, total)) in histograms.iter().enumerate() {
        let c = colour(i);
        let mut rects = Vec::new();
        for g in 0..groups {
            let x0 = g as f64 + 1.0 - bar * n / 2.0 + i as f64 * bar;
            let x1 = x0 + bar * 0.9;
            let (s, t) = (binned(succeeded, g), binned(total, g));
            if t > s {
                rects.push(Rectangle::new(
                    [(x0, base), (x1, t as f64)],
                    c.mix(0.35).filled(),
                ));
            }
            if s > 0 {
                rects.push(Rectangle::new([(x0, base), (x1, s as f64)], c.filled()));
            }
        }
        chart.draw_series(rects)?;
    }
    Ok(())
}

fn fairness_chart(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    names: &[&str],
    per_client: &[Vec<f64>],
    fair: Option<f64>,
) -> DrawResult {
    let fair_label = fair.map(|f| format!("equal share ({} req/s)", axis_number(f)));
    let plot = with_legend(root, names, fair_label.as_deref())?;
    let clients = per_client.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let y_max = nice_max(
        per_client
            .iter()
            .flatten()
            .copied()
            .chain(fair)
            .fold(0.0, f64::max),
    );
    if clients <= MAX_CLIENT_BARS {
        let keys: Vec<f64> = (0..clients).map(|c| c as f64).collect();
        let x = KeyedAxis::new(-0.5..clients as f64 - 0.5, keys);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x, 0.0..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .disable_x_mesh()
            .x_desc("client")
            .y_desc("goodput (successes/s)")
            .x_label_formatter(&|v| format!("client {}", v.round() as i64))
            .y_label_formatter(&|v| axis_number(*v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .draw()?;
        let n = per_client.len().max(1) as f64;
        let bar = bar_width(n, clients);
        for (i, values) in per_client.iter().enumerate() {
            chart.draw_series(values.iter().enumerate().map(|(c, &v)| {
                let x0 = c as f64 - bar * n / 2.0 + i as f64 * bar;
                Rectangle::new([(x0, 0.0), (x0 + bar * 0.9, v)], colour(i).filled())
            }))?;
        }
        if let Some(f) = fair {
            chart.draw_series(DashedLineSeries::new(
                [(-0.5, f), (clients as f64 - 0.5, f)],
                8,
                5,
                REFERENCE.stroke_width(2),
            ))?;
        }
    } else {
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..(clients - 1).max(1) as f64, 0.0..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .x_desc("clients, best served first")
            .y_desc("goodput (successes/s)")
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| axis_number(*v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .draw()?;
        for (i, values) in per_client.iter().enumerate() {
            let mut sorted = values.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            chart.draw_series(LineSeries::new(
                sorted.into_iter().enumerate().map(|(c, v)| (c as f64, v)),
                colour(i).stroke_width(2),
            ))?;
        }
        if let Some(f) = fair {
            chart.draw_series(DashedLineSeries::new(
                [(0.0, f), ((clients - 1).max(1) as f64, f)],
                8,
                5,
                REFERENCE.stroke_width(2),
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECONDS: TimeUnit = TimeUnit {
        seconds: 1.0,
        name: "s",
    };

    #[test]
    fn short_series_are_drawn_whole() {
        let v = [1.0, 5.0, 2.0];
        assert_eq!(
            downsample(&v, SECONDS, 1.0),
            vec![(0.0, 1.0), (1.0, 5.0), (2.0, 2.0)]
        );
    }

    #[test]
    fn long_series_keep_their_peaks_and_troughs() {
        let mut v: Vec<f64> = (0..100_000).map(|i| (i % 7) as f64).collect();
        v[54_321] = 1000.0;
        v[77_777] = -3.0;
        let d = downsample(&v, SECONDS, 1.0);
        assert!(d.len() <= MAX_POINTS, "{} points", d.len());
        assert!(d.contains(&(54_321.0, 1000.0)));
        assert!(d.contains(&(77_777.0, -3.0)));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0), "in time order");
    }

    #[test]
    fn nines_spread_the_tail() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(nines(1.0), NINES_MAX);
        assert_eq!(nines_label(3.0), "p99.9");
    }

    #[test]
    fn log_axis_labels_one_two_five() {
        assert_eq!(
            LogAxis::new(0.15, 60.0).keys,
            vec![0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        );
        assert_eq!(
            LogAxis::new(0.5, 2e6).keys,
            vec![1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
        );
        let axis = LogAxis::new(1.0, 100.0);
        assert_eq!(axis.map(&10.0, (0, 200)), 100);
    }
}
