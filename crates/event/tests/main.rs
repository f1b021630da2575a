//! Integration tests of the event contract, through the public API only.
//!
//! * `roundtrip`: every kind of value survives protobuf encoding.
//! * `key_golden`: the Kafka key encoding, pinned to exact bytes.
//! * `key_props`: the key encoding is deterministic and injective, and decodes back.
//! * `topic_props`: topic names are valid and injective.
//! * `pg_parity` (ignored without a server): canonical texts equal PostgreSQL's output.
//! * `contract`: the compiled schema is the one the code expects (golden descriptor),
//!   and follows the evolution rules.

#![allow(clippy::unwrap_used)]

mod contract;
mod key_golden;
mod key_props;
mod pg_parity;
mod roundtrip;
mod topic_props;
mod values;
