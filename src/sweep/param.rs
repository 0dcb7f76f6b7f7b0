//! `--param PATH=VALUES`: a dotted path into the scenario and the values it takes.
//!
//! PATH names a field as the scenario file has it, with strategies by name:
//! `strategy.NAME.admission.0.rate_per_s`, `strategy.NAME.retry.base_ms`, `strategy.*.retry.
//! max_attempts` (every strategy), `api.limits.0.rate_per_s`, `workload.requests`. A name with
//! dots is quoted: `strategy."b-12.5/s".retry.base_ms`. VALUES is `a,b,c` or `START..=END:STEP`
//! (START + i·STEP up to END).

use serde_json::{Map, Value};

/// One `--param`: where, and the values to try.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The path as written.
    pub path: String,
    /// Its segments, unquoted.
    pub segments: Vec<String>,
    /// The values, in order.
    pub values: Vec<Value>,
}

/// Most values of one `--param`.
pub const MAX_VALUES: usize = 100_000;

impl Param {
    /// Parses `PATH=VALUES`.
    pub fn parse(arg: &str) -> Result<Param, String> {
        let Some((path, values)) = split_assignment(arg) else {
            return Err(format!(
                "--param `{arg}`: expected PATH=VALUES, e.g. strategy.NAME.retry.base_ms=100,200 \
                 or api.limits.0.rate_per_s=5..=20:5"
            ));
        };
        let segments = segments(path).map_err(|e| format!("--param `{arg}`: {e}"))?;
        let values = parse_values(values).map_err(|e| format!("--param `{arg}`: {e}"))?;
        Ok(Param {
            path: path.to_string(),
            segments,
            values,
        })
    }
}

/// `PATH=VALUES` split at the first `=` outside quotes.
fn split_assignment(arg: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in arg.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '=' if !quoted => return Some((&arg[..i], &arg[i + 1..])),
            _ => {}
        }
    }
    None
}

/// The segments of a dotted path, `"…"` quoting a segment with dots.
pub fn segments(path: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = path.chars().peekable();
    loop {
        let mut seg = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => seg.push(c),
                    None => return Err(format!("path `{path}`: a quote is not closed")),
                }
            }
            if !matches!(chars.peek(), None | Some('.')) {
                return Err(format!(
                    "path `{path}`: a quoted segment must end at a dot or the end"
                ));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                seg.push(c);
                chars.next();
            }
        }
        if seg.is_empty() {
            return Err(format!("path `{path}`: an empty segment"));
        }
        out.push(seg);
        // Past the dot, or at the end.
        if chars.next().is_none() {
            return Ok(out);
        }
    }
}

/// `a,b,c` or `START..=END:STEP`.
pub fn parse_values(text: &str) -> Result<Vec<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("no values".to_string());
    }
    if let Some((start, rest)) = text.split_once("..=") {
        let (end, step) = rest
            .split_once(':')
            .ok_or_else(|| format!("range `{text}` needs a step: START..=END:STEP"))?;
        let num = |s: &str, what: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("range `{text}`: {what} `{}` is not a number", s.trim()))
        };
        let step_text = step;
        let (a, b, step) = (num(start, "START")?, num(end, "END")?, num(step, "STEP")?);
        if step <= 0.0 {
            return Err(format!("range `{text}`: STEP must be > 0"));
        }
        if b < a {
            return Err(format!("range `{text}` is empty: END is below START"));
        }
        let n = ((b - a) / step * (1.0 + 1e-12)).floor() as usize + 1;
        if n > MAX_VALUES {
            return Err(format!(
                "range `{text}` has {n} values; at most {MAX_VALUES}"
            ));
        }
        let integers = [start, end, step_text]
            .iter()
            .all(|s| s.trim().parse::<i64>().is_ok());
        return Ok((0..n)
            .map(|i| {
                let v = a + i as f64 * step;
                if integers {
                    Value::from(v.round() as i64)
                } else {
                    Value::from(v)
                }
            })
            .collect());
    }
    let values: Vec<Value> = text.split(',').map(|v| scalar(v.trim())).collect();
    if values.iter().any(|v| v.as_str() == Some("")) {
        return Err(format!("`{text}` has an empty value"));
    }
    if values.len() > MAX_VALUES {
        return Err(format!("{} values; at most {MAX_VALUES}", values.len()));
    }
    Ok(values)
}

/// A value as TOML would read it: an integer, a float, a boolean, else a string (quotes
/// optional).
fn scalar(v: &str) -> Value {
    if let Ok(i) = v.parse::<i64>() {
        Value::from(i)
    } else if let Ok(f) = v.parse::<f64>()
        && f.is_finite()
    {
        Value::from(f)
    } else if v == "true" || v == "false" {
        Value::from(v == "true")
    } else {
        Value::from(v.trim_matches('"'))
    }
}

/// Sets `segments` of `scenario` (the scenario as JSON) to `value`; `strategy.NAME` picks the
/// strategy of that name, `strategy.*` every one.
pub fn set(
    scenario: &mut Value,
    path: &str,
    segments: &[String],
    value: &Value,
) -> Result<(), String> {
    if segments.first().map(String::as_str) == Some("strategy") {
        let Some(name) = segments.get(1) else {
            return Err(format!(
                "`{path}`: name a strategy: strategy.NAME.… or strategy.*.…"
            ));
        };
        let strategies = scenario
            .get_mut("strategy")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| format!("`{path}`: the scenario has no strategies"))?;
        let names: Vec<String> = strategies
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        let mut matched = 0;
        for s in strategies.iter_mut() {
            if name == "*" || s.get("name").and_then(Value::as_str) == Some(name) {
                matched += 1;
                let here = format!("strategy.{name}");
                set_in(s, path, &here, &segments[2..], value)?;
            }
        }
        if matched == 0 {
            return Err(format!(
                "`{path}`: no strategy is called `{name}` (there are: {})",
                names.join(", ")
            ));
        }
        return Ok(());
    }
    set_in(scenario, path, "", segments, value)
}

fn set_in(
    node: &mut Value,
    path: &str,
    here: &str,
    segments: &[String],
    value: &Value,
) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        return Err(format!("`{path}` names a table, not a field"));
    };
    let at = if here.is_empty() {
        first.clone()
    } else {
        format!("{here}.{first}")
    };
    let shown = if here.is_empty() {
        "the scenario"
    } else {
        here
    };
    match node {
        Value::Object(map) => {
            if rest.is_empty() {
                if map
                    .get(first)
                    .is_some_and(|v| v.is_object() || v.is_array())
                {
                    return Err(format!(
                        "`{path}`: `{at}` is a table or a list, not a field"
                    ));
                }
                map.insert(first.clone(), value.clone());
                return Ok(());
            }
            match map.get_mut(first) {
                Some(child) => set_in(child, path, &at, rest, value),
                None => Err(format!(
                    "`{path}`: `{first}` is not in {shown} (it has: {})",
                    keys(map)
                )),
            }
        }
        Value::Array(items) => {
            let n = items.len();
            let i: usize = first.parse().map_err(|_| {
                format!("`{path}`: {shown} is a list: `{first}` must be an index in 0..{n}")
            })?;
            let item = items
                .get_mut(i)
                .ok_or_else(|| format!("`{path}`: {shown} has {n} entries; no index {i}"))?;
            if rest.is_empty() {
                *item = value.clone();
                return Ok(());
            }
            set_in(item, path, &at, rest, value)
        }
        _ => Err(format!(
            "`{path}`: {shown} is a value; `{first}` cannot be in it"
        )),
    }
}

fn keys(map: &Map<String, Value>) -> String {
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_split_at_dots_outside_quotes() {
        assert_eq!(
            segments(r#"strategy."b-12.5/s".retry.base_ms"#).unwrap(),
            ["strategy", "b-12.5/s", "retry", "base_ms"]
        );
        assert!(segments("a..b").unwrap_err().contains("empty segment"));
        assert!(segments(r#"a."b"#).unwrap_err().contains("not closed"));
        let p = Param::parse(r#"strategy."x=1".retry.base_ms=1,2"#).unwrap();
        assert_eq!(p.segments[1], "x=1");
    }

    #[test]
    fn values_are_lists_or_ranges() {
        assert_eq!(
            parse_values("1,2.5,full").unwrap(),
            [json!(1), json!(2.5), json!("full")]
        );
        assert_eq!(
            parse_values("5..=20:5").unwrap(),
            [json!(5), json!(10), json!(15), json!(20)]
        );
        assert_eq!(parse_values("0.1..=0.3:0.1").unwrap().len(), 3);
        assert!(parse_values("5..=1:1").unwrap_err().contains("empty"));
        assert!(parse_values("1..=5").unwrap_err().contains("step"));
        assert!(parse_values("1..=5:0").unwrap_err().contains("> 0"));
        assert!(parse_values("").is_err());
        assert!(parse_values("1,,2").unwrap_err().contains("empty value"));
    }

    #[test]
    fn a_path_that_names_no_field_says_what_is_there() {
        let mut sc = json!({
            "api": { "limits": [{ "kind": "token_bucket", "rate_per_s": 5.0 }] },
            "strategy": [{ "name": "a", "retry": { "kind": "exponential", "base_ms": 100 } }],
        });
        let seg = |p: &str| segments(p).unwrap();
        let set1 = |sc: &mut Value, p: &str| set(sc, p, &seg(p), &json!(7));
        set1(&mut sc, "api.limits.0.rate_per_s").unwrap();
        assert_eq!(sc["api"]["limits"][0]["rate_per_s"], json!(7));
        set1(&mut sc, "strategy.*.retry.base_ms").unwrap();
        assert_eq!(sc["strategy"][0]["retry"]["base_ms"], json!(7));
        let e = set1(&mut sc, "strategy.b.retry.base_ms").unwrap_err();
        assert!(
            e.contains("no strategy is called `b` (there are: a)"),
            "{e}"
        );
        let e = set1(&mut sc, "api.limits.3.rate_per_s").unwrap_err();
        assert!(e.contains("has 1 entries; no index 3"), "{e}");
        let e = set1(&mut sc, "api.limitz.0").unwrap_err();
        assert!(e.contains("`limitz` is not in api (it has: limits)"), "{e}");
        let e = set1(&mut sc, "api.limits").unwrap_err();
        assert!(e.contains("a table or a list"), "{e}");
    }
}
