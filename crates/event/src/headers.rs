//! Kafka record headers: their names and the form of their values.
//!
//! Headers let a consumer route, filter or dead-letter a record without decoding its
//! value, and they are all a tombstone (a record with a null value) carries besides its
//! key. Every value is UTF-8 text; numbers are decimal ASCII.
//!
//! | header | on | value |
//! |---|---|---|
//! | [`CONTENT_TYPE`] | every record with a value | [`CHANGE_EVENT_CONTENT_TYPE`] or [`HEARTBEAT_CONTENT_TYPE`] |
//! | [`VERSION`] | change events and their tombstones | `source.version`, decimal |
//! | [`OP`] | change events and their tombstones | [`op_value`] of the event's op (`create`, `update`, ...); [`OP_TOMBSTONE`] on a tombstone |
//! | `sluice-dlq-*` | dead letters | see below |
//!
//! A DELETE is followed by a tombstone (same key, null value, `sluice-op: tombstone`,
//! the DELETE's version) so that compaction can drop the row; sinks skip tombstones.
//!
//! A dead letter is the original record's key and value bytes, unchanged, with the
//! original headers and these added: [`DLQ_REASON`], [`DLQ_ERROR_CLASS`], [`DLQ_SINK`],
//! [`DLQ_TOPIC`], [`DLQ_PARTITION`], [`DLQ_OFFSET`], [`DLQ_TIME_MICROS`]. No envelope
//! message is needed: the original bytes can be replayed as they are.

/// Header name: the media type of the record's value.
pub const CONTENT_TYPE: &str = "content-type";

/// [`CONTENT_TYPE`] of a record whose value is a protobuf `sluice.v1.ChangeEvent`.
pub const CHANGE_EVENT_CONTENT_TYPE: &str =
    "application/x-protobuf; messageType=sluice.v1.ChangeEvent";

/// [`CONTENT_TYPE`] of a record whose value is a protobuf `sluice.v1.Heartbeat`.
pub const HEARTBEAT_CONTENT_TYPE: &str = "application/x-protobuf; messageType=sluice.v1.Heartbeat";

/// Header name: the event's version (`source.version`, the commit LSN or snapshot
/// LSN), as a decimal `u64`. A sink can skip a record older than what it stored
/// without decoding it.
pub const VERSION: &str = "sluice-version";

/// Header name: the event's op as [`op_value`] names it (`create`, ...), or
/// [`OP_TOMBSTONE`].
pub const OP: &str = "sluice-op";

/// [`OP`] of the tombstone that follows a DELETE.
pub const OP_TOMBSTONE: &str = "tombstone";

/// The [`OP`] header value of an op, also the `op` label of the metrics that count events:
/// the `Op` value's name without its `OP_` prefix, in lower case (`OP_SCHEMA_CHANGE` is
/// `schema_change`).
pub fn op_value(op: crate::v1::Op) -> &'static str {
    use crate::v1::Op;
    match op {
        Op::Create => "create",
        Op::Update => "update",
        Op::Delete => "delete",
        Op::Read => "read",
        Op::Truncate => "truncate",
        Op::SchemaChange => "schema_change",
        Op::Message => "message",
        Op::Unspecified => "unspecified",
    }
}

/// Dead-letter header: why the sink gave up on the record, one sentence for an
/// operator (no row values).
pub const DLQ_REASON: &str = "sluice-dlq-reason";

/// Dead-letter header: the error class (`poison`, ...), from a bounded set.
pub const DLQ_ERROR_CLASS: &str = "sluice-dlq-error-class";

/// Dead-letter header: the sink (consumer group) that dead-lettered the record.
pub const DLQ_SINK: &str = "sluice-dlq-sink";

/// Dead-letter header: the topic the record was read from.
pub const DLQ_TOPIC: &str = "sluice-dlq-topic";

/// Dead-letter header: the partition it was read from, decimal.
pub const DLQ_PARTITION: &str = "sluice-dlq-partition";

/// Dead-letter header: its offset in that partition, decimal.
pub const DLQ_OFFSET: &str = "sluice-dlq-offset";

/// Dead-letter header: when it was dead-lettered, microseconds since the Unix epoch,
/// decimal.
pub const DLQ_TIME_MICROS: &str = "sluice-dlq-time-micros";

/// The `messageType` parameter of a content type: the message's protobuf full name.
///
/// [`CHANGE_EVENT_CONTENT_TYPE`] and [`HEARTBEAT_CONTENT_TYPE`] are constants so they
/// can be matched on; this builds the same string from the schema, for tests and for
/// messages added later.
pub fn content_type_of<M: prost::Name>() -> String {
    format!("application/x-protobuf; messageType={}", M::full_name())
}
