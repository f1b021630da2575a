//! The initial snapshot: every row of the captured tables published as a `read` event
//! before streaming begins, so that a store built from the topics starts complete.
//!
//! ```text
//!  CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export') ──▶ consistent point V, snapshot name
//!  snapshot connection: BEGIN REPEATABLE READ; SET TRANSACTION SNAPSHOT 'name'
//!    for each published table, in primary-key chunks:
//!      SELECT ... WHERE key > last ORDER BY key LIMIT n ──▶ read events (version V) ──▶ Kafka
//!      all acknowledged ──▶ progress record (last key) ──▶ <prefix>.sluice-snapshots
//!  START_REPLICATION from the slot's confirmed position (still V)
//! ```
//!
//! # Why it converges, even when resumed
//!
//! Every `read` event carries the version `V`, the slot's consistent point. The slot is
//! not streamed (so its confirmed position stays at `V`) until the snapshot is done, so
//! every transaction committed after `V` is streamed afterwards with a version of at least
//! `V`, and stores keep the newest version of a row. A snapshot read exactly at `V` (the
//! exported snapshot) is therefore exact; but one read *later* than `V` converges as well:
//! a row it shows early is rewritten by the stream's changes, which carry higher versions,
//! and a row deleted in the meantime gets the stream's delete. That is what makes resuming
//! possible: the exported snapshot dies with the connection that created the slot, so after
//! a crash the remaining chunks are read at the current time, still versioned `V`, from
//! the last acknowledged key on. It also allows a snapshot of a slot that already existed
//! (versioned at the slot's confirmed position).
//!
//! # Chunks
//!
//! A table with a primary key (or a replica identity index) is read in key order, `n` rows
//! per query, each query starting after the previous chunk's last key; the progress record
//! stores that key once Kafka acknowledged the chunk's events, so a crash costs at most one
//! chunk. A table without such a key is read through a cursor and, after a crash, again
//! from its start. Publication column lists and row filters (PostgreSQL 15) are honoured,
//! so the snapshot shows the same rows and columns as the stream.
//!
//! # Progress
//!
//! A log line at most every 5 seconds per table (rows, rate, estimated rows and time left,
//! from `pg_class.reltuples`), and the `sluice_source_snapshot_*` metrics.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sluice_pgoutput::{Cell, Column, Lsn, Relation, ReplicaIdentity};
use sluice_replication::{ReplicationConfig, connect_sql_client, quote_identifier, quote_literal};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::observe;
use crate::progress::{ProgressStore, SnapshotProgress, TableProgress};
use crate::replicate::{OUTPUT_SETTINGS, SourceError, State};
use crate::rows::{keyset_query, text_tuple, where_clause};

/// When the source takes an initial snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotMode {
    /// Once, when no snapshot of this slot was ever completed; then stream.
    #[default]
    Initial,
    /// Never: only changes from the slot's position on.
    Never,
    /// As `Initial`, then stop instead of streaming (a one-off export).
    InitialOnly,
    /// As `Initial`, and again whenever the slot had to be created (it was lost or
    /// dropped, so the changes between the old slot and the new one were never seen).
    WhenNeeded,
}

impl SnapshotMode {
    /// The names accepted in configuration.
    pub const NAMES: [&'static str; 4] = ["initial", "never", "initial_only", "when_needed"];
}

impl FromStr for SnapshotMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "initial" => Ok(Self::Initial),
            "never" => Ok(Self::Never),
            "initial_only" => Ok(Self::InitialOnly),
            "when_needed" => Ok(Self::WhenNeeded),
            other => Err(format!(
                "unknown snapshot mode {other:?}: use one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for SnapshotMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Initial => "initial",
            Self::Never => "never",
            Self::InitialOnly => "initial_only",
            Self::WhenNeeded => "when_needed",
        })
    }
}

/// How the source snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotSettings {
    /// When.
    pub mode: SnapshotMode,
    /// Rows per chunk query (and per progress record).
    pub chunk_rows: usize,
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        Self {
            mode: SnapshotMode::Initial,
            chunk_rows: 10_000,
        }
    }
}

/// What start-up decides to do about the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Stream only.
    Skip,
    /// Snapshot every table from the start.
    Fresh,
    /// Continue the recorded, unfinished snapshot.
    Resume,
}

/// The decision table: the mode, whether the slot was just created, and the slot's
/// progress record.
pub(crate) fn plan(
    mode: SnapshotMode,
    slot_created: bool,
    recorded: Option<&SnapshotProgress>,
) -> Plan {
    let recorded_done = recorded.map(|p| p.done);
    match mode {
        SnapshotMode::Never => Plan::Skip,
        SnapshotMode::WhenNeeded if slot_created => Plan::Fresh,
        _ if slot_created => match recorded_done {
            Some(true) => Plan::Skip,
            // An unfinished record belongs to the lost slot: its version means nothing now.
            _ => Plan::Fresh,
        },
        _ => match recorded_done {
            None => Plan::Fresh,
            Some(false) => Plan::Resume,
            Some(true) => Plan::Skip,
        },
    }
}

/// The published tables the filter captures, with nothing read yet.
pub(crate) async fn new_progress(
    client: &Client,
    state: &State<'_>,
    version: Lsn,
) -> Result<SnapshotProgress, SourceError> {
    let rows = client
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables \
             WHERE pubname = $1 ORDER BY 1, 2",
            &[&state.config.publication],
        )
        .await?;
    let tables = rows
        .iter()
        .map(|row| TableProgress {
            schema: row.get(0),
            table: row.get(1),
            done: false,
            rows: 0,
            after: None,
        })
        .filter(|t| state.config.filter.captures(&t.schema, &t.table))
        .collect();
    Ok(SnapshotProgress {
        slot: state.config.slot.clone(),
        version: version.0,
        started_at_micros: unix_micros(SystemTime::now()),
        done: false,
        tables,
    })
}

/// Opens the connection the snapshot reads through, inside a repeatable-read transaction
/// on `exported` (the slot's exported snapshot) when there is one.
pub(crate) async fn connect(
    postgres_url: &str,
    exported: Option<&str>,
) -> Result<Client, SourceError> {
    let (client, connection) =
        connect_sql_client(&ReplicationConfig::from_url(postgres_url)?).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "the snapshot connection ended");
        }
    });
    client.batch_execute(OUTPUT_SETTINGS).await?;
    client
        .batch_execute(
            "SET standard_conforming_strings = on; \
             BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        )
        .await?;
    if let Some(name) = exported {
        client
            .batch_execute(&format!("SET TRANSACTION SNAPSHOT {}", quote_literal(name)))
            .await?;
    }
    Ok(client)
}

/// A table as the snapshot reads it.
pub(crate) struct SnapshotTable {
    /// The table as the server stores it (the select list's first columns).
    pub(crate) relation: Relation,
    /// The table as events describe it.
    pub(crate) published: Arc<Relation>,
    /// `"schema"."table"`.
    pub(crate) qualified: String,
    /// The published columns, then the chunk key's columns again.
    pub(crate) select_list: String,
    /// The publication's row filter.
    pub(crate) row_filter: Option<String>,
    /// The chunk key: (quoted column, SQL type) in index order; empty for a cursor read.
    chunk_key: Vec<(String, String)>,
    /// `pg_class.reltuples`, or a count when the table was never analysed.
    estimated_rows: u64,
}

impl SnapshotTable {
    /// The next chunk's query, after the key `after`.
    fn chunk_query(&self, after: Option<&[String]>, limit: usize) -> String {
        keyset_query(
            &self.select_list,
            &self.qualified,
            self.row_filter.as_deref(),
            &self.chunk_key,
            after,
            limit,
        )
    }

    /// The whole table, for a cursor.
    fn full_query(&self) -> String {
        let conditions: Vec<String> = self.row_filter.iter().map(|f| format!("({f})")).collect();
        format!(
            "SELECT {} FROM {}{}",
            self.select_list,
            self.qualified,
            where_clause(&conditions)
        )
    }
}

const CURSOR: &str = "sluice_snapshot";

impl State<'_> {
    /// Reads every unfinished table of `progress`, publishing `read` events, and records
    /// progress after each acknowledged chunk. Returns once the snapshot is done.
    pub(crate) async fn snapshot(
        &mut self,
        client: &Client,
        store: &ProgressStore,
        progress: &mut SnapshotProgress,
    ) -> Result<(), SourceError> {
        let version = Lsn(progress.version);
        let started = Instant::now();
        tracing::info!(
            slot = %progress.slot,
            %version,
            tables = progress.tables.len(),
            resumed = progress.tables.iter().any(|t| t.rows > 0),
            "snapshot: starting"
        );
        metrics::gauge!(observe::SNAPSHOT_RUNNING).set(1.0);
        self.begin_snapshot(version, progress.started_at_micros);
        while let Some(index) = progress.tables.iter().position(|t| !t.done) {
            let target = &progress.tables[index];
            let table = self.describe(client, &target.schema, &target.table).await?;
            self.read_table(client, store, progress, index, &table)
                .await?;
        }
        self.end_snapshot();
        progress.done = true;
        store
            .save(&self.publisher, progress)
            .await
            .map_err(SourceError::Progress)?;
        client.batch_execute("COMMIT").await?;
        metrics::gauge!(observe::SNAPSHOT_RUNNING).set(0.0);
        let rows: u64 = progress.tables.iter().map(|t| t.rows).sum();
        tracing::info!(
            rows,
            tables = progress.tables.len(),
            seconds = started.elapsed().as_secs_f64(),
            "snapshot: done"
        );
        Ok(())
    }

    /// Locks `schema.table` against schema changes for the transaction and describes it
    /// as the publication and the capture filter present it.
    pub(crate) async fn describe(
        &mut self,
        client: &Client,
        schema: &str,
        table: &str,
    ) -> Result<SnapshotTable, SourceError> {
        let not_found = || {
            SourceError::Contract(format!(
                "snapshot: table {schema}.{table} is not in the publication, or not captured"
            ))
        };
        // Lock first, then read the table's columns: a concurrent ALTER TABLE now waits for
        // the snapshot (whose transaction holds this lock until it ends, as its SELECTs
        // would anyway) instead of changing the columns between the description and the
        // reads. ACCESS SHARE does not block inserts, updates or deletes.
        let qualified = format!("{}.{}", quote_identifier(schema), quote_identifier(table));
        client
            .batch_execute(&format!("LOCK TABLE {qualified} IN ACCESS SHARE MODE"))
            .await?;
        let class = client
            .query_opt(
                "SELECT c.oid, c.relreplident, c.reltuples::float8 FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2",
                &[&schema, &table],
            )
            .await?
            .ok_or_else(not_found)?;
        let oid: u32 = class.get(0);
        let replica_identity = match class.get::<_, i8>(1) as u8 {
            b'f' => ReplicaIdentity::Full,
            b'n' => ReplicaIdentity::Nothing,
            b'i' => ReplicaIdentity::Index,
            _ => ReplicaIdentity::Default,
        };
        let reltuples: f64 = class.get(2);
        let publication = client
            .query_opt(
                "SELECT attnames::text[], rowfilter FROM pg_publication_tables \
                 WHERE pubname = $1 AND schemaname = $2 AND tablename = $3",
                &[&self.config.publication, &schema, &table],
            )
            .await?
            .ok_or_else(not_found)?;
        let published: Vec<String> = publication.get(0);
        let row_filter: Option<String> = publication.get(1);
        // The columns as pgoutput's Relation message describes them: published, not
        // generated, flagged when part of the replica identity.
        let columns = client
            .query(
                "SELECT a.attname::text, a.atttypid, a.atttypmod, \
                   (c.relreplident = 'f' OR EXISTS (SELECT 1 FROM pg_index i \
                      WHERE i.indrelid = c.oid AND a.attnum = ANY(i.indkey::int2[]) \
                        AND ((c.relreplident = 'd' AND i.indisprimary) \
                          OR (c.relreplident = 'i' AND i.indisreplident)))) \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
                   AND a.attgenerated = '' AND a.attname::text = ANY($2) \
                 ORDER BY a.attnum",
                &[&oid, &published],
            )
            .await?
            .iter()
            .map(|row| Column {
                name: row.get(0),
                type_oid: row.get(1),
                type_modifier: row.get(2),
                flags: if row.get::<_, bool>(3) {
                    Column::KEY_FLAG
                } else {
                    0
                },
            })
            .collect::<Vec<_>>();
        // The chunk key: the primary key, else the replica identity index.
        let chunk_key: Vec<(String, String)> = client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
                 FROM (SELECT indrelid, indkey FROM pg_index \
                       WHERE indrelid = $1 AND (indisprimary OR indisreplident) \
                       ORDER BY indisprimary DESC LIMIT 1) i, \
                   unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                   JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = k.attnum \
                 ORDER BY k.n",
                &[&oid],
            )
            .await?
            .iter()
            .map(|row| (quote_identifier(row.get(0)), row.get(1)))
            .collect();
        let mut select: Vec<String> = columns.iter().map(|c| quote_identifier(&c.name)).collect();
        select.extend(chunk_key.iter().map(|(c, _)| c.clone()));
        let estimated_rows = if reltuples >= 0.0 {
            reltuples as u64
        } else {
            let count: i64 = client
                .query_one(&format!("SELECT count(*) FROM {qualified}"), &[])
                .await?
                .get(0);
            count.max(0) as u64
        };
        let relation = Relation {
            xid: None,
            id: oid,
            namespace: schema.to_owned(),
            name: table.to_owned(),
            replica_identity,
            columns,
        };
        let published = self
            .register_relation(relation.clone())
            .await?
            .ok_or_else(not_found)?;
        Ok(SnapshotTable {
            relation,
            published,
            qualified,
            select_list: select.join(", "),
            row_filter,
            chunk_key,
            estimated_rows,
        })
    }

    async fn read_table(
        &mut self,
        client: &Client,
        store: &ProgressStore,
        progress: &mut SnapshotProgress,
        index: usize,
        table: &SnapshotTable,
    ) -> Result<(), SourceError> {
        let chunk_rows = self.config.snapshot.chunk_rows.max(1);
        let keyed = !table.chunk_key.is_empty();
        let name = format!(
            "{}.{}",
            progress.tables[index].schema, progress.tables[index].table
        );
        if !keyed {
            // Without a key there is no place to resume from: read it all again.
            progress.tables[index].rows = 0;
            client
                .batch_execute(&format!(
                    "DECLARE {CURSOR} NO SCROLL CURSOR FOR {}",
                    table.full_query()
                ))
                .await?;
        }
        let mut report = Report::new(&name, progress.tables[index].rows, table.estimated_rows);
        loop {
            let sql = if keyed {
                table.chunk_query(progress.tables[index].after.as_deref(), chunk_rows)
            } else {
                format!("FETCH FORWARD {chunk_rows} FROM {CURSOR}")
            };
            let messages = client.simple_query(&sql).await?;
            let mut count = 0usize;
            let mut last_key = None;
            let width = table.relation.columns.len();
            for message in &messages {
                let SimpleQueryMessage::Row(row) = message else {
                    continue;
                };
                let cells: Vec<Cell> = self.row(table.relation.id, &text_tuple(row, width))?;
                self.publish_read(&table.published, &cells).await?;
                count += 1;
                if keyed {
                    last_key = Some(row);
                }
            }
            let entry = &mut progress.tables[index];
            if let Some(row) = last_key {
                let key = (width..width + table.chunk_key.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| {
                        SourceError::Contract(format!("snapshot: {name} has a NULL key column"))
                    })?;
                entry.after = Some(key);
            }
            entry.rows += count as u64;
            entry.done = count < chunk_rows;
            // Everything published so far must be on Kafka before the record says so.
            self.wait_for_acknowledgements(Lsn(progress.version))
                .await?;
            store
                .save(&self.publisher, progress)
                .await
                .map_err(SourceError::Progress)?;
            let entry = &progress.tables[index];
            metrics::counter!(observe::SNAPSHOT_ROWS_TOTAL, "table" => name.clone())
                .increment(count as u64);
            report.chunk(entry.rows, entry.done);
            if entry.done {
                break;
            }
        }
        if !keyed {
            client.batch_execute(&format!("CLOSE {CURSOR}")).await?;
        }
        Ok(())
    }
}

/// Periodic progress lines for a person watching a long snapshot.
struct Report<'a> {
    table: &'a str,
    started: Instant,
    first_rows: u64,
    estimated: u64,
    last_line: Instant,
}

impl<'a> Report<'a> {
    const EVERY: Duration = Duration::from_secs(5);

    fn new(table: &'a str, rows: u64, estimated: u64) -> Self {
        metrics::gauge!(observe::SNAPSHOT_ROWS_ESTIMATED, "table" => table.to_owned())
            .set(estimated as f64);
        let now = Instant::now();
        Self {
            table,
            started: now,
            first_rows: rows,
            estimated,
            last_line: now,
        }
    }

    fn chunk(&mut self, rows: u64, done: bool) {
        let now = Instant::now();
        if !done && now.duration_since(self.last_line) < Self::EVERY {
            return;
        }
        self.last_line = now;
        let seconds = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let rate = (rows - self.first_rows) as f64 / seconds;
        if done {
            tracing::info!(
                table = self.table,
                rows,
                seconds,
                rows_per_second = rate as u64,
                "snapshot: table done"
            );
        } else {
            let left = self.estimated.saturating_sub(rows);
            let eta_seconds = if rate > 0.0 {
                (left as f64 / rate) as u64
            } else {
                0
            };
            tracing::info!(
                table = self.table,
                rows,
                estimated_rows = self.estimated,
                rows_per_second = rate as u64,
                eta_seconds,
                "snapshot: reading"
            );
        }
    }
}

fn unix_micros(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(done: bool) -> SnapshotProgress {
        SnapshotProgress {
            slot: "s".into(),
            version: 1,
            started_at_micros: 0,
            done,
            tables: Vec::new(),
        }
    }

    #[test]
    fn the_decision_table() {
        use Plan::*;
        use SnapshotMode::*;
        let done = record(true);
        let unfinished = record(false);
        for mode in [Initial, InitialOnly, WhenNeeded] {
            // A new slot with no record, or an existing slot never snapshotted: snapshot.
            assert_eq!(plan(mode, true, None), Fresh, "{mode}");
            assert_eq!(plan(mode, false, None), Fresh, "{mode}");
            // An unfinished snapshot of the same slot resumes.
            assert_eq!(plan(mode, false, Some(&unfinished)), Resume, "{mode}");
            assert_eq!(plan(mode, false, Some(&done)), Skip, "{mode}");
            // The slot was lost mid-snapshot: the old version means nothing now.
            assert_eq!(plan(mode, true, Some(&unfinished)), Fresh, "{mode}");
        }
        // A lost and re-created slot with a finished snapshot: only when_needed re-reads.
        assert_eq!(plan(Initial, true, Some(&done)), Skip);
        assert_eq!(plan(WhenNeeded, true, Some(&done)), Fresh);
        for slot_created in [true, false] {
            for recorded in [None, Some(&done), Some(&unfinished)] {
                assert_eq!(plan(Never, slot_created, recorded), Skip);
            }
        }
    }

    #[test]
    fn modes_parse_and_print() {
        for name in SnapshotMode::NAMES {
            assert_eq!(name.parse::<SnapshotMode>().unwrap().to_string(), name);
        }
        assert!(
            "always"
                .parse::<SnapshotMode>()
                .unwrap_err()
                .contains("when_needed")
        );
    }

    #[test]
    fn chunk_queries_start_after_the_last_key() {
        let relation = Relation {
            xid: None,
            id: 1,
            namespace: "s".into(),
            name: "t".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: Vec::new(),
        };
        let table = SnapshotTable {
            relation: relation.clone(),
            published: Arc::new(relation),
            qualified: "\"s\".\"t\"".into(),
            select_list: "\"a\", \"b\", \"a\", \"b\"".into(),
            row_filter: Some("b > 0".into()),
            chunk_key: vec![
                ("\"a\"".into(), "text".into()),
                ("\"b\"".into(), "integer".into()),
            ],
            estimated_rows: 0,
        };
        assert_eq!(
            table.chunk_query(None, 10),
            "SELECT \"a\", \"b\", \"a\", \"b\" FROM \"s\".\"t\" WHERE (b > 0) ORDER BY \"a\", \"b\" LIMIT 10"
        );
        assert_eq!(
            table.chunk_query(Some(&["it's".into(), "7".into()]), 10),
            "SELECT \"a\", \"b\", \"a\", \"b\" FROM \"s\".\"t\" WHERE (b > 0) AND (\"a\", \"b\") > ('it''s'::text, '7'::integer) ORDER BY \"a\", \"b\" LIMIT 10"
        );
    }
}
