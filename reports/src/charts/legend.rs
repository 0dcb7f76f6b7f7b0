//! A chart's legend, written as HTML under its drawing (so it wraps on a narrow screen and is
//! read at the page's own font size): one entry per strategy with its line sample (colour,
//! dash, marker), then the reference lines.

use std::fmt::Write as _;

use plotters::style::RGBColor;

use super::markers::marker_svg;
use super::style::{REFERENCE, REFERENCE_DASH, css_colour, dash};

/// What a legend entry's sample shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Key {
    /// Strategy `i`'s line and marker.
    Strategy(usize),
    /// Strategy `i`'s bar with its marker on top (bar charts).
    Bar(usize),
    /// A grey dashed reference line.
    Reference,
}

/// One legend entry.
pub(super) struct Entry {
    /// Its sample.
    pub(super) key: Key,
    /// Its text (plain; escaped here).
    pub(super) label: String,
}

/// The sample of `key`, a small inline SVG.
fn sample(key: Key) -> String {
    let mut s = String::from(
        "<svg class=\"key\" xmlns=\"http://www.w3.org/2000/svg\" width=\"44\" height=\"16\" \
         viewBox=\"0 0 44 16\" aria-hidden=\"true\">",
    );
    match key {
        Key::Strategy(i) => {
            let c = css_colour(i);
            let d = dash(i);
            let pattern = if d.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{d}\"")
            };
            let _ = write!(
                s,
                "<line x1=\"1\" y1=\"8\" x2=\"43\" y2=\"8\" stroke=\"{c}\" stroke-width=\"3\"{pattern}/>{}",
                marker_svg(i, 22.0, 8.0, 5.0, &c)
            );
        }
        Key::Bar(i) => {
            let c = css_colour(i);
            let _ = write!(
                s,
                "<rect x=\"12\" y=\"7\" width=\"20\" height=\"9\" fill=\"{c}\"/>{}",
                marker_svg(i, 22.0, 5.0, 4.0, &c)
            );
        }
        Key::Reference => {
            let RGBColor(r, g, b) = REFERENCE;
            let _ = write!(
                s,
                "<line x1=\"1\" y1=\"8\" x2=\"43\" y2=\"8\" stroke=\"#{r:02x}{g:02x}{b:02x}\" \
                 stroke-width=\"2\" stroke-dasharray=\"{REFERENCE_DASH}\"/>"
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The legend as an HTML list.
pub(super) fn legend_html(entries: &[Entry]) -> String {
    let mut h = String::from("<ul class=\"legend\">");
    for e in entries {
        let _ = write!(
            h,
            "<li>{}<span>{}</span></li>",
            sample(e.key),
            crate::html::escape(&e.label)
        );
    }
    h.push_str("</ul>");
    h
}
