//! The landscape report of a sweep, from made-up numbers: valid XHTML, a chart per
//! (parameter, metric), the best point named and outlined, categorical axes, heat maps only with
//! two parameters, one map per strategy for a few and one of the best for many, and the same
//! bytes twice.

use std::collections::BTreeMap;

use ratelab_reports::{SweepBest, SweepCell, SweepData, SweepParam, render_sweep_html};
use roxmltree::{Document, Node};

fn parse(html: &str) -> Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    Document::parse_with_options(html, options).expect("the page is well-formed XML")
}

fn text_of(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

/// A sweep of `rate` (numbers) × `jitter` (words) over `strategies` strategies and `seeds`
/// seeds; makespan is lowest at rate 10, jitter "full", strategy 0.
fn data(strategies: usize, seeds: usize, two: bool) -> SweepData {
    let rates = ["6", "8", "10", "12"];
    let jitters: &[&str] = if two {
        &["full", "none", "equal"]
    } else {
        &["full"]
    };
    let mut params = vec![SweepParam {
        path: "strategy.*.admission.0.rate_per_s".into(),
        values: rates.iter().map(|s| s.to_string()).collect(),
    }];
    if two {
        params.push(SweepParam {
            path: "strategy.*.retry.jitter".into(),
            values: jitters.iter().map(|s| s.to_string()).collect(),
        });
    }
    let mut cells = Vec::new();
    for r in 0..rates.len() {
        for j in 0..jitters.len() {
            for s in 0..strategies {
                for seed in 0..seeds as u64 {
                    let makespan = 50.0
                        + (r as f64 - 2.0).abs() * 5.0
                        + j as f64 * 2.0
                        + s as f64
                        + seed as f64 * 0.5;
                    let mut point = vec![r];
                    if two {
                        point.push(j);
                    }
                    cells.push(SweepCell {
                        point,
                        strategy: s,
                        seed: 42 + seed,
                        meets: !(r == 0 && s == 1),
                        metrics: BTreeMap::from([
                            ("succeeded".to_string(), 500.0 - r as f64),
                            ("makespan_s".to_string(), makespan),
                            ("http_429_rate".to_string(), 0.01 * r as f64),
                            ("goodput_rps".to_string(), 500.0 / makespan),
                        ]),
                    });
                }
            }
        }
    }
    let point = if two { vec![2, 0] } else { vec![2] };
    SweepData {
        scenario: "made-up <sweep>".into(),
        description: "Numbers for a test.".into(),
        command: "ratelab sweep x.toml --param … --out FILE.jsonl".into(),
        params,
        strategies: (0..strategies).map(|s| format!("strategy-{s}")).collect(),
        seeds: (42..42 + seeds as u64).collect(),
        points: rates.len() * jitters.len(),
        runs: rates.len() * jitters.len() * seeds,
        subset: None,
        hash: "0123456789abcdef".into(),
        objective: "minimize makespan_s where http_429_rate <= 0.05".into(),
        metric: "makespan_s".into(),
        maximize: false,
        then: Vec::new(),
        best: Some(SweepBest {
            point,
            strategy: 0,
            summary: "best: strategy-0 at rate=10 — makespan_s = 50".into(),
        }),
        cells,
    }
}

fn figures<'a, 'i>(doc: &'a Document<'i>, class: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.has_tag_name("figure") && n.attribute("class") == Some(class))
        .collect()
}

#[test]
fn every_parameter_and_metric_has_a_chart_and_the_best_is_named() {
    let d = data(2, 3, true);
    let html = render_sweep_html(&d);
    let doc = parse(&html);
    let lines = figures(&doc, "sweep-line");
    // Two parameters × the four metrics (makespan_s is the objective's and one of them).
    assert_eq!(lines.len(), 8);
    for f in &lines {
        let svgs: Vec<Node> = f
            .descendants()
            .filter(|n| n.has_tag_name("svg") && n.attribute("role") == Some("img"))
            .collect();
        assert_eq!(svgs.len(), 2, "wide and narrow");
        assert!(f.descendants().any(|n| n.has_tag_name("h3")));
        let caption = text_of(
            f.descendants()
                .find(|n| n.has_tag_name("figcaption"))
                .unwrap(),
        );
        assert!(caption.contains("95 % confidence interval"), "{caption}");
        assert!(
            f.descendants()
                .any(|n| n.attribute("class") == Some("legend"))
        );
    }
    let best = text_of(
        doc.descendants()
            .find(|n| n.attribute("id") == Some("best"))
            .unwrap(),
    );
    assert!(best.contains("strategy-0"), "{best}");
    assert!(
        best.contains("strategy.*.admission.0.rate_per_s=10"),
        "{best}"
    );
    assert!(best.contains("strategy.*.retry.jitter=full"), "{best}");
    assert!(html.contains("made-up &lt;sweep&gt;"));
    // The other parameter is held at the best point's value.
    let jitter_chart = text_of(lines[4]);
    assert!(
        jitter_chart
            .contains("held at the best point's values: strategy.*.admission.0.rate_per_s=10"),
        "{jitter_chart}"
    );
}

#[test]
fn words_make_a_categorical_axis() {
    let html = render_sweep_html(&data(2, 3, true));
    let doc = parse(&html);
    let jitter = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("line-1-makespan-s"))
        .expect("the jitter chart");
    let labels: Vec<String> = jitter
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| text_of(n).trim().to_string())
        .collect();
    for word in ["full", "none", "equal"] {
        assert!(labels.iter().any(|l| l == word), "{word} not in {labels:?}");
    }
    assert!(text_of(jitter).contains("a categorical axis"));
}

#[test]
fn two_parameters_make_heat_maps_with_the_best_cell_outlined() {
    let html = render_sweep_html(&data(2, 3, true));
    let doc = parse(&html);
    let maps = figures(&doc, "sweep-heat");
    assert_eq!(maps.len(), 2, "one map per strategy");
    let first = text_of(maps[0]);
    assert!(first.contains("the best point (outlined)"), "{first}");
    // Cells are labelled with their values: rate 10, jitter full, strategy 0 is 50.
    assert!(
        maps[0]
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .any(|n| text_of(n).trim() == "50.5"),
        "{first}"
    );
    // Strategy 1 misses the constraints at rate 6: grey cells, said in its legend.
    assert!(text_of(maps[1]).contains("misses the objective"));
    assert!(!text_of(maps[1]).contains("the best point (outlined)"));
    // Many strategies: one map of the best at each cell, tagged S1….
    let html = render_sweep_html(&data(5, 2, true));
    let doc = parse(&html);
    let maps = figures(&doc, "sweep-heat");
    assert_eq!(maps.len(), 1);
    assert!(text_of(maps[0]).contains("S1 strategy-0"));
    let caption = text_of(figures(&doc, "sweep-line")[0]);
    assert!(
        caption.contains("the range (minimum to maximum) over the 2 seeds"),
        "{caption}"
    );
    // One parameter: no heat map.
    let html = render_sweep_html(&data(2, 1, false));
    assert!(figures(&parse(&html), "sweep-heat").is_empty());
    assert_eq!(figures(&parse(&html), "sweep-line").len(), 4);
}

#[test]
fn the_same_data_gives_the_same_bytes() {
    let a = render_sweep_html(&data(3, 3, true));
    let mut shuffled = data(3, 3, true);
    shuffled.cells.reverse();
    assert_eq!(a, render_sweep_html(&data(3, 3, true)));
    assert_eq!(a, render_sweep_html(&shuffled), "cells in any order");
    assert!(!a.contains("<script"));
    assert!(!a.contains("http://") || !a.contains("src=\"http"));
}

#[test]
fn a_flat_objective_falls_back_to_the_next_metric_of_the_order() {
    let mut d = data(2, 1, true);
    d.metric = "succeeded".into();
    d.maximize = true;
    d.then = vec![("makespan_s".into(), false)];
    for c in &mut d.cells {
        c.metrics.insert("succeeded".into(), 500.0);
    }
    let html = render_sweep_html(&d);
    let doc = parse(&html);
    let maps = figures(&doc, "sweep-heat");
    assert!(text_of(maps[0]).contains("strategy-0: makespan_s"));
    assert!(html.contains("so the maps show makespan_s"));
}
