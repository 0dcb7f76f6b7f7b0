//! Kinds: the `{ kind = "…", fields… }` tables of a scenario file, one module each.
//!
//! A kind's module owns its configuration (a struct with serde fields and defaults that
//! implements [`Kind`]: validation, how `--scale` speeds it up, its [`KindDoc`] for `ratelab
//! list`) and its state machine. A family of kinds (admission layers, retry policies, API limits,
//! latencies, arrivals, token sizes) is declared by one registry — one line per kind — that
//! produces the `kind`-tagged configuration enum ([`config_enum!`](crate::config_enum)), the
//! catalog of the family ([`KindEntry`]) and, in the family's own macro, the enum that dispatches
//! to the state machines. quinn-proto's `congestion/{cubic,bbr,new_reno}.rs`, with `CubicConfig`
//! next to `Cubic`, is the model.
//!
//! Parse errors name the field: the table is read with a map visitor that checks `kind` where it
//! is written (an unknown kind is reported at its value), keeps the other fields, and reads the
//! kind's configuration from them inside the visitor, so that "invalid type: string "x",
//! expected f64 in `mean_ms`" points at the table it is about.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, Error, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::config::Checker;

/// The configuration of one kind: the fields of its table.
pub trait Kind: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned {
    /// What `ratelab list` says of the kind.
    const DOC: KindDoc;
    /// Checks every field (`c` is prefixed with the table's path), recording each one out of its
    /// allowed range.
    fn check(&self, c: &mut Checker);
    /// The same kind `k` times faster: rates × k, durations ÷ k, counts unchanged (`ratelab live
    /// --scale`, `ratelab fidelity`).
    fn scale(&mut self, k: f64);
}

/// What `ratelab list` and the README say of a kind.
#[derive(Clone, Copy, Debug)]
pub struct KindDoc {
    /// What it models, in a line.
    pub about: &'static str,
    /// Its fields, in the order the table takes them (empty for a kind without fields).
    pub fields: &'static [FieldDoc],
    /// A valid table of this kind (the catalog's tests parse it).
    pub example: &'static str,
}

/// One field of a kind.
#[derive(Clone, Copy, Debug)]
pub struct FieldDoc {
    /// The field's name in the table.
    pub name: &'static str,
    /// Whether it must be given.
    pub need: Need,
    /// The values it takes when they are a short list (`"none" | "full"`), as written.
    pub values: Option<&'static str>,
    /// It holds text (a file name), not a number.
    pub text: bool,
}

/// Whether a field must be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// It must be given.
    Required,
    /// It may be left out: this default, as written in a table.
    Default(&'static str),
    /// It may be given instead of the field before it (`rate_per_min` for `rate_per_s`).
    InsteadOfPrevious,
}

impl FieldDoc {
    /// A field that must be given.
    pub const fn required(name: &'static str) -> Self {
        FieldDoc {
            name,
            need: Need::Required,
            values: None,
            text: false,
        }
    }

    /// A field with a default.
    pub const fn default(name: &'static str, default: &'static str) -> Self {
        FieldDoc {
            name,
            need: Need::Default(default),
            values: None,
            text: false,
        }
    }

    /// A field given instead of the one before it (exactly one of the two).
    pub const fn instead_of_previous(name: &'static str) -> Self {
        FieldDoc {
            name,
            need: Need::InsteadOfPrevious,
            values: None,
            text: false,
        }
    }

    /// The same field, holding text (a file name) rather than a number.
    pub const fn text(self) -> Self {
        FieldDoc { text: true, ..self }
    }

    /// The same field, taking one of `values` (as written: `"\"none\" | \"full\""`).
    pub const fn values(self, values: &'static str) -> Self {
        FieldDoc {
            values: Some(values),
            ..self
        }
    }
}

/// One entry of a family's catalog: a kind's name and documentation.
#[derive(Clone, Copy, Debug)]
pub struct KindEntry {
    /// The `kind` value.
    pub name: &'static str,
    /// Its documentation.
    pub doc: KindDoc,
    /// The fields its configuration reads ([`fields_read`]), for the tests that hold the
    /// documentation against the code.
    pub fields_read: fn() -> Vec<String>,
}

impl KindEntry {
    /// The fields as `ratelab list` prints them: `name (default), a | b, …` (a field with its
    /// default, two given instead of each other), or `-` without fields.
    pub fn fields_line(&self) -> String {
        if self.doc.fields.is_empty() {
            return "-".to_string();
        }
        let mut line = String::new();
        for (i, f) in self.doc.fields.iter().enumerate() {
            match f.need {
                Need::InsteadOfPrevious => line.push_str(" | "),
                _ if i > 0 => line.push_str(", "),
                _ => {}
            }
            line.push_str(f.name);
            if let Some(values) = f.values {
                line.push_str(&format!(" = {values}"));
            }
            if let Need::Default(d) = f.need {
                line.push_str(&format!(" ({d})"));
            }
        }
        line
    }
}

/// Declares a family's `kind`-tagged configuration enum from its registry, one line per kind:
///
/// ```
/// use ratelab_strategies::kind::{FieldDoc, Kind, KindDoc};
/// use ratelab_strategies::config::Checker;
///
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// pub struct Round {
///     pub radius_ms: f64,
/// }
/// impl Kind for Round {
///     const DOC: KindDoc = KindDoc {
///         about: "a circle",
///         fields: &[FieldDoc::required("radius_ms")],
///         example: r#"{ kind = "round", radius_ms = 1 }"#,
///     };
///     fn check(&self, c: &mut Checker) {
///         c.number("radius_ms", self.radius_ms, 0.0, 10.0);
///     }
///     fn scale(&mut self, k: f64) {
///         self.radius_ms /= k;
///     }
/// }
///
/// ratelab_strategies::config_enum! {
///     /// A shape.
///     pub enum Shape {
///         "round" => Round(Round),
///     }
/// }
///
/// let shape: Shape = ratelab_strategies::kind::parse(r#"{ kind = "round", radius_ms = 2 }"#).unwrap();
/// assert_eq!(shape, Shape::Round(Round { radius_ms: 2.0 }));
/// assert_eq!(shape.kind(), "round");
/// assert_eq!(Shape::KINDS[0].name, "round");
/// ```
///
/// Each variant holds its kind's configuration (a [`Kind`]); the enum gets `Serialize` (the
/// table with `kind` first), a `Deserialize` whose errors name the field, `kind()`, `check()`,
/// `scale()` and `KINDS`, the family's catalog in registry order. The calling crate must depend
/// on `serde` and `toml`.
#[macro_export]
macro_rules! config_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $kind:literal => $variant:ident($config:ty) ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, ::serde::Serialize)]
        #[serde(tag = "kind")]
        $vis enum $name {
            $(
                #[doc = concat!("`kind = \"", $kind, "\"`: [`", stringify!($config), "`].")]
                #[serde(rename = $kind)]
                $variant($config),
            )*
        }

        impl $name {
            /// Every kind of the family, in registry order, with its documentation.
            pub const KINDS: &'static [$crate::kind::KindEntry] = &[
                $(
                    $crate::kind::KindEntry {
                        name: $kind,
                        doc: <$config as $crate::kind::Kind>::DOC,
                        fields_read: $crate::kind::fields_read::<$config>,
                    },
                )*
            ];

            /// The `kind` as written in the table.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( $name::$variant(_) => $kind, )*
                }
            }

            /// Checks every field of the table (`c` prefixed with its path).
            pub fn check(&self, c: &mut $crate::config::Checker) {
                match self {
                    $( $name::$variant(x) => $crate::kind::Kind::check(x, c), )*
                }
            }

            /// The same table `k` times faster (see [`Kind::scale`]($crate::kind::Kind::scale)).
            pub fn scale(&mut self, k: f64) {
                match self {
                    $( $name::$variant(x) => $crate::kind::Kind::scale(x, k), )*
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> ::core::result::Result<Self, D::Error> {
                $crate::kind::read_kind_table(d, &[$($kind),*], |kind, fields| match kind {
                    $( $kind => $crate::kind::from_fields::<$config>(kind, fields).map($name::$variant), )*
                    other => ::core::result::Result::Err(format!("unknown kind `{other}`")),
                })
            }
        }
    };
}

/// Reads a `{ kind = "…", fields… }` table: `kind` must be one of `kinds` (checked where it is
/// written); `build` makes the value from the kind and the other fields (an `Err` is the message
/// of an error at this table). Used by [`config_enum!`](crate::config_enum).
#[doc(hidden)]
pub fn read_kind_table<'de, T, D>(
    deserializer: D,
    kinds: &'static [&'static str],
    build: fn(&str, Fields) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_map(KindTable {
        kinds,
        build,
        _value: PhantomData,
    })
}

/// The fields of a kind table other than `kind`, as given (a JSON `null` is a field left out,
/// as serde reads it into an `Option`), and the names given in their order, `null`s included.
#[doc(hidden)]
pub struct Fields {
    table: toml::Table,
    given: Vec<String>,
}

/// Reads kind `kind`'s configuration from `fields`; the error message is one line, and a kind
/// without fields given some says so.
#[doc(hidden)]
pub fn from_fields<C: DeserializeOwned>(kind: &str, fields: Fields) -> Result<C, String> {
    C::deserialize(toml::Value::Table(fields.table)).map_err(|e| {
        // toml puts the field on a line of its own ("…\nin `mean_ms`"): one line here, as the
        // outer error (toml's or serde_json's) adds its position after it.
        let message = e.to_string().trim_end().replace('\n', " ");
        if message.ends_with("there are no fields") && !fields.given.is_empty() {
            let s = if fields.given.len() > 1 { "s" } else { "" };
            return format!(
                "unknown field{s} `{}`: kind `{kind}` takes no fields",
                fields.given.join("`, `")
            );
        }
        message
    })
}

/// The visitor of [`read_kind_table`]. Everything, the configuration's errors included, is
/// decided inside `visit_map`, so that toml and serde_json report an error at the table it is
/// about.
struct KindTable<T> {
    kinds: &'static [&'static str],
    build: fn(&str, Fields) -> Result<T, String>,
    _value: PhantomData<T>,
}

impl<'de, T> Visitor<'de> for KindTable<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table with a `kind`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut kind: Option<String> = None;
        let mut fields = Fields {
            table: toml::Table::new(),
            given: Vec::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            if key == "kind" {
                if kind.is_some() {
                    return Err(A::Error::duplicate_field("kind"));
                }
                kind = Some(map.next_value_seed(KindName(self.kinds))?);
                continue;
            }
            if fields.given.contains(&key) {
                return Err(A::Error::custom(format!("duplicate field `{key}`")));
            }
            if let Some(value) = map.next_value::<Option<toml::Value>>()? {
                fields.table.insert(key.clone(), value);
            }
            fields.given.push(key);
        }
        let kind = kind.ok_or_else(|| A::Error::missing_field("kind"))?;
        (self.build)(&kind, fields).map_err(A::Error::custom)
    }
}

/// Reads the value of `kind`, a string that must be one of the family's kinds: checked here, so
/// that an error points at the value.
struct KindName(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KindName {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KindName {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the name of a kind")
    }

    fn visit_str<E: Error>(self, name: &str) -> Result<String, E> {
        if self.0.contains(&name) {
            Ok(name.to_owned())
        } else {
            Err(E::unknown_variant(name, self.0))
        }
    }
}

/// A kind's fields as its configuration reads them: the names serde lists when it meets an
/// unknown field (empty for a kind without fields). The catalog's tests compare it with the
/// kind's [`KindDoc`].
pub fn fields_read<C: DeserializeOwned>() -> Vec<String> {
    let mut table = toml::Table::new();
    table.insert("\u{1}".into(), toml::Value::Integer(0));
    let message = match C::deserialize(toml::Value::Table(table)) {
        Ok(_) => return Vec::new(),
        Err(e) => e.to_string(),
    };
    // "unknown field `x`, expected `a` or `b`" / "expected one of `a`, `b`, `c`" /
    // "expected `a`" / "there are no fields".
    let Some((_, expected)) = message.split_once("expected") else {
        return Vec::new();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// A configuration deserialized from TOML text, for tests and examples:
/// `kind::parse::<Shape>(r#"{ kind = "round", radius_ms = 1 }"#)`.
pub fn parse<T: for<'de> Deserialize<'de>>(table: &str) -> Result<T, String> {
    #[derive(Deserialize)]
    struct Doc<T> {
        value: T,
    }
    toml::from_str::<Doc<T>>(&format!("value = {table}"))
        .map(|d| d.value)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    fn two() -> u32 {
        2
    }

    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Edge {
        #[default]
        Smooth,
        Rough,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Round {
        radius_ms: f64,
        #[serde(default = "two")]
        sides: u32,
        #[serde(default)]
        edge: Edge,
    }

    impl Kind for Round {
        const DOC: KindDoc = KindDoc {
            about: "round",
            fields: &[
                FieldDoc::required("radius_ms"),
                FieldDoc::default("sides", "2"),
                FieldDoc::default("edge", "\"smooth\""),
            ],
            example: r#"{ kind = "round", radius_ms = 1 }"#,
        };
        fn check(&self, c: &mut Checker) {
            c.number("radius_ms", self.radius_ms, 0.0, 10.0);
        }
        fn scale(&mut self, k: f64) {
            self.radius_ms /= k;
        }
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nothing {}

    impl Kind for Nothing {
        const DOC: KindDoc = KindDoc {
            about: "nothing",
            fields: &[],
            example: r#"{ kind = "nothing" }"#,
        };
        fn check(&self, _c: &mut Checker) {}
        fn scale(&mut self, _k: f64) {}
    }

    crate::config_enum! {
        /// Shapes.
        enum Shape {
            "nothing" => Nothing(Nothing),
            "round" => Round(Round),
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

    fn round() -> Shape {
        Shape::Round(Round {
            radius_ms: 1.5,
            sides: 2,
            edge: Edge::Smooth,
        })
    }

    #[test]
    fn reads_and_writes_the_kind_tagged_table() {
        let doc: Doc = toml::from_str(r#"shape = { radius_ms = 1.5, kind = "round" }"#).unwrap();
        assert_eq!(doc.shape, round());
        assert_eq!(
            parse::<Shape>(r#"{ kind = "nothing" }"#).unwrap(),
            Shape::Nothing(Nothing {})
        );
        let json = r#"{"kind":"round","radius_ms":1.5,"sides":2,"edge":"smooth"}"#;
        assert_eq!(serde_json::to_string(&round()).unwrap(), json);
        assert_eq!(serde_json::from_str::<Shape>(json).unwrap(), round());
        assert_eq!(
            serde_json::to_string(&Shape::Nothing(Nothing {})).unwrap(),
            r#"{"kind":"nothing"}"#
        );
        assert_eq!(round().kind(), "round");
        let names: Vec<_> = Shape::KINDS.iter().map(|k| k.name).collect();
        assert_eq!(names, ["nothing", "round"]);
        assert_eq!(
            Shape::KINDS[1].fields_line(),
            "radius_ms, sides (2), edge (\"smooth\")"
        );
        assert_eq!(
            (Shape::KINDS[1].fields_read)(),
            ["radius_ms", "sides", "edge"]
        );
        assert_eq!(Shape::KINDS[0].fields_line(), "-");
        assert_eq!(fields_read::<Round>(), ["radius_ms", "sides", "edge"]);
        assert!(fields_read::<Nothing>().is_empty());
        let mut errors = Vec::new();
        parse::<Shape>(r#"{ kind = "round", radius_ms = 11 }"#)
            .unwrap()
            .check(&mut Checker::new("shape", &mut errors));
        assert_eq!(
            errors[0].to_string(),
            "shape.radius_ms: must be in 0..=10 (got 11)"
        );
        let mut s = round();
        s.scale(3.0);
        assert_eq!(s, parse(r#"{ kind = "round", radius_ms = 0.5 }"#).unwrap());
    }

    /// JSON as `report` reads it: `kind` anywhere, and `null` for a field left out.
    #[test]
    fn reads_json_with_nulls() {
        let shape: Shape =
            serde_json::from_str(r#"{"radius_ms":1.5,"sides":null,"kind":"round"}"#).unwrap();
        assert_eq!(shape, round());
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
