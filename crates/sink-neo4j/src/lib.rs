//! Sluice's graph sink: applies change events to Neo4j 5. Rows of configured tables
//! become labelled nodes, their foreign keys and the rows of join tables become
//! relationships, and every write is guarded by the row's version.
//!
//! ```text
//!  batch of Records (from the runtime, offset order per partition)
//!     │ plan (pure): per (table, key), the batch's final operation; truncates split the
//!     │              batch; tables not configured are skipped
//!     ▼
//!  Write step ── one UNWIND statement per (table, upsert | delete), ≤ 1000 rows, own txn
//!     │            guard: truncate floor ▸ tombstone ▸ stored sluice_version ▸ write
//!     │            ClientError (a refused value) ─▶ rows one by one ─▶ Rejection
//!     └─ Truncate step ── raise the table's floor, then remove older nodes or
//!                          relationships 10 000 per transaction until none is left
//! ```
//!
//! # A guided tour
//!
//! * [`Neo4jConfig`] (the `[neo4j]` table): server, credentials, and which tables map
//!   to which labels ([`NodeTable`]), foreign keys ([`ForeignKey`]) and join tables
//!   ([`RelationshipTable`]).
//! * [`Neo4jSink`] implements [`sluice_sink::Sink`]; [`Neo4jSink::connect`] checks the
//!   server and creates the constraints and indexes the sink relies on.
//! * `plan` folds a batch into per-row operations; `cypher` holds every statement the
//!   sink sends and explains its shape; `params` turns rows into Bolt parameters and
//!   values into properties Neo4j can store; `retry` is the one table of which failure
//!   is retried, which stops the sink and which rejects a record.
//! * `inspect`: [`sluice_sink::Inspect`] for `sluice verify`: a row's expected
//!   [`StoredRow`] (the plan's own: a node's properties and foreign-key targets, or a join
//!   row's endpoints and properties), one `UNWIND` per chunk, listed by `sluice_key`.
//! * [`observe`]: this sink's metrics.
//!
//! # Identity
//!
//! A row of table `schema.table` configured under `neo4j.nodes` is one node with the
//! table's label. Its identity is the property `sluice_key`, the record's Kafka key: the
//! canonical key encoding (`["42"]`, a JSON array of the key columns' PostgreSQL texts).
//! A uniqueness constraint per label keeps it unique and indexes it. The node also holds
//! the chosen columns as properties and `sluice_version`, the version it was written
//! with. Neo4j properties cannot be maps, nor lists of mixed types or with nulls, so
//! such values are stored as their JSON text (see `params`).
//!
//! Because the key is the canonical encoding, a foreign key finds its target without a
//! lookup: the referencing columns' PostgreSQL texts
//! ([`sluice_event::key::canonical_text`]), encoded by
//! [`sluice_event::key::encode_texts`], *are* the target's `sluice_key` (the columns must
//! be listed in the order of the target's primary key).
//!
//! A join table's row is one relationship, identified by `sluice_key` on the
//! relationship (one join table per relationship type, each with its own uniqueness
//! constraint).
//!
//! # Versions: why replays are harmless
//!
//! Every write carries the event's version (its commit LSN, an `i64` in Neo4j) and
//! passes only if the stored `sluice_version` is not newer:
//!
//! ```cypher
//! MERGE (n:User {sluice_key: row.key})
//! WITH n, row WHERE coalesce(n.sluice_version, -1) <= row.version
//! SET n = row.props, n.sluice_version = row.version
//! ```
//!
//! so a batch retried after a timeout, redelivered after a crash or replayed from the
//! start converges to the newest state. A full row replaces every property (`SET n =`),
//! so a column set to NULL, or dropped, loses its property. Within a batch the records of
//! one key are folded in batch order first (all of a key's records come from one
//! partition, in order); records of one transaction share a version and the later wins.
//!
//! # Unchanged TOAST values
//!
//! PostgreSQL does not resend a large (TOASTed) value an update left alone. When the
//! event carries the old row (REPLICA IDENTITY FULL) the value is taken from it; when an
//! earlier record of the batch had the full row, the update is merged into it.
//! Otherwise the write is partial, which Neo4j does naturally: `SET n += props` changes
//! only the columns the event carries (a NULL one is sent as `null`, which removes the
//! property) and leaves the unchanged ones as stored. A partial update of a row the graph
//! does not hold creates the node without those columns, until the row's next full
//! write; `sluice verify` reports it. A foreign key whose column is unchanged keeps its
//! relationship; a join row whose endpoint column is unchanged and unknown is rejected.
//!
//! # Deletes and tombstones
//!
//! A delete removes the node (with its relationships) but leaves a tombstone,
//! `(:SluiceTombstone {sluice_table, sluice_key, sluice_version, sluice_deleted_at})`:
//! without it, an older write of the row arriving after the delete (a replay, a stale
//! consumer during a rebalance) would find no node and create it again. Every write
//! checks the tombstone of its key and passes only if it is not older; a write that
//! passes (a row inserted again) removes the tombstone. Tombstones are separate nodes,
//! not the deleted node with its label swapped, so the user's labels hold live rows only
//! and one composite uniqueness constraint on `(sluice_table, sluice_key)` indexes every
//! table's tombstones, node and join tables alike. They are keyed by table rather than
//! label so a join table (which has no label) needs nothing else. A tombstone expires
//! after `tombstone_ttl_seconds` (by the server's clock; removed at start and then at
//! most every hour): the window in which an older copy of an event may still arrive.
//!
//! A primary-key update arrives as a delete of the old key and a create of the new one
//! (both marked `key_change`), each in its key's partition: a node (or a join row's
//! relationship) is deleted and another created, and the rules above suffice.
//!
//! # Foreign keys: moves and placeholders
//!
//! Each `relationships` entry of a node table is a foreign key, kept as one relationship
//! per row. When a write of the row passes its guard, the row's relationships of that
//! type to nodes other than the new target are deleted and the one to the target is
//! MERGEd: a changed foreign key moves the relationship, a NULL one removes it. The
//! relationship carries the version of the referencing row.
//!
//! Topics of different tables are not ordered, so the referenced row may not have
//! arrived yet: the target is then MERGEd as a **placeholder**, a node with the target's
//! label and `sluice_key` only, no `sluice_version`. When the row arrives its MERGE finds
//! the placeholder, whose missing version lets any write through, and fills it. A
//! placeholder lives only while something references it: when a relationship to it
//! moves away or is deleted, a placeholder left without relationships is deleted. No
//! placeholder is created for a key whose tombstone is newer than the referencing row
//! (that reference is stale), nor for a referencing row older than the target table's
//! truncate floor. Join-table endpoints are MERGEd the same way.
//!
//! Deleting a node removes only its relationships older than the delete. One written by
//! a newer row of another table can only point at a row inserted again since (PostgreSQL
//! checked the foreign key), whose insert has not arrived yet; so the node stays, as a
//! placeholder holding that relationship, until the insert fills it.
//!
//! # Truncates
//!
//! The source writes a truncate to every partition of the table's topic, and Kafka orders
//! only within a partition, so a truncate is applied as "remove this table's nodes (or
//! relationships) whose version is below the truncate's": safe in any order of its
//! copies. The sink first raises the table's **floor**,
//! `(:SluiceTruncateFloor {sluice_table, sluice_version})`, then removes older nodes
//! 10 000 per transaction (bounded memory, index on `sluice_version`). Every later write
//! with a version below the floor is ignored, so an older row arriving late from another
//! partition is not written again. A write in the truncating transaction after the
//! TRUNCATE has the truncate's own version and stays. The table's placeholders are
//! removed too when nothing references them; placeholders still referenced stay, as a
//! newer row of another table may point at a row inserted after the truncate.
//!
//! # Error handling
//!
//! See `retry`: unreachable servers, timeouts (`request_timeout_seconds`, per
//! transaction), `Neo.TransientError.*`, database errors and leader switches are
//! [`SinkError::Retryable`](sluice_sink::SinkError::Retryable) and the runtime retries
//! the batch (the connection pool replaces broken connections, so the next apply
//! reconnects); refused credentials, a missing database and statements the server calls
//! malformed are [`Permanent`](sluice_sink::SinkError::Permanent). A statement refused
//! with another `Neo.ClientError` (a value that cannot be indexed, a constraint) is
//! re-run row by row and the rows at fault are [`Rejection`](sluice_sink::Rejection)s
//! naming the table and the status code, never a value. Schema-change and
//! logical-message events, and tables not configured, write nothing.
//!
//! # Known limits
//!
//! * Columns named `sluice_key` or `sluice_version` are not stored.
//! * A foreign key's columns must be listed in the target's primary-key order; the sink
//!   cannot check it (a wrong order links to placeholders that never fill, which
//!   `sluice verify` reports as nodes without `sluice_version`).
//! * Placeholders whose row never arrives (a foreign key to a row not published) stay
//!   while referenced.
//! * A row written in the same transaction as, but before, a TRUNCATE shares its version
//!   and survives it.
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod cypher;
mod inspect;
pub mod observe;
mod params;
mod plan;
mod retry;
mod sink;

pub use config::{
    ConfigError, DEFAULT_REQUEST_TIMEOUT_SECONDS, DEFAULT_TOMBSTONE_TTL_SECONDS, DEFAULT_USER,
    Direction, Endpoint, ForeignKey, KEY_PROPERTY, Neo4jConfig, NodeTable, RelationshipTable,
    TOMBSTONE_LABEL, TRUNCATE_FLOOR_LABEL, VERSION_PROPERTY,
};
pub use inspect::{StoredForeignKey, StoredRow};
pub use sink::Neo4jSink;
