//! `ratelab schema`: a JSON Schema (draft 2020-12) of the scenario format, for editors (taplo,
//! VS Code's Even Better TOML) to complete and check scenario files.
//!
//! The kinds come from their registries (the same catalog as `ratelab list`): each kind is an
//! object with `kind` fixed to its name, exactly the fields it reads (no others:
//! `additionalProperties: false`), its required fields, and a type guessed from each field's
//! documented default (a number, a boolean, a string or one of its listed values, a list, a
//! table; a required field is a number unless its doc says it holds text, as a trace's `file`).
//! The tables around them (`[workload]`, `[api]`, `[[strategy]]`, …) are written out here; a
//! test holds their field names against the code. Ranges are not in the schema: the
//! validator still checks them, with the file, the field and the range in its message.

use serde_json::{Map, Value, json};

use ratelab_strategies::kind::{FieldDoc, KindEntry, Need};

use crate::catalog::sections;

/// The schema, as pretty JSON text with a final newline.
pub fn schema_text() -> String {
    serde_json::to_string_pretty(&schema()).expect("a schema serialises") + "\n"
}

/// The JSON Schema of a scenario file.
pub fn schema() -> Value {
    let kinds = |section: &str| -> Value {
        let s = sections()
            .into_iter()
            .find(|s| s.name == section)
            .expect("a section of the catalog");
        json!({ "oneOf": s.kinds.iter().map(kind_schema).collect::<Vec<_>>() })
    };
    let breaker = sections()
        .into_iter()
        .find(|s| s.name == "strategy breaker")
        .map(|s| fields_object(s.kinds[0].doc.fields, None, s.kinds[0].doc.about))
        .expect("the breaker's entry");
    let number = json!({ "type": "number" });
    let integer = json!({ "type": "integer", "minimum": 0 });
    let boolean = json!({ "type": "boolean" });
    let string = json!({ "type": "string" });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ratelab scenario",
        "description": "A ratelab scenario: a workload, a modelled rate-limited API and the client strategies to compare (README: Scenario files).",
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "workload", "api", "strategy"],
        "properties": {
            "name": string,
            "description": string,
            "seed": integer,
            "horizon_s": number,
            "max_requests_held": integer,
            "workload": table(&["requests"], json!({
                "requests": integer,
                "clients": integer,
                "arrival": kinds("workload arrival"),
                "tokens": kinds("workload tokens"),
            })),
            "api": table(&["latency"], json!({
                "limits": { "type": "array", "items": kinds("api limits") },
                "latency": kinds("api latency"),
                "rejected_latency_ms": number,
                "count_rejected": boolean,
                "retry_after": boolean,
                "retry_after_precision": { "enum": ["s", "ms"] },
                "headers": boolean,
                "errors": table(&["probability"], json!({
                    "probability": number,
                    "status": integer,
                })),
                "ban": table(&["after_429", "within_s", "duration_s"], json!({
                    "after_429": integer,
                    "within_s": number,
                    "duration_s": number,
                })),
                "servers": integer,
                "queue_limit": integer,
                "background": table(&["rate_per_s"], json!({
                    "rate_per_s": number,
                    "tokens": integer,
                })),
                "outages": {
                    "type": "array",
                    "items": table(&["at_s", "for_s", "mode"], json!({
                        "at_s": number,
                        "for_s": number,
                        "mode": { "enum": ["503", "refuse", "hang"] },
                    })),
                },
                "schedule": {
                    "type": "array",
                    "items": table(&["at_s"], json!({
                        "at_s": number,
                        "limits": { "type": "array", "items": kinds("api limits") },
                        "latency": kinds("api latency"),
                        "errors": table(&["probability"], json!({
                            "probability": number,
                            "status": integer,
                        })),
                        "servers": integer,
                    })),
                },
            })),
            "strategy": {
                "type": "array",
                "items": table(&["name"], json!({
                    "name": string,
                    "admission": { "type": "array", "items": kinds("strategy admission") },
                    "retry": kinds("strategy retry"),
                    "breaker": breaker,
                    "timeout_ms": number,
                })),
            },
        },
    })
}

/// A table with these properties and no others.
fn table(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

/// One kind: `kind` fixed to its name, its fields, no others.
fn kind_schema(k: &KindEntry) -> Value {
    fields_object(k.doc.fields, Some(k.name), k.doc.about)
}

fn fields_object(fields: &[FieldDoc], kind: Option<&str>, about: &str) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    if let Some(name) = kind {
        properties.insert("kind".into(), json!({ "const": name }));
        required.push(Value::from("kind"));
    }
    // A required field followed by fields that may be given instead of it (`rate_per_s` |
    // `rate_per_min`): one of the group is required.
    let mut any_of: Vec<Vec<&str>> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        properties.insert(f.name.into(), field_type(f));
        let next_instead = fields
            .get(i + 1)
            .is_some_and(|n| n.need == Need::InsteadOfPrevious);
        match f.need {
            Need::Required if next_instead => any_of.push(vec![f.name]),
            Need::Required => required.push(Value::from(f.name)),
            Need::InsteadOfPrevious => {
                if let Some(group) = any_of.last_mut() {
                    group.push(f.name);
                }
            }
            Need::Default(_) => {}
        }
    }
    let mut object = json!({
        "type": "object",
        "description": about,
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    });
    if !any_of.is_empty() {
        object["allOf"] = any_of
            .iter()
            .map(|group| {
                json!({ "oneOf": group.iter().map(|f| json!({ "required": [f] })).collect::<Vec<_>>() })
            })
            .collect();
    }
    object
}

/// A field's type, from its listed values or its default as written in a table.
fn field_type(f: &FieldDoc) -> Value {
    if let Some(values) = f.values {
        let listed: Vec<Value> = values
            .split('|')
            .map(|v| v.trim().trim_matches('"'))
            .filter(|v| !v.is_empty())
            .map(Value::from)
            .collect();
        return json!({ "enum": listed });
    }
    if f.text {
        return json!({ "type": "string" });
    }
    let Need::Default(default) = f.need else {
        // Every other field a kind requires (or takes instead of a required one) is a number:
        // a rate, a burst, a count, a duration, a probability.
        return json!({ "type": "number" });
    };
    let d = default.replace(['\u{202f}', ' ', '_'], "");
    if d == "true" || d == "false" {
        json!({ "type": "boolean" })
    } else if d.parse::<f64>().is_ok() {
        json!({ "type": "number" })
    } else if default.starts_with('"') {
        json!({ "type": "string" })
    } else if default.starts_with('[') {
        json!({ "type": "array" })
    } else if default.starts_with('{') {
        json!({ "type": "object" })
    } else {
        // "none", "all", "the API's": no single type to promise.
        json!({})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratelab_sim::Scenario;
    use ratelab_sim::api::{
        ApiSpec, BackgroundSpec, BanSpec, ErrorsSpec, OutageSpec, ScheduleEntry,
    };
    use ratelab_sim::workload::WorkloadSpec;
    use ratelab_strategies::kind::fields_read;
    use ratelab_strategies::spec::StrategySpec;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    }

    fn read<T: serde::de::DeserializeOwned>() -> Vec<String> {
        let mut f = fields_read::<T>();
        f.sort();
        f
    }

    #[test]
    fn the_tables_name_exactly_the_fields_the_code_reads() {
        let s = schema();
        let p = &s["properties"];
        assert_eq!(keys(&s), read::<Scenario>());
        assert_eq!(keys(&p["workload"]), read::<WorkloadSpec>());
        assert_eq!(keys(&p["api"]), read::<ApiSpec>());
        assert_eq!(
            keys(&p["api"]["properties"]["errors"]),
            read::<ErrorsSpec>()
        );
        assert_eq!(keys(&p["api"]["properties"]["ban"]), read::<BanSpec>());
        let api = &p["api"]["properties"];
        assert_eq!(keys(&api["background"]), read::<BackgroundSpec>());
        assert_eq!(keys(&api["outages"]["items"]), read::<OutageSpec>());
        assert_eq!(keys(&api["schedule"]["items"]), read::<ScheduleEntry>());
        assert_eq!(keys(&p["strategy"]["items"]), read::<StrategySpec>());
    }

    #[test]
    fn kinds_are_fixed_and_closed() {
        let s = schema();
        let retry = &s["properties"]["strategy"]["items"]["properties"]["retry"]["oneOf"];
        let tenacity = retry
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["properties"]["kind"]["const"] == "tenacity")
            .unwrap();
        assert_eq!(tenacity["additionalProperties"], false);
        assert_eq!(tenacity["properties"]["min_s"]["type"], "number");
        assert_eq!(tenacity["required"], json!(["kind"]));
        let breaker = &s["properties"]["strategy"]["items"]["properties"]["breaker"];
        assert_eq!(
            breaker["properties"]["on_open"]["enum"],
            json!(["wait", "fail"])
        );
    }
}
