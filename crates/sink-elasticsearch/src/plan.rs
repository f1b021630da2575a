//! From a batch of records to the writes that make the store hold the same rows: pure,
//! no I/O.
//!
//! ```text
//!  records ──▶ per (index, document id), in batch order, one final operation
//!    │          create/read/update ─▶ Index(row)      delete ─▶ Delete
//!    │          update with unchanged TOAST ─▶ values from its old row (REPLICA IDENTITY
//!    │                                        FULL), or merged into the Index(row) before
//!    │                                        it, or Merge(known columns) over the stored doc
//!    ├─ truncate ─▶ ends the current Write step; a Truncate step of its own
//!    └─ anything unusable ─▶ rejected (index in the batch, reason)
//! ```
//!
//! The fold itself (one op per document, newer wins, truncates splitting steps) is
//! [`BatchPlanner`]'s; this module says what a record means for a document.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value as Json};
use sluice_event::v1::Op;
use sluice_sink::fold::{BatchPlanner, Earlier};
pub(crate) use sluice_sink::fold::{NewRow, Partial, new_row};
use sluice_sink::{Record, Rejection, TableName};

use crate::config::ElasticsearchConfig;
use crate::mapping::ColumnShape;

/// The longest document id the search engines accept, in bytes.
const MAX_ID_BYTES: usize = 512;

/// What to do for a batch.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The indices the batch writes to (or truncates), each with the columns seen for it.
    pub(crate) indices: Vec<IndexPlan>,
    /// The steps, in order.
    pub(crate) steps: Vec<Step>,
    /// Records refused before anything is sent.
    pub(crate) rejected: Vec<Rejection>,
}

/// One index the batch concerns.
#[derive(Debug)]
pub(crate) struct IndexPlan {
    pub(crate) index: String,
    pub(crate) table: TableName,
    /// Every column any record of the batch showed for the table, first sight first.
    pub(crate) columns: Vec<ColumnShape>,
}

/// One step of a batch: document writes, at most one per document, or a truncate.
pub(crate) type Step = sluice_sink::fold::Step<DocOp, TruncateOp>;

/// A truncate of one index: remove its documents whose version is below `version`.
#[derive(Debug, PartialEq)]
pub(crate) struct TruncateOp {
    pub(crate) index: String,
    pub(crate) version: i64,
}

/// The final operation on one document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DocOp {
    pub(crate) index: String,
    pub(crate) id: String,
    pub(crate) version: i64,
    /// The last record folded into it: the one a rejection names.
    pub(crate) record: usize,
    pub(crate) action: Action,
}

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Index this row (without the version field).
    Index(Map<String, Json>),
    /// Delete the document.
    Delete,
    /// A row of which some columns are only in the stored document.
    Merge(Partial),
}

/// The plan of a batch.
pub(crate) fn plan(batch: &[Record], config: &ElasticsearchConfig) -> Plan {
    let mut planner = Planner {
        config,
        fold: BatchPlanner::default(),
        tables: BTreeMap::new(),
        index_of_table: HashMap::new(),
        unsampled: HashSet::new(),
    };
    for (i, record) in batch.iter().enumerate() {
        planner.add(i, record);
    }
    let (steps, rejected) = planner.fold.finish();
    let mut indices: Vec<IndexPlan> = planner.tables.into_values().collect();
    indices.sort_by(|a, b| a.index.cmp(&b.index));
    Plan {
        indices,
        steps,
        rejected,
    }
}

struct Planner<'a> {
    config: &'a ElasticsearchConfig,
    /// The fold: one op per document, truncates per index.
    fold: BatchPlanner<String, DocOp, TruncateOp>,
    /// Index to what is known of it.
    tables: BTreeMap<String, IndexPlan>,
    /// Table to its index, or why it has none.
    index_of_table: HashMap<TableName, Result<String, String>>,
    /// (index, column) of columns the batch has shown no value of yet.
    unsampled: HashSet<(String, String)>,
}

impl Planner<'_> {
    fn reject(&mut self, index: usize, reason: impl Into<String>) {
        self.fold.reject(index, reason);
    }

    fn add(&mut self, i: usize, record: &Record) {
        let op = match Op::try_from(record.event.op) {
            Ok(Op::Message) => return,
            Ok(Op::Unspecified) | Err(_) => {
                return self.reject(
                    i,
                    "the event's op is unknown to this sink (written by a newer Sluice?): \
                     upgrade the sink and replay this dead letter",
                );
            }
            Ok(op) => op,
        };
        let Some(index) = self.index(i, record) else {
            return;
        };
        if op == Op::SchemaChange {
            // Nothing to write; its columns were noted so new ones get mapped.
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
                return self.reject(
                    i,
                    "the event's version is above the search engine's largest version \
                     (2^63 - 1)",
                );
            }
        };
        match op {
            Op::Truncate => {
                let op = TruncateOp {
                    index: index.clone(),
                    version,
                };
                self.fold.truncate(index, record.version(), op);
            }
            Op::Create | Op::Read | Op::Update | Op::Delete => {
                self.write(i, record, op, index, version)
            }
            Op::Unspecified | Op::SchemaChange | Op::Message => {}
        }
    }

    /// The record's index, noting its table's columns; `None` when it was rejected.
    fn index(&mut self, i: usize, record: &Record) -> Option<String> {
        let table = record.table();
        let config = self.config;
        let resolved = self
            .index_of_table
            .entry(table.clone())
            .or_insert_with(|| config.index_for(&table).map_err(|e| e.to_string()))
            .clone();
        let index = match resolved {
            Ok(index) => index,
            Err(reason) => {
                self.reject(i, reason);
                return None;
            }
        };
        let entry = self
            .tables
            .entry(index.clone())
            .or_insert_with(|| IndexPlan {
                index: index.clone(),
                table,
                columns: Vec::new(),
            });
        let after = record.event.after.as_ref().map(|row| &row.values);
        let before = record.event.before.as_ref().map(|row| &row.values);
        for (n, column) in record.event.columns.iter().enumerate() {
            let sample = [after, before]
                .into_iter()
                .flatten()
                .filter_map(|values| values.get(n))
                .find(|v| !v.is_null() && !v.is_unchanged_toast());
            let shape = ColumnShape::new(column, sample);
            let key = (index.clone(), column.name.clone());
            match entry.columns.iter_mut().find(|c| c.name == column.name) {
                // First seen null or unchanged: typed by the first value the batch has.
                Some(known) if sample.is_some() && self.unsampled.remove(&key) => *known = shape,
                Some(_) => {}
                None => {
                    if sample.is_none() {
                        self.unsampled.insert(key);
                    }
                    entry.columns.push(shape);
                }
            }
        }
        Some(index)
    }

    fn write(&mut self, i: usize, record: &Record, op: Op, index: String, version: i64) {
        let id = record.key_text();
        if id.is_empty() || id == "[]" {
            return self.reject(
                i,
                "the event has no key (the table has no primary key or replica identity \
                 index), so it names no document: give the table a primary key",
            );
        }
        if id.len() > MAX_ID_BYTES {
            return self.reject(
                i,
                format!(
                    "the row's key is {} bytes long, more than the {MAX_ID_BYTES} a document \
                     id may have",
                    id.len()
                ),
            );
        }
        if op != Op::Delete {
            let Some(after) = record.event.after.as_ref() else {
                return self.reject(i, "the event has no new row (`after` is missing)");
            };
            if after.values.len() != record.event.columns.len() {
                return self.reject(i, "the event's new row does not have one value per column");
            }
        }
        let id = id.to_owned();
        self.fold
            .write(i, index.clone(), id.clone(), record.version(), |earlier| {
                Ok(DocOp {
                    index,
                    id,
                    version,
                    record: i,
                    action: action(record, op, earlier.map(|doc| &doc.action))?,
                })
            });
    }
}

/// The record's action, folded onto the document's `earlier` one.
fn action(record: &Record, op: Op, earlier: Option<&Action>) -> Result<Action, String> {
    if op == Op::Delete {
        return Ok(Action::Delete);
    }
    let earlier = match earlier {
        Some(Action::Index(row)) => Earlier::Full(row),
        Some(Action::Merge(partial)) => Earlier::Partial(partial),
        Some(Action::Delete) => Earlier::Deleted,
        None => Earlier::Nothing,
    };
    let new = new_row(record).map_err(|error| {
        format!("{error}: upgrade the sink if it is a newer kind, then replay this dead letter")
    })?;
    Ok(match new.after(earlier)? {
        NewRow::Full(row) => Action::Index(row),
        NewRow::Partial(partial) => Action::Merge(partial),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::FieldType;
    use serde_json::json;
    use sluice_event::v1::{self, Row};
    use sluice_sink::testing::TestTable;

    /// The event of `op` on row `id` of `public.items (id int8, name text, body text)`.
    fn record(op: Op, id: i64, version: u64, after: Option<[v1::Value; 2]>) -> Record {
        let items = TestTable::new(
            "items",
            &[("id", "int8"), ("name", "text"), ("body", "text")],
        );
        let key = items.key(&v1::Value::from(id));
        let row = after.map(|[name, body]| vec![v1::Value::from(id), name, body]);
        items.record(op, version, Some(key), row)
    }

    fn row(name: &str, body: &str) -> Option<[v1::Value; 2]> {
        Some([name.into(), body.into()])
    }

    fn partial(name: &str) -> Option<[v1::Value; 2]> {
        Some([name.into(), v1::Value::unchanged_toast()])
    }

    fn config() -> ElasticsearchConfig {
        ElasticsearchConfig::new("http://localhost:9200")
    }

    fn writes(plan: &Plan) -> Vec<&DocOp> {
        plan.steps
            .iter()
            .flat_map(|step| match step {
                Step::Write(ops) => ops.iter().collect(),
                Step::Truncate(_) => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn records_of_one_document_fold_into_the_last_state() {
        let batch = [
            record(Op::Create, 1, 10, row("a", "x")),
            record(Op::Create, 2, 10, row("b", "y")),
            record(Op::Update, 1, 20, row("a2", "x2")),
            record(Op::Delete, 2, 30, None),
        ];
        let plan = plan(&batch, &config());
        assert!(plan.rejected.is_empty());
        let ops = writes(&plan);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].id, r#"["1"]"#);
        assert_eq!(ops[0].version, 20);
        assert_eq!(ops[0].record, 2);
        assert_eq!(
            ops[0].action,
            Action::Index(
                json!({ "id": 1, "name": "a2", "body": "x2" })
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
        assert_eq!(ops[1].action, Action::Delete);
        assert_eq!(ops[1].record, 3);
        assert_eq!(plan.indices.len(), 1);
        assert_eq!(plan.indices[0].index, "sluice-public-items");
    }

    #[test]
    fn a_partial_update_merges_into_the_row_before_it() {
        let batch = [
            record(Op::Create, 1, 10, row("a", "long body")),
            record(Op::Update, 1, 20, partial("b")),
        ];
        let plan = plan(&batch, &config());
        let ops = writes(&plan);
        assert_eq!(
            ops[0].action,
            Action::Index(
                json!({ "id": 1, "name": "b", "body": "long body" })
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
        assert_eq!(ops[0].version, 20);
    }

    #[test]
    fn the_old_row_of_replica_identity_full_completes_a_partial_update() {
        let mut update = record(Op::Update, 1, 20, partial("b"));
        update.event.before = Some(Row {
            values: vec![v1::Value::from(1i64), "a".into(), "old body".into()],
        });
        let plan = plan(&[update], &config());
        assert_eq!(
            writes(&plan)[0].action,
            Action::Index(
                json!({ "id": 1, "name": "b", "body": "old body" })
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
    }

    #[test]
    fn a_partial_update_after_a_delete_is_rejected() {
        let batch = [
            record(Op::Delete, 1, 10, None),
            record(Op::Update, 1, 10, partial("b")),
        ];
        let plan = plan(&batch, &config());
        assert_eq!(plan.rejected.len(), 1);
        assert_eq!(plan.rejected[0].index, 1);
        assert_eq!(writes(&plan)[0].action, Action::Delete);
    }

    #[test]
    fn a_truncate_ends_a_step_and_its_copies_run_once() {
        let mut truncate = record(Op::Truncate, 0, 15, None);
        truncate.key = b"[]".to_vec();
        let batch = [
            record(Op::Create, 1, 10, row("a", "x")),
            truncate.clone(),
            truncate.clone(),
            record(Op::Create, 1, 20, row("b", "x")),
            truncate.clone(),
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
        let Step::Truncate(op) = &plan.steps[1] else {
            unreachable!()
        };
        assert_eq!(
            op,
            &TruncateOp {
                index: "sluice-public-items".into(),
                version: 15
            }
        );
    }

    #[test]
    fn unusable_records_are_rejected_and_others_ignored() {
        let mut keyless = record(Op::Create, 1, 10, row("a", "x"));
        keyless.key = b"[]".to_vec();
        let unversioned = record(Op::Create, 2, 0, row("a", "x"));
        let mut unknown_op = record(Op::Create, 3, 10, row("a", "x"));
        unknown_op.event.op = 99;
        let no_row = record(Op::Create, 4, 10, None);
        let mut unknown_kind = record(Op::Create, 5, 10, row("a", "x"));
        unknown_kind.event.after.as_mut().unwrap().values[1] = v1::Value { kind: None };
        let mut schema_change = record(Op::SchemaChange, 6, 10, None);
        schema_change.key = b"[]".to_vec();
        let message = record(Op::Message, 7, 10, None);
        let batch = [
            keyless,
            unversioned,
            unknown_op,
            no_row,
            unknown_kind,
            schema_change,
            message,
        ];
        let plan = plan(&batch, &config());
        let rejected: Vec<usize> = plan.rejected.iter().map(|r| r.index).collect();
        assert_eq!(rejected, [0, 1, 2, 3, 4]);
        assert!(plan.steps.is_empty());
        // The schema change still names the index, so its columns get mapped.
        assert_eq!(plan.indices.len(), 1);
    }

    #[test]
    fn a_column_first_seen_without_a_value_is_typed_by_a_later_one() {
        let mut first = record(Op::Create, 1, 10, row("a", "x"));
        first.event.columns[2].type_name = "mood".into();
        first.event.columns[2].type_schema = "public".into();
        first.event.after.as_mut().unwrap().values[2] = v1::Value::null();
        let mut second = first.clone();
        second.event.after.as_mut().unwrap().values[2] = v1::Value::from(5i64);
        let plan = plan(&[first, second], &config());
        let body = plan.indices[0]
            .columns
            .iter()
            .find(|c| c.name == "body")
            .unwrap();
        assert_eq!(body.field, FieldType::Long);
    }
}
