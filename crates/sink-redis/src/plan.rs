//! From a batch of records to the writes that make Redis hold the same rows: pure, no
//! I/O.
//!
//! ```text
//!  records ──▶ per row key, in batch order, one final operation
//!    │          create/read/update ─▶ Put(row)      delete ─▶ Delete
//!    │          update with unchanged TOAST ─▶ values from its old row (REPLICA IDENTITY
//!    │                                        FULL), or merged into the Put(row) before
//!    │                                        it, or Merge(known columns) over the stored row
//!    │          any change of an invalidate-only table ─▶ Invalidate
//!    ├─ truncate ─▶ ends the current Write step; a Truncate step of its own
//!    └─ anything unusable ─▶ rejected (index in the batch, reason)
//! ```
//!
//! The fold itself (one op per key, newer wins, truncates splitting steps) is
//! [`BatchPlanner`]'s; this module says what a record means for a Redis key.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use sluice_event::key::decode_key;
use sluice_event::v1::Op;
use sluice_sink::fold::{self, BatchPlanner, Earlier};
pub(crate) use sluice_sink::fold::{NewRow, Partial};
use sluice_sink::json::RowJsonError;
use sluice_sink::{Record, Rejection, TableName};

use crate::config::{RedisConfig, TableSettings};
use crate::layout;
use crate::script::VERSION_FIELD;

/// What to do for a batch.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The tables the batch concerns, with how they are cached; ops refer to them by
    /// position.
    pub(crate) targets: Vec<Target>,
    /// The steps, in order.
    pub(crate) steps: Vec<Step>,
    /// Records refused before anything is sent.
    pub(crate) rejected: Vec<Rejection>,
}

/// A table and how it is cached.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) table: TableName,
    /// The start of its keys.
    pub(crate) prefix: String,
    /// Its truncate floor's key.
    pub(crate) floor: String,
    pub(crate) settings: TableSettings,
}

/// One step of a batch: row writes, at most one per key, or a truncate.
pub(crate) type Step = sluice_sink::fold::Step<KeyOp, TruncateOp>;

/// A truncate of one table: remove its rows whose version is below `version`.
#[derive(Debug, PartialEq)]
pub(crate) struct TruncateOp {
    /// The table, by position in [`Plan::targets`].
    pub(crate) target: usize,
    pub(crate) version: u64,
}

/// The final operation on one key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyOp {
    /// The table, by position in [`Plan::targets`].
    pub(crate) target: usize,
    pub(crate) key: String,
    pub(crate) tombstone: String,
    pub(crate) version: u64,
    /// The last record folded into it: the one a rejection names.
    pub(crate) record: usize,
    pub(crate) action: Action,
}

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Store this row (without the version field), replacing what is there.
    Put(Map<String, Json>),
    /// Delete the row, remembering the version in a tombstone.
    Delete,
    /// A row of which some columns are only in the stored row.
    Merge(Partial),
    /// Delete the key, unversioned (an invalidate-only table).
    Invalidate,
}

/// The plan of a batch.
pub(crate) fn plan(batch: &[Record], config: &RedisConfig) -> Plan {
    let mut planner = Planner {
        config,
        targets: Vec::new(),
        fold: BatchPlanner::default(),
        target_of_table: HashMap::new(),
    };
    for (i, record) in batch.iter().enumerate() {
        planner.add(i, record);
    }
    let (steps, rejected) = planner.fold.finish();
    Plan {
        targets: planner.targets,
        steps,
        rejected,
    }
}

struct Planner<'a> {
    config: &'a RedisConfig,
    /// The plan's targets.
    targets: Vec<Target>,
    /// The fold: one op per key, truncates per target.
    fold: BatchPlanner<usize, KeyOp, TruncateOp>,
    /// Table to its position in `targets`.
    target_of_table: HashMap<TableName, usize>,
}

impl Planner<'_> {
    fn reject(&mut self, index: usize, reason: impl Into<String>) {
        self.fold.reject(index, reason);
    }

    fn target(&mut self, table: TableName) -> usize {
        if let Some(&target) = self.target_of_table.get(&table) {
            return target;
        }
        let prefix = self.config.table_prefix(&table);
        let target = self.targets.len();
        self.targets.push(Target {
            floor: layout::floor_key(&prefix),
            prefix,
            settings: self.config.table(&table).cloned().unwrap_or_default(),
            table: table.clone(),
        });
        self.target_of_table.insert(table, target);
        target
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
        let version = record.version();
        if version == 0 {
            return self.reject(
                i,
                "the event has no version (source.version is 0): Sluice never writes such \
                 an event, so it cannot be applied safely",
            );
        }
        let target = self.target(record.table());
        match op {
            Op::Truncate => self
                .fold
                .truncate(target, version, TruncateOp { target, version }),
            Op::Create | Op::Read | Op::Update | Op::Delete => {
                self.write(i, record, op, target, version)
            }
            Op::Unspecified | Op::SchemaChange | Op::Message => {}
        }
    }

    fn write(&mut self, i: usize, record: &Record, op: Op, target: usize, version: u64) {
        let texts = match decode_key(&record.key) {
            Ok(texts) if !texts.is_empty() => texts,
            Ok(_) => {
                return self.reject(
                    i,
                    "the event has no key (the table has no primary key or replica identity \
                     index), so it names no Redis key: give the table a primary key",
                );
            }
            Err(error) => {
                return self.reject(i, format!("the event's Kafka key is not Sluice's: {error}"));
            }
        };
        let prefix = &self.targets[target].prefix;
        let key = layout::row_key(prefix, &texts);
        let tombstone = layout::tombstone_key(prefix, &texts);
        let invalidate_only = self.targets[target].settings.invalidate_only;
        self.fold.write(i, target, key.clone(), version, |earlier| {
            let action = if invalidate_only {
                Action::Invalidate
            } else {
                action(record, op, earlier.map(|op| &op.action))?
            };
            Ok(KeyOp {
                target,
                key,
                tombstone,
                version,
                record: i,
                action,
            })
        });
    }
}

/// The record's action, folded onto the key's `current` one.
fn action(record: &Record, op: Op, current: Option<&Action>) -> Result<Action, String> {
    if op == Op::Delete {
        return Ok(Action::Delete);
    }
    let Some(after) = record.event.after.as_ref() else {
        return Err("the event has no new row (`after` is missing)".into());
    };
    if after.values.len() != record.event.columns.len() {
        return Err("the event's new row does not have one value per column".into());
    }
    let earlier = match current {
        Some(Action::Put(row)) => Earlier::Full(row),
        Some(Action::Merge(partial)) => Earlier::Partial(partial),
        Some(Action::Delete) => Earlier::Deleted,
        Some(Action::Invalidate) | None => Earlier::Nothing,
    };
    let new = new_row(record).map_err(|error| {
        format!("{error}: upgrade the sink if it is a newer kind, then replay this dead letter")
    })?;
    Ok(match new.after(earlier)? {
        NewRow::Full(row) => Action::Put(row),
        NewRow::Partial(partial) => Action::Merge(partial),
    })
}

/// The record's new row ([`sluice_sink::fold::new_row`]), without a column named like
/// the version field.
pub(crate) fn new_row(record: &Record) -> Result<NewRow, RowJsonError> {
    Ok(match fold::new_row(record)? {
        NewRow::Full(mut row) => {
            row.remove(VERSION_FIELD);
            NewRow::Full(row)
        }
        NewRow::Partial(mut partial) => {
            partial.known.remove(VERSION_FIELD);
            partial.columns.retain(|name| name != VERSION_FIELD);
            NewRow::Partial(partial)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TableSettings;
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

    fn config() -> RedisConfig {
        RedisConfig::new("redis://localhost")
    }

    fn writes(plan: &Plan) -> Vec<&KeyOp> {
        plan.steps
            .iter()
            .flat_map(|s| match s {
                Step::Write(ops) => ops.iter().collect(),
                Step::Truncate(_) => Vec::new(),
            })
            .collect()
    }

    fn object(value: Json) -> Map<String, Json> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_last_record_of_a_key_wins() {
        let batch = [
            record(Op::Create, 1, 10, row("a", "x")),
            record(Op::Update, 1, 20, row("b", "x")),
            record(Op::Create, 2, 20, row("c", "x")),
            record(Op::Delete, 2, 30, None),
        ];
        let plan = plan(&batch, &config());
        let ops = writes(&plan);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].key, "sluice:public.items:1");
        assert_eq!(ops[0].tombstone, r"sluice:public.items:\deleted:1");
        assert_eq!(
            ops[0].action,
            Action::Put(object(json!({ "id": 1, "name": "b", "body": "x" })))
        );
        assert_eq!((ops[0].version, ops[0].record), (20, 1));
        assert_eq!(ops[1].action, Action::Delete);
        assert_eq!((ops[1].version, ops[1].record), (30, 3));
        assert_eq!(plan.targets[0].floor, r"sluice:public.items:\truncated");
    }

    #[test]
    fn a_partial_update_merges_into_the_row_before_it() {
        let batch = [
            record(Op::Create, 1, 10, row("a", "long body")),
            record(Op::Update, 1, 20, partial("b")),
        ];
        let plan = plan(&batch, &config());
        assert_eq!(
            writes(&plan)[0].action,
            Action::Put(object(json!({ "id": 1, "name": "b", "body": "long body" })))
        );
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
            Action::Put(object(json!({ "id": 1, "name": "b", "body": "old body" })))
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
    fn a_column_named_like_the_version_field_is_not_stored() {
        let mut create = record(Op::Create, 1, 10, row("a", "x"));
        create.event.columns[2].name = VERSION_FIELD.into();
        let plan = plan(&[create], &config());
        assert_eq!(
            writes(&plan)[0].action,
            Action::Put(object(json!({ "id": 1, "name": "a" })))
        );
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
        assert_eq!(
            plan.steps[1],
            Step::Truncate(TruncateOp {
                target: 0,
                version: 15
            })
        );
        // One key, written in two steps: the fold restarts after a truncate.
        assert_eq!(writes(&plan).len(), 2);
    }

    #[test]
    fn invalidate_only_tables_fold_to_one_delete_per_key() {
        let mut config = config();
        config.tables.insert(
            "public.items".into(),
            TableSettings {
                invalidate_only: true,
                ..TableSettings::default()
            },
        );
        let batch = [
            record(Op::Create, 1, 10, row("a", "x")),
            record(Op::Update, 1, 20, partial("b")),
            record(Op::Delete, 2, 5, None),
        ];
        let plan = plan(&batch, &config);
        let ops = writes(&plan);
        assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
        assert_eq!(ops.len(), 2);
        assert!(ops.iter().all(|op| op.action == Action::Invalidate));
        assert_eq!(ops[0].record, 1);
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
        let mut bad_key = record(Op::Create, 6, 10, row("a", "x"));
        bad_key.key = b"[6]".to_vec();
        let mut schema_change = record(Op::SchemaChange, 7, 10, None);
        schema_change.key = b"[]".to_vec();
        let message = record(Op::Message, 8, 10, None);
        let batch = [
            keyless,
            unversioned,
            unknown_op,
            no_row,
            unknown_kind,
            bad_key,
            schema_change,
            message,
        ];
        let plan = plan(&batch, &config());
        let rejected: Vec<usize> = plan.rejected.iter().map(|r| r.index).collect();
        assert_eq!(rejected, [0, 1, 2, 3, 4, 5]);
        assert!(plan.steps.is_empty());
    }
}
