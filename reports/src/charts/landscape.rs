//! A sweep's line charts: a metric against one parameter's values, one line per strategy with
//! its colour, dash and markers, over a band across the seeds; the best point's value as a grey
//! dashed line.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::ChartBody;
use super::axes::{KeyedAxis, ScaledAxis, nice_step};
use super::draw::{DrawResult, drawn};
use super::legend::{Entry, Key, legend_html};
use super::markers::marker;
use super::style::{Canvas, MARGIN, REFERENCE, X_LABELS, axis_number, colour, line_width, mesh};
use super::time::marker_radius;
use crate::sweep::Band;

/// Values shown at most as the labels of a numeric axis; beyond, round steps.
const MAX_VALUE_LABELS: usize = 12;

/// A parameter's axis.
pub(crate) struct ParamAxis {
    /// Its description under the axis.
    pub desc: String,
    /// Its values as text, in order.
    pub labels: Vec<String>,
    /// Numeric values (a linear axis), else categorical (one slot per value, in order).
    pub numeric: Option<Vec<f64>>,
}

impl ParamAxis {
    /// Where value `k` sits on the axis.
    pub(crate) fn position(&self, k: usize) -> f64 {
        match &self.numeric {
            Some(v) => v[k],
            None => k as f64,
        }
    }

    fn axis(&self) -> KeyedAxis {
        let n = self.labels.len();
        match &self.numeric {
            None => KeyedAxis::new(-0.5..n as f64 - 0.5, (0..n).map(|k| k as f64).collect()),
            Some(v) => {
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let pad = if hi > lo { (hi - lo) * 0.04 } else { 1.0 };
                let keys = if n <= MAX_VALUE_LABELS {
                    let mut k = v.clone();
                    k.sort_by(f64::total_cmp);
                    k.dedup();
                    k
                } else {
                    let step = nice_step((hi - lo) / 8.0);
                    let first = (lo / step).ceil() as i64;
                    (first..)
                        .map(|i| i as f64 * step)
                        .take_while(|&x| x <= hi + step * 1e-9)
                        .collect()
                };
                KeyedAxis::new(lo - pad..hi + pad, keys)
            }
        }
    }

    fn label(&self, v: f64) -> String {
        match &self.numeric {
            Some(_) => axis_number(v),
            None => {
                let k = v.round();
                if k >= 0.0 && (k as usize) < self.labels.len() {
                    self.labels[k as usize].clone()
                } else {
                    String::new()
                }
            }
        }
    }
}

/// One strategy's line: (value index, band) at each value where it ran.
pub(crate) struct BandLine {
    /// The strategy (colour, dash, marker).
    pub strategy: usize,
    /// Its points, in value order.
    pub points: Vec<(usize, Band)>,
}

/// How a metric's values read on the vertical axis.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Unit {
    /// A plain number.
    Number,
    /// A share, shown as a percentage.
    Share,
}

/// The legend of a sweep chart: a line sample per strategy, then the reference line's text.
pub(crate) fn strategy_legend(names: &[String], reference: Option<String>) -> String {
    let mut entries: Vec<Entry> = names
        .iter()
        .enumerate()
        .map(|(i, n)| Entry {
            key: Key::Strategy(i),
            label: n.clone(),
        })
        .collect();
    entries.extend(reference.map(|label| Entry {
        key: Key::Reference,
        label,
    }));
    legend_html(&entries)
}

/// The chart of a metric (`y_desc`, `unit`) against `x`, `best` the best point's value index.
pub(crate) fn line_chart(
    x: &ParamAxis,
    y_desc: &str,
    unit: Unit,
    lines: &[BandLine],
    best: Option<usize>,
    legend: &str,
) -> ChartBody {
    if lines.iter().all(|l| l.points.is_empty()) {
        return ChartBody::Explanation(format!("No run has a value of {y_desc} here."));
    }
    drawn(legend, &|area, canvas| {
        draw(area, canvas, x, y_desc, unit, lines, best)
    })
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    canvas: Canvas,
    x: &ParamAxis,
    y_desc: &str,
    unit: Unit,
    lines: &[BandLine],
    best: Option<usize>,
) -> DrawResult {
    let top = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|(_, b)| b.hi))
        .fold(0.0, f64::max);
    let y = ScaledAxis::linear(top);
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .margin_right(MARGIN * 2)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(canvas.y_labels)
        .build_cartesian_2d(x.axis(), y)?;
    let y_label = |v: &f64| match unit {
        Unit::Number => super::style::value_label(*v),
        Unit::Share => format!("{} %", axis_number(v * 100.0)),
    };
    let x_label = |v: &f64| x.label(*v);
    mesh(&mut chart)
        .x_desc(x.desc.as_str())
        .y_desc(y_desc)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .draw()?;
    let y_range = chart.as_coord_spec().y_spec().range();
    let x_range = chart.as_coord_spec().x_spec().range();
    if let Some(k) = best {
        let at = x.position(k);
        chart.draw_series(LineSeries::new(
            [(at, y_range.start), (at, y_range.end)],
            REFERENCE.stroke_width(2),
        ))?;
    }
    let n = lines.iter().map(|l| l.strategy + 1).max().unwrap_or(0);
    // The bands first, under every line.
    for line in lines {
        let c = colour(line.strategy);
        let upper = line.points.iter().map(|(k, b)| (x.position(*k), b.hi));
        let lower = line
            .points
            .iter()
            .rev()
            .map(|(k, b)| (x.position(*k), b.lo));
        let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
        if line.points.len() > 1 {
            chart.draw_series(std::iter::once(Polygon::new(outline, c.mix(0.14).filled())))?;
        } else if let Some((k, b)) = line.points.first() {
            // One value: the band as a narrow bar.
            let at = x.position(*k);
            let half = (x_range.end - x_range.start) * 0.01;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(at - half, b.lo), (at + half, b.hi)],
                c.mix(0.3).filled(),
            )))?;
        }
    }
    for line in lines {
        let i = line.strategy;
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .map(|(k, b)| (x.position(*k), b.mean))
            .collect();
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            colour(i).stroke_width(line_width(i, n)),
        ))?;
        let r = marker_radius(i, n);
        chart.draw_series(
            points
                .iter()
                .map(|&at| marker(i, at, r, colour(i).filled())),
        )?;
    }
    Ok(())
}
