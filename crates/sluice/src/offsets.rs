//! Where the sinks stand on Kafka: the ends of the topics' partitions and a consumer
//! group's committed offsets.
//!
//! ```text
//!  topic ──watermarks──▶ (low, high) per partition ─┐
//!  group ──OffsetFetch──▶ committed per partition ──┴─▶ verify: caught up?  status: lag
//! ```
//!
//! `sluice verify` waits until every sink committed up to the ends before it rechecks a
//! key, and `sluice status` reports the distance as lag: one way of reading both, so the
//! two commands never disagree about whether a sink caught up. A group's offsets are read
//! by a consumer that never subscribes: it neither joins the group (which would take a
//! running sink's partitions away) nor commits.
//!
//! Every call is a blocking librdkafka request: async callers run them on the blocking
//! pool or accept the wait.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::sink_config::SinkKafka;

/// How long one request to Kafka may take.
pub(crate) const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// One partition's ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionEnds {
    /// The topic.
    pub(crate) topic: String,
    /// The partition.
    pub(crate) partition: i32,
    /// The offset of its first record still kept.
    pub(crate) low: i64,
    /// The offset its next record will get.
    pub(crate) high: i64,
}

/// A client of the cluster of `kafka`: its brokers plus the `[kafka.consumer]` properties
/// (security settings among them), which every consumer of that cluster needs.
pub(crate) fn client_config(kafka: &SinkKafka) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.bootstrap_servers);
    for (key, value) in &kafka.consumer {
        config.set(key, &value.0);
    }
    config
}

/// A consumer that asks for metadata and watermarks only.
pub(crate) fn watcher(kafka: &SinkKafka) -> KafkaResult<BaseConsumer> {
    client_config(kafka).create()
}

/// The ends of every partition of `topics`, in order; a topic that does not exist has
/// no partition.
pub(crate) fn partition_ends(
    watcher: &BaseConsumer,
    topics: &[String],
) -> KafkaResult<Vec<PartitionEnds>> {
    let mut ends = Vec::new();
    for topic in topics {
        let metadata = watcher.fetch_metadata(Some(topic), KAFKA_TIMEOUT)?;
        let mut partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .map(|p| p.id())
            .collect();
        partitions.sort_unstable();
        for partition in partitions {
            let (low, high) =
                sluice_event::partition::watermarks(watcher, topic, partition, KAFKA_TIMEOUT)?;
            ends.push(PartitionEnds {
                topic: topic.clone(),
                partition,
                low,
                high,
            });
        }
    }
    Ok(ends)
}

/// A consumer that reads `group`'s committed offsets and nothing else: it never
/// subscribes, so it neither joins the group nor commits.
pub(crate) fn group_reader(kafka: &SinkKafka, group: &str) -> KafkaResult<BaseConsumer> {
    client_config(kafka)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
}

/// The reader's group's committed offset of each of `partitions` (in their order), `None`
/// where the group committed none.
pub(crate) fn committed(
    reader: &BaseConsumer,
    partitions: &[PartitionEnds],
) -> KafkaResult<Vec<Option<i64>>> {
    let mut list = TopicPartitionList::new();
    for end in partitions {
        list.add_partition(&end.topic, end.partition);
    }
    let committed = reader.committed_offsets(list, KAFKA_TIMEOUT)?;
    Ok(partitions
        .iter()
        .map(|end| {
            match committed
                .find_partition(&end.topic, end.partition)
                .map(|p| p.offset())
            {
                Some(Offset::Offset(at)) => Some(at),
                _ => None,
            }
        })
        .collect())
}
