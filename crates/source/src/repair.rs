//! Re-emitting chosen rows through the pipeline: what `sluice verify --repair` does with
//! the keys it found drifted. A store is never written directly; the rows go to the
//! table's topic as the source itself would publish them, and every sink applies them.
//!
//! ```text
//!  CREATE_REPLICATION_SLOT sluice_repair_… TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')
//!     ──▶ consistent point C, snapshot name
//!  reader: BEGIN REPEATABLE READ; SET TRANSACTION SNAPSHOT 'name'
//!    per table: describe (publication, capture filter, masks: the snapshot's own code)
//!      SELECT … WHERE key IN (the drifted keys) ──▶ `read` at version C
//!      a drifted key with no row (or outside the row filter) ──▶ `delete` at version C
//!  all acknowledged by Kafka ──▶ COMMIT, drop the temporary slot
//! ```
//!
//! # Why this cannot undo a newer change
//!
//! An exported snapshot shows exactly the transactions that committed before its slot's
//! consistent point `C`, and every transaction committed later has a commit LSN (its
//! events' version) above `C`. So each event emitted here says what the row was at
//! version `C`, and no more: a store that already holds a newer version refuses it, and a
//! newer change still on its way overwrites it. This is the initial snapshot's argument
//! (see [`crate::snapshot`]), for a few keys. Reading "now" and stamping the rows with
//! `pg_current_wal_lsn()` instead would not be exact: a transaction whose commit record is
//! already in the WAL may not be visible to a snapshot taken a moment later.
//!
//! Creating the slot waits for the transactions running at that moment to end, as any
//! logical slot creation does. The slot is temporary: PostgreSQL drops it when the
//! connection ends, also when this process dies.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use sluice_event::v1;
use sluice_pgoutput::{Cell, ColumnValue, Lsn, TupleData};
use sluice_replication::{
    ReplicationClient, ReplicationConfig, SnapshotAction, connect_sql_client, quote_identifier,
};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::publish::Publisher;
use crate::replicate::{SourceConfig, SourceError, State, key_of};
use crate::rows::{keys_query, text_tuple};
use crate::snapshot::{self, SnapshotTable};

/// Keys per `SELECT … WHERE key IN (…)`.
const KEYS_PER_QUERY: usize = 500;

/// The rows of one table to emit again.
#[derive(Debug, Clone)]
pub struct RepairRequest {
    /// The table's schema.
    pub schema: String,
    /// The table's name.
    pub table: String,
    /// The rows' keys, as Kafka keys (the canonical key encoding the source writes).
    pub keys: Vec<Vec<u8>>,
}

/// What [`reemit`] published.
#[derive(Debug, Default, Clone)]
pub struct Reemitted {
    /// The version every event carries: the temporary slot's consistent point.
    pub version: Lsn,
    /// Keys whose row was published as a `read`.
    pub reads: u64,
    /// Keys without a row, published as a `delete`.
    pub deletes: u64,
    /// Keys that could not be emitted: (table, key, why).
    pub skipped: Vec<(String, String, String)>,
}

/// Publishes the current row of every requested key as a `read` event, or a `delete` when
/// the row does not exist, all at one version read from an exported snapshot; returns once
/// Kafka acknowledged them.
///
/// # Errors
///
/// [`SourceError`] when PostgreSQL or Kafka fail, or a requested table is not captured
/// by `config` (its publication and filter).
pub async fn reemit(
    config: &SourceConfig,
    requests: &[RepairRequest],
) -> Result<Reemitted, SourceError> {
    let (catalog, connection) =
        connect_sql_client(&ReplicationConfig::from_url(&config.postgres_url)?).await?;
    let driver = tokio::spawn(connection);
    let registry = crate::load_registry(&catalog).await?;
    let database: String = catalog
        .query_one("SELECT current_database()", &[])
        .await?
        .get(0);

    let mut replication =
        ReplicationClient::connect(&ReplicationConfig::from_url(&config.postgres_url)?).await?;
    let slot = format!(
        "sluice_repair_{}_{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let created = replication
        .create_replication_slot(&slot, true, SnapshotAction::Export)
        .await?;
    let exported = created.snapshot_name.ok_or_else(|| {
        SourceError::Contract(format!("the temporary slot {slot} exported no snapshot"))
    })?;
    let version = created.consistent_point;
    tracing::info!(%slot, %version, "repair: reading the drifted keys");
    let reader = snapshot::connect(&config.postgres_url, Some(&exported)).await?;

    let publisher = Publisher::new(config.kafka.clone())?;
    let mut state = State::new(config, catalog, registry, database, publisher)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    state.begin_snapshot(version, now);
    let mut reemitted = Reemitted {
        version,
        ..Reemitted::default()
    };
    for request in requests {
        let table = state
            .describe(&reader, &request.schema, &request.table)
            .await?;
        let key_types = key_types(&reader, &table).await?;
        for keys in request.keys.chunks(KEYS_PER_QUERY) {
            state
                .reemit_keys(&reader, &table, &key_types, keys, &mut reemitted)
                .await?;
        }
    }
    state.end_snapshot();
    state.wait_for_acknowledgements(version).await?;
    reader.batch_execute("COMMIT").await?;
    replication.drop_replication_slot(&slot, false).await?;
    driver.abort();
    tracing::info!(
        reads = reemitted.reads,
        deletes = reemitted.deletes,
        skipped = reemitted.skipped.len(),
        "repair: the keys are on Kafka"
    );
    Ok(reemitted)
}

/// The published key columns (the key events carry) and their SQL types, in key order.
async fn key_types(
    client: &Client,
    table: &SnapshotTable,
) -> Result<Vec<(String, String)>, SourceError> {
    let names: Vec<String> = table
        .published
        .columns
        .iter()
        .filter(|c| c.is_key())
        .map(|c| c.name.clone())
        .collect();
    let types: HashMap<String, String> = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
             WHERE a.attrelid = $1 AND a.attname::text = ANY($2)",
            &[&table.relation.id, &names],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    names
        .into_iter()
        .map(|name| {
            let sql_type = types.get(&name).cloned().ok_or_else(|| {
                SourceError::Contract(format!(
                    "{}.{}: key column {name} not found",
                    table.relation.namespace, table.relation.name
                ))
            })?;
            Ok((name, sql_type))
        })
        .collect()
}

impl State<'_> {
    /// One query's worth of keys: reads for the rows found, deletes for the others.
    async fn reemit_keys(
        &mut self,
        client: &Client,
        table: &SnapshotTable,
        key_types: &[(String, String)],
        keys: &[Vec<u8>],
        reemitted: &mut Reemitted,
    ) -> Result<(), SourceError> {
        let name = format!("{}.{}", table.relation.namespace, table.relation.name);
        let mut wanted: Vec<(&Vec<u8>, Vec<Option<String>>)> = Vec::new();
        for key in keys {
            match sluice_event::key::decode_key(key) {
                Ok(texts) if texts.len() == key_types.len() => wanted.push((key, texts)),
                Ok(_) => reemitted.skipped.push((
                    name.clone(),
                    String::from_utf8_lossy(key).into_owned(),
                    format!("not a key of {name}: it has a different number of columns"),
                )),
                Err(error) => reemitted.skipped.push((
                    name.clone(),
                    String::from_utf8_lossy(key).into_owned(),
                    error.to_string(),
                )),
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let quoted: Vec<(String, String)> = key_types
            .iter()
            .map(|(name, sql_type)| (quote_identifier(name), sql_type.clone()))
            .collect();
        let texts: Vec<&[Option<String>]> = wanted.iter().map(|(_, t)| t.as_slice()).collect();
        let sql = keys_query(
            &table.select_list,
            &table.qualified,
            table.row_filter.as_deref(),
            &quoted,
            &texts,
        );
        let width = table.relation.columns.len();
        let mut found = std::collections::HashSet::new();
        for message in client.simple_query(&sql).await? {
            let SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            let cells: Vec<Cell> = self.row(table.relation.id, &text_tuple(&row, width))?;
            found.insert(encoded_key(table, &cells)?);
            self.publish_read(&table.published, &cells).await?;
            reemitted.reads += 1;
        }
        for (key, texts) in wanted {
            if found.contains(key) {
                continue;
            }
            // No row: a delete, keyed by a row holding only the key (as the stream's
            // deletes under the default replica identity are).
            let key_row = TupleData::from_columns(table.relation.columns.iter().map(|column| {
                match key_types.iter().position(|(name, _)| *name == column.name) {
                    Some(i) => texts[i]
                        .as_deref()
                        .map_or(ColumnValue::Null, |t| ColumnValue::Text(t.as_bytes())),
                    None => ColumnValue::Null,
                }
            }));
            let cells = self.row(table.relation.id, &key_row)?;
            if encoded_key(table, &cells)? != *key {
                reemitted.skipped.push((
                    name.clone(),
                    String::from_utf8_lossy(key).into_owned(),
                    "its key does not read back as the same key (not a key this table's \
                     events carry)"
                        .to_owned(),
                ));
                continue;
            }
            self.publish_delete(&table.published, &cells).await?;
            reemitted.deletes += 1;
        }
        Ok(())
    }
}

/// The Kafka key the source publishes `row` under.
fn encoded_key(table: &SnapshotTable, row: &[Cell]) -> Result<Vec<u8>, SourceError> {
    let key: v1::Key = key_of(&table.published, row);
    key.encode().map_err(|e| {
        SourceError::Contract(format!(
            "{}.{}: {e}",
            table.relation.namespace, table.relation.name
        ))
    })
}
