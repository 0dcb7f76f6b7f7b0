//! The table of `ratelab run --seeds N`: per strategy, mean ± 95 % CI half-width of the main
//! metrics; under it the paired differences against the baseline; then the pick.

use super::{MultiSeed, PAIRED_IN_TABLE, PairedRow};
use crate::table::{BOLD, LOST, PICK, RESET, number};

/// Decimals that show a half-width to two significant digits (0 to 6).
fn decimals(hw: f64) -> usize {
    if hw > 0.0 && hw.is_finite() {
        (1 - hw.log10().floor() as i32).clamp(0, 6) as usize
    } else {
        3
    }
}

/// `mean ± hw` split in two for alignment: the mean, and `± hw` (empty without a half-width);
/// `scale` multiplies both (100 for percent).
fn cell(mean: Option<f64>, hw: Option<f64>, scale: f64) -> (String, String) {
    let Some(mean) = mean else {
        return ("-".into(), String::new());
    };
    match hw {
        Some(hw) if hw > 0.0 => {
            let d = decimals(hw * scale);
            (
                format!("{:.d$}", mean * scale),
                format!("± {:.d$}", hw * scale),
            )
        }
        Some(_) => (number(mean * scale), "± 0".into()),
        None => (number(mean * scale), String::new()),
    }
}

/// The columns: header, metric, scale, unit.
const COLUMNS: [(&str, &str, f64, &str); 8] = [
    ("ok", "succeeded", 1.0, ""),
    ("dead", "dead_lettered", 1.0, ""),
    ("att/req", "attempts_per_request", 1.0, ""),
    ("429 %", "http_429_rate", 100.0, " %"),
    ("makespan", "makespan_s", 1.0, " s"),
    ("goodput/s", "goodput_rps", 1.0, ""),
    ("p50 of ok", "latency_s.p50", 1.0, " s"),
    ("p99 of ok", "latency_s.p99", 1.0, " s"),
];

/// The table (ANSI colour when `colour`: header bold, strategies that lost requests on average
/// yellow, the pick green).
pub fn render(m: &MultiSeed, colour: bool) -> String {
    let paint = |style: &str, text: String| {
        if colour {
            format!("{style}{text}{RESET}")
        } else {
            text
        }
    };
    let first = &m.runs[0];
    let names: Vec<&str> = first.results.iter().map(|r| r.strategy.as_str()).collect();
    let n = m.seeds.len();
    let mut text = String::new();
    let sc = &first.scenario;
    text.push_str(&format!(
        "{} — {} requests{}, seeds {}–{} ({n} runs){}\n",
        sc.name,
        sc.workload.total_requests(),
        if sc.workload.clients > 1 {
            format!(" over {} clients", sc.workload.clients)
        } else {
            String::new()
        },
        m.seeds[0],
        m.seeds[n - 1],
        match first.api_capacity_rps {
            Some(c) => format!(", API capacity {} req/s", number(c)),
            None => String::new(),
        }
    ));
    if !first.description.trim().is_empty() {
        text.push_str(&format!("{}\n", first.description.trim()));
    }
    text.push('\n');
    // cells[row][column] = (mean, ± hw + unit)
    let cells: Vec<Vec<(String, String)>> = names
        .iter()
        .map(|name| {
            COLUMNS
                .iter()
                .map(|&(_, metric, scale, unit)| {
                    let s = m.stat(name, metric);
                    let (a, mut b) = cell(
                        s.and_then(|s| s.mean),
                        s.and_then(|s| s.ci95_half_width),
                        scale,
                    );
                    if a != "-" {
                        b.push_str(unit);
                    }
                    (a, b)
                })
                .collect()
        })
        .collect();
    let name_w = names
        .iter()
        .map(|s| s.chars().count())
        .chain(["strategy".len()])
        .max()
        .unwrap_or(0);
    let widths: Vec<(usize, usize)> = (0..COLUMNS.len())
        .map(|c| {
            let a = cells.iter().map(|r| r[c].0.len()).max().unwrap_or(0);
            let b = cells
                .iter()
                .map(|r| r[c].1.chars().count())
                .max()
                .unwrap_or(0);
            // The header may be wider than both.
            let extra = COLUMNS[c].0.len().saturating_sub(a + 1 + b);
            (a + extra, b)
        })
        .collect();
    let mut header = format!("{:<name_w$}", "strategy");
    for (c, &(h, ..)) in COLUMNS.iter().enumerate() {
        let (a, b) = widths[c];
        header.push_str(&format!("  {h:>w$}", w = a + 1 + b));
    }
    text.push_str(&paint(BOLD, header.trim_end().to_string()));
    text.push('\n');
    for (row, name) in cells.iter().zip(&names) {
        let mut line = format!("{name:<name_w$}");
        for (c, (a, b)) in row.iter().enumerate() {
            let (wa, wb) = widths[c];
            line.push_str(&format!("  {a:>wa$} {b:<wb$}"));
        }
        let line = line.trim_end().to_string();
        let lost = m
            .stat(name, "lost")
            .and_then(|s| s.mean)
            .is_some_and(|l| l > 0.0);
        text.push_str(&if lost { paint(LOST, line) } else { line });
        text.push('\n');
    }
    text.push_str(&format!(
        "\nmean ± 95 % CI half-width over {n} seeds (Student t on the per-seed values, {} df); \
         p50/p99 over the seeds with successes.\n",
        n - 1
    ));
    text.push_str(&paired_block(m));
    let v = &m.verdict;
    let pick = format!("pick: {}", v.strategy.as_deref().unwrap_or("none"));
    text.push_str(&format!("\n{} — {}\n", paint(PICK, pick), v.reason));
    text
}

/// The paired differences against the baseline, for [`PAIRED_IN_TABLE`].
fn paired_block(m: &MultiSeed) -> String {
    let rows: Vec<&PairedRow> = m
        .paired
        .iter()
        .filter(|p| PAIRED_IN_TABLE.contains(&p.metric.as_str()))
        .collect();
    let Some(first) = rows.first() else {
        return String::new();
    };
    let mut text = format!(
        "\nPaired differences, strategy − {} on the same seeds (95 % CI: paired, from the \
         per-seed differences; independent, what independent seeds would give, by Welch; \
         CRN gain = independent / paired):\n",
        first.baseline
    );
    let name_w = rows
        .iter()
        .map(|p| p.strategy.chars().count())
        .max()
        .unwrap_or(0);
    let mut last = "";
    for p in rows {
        let (label, unit) = match p.metric.as_str() {
            "makespan_s" => ("makespan", " s"),
            _ => ("goodput/s", ""),
        };
        let name = if p.strategy == last {
            ""
        } else {
            p.strategy.as_str()
        };
        last = &p.strategy;
        let Some(diff) = p.mean_diff else {
            text.push_str(&format!("  {name:<name_w$}  {label:<9}  -\n"));
            continue;
        };
        let d = decimals(p.paired_ci95_half_width.unwrap_or(0.0));
        let paired = match p.paired_ci95_half_width {
            Some(hw) if hw > 0.0 => format!("{diff:+.d$} ± {hw:.d$}{unit} paired"),
            Some(_) => format!("{diff:+}{unit}, the same on every seed"),
            None => format!("{diff:+}{unit}"),
        };
        let independent = match p.independent_ci95_half_width {
            Some(hw) if hw > 0.0 => {
                let di = decimals(hw);
                format!(", ± {hw:.di$}{unit} independent")
            }
            _ => String::new(),
        };
        let gain = match p.gain {
            Some(g) => format!(": CRN gain {g:.1}×"),
            None => String::new(),
        };
        text.push_str(&format!(
            "  {name:<name_w$}  {label:<9}  {paired}{independent}{gain}\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_the_half_width_to_two_digits() {
        assert_eq!(
            cell(Some(132.43), Some(1.83), 1.0),
            ("132.4".into(), "± 1.8".into())
        );
        assert_eq!(
            cell(Some(0.5123), Some(0.0123), 1.0),
            ("0.512".into(), "± 0.012".into())
        );
        assert_eq!(
            cell(Some(0.123), Some(0.004), 100.0),
            ("12.30".into(), "± 0.40".into())
        );
        assert_eq!(
            cell(Some(1324.0), Some(25.0), 1.0),
            ("1324".into(), "± 25".into())
        );
        assert_eq!(
            cell(Some(100.0), Some(0.0), 1.0),
            ("100".into(), "± 0".into())
        );
        assert_eq!(cell(None, None, 1.0), ("-".into(), String::new()));
    }
}
