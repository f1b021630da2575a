//! Sluice's source: reads a PostgreSQL logical replication slot and publishes every
//! committed change as a protobuf event on Kafka, confirming a WAL position to PostgreSQL
//! only once Kafka has acknowledged every event at or before it.
//!
//! ```text
//!  PostgreSQL slot ──pgoutput──▶ replicate::run ──ChangeEvent──▶ publish::Publisher ──▶ Kafka
//!        ▲                                                              │ deliveries
//!        └────────── flushed LSN ◀──── publish::AckTracker ◀────────────┘
//! ```
//!
//! - [`replicate`]: the replication loop (decode, build events, publish, confirm).
//! - [`filter`]: which tables and columns are captured, and which column values are masked.
//! - [`publish`]: the idempotent producer, topic creation, and the [`publish::AckTracker`]
//!   that decides which LSN is safe to confirm.
//! - [`observe`]: the metrics, by name.
//! - [`snapshot`]: the initial snapshot, in key chunks, resumable through [`progress`].
//! - [`value`]: PostgreSQL values to the event contract's values.
//! - [`repair`]: chosen rows emitted again at one exact version, for `sluice verify --repair`.
//! - [`rows`]: a table's current rows as `read` events, in key chunks, for `sluice verify`
//!   (the snapshot shares its chunk query).
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod filter;
pub mod observe;
pub mod progress;
pub mod publish;
pub mod repair;
pub mod replicate;
pub mod rows;
pub mod snapshot;
pub mod value;

pub use filter::CaptureFilter;
pub use replicate::{SourceConfig, SourceError, load_registry, run};
