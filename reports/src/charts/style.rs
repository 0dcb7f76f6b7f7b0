//! The look every chart shares: sizes, the palette (a strategy has one colour in every chart
//! and in the table), the legend strip, the mesh's style and the labels of numbers.

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width of every chart, px (the SVG scales to the page).
pub(super) const WIDTH: u32 = 960;
/// Height of a chart's plot, px.
pub(super) const HEIGHT: u32 = 320;
/// Legend rows' spacing, px.
pub(super) const LEGEND_ROW: i32 = 20;
/// Grid and axis colours.
pub(super) const GRID: RGBColor = RGBColor(228, 228, 228);
pub(super) const AXIS: RGBColor = RGBColor(90, 90, 90);
pub(super) const REFERENCE: RGBColor = RGBColor(110, 110, 110);
pub(super) const FONT: &str = "sans-serif";

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

/// The mesh of a chart in the report's style: bold grid lines only, grey axes, its label
/// fonts; the caller adds its descriptions and label formats, then draws it.
pub(super) fn mesh<'a, 'b, X, Y>(
    chart: &'b mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
) -> MeshStyle<'a, 'b, X, Y, SVGBackend<'a>>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16));
    mesh
}

/// Splits off the legend strip on the right and draws the legend into it; returns the plot area.
pub(super) fn with_legend<'a>(
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
pub(super) fn legend_height(rows: usize) -> u32 {
    (rows as u32 * LEGEND_ROW as u32 + 40).max(HEIGHT)
}

pub(super) fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        1.0
    } else {
        v * 1.08
    }
}

/// A number for an axis label: integers plain, others with up to two decimals.
pub(super) fn axis_number(v: f64) -> String {
    crate::format::trimmed(v, 2)
}

/// Seconds as a short latency label: 120 ms, 1.5 s, 2000 s.
pub(super) fn seconds_label(s: f64) -> String {
    if s < 1.0 {
        format!("{} ms", axis_number(s * 1000.0))
    } else {
        format!("{} s", axis_number(s))
    }
}

/// A count for a log axis: 500, 20k, 1M.
pub(super) fn count_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", axis_number(v / 1e6))
    } else if v >= 1e4 {
        format!("{}k", axis_number(v / 1e3))
    } else {
        axis_number(v)
    }
}
