//! Reading a store back: what `sluice verify` asks of each store crate.
//!
//! ```text
//!  PostgreSQL row ──(the source's own conversion)──▶ Record (a `read` event)
//!       │ Inspect::expected (pure: the store crate's own planning code)
//!       ▼
//!  expected stored form  ==?  Inspect::fetch (batched: _mget, pipelined GET/HGETALL, UNWIND)
//!                                 └─ Inspect::scan (every row key the store holds for a table)
//! ```
//!
//! # Why the store crate computes the expected form
//!
//! A verifier that re-implemented "how a row looks in Elasticsearch" would drift from the
//! sink itself and report the verifier's bugs as the pipeline's. So the expected form of a
//! row is computed from a [`Record`] by the same functions the sink uses to plan its
//! writes, and compared with what the store holds, bookkeeping (versions, `sluice_key`)
//! left out on both sides.

use std::future::Future;

use crate::{Record, TableName};

/// Why a store could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The store failed or could not be reached.
    #[error("reading the store failed: {0}")]
    Store(String),
    /// A row has no stored form (a value with no JSON form, say).
    #[error("a row has no stored form: {0}")]
    Row(String),
    /// The sink stores nothing for this row by design (a join-table row with a NULL
    /// endpoint becomes no relationship): its absence is not drift.
    #[error("the sink stores nothing for this row: {0}")]
    NotStored(String),
}

/// One page of a scan of a table's row keys.
#[derive(Debug, Default)]
pub struct ScanPage {
    /// Canonical key texts (the Kafka key's UTF-8 text, `["42"]`) of rows the store holds.
    pub keys: Vec<String>,
    /// Where the next page starts; `None` when the scan is over.
    pub next: Option<String>,
}

/// A store that can be read back row by row.
pub trait Inspect: Send {
    /// A row as the store holds it, without the sink's bookkeeping fields; comparable.
    type Stored: PartialEq + std::fmt::Debug + Send;

    /// The store's kind (`elasticsearch`, `redis`, `neo4j`).
    fn kind(&self) -> &'static str;

    /// `Err(reason)` when the store's layout does not keep `table`'s rows in a checkable
    /// form (a Redis invalidate-only table, a table Neo4j does not map to nodes).
    fn checkable(&self, table: &TableName) -> Result<(), String>;

    /// What the store should hold for the row of a `read` record (pure).
    ///
    /// # Errors
    ///
    /// [`InspectError::Row`] when the row has no stored form; [`InspectError::NotStored`]
    /// when the sink stores nothing for it by design.
    fn expected(&self, record: &Record) -> Result<Self::Stored, InspectError>;

    /// The stored forms of the rows with these canonical keys, in order; `None` where the
    /// store holds no row.
    fn fetch(
        &mut self,
        table: &TableName,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<Self::Stored>>, InspectError>> + Send;

    /// A page of the row keys the store holds for `table`, from `cursor` (`None`: the
    /// start). Bookkeeping entries (tombstones, floors, placeholders) are not rows.
    fn scan(
        &mut self,
        table: &TableName,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<ScanPage, InspectError>> + Send;
}
