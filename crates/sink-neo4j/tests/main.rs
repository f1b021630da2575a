//! The Neo4j sink against a real Neo4j 5 (the local stack's, or a container). Each test
//! uses tables, labels and relationship types with a suffix of its own, so tests run
//! concurrently, and removes its nodes, tombstones, floors, constraints and indexes
//! when done, passed or failed.
//!
//! - `writes`: inserts, updates (NULL removes a property), deletes, primary-key updates
//!   and unchanged-TOAST updates end as the source rows.
//! - `versions`: duplicates, older-after-newer and replays keep the newest; a delete's
//!   tombstone keeps an older create from bringing the row back.
//! - `foreign_keys`: a foreign key is a relationship, moved on change, removed on NULL
//!   and delete; placeholders for targets not arrived yet, filled later.
//! - `join_tables`: join rows are relationships: create, update, delete, key change.
//! - `inspect`: `sluice verify`'s reading of the graph compares foreign-key and
//!   join-table relationships: removed, moved, doubled and extra ones are found.
//! - `truncate`: older nodes go, newer stay, in any order of the copies, thousands of
//!   nodes.
//! - `rejections`: a row the server refuses is rejected with its batch index, the rest
//!   is applied.
//! - `outage`: a cut connection is retryable, and the sink recovers with nothing lost.
//! - `graph`: a small shop built through the sink answers recommendation and
//!   friend-of-friend queries.

#![allow(clippy::unwrap_used)]

mod foreign_keys;
mod graph;
mod inspect;
mod join_tables;
mod outage;
mod rejections;
mod support;
mod truncate;
mod versions;
mod writes;
