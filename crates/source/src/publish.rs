//! Publishing change events to Kafka, and knowing which WAL position is safe to confirm.
//!
//! ```text
//!  events of txn 1 ──send──▶ ┌──────────── in flight, in WAL order ────────────┐
//!  commit marker 1 ─────────▶│ ev ev ev C1 ev ev C2 ev ...                      │──▶ confirmed LSN
//!  events of txn 2 ──send──▶ └──────────────────────────────────────────────────┘
//!                             front is popped only when its delivery is acknowledged
//! ```
//!
//! # Progress tracking
//!
//! Kafka acknowledges records per partition, so deliveries complete out of order. The
//! [`AckTracker`] keeps every in-flight delivery and one commit marker per transaction in
//! the order they were produced, and releases the front only once it is acknowledged. A
//! commit marker reaching the front therefore means that every event of its transaction
//! and of all earlier ones is on Kafka (idempotent producer, `acks=all`), which is exactly
//! when its end LSN may be reported to PostgreSQL as flushed. Reporting it earlier could
//! lose the transaction in a crash; reporting it later only costs WAL retention.
//!
//! # Backpressure
//!
//! The tracker holds at most `max_in_flight` deliveries. When it is full the source stops
//! reading WAL and only drains acknowledgements (while still sending status updates, so
//! the walsender does not time out); nothing buffers without bound, and a slow or absent
//! Kafka slows the reader down rather than filling memory.
//!
//! # Error handling
//!
//! The producer retries transient failures itself (idempotence keeps retries from
//! duplicating or reordering). A delivery that fails anyway is fatal for this run: the
//! source stops without confirming anything past the failed event, and a restart replays
//! from the last confirmed LSN. Nothing is skipped.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use sluice_pgoutput::Lsn;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Kafka refused or lost a record after the producer's own retries.
    #[error(
        "Kafka did not accept a record for {topic}: {source}; nothing past it is confirmed, a restart replays it"
    )]
    Delivery {
        /// The record's topic.
        topic: String,
        /// Kafka's error.
        #[source]
        source: KafkaError,
    },
    /// The producer was dropped before it reported a delivery.
    #[error("the Kafka producer shut down before acknowledging a record for {topic}")]
    Canceled {
        /// The record's topic.
        topic: String,
    },
    /// The producer or admin client could not be created, or a topic not made.
    #[error("Kafka client error: {0}")]
    Client(#[source] KafkaError),
}

/// An entry of the tracker: a delivery in flight, or the end of a transaction.
enum Pending<F> {
    Event(F),
    Commit(Lsn),
}

/// In-flight deliveries and commit markers in WAL order; see the module docs.
pub struct AckTracker<F> {
    queue: VecDeque<Pending<F>>,
    events_in_flight: usize,
}

impl<F> Default for AckTracker<F> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            events_in_flight: 0,
        }
    }
}

impl<F> AckTracker<F>
where
    F: Future<Output = Result<(), PublishError>> + Unpin,
{
    /// Adds a delivery, after every entry already tracked.
    pub fn push_event(&mut self, delivery: F) {
        self.queue.push_back(Pending::Event(delivery));
        self.events_in_flight += 1;
    }

    /// Marks the end of a transaction whose events were all pushed: once they and all
    /// earlier entries are acknowledged, [`Self::next_confirmed`] yields `end_lsn`.
    pub fn push_commit(&mut self, end_lsn: Lsn) {
        self.queue.push_back(Pending::Commit(end_lsn));
    }

    /// Deliveries not yet acknowledged.
    pub fn events_in_flight(&self) -> usize {
        self.events_in_flight
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next commit whose transaction and all earlier ones are fully acknowledged.
    /// Pending forever when nothing is tracked, and also once every tracked delivery is
    /// acknowledged with no commit after them (an open transaction): a caller that must
    /// notice room for more deliveries waits with [`Self::next_room`] instead.
    /// Cancel-safe: the deliveries stay queued.
    pub fn next_confirmed(&mut self) -> impl Future<Output = Result<Lsn, PublishError>> + '_ {
        std::future::poll_fn(move |cx| self.poll_next_confirmed(cx))
    }

    /// Waits until a commit is at the front (`Some` of its LSN, which the caller must not
    /// lose) or fewer than `limit` deliveries are in flight (`None`), whichever comes first:
    /// what a reader paused by the in-flight bound waits for. Cancel-safe.
    pub fn next_room(
        &mut self,
        limit: usize,
    ) -> impl Future<Output = Result<Option<Lsn>, PublishError>> + '_ {
        std::future::poll_fn(move |cx| self.poll_next_room(cx, limit))
    }

    fn poll_next_room(
        &mut self,
        cx: &mut Context<'_>,
        limit: usize,
    ) -> Poll<Result<Option<Lsn>, PublishError>> {
        loop {
            match self.queue.front_mut() {
                Some(Pending::Commit(lsn)) => {
                    let lsn = *lsn;
                    self.queue.pop_front();
                    return Poll::Ready(Ok(Some(lsn)));
                }
                _ if self.events_in_flight < limit => return Poll::Ready(Ok(None)),
                None => return Poll::Ready(Ok(None)),
                Some(Pending::Event(delivery)) => match Pin::new(delivery).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => {
                        self.queue.pop_front();
                        self.events_in_flight -= 1;
                        result?;
                    }
                },
            }
        }
    }

    fn poll_next_confirmed(&mut self, cx: &mut Context<'_>) -> Poll<Result<Lsn, PublishError>> {
        loop {
            match self.queue.front_mut() {
                None => return Poll::Pending,
                Some(Pending::Commit(lsn)) => {
                    let lsn = *lsn;
                    self.queue.pop_front();
                    return Poll::Ready(Ok(lsn));
                }
                Some(Pending::Event(delivery)) => match Pin::new(delivery).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => {
                        self.queue.pop_front();
                        self.events_in_flight -= 1;
                        result?;
                    }
                },
            }
        }
    }
}

/// A Kafka delivery report, as the tracker wants it.
pub struct Delivery {
    topic: String,
    inner: DeliveryFuture,
}

impl Future for Delivery {
    type Output = Result<(), PublishError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.inner).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Ok(_))) => Poll::Ready(Ok(())),
            Poll::Ready(Ok(Err((source, _)))) => Poll::Ready(Err(PublishError::Delivery {
                topic: self.topic.clone(),
                source,
            })),
            Poll::Ready(Err(_canceled)) => Poll::Ready(Err(PublishError::Canceled {
                topic: self.topic.clone(),
            })),
        }
    }
}

/// A record to publish: topic, key, value and headers.
pub struct Record<'a> {
    /// The table's topic.
    pub topic: &'a str,
    /// A partition of the topic, or `None` to let the key choose one.
    pub partition: Option<i32>,
    /// The canonical key encoding; decides the partition.
    pub key: &'a [u8],
    /// The encoded event; `None` for a tombstone.
    pub payload: Option<&'a [u8]>,
    /// Headers (content type, version, op).
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// Kafka connection settings of the source.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// Partitions of topics the source creates.
    pub partitions: i32,
    /// Replication factor of topics the source creates.
    pub replication_factor: i32,
    /// Extra librdkafka producer properties (e.g. `compression.type`, `linger.ms`).
    pub producer_properties: Vec<(String, String)>,
}

/// The idempotent producer and the admin client that creates topics on first use.
pub struct Publisher {
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    settings: KafkaSettings,
    known_topics: std::collections::HashSet<String>,
}

impl Publisher {
    /// Creates the clients. Idempotence (and so `acks=all`) is not optional.
    pub fn new(settings: KafkaSettings) -> Result<Self, PublishError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.bootstrap_servers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            // No compression by default (Kafka's and Kafka Connect's own default). The
            // producer compresses every batch on its single broker thread, and LZ4 gains
            // nothing on already dense values (hashes, ids, encrypted or pre-compressed
            // text) while costing CPU the walsender and broker also need: on the "mixed"
            // benchmark (TOASTed 4-8 KB text, bench-vs-recvlogical.sh mixed 50000, 2 cores)
            // `lz4` compressed to 0.997 of the input, took over a quarter of the source's
            // CPU (2.8 s against 2.0 s) and 10-20% of its throughput (0.71x against
            // 0.75-0.85x pg_recvlogical). Where the network or the brokers' disks are the
            // bottleneck and the values do compress, set
            // `kafka.producer."compression.type" = "lz4"`.
            .set("compression.type", "none")
            .set("queue.buffering.max.messages", "1000000");
        for (key, value) in &settings.producer_properties {
            config.set(key, value);
        }
        let producer: FutureProducer = config.create().map_err(PublishError::Client)?;
        let admin = ClientConfig::new()
            .set("bootstrap.servers", &settings.bootstrap_servers)
            .create()
            .map_err(PublishError::Client)?;
        Ok(Self {
            producer,
            admin,
            settings,
            known_topics: Default::default(),
        })
    }

    /// Creates `topic` with the configured partitions unless it exists.
    pub async fn ensure_topic(&mut self, topic: &str) -> Result<(), PublishError> {
        if self.known_topics.contains(topic) {
            return Ok(());
        }
        self.create_topic(NewTopic::new(
            topic,
            self.settings.partitions,
            TopicReplication::Fixed(self.settings.replication_factor),
        ))
        .await?;
        self.known_topics.insert(topic.to_owned());
        Ok(())
    }

    /// Creates `topic` as a compacted topic of one partition unless it exists: for the
    /// source's own state, where only the last record of each key matters.
    pub async fn ensure_compacted_topic(&mut self, topic: &str) -> Result<(), PublishError> {
        if self.known_topics.contains(topic) {
            return Ok(());
        }
        let new_topic = NewTopic::new(
            topic,
            1,
            TopicReplication::Fixed(self.settings.replication_factor),
        )
        .set("cleanup.policy", "compact");
        self.create_topic(new_topic).await?;
        self.known_topics.insert(topic.to_owned());
        Ok(())
    }

    async fn create_topic(&self, topic: NewTopic<'_>) -> Result<(), PublishError> {
        let results = self
            .admin
            .create_topics(
                [&topic],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
            )
            .await
            .map_err(PublishError::Client)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(PublishError::Client(KafkaError::AdminOp(code)));
                }
            }
        }
        Ok(())
    }

    /// The bootstrap servers, for clients that read back what the source wrote.
    pub fn bootstrap_servers(&self) -> &str {
        &self.settings.bootstrap_servers
    }

    /// The number of partitions of `topic`, from the cluster's metadata. A topic created a
    /// moment ago may not be in the metadata yet; that is waited out (up to 30 s), never
    /// taken for one partition, which would send an event meant for every partition to
    /// only the first.
    pub async fn partitions(&self, topic: &str) -> Result<i32, PublishError> {
        let producer = self.producer.clone();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let metadata = producer
                    .client()
                    .fetch_metadata(Some(&topic), Duration::from_secs(30))?;
                let known = metadata.topics().first().filter(|t| t.error().is_none());
                match known.map(|t| t.partitions().len()) {
                    Some(count) if count > 0 => return Ok(i32::try_from(count).unwrap_or(i32::MAX)),
                    _ if Instant::now() >= deadline => {
                        return Err(KafkaError::MetadataFetch(
                            RDKafkaErrorCode::UnknownTopicOrPartition,
                        ));
                    }
                    _ => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        })
        .await
        .map_err(|_| PublishError::Client(KafkaError::Canceled))?
        .map_err(PublishError::Client)
    }

    /// Hands a record to the producer without waiting for Kafka. When the producer's
    /// queue is full this waits for room, so callers are slowed, never unbounded.
    pub async fn send(&self, record: &Record<'_>) -> Result<Delivery, PublishError> {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in record.headers {
            headers = headers.insert(Header {
                key,
                value: Some(*value),
            });
        }
        let mut future_record = FutureRecord::to(record.topic)
            .key(record.key)
            .headers(headers);
        if let Some(partition) = record.partition {
            future_record = future_record.partition(partition);
        }
        if let Some(payload) = record.payload {
            future_record = future_record.payload(payload);
        }
        loop {
            match self.producer.send_result(future_record) {
                Ok(inner) => {
                    return Ok(Delivery {
                        topic: record.topic.to_owned(),
                        inner,
                    });
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    future_record = returned;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((source, _)) => {
                    return Err(PublishError::Delivery {
                        topic: record.topic.to_owned(),
                        source,
                    });
                }
            }
        }
    }

    /// Waits until every queued record is delivered or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), PublishError> {
        self.producer.flush(timeout).map_err(PublishError::Client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    /// A delivery the test completes by hand.
    struct Manual(oneshot::Receiver<Result<(), ()>>);

    impl Future for Manual {
        type Output = Result<(), PublishError>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            Pin::new(&mut self.0).poll(cx).map(|r| match r {
                Ok(Ok(())) => Ok(()),
                _ => Err(PublishError::Canceled {
                    topic: "test".into(),
                }),
            })
        }
    }

    fn manual() -> (oneshot::Sender<Result<(), ()>>, Manual) {
        let (tx, rx) = oneshot::channel();
        (tx, Manual(rx))
    }

    fn ready(tracker: &mut AckTracker<Manual>) -> Option<Result<Lsn, PublishError>> {
        let waker = std::task::Waker::noop();
        match tracker.poll_next_confirmed(&mut Context::from_waker(waker)) {
            Poll::Ready(r) => Some(r),
            Poll::Pending => None,
        }
    }

    #[test]
    fn a_commit_is_confirmed_only_after_every_earlier_delivery() {
        let mut tracker = AckTracker::default();
        let (a1, d1) = manual();
        let (a2, d2) = manual();
        let (b1, e1) = manual();
        tracker.push_event(d1);
        tracker.push_event(d2);
        tracker.push_commit(Lsn(100));
        tracker.push_event(e1);
        tracker.push_commit(Lsn(200));
        assert_eq!(tracker.events_in_flight(), 3);

        // Out-of-order acknowledgements: the later transaction first.
        b1.send(Ok(())).unwrap();
        a2.send(Ok(())).unwrap();
        assert!(
            ready(&mut tracker).is_none(),
            "the first event is not acknowledged"
        );
        a1.send(Ok(())).unwrap();
        assert_eq!(ready(&mut tracker).unwrap().unwrap(), Lsn(100));
        assert_eq!(ready(&mut tracker).unwrap().unwrap(), Lsn(200));
        assert!(ready(&mut tracker).is_none());
        assert!(tracker.is_empty());
        assert_eq!(tracker.events_in_flight(), 0);
    }

    #[test]
    fn a_failed_delivery_stops_confirmation_before_it() {
        let mut tracker = AckTracker::default();
        let (a1, d1) = manual();
        let (a2, d2) = manual();
        tracker.push_event(d1);
        tracker.push_commit(Lsn(100));
        tracker.push_event(d2);
        tracker.push_commit(Lsn(200));
        a1.send(Ok(())).unwrap();
        a2.send(Err(())).unwrap();
        assert_eq!(ready(&mut tracker).unwrap().unwrap(), Lsn(100));
        assert!(ready(&mut tracker).unwrap().is_err());
    }

    fn room(tracker: &mut AckTracker<Manual>, limit: usize) -> Option<Option<Lsn>> {
        let waker = std::task::Waker::noop();
        match tracker.poll_next_room(&mut Context::from_waker(waker), limit) {
            Poll::Ready(r) => Some(r.unwrap()),
            Poll::Pending => None,
        }
    }

    #[test]
    fn room_comes_when_enough_deliveries_are_acknowledged_mid_transaction() {
        let mut tracker = AckTracker::default();
        let (a1, d1) = manual();
        let (a2, d2) = manual();
        tracker.push_event(d1);
        tracker.push_event(d2);
        assert_eq!(room(&mut tracker, 3), Some(None), "below the bound already");
        assert_eq!(room(&mut tracker, 2), None, "full: waits");
        a1.send(Ok(())).unwrap();
        assert_eq!(room(&mut tracker, 2), Some(None));
        // Every delivery acknowledged, no commit yet: room, not a hang.
        a2.send(Ok(())).unwrap();
        assert_eq!(room(&mut tracker, 1), Some(None));
        assert!(tracker.is_empty());
        // A commit at the front is handed over before room is reported.
        tracker.push_commit(Lsn(9));
        assert_eq!(room(&mut tracker, 1), Some(Some(Lsn(9))));
        assert_eq!(room(&mut tracker, 1), Some(None));
    }

    #[test]
    fn an_empty_transaction_is_confirmed_at_once() {
        let mut tracker: AckTracker<Manual> = AckTracker::default();
        tracker.push_commit(Lsn(7));
        assert_eq!(ready(&mut tracker).unwrap().unwrap(), Lsn(7));
    }
}
