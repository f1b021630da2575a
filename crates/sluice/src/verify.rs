//! `sluice verify`: compares PostgreSQL with every configured store and names each row
//! missing, extra or stale.
//!
//! ```text
//!  LSN₀ = pg_current_wal_lsn()
//!  per table, per store:
//!    PostgreSQL rows in key chunks (sluice_source::rows: the source's own conversion)
//!      ─▶ Record ─▶ Inspect::expected (the store crate's own planning code)
//!      ─▶ Inspect::fetch (one batched read per chunk) ─▶ missing / stale
//!    Inspect::scan (the store's row keys, in pages) ─▶ keys PostgreSQL lacks ─▶ extra
//!  differing keys? wait (bounded) until the pipeline is past LSN₀:
//!    slot confirmed_flush_lsn ≥ LSN₀ (when [verify] slot is set), then every sink's
//!    consumer group committed up to the topics' high watermarks
//!  recheck only the differing keys (PostgreSQL and store read again), up to 3 rounds,
//!  each after the pipeline passed the LSN the previous read started at ─▶ report, metrics
//! ```
//!
//! # Why the expected form comes from the pipeline's own code
//!
//! A verifier with its own idea of "what a row looks like in Redis" reports its own bugs
//! as drift, or hides the pipeline's. So rows are typed by the decoder the source uses,
//! turned into events by the source's event building, and into expected store forms by
//! each store crate's plan ([`sluice_sink::Inspect`]).
//!
//! # Why a recheck
//!
//! On a live pipeline a row changed a millisecond ago is in PostgreSQL but not yet in the
//! stores: a one-pass comparison would report it. Every change committed before LSN₀ has
//! reached the stores once the slot is past LSN₀ and the sinks have committed up to the
//! topics' ends (a sink commits only after its store accepted), so a key that still
//! differs after that, re-read on both sides, is drift. A key changed again during the
//! recheck itself can still differ; so up to three rounds are made, each waiting for the
//! LSN at which the previous one started reading. A row updated continuously faster than
//! the pipeline's latency can still be reported (`rechecked` in the report shows how
//! much settled); `settle_seconds` bounds each wait. Without `[verify] slot`, the wait
//! cannot know the source has published everything up to the LSN, only that the sinks
//! consumed what is on Kafka.
//!
//! # Config
//!
//! The sink config file (`[kafka]`, `[sink]`, the store sections) plus:
//!
//! ```toml
//! [postgres]
//! url = "postgres://verify@db/shop"      # or SLUICE_POSTGRES__URL
//!
//! [verify]
//! publication = "shop_pub"               # required: its tables are verified
//! slot = "shop_slot"                     # optional: also wait for the slot at the recheck
//! chunk_rows = 2000
//! settle_seconds = 60
//! sample_keys = 10
//! groups = { redis = "shop-redis" }      # consumer groups, when not sluice-<kind>
//! ```

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use serde::Deserialize;
use sluice_event::key::decode_key;
use sluice_event::topic::topic_for;
use sluice_sink::{Inspect, InspectError, Origin, Record, TableName};
use sluice_sink_elasticsearch::ElasticsearchSink;
use sluice_sink_neo4j::Neo4jSink;
use sluice_sink_redis::RedisSink;
use sluice_source::repair::RepairRequest;
use sluice_source::rows::{RowEvent, TableReader};
use sluice_source::{SourceConfig, SourceError, load_registry};
use tokio_postgres::Client;

use crate::config::{ConfigError, Secret};
use crate::offsets;
use crate::sink_config::{STORE_KINDS, SinkConfig};

/// The exit code when drift was found.
pub(crate) const DRIFT_EXIT_CODE: u8 = 1;
/// The exit code when verify could not finish: no verdict either way.
pub(crate) const FAILED_EXIT_CODE: u8 = 3;

/// How many times differing keys are read again, each after the pipeline caught up.
const RECHECK_ROUNDS: usize = 3;

/// `sluice verify`'s command line.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The sink config file plus `[postgres]` and `[verify]`.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) config: PathBuf,
    /// Only this table (`schema.table`); repeat for several. The publication's tables
    /// when absent.
    #[arg(long = "table", value_name = "SCHEMA.TABLE")]
    pub(crate) tables: Vec<String>,
    /// Only this store (elasticsearch, redis, neo4j); repeat for several. Every
    /// configured store when absent.
    #[arg(long = "store", value_name = "KIND")]
    pub(crate) stores: Vec<String>,
    /// `text` (default) or `json`, on stdout.
    #[arg(long, default_value = "text")]
    pub(crate) format: String,
    /// Write the result in Prometheus text format here (node-exporter textfile style).
    #[arg(long, value_name = "PATH")]
    pub(crate) metrics_file: Option<PathBuf>,
    /// Overrides `[verify] settle_seconds`.
    #[arg(long)]
    pub(crate) settle_seconds: Option<u64>,
    /// Emit the drifted keys again through the pipeline (the source's own event building,
    /// at one exact version, onto the tables' topics), wait for the sinks, and check them
    /// again. Needs `--source-config`.
    #[arg(long, requires = "source_config")]
    pub(crate) repair: bool,
    /// The source's config file: its publication, capture filter, masks, topic prefix and
    /// Kafka. Tables the source does not capture are then not verified.
    #[arg(long, value_name = "FILE")]
    pub(crate) source_config: Option<PathBuf>,
}

/// `[postgres]` of a verify config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyPostgres {
    /// The connection URL of the source database.
    pub(crate) url: Secret,
}

/// `[verify]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifySection {
    /// The source's publication: its tables are verified. Required.
    pub(crate) publication: String,
    /// The source's slot: the recheck also waits until it is past the start LSN.
    pub(crate) slot: Option<String>,
    /// Rows per PostgreSQL query and store read.
    #[serde(default = "default_chunk_rows")]
    chunk_rows: usize,
    /// The longest wait for the pipeline to catch up before the recheck, in seconds.
    #[serde(default = "default_settle_seconds")]
    settle_seconds: u64,
    /// Sample keys reported per table, store and kind.
    #[serde(default = "default_sample_keys")]
    sample_keys: usize,
    /// Consumer group per store kind, when not the sink's default.
    #[serde(default)]
    pub(crate) groups: BTreeMap<String, String>,
}

fn default_chunk_rows() -> usize {
    2000
}
fn default_settle_seconds() -> u64 {
    60
}
fn default_sample_keys() -> usize {
    10
}

/// Why verify could not finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    /// The config or command line is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// PostgreSQL failed, or a row could not be read.
    #[error("reading PostgreSQL: {0}")]
    Postgres(#[from] SourceError),
    /// A store could not be read back.
    #[error("{store}: {source}")]
    Store {
        /// The store kind.
        store: &'static str,
        /// What failed.
        #[source]
        source: InspectError,
    },
    /// A store could not be reached at all.
    #[error("connecting to {store}: {reason}")]
    Connect {
        /// The store kind.
        store: &'static str,
        /// Why.
        reason: String,
    },
    /// Kafka could not be asked about the sinks' progress.
    #[error("asking Kafka about the sinks' progress: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// `--repair` could not emit the drifted keys.
    #[error("repairing: {0}")]
    Repair(#[source] SourceError),
    /// The metrics file could not be written.
    #[error("writing the metrics file: {0}")]
    MetricsFile(#[source] std::io::Error),
}

impl From<tokio_postgres::Error> for VerifyError {
    fn from(error: tokio_postgres::Error) -> Self {
        VerifyError::Postgres(SourceError::from(error))
    }
}

/// The result for one table in one store.
#[derive(Debug, Default, Clone, serde::Serialize)]
struct Outcome {
    table: String,
    store: &'static str,
    rows_checked: u64,
    /// Why the table was not checked in this store.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
    missing: BTreeSet<String>,
    extra: BTreeSet<String>,
    stale: BTreeSet<String>,
    /// Keys that differed in the first pass and were read again.
    rechecked: usize,
    /// Drifted keys that `--repair` emitted again and that then matched, with the kind of
    /// drift each was.
    repaired: BTreeMap<String, &'static str>,
}

impl Outcome {
    fn drifted(&self) -> usize {
        self.missing.len() + self.extra.len() + self.stale.len()
    }

    /// Every drifted key, with its kind.
    fn drifted_keys(&self) -> impl Iterator<Item = (&String, &'static str)> {
        let kind = |kind: &'static str| move |key| (key, kind);
        (self.missing.iter().map(kind("missing")))
            .chain(self.extra.iter().map(kind("extra")))
            .chain(self.stale.iter().map(kind("stale")))
    }
}

/// Runs verify; `Ok(true)` when drift was found (and, with `--repair`, remains).
/// `source` is the source's config, when given.
pub(crate) async fn run(
    config: &SinkConfig,
    source: Option<&SourceConfig>,
    args: &VerifyArgs,
) -> Result<bool, VerifyError> {
    let (postgres, section) = match (&config.postgres, &config.verify) {
        (Some(p), Some(v)) => (p, v),
        (None, _) => {
            return Err(ConfigError::invalid_key(
                "postgres.url",
                "verify needs a [postgres] section with the source database's url",
            )
            .into());
        }
        (_, None) => {
            return Err(ConfigError::invalid_key(
                "verify.publication",
                "verify needs a [verify] section naming the source's publication",
            )
            .into());
        }
    };
    if section.chunk_rows == 0 {
        return Err(ConfigError::invalid_key("verify.chunk_rows", "must be at least 1").into());
    }
    if let Some(kind) = args
        .stores
        .iter()
        .find(|k| !STORE_KINDS.contains(&k.as_str()))
    {
        return Err(ConfigError::invalid_key(
            "--store",
            &format!("{kind:?} is not a store kind: use elasticsearch, redis or neo4j"),
        )
        .into());
    }
    if args.format != "text" && args.format != "json" {
        return Err(ConfigError::invalid_key("--format", "use text or json").into());
    }
    if let Some(source) = source {
        check_source(config, section, source)?;
    }
    let wanted = |kind: &str| args.stores.is_empty() || args.stores.iter().any(|s| s == kind);
    let settle = Duration::from_secs(args.settle_seconds.unwrap_or(section.settle_seconds));

    let replication_config = sluice_replication::ReplicationConfig::from_url(postgres.url.expose())
        .map_err(SourceError::from)?;
    let (pg, connection) = sluice_replication::connect_sql_client(&replication_config)
        .await
        .map_err(SourceError::from)?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "the PostgreSQL connection ended");
        }
    });
    let start = pg
        .query_one(
            "SELECT pg_current_wal_lsn()::text, (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8",
            &[],
        )
        .await?;
    let start_lsn: String = start.get(0);
    let version = u64::try_from(start.get::<_, i64>(1)).unwrap_or(1).max(1);
    let registry = load_registry(&pg).await?;
    let mut tables = tables(&pg, &section.publication, &args.tables).await?;
    if let Some(source) = source {
        tables.retain(|t| source.filter.captures(&t.schema, &t.table));
    }
    let mut readers = Vec::new();
    for table in &tables {
        let mut reader = TableReader::describe(
            &pg,
            &registry,
            &section.publication,
            &table.schema,
            &table.table,
        )
        .await?;
        if let Some(source) = source {
            reader = reader.with_filter(&source.filter, &registry)?;
        }
        readers.push((table.clone(), reader));
    }
    let ctx = Context {
        pg: &pg,
        registry: &registry,
        chunk_rows: section.chunk_rows,
        version,
    };

    let mut runs: Vec<StoreRun> = Vec::new();
    let mut outcomes = Vec::new();
    if let Some(search) = config
        .elasticsearch
        .as_ref()
        .filter(|_| wanted("elasticsearch"))
    {
        let mut store =
            ElasticsearchSink::new(search.store_config()).map_err(|e| VerifyError::Connect {
                store: "elasticsearch",
                reason: e.to_string(),
            })?;
        outcomes.extend(first_pass(&ctx, &mut store, &readers).await?);
        runs.push(StoreRun::Elasticsearch(store));
    }
    if let Some(redis) = config.redis.as_ref().filter(|_| wanted("redis")) {
        let mut store = RedisSink::new(redis.clone()).map_err(|e| VerifyError::Connect {
            store: "redis",
            reason: e.to_string(),
        })?;
        outcomes.extend(first_pass(&ctx, &mut store, &readers).await?);
        runs.push(StoreRun::Redis(store));
    }
    if let Some(neo4j) = config.neo4j.as_ref().filter(|_| wanted("neo4j")) {
        let mut store =
            Neo4jSink::connect(neo4j.clone())
                .await
                .map_err(|e| VerifyError::Connect {
                    store: "neo4j",
                    reason: e.to_string(),
                })?;
        outcomes.extend(first_pass(&ctx, &mut store, &readers).await?);
        runs.push(StoreRun::Neo4j(store));
    }

    // Each round waits for the pipeline to pass the LSN the previous read started at,
    // then reads the still-differing keys again: a hot row changed during one recheck
    // is settled by the next, while real drift stays through every round.
    let kinds: Vec<&'static str> = runs.iter().map(StoreRun::kind).collect();
    let mut lsn = start_lsn;
    for _ in 0..RECHECK_ROUNDS {
        if !outcomes.iter().any(|o| o.drifted() > 0) {
            break;
        }
        let slot = section.slot.as_deref();
        let caught_up = wait_for_pipeline(config, &pg, slot, &lsn, &tables, &kinds, settle).await?;
        if !caught_up {
            tracing::warn!(
                settle_seconds = settle.as_secs(),
                "the pipeline did not catch up in time; rechecking anyway"
            );
        }
        lsn = pg
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await?
            .get(0);
        for outcome in outcomes.iter_mut().filter(|o| o.drifted() > 0) {
            let Some((_, reader)) = readers.iter().find(|(t, _)| t.to_string() == outcome.table)
            else {
                continue;
            };
            for run in &mut runs {
                if run.kind() == outcome.store {
                    run.recheck(&ctx, reader, outcome).await?;
                }
            }
        }
    }

    if args.repair
        && let Some(source) = source
        && outcomes.iter().any(|o| o.drifted() > 0)
    {
        repair(
            config,
            source,
            &ctx,
            &mut runs,
            &readers,
            &mut outcomes,
            settle,
        )
        .await?;
    }

    let drift = outcomes.iter().any(|o| o.drifted() > 0);
    print_report(&outcomes, &args.format, section.sample_keys);
    if let Some(path) = &args.metrics_file {
        write_metrics(path, &outcomes).map_err(VerifyError::MetricsFile)?;
    }
    Ok(drift)
}

/// The source config must describe the pipeline the sinks read: the same tables, onto
/// the same topics.
fn check_source(
    config: &SinkConfig,
    section: &VerifySection,
    source: &SourceConfig,
) -> Result<(), ConfigError> {
    if source.topic_prefix != config.sink.topic_prefix {
        return Err(ConfigError::invalid_key(
            "source.topic_prefix",
            &format!(
                "the source config's prefix {:?} is not the sinks' sink.topic_prefix {:?}: \
                 repaired rows would go to topics no sink reads",
                source.topic_prefix, config.sink.topic_prefix
            ),
        ));
    }
    if source.publication != section.publication {
        return Err(ConfigError::invalid_key(
            "source.publication",
            &format!(
                "the source config's publication {:?} is not verify.publication {:?}",
                source.publication, section.publication
            ),
        ));
    }
    Ok(())
}

/// `--repair`: every drifted key of every table is emitted again through the pipeline, by
/// the source's own code at one exact version ([`sluice_source::repair`]), once for all
/// stores; then, after the sinks consumed it, checked again like any recheck. A key that
/// matches then is repaired; one that does not stays in the report as drift.
async fn repair(
    config: &SinkConfig,
    source: &SourceConfig,
    ctx: &Context<'_>,
    runs: &mut [StoreRun],
    readers: &[(TableName, TableReader)],
    outcomes: &mut [Outcome],
    settle: Duration,
) -> Result<(), VerifyError> {
    let mut keys: BTreeMap<&str, BTreeSet<&String>> = BTreeMap::new();
    for outcome in outcomes.iter() {
        keys.entry(outcome.table.as_str())
            .or_default()
            .extend(outcome.drifted_keys().map(|(key, _)| key));
    }
    let requests: Vec<RepairRequest> = readers
        .iter()
        .filter_map(|(table, _)| {
            let keys = keys.get(table.to_string().as_str())?;
            (!keys.is_empty()).then(|| RepairRequest {
                schema: table.schema.clone(),
                table: table.table.clone(),
                keys: keys.iter().map(|key| key.as_bytes().to_vec()).collect(),
            })
        })
        .collect();
    let found: Vec<BTreeMap<String, &'static str>> = outcomes
        .iter()
        .map(|o| {
            o.drifted_keys()
                .map(|(k, kind)| (k.clone(), kind))
                .collect()
        })
        .collect();
    let reemitted = sluice_source::repair::reemit(source, &requests)
        .await
        .map_err(VerifyError::Repair)?;
    for (table, key, reason) in &reemitted.skipped {
        tracing::warn!(%table, %key, %reason, "repair: a key could not be emitted");
    }
    tracing::info!(
        version = %reemitted.version,
        reads = reemitted.reads,
        deletes = reemitted.deletes,
        "repair: emitted; waiting for the sinks"
    );
    let tables: Vec<TableName> = requests
        .iter()
        .map(|r| TableName {
            schema: r.schema.clone(),
            table: r.table.clone(),
        })
        .collect();
    let kinds: Vec<&'static str> = runs.iter().map(StoreRun::kind).collect();
    for _ in 0..RECHECK_ROUNDS {
        if !outcomes.iter().any(|o| o.drifted() > 0) {
            break;
        }
        let caught_up =
            wait_for_pipeline(config, ctx.pg, None, "", &tables, &kinds, settle).await?;
        if !caught_up {
            tracing::warn!(
                settle_seconds = settle.as_secs(),
                "the sinks did not consume the repair in time; rechecking anyway"
            );
        }
        for outcome in outcomes.iter_mut().filter(|o| o.drifted() > 0) {
            let Some((_, reader)) = readers.iter().find(|(t, _)| t.to_string() == outcome.table)
            else {
                continue;
            };
            for run in runs.iter_mut() {
                if run.kind() == outcome.store {
                    run.recheck(ctx, reader, outcome).await?;
                }
            }
        }
    }
    for (outcome, found) in outcomes.iter_mut().zip(found) {
        let repaired = {
            let remaining: HashSet<&String> = outcome.drifted_keys().map(|(k, _)| k).collect();
            found
                .into_iter()
                .filter(|(key, _)| !remaining.contains(key))
                .collect()
        };
        outcome.repaired = repaired;
    }
    Ok(())
}

/// The stores of one run, each with its own `Stored` type.
enum StoreRun {
    Elasticsearch(ElasticsearchSink),
    Redis(RedisSink),
    Neo4j(Neo4jSink),
}

impl StoreRun {
    fn kind(&self) -> &'static str {
        match self {
            StoreRun::Elasticsearch(s) => s.kind(),
            StoreRun::Redis(s) => s.kind(),
            StoreRun::Neo4j(s) => s.kind(),
        }
    }

    async fn recheck(
        &mut self,
        ctx: &Context<'_>,
        reader: &TableReader,
        outcome: &mut Outcome,
    ) -> Result<(), VerifyError> {
        match self {
            StoreRun::Elasticsearch(s) => recheck(ctx, s, reader, outcome).await,
            StoreRun::Redis(s) => recheck(ctx, s, reader, outcome).await,
            StoreRun::Neo4j(s) => recheck(ctx, s, reader, outcome).await,
        }
    }
}

struct Context<'a> {
    pg: &'a Client,
    registry: &'a sluice_pgvalue::TypeRegistry,
    chunk_rows: usize,
    /// The LSN verify started at, as a number.
    version: u64,
}

/// The publication's tables, or `wanted` (checked against it).
async fn tables(
    pg: &Client,
    publication: &str,
    wanted: &[String],
) -> Result<Vec<TableName>, VerifyError> {
    let published = published_tables(pg, publication).await?;
    if published.is_empty() {
        return Err(ConfigError::invalid_key(
            "verify.publication",
            &format!("publication {publication:?} does not exist or publishes no table"),
        )
        .into());
    }
    if wanted.is_empty() {
        return Ok(published);
    }
    wanted
        .iter()
        .map(|name| {
            published
                .iter()
                .find(|t| &t.to_string() == name)
                .cloned()
                .ok_or_else(|| {
                    ConfigError::invalid_key(
                        "--table",
                        &format!("{name} is not in publication {publication:?}"),
                    )
                    .into()
                })
        })
        .collect()
}

/// The tables `publication` publishes, by name; none when it does not exist.
pub(crate) async fn published_tables(
    pg: &Client,
    publication: &str,
) -> Result<Vec<TableName>, tokio_postgres::Error> {
    Ok(pg
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables \
             WHERE pubname = $1 ORDER BY 1, 2",
            &[&publication],
        )
        .await?
        .iter()
        .map(|row| TableName {
            schema: row.get(0),
            table: row.get(1),
        })
        .collect())
}

/// A row as the sinks receive it, versioned `version` (the LSN verify started at: the
/// sinks refuse unversioned events, and no comparison looks at versions).
fn record(row: RowEvent, version: u64) -> Record {
    let mut event = row.event;
    if let Some(source) = event.source.as_mut() {
        source.version = version;
        source.commit_lsn = version;
    }
    Record {
        origin: Origin {
            topic: String::new(),
            partition: 0,
            offset: 0,
        },
        key: row.key,
        event,
    }
}

/// Compares the rows of `records` with what `store` holds for them.
async fn compare<I: Inspect>(
    store: &mut I,
    table: &TableName,
    records: &[Record],
    outcome: &mut Outcome,
) -> Result<(), VerifyError> {
    let kind = store.kind();
    let store_error = |source| VerifyError::Store {
        store: kind,
        source,
    };
    let keys: Vec<String> = records.iter().map(|r| r.key_text().to_owned()).collect();
    let stored = store.fetch(table, &keys).await.map_err(store_error)?;
    for ((record, key), stored) in records.iter().zip(keys).zip(stored) {
        outcome.rows_checked += 1;
        match stored {
            None => match store.expected(record) {
                // Nothing stored, as the sink intends for this row.
                Err(InspectError::NotStored(_)) => {}
                _ => {
                    outcome.missing.insert(key);
                }
            },
            Some(stored) => match store.expected(record) {
                Ok(expected) if expected == stored => {}
                // Something stored where the sink stores nothing.
                Ok(_) | Err(InspectError::NotStored(_)) => {
                    outcome.stale.insert(key);
                }
                // The sink could not write this row either (it dead-letters it): the
                // stored row, whatever it is, is not PostgreSQL's.
                Err(InspectError::Row(reason)) => {
                    tracing::warn!(table = %table, store = kind, %reason, "a row has no stored form");
                    outcome.stale.insert(key);
                }
                Err(other) => return Err(store_error(other)),
            },
        }
    }
    Ok(())
}

async fn first_pass<I: Inspect>(
    ctx: &Context<'_>,
    store: &mut I,
    readers: &[(TableName, TableReader)],
) -> Result<Vec<Outcome>, VerifyError> {
    let mut outcomes = Vec::new();
    for (table, reader) in readers {
        let started = Instant::now();
        let mut outcome = Outcome {
            table: table.to_string(),
            store: store.kind(),
            ..Outcome::default()
        };
        if let Err(reason) = store.checkable(table) {
            outcome.skipped = Some(reason);
            outcomes.push(outcome);
            continue;
        }
        let mut after: Option<Vec<String>> = None;
        loop {
            let (rows, last) = reader
                .chunk(ctx.pg, ctx.registry, after.as_deref(), ctx.chunk_rows)
                .await?;
            let count = rows.len();
            let records: Vec<Record> = rows
                .into_iter()
                .map(|row| record(row, ctx.version))
                .collect();
            compare(store, table, &records, &mut outcome).await?;
            if count < ctx.chunk_rows {
                break;
            }
            after = last;
        }
        // Extra: keys the store holds that PostgreSQL lacks, a page at a time.
        let mut cursor = None;
        loop {
            let page = store
                .scan(table, cursor)
                .await
                .map_err(|source| VerifyError::Store {
                    store: store.kind(),
                    source,
                })?;
            outcome
                .extra
                .extend(absent_from_postgres(ctx, reader, &page.keys).await?);
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        tracing::info!(
            table = %table,
            store = store.kind(),
            rows = outcome.rows_checked,
            seconds = started.elapsed().as_secs_f64(),
            "verify: first pass"
        );
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The keys of `keys` with no row in PostgreSQL.
async fn absent_from_postgres(
    ctx: &Context<'_>,
    reader: &TableReader,
    keys: &[String],
) -> Result<Vec<String>, VerifyError> {
    let mut absent = Vec::new();
    for chunk in keys.chunks(ctx.chunk_rows) {
        let texts: Vec<Vec<Option<String>>> = chunk
            .iter()
            .map(|k| decode_key(k.as_bytes()).unwrap_or_default())
            .collect();
        let present: HashSet<Vec<u8>> = reader
            .by_keys(ctx.pg, ctx.registry, &texts)
            .await?
            .into_iter()
            .map(|row| row.key)
            .collect();
        absent.extend(
            chunk
                .iter()
                .filter(|k| !present.contains(k.as_bytes()))
                .cloned(),
        );
    }
    Ok(absent)
}

/// Reads the differing keys again on both sides and keeps only what still differs.
async fn recheck<I: Inspect>(
    ctx: &Context<'_>,
    store: &mut I,
    reader: &TableReader,
    outcome: &mut Outcome,
) -> Result<(), VerifyError> {
    let table = {
        let (schema, name) = outcome.table.split_once('.').unwrap_or_default();
        TableName {
            schema: schema.to_owned(),
            table: name.to_owned(),
        }
    };
    let keys: Vec<String> = outcome
        .missing
        .iter()
        .chain(&outcome.stale)
        .chain(&outcome.extra)
        .cloned()
        .collect();
    outcome.rechecked += keys.len();
    let mut again = Outcome::default();
    for chunk in keys.chunks(ctx.chunk_rows) {
        let texts: Vec<Vec<Option<String>>> = chunk
            .iter()
            .map(|k| decode_key(k.as_bytes()).unwrap_or_default())
            .collect();
        let rows = reader.by_keys(ctx.pg, ctx.registry, &texts).await?;
        let in_postgres: HashSet<String> = rows
            .iter()
            .map(|r| String::from_utf8_lossy(&r.key).into_owned())
            .collect();
        let records: Vec<Record> = rows
            .into_iter()
            .map(|row| record(row, ctx.version))
            .collect();
        compare(store, &table, &records, &mut again).await?;
        let gone: Vec<String> = chunk
            .iter()
            .filter(|k| !in_postgres.contains(*k))
            .cloned()
            .collect();
        let stored = store
            .fetch(&table, &gone)
            .await
            .map_err(|source| VerifyError::Store {
                store: store.kind(),
                source,
            })?;
        for (key, stored) in gone.into_iter().zip(stored) {
            if stored.is_some() {
                again.extra.insert(key);
            }
        }
    }
    outcome.missing = again.missing;
    outcome.stale = again.stale;
    outcome.extra = again.extra;
    Ok(())
}

/// Waits until `slot` (if any) is past `start_lsn` and every sink's group committed up
/// to its topics' ends; `false` if `settle` passed first.
async fn wait_for_pipeline(
    config: &SinkConfig,
    pg: &Client,
    slot: Option<&str>,
    start_lsn: &str,
    tables: &[TableName],
    kinds: &[&'static str],
    settle: Duration,
) -> Result<bool, VerifyError> {
    let deadline = Instant::now() + settle;
    if let Some(slot) = slot {
        loop {
            let past: Option<bool> = pg
                .query_opt(
                    "SELECT confirmed_flush_lsn >= $2::text::pg_lsn FROM pg_replication_slots \
                     WHERE slot_name = $1",
                    &[&slot, &start_lsn],
                )
                .await?
                .and_then(|row| row.get(0));
            if past == Some(true) {
                break;
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let prefix = &config.sink.topic_prefix;
    let topics: Vec<String> = tables
        .iter()
        .filter_map(|t| topic_for(prefix, &t.schema, &t.table).ok())
        .collect();
    let watcher = offsets::watcher(&config.kafka)?;
    let ends = offsets::partition_ends(&watcher, &topics)?;
    for kind in kinds {
        let group = config.group_of(kind)?;
        let reader = offsets::group_reader(&config.kafka, &group)?;
        loop {
            // Just after a broker restart the group coordinator may still be loading its
            // offsets: that answer means "not yet", like offsets that are behind.
            let committed = match offsets::committed(&reader, &ends) {
                Ok(committed) => committed,
                Err(error) if Instant::now() < deadline => {
                    tracing::debug!(%error, %group, "committed offsets not readable yet");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let behind = ends
                .iter()
                .zip(&committed)
                .any(|(end, at)| end.high > 0 && !at.is_some_and(|at| at >= end.high));
            if !behind {
                break;
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(true)
}

fn print_report(outcomes: &[Outcome], format: &str, samples: usize) {
    if format == "json" {
        let sampled: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|o| {
                let sample = |keys: &BTreeSet<String>| -> Vec<String> {
                    keys.iter().take(samples).cloned().collect()
                };
                serde_json::json!({
                    "table": o.table,
                    "store": o.store,
                    "rows_checked": o.rows_checked,
                    "rechecked": o.rechecked,
                    "skipped": o.skipped,
                    "missing": o.missing.len(),
                    "extra": o.extra.len(),
                    "stale": o.stale.len(),
                    "missing_keys": sample(&o.missing),
                    "extra_keys": sample(&o.extra),
                    "stale_keys": sample(&o.stale),
                    "repaired": o.repaired.len(),
                    "repaired_keys": o.repaired.iter().take(samples)
                        .map(|(key, kind)| serde_json::json!({ "key": key, "kind": kind }))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        let drift = outcomes.iter().any(|o| o.drifted() > 0);
        println!(
            "{}",
            serde_json::json!({ "drift": drift, "results": sampled })
        );
        return;
    }
    for o in outcomes {
        if let Some(reason) = &o.skipped {
            println!("{} in {}: skipped ({reason})", o.table, o.store);
            continue;
        }
        let repaired = if o.repaired.is_empty() {
            String::new()
        } else {
            format!(", {} repaired", o.repaired.len())
        };
        println!(
            "{} in {}: {} rows checked, {} missing, {} extra, {} stale ({} rechecked{repaired})",
            o.table,
            o.store,
            o.rows_checked,
            o.missing.len(),
            o.extra.len(),
            o.stale.len(),
            o.rechecked
        );
        for (kind, keys) in [
            ("missing", &o.missing),
            ("extra", &o.extra),
            ("stale", &o.stale),
        ] {
            for key in keys.iter().take(samples) {
                println!("  {kind} {key}");
            }
        }
        for (key, kind) in o.repaired.iter().take(samples) {
            println!("  repaired ({kind}) {key}");
        }
    }
}

/// Metric names.
const ROWS_CHECKED: &str = "sluice_verify_rows_checked";
const DRIFT_ROWS: &str = "sluice_verify_drift_rows";
const REPAIRED_ROWS: &str = "sluice_verify_repaired_rows";
const LAST_RUN: &str = "sluice_verify_last_run_timestamp_seconds";

fn write_metrics(path: &std::path::Path, outcomes: &[Outcome]) -> std::io::Result<()> {
    let mut text = String::new();
    let label = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let _ = writeln!(
        text,
        "# HELP {ROWS_CHECKED} PostgreSQL rows compared with the store."
    );
    let _ = writeln!(text, "# TYPE {ROWS_CHECKED} gauge");
    for o in outcomes {
        let _ = writeln!(
            text,
            "{ROWS_CHECKED}{{table=\"{}\",store=\"{}\"}} {}",
            label(&o.table),
            o.store,
            o.rows_checked
        );
    }
    let _ = writeln!(
        text,
        "# HELP {DRIFT_ROWS} Rows that differ after the recheck, by kind."
    );
    let _ = writeln!(text, "# TYPE {DRIFT_ROWS} gauge");
    for o in outcomes {
        for (kind, n) in [
            ("missing", o.missing.len()),
            ("extra", o.extra.len()),
            ("stale", o.stale.len()),
        ] {
            let _ = writeln!(
                text,
                "{DRIFT_ROWS}{{table=\"{}\",store=\"{}\",kind=\"{kind}\"}} {n}",
                label(&o.table),
                o.store
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP {REPAIRED_ROWS} Drifted rows that --repair emitted again and that then matched, by the kind of drift."
    );
    let _ = writeln!(text, "# TYPE {REPAIRED_ROWS} gauge");
    for o in outcomes {
        for kind in ["missing", "extra", "stale"] {
            let n = o.repaired.values().filter(|k| **k == kind).count();
            let _ = writeln!(
                text,
                "{REPAIRED_ROWS}{{table=\"{}\",store=\"{}\",kind=\"{kind}\"}} {n}",
                label(&o.table),
                o.store
            );
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _ = writeln!(text, "# HELP {LAST_RUN} When verify last finished.");
    let _ = writeln!(text, "# TYPE {LAST_RUN} gauge");
    let _ = writeln!(text, "{LAST_RUN} {now}");
    // Written beside and renamed: the collector never reads half a file.
    let partial = path.with_extension("prom.tmp");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)
}
