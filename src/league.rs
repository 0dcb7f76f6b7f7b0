//! The league: every entry of `entries.toml` (zero-knowledge strategies and library presets)
//! run against every API of a folder, each told nothing about the limit, and scored against the
//! oracle's ideal makespan ([`ratelab_sim::oracle`]). `ratelab league DIR` and `cargo bench
//! --bench league` print it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ratelab_reports::{escape, format};
use ratelab_sim::scenario::scenario_files;
use ratelab_sim::{Scenario, StrategyResult, run_scenario};
use ratelab_strategies::config::{Checker, Invalid};
use ratelab_strategies::spec::StrategySpec;
use serde::{Deserialize, Serialize};

use crate::table::duration;

/// The entries file of a league folder.
pub const ENTRIES: &str = "entries.toml";

/// `entries.toml`: the strategies every API is run against.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesFile {
    /// Entries with no parameter that encodes the limit.
    #[serde(default)]
    zero_knowledge: Vec<StrategySpec>,
    /// The clients people run, in their libraries' pairing.
    #[serde(default)]
    library: Vec<StrategySpec>,
}

/// What kind of entry a strategy is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// No parameter encodes the limit: it must find it.
    ZeroKnowledge,
    /// A library's client as people run it.
    Library,
}

impl Family {
    fn label(self) -> &'static str {
        match self {
            Family::ZeroKnowledge => "zero-knowledge",
            Family::Library => "library",
        }
    }
}

/// A league folder, loaded and validated.
#[derive(Clone, Debug)]
pub struct League {
    /// The entries, zero-knowledge first, in file order.
    pub entries: Vec<(StrategySpec, Family)>,
    /// Each API file with the entries as its strategies, in file-name order.
    pub apis: Vec<(PathBuf, Scenario)>,
}

/// Why a league folder cannot be run: the file and what is wrong with it.
#[derive(Debug)]
pub struct LeagueError(pub String);

impl std::fmt::Display for LeagueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn problems_text(path: &Path, problems: &[Invalid]) -> String {
    let mut s = format!("{}: invalid:", path.display());
    for p in problems {
        let _ = write!(s, "\n  {p}");
    }
    s
}

impl League {
    /// Reads `dir/entries.toml` and every other `*.toml` of `dir` (an API: `[workload]` and
    /// `[api]`, no `[[strategy]]`).
    pub fn load(dir: &Path) -> Result<League, LeagueError> {
        let entries_path = dir.join(ENTRIES);
        let text = std::fs::read_to_string(&entries_path).map_err(|e| {
            LeagueError(format!(
                "{}: cannot read the league's entries: {e}",
                entries_path.display()
            ))
        })?;
        let file: EntriesFile = toml::from_str(&text)
            .map_err(|e| LeagueError(format!("{}: {e}", entries_path.display())))?;
        let mut entries: Vec<(StrategySpec, Family)> = file
            .zero_knowledge
            .into_iter()
            .map(|s| (s, Family::ZeroKnowledge))
            .chain(file.library.into_iter().map(|s| (s, Family::Library)))
            .collect();
        if entries.is_empty() {
            return Err(LeagueError(format!(
                "{}: no [[zero_knowledge]] or [[library]] entry",
                entries_path.display()
            )));
        }
        let mut problems = Vec::new();
        for (i, (spec, family)) in entries.iter().enumerate() {
            let table = match family {
                Family::ZeroKnowledge => "zero_knowledge",
                Family::Library => "library",
            };
            spec.check(&mut Checker::new(format!("{table}[{i}]"), &mut problems));
            if entries[..i].iter().any(|(o, _)| o.name == spec.name) {
                problems.push(Invalid {
                    field: format!("{table}[{i}].name"),
                    problem: format!("\"{}\" is used by an earlier entry", spec.name),
                });
            }
        }
        if !problems.is_empty() {
            return Err(LeagueError(problems_text(&entries_path, &problems)));
        }
        let strategies: Vec<toml::Value> = entries
            .iter()
            .map(|(s, _)| toml::Value::try_from(s).expect("a strategy serialises to TOML"))
            .collect();
        let mut apis = Vec::new();
        let files = scenario_files(dir)
            .map_err(|e| LeagueError(format!("{}: cannot read the folder: {e}", dir.display())))?;
        for path in files.into_iter().filter(|p| !p.ends_with(ENTRIES)) {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| LeagueError(format!("{}: {e}", path.display())))?;
            let mut table: toml::Table = toml::from_str(&text)
                .map_err(|e| LeagueError(format!("{}: {e}", path.display())))?;
            if table.contains_key("strategy") {
                return Err(LeagueError(format!(
                    "{}: a league API holds no [[strategy]]: the entries are in {ENTRIES}",
                    path.display()
                )));
            }
            table.insert("strategy".into(), toml::Value::Array(strategies.clone()));
            let whole = toml::to_string(&table).expect("a table serialises");
            let scenario =
                Scenario::parse(&whole, &path).map_err(|e| LeagueError(e.to_string()))?;
            apis.push((path, scenario));
        }
        if apis.is_empty() {
            return Err(LeagueError(format!(
                "{}: no API file (*.toml besides {ENTRIES})",
                dir.display()
            )));
        }
        entries.shrink_to_fit();
        Ok(League { entries, apis })
    }

    /// Runs every entry against every API, telling `progress` the API's name before each.
    pub fn run(&self, mut progress: impl FnMut(&str)) -> LeagueOutput {
        let apis = self
            .apis
            .iter()
            .map(|(path, sc)| {
                progress(&sc.name);
                let out = run_scenario(sc, sc.seed, None);
                let ideal = out.results.first().and_then(|r| r.ideal_makespan_s);
                let results: Vec<Cell> = out
                    .results
                    .iter()
                    .zip(&self.entries)
                    .map(|(r, (_, family))| Cell::of(r, *family))
                    .collect();
                let headers = sc.api.headers;
                let best = Best::of(&results, headers);
                ApiResult {
                    name: sc.name.clone(),
                    file: path
                        .file_name()
                        .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
                    description: sc.description.clone(),
                    headers,
                    api_capacity_rps: sc.api_capacity_rps(),
                    ideal_makespan_s: ideal,
                    results,
                    best_zero_knowledge: best,
                }
            })
            .collect();
        LeagueOutput {
            version: ratelab_sim::VERSION.to_string(),
            apis,
        }
    }
}

/// The whole league's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeagueOutput {
    /// ratelab's version.
    pub version: String,
    /// One per API, in file-name order.
    pub apis: Vec<ApiResult>,
}

/// One API's row of the league.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiResult {
    /// The scenario's name.
    pub name: String,
    /// Its file in the league folder.
    pub file: String,
    /// Its description.
    pub description: String,
    /// It sends `x-ratelimit-*` headers.
    pub headers: bool,
    /// The sustainable rate its limits imply, requests/s.
    pub api_capacity_rps: Option<f64>,
    /// The oracle's makespan (`None` when it could not finish within the horizon).
    pub ideal_makespan_s: Option<f64>,
    /// One per entry, in the entries' order.
    pub results: Vec<Cell>,
    /// The best zero-knowledge entry, and whether it meets the target.
    pub best_zero_knowledge: Option<Best>,
}

/// One entry on one API.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    /// The entry.
    pub strategy: String,
    /// Its family.
    pub family: Family,
    /// Requests in all.
    pub requests: u64,
    /// Requests that succeeded.
    pub succeeded: u64,
    /// Requests lost: `requests − succeeded` (dead-lettered, refused, or pending at the horizon).
    pub lost: u64,
    /// Of those, dead-lettered.
    pub dead_lettered: u64,
    /// Attempts sent.
    pub attempts: u64,
    /// 429s.
    pub http_429: u64,
    /// 429s per attempt.
    pub rate_429: f64,
    /// Time of the last final request, s (the horizon when some were pending).
    pub makespan_s: f64,
    /// `ideal_makespan_s / makespan_s`, when nothing was lost.
    pub efficiency: Option<f64>,
    /// p99 end-to-end latency of successes, s.
    pub p99_s: Option<f64>,
}

impl Cell {
    fn of(r: &StrategyResult, family: Family) -> Cell {
        let lost = r.lost();
        Cell {
            strategy: r.strategy.clone(),
            family,
            requests: r.requests,
            succeeded: r.succeeded,
            lost,
            dead_lettered: r.dead_lettered,
            attempts: r.attempts,
            http_429: r.http_429,
            rate_429: r.rate_429(),
            makespan_s: r.makespan_s,
            efficiency: r.efficiency(),
            p99_s: (r.latency_s.count > 0).then_some(r.latency_s.p99),
        }
    }
}

/// The league's targets: (efficiency at least, 429s per attempt at most) with and without
/// rate-limit headers; nothing may be lost.
pub const TARGET_WITH_HEADERS: (f64, f64) = (0.97, 0.01);
/// See [`TARGET_WITH_HEADERS`].
pub const TARGET_WITHOUT_HEADERS: (f64, f64) = (0.90, 0.05);

/// The best zero-knowledge entry of one API.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Best {
    /// The entry.
    pub strategy: String,
    /// Its efficiency.
    pub efficiency: f64,
    /// Its 429s per attempt.
    pub rate_429: f64,
    /// It reaches the target efficiency within the 429 bound, nothing lost.
    pub meets_target: bool,
}

impl Best {
    /// Among the zero-knowledge entries that lost nothing: the most efficient of those within
    /// the 429 bound, else the most efficient.
    fn of(cells: &[Cell], headers: bool) -> Option<Best> {
        let (eff, max_429) = if headers {
            TARGET_WITH_HEADERS
        } else {
            TARGET_WITHOUT_HEADERS
        };
        let candidates: Vec<(&Cell, f64)> = cells
            .iter()
            .filter(|c| c.family == Family::ZeroKnowledge)
            .filter_map(|c| c.efficiency.map(|e| (c, e)))
            .collect();
        let pick = |within: bool| {
            candidates
                .iter()
                .filter(|(c, _)| !within || c.rate_429 <= max_429)
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .copied()
        };
        let (c, e) = pick(true).or_else(|| pick(false))?;
        Some(Best {
            strategy: c.strategy.clone(),
            efficiency: e,
            rate_429: c.rate_429,
            meets_target: e >= eff && c.rate_429 <= max_429,
        })
    }
}

fn pct(x: f64) -> String {
    format::percent(x, " ")
}

fn efficiency_text(c: &Cell) -> String {
    match c.efficiency {
        Some(e) => format!("{:.1} %", e * 100.0),
        None if c.lost > 0 => format!("lost {}", c.lost),
        None => "-".into(),
    }
}

fn target_text(headers: bool) -> String {
    let (e, r) = if headers {
        TARGET_WITH_HEADERS
    } else {
        TARGET_WITHOUT_HEADERS
    };
    format!(
        "≥ {:.0} % of ideal, ≤ {:.0} % 429s, nothing lost ({})",
        e * 100.0,
        r * 100.0,
        if headers {
            "with rate-limit headers"
        } else {
            "without rate-limit headers"
        }
    )
}

fn verdict_line(api: &ApiResult) -> String {
    match &api.best_zero_knowledge {
        Some(b) => format!(
            "best zero-knowledge: {} — {:.1} % of ideal, {} 429s per attempt: {} the target ({})",
            b.strategy,
            b.efficiency * 100.0,
            pct(b.rate_429),
            if b.meets_target { "meets" } else { "misses" },
            target_text(api.headers)
        ),
        None => format!(
            "best zero-knowledge: none finished without losing requests ({})",
            target_text(api.headers)
        ),
    }
}

/// Pads `rows` (first column left-aligned) into lines.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if i == 0 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The league as text: one table per API with its verdict, then the efficiency of every entry
/// on every API.
pub fn render_table(out: &LeagueOutput) -> String {
    let mut text = String::new();
    for api in &out.apis {
        let _ = writeln!(
            text,
            "{} ({}) — {}\nideal makespan {}",
            api.name,
            api.file,
            api.description.trim(),
            api.ideal_makespan_s.map_or("-".into(), duration)
        );
        let mut rows = vec![
            [
                "strategy", "family", "of ideal", "429/att", "dead", "lost", "makespan", "p99",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for c in &api.results {
            rows.push(vec![
                c.strategy.clone(),
                c.family.label().into(),
                efficiency_text(c),
                pct(c.rate_429),
                c.dead_lettered.to_string(),
                c.lost.to_string(),
                duration(c.makespan_s),
                c.p99_s.map_or("-".into(), duration),
            ]);
        }
        text.push_str(&columns(&rows));
        let _ = writeln!(text, "{}\n", verdict_line(api));
    }
    text.push_str(
        "Share of the ideal makespan (efficiency; \"lost N\": N requests did not succeed)\n",
    );
    text.push_str(&render_matrix(out));
    let met = out
        .apis
        .iter()
        .filter(|a| {
            a.best_zero_knowledge
                .as_ref()
                .is_some_and(|b| b.meets_target)
        })
        .count();
    let _ = writeln!(
        text,
        "\nthe best zero-knowledge entry meets the target on {met} of {} APIs",
        out.apis.len()
    );
    text
}

/// Every entry's share of the ideal makespan on every API: one row per entry, one column per
/// API (what the README shows).
pub fn render_matrix(out: &LeagueOutput) -> String {
    let mut header = vec!["strategy".to_string()];
    header.extend(out.apis.iter().map(|a| a.name.clone()));
    let mut rows = vec![header];
    if let Some(first) = out.apis.first() {
        for (i, c) in first.results.iter().enumerate() {
            let mut row = vec![c.strategy.clone()];
            row.extend(out.apis.iter().map(|a| efficiency_text(&a.results[i])));
            rows.push(row);
        }
    }
    columns(&rows)
}

/// The league as a self-contained HTML page: the same tables.
pub fn render_html(out: &LeagueOutput) -> String {
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ratelab league</title>\n<style>\nbody{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}\ntable{border-collapse:collapse;margin:.5em 0 1.5em}\nth,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:right}\nth:first-child,td:first-child{text-align:left}\n.meets{color:#1a7f37}.misses{color:#b3261e}.lost{color:#b3261e}\n</style></head><body>\n<h1>ratelab league</h1>\n",
    );
    let _ = writeln!(
        h,
        "<p>Every entry against every API, told nothing about the limit. <em>Of ideal</em> is the oracle's makespan (a client that knows the limits exactly) over the entry's, counted only when no request was lost. ratelab {}.</p>",
        escape(&out.version)
    );
    for api in &out.apis {
        let _ = writeln!(
            h,
            "<h2>{}</h2>\n<p>{} — <code>{}</code>; ideal makespan {}</p>",
            escape(&api.name),
            escape(api.description.trim()),
            escape(&api.file),
            api.ideal_makespan_s.map_or("-".into(), duration)
        );
        h.push_str("<table><tr><th>strategy</th><th>family</th><th>of ideal</th><th>429/att</th><th>dead</th><th>lost</th><th>makespan</th><th>p99</th></tr>\n");
        for c in &api.results {
            let class = if c.lost > 0 { " class=\"lost\"" } else { "" };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td{class}>{}</td><td>{}</td><td>{}</td><td{class}>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&c.strategy),
                c.family.label(),
                escape(&efficiency_text(c)),
                escape(&pct(c.rate_429)),
                c.dead_lettered,
                c.lost,
                escape(&duration(c.makespan_s)),
                escape(&c.p99_s.map_or("-".into(), duration)),
            );
        }
        h.push_str("</table>\n");
        let class = match &api.best_zero_knowledge {
            Some(b) if b.meets_target => "meets",
            _ => "misses",
        };
        let _ = writeln!(h, "<p class=\"{class}\">{}</p>", escape(&verdict_line(api)));
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_league_folder_loads_and_every_api_gets_every_entry() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/league");
        let league = League::load(&dir).unwrap();
        assert!(league.apis.len() >= 9);
        for (_, sc) in &league.apis {
            let names: Vec<&str> = sc.strategies.iter().map(|s| s.name.as_str()).collect();
            let expected: Vec<&str> = league
                .entries
                .iter()
                .map(|(s, _)| s.name.as_str())
                .collect();
            assert_eq!(names, expected, "{}", sc.name);
        }
        // Zero-knowledge entries have no fields (`admission = [{ kind = K }]` at most) and the
        // one common retry.
        let raw: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join(ENTRIES)).unwrap()).unwrap();
        let zk = raw["zero_knowledge"].as_array().unwrap();
        assert!(zk.len() >= 7);
        for e in zk {
            let name = e["name"].as_str().unwrap();
            for layer in e
                .get("admission")
                .and_then(|a| a.as_array())
                .into_iter()
                .flatten()
            {
                let keys: Vec<&String> = layer.as_table().unwrap().keys().collect();
                assert_eq!(
                    keys,
                    vec!["kind"],
                    "{name}: a zero-knowledge layer has no fields"
                );
            }
            assert_eq!(e["retry"], zk[0]["retry"], "{name}: the common retry");
        }
    }

    #[test]
    fn a_bad_league_names_the_file() {
        let dir = std::env::temp_dir().join(format!("ratelab-league-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(ENTRIES),
            "[[zero_knowledge]]\nname = \"x\"\nadmission = [{ kind = \"aimd\", max = 0 }]\n",
        )
        .unwrap();
        let e = League::load(&dir).unwrap_err().to_string();
        assert!(
            e.contains("entries.toml") && e.contains("zero_knowledge[0].admission[0].max"),
            "{e}"
        );
        std::fs::write(dir.join(ENTRIES), "[[zero_knowledge]]\nname = \"x\"\n").unwrap();
        std::fs::write(dir.join("a.toml"), "name = \"a\"\n[workload]\nrequests = 1\n[api]\nlatency = { kind = \"fixed\", ms = 1 }\n[[strategy]]\nname = \"s\"\n").unwrap();
        let e = League::load(&dir).unwrap_err().to_string();
        assert!(e.contains("a.toml") && e.contains("no [[strategy]]"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
