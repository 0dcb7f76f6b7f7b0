//! Each strategy's marker shape, drawn on its lines in every chart and in the legend: with the
//! dash pattern, what tells lines apart without colour.

use std::iter::{Once, once};

use plotters::element::{Drawable, PointCollection};
use plotters::prelude::*;
use plotters_backend::{BackendCoord, DrawingErrorKind};

/// A marker: a filled polygon of corners in px around a point of the chart.
pub(super) struct Marker {
    at: (f64, f64),
    corners: Vec<BackendCoord>,
    style: ShapeStyle,
}

impl<'b> PointCollection<'b, (f64, f64)> for &'b Marker {
    type Point = &'b (f64, f64);
    type IntoIter = Once<&'b (f64, f64)>;
    fn point_iter(self) -> Self::IntoIter {
        once(&self.at)
    }
}

impl<DB: DrawingBackend> Drawable<DB> for Marker {
    fn draw<I: Iterator<Item = BackendCoord>>(
        &self,
        mut pos: I,
        backend: &mut DB,
        _: (u32, u32),
    ) -> Result<(), DrawingErrorKind<DB::ErrorType>> {
        match pos.next() {
            Some((x, y)) => backend.fill_polygon(
                self.corners.iter().map(|&(dx, dy)| (x + dx, y + dy)),
                &self.style,
            ),
            None => Ok(()),
        }
    }
}

/// Corners of the polygon that draws a circle.
const CIRCLE_CORNERS: usize = 16;

/// Shapes, in strategy order: circle, then polygons of unit size (x right, y down).
const SHAPES: [&[(f64, f64)]; 8] = [
    &[],
    &[(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)],
    &[(0.0, -1.2), (1.1, 0.8), (-1.1, 0.8)],
    &[(0.0, -1.3), (1.05, 0.0), (0.0, 1.3), (-1.05, 0.0)],
    &[(0.0, 1.2), (1.1, -0.8), (-1.1, -0.8)],
    &[
        (-0.35, -1.1),
        (0.35, -1.1),
        (0.35, -0.35),
        (1.1, -0.35),
        (1.1, 0.35),
        (0.35, 0.35),
        (0.35, 1.1),
        (-0.35, 1.1),
        (-0.35, 0.35),
        (-1.1, 0.35),
        (-1.1, -0.35),
        (-0.35, -0.35),
    ],
    &[(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)],
    &[
        (0.0, -1.3),
        (0.35, -0.45),
        (1.25, -0.4),
        (0.55, 0.2),
        (0.8, 1.1),
        (0.0, 0.6),
        (-0.8, 1.1),
        (-0.55, 0.2),
        (-1.25, -0.4),
        (-0.35, -0.45),
    ],
];

/// The corners of strategy `i`'s marker of radius `r` around (0, 0), px; empty for a circle.
fn corners(i: usize, r: f64) -> Vec<(f64, f64)> {
    SHAPES[i % SHAPES.len()]
        .iter()
        .map(|&(x, y)| (x * r, y * r))
        .collect()
}

/// [`corners`], with a circle as a polygon.
fn polygon(i: usize, r: f64) -> Vec<(f64, f64)> {
    let shape = corners(i, r);
    if !shape.is_empty() {
        return shape;
    }
    (0..CIRCLE_CORNERS)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / CIRCLE_CORNERS as f64;
            (r * a.cos(), r * a.sin())
        })
        .collect()
}

/// Strategy `i`'s marker of radius `r` px at `at`, filled with its colour `style`.
pub(super) fn marker(i: usize, at: (f64, f64), r: f64, style: ShapeStyle) -> Marker {
    lifted_marker(i, at, r, 0, style)
}

/// [`marker`] drawn `lift` px above `at` (on top of a bar).
pub(super) fn lifted_marker(
    i: usize,
    at: (f64, f64),
    r: f64,
    lift: i32,
    style: ShapeStyle,
) -> Marker {
    let corners = polygon(i, r)
        .iter()
        .map(|&(x, y)| (x.round() as i32, y.round() as i32 - lift))
        .collect();
    Marker { at, corners, style }
}

/// Strategy `i`'s marker as an SVG element at (`cx`, `cy`), for the legend.
pub(super) fn marker_svg(i: usize, cx: f64, cy: f64, r: f64, fill: &str) -> String {
    let shape = corners(i, r);
    if shape.is_empty() {
        return format!("<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\" fill=\"{fill}\"/>");
    }
    let points: Vec<String> = shape
        .iter()
        .map(|&(x, y)| format!("{},{}", round2(cx + x), round2(cy + y)))
        .collect();
    format!("<polygon points=\"{}\" fill=\"{fill}\"/>", points.join(" "))
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Indices of the points of a line of `len` points that carry strategy `i`'s markers (of `n`
/// strategies): about `count` of them, shifted by strategy so that identical lines show each
/// one's markers at different places.
pub(super) fn marker_indices(len: usize, i: usize, n: usize, count: usize) -> Vec<usize> {
    if len == 0 || count == 0 {
        return Vec::new();
    }
    let spacing = (len / count).max(1);
    let offset = spacing * (i % n.max(1)) / n.max(1) + spacing / (2 * n.max(1)).max(1);
    (0..len)
        .skip(offset.min(len - 1))
        .step_by(spacing)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_lines_carry_markers_at_different_points() {
        let a = marker_indices(150, 0, 5, 6);
        let b = marker_indices(150, 1, 5, 6);
        assert!(!a.is_empty() && a.len() <= 7);
        assert!(a.iter().all(|i| !b.contains(i)), "{a:?} {b:?}");
        assert_eq!(marker_indices(0, 0, 1, 6), Vec::<usize>::new());
        assert!(marker_indices(3, 4, 5, 6).iter().all(|&i| i < 3));
    }
}
