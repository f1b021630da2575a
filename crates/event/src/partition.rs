//! A partition's ends, asked of a cluster that may be electing its leader.
//!
//! A topic created a moment ago, or a broker that has just restarted, leaves partitions
//! without a leader for a while, and asking for their offsets then fails with
//! `NotLeaderForPartition`, `LeaderNotAvailable` or `Unknown[Topic]Partition`. Those
//! answers mean "not yet", not "never": [`watermarks`] waits them out within its timeout,
//! so every Sluice process (and test) reads the ends the same way and none of them treats
//! an election as a failure.

use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// How long to wait between two attempts while a partition has no leader.
const RETRY_EVERY: Duration = Duration::from_millis(200);

/// The low and high watermarks of `topic`/`partition` (blocking): the offset of its first
/// record and the offset the next record will get. An election in progress is retried
/// until `timeout` has passed; any other error is returned at once.
pub fn watermarks<C, K>(
    consumer: &K,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<(i64, i64), KafkaError>
where
    C: ConsumerContext + ClientContext,
    K: Consumer<C>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match consumer.fetch_watermarks(topic, partition, left.max(RETRY_EVERY)) {
            Err(error) if is_leaderless(&error) && Instant::now() + RETRY_EVERY < deadline => {
                std::thread::sleep(RETRY_EVERY);
            }
            answer => return answer,
        }
    }
}

/// Whether `error` says the partition has no leader yet (or is not known yet), which a
/// moment's wait cures.
pub fn is_leaderless(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownPartition
        )
    )
}
