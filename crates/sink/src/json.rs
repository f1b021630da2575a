//! Rows as JSON documents, the form document stores (Elasticsearch, Redis JSON) keep.
//!
//! The rule: a value keeps its JSON type where JSON has one that loses nothing, and is
//! otherwise PostgreSQL's own text for it ([`canonical_text`]), so a document compares
//! equal to the row it came from.
//!
//! | kind | JSON |
//! |---|---|
//! | null | `null` |
//! | boolean | `true` / `false` |
//! | integer, oid | number |
//! | float4, float8 | number; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
//! | numeric | string, exact (`"12.50"`): JSON numbers are doubles in most readers |
//! | json, jsonb | the JSON value itself |
//! | timestamptz | ISO 8601 in UTC, `"2024-05-17T12:00:00.5Z"` (BC, infinite: PostgreSQL's text) |
//! | timestamp | ISO 8601 without zone, `"2024-05-17T12:00:00.5"` |
//! | array | array of the elements (nested per dimension; lower bounds dropped) |
//! | anything else | PostgreSQL's text (`date`, `uuid`, `interval`, `inet`, ranges...) |
//!
//! An unchanged TOASTed column has no JSON form: [`row_to_json`] leaves it out, which is
//! what a partial update needs.

use serde_json::{Map, Value as Json};
use sluice_event::key::canonical_text;
use sluice_event::v1::value::Kind;
use sluice_event::v1::{self, Array};

use crate::record::Cell;

/// The row's columns as a JSON object, unchanged TOASTed columns left out.
pub fn row_to_json<'a>(cells: impl Iterator<Item = Cell<'a>>) -> Map<String, Json> {
    cells
        .filter(|cell| !cell.value.is_unchanged_toast())
        .map(|cell| (cell.column.name.clone(), value_to_json(cell.value)))
        .collect()
}

/// One value as JSON (see the module docs).
pub fn value_to_json(value: &v1::Value) -> Json {
    let Some(kind) = value.kind.as_ref() else {
        return Json::Null;
    };
    match kind {
        Kind::Null(_) | Kind::UnchangedToast(_) => Json::Null,
        Kind::Boolean(b) => Json::Bool(*b),
        Kind::Integer(i) => Json::from(*i),
        Kind::Oid(o) => Json::from(*o),
        Kind::Float8(f) => float(*f),
        Kind::Float4(f) => float(f64::from(*f)),
        Kind::Json(text) | Kind::Jsonb(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone()))
        }
        Kind::Timestamptz(_) => text(value)
            .map(|t| match t.strip_suffix("+00") {
                Some(utc) if !utc.ends_with(" BC") => Json::String(format!("{}Z", iso(utc))),
                _ => Json::String(t),
            })
            .unwrap_or(Json::Null),
        Kind::Timestamp(_) => text(value)
            .map(|t| {
                if t.ends_with(" BC") || t.contains("infinity") {
                    Json::String(t)
                } else {
                    Json::String(iso(&t))
                }
            })
            .unwrap_or(Json::Null),
        Kind::Array(array) => array_to_json(array),
        _ => text(value).map_or(Json::Null, Json::String),
    }
}

fn text(value: &v1::Value) -> Option<String> {
    canonical_text(value).ok().flatten()
}

/// `2024-05-17 12:00:00.5` as `2024-05-17T12:00:00.5`.
fn iso(text: &str) -> String {
    text.replacen(' ', "T", 1)
}

fn float(f: f64) -> Json {
    if f.is_nan() {
        Json::String("NaN".into())
    } else if f.is_infinite() {
        Json::String(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
    }
}

fn array_to_json(array: &Array) -> Json {
    let elements: Vec<Json> = array.elements.iter().map(value_to_json).collect();
    let lengths: Vec<usize> = array.dimensions.iter().map(|d| d.length as usize).collect();
    nest(&elements, &lengths)
}

/// Splits row-major `elements` into nested arrays of the given dimension lengths.
fn nest(elements: &[Json], lengths: &[usize]) -> Json {
    match lengths {
        [] | [_] => Json::Array(elements.to_vec()),
        [first, rest @ ..] => {
            let inner: usize = rest.iter().product();
            if inner == 0 || elements.len() != first * inner {
                return Json::Array(elements.to_vec());
            }
            Json::Array(
                elements
                    .chunks(inner)
                    .map(|chunk| nest(chunk, rest))
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_event::v1::{ArrayDimension, Numeric, Timestamp};

    fn value(kind: Kind) -> v1::Value {
        v1::Value { kind: Some(kind) }
    }

    #[test]
    fn values_keep_their_json_type_or_postgresql_s_text() {
        assert_eq!(value_to_json(&v1::Value::from(42i64)), json!(42));
        assert_eq!(value_to_json(&v1::Value::from(true)), json!(true));
        assert_eq!(value_to_json(&v1::Value::from(1.5f64)), json!(1.5));
        assert_eq!(value_to_json(&v1::Value::from(f64::NAN)), json!("NaN"));
        assert_eq!(value_to_json(&v1::Value::null()), json!(null));
        let numeric = value(Kind::Numeric(Numeric {
            decimal: "12.50".into(),
            special: 0,
        }));
        assert_eq!(value_to_json(&numeric), json!("12.50"));
        let jsonb = value(Kind::Jsonb(r#"{"a": [1, 2]}"#.into()));
        assert_eq!(value_to_json(&jsonb), json!({"a": [1, 2]}));
        // 2024-05-17 12:00:00.5 UTC
        let micros = 1_715_947_200_500_000;
        let tz = value(Kind::Timestamptz(Timestamp {
            micros,
            infinity: 0,
        }));
        assert_eq!(value_to_json(&tz), json!("2024-05-17T12:00:00.5Z"));
        let naive = value(Kind::Timestamp(Timestamp {
            micros,
            infinity: 0,
        }));
        assert_eq!(value_to_json(&naive), json!("2024-05-17T12:00:00.5"));
        let infinite = value(Kind::Timestamptz(Timestamp {
            micros: 0,
            infinity: v1::Infinity::Positive as i32,
        }));
        assert_eq!(value_to_json(&infinite), json!("infinity"));
    }

    #[test]
    fn arrays_nest_per_dimension() {
        let elements = (1..=6).map(|i| v1::Value::from(i as i64)).collect();
        let array = value(Kind::Array(Array {
            dimensions: vec![
                ArrayDimension {
                    length: 2,
                    lower_bound: 1,
                },
                ArrayDimension {
                    length: 3,
                    lower_bound: 1,
                },
            ],
            elements,
            element_type_oid: 20,
        }));
        assert_eq!(value_to_json(&array), json!([[1, 2, 3], [4, 5, 6]]));
    }
}
