//! Sluice's cache sink: applies change events to Redis, one key per row, every write
//! guarded by the row's version in a server-side script.
//!
//! ```text
//!  batch of Records (from the runtime, offset order per partition)
//!     │ plan (pure): per row key, the batch's final operation; truncates split the batch
//!     ▼
//!  Write step ── GET stored JSON rows of partial (TOAST) updates, merge   (json tables)
//!     │          └─ one pipeline: EVALSHA write script per key  ── refused = newer stored (success)
//!     │                           DEL per key of invalidate-only tables    WRONGTYPE = Rejection
//!     └─ Truncate step ── raise the table's floor, SCAN MATCH <table prefix>:* COUNT 1000,
//!                         sweep script per page (UNLINK rows older than the truncate)
//! ```
//!
//! # A guided tour
//!
//! * [`RedisConfig`] and [`TableSettings`]: the server, the key prefix, tombstone
//!   lifetime and per-table format, TTL, invalidate-only and key prefix.
//! * [`RedisSink`] implements [`sluice_sink::Sink`]; [`RedisSink::connect`] builds one
//!   and checks the server answers.
//! * [`layout`]: which key holds which row ([`RedisConfig::key_for`] computes it).
//! * `plan` folds a batch into per-key operations; `script` holds the Lua that guards
//!   every write; `retry` is the one table of which failure is retried, which stops the
//!   sink and which dead-letters a record.
//! * `inspect`: [`sluice_sink::Inspect`] for `sluice verify`: the expected hash or JSON
//!   row (the plan's own), pipelined `HGETALL`/`GET`, `SCAN` of the table's row keys.
//! * [`observe`]: this sink's metrics.
//!
//! # Key layout
//!
//! A row of `schema.table` lives at `<key_prefix>:<schema>.<table>:<primary key>`, for
//! example `sluice:public.items:42`; a composite key joins its columns with `:`
//! (`sluice:public.order_lines:7:3`). The primary key is the key columns' PostgreSQL
//! texts, the same texts the Kafka key carries ([`sluice_event::key::decode_key`]), so an
//! application finds a row from its primary key without asking Sluice. In those texts
//! (and in schema and table names) `\` and `:` are escaped as `\\` and `\:`, so
//! distinct keys stay distinct keys (`("a:b")` is `a\:b`, `("a", "b")` is `a:b`). A
//! table can have its own prefix instead of `<key_prefix>:<schema>.<table>`
//! ([`TableSettings::key_prefix`]). The sink also keeps, under the table's prefix,
//! tombstones (`<prefix>:\deleted:<primary key>`) and the truncate floor
//! (`<prefix>:\truncated`), names no row key can take ([`layout`]).
//!
//! # Formats
//!
//! * `hash` (default): one field per column holding its text as [`sluice_sink::json`]
//!   renders it (strings as themselves; numbers, booleans, arrays and `json` values as
//!   JSON text). **A NULL column has no field**, so `HGET` answers nil for NULL and `""`
//!   for an empty string, and a reader tells them apart. The field `_sluice_version`
//!   holds the version.
//! * `json`: a string holding the row as a JSON object ([`sluice_sink::json`]; NULL is
//!   `null`), whose first member is `"_sluice_version"`: `GET` gives the row, and the
//!   write script reads the version from the document's first bytes without parsing it.
//!
//! # Versions: why replays are harmless
//!
//! Every write runs in one script (`EVALSHA`, loaded once per connection) that compares
//! the event's version (its commit LSN, [`sluice_sink::Record::version`]) with what
//! Redis holds for the row, and writes only if the incoming version is greater than or
//! equal. Versions are compared as decimal strings (length, then digits), exact for every
//! `u64` where Lua's doubles are not. A write refused as older is a success ("something
//! newer is already there"), so a batch retried after a timeout, redelivered after a
//! crash, or a topic replayed from the start converges to the newest state, and the
//! runtime can always retry a whole batch.
//!
//! Within a batch, the records of one key are folded in batch order into one operation
//! (all of a key's records come from one partition, in order): a create, read or full
//! update becomes a write of its row, a delete a delete; the last record's version is the
//! operation's. Then one pipeline (a round trip per thousand keys) carries the batch.
//!
//! # Deletes and tombstones
//!
//! A delete removes the row and leaves a tombstone: a key holding the delete's version,
//! expiring after [`RedisConfig::tombstone_ttl_seconds`] (one day by default, like the
//! Elasticsearch sink's `gc_deletes`). The tombstone is what refuses an older write of
//! the row arriving after the delete (a stale consumer during a rebalance, a replay
//! running alongside): without it, that write would bring the deleted row back. A later
//! write of the row removes the tombstone (the row itself then carries the version).
//!
//! A primary-key update arrives as a delete of the old key and a create of the new one
//! (both marked `key_change`), each in its key's partition; the two keys are independent
//! and the rules above suffice.
//!
//! # Truncates and the floor
//!
//! The source writes a truncate to every partition of the table's topic, and Kafka orders
//! only within a partition, so a truncate means "remove this table's rows whose version
//! is below the truncate's". The sink keeps, per table, a truncate floor: the highest
//! truncate version seen. The write script refuses any write below the floor, so an older
//! row arriving late from another partition is never written. Then the sink walks the
//! table's keys with `SCAN MATCH <prefix>:* COUNT 1000` (never `KEYS` or `FLUSHDB`: Redis
//! keeps serving) and hands each page to a sweep script that `UNLINK`s the rows whose
//! version is below the truncate's, checked atomically per key, so a row written after
//! the truncate stays. When a sweep completes, the floor notes it; further copies of the
//! same truncate (one per partition) find the table already swept and skip the walk,
//! which is safe because the floor has kept older rows out since the sweep began. Copies
//! of one truncate within a batch run once.
//!
//! # Unchanged TOAST values: partial updates
//!
//! PostgreSQL does not resend a large (TOASTed) value an update left alone; the event
//! marks it unchanged, and Redis must keep the stored one. When the event carries the old
//! row (REPLICA IDENTITY FULL), the value is taken from it and the write is a full one.
//! Otherwise the update is merged into the full row written before it in the same batch
//! when there is one; failing that, it is merged onto the stored row:
//!
//! * hash: in the script, atomically: `HSET` only the columns the update sent (and
//!   `HDEL` the ones it set to NULL), keep the others, set the version.
//! * json: the sink `GET`s the stored documents (one pipeline per batch step), merges in
//!   Rust, and writes the merged document with a compare-and-set on the version it read
//!   (the script refuses if the stored version changed in between, and the sink reads
//!   again). Merging in Lua with `cjson` was rejected: it re-encodes numbers with 14
//!   significant digits (an `int8` above 10^14 would change) and rewrites strings, so the
//!   cache would no longer equal the row.
//!
//! When Redis holds no row for the key, the unchanged values are unknown: the script
//! keeps the update's version as a tombstone (so an older full row is refused later),
//! and the record is rejected (dead-lettered; `sluice verify` reports the row, and
//! REPLICA IDENTITY FULL makes PostgreSQL log the values), as the Elasticsearch sink
//! does. For a table with a TTL, a missing row is a normal cache miss, and the record is
//! not rejected. When the stored row is newer, the update has nothing left to do.
//!
//! # TTL and invalidate-only tables
//!
//! [`TableSettings::ttl_seconds`] expires a row that many seconds after its last write
//! (`EXPIRE` in the same script). An expired row is a cache miss, never a stale value.
//!
//! An [`invalidate_only`](TableSettings::invalidate_only) table is one the application
//! fills itself (read-through: on a miss it reads PostgreSQL and writes the key). The sink
//! then writes nothing and `DEL`s the row's key on every change (a truncate `UNLINK`s all
//! of the table's keys). No version is needed: a `DEL` can only turn a hit into a miss,
//! never put an old value in place, so applying invalidations twice, late or out of
//! order still leaves the cache holding only what readers loaded from PostgreSQL. (The
//! one race left is the application's: a reader that loaded a row before a commit and
//! writes it after the invalidation; a TTL on the application's writes bounds it.)
//!
//! # Error handling
//!
//! See `retry`: unreachable servers, resets, timeouts, `LOADING`, `BUSY`, `TRYAGAIN`,
//! `OOM` are [`SinkError::Retryable`](sluice_sink::SinkError::Retryable) and the runtime
//! retries the whole batch; the connection is dropped and the next request connects
//! again. Refused credentials (`NOAUTH`, `WRONGPASS`), missing ACL permissions (`NOPERM`),
//! a Redis Cluster and an invalid configuration are
//! [`Permanent`](sluice_sink::SinkError::Permanent). A key that holds something the sink
//! did not write (a list, a hash without `_sluice_version`, a `WRONGTYPE` answer) makes
//! that record a [`Rejection`](sluice_sink::Rejection) whose reason names the table and
//! the type but never a value, and the rest of the batch is applied. Schema-change and
//! logical-message events write nothing; an op this build does not know is rejected.
//!
//! # Known limits
//!
//! * Standalone Redis (or a primary behind a fixed address) only: the scripts touch a row,
//!   its tombstone and its table's floor, which Redis Cluster would need in one slot.
//! * A column named `_sluice_version` is not stored (the version takes its place).
//! * A truncate walks the whole keyspace (`SCAN` filters by pattern server-side), once
//!   per truncate, not once per copy.
//! * Tombstones live under the table's prefix: an application scanning
//!   `<prefix>:*` sees them (they are strings named `<prefix>:\deleted:...`).
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod inspect;
pub mod layout;
pub mod observe;
mod plan;
mod retry;
mod script;
mod sink;

pub use config::{
    ConfigError, DEFAULT_KEY_PREFIX, DEFAULT_REQUEST_TIMEOUT_SECONDS,
    DEFAULT_TOMBSTONE_TTL_SECONDS, Format, RedisConfig, TableSettings,
};
pub use inspect::StoredRow;
pub use script::VERSION_FIELD;
pub use sink::RedisSink;
