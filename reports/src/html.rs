//! The page: escaping, the header, the summary table, the stories and the chart sections.
//!
//! The markup is XHTML-compatible (every element closed, only XML's five entities) so that it
//! can be checked with an XML parser, and it needs nothing beyond itself: CSS inline, charts as
//! inline SVG, no script, no fetched resource.

use std::fmt::Write as _;

use ratelab_sim::{RunOutput, StrategyResult};
use serde_json::Value;

use crate::ReportOptions;
use crate::charts::{self, css_colour};
use crate::story::{self, count, duration, percent};

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
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
code.cmd { background: #f3f3f3; padding: 1px 6px; border-radius: 3px; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 6px; border-bottom: 1px solid #e5e5e5; text-align: right; vertical-align: top; }
th { background: #f6f6f6; font-weight: 600; border-bottom: 1px solid #ccc; }
th:first-child, td:first-child { text-align: left; }
td { white-space: nowrap; }
td.spec { white-space: normal; }
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
pre.scenario { background: #f7f7f7; padding: 10px 12px; overflow-x: auto; white-space: pre-wrap; }
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
    let _ = writeln!(h, "<style>{STYLE}</style>\n</head>\n<body>\n<main>");
    header(&mut h, out, options);
    summary(&mut h, out);
    stories(&mut h, out);
    strategies(&mut h, out);
    h.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    for chart in charts::all(out) {
        let _ = writeln!(
            h,
            "<figure id=\"chart-{}\">\n<h3>{}</h3>\n<figcaption>{}</figcaption>\n{}\n</figure>",
            chart.id,
            escape(chart.title),
            escape(&chart.caption),
            chart.body.trim_end()
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

fn header(h: &mut String, out: &RunOutput, options: &ReportOptions) {
    let sc = &out.scenario;
    let _ = writeln!(h, "<header>\n<h1>{}</h1>", escape(&sc.name));
    if !out.description.trim().is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"lead\">{}</p>",
            escape(out.description.trim())
        );
    }
    h.push_str("<dl class=\"facts\">\n");
    let mut fact = |term: &str, html: String| {
        let _ = writeln!(h, "<dt>{}</dt><dd>{html}</dd>", escape(term));
    };
    fact(
        "Reproduce",
        format!(
            "<code class=\"cmd\">{}</code>",
            escape(&options.command(out))
        ),
    );
    fact("Seed", out.seed.to_string());
    let api = &sc.api;
    let limits = if api.limits.is_empty() {
        "none".to_string()
    } else {
        api.limits
            .iter()
            .map(|l| escape(&spec_text(&to_value(l))))
            .collect::<Vec<_>>()
            .join(" <em>and</em> ")
    };
    fact("API limits", limits);
    fact(
        "API capacity",
        match out.api_capacity_rps {
            Some(c) => format!("{} requests/s sustainable", number(c)),
            None => "not implied by the limits".to_string(),
        },
    );
    fact(
        "Latency",
        format!(
            "{}; 429 and 413 replies after {} ms",
            escape(&spec_text(&to_value(&api.latency))),
            number(api.rejected_latency_ms)
        ),
    );
    let mut behaviour = vec![
        format!(
            "Retry-After on 429s: {}",
            if api.retry_after { "yes" } else { "no" }
        ),
        format!(
            "rate-limit headers: {}",
            if api.headers { "yes" } else { "no" }
        ),
        format!(
            "rejected requests count against the limits: {}",
            if api.count_rejected { "yes" } else { "no" }
        ),
    ];
    if let Some(e) = &api.errors {
        behaviour.push(format!(
            "{} of admitted requests fail with {}",
            percent(e.probability),
            e.status
        ));
    }
    if let Some(b) = &api.ban {
        behaviour.push(format!(
            "a client with {} 429s within {} s is banned for {}",
            b.after_429,
            number(b.within_s),
            duration(b.duration_s)
        ));
    }
    fact("API behaviour", escape(&behaviour.join("; ")));
    let w = &sc.workload;
    let mut workload = if w.clients > 1 {
        format!(
            "{} requests per client × {} clients ({} in all)",
            count(w.requests),
            w.clients,
            count(w.total_requests())
        )
    } else {
        format!("{} requests", count(w.requests))
    };
    match &w.arrival {
        None => workload.push_str(", all ready at t = 0"),
        Some(a) => {
            let _ = write!(workload, "; arrival {}", spec_text(&to_value(a)));
        }
    }
    if let Some(t) = &w.tokens {
        let _ = write!(workload, "; tokens {}", spec_text(&to_value(t)));
    }
    fact("Workload", escape(&workload));
    fact("Horizon", escape(&duration(sc.horizon_s)));
    fact("ratelab", escape(&out.version));
    h.push_str("</dl>\n</header>\n");
}

/// Which rows a column's "best" is chosen among.
#[derive(Clone, Copy, PartialEq)]
enum Among {
    /// Every strategy.
    All,
    /// Only the strategies that delivered the most successes: a strategy that gives up on most
    /// requests is fast and cheap, and must not win on cost, time or latency for it.
    MostSucceeded,
}

struct Column {
    head: &'static str,
    title: &'static str,
    cells: Vec<Cell>,
    higher_is_better: bool,
    among: Among,
}

struct Cell {
    value: Option<f64>,
    text: String,
}

fn cell(value: f64, text: String) -> Cell {
    Cell {
        value: Some(value),
        text,
    }
}

fn no_cell() -> Cell {
    Cell {
        value: None,
        text: "–".into(),
    }
}

fn latency_cell(r: &StrategyResult, v: f64) -> Cell {
    if r.latency_s.count == 0 {
        no_cell()
    } else {
        cell(v, duration(v))
    }
}

fn columns(out: &RunOutput) -> Vec<Column> {
    let rs = &out.results;
    let col = |head, title, higher_is_better, among, f: &dyn Fn(&StrategyResult) -> Cell| Column {
        head,
        title,
        cells: rs.iter().map(f).collect(),
        higher_is_better,
        among,
    };
    let mut cols = vec![
        col(
            "succeeded",
            "requests that succeeded",
            true,
            Among::All,
            &|r| cell(r.succeeded as f64, count(r.succeeded)),
        ),
        col(
            "dead-lettered",
            "requests given up: out of attempts or a failure that is not retried",
            false,
            Among::All,
            &|r| cell(r.dead_lettered as f64, count(r.dead_lettered)),
        ),
    ];
    if rs.iter().any(|r| r.rejected_by_breaker > 0) {
        cols.push(col(
            "failed fast",
            "requests failed fast by an open circuit breaker",
            false,
            Among::All,
            &|r| cell(r.rejected_by_breaker as f64, count(r.rejected_by_breaker)),
        ));
    }
    cols.extend([
        col(
            "in flight at horizon",
            "requests not final when the run stopped (at the horizon or the memory limit): queued, \
             waiting to retry or awaiting a reply",
            false,
            Among::All,
            &|r| cell(r.in_flight_at_horizon as f64, count(r.in_flight_at_horizon)),
        ),
        col(
            "attempts / request",
            "attempts that reached the API per request, retries included",
            false,
            Among::MostSucceeded,
            &|r| {
                cell(
                    r.attempts_per_request,
                    format!("{:.2}", r.attempts_per_request),
                )
            },
        ),
        col(
            "429s",
            "429 replies received",
            false,
            Among::MostSucceeded,
            &|r| cell(r.http_429 as f64, count(r.http_429)),
        ),
        col(
            "429 rate",
            "429s per attempt",
            false,
            Among::MostSucceeded,
            &|r| cell(r.rate_429(), percent(r.rate_429())),
        ),
        col(
            "makespan",
            "time of the last final state; + : not finished (the horizon came first, the run \
             stalled, or it met its memory limit: see What happened)",
            false,
            Among::MostSucceeded,
            &|r| {
                cell(
                    if r.finished {
                        r.makespan_s
                    } else {
                        f64::INFINITY
                    },
                    format!(
                        "{}{}",
                        duration(r.makespan_s),
                        if r.finished { "" } else { "+" }
                    ),
                )
            },
        ),
        col(
            "goodput",
            "successes per second of makespan",
            true,
            Among::MostSucceeded,
            &|r| cell(r.goodput_rps, format!("{}/s", number2(r.goodput_rps))),
        ),
    ]);
    if let Some(c) = out.api_capacity_rps.filter(|c| c.is_finite() && *c > 0.0) {
        cols.push(col(
            "of capacity",
            "goodput as a share of the API's sustainable rate",
            true,
            Among::MostSucceeded,
            &move |r| cell(r.goodput_rps / c, percent(r.goodput_rps / c)),
        ));
    }
    cols.extend([
        col(
            "p50",
            "median end-to-end latency of successes",
            false,
            Among::MostSucceeded,
            &|r| latency_cell(r, r.latency_s.p50),
        ),
        col(
            "p90",
            "90th percentile end-to-end latency",
            false,
            Among::MostSucceeded,
            &|r| latency_cell(r, r.latency_s.p90),
        ),
        col(
            "p99",
            "99th percentile end-to-end latency",
            false,
            Among::MostSucceeded,
            &|r| latency_cell(r, r.latency_s.p99),
        ),
        col(
            "max",
            "largest end-to-end latency",
            false,
            Among::MostSucceeded,
            &|r| latency_cell(r, r.latency_s.max),
        ),
    ]);
    cols
}

/// Which cells of a column are the best: every row that ties for the best value, among the rows
/// the column compares; none when all compared rows are equal (nothing to point at).
fn best(column: &Column, eligible: &[bool]) -> Vec<bool> {
    let values: Vec<Option<f64>> = column
        .cells
        .iter()
        .zip(eligible)
        .map(|(c, &e)| {
            c.value
                .filter(|v| (e || column.among == Among::All) && !v.is_nan())
        })
        .collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let Some(target) = present.iter().copied().reduce(|a, b| {
        if column.higher_is_better {
            a.max(b)
        } else {
            a.min(b)
        }
    }) else {
        return vec![false; values.len()];
    };
    let all_values: Vec<f64> = column.cells.iter().filter_map(|c| c.value).collect();
    if all_values.iter().all(|&v| v == target) || !target.is_finite() {
        return vec![false; values.len()];
    }
    // Ties as shown: a cell that reads the same as the best one is marked too.
    let shown: Vec<&str> = column
        .cells
        .iter()
        .zip(&values)
        .filter(|(_, v)| **v == Some(target))
        .map(|(c, _)| c.text.as_str())
        .collect();
    values
        .iter()
        .zip(&column.cells)
        .map(|(v, c)| v.is_some() && shown.contains(&c.text.as_str()))
        .collect()
}

fn summary(h: &mut String, out: &RunOutput) {
    let cols = columns(out);
    let most = out.results.iter().map(|r| r.succeeded).max().unwrap_or(0);
    let eligible: Vec<bool> = out.results.iter().map(|r| r.succeeded == most).collect();
    let marks: Vec<Vec<bool>> = cols.iter().map(|c| best(c, &eligible)).collect();
    h.push_str(
        "<section id=\"summary\">\n<h2>Summary</h2>\n<table>\n<thead>\n<tr><th>strategy</th>",
    );
    for c in &cols {
        let _ = write!(
            h,
            "<th title=\"{}\">{}</th>",
            escape(c.title),
            escape(c.head)
        );
    }
    h.push_str("</tr>\n</thead>\n<tbody>\n");
    for (i, r) in out.results.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td class=\"name\"><span class=\"swatch\" style=\"background:{}\"></span>{}</td>",
            css_colour(i),
            escape(&r.strategy)
        );
        for (c, m) in cols.iter().zip(&marks) {
            if m[i] {
                let _ = write!(
                    h,
                    "<td class=\"best\"><b>{}</b></td>",
                    escape(&c.cells[i].text)
                );
            } else {
                let _ = write!(h, "<td>{}</td>", escape(&c.cells[i].text));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
    h.push_str(
        "<p class=\"note\">Bold on green marks the best value of a column. Apart from the outcome \
         counts, columns are compared only among the strategies that delivered the most successes \
         (giving up is fast and cheap, not good). Latency is end to end: from the moment a request was ready to its \
         success, queueing, backoff and retries included. ",
    );
    if out.results.iter().any(|r| !r.finished) {
        h.push_str("+ : not finished (see What happened). ");
    }
    h.push_str("Hover a column heading for its definition.</p>\n</section>\n");
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
        "<section id=\"strategies\">\n<h2>Strategies</h2>\n<table>\n<thead>\n<tr><th>strategy</th>\
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
    h.push_str("</tbody>\n</table>\n</section>\n");
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A spec as compact text: `token_bucket (burst 10, rate_per_s 10, unit requests)`; layers
/// joined by ` + `.
fn spec_text(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            if items.iter().all(|i| i.is_object()) {
                items.iter().map(spec_text).collect::<Vec<_>>().join(" + ")
            } else {
                items.iter().map(spec_text).collect::<Vec<_>>().join("/")
            }
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "kind")
                .map(|(k, v)| format!("{k} {}", spec_text(v)))
                .collect();
            match map.get("kind").and_then(Value::as_str) {
                Some(kind) if fields.is_empty() => kind.to_string(),
                Some(kind) => format!("{kind} ({})", fields.join(", ")),
                None => fields.join(", "),
            }
        }
    }
}

/// A number as short as it can be said exactly: 10, 0.5, 8.944834163365444 → 8.945.
fn number(x: f64) -> String {
    crate::format::trimmed(x, 3)
}

fn number2(x: f64) -> String {
    format!("{x:.2}")
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

    #[test]
    fn the_best_cell_and_those_that_read_the_same_are_marked() {
        let column = |values: &[(f64, &str)], among| Column {
            head: "p50",
            title: "",
            cells: values
                .iter()
                .map(|&(v, t)| cell(v, t.to_string()))
                .collect(),
            higher_is_better: false,
            among,
        };
        // 24.21 s is the best; 24.24 s reads the same, so it is marked too; 24.4 s is not.
        let c = column(
            &[(24.4, "24.4s"), (24.21, "24.2s"), (24.24, "24.2s")],
            Among::All,
        );
        assert_eq!(best(&c, &[true; 3]), [false, true, true]);
        // Only eligible rows compete, but a tie as shown with the best is marked among them.
        let c = column(
            &[(1.0, "1.0s"), (24.21, "24.2s"), (24.24, "24.2s")],
            Among::MostSucceeded,
        );
        assert_eq!(best(&c, &[false, true, true]), [false, true, true]);
        // All equal: nothing to point at.
        let c = column(&[(3.0, "3s"), (3.0, "3s")], Among::All);
        assert_eq!(best(&c, &[true; 2]), [false, false]);
    }

    #[test]
    fn specs_read_compactly() {
        let v: Value = serde_json::json!([
            {"kind": "token_bucket", "rate_per_s": 10.0, "burst": 10},
            {"kind": "semaphore", "permits": 5}
        ]);
        assert_eq!(
            spec_text(&v),
            "token_bucket (burst 10, rate_per_s 10) + semaphore (permits 5)"
        );
        assert_eq!(spec_text(&serde_json::json!(["429", "5xx"])), "429/5xx");
    }
}
