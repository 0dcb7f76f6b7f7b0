//! Every report of the scenario library, and a sweep's landscape, opened in headless Chromium at 1280 px and at 390 px
//! wide: every chart rendered (an SVG with a size, its axis labels and its lines), a legend per
//! chart, and nothing wider than the window (no horizontal scrolling of the page).
//!
//! The check runs inside the browser: the test adds a script to its own copy of each report (the
//! reports themselves have none), loads it in an iframe of the width under test (headless
//! Chromium will not make a window narrower than 500 px) and reads the measurements from the
//! DOM Chromium dumps. Chromium is found as `$RATELAB_CHROMIUM`, `chromium` or
//! `chromium-browser`; without it the test says so and passes, unless
//! `RATELAB_REQUIRE_BROWSER=1` (as `.ci/run` sets), which makes a missing browser a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use ratelab::sim::{Scenario, run_scenario, scenario_files};
use ratelab::sweep::report::{Asked, report_data};
use ratelab::sweep::{Param, Plan, best};
use ratelab_reports::{ReportOptions, render_html, render_sweep_html};
use serde_json::Value;

/// Measures the page once it is laid out and sends the numbers to the parent frame.
const CHECK: &str = r#"<script>
(function () {
  var d = document.documentElement;
  var figures = [].slice.call(document.querySelectorAll('figure'));
  var r = {
    scrollWidth: d.scrollWidth,
    innerWidth: window.innerWidth,
    figures: figures.map(function (f) {
      // The charts' drawings, not the line samples of their legends.
      var svgs = [].slice.call(f.querySelectorAll('svg')).filter(function (s) {
        return s.getBoundingClientRect().width > 0 && !s.closest('.legend');
      });
      return {
        id: f.id,
        svgs: svgs.map(function (s) {
          var b = s.getBoundingClientRect();
          return {
            w: Math.round(b.width),
            h: Math.round(b.height),
            right: Math.round(b.right),
            texts: s.querySelectorAll('text').length,
            lines: s.querySelectorAll('path, polyline, line, rect, circle').length
          };
        }),
        legend: [].slice.call(f.querySelectorAll('.legend li')).filter(function (li) {
          return li.getBoundingClientRect().width > 0;
        }).length,
        explained: f.querySelectorAll('p.empty').length
      };
    })
  };
  window.parent.postMessage(JSON.stringify(r), '*');
})();
</script>"#;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RATELAB_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Loads `report` in two iframes, 1280 and 390 px wide, and returns what the script measured in
/// each, by width.
fn measure(browser: &Path, dir: &Path, report: &str) -> Vec<(u32, Value)> {
    let frame = dir.join(format!("frame-{report}"));
    std::fs::write(
        &frame,
        format!(
            "<!DOCTYPE html><html><body style=\"margin:0\">\
             <iframe src=\"{report}\" width=\"1280\" height=\"4000\" style=\"border:0\"></iframe>\
             <iframe src=\"{report}\" width=\"390\" height=\"4000\" style=\"border:0\"></iframe>\
             <script>window.addEventListener('message', function (e) {{ \
             var m = JSON.parse(e.data); \
             document.body.setAttribute('data-check-' + m.innerWidth, e.data); }});</script>\
             </body></html>"
        ),
    )
    .unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--window-size=1700,4000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", frame.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    [1280, 390]
        .into_iter()
        .map(|width| {
            let key = format!("data-check-{width}=\"");
            let start = dom.find(&key).unwrap_or_else(|| {
                panic!("{report} at {width} px: no measurement in the DOM:\n{dom}")
            }) + key.len();
            let end = start + dom[start..].find('"').unwrap();
            let json = dom[start..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            (width, serde_json::from_str(&json).unwrap())
        })
        .collect()
}

#[test]
fn every_report_renders_its_charts_at_1280_and_390_px() {
    let Some(browser) = chromium() else {
        if std::env::var("RATELAB_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("RATELAB_REQUIRE_BROWSER=1 but no chromium: apt-get install chromium");
        }
        eprintln!("browser check skipped: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("ratelab-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut problems = Vec::new();
    for path in scenario_files(&root.join("scenarios")).unwrap() {
        let scenario = Scenario::load(&path).unwrap();
        let out = run_scenario(&scenario, scenario.seed, None);
        let html = render_html(&out, &ReportOptions::default());
        let name = format!("{}.html", scenario.name);
        check(&browser, &dir, &name, &html, &mut problems);
    }
    // A sweep's landscape: line charts, and heat maps over two parameters (one a word).
    check(
        &browser,
        &dir,
        "sweep.html",
        &sweep_report(root),
        &mut problems,
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Loads `html` as `name` at both widths and adds what looks wrong to `problems`.
fn check(browser: &Path, dir: &Path, name: &str, html: &str, problems: &mut Vec<String>) {
    let charts = html.matches("<figure").count();
    std::fs::write(
        dir.join(name),
        html.replace("</body>", &format!("{CHECK}</body>")),
    )
    .unwrap();
    for (width, m) in measure(browser, dir, name) {
        let at = format!("{name} at {width} px");
        let (scroll, inner) = (m["scrollWidth"].as_i64(), m["innerWidth"].as_i64());
        if scroll > inner {
            problems.push(format!(
                "{at}: the page is {scroll:?} px wide in a {inner:?} px window"
            ));
        }
        let figures = m["figures"].as_array().unwrap();
        if figures.len() != charts {
            problems.push(format!("{at}: {} of {charts} charts", figures.len()));
        }
        for f in figures {
            let id = f["id"].as_str().unwrap_or("?");
            let svgs = f["svgs"].as_array().unwrap();
            if f["explained"].as_i64() > Some(0) && svgs.is_empty() {
                continue; // "nothing to draw", said in words
            }
            if svgs.is_empty() {
                problems.push(format!("{at}: {id}: no visible SVG"));
            }
            for s in svgs {
                let ok = s["w"].as_i64() > Some(100)
                    && s["h"].as_i64() > Some(50)
                    && s["texts"].as_i64() >= Some(4)
                    && s["lines"].as_i64() >= Some(3)
                    && s["right"].as_i64() <= inner;
                if !ok {
                    problems.push(format!("{at}: {id}: {s}"));
                }
            }
            if f["legend"].as_i64() < Some(1) {
                problems.push(format!("{at}: {id}: no legend"));
            }
        }
    }
}

/// The landscape of a small sweep of the library's token-bucket story: five rates × three
/// jitters, two seeds.
fn sweep_report(root: &Path) -> String {
    let path = root.join("scenarios/seed-token-bucket.toml");
    let base = Scenario::load(&path).unwrap();
    let params = [
        r#"strategy."token-bucket-10/s".admission.0.rate_per_s=6..=14:2"#,
        "strategy.*.retry.jitter=full,none,equal",
    ]
    .iter()
    .map(|p| Param::parse(p).unwrap())
    .collect();
    let plan = Plan::new(&base, &path, params, vec![1, 2]).unwrap();
    let lines = plan
        .run(&plan.jobs((0, 1)), 2, &mut std::io::sink(), &mut |_, _| {})
        .unwrap();
    let b = best(&lines, None);
    let asked = Asked {
        scenario: Path::new("scenarios/seed-token-bucket.toml"),
        objective: None,
        verb: "sweep",
        shard: None,
        subset: None,
    };
    render_sweep_html(&report_data(&plan, &lines, None, b.as_ref(), &asked))
}
