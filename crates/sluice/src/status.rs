//! `sluice status`: where the pipeline stands, read from the servers, for an operator at a
//! glance (text) and for scripts (JSON and the exit code).
//!
//! ```text
//!  PostgreSQL ─ pg_replication_slots ─▶ per slot: active (pid), confirmed_flush_lsn,
//!             │                         restart_lsn, WAL held, bytes behind, wal_status
//!             └ pg_publication_tables ─▶ the publication's tables
//!  Kafka ───── <prefix>.sluice-snapshots ─▶ each slot's snapshot progress (the source's record)
//!        ├──── <prefix>.<schema>.<table> ends vs each sink group's committed offsets ─▶ lag
//!        ├──── each sink group's state and members
//!        └──── <prefix>.sluice-dead-letter.<kind> ─▶ records held
//!                                   ─▶ conditions ─▶ report (text | json), exit 0 or 1
//! ```
//!
//! # Why ask the servers
//!
//! Every process's `/metrics` says how that process sees itself; a process that is down
//! says nothing, and a scrape gap is easy to miss. The slot's position lives in PostgreSQL
//! and the sinks' committed offsets on Kafka whether or not any Sluice process runs, so
//! status reads them there: a stopped source shows as an inactive slot falling behind, a
//! stopped sink as a group with no member and growing lag. It only reads: it joins no
//! consumer group and commits nothing (see [`crate::offsets`]).
//!
//! # What needs attention
//!
//! [`Condition`] is the one list of what makes status exit 1; `--help`, the report's
//! `attention` entries and the README name the same conditions. Lag alone is not one: a
//! running sink is always a little behind a busy database, and only the operator knows how
//! much is too much (the Prometheus alerts in `deploy/monitoring` carry those thresholds).
//! Lag with nobody consuming it is one, since it only grows.
//!
//! # Config
//!
//! The file `sluice verify` reads ([`crate::verify`]): the sink config (its `[kafka]`,
//! `[sink] topic_prefix` and store sections name the topics, groups and dead-letter
//! topics) plus `[postgres] url` (required) and `[verify]` (optional): `slot` narrows the
//! report to that slot, `publication` adds its tables, and `groups` names the sinks'
//! consumer groups as for verify. Without `[verify] slot`, every logical slot of the
//! database that uses pgoutput is reported. The sinks are the stores whose section the
//! file has, plus any kind `[verify] groups` names.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use serde::Serialize;
use sluice_event::topic::{parse_table_topic, snapshots_topic};
use sluice_replication::{Lsn, ReplicationConfig, ReplicationError};
use sluice_source::progress::{ProgressError, SnapshotProgress, read_progress};
use tokio_postgres::Client;

use crate::config::ConfigError;
use crate::offsets::{self, KAFKA_TIMEOUT, PartitionEnds};
use crate::sink_config::{STORE_KINDS, SinkConfig, SinkKafka};

/// The exit code when something needs attention (a [`Condition`] holds).
pub(crate) const ATTENTION_EXIT_CODE: u8 = 1;
/// The exit code when PostgreSQL or Kafka could not be reached or asked: nothing is known.
pub(crate) const UNREACHABLE_EXIT_CODE: u8 = 3;

/// `sluice status`'s command line.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The verify config: the sink config plus `[postgres] url` and optionally `[verify]`
    /// (`slot`, `publication`, `groups`).
    #[arg(long, short, value_name = "FILE")]
    pub(crate) config: PathBuf,
    /// The report on stdout: a table for people, or one JSON document for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Compact tables.
    Text,
    /// One JSON document.
    Json,
}

/// Why status could not tell.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StatusError {
    /// The config or command line is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// PostgreSQL could not be reached.
    #[error("connecting to PostgreSQL: {0}")]
    Connect(#[source] ReplicationError),
    /// PostgreSQL could not be asked.
    #[error("asking PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Kafka could not be reached or asked.
    #[error("asking Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The source's snapshot progress record could not be read.
    #[error("reading the snapshot progress: {0}")]
    Progress(#[from] ProgressError),
}

/// What makes `sluice status` exit 1: the one list. Each is checked in [`attention`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Condition {
    /// `[verify] slot` names a slot PostgreSQL does not have.
    SlotMissing,
    /// No process streams from a slot: it holds WAL and falls behind.
    SlotInactive,
    /// A slot's `wal_status` is `unreserved` (WAL it needs is about to be removed) or
    /// `lost` (it was: the slot is unusable).
    SlotWalAtRisk,
    /// `[verify] publication` does not exist or publishes no table.
    PublicationMissing,
    /// A sink's consumer group has no active member while its lag is above 0.
    GroupStalled,
    /// A sink's dead-letter topic holds records.
    DeadLetters,
}

impl Condition {
    /// Every condition, in the order the help lists them.
    const ALL: [Condition; 6] = [
        Condition::SlotMissing,
        Condition::SlotInactive,
        Condition::SlotWalAtRisk,
        Condition::PublicationMissing,
        Condition::GroupStalled,
        Condition::DeadLetters,
    ];

    /// The name scripts see in `attention[].condition`.
    fn name(self) -> &'static str {
        match self {
            Condition::SlotMissing => "slot_missing",
            Condition::SlotInactive => "slot_inactive",
            Condition::SlotWalAtRisk => "slot_wal_at_risk",
            Condition::PublicationMissing => "publication_missing",
            Condition::GroupStalled => "group_stalled",
            Condition::DeadLetters => "dead_letters",
        }
    }

    /// When it holds, for `--help`.
    fn meaning(self) -> &'static str {
        match self {
            Condition::SlotMissing => "[verify] slot does not exist",
            Condition::SlotInactive => "no process streams from a slot",
            Condition::SlotWalAtRisk => "a slot's wal_status is unreserved or lost",
            Condition::PublicationMissing => {
                "[verify] publication does not exist or publishes no table"
            }
            Condition::GroupStalled => {
                "a sink's consumer group has no active member and lag above 0"
            }
            Condition::DeadLetters => "a sink's dead-letter topic holds records",
        }
    }
}

/// The exit codes and the conditions behind exit 1, for `sluice status --help`.
pub(crate) fn exit_codes_help() -> String {
    let mut help = String::from("Exit codes:\n  0  healthy\n  1  needs attention:\n");
    for condition in Condition::ALL {
        let _ = writeln!(
            help,
            "       {:<20} {}",
            condition.name(),
            condition.meaning()
        );
    }
    help.push_str(
        "  2  bad command line or config (the message names the key)\n  \
         3  PostgreSQL or Kafka could not be reached or asked",
    );
    help
}

/// One condition that holds, about one slot, publication, group or topic.
#[derive(Debug, Clone, Serialize)]
struct Attention {
    condition: Condition,
    /// The slot, publication, group or topic it is about.
    subject: String,
    /// What is wrong and what to look at.
    message: String,
}

/// The whole report: the JSON document `--format json` prints.
#[derive(Debug, Serialize)]
struct Report {
    /// No condition holds.
    healthy: bool,
    attention: Vec<Attention>,
    postgres: PostgresStatus,
    /// The snapshot progress recorded for each reported slot that has a record.
    snapshots: Vec<SnapshotStatus>,
    kafka: KafkaStatus,
}

#[derive(Debug, Serialize)]
struct PostgresStatus {
    /// The server's WAL position (its replay position on a standby).
    wal_lsn: Option<String>,
    /// `[verify] slot`, when set.
    configured_slot: Option<String>,
    slots: Vec<SlotStatus>,
    publication: Option<PublicationStatus>,
}

#[derive(Debug, Serialize)]
struct SlotStatus {
    name: String,
    active: bool,
    active_pid: Option<i32>,
    confirmed_flush_lsn: Option<String>,
    restart_lsn: Option<String>,
    /// WAL the slot keeps on the server's disk: `wal_lsn - restart_lsn`.
    wal_held_bytes: Option<i64>,
    /// WAL not yet confirmed by the source: `wal_lsn - confirmed_flush_lsn`.
    behind_bytes: Option<i64>,
    /// `reserved`, `extended`, `unreserved` or `lost` (PostgreSQL 13 and later).
    wal_status: Option<String>,
}

#[derive(Debug, Serialize)]
struct PublicationStatus {
    name: String,
    /// `schema.table`, in order; empty when the publication does not exist.
    tables: Vec<String>,
}

#[derive(Debug, Serialize)]
struct SnapshotStatus {
    slot: String,
    done: bool,
    /// The version every `read` event carries, as a number and as an LSN.
    version: u64,
    version_lsn: String,
    started_at_micros: i64,
    /// Rows published so far, all tables.
    rows: u64,
    tables: Vec<SnapshotTable>,
}

#[derive(Debug, Serialize)]
struct SnapshotTable {
    table: String,
    done: bool,
    rows: u64,
}

#[derive(Debug, Serialize)]
struct KafkaStatus {
    topic_prefix: String,
    /// The table topics of the prefix.
    topics: Vec<TopicStatus>,
    groups: Vec<GroupStatus>,
    dead_letters: Vec<DeadLetterStatus>,
}

#[derive(Debug, Serialize)]
struct TopicStatus {
    topic: String,
    partitions: usize,
    /// Records kept: the sum of high minus low watermarks.
    records: i64,
}

#[derive(Debug, Serialize)]
struct GroupStatus {
    /// The sink's kind.
    store: &'static str,
    group: String,
    /// Kafka's word for it (`Stable`, `Empty`, `PreparingRebalance`, `Dead`...).
    state: String,
    /// Consumers in the group now.
    members: usize,
    /// Records not yet committed, all partitions.
    lag: i64,
    partitions: Vec<PartitionLag>,
}

#[derive(Debug, Serialize)]
struct PartitionLag {
    topic: String,
    partition: i32,
    /// The committed offset; `null` when the group committed none (it starts at the
    /// beginning).
    committed: Option<i64>,
    /// The high watermark.
    end: i64,
    lag: i64,
}

#[derive(Debug, Serialize)]
struct DeadLetterStatus {
    store: &'static str,
    topic: String,
    records: i64,
}

/// Runs status and prints the report; `Ok(true)` when something needs attention.
pub(crate) async fn run(config: &SinkConfig, args: &StatusArgs) -> Result<bool, StatusError> {
    let Some(postgres) = &config.postgres else {
        return Err(ConfigError::invalid_key(
            "postgres.url",
            "status needs a [postgres] section with the source database's url",
        )
        .into());
    };
    let verify = config.verify.as_ref();
    let configured_slot = verify.and_then(|v| v.slot.clone());
    let publication = verify.map(|v| v.publication.clone());
    let mut sinks: Vec<(&'static str, String)> = Vec::new();
    for kind in STORE_KINDS {
        let named = verify.is_some_and(|v| v.groups.contains_key(kind));
        if named || config.configured_stores().contains(&kind) {
            sinks.push((kind, config.group_of(kind)?));
        }
    }
    let mut dead_letter_topics = Vec::new();
    for (kind, _) in &sinks {
        dead_letter_topics.push((*kind, config.runtime_config(kind)?.dead_letter_topic));
    }
    let progress_topic = snapshots_topic(&config.sink.topic_prefix)
        .map_err(|error| ConfigError::invalid_key("sink.topic_prefix", &error.to_string()))?;

    let pg = connect(postgres.url.expose()).await?;
    let postgres = postgres_status(&pg, configured_slot, publication).await?;

    let mut slots: Vec<String> = postgres.slots.iter().map(|s| s.name.clone()).collect();
    if let Some(slot) = &postgres.configured_slot
        && !slots.contains(slot)
    {
        slots.push(slot.clone());
    }
    let kafka = config.kafka.clone();
    let prefix = config.sink.topic_prefix.clone();
    let (kafka, snapshots) = tokio::task::spawn_blocking(move || {
        kafka_status(
            &kafka,
            &prefix,
            &sinks,
            &dead_letter_topics,
            &progress_topic,
            &slots,
        )
    })
    .await
    .map_err(|_| StatusError::Kafka(KafkaError::Canceled))??;

    let mut report = Report {
        healthy: true,
        attention: Vec::new(),
        postgres,
        snapshots,
        kafka,
    };
    report.attention = attention(&report);
    report.healthy = report.attention.is_empty();
    match args.format {
        Format::Json => println!("{}", serde_json::to_string(&report).unwrap_or_default()),
        Format::Text => print!("{}", text(&report)),
    }
    Ok(!report.healthy)
}

/// Every condition that holds, in [`Condition::ALL`] order: what decides exit 1.
fn attention(report: &Report) -> Vec<Attention> {
    let mut found = Vec::new();
    let mut hold = |condition, subject: &str, message: String| {
        found.push(Attention {
            condition,
            subject: subject.to_owned(),
            message,
        });
    };
    let pg = &report.postgres;
    if let Some(slot) = &pg.configured_slot
        && !pg.slots.iter().any(|s| &s.name == slot)
    {
        hold(
            Condition::SlotMissing,
            slot,
            format!(
                "slot {slot} does not exist: has the source started yet (it creates the slot \
                 unless source.create_slot = false), or was the slot dropped?"
            ),
        );
    }
    for slot in pg.slots.iter().filter(|s| !s.active) {
        hold(
            Condition::SlotInactive,
            &slot.name,
            format!(
                "no process streams from slot {}: is the source running? \
                 Meanwhile it holds {} of WAL",
                slot.name,
                bytes(slot.wal_held_bytes)
            ),
        );
    }
    for slot in &pg.slots {
        if let Some(status @ ("unreserved" | "lost")) = slot.wal_status.as_deref() {
            hold(
                Condition::SlotWalAtRisk,
                &slot.name,
                format!(
                    "slot {}'s wal_status is {status}: past max_slot_wal_keep_size, the WAL \
                     it needs is {}; a lost slot must be dropped and the snapshot taken \
                     again (snapshot.mode = when_needed)",
                    slot.name,
                    if status == "lost" {
                        "gone"
                    } else {
                        "removed at the next checkpoint unless the source catches up"
                    }
                ),
            );
        }
    }
    if let Some(publication) = pg.publication.as_ref().filter(|p| p.tables.is_empty()) {
        hold(
            Condition::PublicationMissing,
            &publication.name,
            format!(
                "publication {} does not exist or publishes no table",
                publication.name
            ),
        );
    }
    for group in &report.kafka.groups {
        if group.members == 0 && group.lag > 0 {
            hold(
                Condition::GroupStalled,
                &group.group,
                format!(
                    "group {} ({} sink) has no active member and is {} records behind: \
                     is the sink running?",
                    group.group, group.store, group.lag
                ),
            );
        }
    }
    for dead in report.kafka.dead_letters.iter().filter(|d| d.records > 0) {
        hold(
            Condition::DeadLetters,
            &dead.topic,
            format!(
                "{} holds {} records the {} sink could not apply (see their sluice-dlq-* \
                 headers)",
                dead.topic, dead.records, dead.store
            ),
        );
    }
    found
}

/// A SQL connection to the source database, with the URL's TLS settings.
async fn connect(url: &str) -> Result<Client, StatusError> {
    let config = ReplicationConfig::from_url(url).map_err(|error| match error {
        ReplicationError::Config(message) => {
            StatusError::Config(ConfigError::invalid_key("postgres.url", &message))
        }
        other => StatusError::Connect(other),
    })?;
    let (pg, connection) = sluice_replication::connect_sql_client(&config)
        .await
        .map_err(|error| match error {
            ReplicationError::Config(message) | ReplicationError::TlsConfig(message) => {
                StatusError::Config(ConfigError::invalid_key("postgres.url", &message))
            }
            other => StatusError::Connect(other),
        })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "the PostgreSQL connection ended");
        }
    });
    Ok(pg)
}

/// The server's position, the slots and the publication.
async fn postgres_status(
    pg: &Client,
    configured_slot: Option<String>,
    publication: Option<String>,
) -> Result<PostgresStatus, StatusError> {
    // A standby has no current WAL position of its own: its replay position stands in.
    const WAL: &str =
        "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END";
    let wal_lsn: Option<String> = pg
        .query_one(&format!("SELECT ({WAL})::text"), &[])
        .await?
        .get(0);
    // `to_jsonb(s) ->> 'wal_status'`: the column exists from PostgreSQL 13 on; this reads
    // it where it exists and gives NULL before, with one query for every version.
    let slots = pg
        .query(
            &format!(
                "SELECT s.slot_name::text, s.active, s.active_pid, \
                        s.confirmed_flush_lsn::text, s.restart_lsn::text, \
                        (({WAL}) - s.restart_lsn)::int8, \
                        (({WAL}) - s.confirmed_flush_lsn)::int8, \
                        to_jsonb(s) ->> 'wal_status' \
                 FROM pg_replication_slots s \
                 WHERE CASE WHEN $1::text IS NULL \
                            THEN s.slot_type = 'logical' AND s.plugin = 'pgoutput' \
                                 AND s.database = current_database() \
                            ELSE s.slot_name = $1 END \
                 ORDER BY 1"
            ),
            &[&configured_slot],
        )
        .await?
        .iter()
        .map(|row| SlotStatus {
            name: row.get(0),
            active: row.get(1),
            active_pid: row.get(2),
            confirmed_flush_lsn: row.get(3),
            restart_lsn: row.get(4),
            wal_held_bytes: row.get(5),
            behind_bytes: row.get(6),
            wal_status: row.get(7),
        })
        .collect();
    let publication = match publication {
        Some(name) => {
            let tables = crate::verify::published_tables(pg, &name)
                .await?
                .iter()
                .map(ToString::to_string)
                .collect();
            Some(PublicationStatus { name, tables })
        }
        None => None,
    };
    Ok(PostgresStatus {
        wal_lsn,
        configured_slot,
        slots,
        publication,
    })
}

/// Everything Kafka knows (blocking): the table topics, each sink group's lag and members,
/// the dead-letter topics, and the snapshot progress of each of `slots`.
fn kafka_status(
    kafka: &SinkKafka,
    prefix: &str,
    sinks: &[(&'static str, String)],
    dead_letter_topics: &[(&'static str, String)],
    progress_topic: &str,
    slots: &[String],
) -> Result<(KafkaStatus, Vec<SnapshotStatus>), StatusError> {
    let watcher = offsets::watcher(kafka)?;
    let metadata = watcher.fetch_metadata(None, KAFKA_TIMEOUT)?;
    let existing: BTreeSet<String> = metadata
        .topics()
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    let table_topics: Vec<String> = existing
        .iter()
        .filter(|t| parse_table_topic(prefix, t).is_some())
        .cloned()
        .collect();
    let ends = offsets::partition_ends(&watcher, &table_topics)?;
    let topics = table_topics
        .iter()
        .map(|topic| {
            let partitions: Vec<&PartitionEnds> =
                ends.iter().filter(|e| &e.topic == topic).collect();
            TopicStatus {
                topic: topic.clone(),
                partitions: partitions.len(),
                records: partitions.iter().map(|e| e.high - e.low).sum(),
            }
        })
        .collect();

    let mut groups = Vec::new();
    for (store, group) in sinks {
        let committed = if ends.is_empty() {
            Vec::new()
        } else {
            offsets::committed(&offsets::group_reader(kafka, group)?, &ends)?
        };
        let partitions: Vec<PartitionLag> = ends
            .iter()
            .zip(committed)
            .map(|(end, committed)| PartitionLag {
                topic: end.topic.clone(),
                partition: end.partition,
                committed,
                end: end.high,
                // Nothing committed: the group starts at the oldest record kept.
                lag: (end.high - committed.unwrap_or(end.low)).max(0),
            })
            .collect();
        let (state, members) = membership(&watcher, group)?;
        groups.push(GroupStatus {
            store,
            group: group.clone(),
            state,
            members,
            lag: partitions.iter().map(|p| p.lag).sum(),
            partitions,
        });
    }

    let mut dead_letters = Vec::new();
    for (store, topic) in dead_letter_topics {
        let records = if existing.contains(topic) {
            offsets::partition_ends(&watcher, std::slice::from_ref(topic))?
                .iter()
                .map(|e| e.high - e.low)
                .sum()
        } else {
            0
        };
        dead_letters.push(DeadLetterStatus {
            store,
            topic: topic.clone(),
            records,
        });
    }

    let mut snapshots = Vec::new();
    if existing.contains(progress_topic) {
        for slot in slots {
            if let Some(progress) =
                read_progress(offsets::client_config(kafka), progress_topic, slot)?
            {
                snapshots.push(snapshot_status(progress));
            }
        }
    }
    Ok((
        KafkaStatus {
            topic_prefix: prefix.to_owned(),
            topics,
            groups,
            dead_letters,
        },
        snapshots,
    ))
}

/// A group's state and how many members it has now. A group Kafka does not know (no sink
/// ever committed) has none.
fn membership(watcher: &BaseConsumer, group: &str) -> Result<(String, usize), StatusError> {
    match watcher.fetch_group_list(Some(group), KAFKA_TIMEOUT) {
        Ok(list) => Ok(list
            .groups()
            .iter()
            .find(|g| g.name() == group)
            .map_or_else(
                || ("Dead".to_owned(), 0),
                |g| (g.state().to_owned(), g.members().len()),
            )),
        Err(KafkaError::GroupListFetch(RDKafkaErrorCode::GroupIdNotFound)) => {
            Ok(("Dead".to_owned(), 0))
        }
        Err(error) => Err(error.into()),
    }
}

fn snapshot_status(progress: SnapshotProgress) -> SnapshotStatus {
    SnapshotStatus {
        slot: progress.slot,
        done: progress.done,
        version: progress.version,
        version_lsn: Lsn(progress.version).to_string(),
        started_at_micros: progress.started_at_micros,
        rows: progress.tables.iter().map(|t| t.rows).sum(),
        tables: progress
            .tables
            .into_iter()
            .map(|t| SnapshotTable {
                table: format!("{}.{}", t.schema, t.table),
                done: t.done,
                rows: t.rows,
            })
            .collect(),
    }
}

/// The report as compact tables.
fn text(report: &Report) -> String {
    let mut out = String::new();
    let pg = &report.postgres;
    let _ = writeln!(
        out,
        "PostgreSQL (WAL at {})",
        pg.wal_lsn.as_deref().unwrap_or("-")
    );
    let mut rows = vec![row(&[
        "SLOT",
        "ACTIVE",
        "WAL_STATUS",
        "CONFIRMED",
        "RESTART",
        "BEHIND",
        "WAL HELD",
    ])];
    for slot in &pg.slots {
        rows.push(vec![
            slot.name.clone(),
            match (slot.active, slot.active_pid) {
                (true, Some(pid)) => format!("yes (pid {pid})"),
                (true, None) => "yes".into(),
                (false, _) => "NO".into(),
            },
            slot.wal_status.clone().unwrap_or_else(|| "-".into()),
            slot.confirmed_flush_lsn
                .clone()
                .unwrap_or_else(|| "-".into()),
            slot.restart_lsn.clone().unwrap_or_else(|| "-".into()),
            bytes(slot.behind_bytes),
            bytes(slot.wal_held_bytes),
        ]);
    }
    if let Some(slot) = &pg.configured_slot
        && pg.slots.is_empty()
    {
        rows.push(vec![slot.clone(), "MISSING".into()]);
    }
    if rows.len() > 1 {
        columns(
            &mut out,
            &rows,
            &[false, false, false, false, false, true, true],
        );
    } else {
        out.push_str("no logical pgoutput slot in this database\n");
    }
    if let Some(publication) = &pg.publication {
        let tables = if publication.tables.is_empty() {
            "MISSING or empty".to_owned()
        } else {
            publication.tables.join(", ")
        };
        let _ = writeln!(out, "publication {}: {tables}", publication.name);
    }

    if !report.snapshots.is_empty() {
        out.push('\n');
        let mut rows = vec![row(&["SNAPSHOT", "STATE", "TABLES", "ROWS", "VERSION"])];
        for snapshot in &report.snapshots {
            let done = snapshot.tables.iter().filter(|t| t.done).count();
            rows.push(vec![
                snapshot.slot.clone(),
                if snapshot.done { "done" } else { "running" }.into(),
                format!("{done}/{}", snapshot.tables.len()),
                snapshot.rows.to_string(),
                snapshot.version_lsn.clone(),
            ]);
        }
        columns(&mut out, &rows, &[false, false, true, true, false]);
    }

    let kafka = &report.kafka;
    out.push('\n');
    let _ = writeln!(
        out,
        "Kafka (prefix {}: {} table topic{})",
        kafka.topic_prefix,
        kafka.topics.len(),
        if kafka.topics.len() == 1 { "" } else { "s" }
    );
    if !kafka.groups.is_empty() {
        let mut rows = vec![row(&["GROUP", "SINK", "STATE", "MEMBERS", "LAG"])];
        for group in &kafka.groups {
            rows.push(vec![
                group.group.clone(),
                group.store.into(),
                group.state.clone(),
                group.members.to_string(),
                group.lag.to_string(),
            ]);
        }
        columns(&mut out, &rows, &[false, false, false, true, true]);
        // Where a lagging group is behind: committed/end per partition of each topic.
        for group in kafka.groups.iter().filter(|g| g.lag > 0) {
            for topic in &kafka.topics {
                let partitions: Vec<&PartitionLag> = group
                    .partitions
                    .iter()
                    .filter(|p| p.topic == topic.topic)
                    .collect();
                let lag: i64 = partitions.iter().map(|p| p.lag).sum();
                if lag == 0 {
                    continue;
                }
                let offsets: Vec<String> = partitions
                    .iter()
                    .map(|p| {
                        let committed = p.committed.map_or_else(|| "-".into(), |c| c.to_string());
                        format!("p{} {committed}/{}", p.partition, p.end)
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "  {} on {}: {lag} behind (committed/end: {})",
                    group.group,
                    topic.topic,
                    offsets.join(", ")
                );
            }
        }
    }
    if !kafka.dead_letters.is_empty() {
        out.push('\n');
        let mut rows = vec![row(&["DEAD-LETTER TOPIC", "RECORDS"])];
        for dead in &kafka.dead_letters {
            rows.push(vec![dead.topic.clone(), dead.records.to_string()]);
        }
        columns(&mut out, &rows, &[false, true]);
    }

    out.push('\n');
    if report.attention.is_empty() {
        out.push_str("healthy\n");
    } else {
        out.push_str("needs attention:\n");
        for attention in &report.attention {
            let _ = writeln!(
                out,
                "  {}: {}",
                attention.condition.name(),
                attention.message
            );
        }
    }
    out
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// Writes `rows` (the first is the header) as columns two spaces apart; `right[i]` aligns
/// column `i` to the right (numbers). Rows may have fewer cells than the header.
fn columns(out: &mut String, rows: &[Vec<String>], right: &[bool]) {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if right.get(i).copied().unwrap_or(false) {
                let _ = write!(line, "{cell:>width$}", width = widths[i]);
            } else {
                let _ = write!(line, "{cell:<width$}", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// A byte count the way people read it: `0 B`, `944 B`, `1.2 MiB`.
fn bytes(count: Option<i64>) -> String {
    let Some(count) = count else {
        return "-".into();
    };
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{count} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(name: &str, active: bool, wal_status: &str) -> SlotStatus {
        SlotStatus {
            name: name.into(),
            active,
            active_pid: active.then_some(42),
            confirmed_flush_lsn: Some("0/10".into()),
            restart_lsn: Some("0/8".into()),
            wal_held_bytes: Some(2048),
            behind_bytes: Some(0),
            wal_status: Some(wal_status.into()),
        }
    }

    fn report(slots: Vec<SlotStatus>, groups: Vec<GroupStatus>, dead: i64) -> Report {
        Report {
            healthy: true,
            attention: Vec::new(),
            postgres: PostgresStatus {
                wal_lsn: Some("0/10".into()),
                configured_slot: None,
                slots,
                publication: Some(PublicationStatus {
                    name: "shop".into(),
                    tables: vec!["public.orders".into()],
                }),
            },
            snapshots: Vec::new(),
            kafka: KafkaStatus {
                topic_prefix: "shop".into(),
                topics: Vec::new(),
                groups,
                dead_letters: vec![DeadLetterStatus {
                    store: "redis",
                    topic: "shop.sluice-dead-letter.redis".into(),
                    records: dead,
                }],
            },
        }
    }

    fn group(members: usize, lag: i64) -> GroupStatus {
        GroupStatus {
            store: "redis",
            group: "sluice-redis".into(),
            state: if members > 0 { "Stable" } else { "Empty" }.into(),
            members,
            lag,
            partitions: Vec::new(),
        }
    }

    fn conditions(report: &Report) -> Vec<Condition> {
        attention(report).iter().map(|a| a.condition).collect()
    }

    #[test]
    fn a_streaming_slot_and_a_consuming_group_are_healthy_even_with_lag() {
        let healthy = report(vec![slot("shop", true, "reserved")], vec![group(1, 500)], 0);
        assert!(conditions(&healthy).is_empty());
        // Nothing to consume and nobody consuming: a stopped sink that caught up.
        let idle = report(vec![slot("shop", true, "extended")], vec![group(0, 0)], 0);
        assert!(conditions(&idle).is_empty());
    }

    #[test]
    fn each_condition_is_found() {
        let mut bad = report(
            vec![slot("a", false, "reserved"), slot("b", true, "lost")],
            vec![group(0, 3), group(2, 3)],
            1,
        );
        bad.postgres.configured_slot = Some("c".into());
        bad.postgres.publication.as_mut().unwrap().tables.clear();
        assert_eq!(conditions(&bad), Condition::ALL);
        let unreserved = report(vec![slot("a", true, "unreserved")], Vec::new(), 0);
        assert_eq!(conditions(&unreserved), [Condition::SlotWalAtRisk]);
    }

    #[test]
    fn the_help_names_every_condition_as_the_json_does() {
        let help = exit_codes_help();
        for condition in Condition::ALL {
            let json = serde_json::to_value(condition).unwrap();
            assert_eq!(json, condition.name());
            assert!(help.contains(condition.name()), "{help}");
        }
    }

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(bytes(Some(0)), "0 B");
        assert_eq!(bytes(Some(944)), "944 B");
        assert_eq!(bytes(Some(1536)), "1.5 KiB");
        assert_eq!(bytes(Some(3 * 1024 * 1024)), "3.0 MiB");
        assert_eq!(bytes(None), "-");
    }

    #[test]
    fn the_text_report_is_aligned_columns_and_a_verdict() {
        let mut stalled = report(
            vec![slot("shop_slot", true, "reserved")],
            vec![group(0, 7)],
            0,
        );
        stalled.attention = attention(&stalled);
        let text = text(&stalled);
        assert!(text.contains("SLOT       ACTIVE"), "{text}");
        assert!(text.contains("shop_slot  yes (pid 42)"), "{text}");
        assert!(text.contains("publication shop: public.orders"), "{text}");
        assert!(text.ends_with(
            "needs attention:\n  group_stalled: group sluice-redis (redis sink) has no active \
             member and is 7 records behind: is the sink running?\n"
        ));
    }
}
