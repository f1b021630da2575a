//! The runtime against a real Kafka, with a recording test store: offsets move only after
//! the store accepted a batch, retries repeat the batch, undecodable and refused records
//! land on the dead-letter topic with their reason, and a restarted group resumes after
//! what it committed.
//!
//! The store here is a test double on purpose: these tests are about the runtime's
//! contract with any store. The real stores' tests (Elasticsearch, Redis, Neo4j) run
//! through the same runtime against the real servers.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice_event::headers;
use sluice_event::v1::{self, ChangeEvent, Op};
use sluice_sink::runtime::{self, Health, RuntimeConfig};
use sluice_sink::{Applied, Record, Rejection, Sink, SinkError};
use sluice_testkit::{Server, address, unique_name};
use tokio::sync::oneshot;

/// What the test store saw, and how it misbehaves.
#[derive(Default)]
struct Seen {
    applied: Vec<String>,
    calls: usize,
}

struct TestStore {
    seen: Arc<Mutex<Seen>>,
    /// `apply` fails (retryably) this many times first.
    failures: usize,
    /// Keys the store refuses for good.
    refuse: BTreeSet<String>,
    /// How long each batch takes.
    delay: Duration,
}

impl Sink for TestStore {
    fn kind(&self) -> &'static str {
        "test"
    }

    async fn apply(&mut self, batch: &[Record]) -> Result<Applied, SinkError> {
        tokio::time::sleep(self.delay).await;
        let mut seen = self.seen.lock().unwrap();
        seen.calls += 1;
        if seen.calls <= self.failures {
            return Err(SinkError::Retryable("the test store is down".into()));
        }
        let mut applied = Applied::default();
        for (index, record) in batch.iter().enumerate() {
            if self.refuse.contains(record.key_text()) {
                applied.rejected.push(Rejection {
                    index,
                    reason: "the test store refuses this key".into(),
                });
            } else {
                seen.applied.push(record.key_text().to_owned());
            }
        }
        Ok(applied)
    }

    async fn check(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

fn event(id: i64) -> ChangeEvent {
    ChangeEvent {
        op: Op::Create as i32,
        source: Some(v1::Source {
            schema: "public".into(),
            table: "t".into(),
            version: 1000 + id as u64,
            commit_lsn: 1000 + id as u64,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn key(id: i64) -> String {
    format!("[\"{id}\"]")
}

/// A topic of two partitions holding 50 events, one undecodable record and a tombstone.
async fn topic_with_records(prefix: &str) -> (String, String) {
    let bootstrap = address(Server::Kafka).await.expect("kafka");
    let topic = format!("{prefix}.public.t");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    admin
        .create_topics(
            [&NewTopic::new(&topic, 2, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    for id in 1..=50 {
        let payload = event(id).encode_to_vec();
        let key = key(id);
        producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    producer
        .send(
            FutureRecord::to(&topic)
                .key("[\"x\"]")
                .partition(0)
                .payload(&b"\xff\x01 not protobuf"[..]),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    producer
        .send(
            FutureRecord::<str, [u8]>::to(&topic).key("[\"7\"]"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    (bootstrap, topic)
}

fn config(bootstrap: &str, prefix: &str, group: &str) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(bootstrap, prefix, "test").unwrap();
    config.group_id = group.to_owned();
    config.batch_max_records = 20;
    config.batch_max_wait = Duration::from_millis(100);
    config.retry_initial = Duration::from_millis(20);
    config.retry_max = Duration::from_millis(200);
    config.topic_refresh = Duration::from_millis(500);
    config
}

fn start(
    store: TestStore,
    config: RuntimeConfig,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), runtime::RuntimeError>>,
) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        runtime::run(store, &config, Arc::new(Health::default()), async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, task)
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what} within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The group's committed offsets per partition of `topic`, or `None` when Kafka did not
/// answer (a busy broker or a coordinator being elected: try again).
fn committed(bootstrap: &str, group: &str, topic: &str) -> Option<Vec<Offset>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition(topic, 0);
    partitions.add_partition(topic, 1);
    let committed = consumer
        .committed_offsets(partitions, Duration::from_secs(10))
        .ok()?;
    Some(committed.elements().iter().map(|e| e.offset()).collect())
}

/// The end of each partition of `topic`, or `None` when Kafka did not answer in time.
fn high_watermarks(bootstrap: &str, topic: &str) -> Option<Vec<Offset>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    (0..2)
        .map(|p| {
            let (_, high) =
                sluice_event::partition::watermarks(&consumer, topic, p, Duration::from_secs(10))
                    .ok()?;
            Some(Offset::Offset(high))
        })
        .collect()
}

/// A dead letter as read: key, payload, headers.
type Letter = (String, Vec<u8>, Vec<(String, String)>);

/// Every record of the dead-letter topic.
fn dead_letters(bootstrap: &str, topic: &str, count: usize) -> Vec<Letter> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut letters = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while letters.len() < count {
        assert!(
            Instant::now() < deadline,
            "{count} dead letters within 30 s"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        letters.push((
            String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            message.payload().unwrap_or_default().to_vec(),
            headers,
        ));
    }
    letters
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

#[tokio::test]
async fn batches_are_retried_committed_after_success_and_refusals_dead_lettered() {
    let prefix = unique_name("rt_apply");
    let (bootstrap, topic) = topic_with_records(&prefix).await;
    let group = unique_name("rt_group");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let store = TestStore {
        seen: seen.clone(),
        failures: 2,
        refuse: BTreeSet::from([key(13)]),
        delay: Duration::ZERO,
    };
    let (stop, task) = start(store, config(&bootstrap, &prefix, &group));
    wait_for("every event applied", || {
        let seen = seen.lock().unwrap();
        seen.applied.iter().collect::<BTreeSet<_>>().len() == 49
    })
    .await;
    let dead_letter_topic = format!("{prefix}.sluice-dead-letter.test");
    let letters = dead_letters(&bootstrap, &dead_letter_topic, 2);
    wait_for("the offsets committed to the end", || {
        committed(&bootstrap, &group, &topic)
            .is_some_and(|committed| high_watermarks(&bootstrap, &topic) == Some(committed))
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();

    // The store failed twice first: the same records came again, none skipped.
    assert!(seen.lock().unwrap().calls >= 3);
    let undecodable = letters
        .iter()
        .find(|(_, _, h)| header(h, headers::DLQ_ERROR_CLASS) == "undecodable")
        .expect("the undecodable record");
    assert_eq!(undecodable.0, "[\"x\"]");
    assert_eq!(
        undecodable.1, b"\xff\x01 not protobuf",
        "the original bytes"
    );
    assert!(header(&undecodable.2, headers::DLQ_REASON).contains("not a sluice.v1.ChangeEvent"));
    assert_eq!(header(&undecodable.2, headers::DLQ_TOPIC), topic);
    assert_eq!(header(&undecodable.2, headers::DLQ_PARTITION), "0");
    assert_eq!(header(&undecodable.2, headers::DLQ_SINK), "test");
    let refused = letters
        .iter()
        .find(|(_, _, h)| header(h, headers::DLQ_ERROR_CLASS) == "rejected")
        .expect("the refused record");
    assert_eq!(refused.0, key(13));
    assert_eq!(refused.1, event(13).encode_to_vec());
    assert_eq!(
        header(&refused.2, headers::DLQ_REASON),
        "the test store refuses this key"
    );
    assert!(
        header(&refused.2, headers::DLQ_OFFSET)
            .parse::<i64>()
            .is_ok()
    );

    // A restart of the group resumes after its commits: nothing is applied again.
    let seen_again = Arc::new(Mutex::new(Seen::default()));
    let store = TestStore {
        seen: seen_again.clone(),
        failures: 0,
        refuse: BTreeSet::new(),
        delay: Duration::ZERO,
    };
    let (stop, task) = start(store, config(&bootstrap, &prefix, &group));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert!(seen_again.lock().unwrap().applied.is_empty());
}

#[tokio::test]
async fn a_store_that_keeps_failing_commits_nothing_and_loses_nothing() {
    let prefix = unique_name("rt_down");
    let (bootstrap, topic) = topic_with_records(&prefix).await;
    let group = unique_name("rt_group");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let store = TestStore {
        seen: seen.clone(),
        failures: usize::MAX,
        refuse: BTreeSet::new(),
        delay: Duration::ZERO,
    };
    let (stop, task) = start(store, config(&bootstrap, &prefix, &group));
    wait_for("several retries", || seen.lock().unwrap().calls >= 5).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert!(
        committed(&bootstrap, &group, &topic)
            .expect("the committed offsets")
            .iter()
            .all(|o| !matches!(o, Offset::Offset(_))),
        "nothing committed while the store was down"
    );

    // The store is back: a new run of the group applies everything.
    let store = TestStore {
        seen: seen.clone(),
        failures: 0,
        refuse: BTreeSet::new(),
        delay: Duration::ZERO,
    };
    seen.lock().unwrap().calls = 0;
    let (stop, task) = start(store, config(&bootstrap, &prefix, &group));
    wait_for("every event applied after the outage", || {
        seen.lock()
            .unwrap()
            .applied
            .iter()
            .collect::<BTreeSet<_>>()
            .len()
            == 50
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_rebalance_mid_stream_loses_nothing() {
    let prefix = unique_name("rt_rebalance");
    let (bootstrap, topic) = topic_with_records(&prefix).await;
    let group = unique_name("rt_group");
    let mut config = config(&bootstrap, &prefix, &group);
    config.batch_max_records = 2;
    let first_seen = Arc::new(Mutex::new(Seen::default()));
    let second_seen = Arc::new(Mutex::new(Seen::default()));
    let slow = |seen: &Arc<Mutex<Seen>>| TestStore {
        seen: seen.clone(),
        failures: 0,
        refuse: BTreeSet::new(),
        // Slow enough that the first member is still busy when the second has joined
        // (a rebalance takes seconds): 25 batches take 12 s or more. As long as the topic
        // refresh period, too: a runtime that refreshed again the moment a refresh ended
        // starved its consumer then, and this test timed out.
        delay: Duration::from_millis(500),
    };
    let (stop_first, first) = start(slow(&first_seen), config.clone());
    wait_for("the first consumer under way", || {
        first_seen.lock().unwrap().applied.len() >= 6
    })
    .await;
    // A second member joins: the group rebalances while the first holds a batch.
    let (stop_second, second) = start(slow(&second_seen), config);
    let all: BTreeSet<String> = (1..=50).map(key).collect();
    let union = || {
        let mut applied: BTreeSet<String> =
            first_seen.lock().unwrap().applied.iter().cloned().collect();
        applied.extend(second_seen.lock().unwrap().applied.iter().cloned());
        applied
    };
    // Generous: a rebalance pauses both members, and CI's machine is shared.
    let deadline = Instant::now() + Duration::from_secs(120);
    while union() != all {
        assert!(
            Instant::now() < deadline,
            "missing {:?}; first applied {:?}, second {:?}",
            all.difference(&union()).collect::<Vec<_>>(),
            first_seen.lock().unwrap().applied,
            second_seen.lock().unwrap().applied
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for("the offsets committed to the end", || {
        committed(&bootstrap, &group, &topic)
            .is_some_and(|committed| high_watermarks(&bootstrap, &topic) == Some(committed))
    })
    .await;
    stop_first.send(()).unwrap();
    stop_second.send(()).unwrap();
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert!(
        !second_seen.lock().unwrap().applied.is_empty(),
        "the second member got partitions"
    );
}

#[tokio::test]
async fn a_client_that_cannot_reach_kafka_for_too_long_gives_up_retryably() {
    let mut kafka = sluice_testkit::PrivateKafka::start()
        .await
        .expect("a private broker");
    let bootstrap = kafka.bootstrap();
    let prefix = unique_name("rt_lost");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(&format!("{prefix}.public.t"))
                .key(&key(1))
                .payload(&event(1).encode_to_vec()),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let store = TestStore {
        seen: seen.clone(),
        failures: 0,
        refuse: BTreeSet::new(),
        delay: Duration::ZERO,
    };
    let mut config = config(&bootstrap, &prefix, &unique_name("rt_group"));
    config.kafka_lost_after = Duration::from_secs(3);
    let (_stop, task) = start(store, config);
    wait_for("the record applied", || {
        !seen.lock().unwrap().applied.is_empty()
    })
    .await;

    // The cluster goes away for longer than `kafka_lost_after`: the runtime must not wait
    // for it forever with a client that may never recover, but hand over to a restart.
    kafka.stop().await.expect("stop the broker");
    let ended = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the runtime gave up within 60 s")
        .unwrap();
    let error = ended.expect_err("an error, not a clean stop");
    assert!(error.is_retryable(), "{error} should be retryable");
}
