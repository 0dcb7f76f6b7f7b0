//! The look every chart shares: sizes, the palette and dash patterns (a strategy has one colour
//! and one dash in every chart, and the same colour in the table), the mesh's style and the
//! labels of numbers.

use plotters::chart::MeshStyle;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::*;

/// The size and the font of a drawing. Every chart is drawn twice: wide for screens and print,
/// narrow for phones (the page shows the one that fits), so that its labels stay readable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Canvas {
    /// Width, px.
    pub(super) width: u32,
    /// Height, px.
    pub(super) height: u32,
    /// Width of the vertical axis' label area, px: the same in every chart of a canvas, so that
    /// the time charts' plots line up.
    pub(super) y_labels: u32,
    /// Labels wanted along a time axis.
    pub(super) x_ticks: usize,
    /// Labels at most along a horizontal log axis.
    pub(super) log_ticks: usize,
}

/// The wide drawing.
pub(super) const WIDE: Canvas = Canvas {
    width: 960,
    height: 380,
    y_labels: 96,
    x_ticks: 10,
    log_ticks: 10,
};
/// The narrow drawing, for screens under about 640 px.
pub(super) const NARROW: Canvas = Canvas {
    width: 420,
    height: 360,
    y_labels: 84,
    x_ticks: 4,
    log_ticks: 5,
};
/// Margin around a plot, px.
pub(super) const MARGIN: u32 = 14;
/// Height of the horizontal axis' label area, px.
pub(super) const X_LABELS: u32 = 58;
/// Grid and axis colours.
pub(super) const GRID: RGBColor = RGBColor(228, 228, 228);
pub(super) const AXIS: RGBColor = RGBColor(90, 90, 90);
/// Reference lines (the API's limit, the ideal); drawn dashed ([`REFERENCE_DASH`]).
pub(super) const REFERENCE: RGBColor = RGBColor(110, 110, 110);
/// The shade of an API outage on the time charts.
pub(super) const OUTAGE: RGBAColor = RGBAColor(213, 94, 0, 0.14);
/// The dash pattern of reference lines.
pub(super) const REFERENCE_DASH: &str = "7 5";
pub(super) const FONT: &str = "sans-serif";
/// Font size asked of plotters (it writes `font-size` at 1/1.24 of it: 20 → 16 px).
pub(super) const FONT_SIZE: u32 = 20;

/// Okabe & Ito's colour-blind-safe palette (Color Universal Design), ordered so that the first
/// strategies get the most distinct colours and yellow, faint on white, comes last.
const PALETTE: [(u8, u8, u8); 8] = [
    (0x00, 0x72, 0xb2), // blue
    (0xe6, 0x9f, 0x00), // orange
    (0x00, 0x9e, 0x73), // bluish green
    (0xd5, 0x5e, 0x00), // vermillion
    (0xcc, 0x79, 0xa7), // reddish purple
    (0x56, 0xb4, 0xe9), // sky blue
    (0x00, 0x00, 0x00), // black
    (0xf0, 0xe4, 0x42), // yellow
];

/// Dash patterns (SVG `stroke-dasharray`) of the strategies' lines, in strategy order, so that
/// colour is never the only thing telling two lines apart.
const DASHES: [&str; 8] = [
    "",
    "12 5",
    "3 4",
    "14 4 3 4",
    "6 6",
    "20 4 4 4 4 4",
    "2 8",
    "9 3 2 3 2 3",
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

/// The dash pattern of strategy `i` (empty: solid).
pub(super) fn dash(i: usize) -> &'static str {
    DASHES[i % DASHES.len()]
}

/// The stroke width of strategy `i` of `n`: the first strategies are drawn widest and first, so
/// that a line hidden under an identical one still shows at its edges.
pub(super) fn line_width(i: usize, n: usize) -> u32 {
    2 + n.saturating_sub(1 + i).min(3) as u32
}

/// Gives every line of the drawing its dash pattern. plotters' SVG backend draws lines solid;
/// each `<polyline>` is matched to its strategy by its colour (or to a reference line by the
/// reference colour) and gets that strategy's `stroke-dasharray`.
pub(super) fn dashed(svg: &str) -> String {
    let reference = {
        let RGBColor(r, g, b) = REFERENCE;
        format!("#{r:02X}{g:02X}{b:02X}")
    };
    let mut out = String::with_capacity(svg.len() + svg.len() / 16);
    let mut parts = svg.split("<polyline ");
    out.push_str(parts.next().unwrap_or(""));
    for part in parts {
        out.push_str("<polyline ");
        let colour = part
            .find("stroke=\"#")
            .map(|at| (at, &part[at + 8..at + 15]));
        let pattern = colour.and_then(|(at, c)| {
            if c == reference {
                return Some((at, REFERENCE_DASH));
            }
            (0..PALETTE.len())
                .find(|&i| css_colour(i).eq_ignore_ascii_case(c))
                .map(|i| (at, dash(i)))
                .filter(|(_, d)| !d.is_empty())
        });
        match pattern {
            Some((at, d)) => {
                out.push_str(&part[..at]);
                out.push_str(&format!("stroke-dasharray=\"{d}\" "));
                out.push_str(&part[at..]);
            }
            None => out.push_str(part),
        }
    }
    out
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
        .label_style((FONT, FONT_SIZE))
        .axis_desc_style((FONT, FONT_SIZE));
    mesh
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

/// A value for a linear axis label: 12 000 reads 12k.
pub(super) fn value_label(v: f64) -> String {
    if v >= 1e4 {
        count_label(v)
    } else {
        axis_number(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_get_their_strategys_dash() {
        let svg = format!(
            "<svg><polyline fill=\"none\" opacity=\"1\" stroke=\"{}\" stroke-width=\"2\" \
             points=\"0,0 1,1 \"/><polyline fill=\"none\" stroke=\"#6E6E6E\" points=\"\"/>\
             <polyline stroke=\"{}\" points=\"\"/><rect stroke=\"{}\"/></svg>",
            css_colour(1).to_uppercase(),
            css_colour(0).to_uppercase(),
            css_colour(1).to_uppercase(),
        );
        let out = dashed(&svg);
        assert!(out.contains(&format!(
            "stroke-dasharray=\"{}\" stroke=\"#E69F00\"",
            dash(1)
        )));
        assert!(out.contains("stroke-dasharray=\"7 5\" stroke=\"#6E6E6E\""));
        // Strategy 0 is solid; rectangles are left alone.
        assert_eq!(out.matches("stroke-dasharray").count(), 2);
    }

    #[test]
    fn the_palette_is_okabe_ito() {
        assert_eq!(css_colour(0), "#0072b2");
        assert_eq!(css_colour(8), css_colour(0));
        assert_eq!(line_width(0, 5), 5);
        assert_eq!(line_width(4, 5), 2);
        assert_eq!(line_width(0, 1), 2);
    }
}
