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

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sluice_event::headers;
use sluice_event::key::encode_texts;
use sluice_event::topic::{messages_topic, topic_for};
use sluice_event::v1;
use sluice_pgoutput::{
    Cell, Decoder, LogicalMessage, Lsn, OldTuple, Relation, RelationCache, ReplicaIdentity,
    ReplicationMessage, typed_row,
};
use sluice_pgvalue::{CATALOG_QUERY, PgTypeRow, TypeRegistry};
use sluice_replication::{
    ReplicationClient, ReplicationConfig, ReplicationError, quote_publication_names,
};
use tokio_postgres::NoTls;

use crate::publish::{AckTracker, Delivery, KafkaSettings, PublishError, Publisher, Record};
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
            _ => false,
        }
    }
}

/// Session settings under which PostgreSQL's text output is what `sluice-pgvalue` parses.
const OUTPUT_SETTINGS: &str = "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; \
    SET extra_float_digits = 3; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'";

/// Streams changes from the slot to Kafka until `shutdown` resolves or an error occurs.
/// Returns the last LSN confirmed to PostgreSQL.
pub async fn run(
    config: &SourceConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<Lsn, SourceError> {
    let (catalog, connection) = tokio_postgres::connect(&config.postgres_url, NoTls).await?;
    let connection = tokio::spawn(connection);
    let registry = load_registry(&catalog).await?;
    let database: String = catalog
        .query_one("SELECT current_database()", &[])
        .await?
        .get(0);

    let replication_config = ReplicationConfig::from_url(&config.postgres_url)?;
    let mut client = ReplicationClient::connect(&replication_config).await?;
    let exists = catalog
        .query_opt(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
            &[&config.slot],
        )
        .await?
        .is_some();
    if !exists {
        if !config.create_slot {
            return Err(SourceError::MissingSlot(config.slot.clone()));
        }
        client
            .create_replication_slot(
                &config.slot,
                false,
                sluice_replication::SnapshotAction::NoExport,
            )
            .await?;
        tracing::info!(slot = %config.slot, "created the replication slot");
    }
    drop(catalog);
    connection.abort();

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

    let mut state = State {
        config,
        database,
        registry,
        decoder: Decoder::new(1)?,
        relations: RelationCache::new(),
        tables: HashMap::new(),
        publisher: Publisher::new(config.kafka.clone())?,
        tracker: AckTracker::default(),
        transaction: None,
    };
    let mut received = Lsn::INVALID;
    let mut confirmed = Lsn::INVALID;
    let mut reported = Lsn::INVALID;
    let mut status_timer = tokio::time::interval(config.status_interval);
    tokio::pin!(shutdown);

    loop {
        let reading = state.tracker.events_in_flight() < config.max_in_flight;
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            acknowledged = state.tracker.next_confirmed(), if !state.tracker.is_empty() => {
                confirmed = confirmed.max(acknowledged?);
            }
            message = stream.next_message(), if reading => {
                let Some(payload) = message? else {
                    return Err(SourceError::StreamEnded);
                };
                match ReplicationMessage::parse(payload)? {
                    ReplicationMessage::XLogData(xlog) => {
                        received = received.max(xlog.wal_end);
                        let message = state.decoder.decode(&xlog.data)?;
                        state.handle(message, xlog.wal_start).await?;
                    }
                    ReplicationMessage::PrimaryKeepalive(keepalive) => {
                        received = received.max(keepalive.wal_end);
                        if state.tracker.is_empty() && state.transaction.is_none() {
                            confirmed = confirmed.max(keepalive.wal_end);
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
            }
        }
        if confirmed != reported && state.tracker.is_empty() {
            stream
                .send_standby_status(received, confirmed, confirmed, false)
                .await?;
            reported = confirmed;
        }
    }
    // Shutdown: wait (briefly) for what is in flight, then report the final position.
    let _ = state.publisher.flush(Duration::from_secs(10));
    while !state.tracker.is_empty() {
        match tokio::time::timeout(Duration::from_secs(10), state.tracker.next_confirmed()).await {
            Ok(Ok(lsn)) => confirmed = confirmed.max(lsn),
            _ => break,
        }
    }
    stream
        .send_standby_status(received, confirmed, confirmed, false)
        .await?;
    Ok(confirmed)
}

/// The open transaction: what every event of it carries.
struct Transaction {
    xid: u32,
    commit_lsn: Lsn,
    commit_time_micros: i64,
    position: u64,
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
}

struct State<'a> {
    config: &'a SourceConfig,
    database: String,
    registry: TypeRegistry,
    decoder: Decoder,
    relations: RelationCache,
    tables: HashMap<u32, TableOutput>,
    publisher: Publisher,
    tracker: AckTracker<Delivery>,
    transaction: Option<Transaction>,
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
                });
            }
            LogicalMessage::Commit(commit) => {
                self.transaction = None;
                self.tracker.push_commit(commit.end_lsn);
            }
            LogicalMessage::Relation(relation) => {
                let topic = topic_for(
                    &self.config.topic_prefix,
                    &relation.namespace,
                    &relation.name,
                )
                .map_err(|e| SourceError::Contract(e.to_string()))?;
                self.publisher.ensure_topic(&topic).await?;
                let columns = self.column_metadata(&relation);
                self.tables
                    .insert(relation.id, TableOutput { topic, columns });
                self.relations.apply(&LogicalMessage::Relation(relation));
            }
            LogicalMessage::Type(_) => {
                self.relations.apply(&message);
            }
            LogicalMessage::Insert(insert) => {
                let relation = self.relation(insert.relation_id)?;
                let after = typed_row(&relation, &insert.new_tuple, &self.registry)?;
                self.publish_row(
                    &relation,
                    RowChange::new(v1::Op::Create, &after).after(&after),
                    change_lsn,
                )
                .await?;
            }
            LogicalMessage::Update(update) => {
                let relation = self.relation(update.relation_id)?;
                let after = typed_row(&relation, &update.new_tuple, &self.registry)?;
                let old = match &update.old_tuple {
                    Some(old) => Some(self.old_row(&relation, old)?),
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
                let relation = self.relation(delete.relation_id)?;
                let (old_row, full) = self.old_row(&relation, &delete.old_tuple)?;
                let change = RowChange::new(v1::Op::Delete, &old_row)
                    .before(full.then_some(old_row.as_slice()));
                self.publish_row(&relation, change, change_lsn).await?;
            }
            LogicalMessage::Truncate(truncate) => {
                for relation_id in &truncate.relation_ids {
                    let relation = self.relation(*relation_id)?;
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
                    let (topic, payload) = self.table_payload(&event, relation.id)?;
                    // A truncate concerns every partition: one copy each.
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
                            &event,
                        )
                        .await?;
                    }
                }
            }
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
        let columns = relation
            .columns
            .iter()
            .map(|c| v1::Column {
                name: c.name.clone(),
                type_oid: c.type_oid,
                type_name: self
                    .registry
                    .type_name(c.type_oid)
                    .unwrap_or_default()
                    .to_owned(),
                type_schema: String::new(),
                type_modifier: c.type_modifier,
                key: c.is_key(),
                nullable: None,
            })
            .collect();
        prost::Message::encode_to_vec(&v1::ChangeEvent {
            columns,
            ..Default::default()
        })
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
        let (xid, commit_lsn, commit_time_micros, position) = match &mut self.transaction {
            Some(t) => {
                t.position += 1;
                (t.xid, t.commit_lsn, t.commit_time_micros, t.position - 1)
            }
            None => (0, change_lsn, 0, 0),
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
                snapshot: false,
            }),
            replica_identity: match relation.replica_identity {
                ReplicaIdentity::Default => v1::ReplicaIdentity::Default,
                ReplicaIdentity::Nothing => v1::ReplicaIdentity::Nothing,
                ReplicaIdentity::Full => v1::ReplicaIdentity::Full,
                ReplicaIdentity::Index => v1::ReplicaIdentity::Index,
            } as i32,
            ..Default::default()
        }
    }

    /// The old row of an update or delete, typed, and whether it is the whole row
    /// (REPLICA IDENTITY FULL) rather than only its key.
    fn old_row(
        &self,
        relation: &Relation,
        old: &OldTuple,
    ) -> Result<(Vec<Cell>, bool), SourceError> {
        Ok(match old {
            OldTuple::Key(tuple) => (typed_row(relation, tuple, &self.registry)?, false),
            OldTuple::Full(tuple) => (typed_row(relation, tuple, &self.registry)?, true),
        })
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
            op_name(event.op).to_owned()
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
        Ok(())
    }
}

/// The event's key: the key columns and their values.
fn key_of(relation: &Relation, row: &[Cell]) -> v1::Key {
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

fn op_name(op: i32) -> &'static str {
    match v1::Op::try_from(op) {
        Ok(v1::Op::Create) => "create",
        Ok(v1::Op::Update) => "update",
        Ok(v1::Op::Delete) => "delete",
        Ok(v1::Op::Read) => "read",
        Ok(v1::Op::Truncate) => "truncate",
        Ok(v1::Op::SchemaChange) => "schema_change",
        Ok(v1::Op::Message) => "message",
        _ => "unspecified",
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
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
