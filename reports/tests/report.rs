//! Reports for every scenario of the library, parsed back and checked for their content.

use std::path::{Path, PathBuf};

use ratelab_reports::{ReportOptions, csv_files, render_html};
use ratelab_sim::{RunOutput, Scenario, run_scenario, scenario_files};
use roxmltree::{Document, Node};

/// Okabe–Ito as plotters writes it, in strategy order.
const COLOURS: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442",
];

/// Bins drawn at most along a time chart (and the two ends of a cumulative line).
const MAX_TIME_POINTS: usize = 202;

/// The charts drawn over time, which share one time axis.
const TIME_CHARTS: [&str; 5] = [
    "chart-progress",
    "chart-goodput",
    "chart-http429",
    "chart-tokens",
    "chart-inflight",
];

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn load(name: &str) -> Scenario {
    let mut scenario = Scenario::load(&scenarios_dir().join(name)).expect("scenario loads");
    // The one-million-request benchmark is too slow for a debug build; its report is measured
    // at full size in release (see the README) and its drawing cost by `huge_series_stay_light`.
    if scenario.workload.total_requests() > 50_000 {
        scenario.workload.requests = 20_000;
    }
    scenario
}

/// Parses the page as XML (it is XHTML-compatible; `<!DOCTYPE html>` is its only DTD).
fn parse(html: &str) -> Result<Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    Document::parse_with_options(html, options)
}

fn by_id<'a, 'i>(doc: &'a Document<'i>, id: &str) -> Node<'a, 'i> {
    doc.descendants()
        .find(|n| n.attribute("id") == Some(id))
        .unwrap_or_else(|| panic!("no element with id {id}"))
}

/// All the text under a node.
fn text_of(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn texts(node: Node) -> Vec<String> {
    node.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn has_colour(n: &Node, attr: &str, colour: &str) -> bool {
    n.attribute(attr)
        .is_some_and(|c| c.eq_ignore_ascii_case(colour))
}

/// Lines drawn in `colour` in a chart, with their point counts.
fn polylines(chart: Node, colour: &str) -> Vec<usize> {
    chart
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && has_colour(n, "stroke", colour))
        .map(|n| {
            n.attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .collect()
}

fn filled_rects(chart: Node, colour: &str) -> usize {
    chart
        .descendants()
        .filter(|n| n.has_tag_name("rect") && has_colour(n, "fill", colour))
        .count()
}

/// Checks a report against the result it was made from.
fn check_report(out: &RunOutput, html: &str) {
    let doc = parse(html)
        .unwrap_or_else(|e| panic!("{}: the report is not well-formed: {e}", out.scenario.name));
    let name = &out.scenario.name;
    let h1 = doc.descendants().find(|n| n.has_tag_name("h1")).unwrap();
    assert_eq!(h1.text(), Some(name.as_str()));
    assert!(
        doc.descendants().all(|n| !n.has_tag_name("script")),
        "no script"
    );
    assert!(
        doc.descendants()
            .all(|n| n.attribute("src").is_none() && n.attribute("href").is_none()),
        "nothing is fetched or linked"
    );

    // Summary: one row per strategy, in order, each with every column.
    let summary = by_id(&doc, "summary");
    let rows: Vec<Node> = summary
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), out.results.len(), "{name}: summary rows");
    let headers = summary
        .descendants()
        .filter(|n| n.has_tag_name("th"))
        .count();
    for (row, r) in rows.iter().zip(&out.results) {
        let cells: Vec<Node> = row.children().filter(|n| n.has_tag_name("td")).collect();
        assert_eq!(cells.len(), headers, "{name}: cells of {}", r.strategy);
        // The name, and a mark on every strategy that lost requests, whatever its share.
        let first = text_of(cells[0]);
        let lost = r.requests - r.succeeded;
        if lost == 0 {
            assert_eq!(first, r.strategy);
        } else {
            assert!(
                first.starts_with(&r.strategy) && first.contains("* lost"),
                "{name}: {first}"
            );
        }
        let succeeded = text_of(cells[1]);
        assert_eq!(succeeded.replace('\u{202f}', ""), r.succeeded.to_string());
    }

    // One story per strategy.
    let stories = by_id(&doc, "what-happened");
    let items: Vec<Node> = stories
        .descendants()
        .filter(|n| n.has_tag_name("li"))
        .collect();
    assert_eq!(items.len(), out.results.len());
    for (li, r) in items.iter().zip(&out.results) {
        let text = text_of(*li);
        assert!(text.starts_with(&r.strategy), "{text}");
        assert!(text.contains("succeeded"), "{text}");
    }

    // Charts: each has every strategy in its legend, in its colour.
    let mut ids = vec![
        "chart-progress",
        "chart-goodput",
        "chart-http429",
        "chart-inflight",
        "chart-latency",
        "chart-attempts",
    ];
    if out.scenario.workload.tokens.is_some() {
        ids.push("chart-tokens");
    } else {
        assert!(!html.contains("id=\"chart-tokens\""));
    }
    let multi = out.results.iter().any(|r| !r.clients.is_empty());
    if multi {
        ids.push("chart-fairness");
    } else {
        assert!(!html.contains("id=\"chart-fairness\""));
    }
    for id in &ids {
        let chart = by_id(&doc, id);
        let svg = chart
            .descendants()
            .find(|n| n.has_tag_name("svg"))
            .unwrap_or_else(|| panic!("{name}: {id} has no SVG"));
        let labels = texts(svg);
        let legend: Vec<String> = chart
            .descendants()
            .filter(|n| n.has_tag_name("ul") && n.attribute("class") == Some("legend"))
            .flat_map(|ul| ul.children().filter(|n| n.has_tag_name("li")))
            .map(text_of)
            .collect();
        assert!(legend.len() >= out.results.len(), "{name}: {id} legend");
        for (i, r) in out.results.iter().enumerate() {
            assert!(
                legend[i] == r.strategy || legend[i].starts_with(&format!("{} (", r.strategy)),
                "{name}: {id} legend entry {i} is {:?}, not {}",
                legend[i],
                r.strategy
            );
            let colour = COLOURS[i % COLOURS.len()];
            match *id {
                "chart-progress" | "chart-goodput" | "chart-http429" | "chart-inflight"
                | "chart-tokens" => {
                    let lines = polylines(svg, colour);
                    // Strategies beyond the palette share colours; with at most 8 there is one
                    // line per strategy.
                    if out.results.len() <= COLOURS.len() {
                        assert_eq!(lines.len(), 1, "{name}: {id} lines of {}", r.strategy);
                    }
                    let points = lines[0];
                    assert!(points >= 1, "{name}: {id} {} is empty", r.strategy);
                    assert!(points <= MAX_TIME_POINTS, "{name}: {id} {points} points");
                }
                "chart-latency" if out.results.len() <= COLOURS.len() => {
                    let lines = polylines(svg, colour);
                    assert_eq!(
                        lines.len(),
                        usize::from(r.latency_s.count > 0),
                        "{name}: latency curve of {}",
                        r.strategy
                    );
                    if let Some(&points) = lines.first() {
                        assert_eq!(points, r.latency_curve.len());
                    }
                }
                "chart-attempts" => {
                    let finals = r.succeeded + r.dead_lettered;
                    assert_eq!(
                        filled_rects(svg, colour) > 0,
                        finals > 0,
                        "{name}: attempts bars of {}",
                        r.strategy
                    );
                }
                "chart-latency" => {}
                "chart-fairness" => {
                    if r.clients.len() <= 16 {
                        assert_eq!(
                            filled_rects(svg, colour),
                            r.clients.len(),
                            "{name}: a bar per client of {}",
                            r.strategy
                        );
                    }
                }
                _ => unreachable!(),
            }
        }
        // Axis titles with units.
        let axis_titles = [
            ("chart-progress", "requests succeeded"),
            ("chart-goodput", "goodput (successes/s)"),
            ("chart-http429", "429s per "),
            ("chart-tokens", "tokens sent per second (log scale)"),
            ("chart-inflight", "attempts in flight"),
            ("chart-latency", "end-to-end latency (log scale)"),
            ("chart-attempts", "requests (log scale)"),
            ("chart-fairness", "goodput (successes/s)"),
        ];
        let want = axis_titles.iter().find(|(i, _)| i == id).unwrap().1;
        assert!(
            labels.iter().any(|l| l.starts_with(want)),
            "{name}: {id} axis title {want:?} in {labels:?}"
        );
        if *id == "chart-latency" {
            assert!(labels.iter().any(|l| l == "share of successes"));
        }
    }
    same_time_axis(out, &doc);
}

/// The x tick labels of a drawing (centred numbers: the y labels are right-aligned) with their
/// x pixel.
fn x_ticks(svg: Node) -> Vec<(String, String)> {
    svg.descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("text-anchor") == Some("middle"))
        .filter_map(|n| {
            let label = n.text()?.trim().to_string();
            label.parse::<f64>().ok()?;
            Some((label, n.attribute("x")?.to_string()))
        })
        .collect()
}

/// Every time chart puts one instant at the same x pixel: their tick labels, wide and narrow,
/// are the same labels at the same x.
fn same_time_axis(out: &RunOutput, doc: &Document) {
    let name = &out.scenario.name;
    for class in ["chart wide", "chart narrow"] {
        let ticks: Vec<(&str, Vec<(String, String)>)> = TIME_CHARTS
            .iter()
            .filter(|id| doc.descendants().any(|n| n.attribute("id") == Some(**id)))
            .map(|id| {
                let svg = by_id(doc, id)
                    .descendants()
                    .find(|n| n.has_tag_name("svg") && n.attribute("class") == Some(class))
                    .unwrap_or_else(|| panic!("{name}: {id} has no {class} drawing"));
                (*id, x_ticks(svg))
            })
            .collect();
        assert!(ticks.len() >= 4, "{name}: time charts {}", ticks.len());
        let (first, reference) = &ticks[0];
        assert!(reference.len() >= 2, "{name}: {first} ticks {reference:?}");
        for (id, t) in &ticks[1..] {
            assert_eq!(
                t, reference,
                "{name}: {id} ({class}) and {first} differ in time axis"
            );
        }
    }
}

#[test]
fn every_scenario_gets_a_complete_report() {
    let names: Vec<String> = scenario_files(&scenarios_dir())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 10, "the scenario library: {names:?}");
    for file in &names {
        let scenario = load(file);
        let out = run_scenario(&scenario, scenario.seed, None);
        let options = ReportOptions {
            scenario_path: Some(format!("scenarios/{file}")),
            built_in: false,
        };
        let html = render_html(&out, &options);
        check_report(&out, &html);
        assert!(html.contains(&format!("ratelab run scenarios/{file} --seed {}", out.seed)));
        assert!(html.len() < 2_000_000, "{file}: {} bytes", html.len());
    }
}

#[test]
fn a_report_from_saved_json_is_byte_identical() {
    let scenario = load("two-instances.toml");
    let out = run_scenario(&scenario, 7, None);
    let options = ReportOptions::default();
    let during = render_html(&out, &options);
    let json = serde_json::to_string_pretty(&out).unwrap();
    let saved: RunOutput = serde_json::from_str(&json).unwrap();
    assert_eq!(saved, out);
    assert_eq!(render_html(&saved, &options), during);
    // And the same run gives the same bytes again.
    let again = run_scenario(&scenario, 7, None);
    assert_eq!(render_html(&again, &options), during);
    assert!(during.contains("ratelab run two-instances.toml --seed 7"));
}

#[test]
fn reports_carry_no_absolute_path_or_time() {
    let scenario = load("seed-semaphore.toml");
    let out = run_scenario(&scenario, scenario.seed, None);
    let options = ReportOptions {
        scenario_path: Some("/home/someone/lab/my scenario.toml".into()),
        built_in: false,
    };
    let html = render_html(&out, &options);
    assert!(html.contains("ratelab run &#39;my scenario.toml&#39; --seed 42"));
    assert!(!html.contains("/home/someone"));
    let built_in = ReportOptions {
        scenario_path: None,
        built_in: true,
    };
    assert!(
        render_html(&out, &built_in).contains("<code class=\"cmd\">ratelab run --seed 42</code>")
    );
}

#[test]
fn scenario_text_is_escaped() {
    let text = r#"
        name = "<script>alert(1)</script>"
        description = "Tom & Jerry's \"<b>bold</b>\" API"
        [workload]
        requests = 30
        [api]
        limits = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
        latency = { kind = "fixed", ms = 100 }
        [[strategy]]
        name = "<img src=x onerror=alert(2)>"
        admission = [{ kind = "semaphore", permits = 3 }]
        [[strategy]]
        name = "a&b"
        admission = [{ kind = "token_bucket", rate_per_s = 10, burst = 10 }]
    "#;
    let scenario = Scenario::parse(text, "x.toml".as_ref()).unwrap();
    let out = run_scenario(&scenario, 1, None);
    let html = render_html(&out, &ReportOptions::default());
    check_report(&out, &html);
    let doc = parse(&html).unwrap();
    let injected = |n: &Node| {
        n.has_tag_name("script")
            || n.has_tag_name("img")
            || (n.has_tag_name("b") && n.text() == Some("bold"))
    };
    assert!(!doc.descendants().any(|n| injected(&n)));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(!html.contains("<script>"));
    let lead = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("lead"))
        .unwrap();
    assert_eq!(lead.text(), Some("Tom & Jerry's \"<b>bold</b>\" API"));
    // The shell command quotes the odd file name.
    assert!(html.contains("ratelab run &#39;&lt;script&gt;alert(1)&lt;/script&gt;.toml&#39;"));
}

#[test]
fn huge_series_stay_light() {
    // A day of per-second series for five strategies: drawn from at most ~200 bins a line, each
    // bin 600 s wide, said in the captions; the bins keep the totals.
    let scenario = load("seed-semaphore.toml");
    let mut out = run_scenario(&scenario, scenario.seed, None);
    let day = 86_400;
    for (k, r) in out.results.iter_mut().enumerate() {
        r.series.sends = (0..day).map(|i| (i * 7 + k) as u64 % 13).collect();
        r.series.successes = (0..day).map(|i| (i + k) as u64 % 11).collect();
        r.series.http_429 = (0..day).map(|i| (i * 3) as u64 % 5).collect();
        r.series.in_flight = (0..day).map(|i| (i % 17) as f64 / 3.0).collect();
        r.series.http_429[40_000 + k] = 999;
        r.makespan_s = day as f64;
    }
    let html = render_html(&out, &ReportOptions::default());
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    check_report(&out, &html);
    let doc = parse(&html).unwrap();
    let rejections = by_id(&doc, "chart-http429");
    assert!(text_of(rejections).contains("each bin of 10 min"));
    let labels = texts(rejections);
    assert!(labels.iter().any(|l| l == "time (h)"), "{labels:?}");
    assert!(
        labels.iter().any(|l| l == "429s per 10 min bin"),
        "{labels:?}"
    );
    // The spike's bin holds 999 + the bin's other 429s: the symlog axis reaches 1000.
    assert!(labels.iter().any(|l| l == "1000"), "{labels:?}");
}

/// The successes chart draws the ideal line when the ideal is known, and says so when not.
#[test]
fn the_successes_chart_has_the_ideal_line_when_known() {
    let scenario = load("seed-semaphore.toml");
    let mut out = run_scenario(&scenario, scenario.seed, None);
    let ideal = out.results[0]
        .ideal_makespan_s
        .expect("seed-semaphore has an ideal");
    let html = render_html(&out, &ReportOptions::default());
    let doc = parse(&html).unwrap();
    let progress = by_id(&doc, "chart-progress");
    assert!(text_of(progress).contains("ideal: the API's limits, no retries"));
    let grey = polylines(progress, "#6E6E6E");
    assert_eq!(grey, vec![2, 2], "one ideal line, wide and narrow");
    assert!(ideal > 0.0);
    for r in &mut out.results {
        r.ideal_makespan_s = None;
    }
    let html = render_html(&out, &ReportOptions::default());
    let doc = parse(&html).unwrap();
    let progress = by_id(&doc, "chart-progress");
    assert!(text_of(progress).contains("No ideal line"));
    assert!(polylines(progress, "#6E6E6E").is_empty());
}

/// The latency legend counts successes; token-limited runs get the tokens chart with the limit.
#[test]
fn latency_counts_successes_and_tokens_show_the_limit() {
    let scenario = load("ai-rpm-tpm.toml");
    let out = run_scenario(&scenario, scenario.seed, None);
    let html = render_html(&out, &ReportOptions::default());
    let doc = parse(&html).unwrap();
    let latency = text_of(by_id(&doc, "chart-latency"));
    for r in &out.results {
        let n = r.latency_s.count.to_string();
        let n = if n.len() > 3 {
            format!("{}\u{202f}{}", &n[..n.len() - 3], &n[n.len() - 3..])
        } else {
            n
        };
        assert!(
            latency.contains(&format!("{} (n = {n} successes, median ", r.strategy)),
            "{latency}"
        );
    }
    let tokens = by_id(&doc, "chart-tokens");
    assert!(text_of(tokens).contains("API's token limit (3\u{202f}333 tokens/s)"));
    assert!(out.results.iter().all(|r| !r.series.tokens.is_empty()));
    // Every strategy's line is dashed its own way (the first is solid).
    let dashes: Vec<Option<&str>> = (0..out.results.len())
        .map(|i| {
            tokens
                .descendants()
                .find(|n| n.has_tag_name("polyline") && has_colour(n, "stroke", COLOURS[i]))
                .and_then(|n| n.attribute("stroke-dasharray"))
        })
        .collect();
    assert_eq!(dashes[0], None);
    for (i, d) in dashes.iter().enumerate().skip(1) {
        assert!(d.is_some(), "strategy {i} is dashed");
        assert!(!dashes[..i].contains(d), "strategy {i} has its own dash");
    }
}

#[test]
fn csv_files_hold_every_second() {
    let scenario = load("two-instances.toml");
    let out = run_scenario(&scenario, scenario.seed, None);
    let files = csv_files(&out);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "summary.csv",
            "bucket-10-s-each.csv",
            "bucket-10-s-each.client-0.csv",
            "bucket-10-s-each.client-1.csv",
            "bucket-5-s-each.csv",
            "bucket-5-s-each.client-0.csv",
            "bucket-5-s-each.client-1.csv",
            "aimd-each.csv",
            "aimd-each.client-0.csv",
            "aimd-each.client-1.csv",
            "fixed-delay-100ms-each.csv",
            "fixed-delay-100ms-each.client-0.csv",
            "fixed-delay-100ms-each.client-1.csv",
        ]
    );
    // The summary: a row per strategy, the pick marked.
    let summary: Vec<Vec<&str>> = files[0]
        .contents
        .lines()
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(summary[0].join(","), ratelab_reports::SUMMARY_HEADER);
    assert_eq!(summary.len(), 1 + out.results.len());
    let pick = out.verdict.as_ref().unwrap().strategy.as_deref().unwrap();
    for (row, r) in summary[1..].iter().zip(&out.results) {
        assert_eq!(row.len(), summary[0].len());
        assert_eq!(row[0], r.strategy);
        assert_eq!(row[2], r.succeeded.to_string());
        assert_eq!(
            *row.last().unwrap(),
            if r.strategy == pick { "1" } else { "0" }
        );
    }
    let whole = &files[1].contents;
    let mut lines = whole.lines();
    assert_eq!(
        lines.next(),
        Some("second,sends,successes,http_429,in_flight")
    );
    let r = &out.results[0];
    assert_eq!(lines.clone().count(), r.series.sends.len());
    let (mut sends, mut successes, mut http_429) = (0u64, 0u64, 0u64);
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], i.to_string());
        sends += f[1].parse::<u64>().unwrap();
        successes += f[2].parse::<u64>().unwrap();
        http_429 += f[3].parse::<u64>().unwrap();
        assert!(f[4].parse::<f64>().unwrap() >= 0.0);
    }
    assert_eq!(sends, r.attempts);
    assert_eq!(successes, r.succeeded);
    assert_eq!(http_429, r.http_429);
}

#[test]
fn stories_say_what_the_numbers_say() {
    let scenario = load("seed-semaphore.toml");
    let out = run_scenario(&scenario, scenario.seed, None);
    let html = render_html(&out, &ReportOptions::default());
    let doc = parse(&html).unwrap();
    let stories: Vec<String> = by_id(&doc, "what-happened")
        .descendants()
        .filter(|n| n.has_tag_name("li"))
        .map(text_of)
        .collect();
    let capacity = out.api_capacity_rps.unwrap();
    for (r, story) in out.results.iter().zip(&stories) {
        if r.http_429 == 0 {
            assert!(story.contains("no 429s"), "{story}");
        } else {
            let share = 100.0 * r.http_429 as f64 / r.attempts as f64;
            assert!(story.contains(&format!("{share:.0}\u{a0}% of")), "{story}");
        }
        if r.dead_lettered > 0 {
            assert!(story.contains("dead-lettered"), "{story}");
        }
        let ratio = r.makespan_s / (r.requests as f64 / capacity);
        if r.succeeded == r.requests && ratio >= 1.1 {
            assert!(
                story.contains(&format!("{ratio:.1}× slower than the API's limit allows")),
                "{story}"
            );
        }
    }
}

/// The summary's marked cells of `html`: (strategy, column) for every `td.best`.
fn marked(html: &str) -> Vec<(String, String)> {
    let doc = parse(html).unwrap();
    let summary = by_id(&doc, "summary");
    let part = |tag: &str| summary.descendants().find(|n| n.has_tag_name(tag)).unwrap();
    // The first header is the strategy column.
    let heads: Vec<String> = part("thead")
        .descendants()
        .filter(|n| n.has_tag_name("th"))
        .map(text_of)
        .collect();
    let mut marks = Vec::new();
    for row in part("tbody").children().filter(|n| n.has_tag_name("tr")) {
        let cells: Vec<Node> = row.children().filter(|n| n.is_element()).collect();
        for (i, c) in cells.iter().enumerate() {
            if c.attribute("class") == Some("best") {
                marks.push((text_of(cells[0]), heads[i].clone()));
            }
        }
    }
    marks
}

#[test]
fn best_values_are_marked_among_the_right_rows() {
    let scenario = load("seed-semaphore.toml");
    let out = run_scenario(&scenario, scenario.seed, None);
    let marks = marked(&render_html(&out, &ReportOptions::default()));
    let of = |strategy: &str| -> Vec<&str> {
        marks
            .iter()
            .filter(|(s, _)| s == strategy)
            .map(|(_, c)| c.as_str())
            .collect()
    };
    // Outcome columns compare everyone; `semaphore-5` (22 of 500) has the fastest makespan and
    // p50 but is never marked: the other columns compare only the rows with the most successes.
    assert_eq!(of("semaphore-5"), Vec::<&str>::new());
    assert_eq!(of("semaphore-5+backoff"), ["succeeded", "dead-lettered"]);
    assert_eq!(
        of("semaphore-5+retry-after"),
        ["succeeded", "dead-lettered"]
    );
    assert_eq!(
        of("bucket-10/s+semaphore-5"),
        [
            "succeeded",
            "dead-lettered",
            "attempts / request",
            "429s",
            "429 rate",
            "makespan",
            "goodput",
            "of capacity",
            "p50 of ok",
            "p90 of ok",
            "max of ok"
        ]
    );
    assert_eq!(
        of("aimd+backoff"),
        [
            "succeeded",
            "dead-lettered",
            "of capacity",
            "p90 of ok",
            "p99 of ok"
        ],
        "p90 and the share of the ideal tie as shown with the bucket"
    );
    // Columns where every row is equal (nobody rejected by a breaker, nothing pending) are not
    // marked at all.
    assert!(
        marks
            .iter()
            .all(|(_, c)| c != "breaker" && c != "in flight"),
        "{marks:?}"
    );
}
