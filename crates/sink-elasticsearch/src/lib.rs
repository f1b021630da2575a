//! Sluice's search sink: applies change events to Elasticsearch (8, 9) or OpenSearch (2),
//! one index per table, one document per row, every write versioned.
//!
//! ```text
//!  batch of Records (from the runtime, offset order per partition)
//!     │ plan (pure): per document, the batch's final operation; truncates split the batch
//!     ▼
//!  ensure indices ── HEAD, create with settings + mapping from the columns, map new columns
//!     │
//!     ├─ Write step ── _mget stored docs of partial (TOAST) updates, merge
//!     │                └─ _bulk: index / delete, version = commit LSN, external_gte
//!     │                     409 = newer stored (success)   4xx item = Rejection (dead letter)
//!     └─ Truncate step ── _refresh, _delete_by_query sluice_version < version (a task, polled)
//! ```
//!
//! # A guided tour
//!
//! * [`ElasticsearchConfig`] and [`TableIndex`]: the server, credentials, index names,
//!   per-table settings and mappings.
//! * [`ElasticsearchSink`] implements [`sluice_sink::Sink`]; [`ElasticsearchSink::connect`]
//!   builds one and checks the server answers.
//! * [`index_name`]: how a table's default index name is made legal and stays
//!   injective.
//! * `mapping` builds index settings and mappings from the events' column metadata
//!   (its docs have the type table and the reasons); `plan` folds a batch into
//!   per-document operations; `retry` is the one table of which failure is retried,
//!   which stops the sink and which dead-letters a record.
//! * `inspect`: [`sluice_sink::Inspect`] for `sluice verify`: the expected `_source` of
//!   a row (the plan's own row JSON), `_mget` to read documents back, a scroll over ids.
//! * [`observe`]: this sink's metrics.
//!
//! # One index per table, one document per row
//!
//! A table `schema.table` is written to the index (or alias) `<index_prefix>-<schema>-<table>`
//! unless configured otherwise. The document id is the record's Kafka key, the canonical
//! key encoding (`["42"]`), so a document can be found from the row's primary key and
//! the same row always lands on the same document. The document is the row as JSON
//! ([`sluice_sink::json`]) plus `sluice_version`, the version it was written with.
//!
//! The sink creates an index on first sight of its table (and caches which exist), with
//! one shard, no replicas (change both per table), `index.gc_deletes` from the
//! configuration and a mapping built from the column types; a column added later by a
//! schema change is mapped from its type when an event first shows it. Text columns are
//! `text` with a `keyword` subfield, so a `match` query with `fuzziness: "AUTO"` finds
//! "kettle" when the user types "kettel".
//!
//! # Versions: why replays are harmless
//!
//! Every index and delete carries `version` = the event's version (its commit LSN) with
//! `version_type=external_gte`: the search engine applies a write only if its version is
//! greater than or equal to the stored one, and otherwise answers 409, which the sink
//! counts as success ("something newer is already there"). A batch retried after a
//! timeout, redelivered after a crash, or a topic replayed from the start therefore
//! converges to the newest state, and the runtime can always retry a whole batch.
//!
//! Within a batch, the records of one document are folded in batch order into one
//! operation (all of a key's records come from one partition, in order): a create, read
//! or full update becomes an index of its row, a delete a delete. The last record's
//! version is the operation's version.
//!
//! # Deletes and `gc_deletes`
//!
//! A delete is versioned too, and a delete of a document the index does not hold still
//! succeeds (404 is success) and leaves a tombstone carrying its version. The tombstone
//! is what refuses an older write of the same document arriving after the delete (a
//! stale consumer during a rebalance, a second sink process, a replay running alongside):
//! without it, that write would bring the deleted row back. The search engine keeps
//! tombstones for `index.gc_deletes`, 60 seconds by default; the sink creates its indices
//! with one day ([`DEFAULT_GC_DELETES`]), which must exceed how long an older copy of an
//! event can still be in flight.
//!
//! A primary-key update arrives as a delete of the old key and a create of the new one
//! (both marked `key_change`), each in its key's partition; the two documents are
//! independent and the rules above suffice.
//!
//! # Unchanged TOAST values: partial updates
//!
//! PostgreSQL does not resend a large (TOASTed) value an update left alone; the event
//! marks it unchanged, and the document must keep it. When the event carries the old row
//! (REPLICA IDENTITY FULL, which logs TOASTed values too), the value is taken from it.
//! Otherwise the update is merged into the full row written before it in the same batch
//! when there is one; failing that, the sink
//! reads the stored document (one `_mget` per batch step), takes the unchanged columns
//! from it, and indexes the merged row with the update's version, so versioning stays
//! the one mechanism. When the stored document is newer, the update has nothing left
//! to do. When there is no stored document, the unchanged values are unknown and the
//! record is rejected (dead-lettered; `sluice verify` reports the row, and REPLICA
//! IDENTITY FULL on the table makes PostgreSQL log the values).
//!
//! # Truncates
//!
//! The source writes a truncate to every partition of the table's topic, and Kafka orders
//! only within a partition. The sink applies it as "remove this table's documents whose
//! version is below the truncate's": it writes the operations before it in the batch,
//! refreshes the index (the query sees only refreshed documents), and runs a
//! `_delete_by_query` on `sluice_version < version` with `conflicts=proceed`. A document
//! written after the truncate has a higher version and stays; an older row arriving late
//! from another partition is removed again by that partition's own copy of the truncate,
//! which follows it. Copies of one truncate in one batch run once.
//!
//! # Error handling
//!
//! See `retry`: unreachable servers, timeouts, 429 and 5xx (of a request or of one bulk
//! item) are [`SinkError::Retryable`](sluice_sink::SinkError::Retryable) and the runtime
//! retries the whole batch; refused credentials and requests the server calls malformed
//! are [`Permanent`](sluice_sink::SinkError::Permanent); a document the index refuses
//! (a mapping conflict) is a [`Rejection`](sluice_sink::Rejection) of that record, whose
//! reason names the error type but never a value; when a folded operation stands for
//! several records, the last of them is rejected. Schema-change and logical-message
//! events write nothing.
//!
//! # Known limits
//!
//! * A column named `sluice_version` is overwritten by the version.
//! * A table without a primary key or replica identity index has no document id: its
//!   events are rejected.
//! * Two sink processes writing one document at once (a rebalance overlap) can race a
//!   partial update's read of the stored document; `sluice verify` finds the result.
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
pub mod index_name;
mod inspect;
mod mapping;
pub mod observe;
mod plan;
mod retry;
mod sink;

pub use config::{
    ConfigError, DEFAULT_GC_DELETES, DEFAULT_INDEX_PREFIX, DEFAULT_REQUEST_TIMEOUT,
    ElasticsearchConfig, TableIndex,
};
pub use index_name::{IndexNameError, default_index_name};
pub use mapping::VERSION_FIELD;
pub use sink::ElasticsearchSink;
