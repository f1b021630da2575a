//! Change events built by hand the way the source builds them, for the tests of a store's
//! sink: a [`TestTable`] makes creates, updates, deletes, key changes, truncates and schema
//! changes of one table, each a [`Record`] with its own offset. Enabled by the `testing`
//! feature (a dev-dependency of each store crate), never in the binary.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicI64, Ordering};

use sluice_event::v1::{
    self, ChangeEvent, Column, Key, KeyChange, KeyColumn, Op, Row, Source, TableRef, Truncate,
};

use crate::{Origin, Record, TableName};

/// A table as the source describes it: its first column is the primary key.
#[derive(Clone)]
pub struct TestTable {
    /// The table's name in schema `public`.
    pub table: String,
    /// Its columns; the first is the primary key.
    pub columns: Vec<Column>,
    /// The partition events go to (a truncate's copies set their own).
    pub partition: i32,
}

static OFFSET: AtomicI64 = AtomicI64::new(0);

impl TestTable {
    /// A table `public.<table>` with these (name, type name) columns.
    pub fn new(table: &str, columns: &[(&str, &str)]) -> TestTable {
        TestTable {
            table: table.into(),
            columns: columns
                .iter()
                .enumerate()
                .map(|(i, (name, type_name))| Column {
                    name: (*name).into(),
                    type_name: (*type_name).into(),
                    type_schema: "pg_catalog".into(),
                    type_modifier: -1,
                    key: i == 0,
                    ..Column::default()
                })
                .collect(),
            partition: 0,
        }
    }

    /// The same table with one more column, as after `ALTER TABLE ... ADD COLUMN`.
    pub fn with_column(&self, name: &str, type_name: &str) -> TestTable {
        let mut table = self.clone();
        table.columns.push(Column {
            name: name.into(),
            type_name: type_name.into(),
            type_schema: "pg_catalog".into(),
            type_modifier: -1,
            ..Column::default()
        });
        table
    }

    /// `public.<table>`.
    pub fn name(&self) -> TableName {
        TableName {
            schema: "public".into(),
            table: self.table.clone(),
        }
    }

    /// The key of the row whose first column holds `value`.
    pub fn key(&self, value: &v1::Value) -> Key {
        Key {
            columns: vec![KeyColumn {
                name: self.columns[0].name.clone(),
                value: Some(value.clone()),
            }],
        }
    }

    /// An event of any op, as the source would make it; the other builders use this.
    pub fn record(
        &self,
        op: Op,
        version: u64,
        key: Option<Key>,
        after: Option<Vec<v1::Value>>,
    ) -> Record {
        assert!(
            after
                .as_ref()
                .is_none_or(|row| row.len() == self.columns.len()),
            "one value per column"
        );
        let event = ChangeEvent {
            op: op as i32,
            source: Some(Source {
                database: "sluice".into(),
                schema: "public".into(),
                table: self.table.clone(),
                relation_id: 16384,
                version,
                commit_lsn: version,
                change_lsn: version,
                xid: 1,
                ..Source::default()
            }),
            key,
            after: after.map(|values| Row { values }),
            columns: self.columns.clone(),
            ..ChangeEvent::default()
        };
        let key = event.kafka_key().expect("kafka key");
        Record {
            origin: Origin {
                topic: format!("sluice.public.{}", self.table),
                partition: self.partition,
                offset: OFFSET.fetch_add(1, Ordering::Relaxed),
            },
            key,
            event,
        }
    }

    /// An INSERT of `row` (the key is its first value).
    pub fn create(&self, version: u64, row: Vec<v1::Value>) -> Record {
        let key = self.key(&row[0]);
        self.record(Op::Create, version, Some(key), Some(row))
    }

    /// An UPDATE to `row`; `v1::Value::unchanged_toast()` marks an unchanged TOAST value.
    pub fn update(&self, version: u64, row: Vec<v1::Value>) -> Record {
        let key = self.key(&row[0]);
        self.record(Op::Update, version, Some(key), Some(row))
    }

    /// An UPDATE of a table with REPLICA IDENTITY FULL: the old row comes with it.
    pub fn update_full(&self, version: u64, before: Vec<v1::Value>, row: Vec<v1::Value>) -> Record {
        let mut record = self.update(version, row);
        record.event.before = Some(Row { values: before });
        record.event.replica_identity = v1::ReplicaIdentity::Full as i32;
        record
    }

    /// A row read by a snapshot consistent at `version`.
    pub fn read(&self, version: u64, row: Vec<v1::Value>) -> Record {
        let key = self.key(&row[0]);
        let mut record = self.record(Op::Read, version, Some(key), Some(row));
        if let Some(source) = record.event.source.as_mut() {
            source.snapshot = true;
            source.commit_lsn = 0;
            source.change_lsn = 0;
            source.xid = 0;
        }
        record
    }

    /// A DELETE of the row with this key.
    pub fn delete(&self, version: u64, key: impl Into<v1::Value>) -> Record {
        let key = self.key(&key.into());
        self.record(Op::Delete, version, Some(key), None)
    }

    /// The two events of an UPDATE that moved a row from key `old` to the key of `row`.
    pub fn key_change(
        &self,
        version: u64,
        old: impl Into<v1::Value>,
        row: Vec<v1::Value>,
    ) -> [Record; 2] {
        let old_key = self.key(&old.into());
        let new_key = self.key(&row[0]);
        let change = KeyChange {
            old_key: Some(old_key.clone()),
            new_key: Some(new_key.clone()),
        };
        let mut delete = self.record(Op::Delete, version, Some(old_key), None);
        delete.event.key_change = Some(change.clone());
        let mut create = self.record(Op::Create, version, Some(new_key), Some(row));
        create.event.key_change = Some(change);
        [delete, create]
    }

    /// A TRUNCATE's copy for `partition`.
    pub fn truncate(&self, version: u64, partition: i32) -> Record {
        let mut record = self.record(Op::Truncate, version, None, None);
        record.origin.partition = partition;
        record.event.payload = Some(sluice_event::v1::change_event::Payload::Truncate(
            Truncate {
                cascade: false,
                restart_identity: false,
                tables: vec![TableRef {
                    schema: "public".into(),
                    table: self.table.clone(),
                    relation_id: 16384,
                }],
            },
        ));
        record
    }

    /// The SCHEMA_CHANGE the source emits when the table's columns change.
    pub fn schema_change(&self, version: u64, previous: &TestTable) -> Record {
        let mut record = self.record(Op::SchemaChange, version, None, None);
        record.event.payload = Some(sluice_event::v1::change_event::Payload::SchemaChange(
            sluice_event::v1::SchemaChange {
                previous_columns: previous.columns.clone(),
                previous_replica_identity: 0,
            },
        ));
        record
    }
}

/// A text value.
pub fn text(s: &str) -> v1::Value {
    v1::Value::from(s)
}

/// An int8 value.
pub fn int(i: i64) -> v1::Value {
    v1::Value::from(i)
}

/// The marker of an unchanged TOAST value.
pub fn unchanged() -> v1::Value {
    v1::Value::unchanged_toast()
}
