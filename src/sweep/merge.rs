//! `ratelab merge`: the shards of one sweep back into the bytes of the unsharded run.

use std::path::Path;

/// One line read from a shard: its sort key and its text.
struct Read {
    key: (usize, u64, usize),
    text: String,
}

/// Reads every file, checks they are shards of one sweep that together hold it whole (every
/// point, seed and strategy exactly once), and returns the lines in the unsharded order, each
/// ending in a newline.
pub fn merge(files: &[&Path]) -> Result<String, String> {
    if files.is_empty() {
        return Err("merge: name the shards to merge".to_string());
    }
    let mut sweep: Option<(String, [usize; 3], String)> = None;
    let mut lines: Vec<Read> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = || format!("{} line {}", file.display(), n + 1);
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| format!("{}: not a sweep line: {e}", at()))?;
            let field = |k: &str| {
                v.get(k)
                    .ok_or_else(|| format!("{}: not a sweep line: no `{k}`", at()))
            };
            let hash = field("sweep")?.as_str().unwrap_or_default().to_string();
            let grid: [usize; 3] = serde_json::from_value(field("grid")?.clone())
                .map_err(|e| format!("{}: `grid`: {e}", at()))?;
            let num = |k: &str| -> Result<u64, String> {
                field(k)?
                    .as_u64()
                    .ok_or_else(|| format!("{}: `{k}` is not a count", at()))
            };
            let key = (num("point")? as usize, num("seed")?, num("index")? as usize);
            match &sweep {
                None => sweep = Some((hash, grid, at())),
                Some((h, g, first)) if *h != hash || *g != grid => {
                    return Err(format!(
                        "{}: from sweep {hash}, but {first} is from sweep {h}: these are not \
                         shards of one sweep",
                        at()
                    ));
                }
                _ => {}
            }
            lines.push(Read {
                key,
                text: line.to_string(),
            });
        }
    }
    let Some((_, [points, seeds, strategies], _)) = sweep else {
        return Err("merge: the files hold no lines".to_string());
    };
    lines.sort_by_key(|l| l.key);
    if let Some(w) = lines.windows(2).find(|w| w[0].key == w[1].key) {
        let (p, s, i) = w[0].key;
        return Err(format!(
            "merge: point {p}, seed {s}, strategy {i} appears twice: a shard was given twice?"
        ));
    }
    let expected = points * seeds * strategies;
    if lines.len() != expected {
        return Err(format!(
            "merge: {} lines, but the sweep has {points} points × {seeds} seeds × {strategies} \
             strategies = {expected}: a shard is missing or was cut short",
            lines.len()
        ));
    }
    let mut out = String::new();
    for l in lines {
        out.push_str(&l.text);
        out.push('\n');
    }
    Ok(out)
}
