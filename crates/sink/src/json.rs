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
//!
//! A value that cannot be read (no kind set: written by a newer Sluice; or one breaking its
//! kind's invariants) is an error, never a silent `null`: the store must dead-letter the
//! record rather than write a NULL that PostgreSQL never had.

use serde_json::{Map, Value as Json};
use sluice_event::key::{ValueTextError, canonical_text};
use sluice_event::v1::value::Kind;
use sluice_event::v1::{self, Array};

use crate::record::Cell;

/// A value with no JSON form.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The value has no kind set: a kind added to the contract after this build.
    #[error("a value of a kind this build does not know (written by a newer Sluice?)")]
    UnknownKind,
    /// The value breaks its kind's invariants.
    #[error("an invalid value: {0}")]
    Invalid(#[from] ValueTextError),
}

/// A row with a column that has no JSON form.
#[derive(Debug, thiserror::Error)]
#[error("column {column}: {source}")]
pub struct RowJsonError {
    /// The column's name.
    pub column: String,
    /// What is wrong with its value.
    #[source]
    pub source: JsonError,
}

/// The row's columns as a JSON object, unchanged TOASTed columns left out.
///
/// # Errors
///
/// [`RowJsonError`] naming the first column whose value has no JSON form.
pub fn row_to_json<'a>(
    cells: impl Iterator<Item = Cell<'a>>,
) -> Result<Map<String, Json>, RowJsonError> {
    cells
        .filter(|cell| !cell.value.is_unchanged_toast())
        .map(|cell| {
            let value = value_to_json(cell.value).map_err(|source| RowJsonError {
                column: cell.column.name.clone(),
                source,
            })?;
            Ok((cell.column.name.clone(), value))
        })
        .collect()
}

/// One value as JSON (see the module docs).
///
/// # Errors
///
/// [`JsonError`] for a value with no kind (at any depth) or an invalid one.
pub fn value_to_json(value: &v1::Value) -> Result<Json, JsonError> {
    let kind = value.kind.as_ref().ok_or(JsonError::UnknownKind)?;
    Ok(match kind {
        Kind::Null(_) | Kind::UnchangedToast(_) => Json::Null,
        Kind::Boolean(b) => Json::Bool(*b),
        Kind::Integer(i) => Json::from(*i),
        Kind::Oid(o) => Json::from(*o),
        Kind::Float8(f) => float(*f),
        Kind::Float4(f) => float(f64::from(*f)),
        Kind::Json(text) | Kind::Jsonb(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone()))
        }
        Kind::Timestamptz(_) => {
            let t = text(value)?;
            match t.strip_suffix("+00") {
                Some(utc) if !utc.ends_with(" BC") => Json::String(format!("{}Z", iso(utc))),
                _ => Json::String(t),
            }
        }
        Kind::Timestamp(_) => {
            let t = text(value)?;
            if t.ends_with(" BC") || t.contains("infinity") {
                Json::String(t)
            } else {
                Json::String(iso(&t))
            }
        }
        Kind::Array(array) => array_to_json(array)?,
        _ => Json::String(text(value)?),
    })
}

/// PostgreSQL's text of a non-NULL value.
fn text(value: &v1::Value) -> Result<String, JsonError> {
    Ok(canonical_text(value)?.unwrap_or_default())
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

fn array_to_json(array: &Array) -> Result<Json, JsonError> {
    let elements = array
        .elements
        .iter()
        .map(value_to_json)
        .collect::<Result<Vec<Json>, JsonError>>()?;
    let lengths: Vec<usize> = array.dimensions.iter().map(|d| d.length as usize).collect();
    Ok(nest(&elements, &lengths))
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
        assert_eq!(value_to_json(&v1::Value::from(42i64)).unwrap(), json!(42));
        assert_eq!(value_to_json(&v1::Value::from(true)).unwrap(), json!(true));
        assert_eq!(value_to_json(&v1::Value::from(1.5f64)).unwrap(), json!(1.5));
        assert_eq!(
            value_to_json(&v1::Value::from(f64::NAN)).unwrap(),
            json!("NaN")
        );
        assert_eq!(value_to_json(&v1::Value::null()).unwrap(), json!(null));
        let numeric = value(Kind::Numeric(Numeric {
            decimal: "12.50".into(),
            special: 0,
        }));
        assert_eq!(value_to_json(&numeric).unwrap(), json!("12.50"));
        let jsonb = value(Kind::Jsonb(r#"{"a": [1, 2]}"#.into()));
        assert_eq!(value_to_json(&jsonb).unwrap(), json!({"a": [1, 2]}));
        // 2024-05-17 12:00:00.5 UTC
        let micros = 1_715_947_200_500_000;
        let tz = value(Kind::Timestamptz(Timestamp {
            micros,
            infinity: 0,
        }));
        assert_eq!(value_to_json(&tz).unwrap(), json!("2024-05-17T12:00:00.5Z"));
        let naive = value(Kind::Timestamp(Timestamp {
            micros,
            infinity: 0,
        }));
        assert_eq!(
            value_to_json(&naive).unwrap(),
            json!("2024-05-17T12:00:00.5")
        );
        let infinite = value(Kind::Timestamptz(Timestamp {
            micros: 0,
            infinity: v1::Infinity::Positive as i32,
        }));
        assert_eq!(value_to_json(&infinite).unwrap(), json!("infinity"));
    }

    #[test]
    fn a_value_without_a_kind_is_an_error_not_null() {
        let unknown = v1::Value { kind: None };
        assert!(matches!(
            value_to_json(&unknown),
            Err(JsonError::UnknownKind)
        ));
        let array = value(Kind::Array(Array {
            dimensions: vec![ArrayDimension {
                length: 1,
                lower_bound: 1,
            }],
            elements: vec![unknown],
            element_type_oid: 20,
        }));
        assert!(value_to_json(&array).is_err(), "nested, too");
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
        assert_eq!(
            value_to_json(&array).unwrap(),
            json!([[1, 2, 3], [4, 5, 6]])
        );
    }
}
