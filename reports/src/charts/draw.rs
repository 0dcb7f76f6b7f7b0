//! Drawing each kind of chart into an SVG string.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{KeyedAxis, LogAxis, NINES_MAX, TimeUnit, nines_label};
use super::style::{
    REFERENCE, WIDTH, axis_number, colour, count_label, mesh, nice_max, seconds_label, with_legend,
};
use super::{ChartBody, MAX_CLIENT_BARS};

/// What drawing a chart can fail with (nothing is expected from the in-memory backend).
pub(super) type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws into a fresh SVG string; an error (none is expected from an in-memory backend) becomes
/// a note in the page rather than a panic.
pub(super) fn svg_sized(
    height: u32,
    draw: &dyn Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> ChartBody {
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
            ChartBody::Svg(text.replacen(&fixed, "<svg class=\"chart\" role=\"img\" ", 1))
        }
        Err(e) => ChartBody::Explanation(format!("This chart could not be drawn: {e}")),
    }
}

pub(super) fn time_chart(
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
    mesh(&mut chart)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(10)
        .y_labels(6)
        .x_label_formatter(&|v| axis_number(*v))
        .y_label_formatter(&|v| axis_number(*v))
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

pub(super) fn latency_chart(
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
    mesh(&mut chart)
        .x_desc("percentile of successful requests")
        .y_desc("end-to-end latency (log scale)")
        .y_labels(8)
        .x_label_formatter(&|v| nines_label(*v))
        .y_label_formatter(&|v| seconds_label(*v))
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

pub(super) fn attempts_chart(
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
    mesh(&mut chart)
        .disable_x_mesh()
        .x_desc("attempts the request needed")
        .y_desc("requests (log scale)")
        .x_label_formatter(&label)
        .y_label_formatter(&|v| count_label(*v))
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

pub(super) fn fairness_chart(
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
        mesh(&mut chart)
            .disable_x_mesh()
            .x_desc("client")
            .y_desc("goodput (successes/s)")
            .x_label_formatter(&|v| format!("client {}", v.round() as i64))
            .y_label_formatter(&|v| axis_number(*v))
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
        mesh(&mut chart)
            .x_desc("clients, best served first")
            .y_desc("goodput (successes/s)")
            .x_label_formatter(&|v| axis_number(*v))
            .y_label_formatter(&|v| axis_number(*v))
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
