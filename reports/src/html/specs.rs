//! A scenario's tables as compact text for the page.

use serde_json::Value;

pub(super) fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A spec as compact text: `token_bucket (burst 10, rate_per_s 10, unit requests)`; layers
/// joined by ` + `.
pub(super) fn spec_text(v: &Value) -> String {
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
pub(super) fn number(x: f64) -> String {
    crate::format::trimmed(x, 3)
}

/// Two decimals.
pub(super) fn number2(x: f64) -> String {
    format!("{x:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
