//! The page: escaping, the header, the summary table, the stories and the chart sections.
//!
//! The markup is XHTML-compatible (every element closed, only XML's five entities) so that it
//! can be checked with an XML parser, and it needs nothing beyond itself: CSS inline, charts as
//! inline SVG, no script, no fetched resource.

mod header;
mod specs;
mod summary;

use std::fmt::Write as _;

use ratelab_sim::RunOutput;
use serde_json::Value;

use crate::ReportOptions;
use crate::charts::{self, ChartBody, css_colour};
use crate::story;
use header::header;
use specs::{spec_text, to_value};
use summary::summary;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1d1d1f;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin: 0 0 4px; }
p.lead { font-size: 16px; margin: 0 0 16px; color: #333; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
code.cmd { background: #f3f3f3; padding: 1px 6px; border-radius: 3px; overflow-wrap: anywhere; }
div.wide { overflow-x: auto; }
@media (max-width: 600px) { main { padding: 16px 12px 32px; } }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 6px; border-bottom: 1px solid #e5e5e5; text-align: right; vertical-align: top; }
th { background: #f6f6f6; font-weight: 600; border-bottom: 1px solid #ccc; }
th:first-child, td:first-child { text-align: left; }
td { white-space: nowrap; }
td.spec { white-space: normal; }
section.verdict { margin: 18px 0 0; padding: 10px 14px; border-left: 4px solid #0072b2;
  background: #f2f7fb; }
section.verdict p { margin: 0; font-size: 16px; }
section.verdict p.objective { margin-top: 4px; font-size: 13px; color: #555; }
section.verdict .label { font-weight: 600; }
span.lost { color: #b35806; font-size: 11.5px; white-space: nowrap; }
th.spec { text-align: left; }
td.best { font-weight: 700; background: #e8f3e4; }
td.spec { text-align: left; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
  vertical-align: -1px; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
p.note { font-size: 12.5px; color: #555; margin: 6px 0 0; }
ul.stories { list-style: none; padding: 0; margin: 0; }
ul.stories li { margin: 0 0 8px; }
figure { margin: 0 0 26px; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 13px; color: #444; margin: 0 0 6px; }
svg.chart { display: block; width: 100%; height: auto; border: 1px solid #eee; }
p.empty { padding: 24px; background: #fafafa; border: 1px dashed #ccc; color: #555; }
pre.scenario { background: #f7f7f7; padding: 10px 12px; overflow-x: auto; white-space: pre-wrap;
  overflow-wrap: anywhere; }
footer { margin-top: 36px; font-size: 12px; color: #777; }
@media print {
  @page { size: A4; margin: 12mm; }
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table { font-size: 8pt; }
  th, td { padding: 3px 4px; }
  tr { break-inside: avoid; }
  svg.chart { border: none; }
  pre.scenario { column-count: 2; column-gap: 8mm; font-size: 7.5pt; background: none; padding: 0; }
  td.best { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// The whole page.
pub(crate) fn render(out: &RunOutput, options: &ReportOptions) -> String {
    let sc = &out.scenario;
    let mut h = String::with_capacity(64 * 1024);
    h.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\" xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n",
    );
    h.push_str("<meta charset=\"utf-8\" />\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n");
    h.push_str("<meta name=\"generator\" content=\"ratelab\" />\n");
    let _ = writeln!(h, "<title>ratelab report: {}</title>", escape(&sc.name));
    let _ = writeln!(
        h,
        "<style>{STYLE}{}</style>\n</head>\n<body>\n<main>",
        charts::STYLE
    );
    header(&mut h, out, options);
    verdict(&mut h, out);
    summary(&mut h, out);
    stories(&mut h, out);
    strategies(&mut h, out);
    h.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    for chart in charts::all(out) {
        let body = match &chart.body {
            ChartBody::Svg(svg) => svg.trim_end().to_string(),
            ChartBody::Explanation(why) => format!("<p class=\"empty\">{}</p>", escape(why)),
        };
        let _ = writeln!(
            h,
            "<figure id=\"chart-{}\">\n<h3>{}</h3>\n<figcaption>{}</figcaption>\n{body}\n</figure>",
            chart.id,
            escape(chart.title),
            escape(&chart.caption),
        );
    }
    h.push_str("</section>\n");
    let _ = writeln!(
        h,
        "<section id=\"scenario\">\n<h2>Scenario as run</h2>\n<pre class=\"scenario\">{}</pre>\n</section>",
        escape(sc.to_toml().trim_end())
    );
    let _ = writeln!(
        h,
        "<footer>Generated by ratelab {} from the run's JSON result ({} mode). The same result \
         gives the same report, byte for byte.</footer>",
        escape(&out.version),
        escape(&out.mode)
    );
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// The pick, at the top: which strategy, and why.
fn verdict(h: &mut String, out: &RunOutput) {
    let Some(v) = &out.verdict else {
        return;
    };
    let pick = match &v.strategy {
        Some(name) => {
            let i = out.results.iter().position(|r| &r.strategy == name);
            format!(
                "<span class=\"swatch\" style=\"background:{}\"></span><b>{}</b>",
                i.map_or_else(|| "#888".to_string(), css_colour),
                escape(name)
            )
        }
        None => "<b>none</b>".to_string(),
    };
    let _ = writeln!(
        h,
        "<section id=\"verdict\" class=\"verdict\">\n<p><span class=\"label\">Pick:</span> {pick} \
         — {}</p>\n<p class=\"objective\">Objective: {}</p>\n</section>",
        escape(&v.reason),
        escape(&v.objective)
    );
}

fn stories(h: &mut String, out: &RunOutput) {
    h.push_str("<section id=\"what-happened\">\n<h2>What happened</h2>\n<ul class=\"stories\">\n");
    for (i, r) in out.results.iter().enumerate() {
        let _ = writeln!(
            h,
            "<li><span class=\"swatch\" style=\"background:{}\"></span><b>{}</b>: {}</li>",
            css_colour(i),
            escape(&r.strategy),
            escape(&story::line(out, r))
        );
    }
    h.push_str("</ul>\n</section>\n");
}

fn strategies(h: &mut String, out: &RunOutput) {
    h.push_str(
        "<section id=\"strategies\">\n<h2>Strategies</h2>\n<div class=\"wide\"><table>\n<thead>\n<tr><th>strategy</th>\
         <th class=\"spec\">admission</th><th class=\"spec\">retry and more</th></tr>\n</thead>\n<tbody>\n",
    );
    for (i, spec) in out.scenario.strategies.iter().enumerate() {
        let value = to_value(spec);
        let mut admission = "unlimited".to_string();
        let mut rest = Vec::new();
        if let Value::Object(map) = &value {
            for (k, v) in map {
                match k.as_str() {
                    "name" => {}
                    "admission" => {
                        if !matches!(v, Value::Array(a) if a.is_empty()) {
                            admission = spec_text(v);
                        }
                    }
                    _ => rest.push(format!("{k}: {}", spec_text(v))),
                }
            }
        }
        let _ = writeln!(
            h,
            "<tr><td class=\"name\"><span class=\"swatch\" style=\"background:{}\"></span>{}</td>\
             <td class=\"spec\">{}</td><td class=\"spec\">{}</td></tr>",
            css_colour(i),
            escape(&spec.name),
            escape(&admission),
            escape(&rest.join("; "))
        );
    }
    h.push_str("</tbody>\n</table></div>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x & \"y\"')</script>"),
            "&lt;script&gt;alert(&#39;x &amp; &quot;y&quot;&#39;)&lt;/script&gt;"
        );
    }
}
