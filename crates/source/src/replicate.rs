//! The replication loop: WAL from the slot, decoded, turned into change events, published,
//! and confirmed back to PostgreSQL once Kafka holds them.
//!
//! ```text
//!  walsender ─CopyData─▶ ReplicationMessage::parse ─▶ Decoder ─▶ LogicalMessage
//!      ▲                                                            │ Begin: transaction context
//!      │                                                            │ Relation: schema cache, topic
//!      │                                                            │ Insert/Update/Delete/Truncate/Message
//!      │                                                            ▼
//!      │                                               ChangeEvent ─▶ Publisher ─▶ Kafka
//!      │                                                            │ Commit: marker
//!      └──── standby status (flushed = acknowledged) ◀── AckTracker ◀┘
//! ```
//!
//! # Progress tracking
//!
//! The flushed LSN sent to PostgreSQL is the end LSN of the last transaction whose events,
//! and all earlier ones, Kafka acknowledged ([`AckTracker`]). When nothing is in flight and
//! no transaction is open, a keepalive's `wal_end` may be confirmed as well: the server has
//! sent everything before it, so an idle slot does not hold WAL that busy unrelated tables
//! produce.
//!
//! # Backpressure
//!
//! WAL is read only while fewer than `max_in_flight` events await Kafka's
//! acknowledgement. Status updates keep flowing on a timer meanwhile, so the walsender does
//! not time out while Kafka is slow.
//!
//! # Error handling
//!
//! Every error ends the run without confirming anything unacknowledged; the caller retries
//! retryable errors with backoff ([`SourceError::is_retryable`]), and PostgreSQL resends
//! from the slot's confirmed position.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sluice_event::headers;
use sluice_event::key::encode_texts;
use sluice_event::topic::{heartbeat_topic, messages_topic, snapshots_topic, topic_for};
use sluice_event::v1;
use sluice_pgoutput::{
    Cell, Decoder, LogicalMessage, Lsn, OldTuple, Relation, RelationCache, ReplicaIdentity,
    ReplicationMessage, TupleData, register_type_name, typed_row,
};
use sluice_pgvalue::{CATALOG_QUERY, PgTypeRow, TypeRegistry};
use sluice_replication::{
    ReplicationClient, ReplicationConfig, ReplicationError, connect_sql_client,
    quote_publication_names,
};

use crate::filter::TablePlan;
use crate::observe;
use crate::progress::{ProgressError, ProgressStore};
use crate::publish::{AckTracker, Delivery, KafkaSettings, PublishError, Publisher, Record};
use crate::snapshot::{self, Plan, SnapshotMode, SnapshotSettings};
use crate::value::cell_to_event;

/// What the source reads and where it writes. Its `Debug` hides the URL's password.
#[derive(Clone)]
pub struct SourceConfig {
    /// The database, as a `postgres://` URL of a role with REPLICATION.
    pub postgres_url: String,
    /// The logical replication slot (pgoutput).
    pub slot: String,
    /// The publication naming the captured tables.
    pub publication: String,
    /// Create the slot when it does not exist (otherwise its absence is an error).
    pub create_slot: bool,
    /// Topic prefix: events of `schema.table` go to `<prefix>.<schema>.<table>`.
    pub topic_prefix: String,
    /// Kafka settings.
    pub kafka: KafkaSettings,
    /// Events awaiting Kafka's acknowledgement before WAL reading pauses.
    pub max_in_flight: usize,
    /// How often a status update is sent even when nothing was confirmed.
    pub status_interval: Duration,
    /// Follow each delete with a tombstone (null value) for compacted topics.
    pub tombstones: bool,
    /// Which tables and columns are captured, and which column values are masked.
    pub filter: crate::filter::CaptureFilter,
    /// When and how to take the initial snapshot.
    pub snapshot: SnapshotSettings,
    /// How often to publish a heartbeat (and emit one into the WAL); `None` disables it.
    pub heartbeat_interval: Option<Duration>,
    /// With each heartbeat, write a non-transactional logical message
    /// (`pg_logical_emit_message`) into this database's WAL, so that the slot's confirmed
    /// position moves even when no captured table changes while the server is busy.
    pub heartbeat_emit_message: bool,
}

impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("postgres_url", &redact_password(&self.postgres_url))
            .field("slot", &self.slot)
            .field("publication", &self.publication)
            .field("create_slot", &self.create_slot)
            .field("topic_prefix", &self.topic_prefix)
            .field("kafka", &self.kafka)
            .field("max_in_flight", &self.max_in_flight)
            .field("status_interval", &self.status_interval)
            .field("tombstones", &self.tombstones)
            .field("filter", &self.filter)
            .field("snapshot", &self.snapshot)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("heartbeat_emit_message", &self.heartbeat_emit_message)
            .finish()
    }
}

/// `scheme://user:secret@host/...` as `scheme://user:***@host/...`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Why the source stopped.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The replication connection failed.
    #[error("replication connection: {0}")]
    Replication(#[from] ReplicationError),
    /// An ordinary connection (catalog, slot lookup) failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Kafka failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The stream held something the decoder rejects.
    #[error("undecodable replication message: {0}")]
    Decode(#[from] sluice_pgoutput::DecodeError),
    /// A row value could not be typed.
    #[error("{0}")]
    Row(#[from] sluice_pgoutput::RowError),
    /// The slot does not exist and the source may not create it.
    #[error(
        "replication slot {0:?} does not exist; create it (SELECT pg_create_logical_replication_slot('{0}', 'pgoutput')) or set create_slot"
    )]
    MissingSlot(String),
    /// A name cannot become a Kafka topic, or an event cannot be keyed.
    #[error("{0}")]
    Contract(String),
    /// The snapshot's progress record cannot be read or written.
    #[error("snapshot progress: {0}")]
    Progress(#[source] ProgressError),
    /// The filter cannot apply to a table (it would drop or mask a key column).
    #[error(transparent)]
    Filter(#[from] crate::filter::FilterError),
    /// The server ended the stream.
    #[error("the server ended the replication stream")]
    StreamEnded,
}

impl SourceError {
    /// Whether a restart with backoff may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Replication(e) => e.is_retryable(),
            SourceError::Postgres(e) => e.as_db_error().is_none(),
            SourceError::Publish(_) | SourceError::StreamEnded => true,
            SourceError::Progress(e) => !matches!(e, ProgressError::Corrupt { .. }),
            _ => false,
        }
    }
}

/// Session settings under which PostgreSQL's text output is what `sluice-pgvalue` parses.
pub(crate) const OUTPUT_SETTINGS: &str = "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; \
    SET extra_float_digits = 3; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'";

/// Streams changes from the slot to Kafka until `shutdown` resolves or an error occurs.
/// Returns the last LSN confirmed to PostgreSQL.
pub async fn run(
    config: &SourceConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<Lsn, SourceError> {
    observe::describe();
    let (catalog, connection) =
        connect_sql_client(&ReplicationConfig::from_url(&config.postgres_url)?).await?;
    // Kept for the whole run: primary keys of REPLICA IDENTITY FULL tables, heartbeats.
    let _connection = AbortOnDrop(tokio::spawn(connection));
    let registry = load_registry(&catalog).await?;
    let database: String = catalog
        .query_one("SELECT current_database()", &[])
        .await?
        .get(0);

    let replication_config = ReplicationConfig::from_url(&config.postgres_url)?;
    let mut client = ReplicationClient::connect(&replication_config).await?;
    let mut publisher = Publisher::new(config.kafka.clone())?;
    let mode = config.snapshot.mode;
    let (store, recorded) = if mode == SnapshotMode::Never {
        (None, None)
    } else {
        let topic = snapshots_topic(&config.topic_prefix)
            .map_err(|e| SourceError::Contract(e.to_string()))?;
        let store = ProgressStore::open(&mut publisher, topic, &config.slot)
            .await
            .map_err(SourceError::Progress)?;
        let recorded = store
            .load(&publisher)
            .await
            .map_err(SourceError::Progress)?;
        (Some(store), recorded)
    };

    let confirmed_flush: Option<Option<String>> = catalog
        .query_opt(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&config.slot],
        )
        .await?
        .map(|row| row.get(0));
    // What to do about the snapshot, its version (the slot's position), and the name of
    // the snapshot the slot exported when it was just created.
    let (plan, version, exported) = match confirmed_flush {
        Some(confirmed) => {
            let version = confirmed
                .and_then(|text| text.parse::<Lsn>().ok())
                .unwrap_or(Lsn::INVALID);
            (
                snapshot::plan(mode, false, recorded.as_ref()),
                version,
                None,
            )
        }
        None => {
            if !config.create_slot {
                return Err(SourceError::MissingSlot(config.slot.clone()));
            }
            let plan = snapshot::plan(mode, true, recorded.as_ref());
            let action = if plan == Plan::Fresh {
                sluice_replication::SnapshotAction::Export
            } else {
                sluice_replication::SnapshotAction::NoExport
            };
            let created = client
                .create_replication_slot(&config.slot, false, action)
                .await?;
            tracing::info!(
                slot = %config.slot,
                consistent_point = %created.consistent_point,
                "created the replication slot"
            );
            (plan, created.consistent_point, created.snapshot_name)
        }
    };

    let mut state = State::new(config, catalog, registry, database, publisher)?;
    tokio::pin!(shutdown);
    if let Some(store) = &store {
        let progress = match (plan, recorded) {
            (Plan::Fresh, _) => {
                Some(snapshot::new_progress(&state.catalog, &state, version).await?)
            }
            (Plan::Resume, Some(recorded)) => Some(recorded),
            _ => None,
        };
        if let Some(mut progress) = progress {
            let reader = snapshot::connect(&config.postgres_url, exported.as_deref()).await?;
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(Lsn(progress.version)),
                result = state.snapshot(&reader, store, &mut progress) => result?,
            }
        }
        if mode == SnapshotMode::InitialOnly {
            tracing::info!("snapshot mode initial_only: the snapshot is complete, stopping");
            return Ok(version);
        }
    }
    // Heartbeat messages are written through the catalog connection.
    let mut emit_heartbeat_messages = config.heartbeat_emit_message;
    // Streaming describes every table again in its own Relation messages.
    state.relations.clear();
    state.tables.clear();

    client.simple_query(OUTPUT_SETTINGS).await?;
    let publications = quote_publication_names(&[config.publication.as_str()]);
    let mut stream = client
        .start_replication(
            &config.slot,
            Lsn::INVALID,
            &[
                ("proto_version", "1"),
                ("publication_names", publications.as_str()),
                ("messages", "true"),
            ],
        )
        .await?;

    let mut received = Lsn::INVALID;
    let mut confirmed = Lsn::INVALID;
    let mut reported = Lsn::INVALID;
    let mut status_timer = tokio::time::interval(config.status_interval);
    let mut heartbeat_timer = tokio::time::interval(
        config
            .heartbeat_interval
            .unwrap_or(Duration::from_secs(3600)),
    );
    let mut server_time_micros = 0;

    loop {
        let reading = state.tracker.events_in_flight() < config.max_in_flight;
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            progress = acknowledgements(&mut state.tracker, reading, config.max_in_flight),
                if !reading || !state.tracker.is_empty() =>
            {
                if let Some(acknowledged) = progress? {
                    confirmed = confirmed.max(acknowledged);
                    state.acknowledged(acknowledged);
                }
            }
            message = stream.next_message(), if reading => {
                let Some(payload) = message? else {
                    return Err(SourceError::StreamEnded);
                };
                match ReplicationMessage::parse(payload)? {
                    ReplicationMessage::XLogData(xlog) => {
                        received = received.max(xlog.wal_end);
                        server_time_micros = xlog.server_clock.to_unix_micros().unwrap_or_default();
                        let message = state.decoder.decode(&xlog.data)?;
                        state.handle(message, xlog.wal_start).await?;
                        if let Some(lsn) = state.heartbeat_seen.take()
                            && state.is_idle()
                        {
                            confirmed = confirmed.max(lsn);
                        }
                    }
                    ReplicationMessage::PrimaryKeepalive(keepalive) => {
                        received = received.max(keepalive.wal_end);
                        server_time_micros = keepalive.server_clock.to_unix_micros().unwrap_or_default();
                        if state.is_idle() {
                            // Everything the server sent is on Kafka: caught up.
                            confirmed = confirmed.max(keepalive.wal_end);
                            metrics::gauge!(observe::REPLICATION_LAG_SECONDS).set(0.0);
                        }
                        if keepalive.reply_requested {
                            stream.send_standby_status(received, confirmed, confirmed, false).await?;
                            reported = confirmed;
                        }
                    }
                }
            }
            _ = status_timer.tick() => {
                stream.send_standby_status(received, confirmed, confirmed, false).await?;
                reported = confirmed;
                state.observe_lag(received, confirmed);
            }
            _ = heartbeat_timer.tick(), if config.heartbeat_interval.is_some() => {
                if emit_heartbeat_messages
                    && let Err(error) = state
                        .catalog
                        .batch_execute(&format!(
                            "SELECT pg_logical_emit_message(false, '{HEARTBEAT_MESSAGE_PREFIX}', '')"
                        ))
                        .await
                {
                    tracing::warn!(
                        %error,
                        "cannot write heartbeat messages into the WAL (grant EXECUTE on \
                         pg_logical_emit_message to the source's role, or set \
                         source.heartbeat_emit_message = false); heartbeats go on without them"
                    );
                    emit_heartbeat_messages = false;
                }
                state.publish_heartbeat(received, confirmed, server_time_micros).await?;
            }
        }
        if confirmed != reported && state.tracker.is_empty() {
            stream
                .send_standby_status(received, confirmed, confirmed, false)
                .await?;
            reported = confirmed;
            observe::positions(received, confirmed);
        }
    }
    // Shutdown: wait (briefly) for what is in flight, then report the final position.
    let _ = state.publisher.flush(Duration::from_secs(10));
    while let Ok(Ok(Some(lsn))) =
        tokio::time::timeout(Duration::from_secs(10), state.tracker.next_room(1)).await
    {
        confirmed = confirmed.max(lsn);
    }
    stream
        .send_standby_status(received, confirmed, confirmed, false)
        .await?;
    observe::positions(received, confirmed);
    Ok(confirmed)
}

/// What the loop waits for from Kafka: the next acknowledged commit while it reads; while
/// the in-flight bound pauses it, also room to read again (`None`).
async fn acknowledgements(
    tracker: &mut AckTracker<Delivery>,
    reading: bool,
    max_in_flight: usize,
) -> Result<Option<Lsn>, PublishError> {
    if reading {
        tracker.next_confirmed().await.map(Some)
    } else {
        tracker.next_room(max_in_flight).await
    }
}

/// The open transaction: what every event of it carries.
struct Transaction {
    xid: u32,
    commit_lsn: Lsn,
    commit_time_micros: i64,
    position: u64,
    /// The snapshot's pseudo-transaction: its events are `read`s at the consistent point.
    snapshot: bool,
}

/// One row event to publish: its op, the row whose key it is published under, and the
/// rows and key change it carries.
struct RowChange<'r> {
    op: v1::Op,
    keyed_by: &'r [Cell],
    before: Option<&'r [Cell]>,
    after: Option<&'r [Cell]>,
    key_change: Option<v1::KeyChange>,
}

impl<'r> RowChange<'r> {
    fn new(op: v1::Op, keyed_by: &'r [Cell]) -> Self {
        Self {
            op,
            keyed_by,
            before: None,
            after: None,
            key_change: None,
        }
    }

    fn before(self, before: Option<&'r [Cell]>) -> Self {
        Self { before, ..self }
    }

    fn after(self, after: &'r [Cell]) -> Self {
        Self {
            after: Some(after),
            ..self
        }
    }

    fn key_change(self, key_change: v1::KeyChange) -> Self {
        Self {
            key_change: Some(key_change),
            ..self
        }
    }
}

/// Where a table's events go, and its column metadata, pre-encoded.
struct TableOutput {
    topic: String,
    columns: Vec<u8>,
    counters: observe::TableCounters,
    /// The relation as events describe it.
    published: Arc<Relation>,
    /// The filter's column plan, unless it leaves rows as they are.
    plan: Option<TablePlan>,
}

/// Everything the replication loop and the snapshot share.
pub(crate) struct State<'a> {
    /// An ordinary connection to the database: catalog lookups, heartbeat messages.
    pub(crate) catalog: tokio_postgres::Client,
    pub(crate) config: &'a SourceConfig,
    database: String,
    pub(crate) registry: TypeRegistry,
    decoder: Decoder,
    relations: RelationCache,
    tables: HashMap<u32, TableOutput>,
    /// Relations the filter does not capture: their changes are skipped.
    ignored: HashSet<u32>,
    pub(crate) publisher: Publisher,
    tracker: AckTracker<Delivery>,
    transaction: Option<Transaction>,
    /// Commits pushed to the tracker and not yet acknowledged, oldest first.
    unacknowledged: VecDeque<UnacknowledgedCommit>,
    /// A heartbeat message's LSN, seen since the loop last looked.
    heartbeat_seen: Option<Lsn>,
}

/// A commit whose events Kafka has not acknowledged yet: for the lag and latency metrics.
struct UnacknowledgedCommit {
    end_lsn: Lsn,
    commit_time_micros: i64,
    arrived: Instant,
}

/// Aborts a spawned task when dropped (the catalog connection's driver).
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>);

/// The primary key's columns of `relation_id`, empty when it has none.
pub(crate) const PRIMARY_KEY_QUERY: &str = "SELECT a.attname::text FROM pg_index i \
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[]) \
     WHERE i.indrelid = $1 AND i.indisprimary";

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The prefix of the logical messages the source writes as heartbeats.
pub const HEARTBEAT_MESSAGE_PREFIX: &str = "sluice-heartbeat";

impl<'a> State<'a> {
    /// Nothing described, published or open yet.
    pub(crate) fn new(
        config: &'a SourceConfig,
        catalog: tokio_postgres::Client,
        registry: TypeRegistry,
        database: String,
        publisher: Publisher,
    ) -> Result<Self, SourceError> {
        Ok(State {
            catalog,
            config,
            database,
            registry,
            decoder: Decoder::new(1)?,
            relations: RelationCache::new(),
            tables: HashMap::new(),
            ignored: HashSet::new(),
            publisher,
            tracker: AckTracker::default(),
            transaction: None,
            unacknowledged: VecDeque::new(),
            heartbeat_seen: None,
        })
    }
}

impl State<'_> {
    async fn handle(
        &mut self,
        message: LogicalMessage,
        change_lsn: Lsn,
    ) -> Result<(), SourceError> {
        match message {
            LogicalMessage::Begin(begin) => {
                self.transaction = Some(Transaction {
                    xid: begin.xid,
                    commit_lsn: begin.final_lsn,
                    commit_time_micros: begin.commit_time.to_unix_micros().unwrap_or_default(),
                    position: 0,
                    snapshot: false,
                });
            }
            LogicalMessage::Commit(commit) => {
                if let Some(transaction) = self.transaction.take() {
                    self.unacknowledged.push_back(UnacknowledgedCommit {
                        end_lsn: commit.end_lsn,
                        commit_time_micros: transaction.commit_time_micros,
                        arrived: Instant::now(),
                    });
                }
                self.tracker.push_commit(commit.end_lsn);
            }
            LogicalMessage::Relation(relation) => {
                let previous = self.tables.get(&relation.id).map(|t| t.published.clone());
                if let Some(published) = self.register_relation(relation).await?
                    && let Some(previous) = previous
                    && (previous.columns != published.columns
                        || previous.replica_identity != published.replica_identity)
                {
                    self.publish_schema_change(&previous, &published, change_lsn)
                        .await?;
                }
            }
            LogicalMessage::Type(announced) => {
                // A type created after the registry was loaded: its values decode as
                // text under the name the server announced.
                register_type_name(&mut self.registry, &announced);
                self.relations.apply(&LogicalMessage::Type(announced));
            }
            LogicalMessage::Insert(insert) => {
                let Some(relation) = self.published(insert.relation_id)? else {
                    return Ok(());
                };
                let after = self.row(insert.relation_id, &insert.new_tuple)?;
                self.publish_row(
                    &relation,
                    RowChange::new(v1::Op::Create, &after).after(&after),
                    change_lsn,
                )
                .await?;
            }
            LogicalMessage::Update(update) => {
                let Some(relation) = self.published(update.relation_id)? else {
                    return Ok(());
                };
                let after = self.row(update.relation_id, &update.new_tuple)?;
                let old = match &update.old_tuple {
                    Some(old) => Some(self.old_row(update.relation_id, old)?),
                    None => None,
                };
                match &old {
                    // A key change: the old row is deleted under its own key (so in its
                    // partition, after its earlier events), then the new row is created
                    // under the new key. Both carry the change.
                    Some((old_row, full))
                        if key_of(&relation, old_row) != key_of(&relation, &after) =>
                    {
                        let key_change = v1::KeyChange {
                            old_key: Some(key_of(&relation, old_row)),
                            new_key: Some(key_of(&relation, &after)),
                        };
                        let delete = RowChange::new(v1::Op::Delete, old_row)
                            .before(full.then_some(old_row.as_slice()))
                            .key_change(key_change.clone());
                        self.publish_row(&relation, delete, change_lsn).await?;
                        // No store holds the new key yet, so an unchanged TOAST value
                        // could not be kept from it: it is the old row's, which the
                        // server sent whole under REPLICA IDENTITY FULL. (Otherwise the
                        // value is not in the stream at all: no sink can write the row
                        // whole, and `sluice verify` reports it.)
                        let mut after = after.clone();
                        if *full {
                            fill_unchanged_toast(&mut after, old_row);
                        }
                        let create = RowChange::new(v1::Op::Create, &after)
                            .after(&after)
                            .key_change(key_change);
                        self.publish_row(&relation, create, change_lsn).await?;
                    }
                    old => {
                        // `before` only when the server sent the whole old row (REPLICA
                        // IDENTITY FULL): a key-only old tuple's other columns are unknown.
                        let before = old
                            .as_ref()
                            .and_then(|(row, full)| full.then_some(row.as_slice()));
                        let change = RowChange::new(v1::Op::Update, &after)
                            .before(before)
                            .after(&after);
                        self.publish_row(&relation, change, change_lsn).await?;
                    }
                }
            }
            LogicalMessage::Delete(delete) => {
                let Some(relation) = self.published(delete.relation_id)? else {
                    return Ok(());
                };
                let (old_row, full) = self.old_row(delete.relation_id, &delete.old_tuple)?;
                let change = RowChange::new(v1::Op::Delete, &old_row)
                    .before(full.then_some(old_row.as_slice()));
                self.publish_row(&relation, change, change_lsn).await?;
            }
            LogicalMessage::Truncate(truncate) => {
                for relation_id in &truncate.relation_ids {
                    let Some(relation) = self.published(*relation_id)? else {
                        continue;
                    };
                    let mut event = self.event(&relation, v1::Op::Truncate, change_lsn);
                    event.payload = Some(v1::change_event::Payload::Truncate(v1::Truncate {
                        cascade: truncate.options.cascade(),
                        restart_identity: truncate.options.restart_identity(),
                        tables: vec![v1::TableRef {
                            schema: relation.namespace.clone(),
                            table: relation.name.clone(),
                            relation_id: relation.id,
                        }],
                    }));
                    // A truncate concerns every partition: one copy each.
                    self.publish_to_every_partition(&event, relation.id).await?;
                }
            }
            // Our own (or another source's) heartbeat: nothing to publish, but a position
            // the slot may confirm once nothing is in flight.
            LogicalMessage::Message(message)
                if message.prefix == HEARTBEAT_MESSAGE_PREFIX && !message.is_transactional() =>
            {
                self.heartbeat_seen = Some(message.lsn);
            }
            LogicalMessage::Message(message) if message.prefix == HEARTBEAT_MESSAGE_PREFIX => {}
            LogicalMessage::Message(message) => {
                let topic = messages_topic(&self.config.topic_prefix)
                    .map_err(|e| SourceError::Contract(e.to_string()))?;
                self.publisher.ensure_topic(&topic).await?;
                let version = self
                    .transaction
                    .as_ref()
                    .map_or(message.lsn, |t| t.commit_lsn);
                let event = v1::ChangeEvent {
                    op: v1::Op::Message as i32,
                    source: Some(v1::Source {
                        database: self.database.clone(),
                        version: version.0,
                        commit_lsn: self.transaction.as_ref().map_or(0, |t| t.commit_lsn.0),
                        change_lsn: message.lsn.0,
                        xid: self.transaction.as_ref().map_or(0, |t| t.xid),
                        commit_time_micros: self
                            .transaction
                            .as_ref()
                            .map_or(0, |t| t.commit_time_micros),
                        ..Default::default()
                    }),
                    payload: Some(v1::change_event::Payload::Message(v1::LogicalMessage {
                        transactional: message.is_transactional(),
                        prefix: message.prefix.clone(),
                        content: message.content.to_vec(),
                    })),
                    ..Default::default()
                };
                let payload = prost::Message::encode_to_vec(&event);
                let key = encode_texts(&[Some(message.prefix.as_str())]);
                self.send(
                    &Record {
                        topic: &topic,
                        partition: None,
                        key: &key,
                        payload: Some(&payload),
                        headers: &[],
                    },
                    &event,
                )
                .await?;
            }
            // Origins, streamed and two-phase transactions are not requested by this source
            // (protocol 1 without two_phase): the server sends none of them.
            _ => {}
        }
        Ok(())
    }

    /// Records a table's schema (from a Relation message, or described by the snapshot):
    /// its topic, created if absent, and the column metadata its events carry.
    /// Returns the relation as events describe it, or `None` when the filter does not
    /// capture the table.
    pub(crate) async fn register_relation(
        &mut self,
        mut relation: Relation,
    ) -> Result<Option<Arc<Relation>>, SourceError> {
        let id = relation.id;
        self.key_by_primary_key(&mut relation).await?;
        if !self
            .config
            .filter
            .captures(&relation.namespace, &relation.name)
        {
            self.ignored.insert(id);
            self.tables.remove(&id);
            self.relations.insert_relation(relation);
            return Ok(None);
        }
        self.ignored.remove(&id);
        let plan = self.config.filter.plan(&relation)?;
        let published = Arc::new(plan.relation().clone());
        let plan = (!plan.is_identity()).then_some(plan);
        let topic = topic_for(
            &self.config.topic_prefix,
            &relation.namespace,
            &relation.name,
        )
        .map_err(|e| SourceError::Contract(e.to_string()))?;
        self.publisher.ensure_topic(&topic).await?;
        let columns = self.column_metadata(&published);
        let counters =
            observe::TableCounters::new(&format!("{}.{}", relation.namespace, relation.name));
        self.tables.insert(
            id,
            TableOutput {
                topic,
                columns,
                counters,
                published: published.clone(),
                plan,
            },
        );
        self.relations.insert_relation(relation);
        Ok(Some(published))
    }

    /// A SCHEMA_CHANGE event, to every partition of the table's topic (like a truncate,
    /// it concerns every row): the columns changed between two Relation messages.
    async fn publish_schema_change(
        &mut self,
        previous: &Relation,
        published: &Relation,
        change_lsn: Lsn,
    ) -> Result<(), SourceError> {
        let mut event = self.event(published, v1::Op::SchemaChange, change_lsn);
        event.payload = Some(v1::change_event::Payload::SchemaChange(v1::SchemaChange {
            previous_columns: self.columns(previous),
            previous_replica_identity: replica_identity(previous.replica_identity) as i32,
        }));
        tracing::info!(
            table = %format!("{}.{}", published.namespace, published.name),
            "schema change: the table's columns changed"
        );
        self.publish_to_every_partition(&event, published.id).await
    }

    /// Publishes an event that concerns every row of a table once to each partition.
    async fn publish_to_every_partition(
        &mut self,
        event: &v1::ChangeEvent,
        relation_id: u32,
    ) -> Result<(), SourceError> {
        let (topic, payload) = self.table_payload(event, relation_id)?;
        let partitions = self.publisher.partitions(&topic).await?;
        for partition in 0..partitions {
            self.send(
                &Record {
                    topic: &topic,
                    partition: Some(partition),
                    key: sluice_event::key::EMPTY_KEY,
                    payload: Some(&payload),
                    headers: &[],
                },
                event,
            )
            .await?;
        }
        Ok(())
    }

    /// Nothing in flight and no transaction open: every change the server sent is on Kafka.
    fn is_idle(&self) -> bool {
        self.tracker.is_empty() && self.transaction.is_none()
    }

    /// Kafka acknowledged every event up to the commit ending at `end_lsn`.
    fn acknowledged(&mut self, end_lsn: Lsn) {
        while let Some(commit) = self.unacknowledged.front() {
            if commit.end_lsn > end_lsn {
                break;
            }
            observe::transaction_acknowledged(commit.arrived.elapsed());
            metrics::gauge!(observe::REPLICATION_LAG_SECONDS)
                .set(seconds_since(commit.commit_time_micros));
            self.unacknowledged.pop_front();
        }
        metrics::gauge!(observe::EVENTS_IN_FLIGHT).set(self.tracker.events_in_flight() as f64);
    }

    /// Refreshes the lag gauges: the oldest unacknowledged commit's age, if any.
    fn observe_lag(&self, received: Lsn, confirmed: Lsn) {
        observe::positions(received, confirmed);
        metrics::gauge!(observe::EVENTS_IN_FLIGHT).set(self.tracker.events_in_flight() as f64);
        let oldest = self
            .unacknowledged
            .front()
            .map(|c| c.commit_time_micros)
            .or(self.transaction.as_ref().map(|t| t.commit_time_micros));
        if let Some(micros) = oldest {
            metrics::gauge!(observe::REPLICATION_LAG_SECONDS).set(seconds_since(micros));
        }
    }

    /// Publishes a heartbeat to `<prefix>.sluice-heartbeat`, keyed by slot.
    async fn publish_heartbeat(
        &mut self,
        server_wal_end: Lsn,
        confirmed: Lsn,
        server_time_micros: i64,
    ) -> Result<(), SourceError> {
        let topic = heartbeat_topic(&self.config.topic_prefix)
            .map_err(|e| SourceError::Contract(e.to_string()))?;
        self.publisher.ensure_topic(&topic).await?;
        let heartbeat = v1::Heartbeat {
            database: self.database.clone(),
            slot: self.config.slot.clone(),
            lsn: server_wal_end.0,
            confirmed_lsn: confirmed.0,
            server_time_micros,
        };
        let payload = prost::Message::encode_to_vec(&heartbeat);
        let delivery = self
            .publisher
            .send(&Record {
                topic: &topic,
                partition: None,
                key: self.config.slot.as_bytes(),
                payload: Some(&payload),
                headers: &[(
                    headers::CONTENT_TYPE,
                    headers::HEARTBEAT_CONTENT_TYPE.as_bytes(),
                )],
            })
            .await?;
        // Not tracked with the changes: a heartbeat in flight must not keep the source
        // from looking idle, and a lost one is replaced by the next.
        tokio::spawn(async move {
            if let Err(error) = delivery.await {
                tracing::warn!(%error, "a heartbeat was not delivered");
            }
        });
        metrics::counter!(observe::HEARTBEATS_TOTAL).increment(1);
        Ok(())
    }

    /// With REPLICA IDENTITY FULL, pgoutput flags every column as part of the identity;
    /// keying events by all of them would make every update a key change and scatter one
    /// row's changes over partitions. Such a table's events are keyed by its primary key
    /// instead, when it has one (without one, the whole row is all the identity there is).
    pub(crate) async fn key_by_primary_key(
        &self,
        relation: &mut Relation,
    ) -> Result<(), SourceError> {
        if relation.replica_identity != ReplicaIdentity::Full {
            return Ok(());
        }
        let primary_key: Vec<String> = self
            .catalog
            .query(PRIMARY_KEY_QUERY, &[&relation.id])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if primary_key.is_empty() {
            return Ok(());
        }
        for column in &mut relation.columns {
            column.flags = if primary_key.contains(&column.name) {
                sluice_pgoutput::Column::KEY_FLAG
            } else {
                0
            };
        }
        Ok(())
    }

    /// From now on, events are the snapshot's `read`s at `version`.
    pub(crate) fn begin_snapshot(&mut self, version: Lsn, started_at_micros: i64) {
        self.transaction = Some(Transaction {
            xid: 0,
            commit_lsn: version,
            commit_time_micros: started_at_micros,
            position: 0,
            snapshot: true,
        });
    }

    /// The snapshot is over.
    pub(crate) fn end_snapshot(&mut self) {
        self.transaction = None;
    }

    /// Publishes one row read by the snapshot.
    pub(crate) async fn publish_read(
        &mut self,
        relation: &Relation,
        row: &[Cell],
    ) -> Result<(), SourceError> {
        let change = RowChange::new(v1::Op::Read, row).after(row);
        self.publish_in_snapshot(relation, change).await
    }

    /// Publishes the delete of the row keyed by `key_row` (a row whose other columns are
    /// NULL), as the stream publishes a delete under the default replica identity.
    pub(crate) async fn publish_delete(
        &mut self,
        relation: &Relation,
        key_row: &[Cell],
    ) -> Result<(), SourceError> {
        let change = RowChange::new(v1::Op::Delete, key_row);
        self.publish_in_snapshot(relation, change).await
    }

    /// Publishes a change of the snapshot's pseudo-transaction, at its version, waiting
    /// first while the in-flight bound is reached.
    async fn publish_in_snapshot(
        &mut self,
        relation: &Relation,
        change: RowChange<'_>,
    ) -> Result<(), SourceError> {
        // During the snapshot the only commit markers are the snapshot's own chunk ends,
        // which nobody waits for here; dropping them is harmless.
        while self
            .tracker
            .next_room(self.config.max_in_flight)
            .await?
            .is_some()
        {}
        let version = self
            .transaction
            .as_ref()
            .map_or(Lsn::INVALID, |t| t.commit_lsn);
        self.publish_row(relation, change, version).await
    }

    /// Waits until Kafka acknowledged everything published so far.
    pub(crate) async fn wait_for_acknowledgements(
        &mut self,
        marker: Lsn,
    ) -> Result<(), SourceError> {
        self.tracker.push_commit(marker);
        while !self.tracker.is_empty() {
            self.tracker.next_confirmed().await?;
        }
        Ok(())
    }

    fn relation(&self, id: u32) -> Result<Arc<Relation>, SourceError> {
        self.relations.relation(id).cloned().ok_or_else(|| {
            SourceError::Contract(format!(
                "a change names relation {id}, which no Relation message described"
            ))
        })
    }

    fn table(&self, id: u32) -> Result<&TableOutput, SourceError> {
        self.tables
            .get(&id)
            .ok_or_else(|| SourceError::Contract(format!("no topic for relation {id}")))
    }

    /// The `columns` field of a relation's events, encoded once per Relation message:
    /// protobuf fields may come in any order, so every event's payload is its own
    /// encoding followed by these bytes, and the metadata costs no allocation per row.
    fn column_metadata(&self, relation: &Relation) -> Vec<u8> {
        prost::Message::encode_to_vec(&v1::ChangeEvent {
            columns: self.columns(relation),
            ..Default::default()
        })
    }

    /// A relation's columns as events describe them.
    fn columns(&self, relation: &Relation) -> Vec<v1::Column> {
        crate::rows::event_columns(relation, &self.registry)
    }

    /// The payload of a table's event: the event, then its table's column metadata.
    fn table_payload(
        &self,
        event: &v1::ChangeEvent,
        relation_id: u32,
    ) -> Result<(String, Vec<u8>), SourceError> {
        let table = self.table(relation_id)?;
        let mut payload =
            Vec::with_capacity(prost::Message::encoded_len(event) + table.columns.len());
        prost::Message::encode(event, &mut payload)
            .map_err(|e| SourceError::Contract(format!("encoding an event: {e}")))?;
        payload.extend_from_slice(&table.columns);
        Ok((table.topic.clone(), payload))
    }

    /// An event with its source position filled in, the rest empty.
    fn event(&mut self, relation: &Relation, op: v1::Op, change_lsn: Lsn) -> v1::ChangeEvent {
        let (xid, commit_lsn, commit_time_micros, position, snapshot) = match &mut self.transaction
        {
            Some(t) => {
                t.position += 1;
                (
                    t.xid,
                    t.commit_lsn,
                    t.commit_time_micros,
                    t.position - 1,
                    t.snapshot,
                )
            }
            None => (0, change_lsn, 0, 0, false),
        };
        v1::ChangeEvent {
            op: op as i32,
            source: Some(v1::Source {
                database: self.database.clone(),
                schema: relation.namespace.clone(),
                table: relation.name.clone(),
                relation_id: relation.id,
                version: commit_lsn.0,
                commit_lsn: commit_lsn.0,
                change_lsn: change_lsn.0,
                xid,
                commit_time_micros,
                position,
                snapshot,
            }),
            replica_identity: replica_identity(relation.replica_identity) as i32,
            ..Default::default()
        }
    }

    /// The old row of an update or delete, typed, and whether it is the whole row
    /// (REPLICA IDENTITY FULL) rather than only its key.
    fn old_row(&self, relation_id: u32, old: &OldTuple) -> Result<(Vec<Cell>, bool), SourceError> {
        Ok(match old {
            OldTuple::Key(tuple) => (self.row(relation_id, tuple)?, false),
            OldTuple::Full(tuple) => (self.row(relation_id, tuple)?, true),
        })
    }

    /// A row of a captured table, typed through the relation the server described and
    /// then filtered and masked into the shape of [`Self::published`].
    pub(crate) fn row(
        &self,
        relation_id: u32,
        tuple: &TupleData,
    ) -> Result<Vec<Cell>, SourceError> {
        let relation = self.relation(relation_id)?;
        let mut row = typed_row(&relation, tuple, &self.registry)?;
        if let Some(plan) = self.tables.get(&relation_id).and_then(|t| t.plan.as_ref()) {
            plan.apply(&mut row);
        }
        Ok(row)
    }

    /// The relation as a captured table's events describe it (excluded columns gone,
    /// masked ones retyped), or `None` when the filter does not capture the table.
    pub(crate) fn published(&self, relation_id: u32) -> Result<Option<Arc<Relation>>, SourceError> {
        if self.ignored.contains(&relation_id) {
            return Ok(None);
        }
        Ok(Some(self.table(relation_id)?.published.clone()))
    }

    /// Publishes one row event, keyed by its row's key columns.
    async fn publish_row(
        &mut self,
        relation: &Relation,
        change: RowChange<'_>,
        change_lsn: Lsn,
    ) -> Result<(), SourceError> {
        let mut event = self.event(relation, change.op, change_lsn);
        let event_key = key_of(relation, change.keyed_by);
        let key = event_key.encode().map_err(|e| {
            SourceError::Contract(format!("{}.{}: {e}", relation.namespace, relation.name))
        })?;
        event.key = Some(event_key);
        event.key_change = change.key_change;
        event.before = change.before.map(|row| v1::Row {
            values: row.iter().map(cell_to_event).collect(),
        });
        event.after = change.after.map(|row| v1::Row {
            values: row.iter().map(cell_to_event).collect(),
        });
        let (topic, payload) = self.table_payload(&event, relation.id)?;
        let record = Record {
            topic: &topic,
            partition: None,
            key: &key,
            payload: Some(&payload),
            headers: &[],
        };
        self.send(&record, &event).await?;
        if change.op == v1::Op::Delete && self.config.tombstones {
            self.send(
                &Record {
                    payload: None,
                    ..record
                },
                &event,
            )
            .await?;
        }
        Ok(())
    }

    /// Sends one record with the standard headers and tracks its delivery.
    async fn send(
        &mut self,
        record: &Record<'_>,
        event: &v1::ChangeEvent,
    ) -> Result<(), SourceError> {
        let version = event.source.as_ref().map_or(0, |s| s.version).to_string();
        let op = if record.payload.is_none() {
            headers::OP_TOMBSTONE.to_owned()
        } else {
            headers::op_value(event.op()).to_owned()
        };
        let header_values: [(&str, &[u8]); 3] = [
            (
                headers::CONTENT_TYPE,
                headers::CHANGE_EVENT_CONTENT_TYPE.as_bytes(),
            ),
            (headers::VERSION, version.as_bytes()),
            (headers::OP, op.as_bytes()),
        ];
        let delivery = self
            .publisher
            .send(&Record {
                headers: &header_values,
                ..*record
            })
            .await?;
        self.tracker.push_event(delivery);
        let relation_id = event.source.as_ref().map_or(0, |s| s.relation_id);
        match self.tables.get(&relation_id) {
            Some(table) => table.counters.count(&op),
            None => observe::event("", headers::op_value(event.op())),
        }
        Ok(())
    }
}

fn replica_identity(identity: ReplicaIdentity) -> v1::ReplicaIdentity {
    match identity {
        ReplicaIdentity::Default => v1::ReplicaIdentity::Default,
        ReplicaIdentity::Nothing => v1::ReplicaIdentity::Nothing,
        ReplicaIdentity::Full => v1::ReplicaIdentity::Full,
        ReplicaIdentity::Index => v1::ReplicaIdentity::Index,
    }
}

/// Seconds from a Unix time in microseconds to now (0 if it lies in the future).
fn seconds_since(unix_micros: i64) -> f64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    (now.saturating_sub(unix_micros)).max(0) as f64 / 1e6
}

/// Replaces each unchanged TOAST value of `row` by the same column's value in `old`, the
/// whole old row of the same update.
fn fill_unchanged_toast(row: &mut [Cell], old: &[Cell]) {
    for (cell, old) in row.iter_mut().zip(old) {
        if *cell == Cell::UnchangedToast {
            cell.clone_from(old);
        }
    }
}

/// The event's key: the key columns and their values.
pub(crate) fn key_of(relation: &Relation, row: &[Cell]) -> v1::Key {
    v1::Key {
        columns: relation
            .columns
            .iter()
            .zip(row)
            .filter(|(c, _)| c.is_key())
            .map(|(c, cell)| v1::KeyColumn {
                name: c.name.clone(),
                value: Some(cell_to_event(cell)),
            })
            .collect(),
    }
}

/// The type registry of the database `client` is connected to: built-in types plus every
/// user type (enums, domains, ranges, arrays of them) from [`CATALOG_QUERY`].
pub async fn load_registry(client: &tokio_postgres::Client) -> Result<TypeRegistry, SourceError> {
    let mut registry = TypeRegistry::new();
    for row in client.query(CATALOG_QUERY, &[]).await? {
        let name: String = row.get(1);
        let typtype: i8 = row.get(2);
        let delimiter: i8 = row.get(7);
        registry.register(&PgTypeRow {
            oid: row.get(0),
            name: &name,
            typtype: typtype as u8,
            base_type: row.get(3),
            array_element: row.get(4),
            range_subtype: row.get(5),
            multirange_of: row.get(6),
            delimiter: delimiter as u8,
        });
    }
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_change_takes_unchanged_toast_values_from_the_whole_old_row() {
        let text = |s: &str| Cell::Value(sluice_pgvalue::Value::Text(s.into()));
        let mut after = vec![text("2"), Cell::UnchangedToast, Cell::Null];
        fill_unchanged_toast(&mut after, &[text("1"), text("large"), text("was set")]);
        assert_eq!(after, [text("2"), text("large"), Cell::Null]);
    }

    #[test]
    fn debug_hides_the_password() {
        assert_eq!(
            redact_password("postgres://sluice:s3cr@t@db:5432/shop"),
            "postgres://sluice:***@db:5432/shop"
        );
        assert_eq!(redact_password("postgres://db/shop"), "postgres://db/shop");
        let config = SourceConfig {
            postgres_url: "postgres://u:hunter2@h/d".into(),
            slot: "s".into(),
            publication: "p".into(),
            create_slot: true,
            topic_prefix: "t".into(),
            kafka: KafkaSettings {
                bootstrap_servers: "k:1".into(),
                partitions: 1,
                replication_factor: 1,
                producer_properties: Vec::new(),
            },
            max_in_flight: 1,
            status_interval: Duration::from_secs(1),
            tombstones: false,
            filter: crate::filter::CaptureFilter::default().mask_salt("pepper-hunter3"),
            snapshot: SnapshotSettings::default(),
            heartbeat_interval: None,
            heartbeat_emit_message: false,
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!format!("{config:?}").contains("hunter3"));
    }
}
