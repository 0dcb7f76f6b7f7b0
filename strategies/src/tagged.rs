//! `kind`-tagged tables of a scenario file (`latency = { kind = "exponential", mean_ms = 30 }`)
//! whose parse errors name the field.
//!
//! serde reads an internally tagged enum (`#[serde(tag = "kind")]`) by buffering the table, and a
//! value of the wrong type inside it is then reported without its field: "invalid type: string
//! "x", expected f64". [`kind_enum!`](crate::kind_enum) declares such an enum once and gives it
//! a `Deserialize` that reads `kind` in place (an unknown kind is reported at its value) and the
//! other fields through an externally tagged twin of the same variants, so that the error reads
//! "invalid type: string "x", expected f64 in `offset_ms`". Serialization is unchanged.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, Error, IntoDeserializer, MapAccess, Visitor,
};

/// Reads a `{ kind = "…", fields… }` table as `T`, the externally tagged twin of a `kind`-tagged
/// enum (`{ "…" = { fields… } }`); `Tag` is the enum of its kinds alone, which checks `kind`
/// where it is written. Used by [`kind_enum!`](crate::kind_enum).
#[doc(hidden)]
pub fn untag<'de, Tag, T, D>(deserializer: D) -> Result<T, D::Error>
where
    Tag: DeserializeOwned,
    T: DeserializeOwned,
    D: Deserializer<'de>,
{
    deserializer.deserialize_map(KindTable::<Tag, T>(PhantomData))
}

/// The visitor of [`untag`]. Everything, the twin's errors included, is decided inside
/// `visit_map`, so that toml and serde_json report an error at the table it is about.
struct KindTable<Tag, T>(PhantomData<(Tag, T)>);

impl<'de, Tag, T> Visitor<'de> for KindTable<Tag, T>
where
    Tag: DeserializeOwned,
    T: DeserializeOwned,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table with a `kind`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut kind: Option<String> = None;
        let mut fields = toml::Table::new();
        // Every field but `kind`, in the order given, `null` ones included.
        let mut given: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "kind" {
                if kind.is_some() {
                    return Err(A::Error::duplicate_field("kind"));
                }
                kind = Some(map.next_value_seed(KindName::<Tag>(PhantomData))?);
                continue;
            }
            if given.contains(&key) {
                return Err(A::Error::custom(format!("duplicate field `{key}`")));
            }
            // A JSON `null` is a field left out, as serde reads it into an `Option`.
            if let Some(value) = map.next_value::<Option<toml::Value>>()? {
                fields.insert(key.clone(), value);
            }
            given.push(key);
        }
        let kind = kind.ok_or_else(|| A::Error::missing_field("kind"))?;
        let twin = toml::Table::from_iter([(kind.clone(), toml::Value::Table(fields))]);
        T::deserialize(toml::Value::Table(twin)).map_err(|e| {
            // toml puts the field on a line of its own ("…\nin `mean_ms`"): one line here, as
            // the outer error (toml's or serde_json's) adds its position after it.
            let message = e.to_string().trim_end().replace('\n', " ");
            // A kind without fields (`unlimited`) given some: toml's own words, with no field
            // after them (a nested table's would say "in `…`").
            if message == "expected empty table" && !given.is_empty() {
                let s = if given.len() > 1 { "s" } else { "" };
                return A::Error::custom(format!(
                    "unknown field{s} `{}`: kind `{kind}` takes no fields",
                    given.join("`, `")
                ));
            }
            A::Error::custom(message)
        })
    }
}

/// Reads the value of `kind`, a string that must name one of `Tag`'s variants: checked here, so
/// that an error points at the value.
struct KindName<Tag>(PhantomData<Tag>);

impl<'de, Tag: DeserializeOwned> DeserializeSeed<'de> for KindName<Tag> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, Tag: DeserializeOwned> Visitor<'de> for KindName<Tag> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the name of a kind")
    }

    fn visit_str<E: Error>(self, name: &str) -> Result<String, E> {
        Tag::deserialize(name.into_deserializer())?;
        Ok(name.to_owned())
    }
}

/// Declares an enum written in scenario files as a `kind`-tagged table:
/// `{ kind = "snake_case_variant", fields… }`.
///
/// Write the enum as usual with its derives, `Serialize` among them and `Deserialize` not (nor
/// `#[serde(tag)]` or `#[serde(rename_all)]`: the macro adds `tag = "kind", rename_all =
/// "snake_case"`). It adds a `Deserialize` that rejects unknown fields, reports an unknown kind
/// where it is written and names the field of a value of the wrong type. A JSON `null` counts as
/// a field left out (and so is not checked against the fields the kind has). Variants are unit
/// variants or struct variants; the variants' and fields' `#[serde(...)]` attributes apply to
/// both directions. Not supported: tuple variants, `#[default]` on a variant (the attributes are
/// copied to the enum's twin, which does not derive `Default`) and `#[cfg]` on a variant (the
/// generated conversion names every variant). The calling crate must depend on `serde`.
#[macro_export]
macro_rules! kind_enum {
    // The twin, the kinds and the conversion: the raw variants for the twin, then the same
    // tokens again, read for the names.
    (
        @deserialize $name:ident { $($body:tt)* }
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
        const _: () = {
            /// The externally tagged twin that `Deserialize` goes through.
            #[derive(::serde::Deserialize)]
            #[serde(rename_all = "snake_case", deny_unknown_fields)]
            enum __KindEnumTwin { $($body)* }

            /// The kinds alone, read where `kind` is written.
            #[derive(::serde::Deserialize)]
            #[serde(rename_all = "snake_case")]
            enum __KindEnumTag {
                $($(#[$variant_meta])* $variant,)*
            }

            impl<'de> ::serde::Deserialize<'de> for $name {
                fn deserialize<D: ::serde::Deserializer<'de>>(
                    d: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    let twin = $crate::tagged::untag::<__KindEnumTag, __KindEnumTwin, D>(d)?;
                    ::core::result::Result::Ok(match twin {
                        $(
                            __KindEnumTwin::$variant $({ $($field),* })? => {
                                $name::$variant $({ $($field),* })?
                            }
                        )*
                    })
                }
            }
        };
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($body:tt)* }
    ) => {
        $(#[$meta])*
        #[serde(tag = "kind", rename_all = "snake_case")]
        $vis enum $name { $($body)* }

        $crate::kind_enum!(@deserialize $name { $($body)* } $($body)*);
    };
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    fn two() -> u32 {
        2
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Edge {
        #[default]
        Smooth,
        Rough,
    }

    crate::kind_enum! {
        #[derive(Debug, PartialEq, Serialize)]
        enum Shape {
            Nothing,
            Round {
                radius_ms: f64,
                #[serde(default = "two")]
                sides: u32,
                #[serde(default)]
                edge: Edge,
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
            edge: Edge::Smooth,
        };
        assert_eq!(doc.shape, round);
        assert_eq!(
            toml::from_str::<Doc>(r#"shape = { kind = "nothing" }"#)
                .unwrap()
                .shape,
            Shape::Nothing
        );
        let json = r#"{"kind":"round","radius_ms":1.5,"sides":2,"edge":"smooth"}"#;
        assert_eq!(serde_json::to_string(&round).unwrap(), json);
        assert_eq!(serde_json::from_str::<Shape>(json).unwrap(), round);
    }

    /// JSON as `report` reads it: `kind` anywhere, and `null` for a field left out.
    #[test]
    fn reads_json_with_nulls() {
        let shape: Shape =
            serde_json::from_str(r#"{"radius_ms":1.5,"sides":null,"kind":"round"}"#).unwrap();
        assert_eq!(
            shape,
            Shape::Round {
                radius_ms: 1.5,
                sides: 2,
                edge: Edge::Smooth,
            }
        );
        let twice =
            serde_json::from_str::<Shape>(r#"{"kind":"round","radius_ms":1,"kind":"round"}"#);
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .contains("duplicate field `kind`")
        );
        let twice = serde_json::from_str::<Shape>(r#"{"kind":"round","sides":null,"sides":3}"#);
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .contains("duplicate field `sides`")
        );
        let e = serde_json::from_str::<Shape>(r#"{"kind":"round","radius_ms":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid type: string \"x\", expected f64 in `radius_ms`"),
            "{e}"
        );
    }

    #[test]
    fn an_error_names_the_field_and_the_table() {
        let wrong_type = error(r#"shape = { kind = "round", radius_ms = "x" }"#);
        assert!(
            wrong_type.contains("line 1, column 9")
                && wrong_type.contains("invalid type: string \"x\", expected f64 in `radius_ms`"),
            "{wrong_type}"
        );
        let unknown = error(r#"shape = { kind = "round", radius_ms = 1, colour = 2 }"#);
        assert!(unknown.contains("unknown field `colour`"), "{unknown}");
        let unit_with_field = error(r#"shape = { kind = "nothing", radius_ms = 1 }"#);
        assert!(
            unit_with_field.contains("unknown field `radius_ms`: kind `nothing` takes no fields"),
            "{unit_with_field}"
        );
        let unit_with_fields = error(r#"shape = { kind = "nothing", radius_ms = 1, colour = 2 }"#);
        assert!(
            unit_with_fields
                .contains("unknown fields `colour`, `radius_ms`: kind `nothing` takes no fields"),
            "{unit_with_fields}"
        );
        // An unknown or mistyped kind is shown where it is written (column 18 is its value).
        let unknown_kind = error(r#"shape = { kind = "square" }"#);
        assert!(
            unknown_kind.contains("column 18")
                && unknown_kind.contains("unknown variant `square`, expected `nothing` or `round`"),
            "{unknown_kind}"
        );
        let kind_type = error(r#"shape = { kind = 3 }"#);
        assert!(
            kind_type.contains("column 18")
                && kind_type.contains("invalid type: integer `3`, expected the name of a kind"),
            "{kind_type}"
        );
        assert!(error(r#"shape = { radius_ms = 1 }"#).contains("missing field `kind`"));
        // An error of a nested value is not taken for fields given to a kind without fields.
        let nested = error(r#"shape = { kind = "round", radius_ms = 1, edge = { rough = 1 } }"#);
        assert!(
            nested.contains("in `edge`") && !nested.contains("takes no fields"),
            "{nested}"
        );
        let missing = error(r#"shape = { kind = "round" }"#);
        assert!(missing.contains("missing field `radius_ms`"), "{missing}");
        let not_a_table = error(r#"shape = "round""#);
        assert!(
            not_a_table.contains("expected a table with a `kind`"),
            "{not_a_table}"
        );
    }
}
