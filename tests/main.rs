//! End-to-end tests of Sluice against real servers.
//!
//! Servers come from `sluice-testkit`: the local stack's addresses in `SLUICE_*`
//! variables, or testcontainers where a Docker engine exists. Every test makes its own
//! table, topic, index, key prefix or label, so tests run concurrently.
//!
//! - `smoke`: one real operation per server, proving the stack is what Sluice needs
//!   (logical decoding through pgoutput, an idempotent Kafka producer, fuzzy search,
//!   server-side scripts in Redis, Cypher over Bolt).
//! - `decoder`: every value type through a real slot, decoded in text and binary format.
//! - `source`: changes in PostgreSQL arrive on Kafka as change events, in order per key,
//!   and survive the source being killed mid-stream.
//! - `backpressure`: a Kafka outage (a private broker, stopped and started again) pauses
//!   the reader, keeps the replication connection and the slot's position, and loses
//!   nothing.
//! - `capture`: table and column filters, masks, schema changes and heartbeats.
//! - `snapshot`: the initial snapshot, whole and versioned, and resumed after a crash.

#![allow(clippy::unwrap_used)]

mod backpressure;
mod capture;
mod decoder;
mod smoke;
mod snapshot;
mod source;
