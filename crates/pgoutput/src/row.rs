//! Typed rows: a [`TupleData`] read through its [`Relation`]'s column types into
//! [`sluice_pgvalue::Value`]s.
//!
//! The decoder keeps column values as raw bytes so that framing and message decoding stay
//! cheap and allocation-free per value; this is the step that gives them meaning. It is
//! separate so a caller can skip it for columns it filters out, and so the type system
//! (`sluice-pgvalue`) stays independent of the wire protocol.
//!
//! The three states of a column are kept apart, because stores must treat them
//! differently: NULL is a value, an unchanged TOASTed column is *no information* (the sink
//! must keep what it has), and everything else is a typed [`Value`].

use sluice_pgvalue::{TypeRegistry, Value, ValueError, decode_binary, decode_text};

use crate::message::{Column, Relation, Type};
use crate::tuple::{ColumnValue, TupleData};

/// One column of a typed row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A TOASTed value the change did not touch: the server did not send it.
    UnchangedToast,
    /// A value, typed by its column's type OID.
    Value(Value),
}

/// A column value that does not parse as its column's type.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The tuple and the relation disagree on the number of columns.
    #[error(
        "{schema}.{table}: the tuple has {tuple} columns but the relation has {relation}; \
         the relation cache is stale (a Relation message was missed)"
    )]
    ColumnCount {
        /// The relation's schema.
        schema: String,
        /// The relation's name.
        table: String,
        /// Columns in the tuple.
        tuple: usize,
        /// Columns in the relation.
        relation: usize,
    },
    /// A value is malformed for its type.
    #[error("{schema}.{table}.{column}: {source}")]
    Value {
        /// The relation's schema.
        schema: String,
        /// The relation's name.
        table: String,
        /// The column's name.
        column: String,
        /// What is wrong with the value.
        #[source]
        source: Box<ValueError>,
    },
}

/// Converts every column of `tuple` to a [`Cell`], using the column types of `relation`.
///
/// A type `registry` does not know is not an error: its text becomes a [`Value::Other`],
/// named when the registry has the name (see [`register_type_name`]).
pub fn typed_row(
    relation: &Relation,
    tuple: &TupleData,
    registry: &TypeRegistry,
) -> Result<Vec<Cell>, RowError> {
    if tuple.len() != relation.columns.len() {
        return Err(RowError::ColumnCount {
            schema: relation.namespace.clone(),
            table: relation.name.clone(),
            tuple: tuple.len(),
            relation: relation.columns.len(),
        });
    }
    // One allocation of the right size: collecting an iterator of `Result`s cannot know the
    // length, so it would start small and grow.
    let mut row = Vec::with_capacity(tuple.len());
    for (column, value) in relation.columns.iter().zip(tuple.iter()) {
        let typed = match value {
            ColumnValue::Null => Cell::Null,
            ColumnValue::UnchangedToast => Cell::UnchangedToast,
            ColumnValue::Text(bytes) => {
                decode_text(registry, column.type_oid, column.type_modifier, bytes)
                    .map(Cell::Value)
                    .map_err(|source| value_error(relation, column, source))?
            }
            ColumnValue::Binary(bytes) => {
                decode_binary(registry, column.type_oid, column.type_modifier, bytes)
                    .map(Cell::Value)
                    .map_err(|source| value_error(relation, column, source))?
            }
        };
        row.push(typed);
    }
    Ok(row)
}

/// Records the name of a type announced by a Type message in `registry`, for a type it has
/// no entry for (one created after the registry was loaded from the catalog): values of the
/// type then decode as [`Value::Other`] carrying the name rather than none. A type the
/// registry knows is left alone, since its catalog entry also knows the type's shape (enum,
/// domain, array...). Returns whether the name was recorded.
///
/// The name follows [`sluice_pgvalue::CATALOG_QUERY`]: bare in `pg_catalog` and `public`,
/// else qualified by its schema.
pub fn register_type_name(registry: &mut TypeRegistry, announced: &Type) -> bool {
    if registry.get(announced.oid).is_some() {
        return false;
    }
    let name = match announced.namespace.as_str() {
        "" | "pg_catalog" | "public" => announced.name.clone(),
        _ => announced.qualified_name(),
    };
    // `,` separates array elements of every type but `box`, which is built in.
    registry.register_base(announced.oid, &name, b',');
    true
}

#[cold]
fn value_error(relation: &Relation, column: &Column, source: ValueError) -> RowError {
    RowError::Value {
        schema: relation.namespace.clone(),
        table: relation.name.clone(),
        column: column.name.clone(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ReplicaIdentity;

    fn relation() -> Relation {
        let column = |flags, name: &str, type_oid| Column {
            flags,
            name: name.into(),
            type_oid,
            type_modifier: -1,
        };
        Relation {
            xid: None,
            id: 1,
            namespace: "shop".into(),
            name: "products".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                column(1, "id", 20),
                column(0, "name", 25),
                column(0, "description", 25),
                column(0, "price", 1700),
            ],
        }
    }

    #[test]
    fn keeps_null_unchanged_toast_and_typed_values_apart() {
        let tuple = TupleData::from_columns([
            ColumnValue::Text(b"42"),
            ColumnValue::Null,
            ColumnValue::UnchangedToast,
            ColumnValue::Text(b"12345678901234567890.123456789"),
        ]);
        let row = typed_row(&relation(), &tuple, &TypeRegistry::new()).unwrap();
        assert_eq!(row[0], Cell::Value(Value::Int8(42)));
        assert_eq!(row[1], Cell::Null);
        assert_eq!(row[2], Cell::UnchangedToast);
        let Cell::Value(Value::Numeric(price)) = &row[3] else {
            panic!("numeric expected: {:?}", row[3]);
        };
        assert_eq!(
            Value::Numeric(price.clone()).to_pg_text(),
            "12345678901234567890.123456789"
        );
    }

    #[test]
    fn a_malformed_value_names_its_column() {
        let tuple = TupleData::from_columns([
            ColumnValue::Text(b"not a number"),
            ColumnValue::Null,
            ColumnValue::Null,
            ColumnValue::Null,
        ]);
        let error = typed_row(&relation(), &tuple, &TypeRegistry::new()).unwrap_err();
        assert!(
            error.to_string().starts_with("shop.products.id: "),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_type_is_text_named_by_its_type_message() {
        let mut relation = relation();
        relation.columns[2].type_oid = 70_000;
        let tuple = TupleData::from_columns([
            ColumnValue::Text(b"1"),
            ColumnValue::Null,
            ColumnValue::Text(b"(1,2)"),
            ColumnValue::Null,
        ]);
        let mut registry = TypeRegistry::new();
        let other = |row: Vec<Cell>| match &row[2] {
            Cell::Value(Value::Other(other)) => other.clone(),
            cell => panic!("Other expected: {cell:?}"),
        };
        let unnamed = other(typed_row(&relation, &tuple, &registry).unwrap());
        assert_eq!((unnamed.type_oid, unnamed.type_name), (70_000, None));

        let announced = |namespace: &str| Type {
            xid: None,
            oid: 70_000,
            namespace: namespace.into(),
            name: "pair".into(),
        };
        assert!(register_type_name(&mut registry, &announced("shop")));
        let named = other(typed_row(&relation, &tuple, &registry).unwrap());
        assert_eq!(named.type_name.as_deref(), Some("shop.pair"));
        assert_eq!(named.text, "(1,2)");
        // Known types keep their entry.
        assert!(!register_type_name(&mut registry, &announced("public")));
        let mut enum_type = announced("public");
        enum_type.oid = 70_001;
        registry.register_enum(70_001, "mood");
        assert!(!register_type_name(&mut registry, &enum_type));
        assert_eq!(
            registry.get(70_001).map(|t| &t.kind),
            Some(&sluice_pgvalue::TypeKind::Enum)
        );
        enum_type.oid = 70_002;
        assert!(register_type_name(&mut registry, &enum_type));
        assert_eq!(registry.type_name(70_002), Some("pair"));
    }

    #[test]
    fn a_stale_relation_is_reported() {
        let tuple = TupleData::from_columns([ColumnValue::Null]);
        let error = typed_row(&relation(), &tuple, &TypeRegistry::new()).unwrap_err();
        assert!(matches!(
            error,
            RowError::ColumnCount {
                tuple: 1,
                relation: 4,
                ..
            }
        ));
    }
}
