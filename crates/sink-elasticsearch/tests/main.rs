//! The Elasticsearch sink against a real search engine (the local stack's OpenSearch, or
//! a container). Each test writes under an index prefix of its own, so tests run
//! concurrently, and deletes its indices when done, passed or failed.
//!
//! - `writes`: inserts, updates, deletes and primary-key updates end as the source rows,
//!   in an index created from the column types.
//! - `versions`: replayed batches and older events after newer ones leave the newest
//!   state.
//! - `toast`: updates with unchanged TOAST values keep the stored value, across batches
//!   and within one; partial updates of missing or newer documents.
//! - `truncate`: a truncate removes older documents and keeps newer ones, in any order
//!   of its copies.
//! - `rejections`: a document the mapping refuses is rejected with its batch index; the
//!   rest is applied.
//! - `search`: fuzzy matching, mapping of columns added later, per-table index settings.
//! - `outage`: an unreachable search engine is retryable.

#![allow(clippy::unwrap_used)]

mod outage;
mod rejections;
mod search;
mod support;
mod toast;
mod truncate;
mod versions;
mod writes;
