//! Planned rows as Bolt parameters.
//!
//! Neo4j properties are numbers, strings, booleans, temporal and spatial values, or
//! homogeneous lists of those: never maps, never lists mixing types or holding nulls.
//! So a row's JSON form ([`sluice_sink::json`]) maps as:
//!
//! | JSON | property |
//! |---|---|
//! | `null` | none (the property is removed) |
//! | boolean, string | the same |
//! | integer | integer (`u64` above `i64::MAX`: its decimal string) |
//! | other number | float |
//! | array of strings, of booleans, of integers, or of numbers | a list of that type (integers widened to floats when mixed with floats) |
//! | any other array (nested, mixed, with nulls), object | its JSON text, a string |

use neo4rs::{BoltList, BoltMap, BoltNull, BoltType};
use serde_json::{Map, Value as Json};

use crate::config::VERSION_PROPERTY;
use crate::plan::{Action, FkTarget, RowOp};

/// The `$rows` parameter of one group.
pub(crate) fn rows<'a>(ops: impl IntoIterator<Item = &'a RowOp>) -> BoltType {
    BoltType::List(BoltList::from(
        ops.into_iter().map(row).collect::<Vec<BoltType>>(),
    ))
}

fn row(op: &RowOp) -> BoltType {
    let mut map = BoltMap::new();
    map.put("key".into(), op.key.as_str().into());
    map.put("version".into(), op.version.into());
    match &op.action {
        Action::Delete => {}
        Action::Node(node) => {
            map.put("full".into(), node.full.into());
            map.put("props".into(), props(&node.props, node.full));
            let fks: Vec<BoltType> = node
                .fks
                .iter()
                .map(|fk| {
                    let mut m = BoltMap::new();
                    let (keep, target) = match fk {
                        FkTarget::Keep => (true, None),
                        FkTarget::Set(target) => (false, target.as_deref()),
                    };
                    m.put("keep".into(), keep.into());
                    m.put("target".into(), optional(target));
                    BoltType::Map(m)
                })
                .collect();
            map.put("fks".into(), BoltType::List(BoltList::from(fks)));
        }
        Action::Relationship(rel) => {
            map.put("full".into(), rel.full.into());
            map.put("props".into(), props(&rel.props, rel.full));
            map.put("from".into(), optional(rel.from.as_deref()));
            map.put("to".into(), optional(rel.to.as_deref()));
        }
    }
    BoltType::Map(map)
}

fn optional(text: Option<&str>) -> BoltType {
    match text {
        Some(text) => text.into(),
        None => BoltType::Null(BoltNull),
    }
}

/// A row's properties. A full row (`SET x = props`) leaves NULL columns out, a partial
/// one (`SET x += props`) sends them as `null`, which removes the property. The version
/// is set by the query itself.
pub(crate) fn props(props: &Map<String, Json>, full: bool) -> BoltType {
    let mut map = BoltMap::with_capacity(props.len());
    for (name, value) in props {
        if name == VERSION_PROPERTY || (full && value.is_null()) {
            continue;
        }
        map.put(name.as_str().into(), property(value));
    }
    BoltType::Map(map)
}

/// One property value (see the module docs).
pub(crate) fn property(value: &Json) -> BoltType {
    match value {
        Json::Null => BoltType::Null(BoltNull),
        Json::Bool(b) => (*b).into(),
        Json::String(s) => s.as_str().into(),
        Json::Number(n) => number(n).unwrap_or_else(|| n.to_string().into()),
        Json::Array(items) => list(items).unwrap_or_else(|| value.to_string().into()),
        Json::Object(_) => value.to_string().into(),
    }
}

fn number(n: &serde_json::Number) -> Option<BoltType> {
    if let Some(i) = n.as_i64() {
        Some(i.into())
    } else if n.is_u64() {
        None
    } else {
        n.as_f64().map(BoltType::from)
    }
}

/// A homogeneous list of primitives, or `None`.
fn list(items: &[Json]) -> Option<BoltType> {
    let all = |f: fn(&Json) -> bool| items.iter().all(f);
    let values: Vec<BoltType> =
        if all(Json::is_string) || all(Json::is_boolean) || all(Json::is_i64) {
            items.iter().map(property).collect()
        } else if all(Json::is_number) {
            items
                .iter()
                .map(|i| i.as_f64().map(BoltType::from))
                .collect::<Option<Vec<_>>>()?
        } else {
            return None;
        };
    Some(BoltType::List(BoltList::from(values)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(value: &BoltType) -> &'static str {
        match value {
            BoltType::String(_) => "string",
            BoltType::Integer(_) => "integer",
            BoltType::Float(_) => "float",
            BoltType::Boolean(_) => "boolean",
            BoltType::Null(_) => "null",
            BoltType::List(list) => match list.get(0) {
                Some(first) => match kind(first) {
                    "string" => "list of string",
                    "integer" => "list of integer",
                    "float" => "list of float",
                    "boolean" => "list of boolean",
                    _ => "list of other",
                },
                None => "empty list",
            },
            _ => "other",
        }
    }

    #[test]
    fn values_become_properties_neo4j_can_store() {
        let cases = [
            (json!(1), "integer"),
            (json!(1.5), "float"),
            (json!(u64::MAX), "string"),
            (json!("x"), "string"),
            (json!(true), "boolean"),
            (json!(null), "null"),
            (json!([1, 2]), "list of integer"),
            (json!([1, 2.5]), "list of float"),
            (json!(["a", "b"]), "list of string"),
            (json!([]), "empty list"),
            (json!([1, "a"]), "string"),
            (json!([1, null]), "string"),
            (json!([[1], [2]]), "string"),
            (json!({"a": 1}), "string"),
        ];
        for (value, expected) in cases {
            assert_eq!(kind(&property(&value)), expected, "{value}");
        }
        let BoltType::String(s) = property(&json!({"a": [1, 2]})) else {
            unreachable!()
        };
        assert_eq!(s.value, r#"{"a":[1,2]}"#);
    }

    #[test]
    fn a_full_row_leaves_nulls_out_and_a_partial_one_sends_them() {
        let row = json!({ "a": 1, "b": null });
        let row = row.as_object().unwrap();
        let BoltType::Map(full) = props(row, true) else {
            unreachable!()
        };
        assert_eq!(full.len(), 1);
        let BoltType::Map(partial) = props(row, false) else {
            unreachable!()
        };
        assert_eq!(partial.len(), 2);
    }
}
