//! A sweep's heat map: the objective's metric over two parameters, one cell per pair of values
//! labelled with its value, coloured on a sequential colour-blind-safe scale (viridis), the
//! best cell outlined. Cells that miss the objective's constraints are grey; cells not run are
//! left white.

use std::fmt::Write as _;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ChartBody;
use super::axes::KeyedAxis;
use super::draw::{DrawResult, drawn_sized};
use super::landscape::{ParamAxis, Unit};
use super::style::{Canvas, FONT, MARGIN, NARROW, WIDE, X_LABELS, axis_number, mesh, value_label};

/// Viridis at nine evenly spaced stops (dark blue-purple to yellow): perceptually uniform, and
/// readable with every common colour-vision deficiency and in grey.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2d, 0x7b),
    (0x3b, 0x52, 0x8b),
    (0x2c, 0x72, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x28, 0xae, 0x80),
    (0x5e, 0xc9, 0x62),
    (0xad, 0xdc, 0x30),
    (0xfd, 0xe7, 0x25),
];
/// The fill of a cell that misses the objective's constraints.
const MISSES: RGBColor = RGBColor(214, 214, 214);

/// The scale's colour at `t` in 0..=1, interpolated between the stops.
pub(crate) fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let at = t * (VIRIDIS.len() - 1) as f64;
    let k = (at.floor() as usize).min(VIRIDIS.len() - 2);
    let f = at - k as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white, whichever reads better on `c`.
fn ink(c: RGBColor) -> RGBColor {
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2);
    if l > 0.18 { BLACK } else { WHITE }
}

/// One cell's content.
pub(crate) struct HeatCell {
    /// The metric's mean over seeds.
    pub value: f64,
    /// It meets the objective's constraints.
    pub meets: bool,
    /// A second line (which strategy the cell shows), if any.
    pub tag: Option<String>,
}

/// A heat map: `cells[row][column]`, rows along `y` (first value at the bottom), columns along
/// `x`.
pub(crate) struct HeatMap {
    /// The horizontal parameter.
    pub x: ParamAxis,
    /// The vertical parameter.
    pub y: ParamAxis,
    /// The cells, `None` where nothing ran.
    pub cells: Vec<Vec<Option<HeatCell>>>,
    /// The best cell (row, column), outlined.
    pub best: Option<(usize, usize)>,
    /// How the values read.
    pub unit: Unit,
    /// The values at the scale's ends (several maps share one); `None`: this map's own.
    pub range: Option<(f64, f64)>,
}

impl HeatMap {
    /// The range of the values that meet the constraints (else of all), or the one given.
    pub(crate) fn range(&self) -> (f64, f64) {
        if let Some(r) = self.range {
            return r;
        }
        let all = || self.cells.iter().flatten().flatten();
        let pick: Vec<f64> = if all().any(|c| c.meets) {
            all().filter(|c| c.meets).map(|c| c.value).collect()
        } else {
            all().map(|c| c.value).collect()
        };
        let lo = pick.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = pick.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }

    fn text(&self, v: f64) -> String {
        match self.unit {
            Unit::Number => value_label(v),
            Unit::Share => format!("{} %", axis_number(v * 100.0)),
        }
    }

    fn shade(&self, v: f64) -> RGBColor {
        let (lo, hi) = self.range();
        viridis(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 })
    }
}

/// The drawing (wide and narrow) and its legend: the colour scale, the outline of the best cell
/// and, when some cells miss the constraints, their grey; `extra` is appended to the legend.
pub(crate) fn heat_chart(map: &HeatMap, extra: &str) -> ChartBody {
    if map.cells.iter().flatten().all(Option::is_none) {
        return ChartBody::Explanation("No run here has a value of the metric.".to_string());
    }
    let rows = map.cells.len().max(1) as u32;
    let sized = |c: Canvas, row: u32| Canvas {
        height: (rows * row + X_LABELS + 3 * MARGIN).clamp(200, 900),
        ..c
    };
    let legend = format!("{}{extra}", scale_legend(map));
    drawn_sized(
        &legend,
        sized(WIDE, 42),
        sized(NARROW, 36),
        &|area, canvas| draw(area, canvas, map),
    )
}

fn swatch(fill: &str, stroke: &str) -> String {
    format!(
        "<svg class=\"key\" xmlns=\"http://www.w3.org/2000/svg\" width=\"22\" height=\"16\" \
         viewBox=\"0 0 22 16\" aria-hidden=\"true\"><rect x=\"2\" y=\"2\" width=\"18\" \
         height=\"12\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"2.5\"/></svg>"
    )
}

fn scale_legend(map: &HeatMap) -> String {
    let (lo, hi) = map.range();
    let mut bar = String::from(
        "<svg class=\"key\" xmlns=\"http://www.w3.org/2000/svg\" width=\"144\" height=\"16\" \
         viewBox=\"0 0 144 16\" aria-hidden=\"true\">",
    );
    for k in 0..16 {
        let RGBColor(r, g, b) = viridis(k as f64 / 15.0);
        let _ = write!(
            bar,
            "<rect x=\"{}\" y=\"1\" width=\"9\" height=\"14\" fill=\"#{r:02x}{g:02x}{b:02x}\"/>",
            k * 9
        );
    }
    bar.push_str("</svg>");
    let mut h = String::from("<ul class=\"legend\">");
    let range = if hi > lo {
        format!("{} (dark) to {} (bright)", map.text(lo), map.text(hi))
    } else {
        format!("{} in every cell", map.text(lo))
    };
    let _ = write!(
        h,
        "<li>{bar}<span>{}</span></li>",
        crate::html::escape(&range)
    );
    if map.best.is_some() {
        let _ = write!(
            h,
            "<li>{}<span>the best point (outlined)</span></li>",
            swatch("#ffffff", "#000000")
        );
    }
    if map.cells.iter().flatten().flatten().any(|c| !c.meets) {
        let _ = write!(
            h,
            "<li>{}<span>misses the objective&#39;s constraints</span></li>",
            swatch("#d6d6d6", "#d6d6d6")
        );
    }
    h.push_str("</ul>");
    h
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, canvas: Canvas, map: &HeatMap) -> DrawResult {
    let (nx, ny) = (map.x.labels.len(), map.y.labels.len());
    let axis = |n: usize| KeyedAxis::new(-0.5..n as f64 - 0.5, (0..n).map(|k| k as f64).collect());
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .margin_right(MARGIN * 2)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(canvas.y_labels)
        .build_cartesian_2d(axis(nx), axis(ny))?;
    let label = |a: &ParamAxis, v: f64| {
        let k = v.round();
        (k >= 0.0)
            .then(|| a.labels.get(k as usize).cloned())
            .flatten()
            .unwrap_or_default()
    };
    mesh(&mut chart)
        .disable_mesh()
        .x_desc(map.x.desc.as_str())
        .y_desc(map.y.desc.as_str())
        .x_label_formatter(&|v| label(&map.x, *v))
        .y_label_formatter(&|v| label(&map.y, *v))
        .draw()?;
    let (px, py) = chart.plotting_area().get_pixel_range();
    let cell_w = f64::from(px.end - px.start) / nx.max(1) as f64;
    let cell_h = f64::from(py.end - py.start) / ny.max(1) as f64;
    for (row, cells) in map.cells.iter().enumerate() {
        for (col, cell) in cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            let (x, y) = (col as f64, row as f64);
            let fill = if cell.meets {
                map.shade(cell.value)
            } else {
                MISSES
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                fill.filled(),
            )))?;
            let text = map.text(cell.value);
            let lines = 1 + usize::from(cell.tag.is_some());
            let longest = cell
                .tag
                .as_ref()
                .map_or(0, |t| t.chars().count())
                .max(text.chars().count()) as f64;
            // px of the font: the text fits the cell's width and height.
            let size = (cell_w * 0.9 / (0.6 * longest))
                .min(cell_h * 0.8 / (1.25 * lines as f64))
                .min(15.0);
            if size < 8.0 {
                continue;
            }
            // plotters writes font-size at 1/1.24 of what it is asked.
            let ink = ink(fill);
            let style = TextStyle::from((FONT, size * 1.24).into_font())
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let dy = if lines == 2 { 0.17 } else { 0.0 };
            chart.draw_series(std::iter::once(Text::new(text, (x, y + dy), style.clone())))?;
            if let Some(tag) = &cell.tag {
                chart.draw_series(std::iter::once(Text::new(tag.clone(), (x, y - dy), style)))?;
            }
        }
    }
    if let Some((row, col)) = map.best {
        let (x, y) = (col as f64, row as f64);
        // Insets in px, the same on every side whatever the cell's shape.
        let outline = |inset_px: f64, c: RGBColor, w: u32| {
            let (ix, iy) = (inset_px / cell_w, inset_px / cell_h);
            Rectangle::new(
                [(x - 0.5 + ix, y - 0.5 + iy), (x + 0.5 - ix, y + 0.5 - iy)],
                c.stroke_width(w),
            )
        };
        chart.draw_series([outline(2.0, BLACK, 4), outline(5.0, WHITE, 2)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_runs_dark_to_bright() {
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(f64::NAN), viridis(0.5));
        assert_eq!(ink(viridis(0.0)), WHITE);
        assert_eq!(ink(viridis(1.0)), BLACK);
    }
}
