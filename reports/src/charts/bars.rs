//! The bar charts: attempts per request and goodput per client. Bars stand in strategy order
//! within each group and carry their strategy's marker on top, so that colour is not the only
//! thing telling them apart.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::MAX_CLIENT_BARS;
use super::axes::{KeyedAxis, LogAxis, ScaledAxis};
use super::draw::DrawResult;
use super::markers::lifted_marker;
use super::style::{
    Canvas, MARGIN, REFERENCE, X_LABELS, axis_number, colour, count_label, line_width, mesh,
    value_label,
};

/// Width of one bar in axis units (a group is 1 wide): groups fill 80 % of their slot, but a bar
/// is never wider than about a tenth of the plot.
fn bar_width(bars_per_group: f64, groups: usize) -> f64 {
    (0.8 / bars_per_group).min(0.1 * groups as f64)
}

/// Groups of attempts counts shown at most; beyond, neighbouring counts share a bar.
const MAX_GROUPS: usize = 50;

/// The radius of the marker on top of a bar `bar_px` wide, when there is room for one.
fn bar_marker(bar_px: f64) -> Option<f64> {
    let r = (bar_px * 0.45).min(5.0);
    (r >= 2.5).then_some(r)
}

/// The width in px of `units` of a horizontal axis spanning `span` units over `plot_px` px.
fn px(units: f64, span: f64, plot_px: i32) -> f64 {
    units / span * f64::from(plot_px)
}

/// Attempts per final request, one group of bars per count of attempts (`histograms[i]`:
/// strategy `i`'s succeeded and final counts by attempts), log scale.
pub(super) fn attempts_chart(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    canvas: Canvas,
    histograms: &[(Vec<u64>, Vec<u64>)],
) -> DrawResult {
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
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .margin_right(MARGIN * 2)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(canvas.y_labels)
        .build_cartesian_2d(x, LogAxis::new(base, top * 3.0))?;
    mesh(&mut chart)
        .disable_x_mesh()
        .x_desc("attempts the request needed")
        .y_desc("requests (log scale)")
        .x_label_formatter(&label)
        .y_label_formatter(&|v| count_label(*v))
        .draw()?;
    let n = histograms.len().max(1) as f64;
    let bar = bar_width(n, groups);
    let plot_px = chart.plotting_area().get_pixel_range().0;
    let r = bar_marker(px(bar * 0.9, groups as f64, plot_px.end - plot_px.start));
    for (i, (succeeded, total)) in histograms.iter().enumerate() {
        let c = colour(i);
        let mut rects = Vec::new();
        let mut tops = Vec::new();
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
            if t > 0 {
                tops.push(((x0 + x1) / 2.0, t as f64));
            }
        }
        chart.draw_series(rects)?;
        if let Some(r) = r {
            chart.draw_series(
                tops.into_iter()
                    .map(|at| lifted_marker(i, at, r, r.ceil() as i32 + 1, c.filled())),
            )?;
        }
    }
    Ok(())
}

/// Goodput per client (`per_client[i]`: strategy `i`'s clients), with an equal share `fair`:
/// grouped bars for a few clients, a sorted line per strategy for many.
pub(super) fn fairness_chart(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    canvas: Canvas,
    per_client: &[Vec<f64>],
    fair: Option<f64>,
) -> DrawResult {
    let clients = per_client.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let y = ScaledAxis::linear(
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
        let mut chart = ChartBuilder::on(root)
            .margin(MARGIN)
            .margin_right(MARGIN * 2)
            .x_label_area_size(X_LABELS)
            .y_label_area_size(canvas.y_labels)
            .build_cartesian_2d(x, y)?;
        mesh(&mut chart)
            .disable_x_mesh()
            .x_desc("client")
            .y_desc("goodput (successes/s)")
            .x_label_formatter(&|v| format!("{}", v.round() as i64))
            .y_label_formatter(&|v| value_label(*v))
            .draw()?;
        let n = per_client.len().max(1) as f64;
        let bar = bar_width(n, clients);
        let plot_px = chart.plotting_area().get_pixel_range().0;
        let r = bar_marker(px(bar * 0.9, clients as f64, plot_px.end - plot_px.start));
        for (i, values) in per_client.iter().enumerate() {
            let x0 = |c: usize| c as f64 - bar * n / 2.0 + i as f64 * bar;
            chart.draw_series(values.iter().enumerate().map(|(c, &v)| {
                Rectangle::new([(x0(c), 0.0), (x0(c) + bar * 0.9, v)], colour(i).filled())
            }))?;
            if let Some(r) = r {
                chart.draw_series(values.iter().enumerate().map(|(c, &v)| {
                    let at = (x0(c) + bar * 0.45, v);
                    lifted_marker(i, at, r, r.ceil() as i32 + 1, colour(i).filled())
                }))?;
            }
        }
        if let Some(f) = fair {
            chart.draw_series(LineSeries::new(
                [(-0.5, f), (clients as f64 - 0.5, f)],
                REFERENCE.stroke_width(2),
            ))?;
        }
    } else {
        let mut chart = ChartBuilder::on(root)
            .margin(MARGIN)
            .margin_right(MARGIN * 2)
            .x_label_area_size(X_LABELS)
            .y_label_area_size(canvas.y_labels)
            .build_cartesian_2d(0.0..(clients - 1).max(1) as f64, y)?;
        mesh(&mut chart)
            .x_desc("clients, best served first")
            .y_desc("goodput (successes/s)")
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| value_label(*v))
            .draw()?;
        if let Some(f) = fair {
            chart.draw_series(LineSeries::new(
                [(0.0, f), ((clients - 1).max(1) as f64, f)],
                REFERENCE.stroke_width(2),
            ))?;
        }
        let n = per_client.len();
        for (i, values) in per_client.iter().enumerate() {
            let mut sorted = values.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let points: Vec<(f64, f64)> = sorted
                .into_iter()
                .enumerate()
                .map(|(c, v)| (c as f64, v))
                .collect();
            chart.draw_series(LineSeries::new(
                points.iter().copied(),
                colour(i).stroke_width(line_width(i, n)),
            ))?;
            let r = super::time::marker_radius(i, n);
            chart.draw_series(
                super::markers::marker_indices(points.len(), i, n, 6)
                    .into_iter()
                    .map(|k| lifted_marker(i, points[k], r, 0, colour(i).filled())),
            )?;
        }
    }
    Ok(())
}
