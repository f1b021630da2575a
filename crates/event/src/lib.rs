//! Sluice's event contract: the protobuf types every Sluice process exchanges through
//! Kafka, and the rules around them that are as much a contract as the schema: topic
//! names, record headers and the Kafka message key.
//!
//! ```text
//!  proto/sluice/v1/change_event.proto ──protox + prost-build (build.rs)──▶ sluice_event::v1
//!
//!  source: row change ──▶ v1::ChangeEvent ──encode──▶ Kafka record ──▶ sinks
//!                            │                         ├ topic   topic::topic_for
//!                            │                         ├ key     key::encode_key
//!                            └ version (commit LSN)    └ headers headers::*
//! ```
//!
//! # A guided tour
//!
//! * [`v1`] holds the generated types. [`v1::ChangeEvent`] is one changed row (or a
//!   truncate, schema change or logical message); its doc comment has a table of which
//!   fields each op sets. [`v1::Value`] is a typed column value, with a kind per family
//!   of PostgreSQL types. [`v1::Heartbeat`] goes to the heartbeat topic.
//! * [`key`] turns a row's key columns into the Kafka message key, and back.
//! * [`topic`] names topics, escaping PostgreSQL names into Kafka's alphabet.
//! * [`headers`] names the record headers and fixes their values' form.
//! * [`partition`] reads a partition's ends, waiting out a leader election, the one
//!   piece of Kafka client behaviour every process and test shares.
//! * [`FILE_DESCRIPTOR_SET`] is the compiled schema, for reflection and schema
//!   registries.
//!
//! # Versions, and why a sink can apply events more than once
//!
//! Every event carries `source.version`, the LSN of its transaction's commit record (for
//! rows read by a snapshot, the LSN at which the snapshot is consistent). PostgreSQL
//! commits conflicting writes to one row in WAL order, so a row's versions grow with its
//! history. A store keeps, per row, the newest version it has applied and accepts a
//! write whose version is greater than or equal to it. Replays, duplicates and restarts
//! then all converge to PostgreSQL's state: an old event arriving late changes nothing,
//! and re-applying the same event is harmless. [`v1::ChangeEvent::version`] is the one
//! accessor sinks should use.
//!
//! # Why "unchanged TOAST" is its own state
//!
//! PostgreSQL stores large values out of line (TOAST) and, when an UPDATE leaves such a
//! value untouched, does not write it to the WAL again: pgoutput sends "unchanged"
//! instead of the value. Sluice passes that on as [`v1::value::Kind::UnchangedToast`],
//! never as NULL or an empty string, because either would be a lie a sink would store:
//! the column still has its old value, which the sink must keep. A sink that does not
//! hold the row cannot know the value, and should say so (REPLICA IDENTITY FULL on the
//! table makes PostgreSQL log it). NULL is likewise its own kind, distinct from an unset
//! value.
//!
//! # How the contract may change
//!
//! The schema follows protobuf's compatibility rules, stated at the top of the `.proto`
//! file: within `sluice.v1`, fields, oneof members and enum values are only ever added;
//! a number is never reused; a removed field leaves a `reserved` line. Readers treat an
//! unset oneof as "newer than me" and an `*_UNSPECIFIED` enum value as "not set or newer
//! than me". The tests pin the descriptor (every message, field, number and type) to a
//! golden file, so no change slips in unnoticed. The key encoding cannot change at all
//! (see [`key`]), nor can topic names of existing tables (see [`topic`]).

#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod change_event;
pub mod headers;
pub mod key;
pub mod partition;
pub mod topic;

/// The generated protobuf types of package `sluice.v1`
/// (`proto/sluice/v1/change_event.proto`), with the helpers of this crate on them.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/sluice.v1.rs"));
}

/// The compiled schema: an encoded `google.protobuf.FileDescriptorSet` of
/// `sluice/v1/change_event.proto`, with its comments (source info).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sluice.fds.binpb"));
