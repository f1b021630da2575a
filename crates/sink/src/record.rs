//! A change event as a sink receives it: decoded, with where it came from and the few
//! questions every store asks of it answered once.

use sluice_event::v1::{self, ChangeEvent, Op};

/// Where a record was read: what the runtime commits, and what a dead letter names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The Kafka topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// The record's offset in the partition.
    pub offset: i64,
}

/// A table, as events name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    /// The schema (`public`).
    pub schema: String,
    /// The table.
    pub table: String,
}

impl TableName {
    /// `schema.table` (as config files name tables) split at its first dot; `None` unless
    /// both parts are non-empty.
    pub fn parse(name: &str) -> Option<TableName> {
        let (schema, table) = name.split_once('.')?;
        (!schema.is_empty() && !table.is_empty()).then(|| TableName {
            schema: schema.into(),
            table: table.into(),
        })
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// One decoded change event.
#[derive(Debug, Clone)]
pub struct Record {
    /// Where it was read.
    pub origin: Origin,
    /// The Kafka message key: the canonical key encoding (a JSON array of the key
    /// columns' PostgreSQL texts), the natural document id or key suffix in a store.
    pub key: Vec<u8>,
    /// The event.
    pub event: ChangeEvent,
}

/// A column of a row: its metadata and value.
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    /// The column's metadata (name, type, key flag).
    pub column: &'a v1::Column,
    /// The value; `unchanged_toast` means "keep what you have".
    pub value: &'a v1::Value,
}

impl Record {
    /// The op.
    pub fn op(&self) -> Op {
        self.event.op()
    }

    /// The version a store keeps with the row (commit LSN, or the snapshot's LSN); 0 only
    /// for events Sluice never writes.
    pub fn version(&self) -> u64 {
        self.event.version().unwrap_or(0)
    }

    /// The table the event concerns.
    pub fn table(&self) -> TableName {
        let source = self.event.source.as_ref();
        TableName {
            schema: source.map(|s| s.schema.clone()).unwrap_or_default(),
            table: source.map(|s| s.table.clone()).unwrap_or_default(),
        }
    }

    /// The key as text (the canonical encoding is UTF-8 JSON).
    pub fn key_text(&self) -> &str {
        std::str::from_utf8(&self.key).unwrap_or_default()
    }

    /// The new row of a create, read or update, column by column.
    pub fn after(&self) -> Option<impl Iterator<Item = Cell<'_>>> {
        self.row(self.event.after.as_ref()?)
    }

    /// The old row, when the table's replica identity is FULL.
    pub fn before(&self) -> Option<impl Iterator<Item = Cell<'_>>> {
        self.row(self.event.before.as_ref()?)
    }

    fn row<'a>(&'a self, row: &'a v1::Row) -> Option<impl Iterator<Item = Cell<'a>>> {
        Some(
            self.event
                .columns
                .iter()
                .zip(&row.values)
                .map(|(column, value)| Cell { column, value }),
        )
    }

    /// Whether the new row leaves some TOASTed column unchanged (the store must keep that
    /// column's current value: a partial update).
    pub fn is_partial(&self) -> bool {
        self.event
            .after
            .as_ref()
            .is_some_and(|row| row.values.iter().any(v1::Value::is_unchanged_toast))
    }

    /// When the change was committed, in microseconds since the Unix epoch (0 if unknown).
    pub fn commit_time_micros(&self) -> i64 {
        self.event
            .source
            .as_ref()
            .map_or(0, |s| s.commit_time_micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_name_is_schema_dot_table() {
        let name = TableName::parse("shop.order.items").unwrap();
        assert_eq!(
            (name.schema.as_str(), name.table.as_str()),
            ("shop", "order.items")
        );
        for bad in ["products", ".products", "shop.", ""] {
            assert!(TableName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_redacted_url_keeps_all_but_the_password() {
        assert_eq!(
            crate::redact_url("redis://app:hunter2@cache:6379/0"),
            "redis://app:***@cache:6379/0"
        );
        assert_eq!(
            crate::redact_url("http://search:9200"),
            "http://search:9200/"
        );
        assert_eq!(crate::redact_url("not a url"), "<unparsable URL>");
    }
}
