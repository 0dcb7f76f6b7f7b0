//! Drawing a chart into SVG, and the latency chart (the bar charts are in [`super::bars`], the
//! time charts in [`super::time`]).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::ChartBody;
use super::axes::{LogAxis, ScaledAxis};
use super::markers::marker;
use super::style::{Canvas, MARGIN, X_LABELS, colour, dashed, line_width, mesh, seconds_label};
use super::time::marker_radius;

/// What drawing a chart can fail with (nothing is expected from the in-memory backend).
pub(super) type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws on `canvas` into a fresh SVG string of class `chart <class>`, its lines dashed by
/// strategy ([`dashed`]); an error (none is expected from an in-memory backend) is returned as
/// the note the page shows instead.
pub(super) fn svg_sized(
    canvas: Canvas,
    class: &str,
    draw: &dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> Result<String, String> {
    let (width, height) = (canvas.width, canvas.height);
    let mut text = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Into::into))
    };
    match result {
        Ok(()) => {
            // Let the chart scale with the page: drop the fixed size, keep the viewBox.
            let fixed = format!("<svg width=\"{width}\" height=\"{height}\" ");
            let classed = format!("<svg class=\"chart {class}\" role=\"img\" ");
            Ok(dashed(&text.replacen(&fixed, &classed, 1)))
        }
        Err(e) => Err(format!("This chart could not be drawn: {e}")),
    }
}

/// A chart drawn wide and narrow (the page shows the one that fits the screen), followed by its
/// legend.
pub(super) fn drawn(
    legend: &str,
    draw: &dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>, Canvas) -> DrawResult,
) -> ChartBody {
    use super::style::{NARROW, WIDE};
    drawn_sized(legend, WIDE, NARROW, draw)
}

/// [`drawn`] on canvases of the caller's size (a heat map's height follows its rows).
pub(super) fn drawn_sized(
    legend: &str,
    wide: Canvas,
    narrow: Canvas,
    draw: &dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>, Canvas) -> DrawResult,
) -> ChartBody {
    let wide = svg_sized(wide, "wide", &|area| draw(area, wide));
    let narrow = svg_sized(narrow, "narrow", &|area| draw(area, narrow));
    match (wide, narrow) {
        (Ok(w), Ok(n)) => ChartBody::Svg(format!("{w}\n{n}\n{legend}")),
        (Err(e), _) | (_, Err(e)) => ChartBody::Explanation(e),
    }
}

/// Latency as a cumulative distribution: for each strategy, the share of its successes (y) done
/// within a latency (x, log scale), from its percentile curve (latency, quantile); its median
/// `medians[i]` marked. Curves are drawn widest first with their dash patterns, so an identical
/// curve drawn over another leaves it visible.
pub(super) fn latency_chart(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    canvas: Canvas,
    curves: &[Vec<(f64, f64)>],
    medians: &[Option<f64>],
) -> DrawResult {
    let values = curves.iter().flat_map(|c| c.iter().map(|p| p.0));
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(0.0, f64::max);
    let y = ScaledAxis::keyed(1.04, vec![0.0, 0.25, 0.5, 0.75, 0.9, 1.0]);
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .margin_right(MARGIN * 2)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(canvas.y_labels)
        .build_cartesian_2d(
            LogAxis::with_labels(lo * 0.8, hi * 1.25, canvas.log_ticks),
            y,
        )?;
    mesh(&mut chart)
        .x_desc("end-to-end latency (log scale)")
        .y_desc("share of successes")
        .x_label_formatter(&|v| seconds_label(*v))
        .y_label_formatter(&|v| format!("{} %", (v * 100.0).round()))
        .draw()?;
    let n = curves.len();
    for (i, curve) in curves.iter().enumerate() {
        if curve.is_empty() {
            continue;
        }
        chart.draw_series(LineSeries::new(
            curve.iter().copied(),
            colour(i).stroke_width(line_width(i, n)),
        ))?;
    }
    for (i, median) in medians.iter().enumerate() {
        if let Some(m) = median {
            let r = marker_radius(i, n) + 1.0;
            chart.draw_series(std::iter::once(marker(i, (*m, 0.5), r, colour(i).filled())))?;
        }
    }
    Ok(())
}
