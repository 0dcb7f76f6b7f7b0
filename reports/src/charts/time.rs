//! The time charts: one frame (time range, unit, bin width) for every time chart of a run, and
//! the drawing they share. Every time chart has the same x range and the same plot margins on a
//! canvas, so one instant sits at the same x pixel in all of them.

use plotters::coord::Shift;
use plotters::coord::ranged1d::DefaultFormatting;
use plotters::prelude::*;

use super::axes::{KeyedAxis, TimeUnit, nice_step};
use super::draw::DrawResult;
use super::markers::{marker, marker_indices};
use super::style::{
    Canvas, MARGIN, OUTAGE, REFERENCE, X_LABELS, axis_number, colour, line_width, mesh,
};

/// Markers along a time line.
const MARKERS_PER_LINE: usize = 6;

/// The time axis every time chart of a run shares, with the API's changes drawn on each.
#[derive(Clone, Debug)]
pub(super) struct TimeFrame {
    /// The run's longest span, s: its right end.
    pub(super) span_s: f64,
    /// The unit of its labels.
    pub(super) unit: TimeUnit,
    /// Width of a bin of the per-second charts, s.
    pub(super) bin_s: u64,
    /// The instants of the API's schedule entries, s (dashed vertical lines).
    pub(super) changes: Vec<f64>,
    /// The API's outages, `[start, end)` in s (shaded spans).
    pub(super) outages: Vec<(f64, f64)>,
}

impl TimeFrame {
    /// The frame of a run whose longest span is `span_s`, with series of elements of `step_s`.
    pub(super) fn new(span_s: f64, step_s: u64) -> TimeFrame {
        let span_s = if span_s > 0.0 && span_s.is_finite() {
            span_s
        } else {
            1.0
        };
        TimeFrame {
            span_s,
            unit: TimeUnit::for_span(span_s),
            bin_s: super::bins::bin_width(span_s, step_s),
            changes: Vec::new(),
            outages: Vec::new(),
        }
    }

    /// The frame with the API's schedule entries and outages drawn on it.
    pub(super) fn with_api(mut self, api: &ratelab_sim::api::ApiSpec) -> TimeFrame {
        self.changes = api.schedule.iter().map(|e| e.at_s).collect();
        self.outages = api
            .outages
            .iter()
            .map(|o| (o.at_s, o.at_s + o.for_s))
            .collect();
        self
    }

    /// The bin width as people say it: "1 s", "30 s", "5 min".
    pub(super) fn bin_label(&self) -> String {
        match self.bin_s {
            s if s < 60 || s % 60 != 0 => format!("{s} s"),
            s if s < 3600 || s % 3600 != 0 => format!("{} min", s / 60),
            s => format!("{} h", s / 3600),
        }
    }
}

/// One strategy's line on a time chart, x in seconds.
pub(super) struct TimeLine {
    /// The strategy (its colour, dash and marker).
    pub(super) strategy: usize,
    /// Its points.
    pub(super) points: Vec<(f64, f64)>,
    /// Mark its last point too (where a cumulative line ends: the strategy's finish).
    pub(super) mark_end: bool,
}

/// Draws a time chart: the strategies' lines, then `references` (grey, dashed, x in seconds)
/// over them.
#[allow(clippy::too_many_arguments)]
pub(super) fn time_chart<Y: Ranged<ValueType = f64, FormatOption = DefaultFormatting>>(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    canvas: Canvas,
    frame: &TimeFrame,
    y: Y,
    y_desc: &str,
    y_label: &dyn Fn(f64) -> String,
    lines: &[TimeLine],
    references: &[Vec<(f64, f64)>],
) -> DrawResult {
    let unit = frame.unit;
    let x_max = frame.span_s / unit.seconds;
    let step = nice_step(x_max / canvas.x_ticks as f64);
    let keys = (0..)
        .map(|k| f64::from(k) * step)
        .take_while(|&k| k <= x_max * (1.0 + 1e-9))
        .collect();
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .margin_right(MARGIN * 2)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(canvas.y_labels)
        .build_cartesian_2d(KeyedAxis::new(0.0..x_max, keys), y)?;
    mesh(&mut chart)
        .x_desc(format!("time ({})", unit.name))
        .y_desc(y_desc)
        .x_label_formatter(&|v| axis_number(*v))
        .y_label_formatter(&|v| y_label(*v))
        .draw()?;
    let in_unit = |&(x, y): &(f64, f64)| (x / unit.seconds, y);
    // The API's outages shaded and its schedule entries dashed, under the lines.
    let y_range = chart.as_coord_spec().y_spec().range();
    let clip = |t: f64| (t / unit.seconds).clamp(0.0, x_max);
    for &(start, end) in &frame.outages {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(clip(start), y_range.start), (clip(end), y_range.end)],
            OUTAGE.filled(),
        )))?;
    }
    for &at in &frame.changes {
        // Reference-coloured: dashed like every reference line.
        chart.draw_series(LineSeries::new(
            [(clip(at), y_range.start), (clip(at), y_range.end)],
            REFERENCE.stroke_width(1),
        ))?;
    }
    let n = lines.iter().map(|l| l.strategy + 1).max().unwrap_or(0);
    for line in lines {
        let i = line.strategy;
        let points: Vec<(f64, f64)> = line.points.iter().map(in_unit).collect();
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            colour(i).stroke_width(line_width(i, n)),
        ))?;
        let r = marker_radius(i, n);
        let mut at = marker_indices(points.len(), i, n, MARKERS_PER_LINE);
        if line.mark_end && !points.is_empty() {
            at.retain(|&k| k + 2 < points.len());
            at.push(points.len() - 1);
        }
        chart.draw_series(
            at.into_iter()
                .map(|k| marker(i, points[k], r, colour(i).filled())),
        )?;
    }
    // References last, thin and dashed: a line that runs along one leaves both visible.
    for line in references {
        chart.draw_series(LineSeries::new(
            line.iter().map(in_unit),
            REFERENCE.stroke_width(2),
        ))?;
    }
    Ok(())
}

/// The marker radius of strategy `i` of `n`, px: larger for the first, drawn first, so that
/// identical markers still show as nested shapes.
pub(super) fn marker_radius(i: usize, n: usize) -> f64 {
    4.5 + 0.9 * n.saturating_sub(1 + i).min(4) as f64
}
