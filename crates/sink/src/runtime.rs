//! The consumer runtime: Kafka to a [`Sink`], committing an offset only once the store
//! accepted (or the dead-letter topic holds) every record before it.
//!
//! ```text
//!  recv ──▶ batch (decode; tombstones only move offsets; undecodable ─▶ dead letters)
//!    │ full (batch_max_records) or old (batch_max_wait)
//!    ▼
//!  Sink::apply ──Retryable──▶ sleep (exponential, jittered, capped) ─▶ apply again
//!    │ Ok(rejected)                 (offsets stay where they were meanwhile)
//!    ▼
//!  dead letters produced and acknowledged ──▶ commit (offset + 1 per partition)
//! ```
//!
//! # Rebalances
//!
//! Records are only buffered between polls, and the store is only written between polls,
//! so a revocation (which librdkafka reports inside a poll) can only catch records that are
//! buffered and not yet applied: they are dropped without committing, and whoever owns the
//! partition next reads them again from the committed offset. A batch being applied when
//! the group rebalances (a store outage longer than `max.poll.interval.ms`) may fail to
//! commit; its records are then applied twice, which versioning makes harmless.
//!
//! # Topics
//!
//! The sink consumes every table topic of its prefix (`<prefix>.<schema>.<table>`,
//! recognised by [`parse_table_topic`], so the reserved heartbeat, snapshot and
//! dead-letter topics are left alone), and looks for new ones every `topic_refresh`.
//! A new consumer group starts at the beginning of each topic: a new sink, or a replay,
//! builds its store from the whole history Kafka keeps.
//!
//! The listing doubles as a check that the Kafka client still reaches the cluster. After a
//! broker restart librdkafka usually reconnects by itself, but a client can also stay
//! wedged, every request failing with a transport error while the broker serves others.
//! When no listing has succeeded for `kafka_lost_after`, the runtime returns a retryable
//! error, and `sluice sink` restarts it with a fresh client from the committed offsets.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use sluice_event::headers;
use sluice_event::topic::{TopicError, dead_letter_topic, parse_table_topic};
use sluice_event::v1::{ChangeEvent, Op};
use tokio::time::MissedTickBehavior;

use crate::backoff::Backoff;
use crate::observe;
use crate::record::{Origin, Record};
use crate::{Applied, Sink, SinkError};

/// How the runtime consumes.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// The source's topic prefix: the sink reads `<prefix>.<schema>.<table>`.
    pub topic_prefix: String,
    /// The consumer group: one per sink (and a fresh one per replay).
    pub group_id: String,
    /// Where records the sink cannot apply go.
    pub dead_letter_topic: String,
    /// A batch is applied once it holds this many records...
    pub batch_max_records: usize,
    /// ...or once its first record waited this long.
    pub batch_max_wait: Duration,
    /// The first retry's delay; each next one doubles, up to `retry_max`, with jitter.
    pub retry_initial: Duration,
    /// The longest delay between retries.
    pub retry_max: Duration,
    /// How often to look for new table topics.
    pub topic_refresh: Duration,
    /// How long the topic listing may keep failing before the runtime gives up on its
    /// Kafka client with a retryable error (see the module docs).
    pub kafka_lost_after: Duration,
    /// Extra librdkafka consumer properties.
    pub consumer_properties: Vec<(String, String)>,
    /// Only these topics, instead of every table topic of the prefix.
    pub topics: Option<Vec<String>>,
    /// Stop (successfully) once the committed offset of every listed partition reached
    /// its target: a replay's "caught up". `None` runs until shutdown.
    pub stop_at: Option<BTreeMap<(String, i32), i64>>,
}

impl RuntimeConfig {
    /// The defaults for a sink of `kind` reading the topics of `topic_prefix`.
    ///
    /// # Errors
    ///
    /// [`TopicError`] when the prefix or the kind cannot name the dead-letter topic.
    pub fn new(
        bootstrap_servers: &str,
        topic_prefix: &str,
        kind: &str,
    ) -> Result<Self, TopicError> {
        Ok(Self {
            bootstrap_servers: bootstrap_servers.to_owned(),
            topic_prefix: topic_prefix.to_owned(),
            group_id: format!("sluice-{kind}"),
            dead_letter_topic: dead_letter_topic(topic_prefix, kind)?,
            batch_max_records: 1000,
            batch_max_wait: Duration::from_millis(200),
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
            topic_refresh: Duration::from_secs(10),
            kafka_lost_after: Duration::from_secs(60),
            consumer_properties: Vec::new(),
            topics: None,
            stop_at: None,
        })
    }
}

/// Why the runtime stopped.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Kafka failed in a way the consumer cannot recover from by itself.
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The store refuses the sink's writes for good.
    #[error(transparent)]
    Sink(SinkError),
}

impl RuntimeError {
    /// Whether restarting the runtime may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RuntimeError::Kafka(_))
    }
}

/// Readiness, for a `/readyz` endpoint: the consumer has partitions and the store answered
/// the last time it was asked.
#[derive(Debug, Default)]
pub struct Health {
    store_ok: AtomicBool,
    assigned: AtomicBool,
}

impl Health {
    /// Whether the sink is doing its job.
    pub fn is_ready(&self) -> bool {
        self.store_ok.load(Ordering::Relaxed) && self.assigned.load(Ordering::Relaxed)
    }
}

/// The consumer's callbacks: revocations (to drop buffered records) and statistics (lag).
struct Context {
    sink: &'static str,
    revoked: Mutex<HashSet<(String, i32)>>,
    health: Arc<Health>,
}

impl ClientContext for Context {
    fn stats(&self, statistics: Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, stats) in &stats.partitions {
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    metrics::gauge!(observe::CONSUMER_LAG,
                        "sink" => self.sink, "topic" => topic.clone(), "partition" => partition.to_string())
                    .set(stats.consumer_lag as f64);
                }
            }
        }
    }
}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let mut revoked = self.revoked.lock().unwrap_or_else(PoisonError::into_inner);
            for element in partitions.elements() {
                revoked.insert((element.topic().to_owned(), element.partition()));
                // No longer this process's to report: its new owner reports the real lag,
                // and a stale value here would keep an alert firing.
                metrics::gauge!(observe::CONSUMER_LAG,
                    "sink" => self.sink, "topic" => element.topic().to_owned(),
                    "partition" => element.partition().to_string())
                .set(0.0);
            }
            tracing::info!(partitions = partitions.count(), "partitions revoked");
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            tracing::info!(partitions = partitions.count(), "partitions assigned");
        }
        let assigned = consumer
            .assignment()
            .map(|a| a.count() > 0)
            .unwrap_or(false);
        self.health.assigned.store(assigned, Ordering::Relaxed);
    }
}

/// A record as read, kept for the dead-letter topic (which holds the original bytes).
struct Raw {
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
}

/// A record going to the dead-letter topic.
struct DeadLetter {
    raw: Raw,
    origin: Origin,
    class: &'static str,
    reason: String,
}

/// Records read since the last commit.
#[derive(Default)]
struct Batch {
    records: Vec<Record>,
    raws: Vec<Raw>,
    dead: Vec<DeadLetter>,
    /// The highest offset read per partition (applied, dead-lettered or skipped).
    offsets: BTreeMap<(String, i32), i64>,
    first_at: Option<Instant>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    fn push(&mut self, message: &BorrowedMessage<'_>) {
        let origin = Origin {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
        };
        self.first_at.get_or_insert_with(Instant::now);
        let slot = self
            .offsets
            .entry((origin.topic.clone(), origin.partition))
            .or_insert(origin.offset);
        *slot = (*slot).max(origin.offset);
        // A tombstone only lets compaction forget a deleted row: nothing to apply.
        let Some(payload) = message.payload() else {
            return;
        };
        let raw = Raw {
            key: message.key().map(<[u8]>::to_vec),
            payload: Some(payload.to_vec()),
            headers: message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                        .collect()
                })
                .unwrap_or_default(),
        };
        match decode(payload) {
            Ok(event) => {
                self.records.push(Record {
                    origin,
                    key: raw.key.clone().unwrap_or_default(),
                    event,
                });
                self.raws.push(raw);
            }
            Err(reason) => self.dead.push(DeadLetter {
                raw,
                origin,
                class: "undecodable",
                reason,
            }),
        }
    }

    /// Forgets what was buffered from partitions that are no longer this consumer's.
    fn drop_partitions(&mut self, revoked: &HashSet<(String, i32)>) {
        let keep = |origin: &Origin| !revoked.contains(&(origin.topic.clone(), origin.partition));
        let mut kept = Vec::new();
        let mut kept_raws = Vec::new();
        for (record, raw) in self.records.drain(..).zip(self.raws.drain(..)) {
            if keep(&record.origin) {
                kept.push(record);
                kept_raws.push(raw);
            }
        }
        self.records = kept;
        self.raws = kept_raws;
        self.dead.retain(|d| keep(&d.origin));
        self.offsets
            .retain(|partition, _| !revoked.contains(partition));
        if self.offsets.is_empty() {
            self.first_at = None;
        }
    }
}

/// An event the sink can apply, or why not.
fn decode(payload: &[u8]) -> Result<ChangeEvent, String> {
    let event = ChangeEvent::decode(payload)
        .map_err(|e| format!("the value is not a sluice.v1.ChangeEvent: {e}"))?;
    if event.version().is_none() {
        return Err("the event has no source version (Sluice always writes one)".into());
    }
    match Op::try_from(event.op) {
        Ok(Op::Unspecified) | Err(_) => Err(format!("the event's op {} is unknown", event.op)),
        Ok(_) => Ok(event),
    }
}

/// Consumes and applies until `shutdown` resolves or a permanent error occurs.
pub async fn run<S: Sink>(
    mut sink: S,
    config: &RuntimeConfig,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RuntimeError> {
    let kind = sink.kind();
    observe::describe(kind);
    let context = Context {
        sink: kind,
        revoked: Mutex::default(),
        health: health.clone(),
    };
    let mut consumer_config = ClientConfig::new();
    consumer_config
        .set("bootstrap.servers", &config.bootstrap_servers)
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "5000")
        .set("topic.metadata.refresh.interval.ms", "10000");
    for (key, value) in &config.consumer_properties {
        consumer_config.set(key, value);
    }
    // Shared with the blocking pool, where topic listing runs (see `subscribe_to_new_topics`).
    let consumer: Arc<StreamConsumer<Context>> =
        Arc::new(consumer_config.create_with_context(context)?);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    ensure_topic(&config.bootstrap_servers, &config.dead_letter_topic).await?;

    tokio::pin!(shutdown);
    // The store first: no point in joining the group before it answers.
    let mut backoff = Backoff::new(config.retry_initial, config.retry_max);
    loop {
        match sink.check().await {
            Ok(()) => break,
            Err(SinkError::Permanent(reason)) => {
                return Err(RuntimeError::Sink(SinkError::Permanent(reason)));
            }
            Err(SinkError::Retryable(reason)) => {
                tracing::warn!(%reason, "the store does not answer yet");
                tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
    health.store_ok.store(true, Ordering::Relaxed);

    let mut topics = BTreeSet::new();
    let mut refresh = tokio::time::interval(config.topic_refresh);
    // A refresh can take about as long as its period (listing topics waits behind the
    // consumer's fetch long-poll), and a batch's apply longer. A tick counted from when it
    // fired would then be due again the moment the refresh ends, and the `biased` select
    // below would keep refreshing and never get to `recv` (a sink with slow batches
    // stalled for tens of seconds). So the next refresh is a whole period after the last
    // one *ended* (`reset` below), and a missed tick never bursts.
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch = Batch::default();
    let mut committed = BTreeMap::new();
    let mut last_listed = Instant::now();
    loop {
        let deadline = batch.first_at.map(|at| at + config.batch_max_wait);
        let ready = tokio::select! {
            biased;
            () = &mut shutdown => break,
            _ = refresh.tick() => {
                if caught_up(config.stop_at.as_ref(), &committed) {
                    break;
                }
                if subscribe_to_new_topics(&consumer, config, &mut topics).await? {
                    last_listed = Instant::now();
                } else if last_listed.elapsed() >= config.kafka_lost_after {
                    tracing::error!(
                        after = ?config.kafka_lost_after,
                        "the Kafka client has not reached the cluster for too long; restarting it"
                    );
                    return Err(KafkaError::MetadataFetch(RDKafkaErrorCode::BrokerTransportFailure).into());
                }
                refresh.reset();
                false
            }
            () = sleep_until(deadline), if deadline.is_some() => true,
            message = consumer.recv(), if !topics.is_empty() => {
                let message = match message {
                    Ok(message) => message,
                    Err(error) => {
                        tracing::warn!(%error, "consuming failed; going on");
                        continue;
                    }
                };
                take_revoked(&consumer, &mut batch);
                batch.push(&message);
                batch.records.len() + batch.dead.len() >= config.batch_max_records
            }
        };
        if ready && !batch.is_empty() {
            let done = apply(
                &mut sink,
                config,
                &health,
                &producer,
                &mut batch,
                &mut shutdown,
            )
            .await?;
            if !done {
                break;
            }
            commit(&consumer, &batch, &mut committed, CommitMode::Async)?;
            batch = Batch::default();
            if caught_up(config.stop_at.as_ref(), &committed) {
                break;
            }
        }
    }
    // Shutting down: commit what was applied, abandon what was only buffered.
    if !committed.is_empty() {
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in &committed {
            offsets.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
        }
        if let Err(error) = consumer.commit(&offsets, CommitMode::Sync) {
            tracing::warn!(%error, "the final commit failed; the last batch will be applied again");
        }
    }
    consumer.unsubscribe();
    Ok(())
}

/// Whether every target partition's committed offset reached its target.
fn caught_up(
    targets: Option<&BTreeMap<(String, i32), i64>>,
    committed: &BTreeMap<(String, i32), i64>,
) -> bool {
    targets.is_some_and(|targets| {
        targets
            .iter()
            .all(|(partition, target)| committed.get(partition).copied().unwrap_or(0) >= *target)
    })
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Drops buffered records of partitions revoked since the last look.
fn take_revoked(consumer: &StreamConsumer<Context>, batch: &mut Batch) {
    let revoked = std::mem::take(
        &mut *consumer
            .context()
            .revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    if !revoked.is_empty() {
        batch.drop_partitions(&revoked);
    }
}

/// Applies the batch (retrying while the store fails), dead-letters what it refused and
/// records the metrics. Returns false when shutdown interrupted the retries.
async fn apply<S: Sink>(
    sink: &mut S,
    config: &RuntimeConfig,
    health: &Health,
    producer: &FutureProducer,
    batch: &mut Batch,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<bool, RuntimeError> {
    let kind = sink.kind();
    let started = Instant::now();
    let mut backoff = Backoff::new(config.retry_initial, config.retry_max);
    let applied = loop {
        if batch.records.is_empty() {
            break Applied::default();
        }
        match sink.apply(&batch.records).await {
            Ok(applied) => {
                health.store_ok.store(true, Ordering::Relaxed);
                break applied;
            }
            Err(SinkError::Retryable(reason)) => {
                health.store_ok.store(false, Ordering::Relaxed);
                metrics::counter!(observe::RETRIES_TOTAL, "sink" => kind).increment(1);
                let delay = backoff.next_delay();
                tracing::warn!(%reason, retry_in = ?delay, records = batch.records.len(), "applying a batch failed; nothing is committed, retrying");
                tokio::select! {
                    () = shutdown.as_mut() => return Ok(false),
                    () = tokio::time::sleep(delay) => {}
                }
            }
            Err(permanent) => return Err(RuntimeError::Sink(permanent)),
        }
    };
    let mut rejected = vec![false; batch.records.len()];
    for rejection in applied.rejected {
        let Some(record) = batch.records.get(rejection.index) else {
            continue;
        };
        rejected[rejection.index] = true;
        let raw = &batch.raws[rejection.index];
        batch.dead.push(DeadLetter {
            raw: Raw {
                key: raw.key.clone(),
                payload: raw.payload.clone(),
                headers: raw.headers.clone(),
            },
            origin: record.origin.clone(),
            class: "rejected",
            reason: rejection.reason,
        });
    }
    dead_letter(kind, config, producer, &batch.dead, shutdown).await?;

    let now = unix_micros();
    for (record, rejected) in batch.records.iter().zip(rejected) {
        if rejected {
            continue;
        }
        let op = headers::op_value(record.op());
        metrics::counter!(observe::EVENTS_APPLIED_TOTAL,
            "sink" => kind, "table" => record.table().to_string(), "op" => op)
        .increment(1);
        let committed_at = record.commit_time_micros();
        if record.op() != Op::Read && committed_at > 0 {
            metrics::histogram!(observe::FRESHNESS_SECONDS, "sink" => kind)
                .record((now - committed_at).max(0) as f64 / 1e6);
        }
    }
    metrics::histogram!(observe::BATCH_RECORDS, "sink" => kind).record(batch.records.len() as f64);
    metrics::histogram!(observe::BATCH_SECONDS, "sink" => kind)
        .record(started.elapsed().as_secs_f64());
    Ok(true)
}

/// Produces the dead letters and waits until Kafka acknowledged every one, retrying
/// while it fails: the offsets behind them are committed next.
async fn dead_letter(
    kind: &'static str,
    config: &RuntimeConfig,
    producer: &FutureProducer,
    dead: &[DeadLetter],
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<(), RuntimeError> {
    let mut backoff = Backoff::new(config.retry_initial, config.retry_max);
    'letters: for letter in dead {
        tracing::warn!(topic = %letter.origin.topic, partition = letter.origin.partition,
            offset = letter.origin.offset, class = letter.class, reason = %letter.reason,
            "dead-lettering a record");
        loop {
            let partition = letter.origin.partition.to_string();
            let offset = letter.origin.offset.to_string();
            let time = unix_micros().to_string();
            let mut headers = OwnedHeaders::new_with_capacity(letter.raw.headers.len() + 7);
            for (key, value) in &letter.raw.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            for (key, value) in [
                (headers::DLQ_REASON, letter.reason.as_str()),
                (headers::DLQ_ERROR_CLASS, letter.class),
                (headers::DLQ_SINK, kind),
                (headers::DLQ_TOPIC, letter.origin.topic.as_str()),
                (headers::DLQ_PARTITION, partition.as_str()),
                (headers::DLQ_OFFSET, offset.as_str()),
                (headers::DLQ_TIME_MICROS, time.as_str()),
            ] {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&config.dead_letter_topic).headers(headers);
            if let Some(key) = &letter.raw.key {
                record = record.key(key.as_slice());
            }
            if let Some(payload) = &letter.raw.payload {
                record = record.payload(payload.as_slice());
            }
            match producer.send(record, Duration::from_secs(30)).await {
                Ok(_) => {
                    metrics::counter!(observe::DEAD_LETTERED_TOTAL, "sink" => kind, "class" => letter.class)
                        .increment(1);
                    continue 'letters;
                }
                Err((error, _)) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, retry_in = ?delay, "the dead-letter topic refused a record; retrying");
                    tokio::select! {
                        () = shutdown.as_mut() => return Ok(()),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
    Ok(())
}

/// Commits the offsets after the batch's last record of each partition.
fn commit(
    consumer: &StreamConsumer<Context>,
    batch: &Batch,
    committed: &mut BTreeMap<(String, i32), i64>,
    mode: CommitMode,
) -> Result<(), RuntimeError> {
    let mut offsets = TopicPartitionList::new();
    for ((topic, partition), offset) in &batch.offsets {
        offsets.add_partition_offset(topic, *partition, Offset::Offset(offset + 1))?;
        committed.insert((topic.clone(), *partition), offset + 1);
    }
    if let Err(error) = consumer.commit(&offsets, mode) {
        // A rebalance took the partitions meanwhile: their next owner applies the batch again.
        tracing::warn!(%error, "committing offsets failed; the batch may be applied again");
    }
    Ok(())
}

/// Subscribes to the prefix's table topics when there are new ones. `Ok(false)` when the
/// cluster could not be asked this time.
async fn subscribe_to_new_topics(
    consumer: &Arc<StreamConsumer<Context>>,
    config: &RuntimeConfig,
    topics: &mut BTreeSet<String>,
) -> Result<bool, RuntimeError> {
    let prefix = config.topic_prefix.as_str();
    if let Some(listed) = &config.topics {
        if topics.is_empty() && !listed.is_empty() {
            topics.extend(listed.iter().cloned());
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            consumer.subscribe(&names)?;
        }
        return Ok(true);
    }
    // `fetch_metadata` blocks the calling thread until the broker answers, and the broker
    // answers a connection's requests in order: behind the consumer's own fetch long-poll,
    // so a listing takes up to `fetch.wait.max.ms` (500 ms by default). On the async task it
    // stalled the executor thread that long on every refresh, starving this consumer's
    // `recv` and every other task on that thread (another consumer of the group: its
    // partitions stopped moving). It runs on the blocking pool instead.
    let lister = Arc::clone(consumer);
    let listed = tokio::task::spawn_blocking(move || {
        lister
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .map(|t| t.name().to_owned())
                    .collect::<Vec<_>>()
            })
    })
    .await;
    let names = match listed {
        Ok(Ok(names)) => names,
        Ok(Err(error)) => {
            tracing::warn!(%error, "listing topics failed; trying again later");
            return Ok(false);
        }
        Err(error) => {
            tracing::warn!(%error, "listing topics failed; trying again later");
            return Ok(false);
        }
    };
    let found: BTreeSet<String> = names
        .into_iter()
        .filter(|name| parse_table_topic(prefix, name).is_some())
        .collect();
    if !found.is_subset(topics) || topics.is_empty() && !found.is_empty() {
        topics.extend(found);
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        tracing::info!(topics = names.len(), "subscribed to the table topics");
    }
    Ok(true)
}

/// Creates `topic` (for dead letters) unless it exists.
async fn ensure_topic(bootstrap: &str, topic: &str) -> Result<(), RuntimeError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let results = admin
        .create_topics(
            [&NewTopic::new(topic, 1, TopicReplication::Fixed(-1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(KafkaError::AdminOp(code).into()),
        }
    }
    Ok(())
}

fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_and_versionless_events_are_refused_with_a_reason() {
        assert!(
            decode(b"\xff\xff\xff")
                .unwrap_err()
                .contains("not a sluice.v1.ChangeEvent")
        );
        let versionless = ChangeEvent {
            op: Op::Create as i32,
            ..Default::default()
        };
        assert!(
            decode(&versionless.encode_to_vec())
                .unwrap_err()
                .contains("no source version")
        );
    }
}
