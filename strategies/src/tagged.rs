//! `kind`-tagged tables of a scenario file (`latency = { kind = "exponential", mean_ms = 30 }`)
//! whose parse errors name the field.
//!
//! serde reads an internally tagged enum (`#[serde(tag = "kind")]`) by buffering the table, and a
//! value of the wrong type inside it is then reported without its field: "invalid type: string
//! "x", expected f64". [`kind_enum!`](crate::kind_enum) declares such an enum once and gives it
//! a `Deserialize` that goes through an externally tagged twin of the same variants, so the error
//! reads "invalid type: string "x", expected f64 in `offset_ms`". Serialization is unchanged.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error};

/// Reads a `{ kind = "…", fields… }` table as `T`, the externally tagged twin of a `kind`-tagged
/// enum (`{ "…" = { fields… } }`). Used by [`kind_enum!`](crate::kind_enum).
#[doc(hidden)]
pub fn untag<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: DeserializeOwned,
    D: Deserializer<'de>,
{
    let mut fields = toml::Table::deserialize(deserializer)?;
    let kind = match fields.remove("kind") {
        Some(toml::Value::String(kind)) => kind,
        Some(other) => {
            return Err(D::Error::custom(format!(
                "invalid type: {}, expected a string\nin `kind`",
                other.type_str()
            )));
        }
        None => return Err(D::Error::missing_field("kind")),
    };
    let first_field = fields.keys().next().cloned();
    let twin = toml::Table::from_iter([(kind.clone(), toml::Value::Table(fields))]);
    T::deserialize(toml::Value::Table(twin)).map_err(|e| {
        // A kind without fields (`unlimited`) given some: toml's own words are "expected empty
        // table".
        match first_field {
            Some(field) if e.message() == "expected empty table" => D::Error::custom(format!(
                "unknown field `{field}`: kind `{kind}` takes no fields"
            )),
            _ => D::Error::custom(e.to_string().trim_end()),
        }
    })
}

/// Declares an enum written in scenario files as a `kind`-tagged table.
///
/// Write the enum as usual, with its derives (all but `Deserialize`) and
/// `#[serde(tag = "kind", rename_all = "snake_case")]` for serialization; the macro adds a
/// `Deserialize` that rejects unknown fields and names the field of a value of the wrong type.
/// Variants are unit variants or struct variants; their fields' `#[serde(...)]` attributes
/// apply to both directions.
#[macro_export]
macro_rules! kind_enum {
    // The enum and its twin are written from the same tokens; the conversion between them
    // needs the variants' and fields' names, so a second rule reads them.
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($body:tt)* }
    ) => {
        $(#[$meta])*
        $vis enum $name { $($body)* }

        const _: () = {
            /// The externally tagged twin that `Deserialize` goes through.
            #[derive(::serde::Deserialize)]
            #[serde(rename_all = "snake_case", deny_unknown_fields)]
            enum Twin { $($body)* }

            impl<'de> ::serde::Deserialize<'de> for $name {
                fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    let twin = $crate::tagged::untag::<Twin, D>(d)?;
                    Ok($crate::kind_enum!(@convert twin, $name, $($body)*))
                }
            }
        };
    };
    (
        @convert $twin:ident, $name:ident,
        $(
            $(#[$variant_meta:meta])*
            $variant:ident $({
                $(
                    $(#[$field_meta:meta])*
                    $field:ident : $ty:ty
                ),* $(,)?
            })?
        ),* $(,)?
    ) => {
        match $twin {
            $(Twin::$variant $({ $($field),* })? => $name::$variant $({ $($field),* })?,)*
        }
    };
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    fn two() -> u32 {
        2
    }

    crate::kind_enum! {
        #[derive(Debug, PartialEq, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Shape {
            Nothing,
            Round {
                radius_ms: f64,
                #[serde(default = "two")]
                sides: u32,
            },
        }
    }

    #[derive(Debug, Deserialize)]
    struct Doc {
        #[allow(dead_code)]
        shape: Shape,
    }

    fn error(text: &str) -> String {
        toml::from_str::<Doc>(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_and_writes_the_kind_tagged_table() {
        let doc: Doc = toml::from_str(r#"shape = { radius_ms = 1.5, kind = "round" }"#).unwrap();
        let round = Shape::Round {
            radius_ms: 1.5,
            sides: 2,
        };
        assert_eq!(doc.shape, round);
        assert_eq!(
            toml::from_str::<Doc>(r#"shape = { kind = "nothing" }"#)
                .unwrap()
                .shape,
            Shape::Nothing
        );
        let json = r#"{"kind":"round","radius_ms":1.5,"sides":2}"#;
        assert_eq!(serde_json::to_string(&round).unwrap(), json);
        assert_eq!(serde_json::from_str::<Shape>(json).unwrap(), round);
    }

    #[test]
    fn an_error_names_the_field_and_the_table() {
        let wrong_type = error(r#"shape = { kind = "round", radius_ms = "x" }"#);
        assert!(wrong_type.contains("line 1"), "{wrong_type}");
        assert!(
            wrong_type.contains("invalid type: string \"x\", expected f64")
                && wrong_type.contains("in `radius_ms`"),
            "{wrong_type}"
        );
        let unknown = error(r#"shape = { kind = "round", radius_ms = 1, colour = 2 }"#);
        assert!(unknown.contains("unknown field `colour`"), "{unknown}");
        let unit_with_field = error(r#"shape = { kind = "nothing", radius_ms = 1 }"#);
        assert!(
            unit_with_field.contains("unknown field `radius_ms`: kind `nothing` takes no fields"),
            "{unit_with_field}"
        );
        let unknown_kind = error(r#"shape = { kind = "square" }"#);
        assert!(
            unknown_kind.contains("unknown variant `square`, expected `nothing` or `round`"),
            "{unknown_kind}"
        );
        assert!(error(r#"shape = { radius_ms = 1 }"#).contains("missing field `kind`"));
        let kind_type = error(r#"shape = { kind = 3 }"#);
        assert!(
            kind_type.contains("invalid type: integer, expected a string\nin `kind`"),
            "{kind_type}"
        );
        let missing = error(r#"shape = { kind = "round" }"#);
        assert!(missing.contains("missing field `radius_ms`"), "{missing}");
    }
}
