//! From a batch of records to the writes that make the graph hold the same rows: pure,
//! no I/O.
//!
//! ```text
//!  records ──▶ per (table, key), in batch order, one final operation
//!    │          create/read/update of a node table ─▶ Node(properties, foreign-key targets)
//!    │          create/read/update of a join table ─▶ Relationship(properties, endpoints)
//!    │          delete ─▶ Delete
//!    │          update with unchanged TOAST ─▶ values from its old row (REPLICA IDENTITY
//!    │                                        FULL), or merged into the row before it, or
//!    │                                        a partial write (SET +=)
//!    ├─ truncate ─▶ ends the current Write step; a Truncate step of its own
//!    ├─ table not configured ─▶ nothing (acknowledged)
//!    └─ anything unusable ─▶ rejected (index in the batch, reason)
//! ```
//!
//! The fold itself (one operation per (table, key), newer wins, truncates splitting
//! steps) is [`BatchPlanner`]'s. A Write step is sent as one UNWIND query per (table,
//! upsert or delete), so the operations of one step must not depend on each other's
//! order: one operation per key, and the Cypher of each kind is safe in any order against
//! the others (see the crate docs on deletes and placeholders).

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use sluice_event::key::{canonical_text, encode_texts};
use sluice_event::v1::{self, Op};
use sluice_sink::fold::{self, BatchPlanner};
use sluice_sink::json::value_to_json;
use sluice_sink::{Record, Rejection};

use crate::config::{Neo4jConfig, RESERVED_PROPERTIES};

/// The longest `sluice_key` the sink writes, in bytes: Neo4j's range indexes (behind the
/// uniqueness constraints) refuse entries of about 8 kB and more, and fail the whole
/// statement with a generic database error, so longer keys are rejected up front.
pub(crate) const MAX_KEY_BYTES: usize = 8_000;

/// What to do for a batch.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The steps, in order.
    pub(crate) steps: Vec<Step>,
    /// Records refused before anything is sent.
    pub(crate) rejected: Vec<Rejection>,
}

/// One step of a batch.
#[derive(Debug)]
pub(crate) enum Step {
    /// Writes, at most one per (table, key), grouped per (table, kind).
    Write(Vec<Group>),
    /// Remove a table's nodes or relationships older than `version`.
    Truncate(TruncateOp),
}

/// A truncate of one configured table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TruncateOp {
    /// The table, `schema.table`.
    pub(crate) table: String,
    pub(crate) version: i64,
}

/// Whether a group writes rows or deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Upsert,
    Delete,
}

/// The operations of one step on one table, of one kind: one UNWIND query.
#[derive(Debug)]
pub(crate) struct Group {
    /// The table, `schema.table`.
    pub(crate) table: String,
    pub(crate) kind: Kind,
    pub(crate) ops: Vec<RowOp>,
}

/// The final operation on one row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowOp {
    /// The row's Kafka key text.
    pub(crate) key: String,
    pub(crate) version: i64,
    /// The last record folded into it: the one a rejection names.
    pub(crate) record: usize,
    pub(crate) action: Action,
}

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Write the row of a node table.
    Node(NodeRow),
    /// Write the row of a join table.
    Relationship(RelationshipRow),
    /// Remove the row's node or relationship.
    Delete,
}

/// A node table's row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeRow {
    /// Properties; `null` removes the property.
    pub(crate) props: Map<String, Json>,
    /// Whether `props` is the whole row (`SET n =`) or only its known columns (`SET n +=`).
    pub(crate) full: bool,
    /// Per configured foreign key, in configuration order.
    pub(crate) fks: Vec<FkTarget>,
}

/// Where a foreign key points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FkTarget {
    /// Unknown (an unchanged TOAST value): keep the current relationship.
    Keep,
    /// The target's key; `None` for a NULL foreign key: no relationship.
    Set(Option<String>),
}

/// A join table's row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RelationshipRow {
    pub(crate) props: Map<String, Json>,
    pub(crate) full: bool,
    /// The start node's key; `None` when a column is NULL (no relationship).
    pub(crate) from: Option<String>,
    /// The end node's key.
    pub(crate) to: Option<String>,
}

/// The plan of a batch.
pub(crate) fn plan(batch: &[Record], config: &Neo4jConfig) -> Plan {
    let mut planner = Planner {
        config,
        fold: BatchPlanner::default(),
    };
    for (i, record) in batch.iter().enumerate() {
        planner.add(i, record);
    }
    let (steps, rejected) = planner.fold.finish();
    let steps = steps
        .into_iter()
        .map(|step| match step {
            fold::Step::Write(ops) => Step::Write(groups(ops)),
            fold::Step::Truncate(op) => Step::Truncate(op),
        })
        .collect();
    Plan { steps, rejected }
}

/// A Write step's operations, each with its table, grouped per (table, kind).
fn groups(ops: Vec<(String, RowOp)>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<(String, Kind), usize> = HashMap::new();
    for (table, op) in ops {
        let kind = match op.action {
            Action::Delete => Kind::Delete,
            Action::Node(_) | Action::Relationship(_) => Kind::Upsert,
        };
        let position = *index.entry((table.clone(), kind)).or_insert_with(|| {
            groups.push(Group {
                table,
                kind,
                ops: Vec::new(),
            });
            groups.len() - 1
        });
        groups[position].ops.push(op);
    }
    groups
}

struct Planner<'a> {
    config: &'a Neo4jConfig,
    /// The fold: operations with their table, truncates per table.
    fold: BatchPlanner<String, (String, RowOp), TruncateOp>,
}

impl Planner<'_> {
    fn reject(&mut self, index: usize, reason: impl Into<String>) {
        self.fold.reject(index, reason);
    }

    fn add(&mut self, i: usize, record: &Record) {
        let op = match Op::try_from(record.event.op) {
            Ok(Op::Message | Op::SchemaChange) => return,
            Ok(Op::Unspecified) | Err(_) => {
                return self.reject(
                    i,
                    "the event's op is unknown to this sink (written by a newer Sluice?): \
                     upgrade the sink and replay this dead letter",
                );
            }
            Ok(op) => op,
        };
        let table = record.table().to_string();
        let is_node = self.config.nodes.contains_key(&table);
        if !is_node && !self.config.relationships.contains_key(&table) {
            // Not mapped to the graph: acknowledged, nothing written.
            return;
        }
        let version = match i64::try_from(record.version()) {
            Ok(0) => {
                return self.reject(
                    i,
                    "the event has no version (source.version is 0): Sluice never writes \
                     such an event, so it cannot be applied safely",
                );
            }
            Ok(version) => version,
            Err(_) => {
                return self.reject(i, "the event's version is above 2^63 - 1");
            }
        };
        if op == Op::Truncate {
            let op = TruncateOp {
                table: table.clone(),
                version,
            };
            return self.fold.truncate(table, record.version(), op);
        }
        let key = record.key_text();
        if key.is_empty() || key.as_bytes() == sluice_event::key::EMPTY_KEY {
            return self.reject(
                i,
                format!(
                    "table {table} has no primary key or replica identity index, so its rows \
                     have no identity in the graph: give the table a primary key"
                ),
            );
        }
        if key.len() > MAX_KEY_BYTES {
            return self.reject(
                i,
                format!(
                    "the row's key is {} bytes, longer than Neo4j can index ({MAX_KEY_BYTES} \
                     bytes at most for the sink)",
                    key.len()
                ),
            );
        }
        let key = key.to_owned();
        let action = match op {
            Op::Delete => Action::Delete,
            _ => {
                let row = match resolve_row(record) {
                    Ok(row) => row,
                    Err(reason) => return self.reject(i, reason),
                };
                let action = if is_node {
                    self.node_row(&table, record, &row).map(Action::Node)
                } else {
                    self.relationship_row(&table, record, &row)
                        .map(Action::Relationship)
                };
                match action {
                    Ok(action) => action,
                    Err(reason) => return self.reject(i, reason),
                }
            }
        };
        let new = RowOp {
            key: key.clone(),
            version,
            record: i,
            action,
        };
        self.fold
            .write(i, table.clone(), key, record.version(), |earlier| {
                Ok(match earlier {
                    Some((_, previous)) => (table, merge(previous, new)),
                    None => (table, new),
                })
            });
    }

    fn node_row(
        &self,
        table: &str,
        record: &Record,
        row: &[Resolved<'_>],
    ) -> Result<NodeRow, String> {
        let Some(node) = self.config.nodes.get(table) else {
            return Err(format!("table {table} is not a node table"));
        };
        let selected = |column: &v1::Column| {
            column.key
                || node
                    .properties
                    .as_ref()
                    .is_none_or(|list| list.contains(&column.name))
        };
        let (props, full) = properties(row, selected)?;
        let fks = node
            .relationships
            .iter()
            .enumerate()
            .map(|(n, fk)| {
                let key = format!("neo4j.nodes.{table:?}.relationships[{n}].columns");
                match target_key(record, row, &fk.columns, &key)? {
                    Target::Unknown => Ok(FkTarget::Keep),
                    Target::Null => Ok(FkTarget::Set(None)),
                    Target::Key(k) => Ok(FkTarget::Set(Some(k))),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(NodeRow { props, full, fks })
    }

    fn relationship_row(
        &self,
        table: &str,
        record: &Record,
        row: &[Resolved<'_>],
    ) -> Result<RelationshipRow, String> {
        let Some(rel) = self.config.relationships.get(table) else {
            return Err(format!("table {table} is not a join table"));
        };
        let mut ends = [None, None];
        for (slot, (side, end)) in ends.iter_mut().zip([("from", &rel.from), ("to", &rel.to)]) {
            let key = format!("neo4j.relationships.{table:?}.{side}.columns");
            *slot = match target_key(record, row, &end.columns, &key)? {
                Target::Unknown => {
                    return Err(format!(
                        "an update of join table {table} leaves a column of {key} unchanged \
                         (TOAST) and the event has no old row, so the relationship's {side} \
                         node is unknown: set REPLICA IDENTITY FULL on the table"
                    ));
                }
                Target::Null => None,
                Target::Key(k) => Some(k),
            };
        }
        let endpoint_columns: Vec<&str> = rel
            .from
            .columns
            .iter()
            .chain(&rel.to.columns)
            .map(String::as_str)
            .collect();
        let selected = |column: &v1::Column| match &rel.properties {
            Some(list) => list.contains(&column.name),
            None => !column.key && !endpoint_columns.contains(&column.name.as_str()),
        };
        let (props, full) = properties(row, selected)?;
        let [from, to] = ends;
        Ok(RelationshipRow {
            props,
            full,
            from,
            to,
        })
    }
}

/// Folds `new` (not older) over the operation already planned for its key.
fn merge(previous: &RowOp, new: RowOp) -> RowOp {
    let action = match (&previous.action, new.action) {
        (Action::Node(old), Action::Node(mut row)) if !row.full => {
            let mut props = old.props.clone();
            props.extend(row.props);
            row.fks = old
                .fks
                .iter()
                .zip(row.fks)
                .map(|(old, new)| match new {
                    FkTarget::Keep => old.clone(),
                    set => set,
                })
                .collect();
            Action::Node(NodeRow {
                props,
                full: old.full,
                fks: row.fks,
            })
        }
        (Action::Relationship(old), Action::Relationship(row)) if !row.full => {
            let mut props = old.props.clone();
            props.extend(row.props);
            Action::Relationship(RelationshipRow {
                props,
                full: old.full,
                ..row
            })
        }
        (_, action) => action,
    };
    RowOp { action, ..new }
}

/// A column's value as far as the event tells it.
#[derive(Clone, Copy)]
enum Resolved<'a> {
    Known(&'a v1::Column, &'a v1::Value),
    /// An unchanged TOAST value the event does not carry.
    Unchanged(&'a v1::Column),
}

impl<'a> Resolved<'a> {
    fn column(&self) -> &'a v1::Column {
        match self {
            Resolved::Known(column, _) | Resolved::Unchanged(column) => column,
        }
    }
}

/// The record's new row; an unchanged TOAST value is taken from the old row when the
/// event has one (REPLICA IDENTITY FULL logs TOASTed values too).
fn resolve_row(record: &Record) -> Result<Vec<Resolved<'_>>, String> {
    let Some(after) = record.after() else {
        return Err("a create, read or update event without a new row".into());
    };
    let before = record.event.before.as_ref().map(|r| r.values.as_slice());
    Ok(after
        .enumerate()
        .map(|(n, cell)| {
            if !cell.value.is_unchanged_toast() {
                return Resolved::Known(cell.column, cell.value);
            }
            match before
                .and_then(|values| values.get(n))
                .filter(|old| !old.is_unchanged_toast())
            {
                Some(old) => Resolved::Known(cell.column, old),
                None => Resolved::Unchanged(cell.column),
            }
        })
        .collect())
}

/// The selected columns as properties, and whether every selected column is known.
fn properties<'a>(
    row: &[Resolved<'a>],
    selected: impl Fn(&v1::Column) -> bool,
) -> Result<(Map<String, Json>, bool), String> {
    let mut props = Map::new();
    let mut full = true;
    for cell in row {
        let column = cell.column();
        if !selected(column) || RESERVED_PROPERTIES.contains(&column.name.as_str()) {
            continue;
        }
        match cell {
            Resolved::Unchanged(_) => full = false,
            Resolved::Known(_, value) => {
                let json =
                    value_to_json(value).map_err(|e| format!("column {:?}: {e}", column.name))?;
                props.insert(column.name.clone(), json);
            }
        }
    }
    Ok((props, full))
}

/// What a list of referencing columns points at.
enum Target {
    /// The referenced row's Kafka key.
    Key(String),
    /// A column is NULL: nothing.
    Null,
    /// A column is an unchanged TOAST value.
    Unknown,
}

/// The canonical key of the row `columns` reference: the columns' PostgreSQL texts,
/// encoded as the referenced table's Kafka key would be.
fn target_key(
    record: &Record,
    row: &[Resolved<'_>],
    columns: &[String],
    config_key: &str,
) -> Result<Target, String> {
    let mut texts = Vec::with_capacity(columns.len());
    for name in columns {
        let Some(cell) = row.iter().find(|cell| cell.column().name == *name) else {
            return Err(format!(
                "column {name:?} of {config_key} is not a column of table {}'s events: fix \
                 the sink's configuration and replay this dead letter",
                record.table()
            ));
        };
        match cell {
            Resolved::Unchanged(_) => return Ok(Target::Unknown),
            Resolved::Known(_, value) => match canonical_text(value) {
                Ok(Some(text)) => texts.push(Some(text)),
                Ok(None) => return Ok(Target::Null),
                Err(e) => return Err(format!("column {name:?}: {e}")),
            },
        }
    }
    let key = encode_texts(&texts);
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the row references a key of {} bytes through {config_key}, longer than Neo4j \
             can index ({MAX_KEY_BYTES} bytes at most for the sink)",
            key.len()
        ));
    }
    Ok(Target::Key(String::from_utf8_lossy(&key).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Direction, ForeignKey, NodeTable};
    use serde_json::json;
    use sluice_sink::testing::{TestTable, int, text, unchanged};

    fn config() -> Neo4jConfig {
        let mut config = Neo4jConfig::new("bolt://localhost:7687");
        config.nodes.insert(
            "public.users".into(),
            NodeTable {
                label: "User".into(),
                properties: None,
                relationships: vec![],
            },
        );
        config.nodes.insert(
            "public.orders".into(),
            NodeTable {
                label: "Order".into(),
                properties: Some(vec!["status".into()]),
                relationships: vec![ForeignKey {
                    columns: vec!["user_id".into()],
                    target: "public.users".into(),
                    rel_type: "PLACED".into(),
                    direction: Direction::Incoming,
                }],
            },
        );
        config
    }

    fn orders() -> TestTable {
        TestTable::new(
            "orders",
            &[
                ("id", "int8"),
                ("user_id", "int8"),
                ("status", "text"),
                ("note", "text"),
            ],
        )
    }

    fn writes(plan: &Plan) -> Vec<&RowOp> {
        plan.steps
            .iter()
            .flat_map(|s| match s {
                Step::Write(groups) => groups.iter().flat_map(|g| &g.ops).collect(),
                Step::Truncate(_) => vec![],
            })
            .collect()
    }

    fn node(op: &RowOp) -> &NodeRow {
        match &op.action {
            Action::Node(row) => row,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_node_row_has_its_selected_columns_and_foreign_key_targets() {
        let t = orders();
        let plan = plan(
            &[t.create(10, vec![int(1), int(42), text("new"), text("x")])],
            &config(),
        );
        assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
        let ops = writes(&plan);
        assert_eq!(ops[0].key, r#"["1"]"#);
        let row = node(ops[0]);
        assert_eq!(
            Json::Object(row.props.clone()),
            json!({ "id": 1, "status": "new" })
        );
        assert!(row.full);
        assert_eq!(row.fks, [FkTarget::Set(Some(r#"["42"]"#.into()))]);
    }

    #[test]
    fn null_and_unchanged_foreign_keys() {
        let t = orders();
        let plan = plan(
            &[
                t.create(10, vec![int(1), v1::Value::null(), text("new"), text("x")]),
                t.update(11, vec![int(2), unchanged(), text("new"), text("x")]),
            ],
            &config(),
        );
        let ops = writes(&plan);
        assert_eq!(node(ops[0]).fks, [FkTarget::Set(None)]);
        assert_eq!(node(ops[1]).fks, [FkTarget::Keep]);
        // user_id is not a stored property (properties = ["status"]), so the row is full.
        assert!(node(ops[1]).full);
    }

    #[test]
    fn a_partial_update_folds_into_the_full_row_before_it() {
        let t = orders();
        let plan = plan(
            &[
                t.create(10, vec![int(1), int(42), text("new"), text("x")]),
                t.update(20, vec![int(1), unchanged(), unchanged(), text("y")]),
            ],
            &config(),
        );
        let ops = writes(&plan);
        assert_eq!(ops.len(), 1);
        let row = node(ops[0]);
        assert!(row.full);
        assert_eq!(ops[0].version, 20);
        assert_eq!(ops[0].record, 1);
        assert_eq!(row.props["status"], json!("new"));
        assert_eq!(row.fks, [FkTarget::Set(Some(r#"["42"]"#.into()))]);
    }

    #[test]
    fn older_records_are_dropped_and_deletes_win() {
        let t = orders();
        let plan = plan(
            &[
                t.update(20, vec![int(1), int(1), text("b"), text("x")]),
                t.update(10, vec![int(1), int(1), text("a"), text("x")]),
                t.delete(30, 2i64),
                t.create(25, vec![int(2), int(1), text("c"), text("x")]),
            ],
            &config(),
        );
        let ops = writes(&plan);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].version, 20);
        assert_eq!(node(ops[0]).props["status"], json!("b"));
        // The create at 25 after the delete at 30 is older: dropped.
        assert_eq!(ops[1].action, Action::Delete);
        assert_eq!(ops[1].version, 30);
    }

    #[test]
    fn a_truncate_ends_a_step_and_its_copies_run_once() {
        let t = orders();
        let batch = [
            t.create(10, vec![int(1), int(1), text("a"), text("x")]),
            t.truncate(15, 0),
            t.truncate(15, 1),
            t.create(20, vec![int(2), int(1), text("b"), text("x")]),
            t.truncate(15, 2),
        ];
        let plan = plan(&batch, &config());
        let kinds: Vec<&str> = plan
            .steps
            .iter()
            .map(|s| match s {
                Step::Write(_) => "write",
                Step::Truncate(_) => "truncate",
            })
            .collect();
        assert_eq!(kinds, ["write", "truncate", "write", "truncate"]);
    }

    #[test]
    fn unusable_records_are_rejected_and_unmapped_tables_skipped() {
        let t = orders();
        let mut config = config();
        config.nodes.get_mut("public.orders").unwrap().relationships[0].columns =
            vec!["customer_id".into()];
        let unmapped = TestTable::new("audit", &[("id", "int8")]);
        let mut unversioned = t.create(0, vec![int(3), int(1), text("a"), text("x")]);
        unversioned.event.source.as_mut().unwrap().version = 0;
        let plan = plan(
            &[
                t.create(10, vec![int(1), int(1), text("a"), text("x")]),
                unmapped.create(10, vec![int(1)]),
                unversioned,
            ],
            &config,
        );
        let rejected: Vec<usize> = plan.rejected.iter().map(|r| r.index).collect();
        assert_eq!(rejected, [0, 2]);
        assert!(plan.rejected[0].reason.contains("\"customer_id\""));
        assert!(
            plan.rejected[0]
                .reason
                .contains(r#"neo4j.nodes."public.orders".relationships[0].columns"#),
            "{}",
            plan.rejected[0].reason
        );
        assert!(plan.steps.is_empty());
    }
}
