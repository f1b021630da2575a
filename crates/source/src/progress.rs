//! How far the initial snapshot got, kept in Kafka so that a source restarted anywhere (a
//! new pod has no local disk to remember it by) resumes the snapshot instead of starting
//! over.
//!
//! The record lives in the compacted topic `<prefix>.sluice-snapshots`, keyed by slot, as
//! JSON so an operator can read it with any Kafka tool. It is written only after Kafka
//! acknowledged every `read` event it claims, so a crash can only make the source re-read
//! a chunk, never skip one. Reading it back means reading that one-partition topic to its
//! end and keeping the slot's last record.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use sluice_event::partition;

use crate::publish::{PublishError, Publisher, Record};

/// One slot's snapshot, as far as it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotProgress {
    /// The slot the snapshot belongs to.
    pub slot: String,
    /// The version (an LSN) every `read` event of this snapshot carries: the slot's
    /// consistent point, or its confirmed position when the slot already existed.
    pub version: u64,
    /// When the snapshot started, in microseconds since the Unix epoch.
    pub started_at_micros: i64,
    /// Whether every table was read to its end.
    pub done: bool,
    /// The tables to read, in order.
    pub tables: Vec<TableProgress>,
}

/// One table of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableProgress {
    /// The table's schema.
    pub schema: String,
    /// The table's name.
    pub table: String,
    /// Whether the table was read to its end.
    pub done: bool,
    /// Rows published so far.
    pub rows: u64,
    /// The chunk key (PostgreSQL text of each key column) of the last row published; the
    /// next chunk starts after it. `None` before the first chunk, and always for a table
    /// without a key (which is re-read whole after a crash).
    pub after: Option<Vec<String>>,
}

impl SnapshotProgress {
    /// The first table not read to its end.
    pub fn current_table(&mut self) -> Option<&mut TableProgress> {
        self.tables.iter_mut().find(|t| !t.done)
    }
}

/// Why the progress record cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// Kafka failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The progress topic could not be read to its end in time.
    #[error(
        "reading the snapshot progress topic {topic} took longer than {after:?}; is Kafka healthy?"
    )]
    Timeout {
        /// The progress topic.
        topic: String,
        /// How long the source waited.
        after: Duration,
    },
    /// The record is not what this source writes.
    #[error(
        "the snapshot progress record of slot {slot:?} in {topic} is not valid JSON ({source}); \
         delete it (or set snapshot.mode) to start the snapshot over"
    )]
    Corrupt {
        /// The slot.
        slot: String,
        /// The progress topic.
        topic: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Reads and writes one slot's record in the progress topic.
pub struct ProgressStore {
    topic: String,
    slot: String,
}

impl ProgressStore {
    /// The store of `slot`'s progress in `topic`, created (compacted) if absent.
    pub async fn open(
        publisher: &mut Publisher,
        topic: String,
        slot: &str,
    ) -> Result<Self, ProgressError> {
        publisher.ensure_compacted_topic(&topic).await?;
        Ok(Self {
            topic,
            slot: slot.to_owned(),
        })
    }

    /// The slot's last record, if any.
    pub async fn load(
        &self,
        publisher: &Publisher,
    ) -> Result<Option<SnapshotProgress>, ProgressError> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", publisher.bootstrap_servers());
        let topic = self.topic.clone();
        let slot = self.slot.clone();
        tokio::task::spawn_blocking(move || read_progress(client, &topic, &slot))
            .await
            .map_err(|_| PublishError::Client(rdkafka::error::KafkaError::Canceled))?
    }

    /// Writes `progress` and waits until Kafka acknowledged it.
    pub async fn save(
        &self,
        publisher: &Publisher,
        progress: &SnapshotProgress,
    ) -> Result<(), ProgressError> {
        let payload = serde_json::to_vec(progress).map_err(|source| ProgressError::Corrupt {
            slot: self.slot.clone(),
            topic: self.topic.clone(),
            source,
        })?;
        let delivery = publisher
            .send(&Record {
                topic: &self.topic,
                partition: Some(0),
                key: self.slot.as_bytes(),
                payload: Some(&payload),
                headers: &[],
            })
            .await?;
        delivery.await?;
        Ok(())
    }
}

/// `slot`'s last record in the progress `topic` (blocking), read by a consumer made from
/// `client` (`bootstrap.servers` and whatever else the cluster needs, such as its security
/// settings): what [`ProgressStore::load`] reads, and what `sluice status` reports. The
/// consumer only reads an assigned partition; it neither joins its group nor commits.
///
/// # Errors
///
/// [`ProgressError::Timeout`] when the topic cannot be read to its end within 30 s,
/// [`ProgressError::Corrupt`] when the record is not a [`SnapshotProgress`], and Kafka's
/// errors.
pub fn read_progress(
    client: ClientConfig,
    topic: &str,
    slot: &str,
) -> Result<Option<SnapshotProgress>, ProgressError> {
    last_record(client, topic, slot)?
        .map(|payload| {
            serde_json::from_slice(&payload).map_err(|source| ProgressError::Corrupt {
                slot: slot.to_owned(),
                topic: topic.to_owned(),
                source,
            })
        })
        .transpose()
}

/// The value of the last record keyed `slot` in partition 0 of `topic` (blocking).
fn last_record(
    mut client: ClientConfig,
    topic: &str,
    slot: &str,
) -> Result<Option<Vec<u8>>, ProgressError> {
    let timeout = Duration::from_secs(30);
    let consumer: BaseConsumer = client
        .set("group.id", "sluice-snapshot-progress-reader")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(PublishError::Client)?;
    let deadline = std::time::Instant::now() + timeout;
    let (low, high) =
        partition::watermarks(&consumer, topic, 0, timeout).map_err(PublishError::Client)?;
    if high <= low {
        return Ok(None);
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Offset(low))
        .map_err(PublishError::Client)?;
    consumer.assign(&assignment).map_err(PublishError::Client)?;
    let mut last = None;
    loop {
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            if std::time::Instant::now() > deadline {
                return Err(ProgressError::Timeout {
                    topic: topic.to_owned(),
                    after: timeout,
                });
            }
            continue;
        };
        let message = message.map_err(PublishError::Client)?;
        // A record without a value (a tombstone) forgets the slot's progress.
        if message.key() == Some(slot.as_bytes()) {
            last = message.payload().map(<[u8]>::to_vec);
        }
        if message.offset() >= high - 1 {
            return Ok(last);
        }
    }
}
