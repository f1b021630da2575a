//! The source end to end: changes made in a real PostgreSQL arrive on a real Kafka as
//! change events, and the slot's confirmed position only moves past what Kafka holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prost::Message as _;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use sluice_event::v1::{self, value::Kind};
use sluice_source::publish::KafkaSettings;
use sluice_source::{SourceConfig, SourceError};
use sluice_testkit::{Server, address, unique_name};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

/// One source test's table, publication, slot and topic, and the source's configuration.
/// Also used by the `backpressure` tests.
pub(crate) struct Harness {
    pub(crate) pg: Client,
    pub(crate) config: SourceConfig,
    pub(crate) name: String,
}

impl Harness {
    async fn new(prefix: &str, table_ddl: &str) -> Harness {
        let bootstrap = address(Server::Kafka).await.expect("kafka");
        Harness::with_kafka(prefix, table_ddl, bootstrap).await
    }

    /// A harness whose source publishes to the Kafka at `bootstrap` (a private broker)
    /// instead of the shared one.
    pub(crate) async fn with_kafka(prefix: &str, table_ddl: &str, bootstrap: String) -> Harness {
        let url = address(Server::Postgres).await.expect("postgres");
        let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let name = unique_name(prefix);
        pg.batch_execute(&format!(
            "CREATE TABLE {name} {table_ddl}; CREATE PUBLICATION {name}_pub FOR TABLE {name};"
        ))
        .await
        .expect("create table and publication");
        let config = SourceConfig {
            postgres_url: url,
            slot: format!("{name}_slot"),
            publication: format!("{name}_pub"),
            create_slot: true,
            topic_prefix: name.clone(),
            kafka: KafkaSettings {
                bootstrap_servers: bootstrap,
                partitions: 3,
                replication_factor: 1,
                producer_properties: Vec::new(),
            },
            max_in_flight: 1000,
            status_interval: Duration::from_millis(500),
            tombstones: true,
            filter: Default::default(),
            heartbeat_interval: Some(Duration::from_secs(1)),
            heartbeat_emit_message: true,
            snapshot: Default::default(),
        };
        Harness { pg, config, name }
    }

    pub(crate) fn topic(&self) -> String {
        format!("{}.public.{}", self.name, self.name)
    }

    /// Starts the source and waits until its slot exists.
    pub(crate) async fn start(
        &self,
    ) -> (
        oneshot::Sender<()>,
        JoinHandle<Result<sluice_pgoutput::Lsn, SourceError>>,
    ) {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = self.config.clone();
        let task = tokio::spawn(async move {
            sluice_source::run(&config, async {
                let _ = stopped.await;
            })
            .await
        });
        // A busy machine can take a while to start the walsender and run the snapshot.
        for _ in 0..1200 {
            let active = self
                .pg
                .query_opt(
                    // Active alone is not enough: the walsender that created the slot
                    // holds it while the snapshot runs.
                    "SELECT 1 FROM pg_replication_slots s JOIN pg_stat_activity a ON a.pid = s.active_pid \
                     WHERE s.slot_name = $1 AND a.query LIKE 'START_REPLICATION%'",
                    &[&self.config.slot],
                )
                .await
                .expect("slot query");
            if active.is_some() {
                return (stop, task);
            }
            assert!(!task.is_finished(), "the source stopped: {:?}", task.await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the source did not start streaming within 60 s");
    }

    pub(crate) async fn confirmed_flush_lsn(&self) -> u64 {
        let text: String = self
            .pg
            .query_one(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.config.slot],
            )
            .await
            .expect("slot")
            .get(0);
        let (hi, lo) = text.split_once('/').expect("X/Y");
        (u64::from_str_radix(hi, 16).expect("hex") << 32)
            | u64::from_str_radix(lo, 16).expect("hex")
    }

    /// Every record of the table's topic until `count` were read.
    async fn consume(&self, count: usize) -> Vec<Record> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.config.kafka.bootstrap_servers)
            .set("group.id", unique_name("source-test"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        // The source creates the topic when it first sees the table: wait for it.
        let topic = self.topic();
        for attempt in 0.. {
            // A request that fails (a busy or electing broker) is a "not yet" too.
            let appeared = consumer
                .fetch_metadata(Some(&topic), Duration::from_secs(5))
                .is_ok_and(|metadata| {
                    metadata
                        .topics()
                        .iter()
                        .any(|t| t.error().is_none() && !t.partitions().is_empty())
                });
            if appeared {
                break;
            }
            assert!(attempt < 300, "topic {topic} did not appear within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        consumer.subscribe(&[&topic]).expect("subscribe");
        let mut records = Vec::new();
        while records.len() < count {
            let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
                .await
                .unwrap_or_else(|_| panic!("only {} of {count} records within 60 s", records.len()))
                .expect("consume");
            let op = message
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == "sluice-op"))
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            records.push(Record {
                partition: message.partition(),
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_default(),
                op,
                event: message
                    .payload()
                    .map(|p| v1::ChangeEvent::decode(p).expect("a ChangeEvent")),
            });
        }
        records
    }

    pub(crate) async fn clean_up(self) {
        // The stopped source's walsender exits a moment after its connection closes; the
        // slot cannot be dropped while it is still active.
        for attempt in 0.. {
            let active: bool = self
                .pg
                .query_one(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                    &[&self.config.slot],
                )
                .await
                .expect("slot")
                .get(0);
            if !active {
                break;
            }
            assert!(
                attempt < 200,
                "the slot stayed active 20 s after the source stopped"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.pg
            .execute("SELECT pg_drop_replication_slot($1)", &[&self.config.slot])
            .await
            .expect("drop slot");
        self.pg
            .batch_execute(&format!(
                "DROP PUBLICATION {0}_pub; DROP TABLE {0};",
                self.name
            ))
            .await
            .expect("drop table");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.config.kafka.bootstrap_servers)
            .create()
            .expect("admin");
        let _ = admin
            .delete_topics(&[&self.topic()], &AdminOptions::new())
            .await;
    }
}

#[derive(Debug)]
struct Record {
    partition: i32,
    key: String,
    op: String,
    event: Option<v1::ChangeEvent>,
}

fn text_of(value: &v1::Value) -> Option<String> {
    match value.kind.as_ref()? {
        Kind::Text(s) => Some(s.clone()),
        Kind::Integer(i) => Some(i.to_string()),
        Kind::Numeric(n) => Some(n.decimal.clone()),
        Kind::Null(_) => Some("NULL".into()),
        Kind::UnchangedToast(_) => Some("UNCHANGED".into()),
        _ => None,
    }
}

fn row(event: &v1::ChangeEvent, which: &str) -> Vec<Option<String>> {
    let row = if which == "before" {
        &event.before
    } else {
        &event.after
    };
    row.as_ref()
        .map(|r| r.values.iter().map(text_of).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn inserts_updates_deletes_and_truncates_arrive_in_order_per_key() {
    let h = Harness::new(
        "src_dml",
        "(id int8 PRIMARY KEY, name text NOT NULL, notes text, price numeric(12,2))",
    )
    .await;
    h.pg.batch_execute(&format!(
        "ALTER TABLE {0} ALTER COLUMN notes SET STORAGE EXTERNAL",
        h.name
    ))
    .await
    .expect("storage");
    let (stop, task) = h.start().await;
    let t = &h.name;
    // One transaction per statement (a multi-statement simple query would be one).
    for statement in [
        format!(
            "INSERT INTO {t} VALUES (1, 'kettle', repeat('long notes ', 1000), 19.99), \
             (2, 'lamp', NULL, 5.00), (3, 'watch', NULL, 120.50)"
        ),
        format!("UPDATE {t} SET price = 17.99 WHERE id = 1"),
        format!("UPDATE {t} SET id = 20 WHERE id = 2"),
        format!("DELETE FROM {t} WHERE id = 3"),
        format!("TRUNCATE {t}"),
        format!("INSERT INTO {t} VALUES (4, 'blender', NULL, 42.00)"),
    ] {
        h.pg.batch_execute(&statement).await.expect("workload");
    }
    let last_commit: String =
        h.pg.query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await
            .expect("lsn")
            .get(0);

    // 3 creates, 1 update, a delete + tombstone + create for the key change, a delete +
    // tombstone, 3 truncate copies (one per partition), 1 create.
    let records = h.consume(13).await;
    let ops: Vec<&str> = records.iter().map(|r| r.op.as_str()).collect();
    assert_eq!(ops.iter().filter(|o| **o == "create").count(), 5, "{ops:?}");
    assert_eq!(
        ops.iter().filter(|o| **o == "truncate").count(),
        3,
        "{ops:?}"
    );
    let truncate_partitions: BTreeSet<i32> = records
        .iter()
        .filter(|r| r.op == "truncate")
        .map(|r| r.partition)
        .collect();
    assert_eq!(
        truncate_partitions.len(),
        3,
        "a truncate reaches every partition"
    );

    // Per key, in order.
    let mut by_key: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.op != "truncate") {
        by_key.entry(r.key.as_str()).or_default().push(r);
    }
    let ops_of = |key: &str| -> Vec<&str> { by_key[key].iter().map(|r| r.op.as_str()).collect() };
    assert_eq!(ops_of(r#"["1"]"#), ["create", "update"]);
    assert_eq!(
        ops_of(r#"["2"]"#),
        ["create", "delete", "tombstone"],
        "the old key is deleted"
    );
    assert_eq!(ops_of(r#"["20"]"#), ["create"], "the new key is created");
    assert_eq!(ops_of(r#"["3"]"#), ["create", "delete", "tombstone"]);
    assert_eq!(ops_of(r#"["4"]"#), ["create"]);

    let event = |key: &str, i: usize| by_key[key][i].event.as_ref().expect("an event");
    let created = event(r#"["1"]"#, 0);
    assert_eq!(
        row(created, "after"),
        [
            Some("1".into()),
            Some("kettle".into()),
            Some("long notes ".repeat(1000)),
            Some("19.99".into())
        ]
    );
    let updated = event(r#"["1"]"#, 1);
    assert_eq!(
        row(updated, "after"),
        [
            Some("1".into()),
            Some("kettle".into()),
            Some("UNCHANGED".into()),
            Some("17.99".into())
        ],
        "an untouched TOASTed column is marked unchanged, never faked"
    );
    assert!(
        updated.before.is_none(),
        "REPLICA IDENTITY DEFAULT sends no old row"
    );
    let moved = event(r#"["20"]"#, 0);
    let key_change = moved.key_change.as_ref().expect("key change");
    assert_eq!(
        text_of(
            key_change.old_key.as_ref().unwrap().columns[0]
                .value
                .as_ref()
                .unwrap()
        ),
        Some("2".into())
    );

    // Versions are commit LSNs and grow with the transactions.
    let source = created.source.as_ref().expect("source");
    assert_eq!(source.version, source.commit_lsn);
    assert_eq!(
        (source.schema.as_str(), source.table.as_str()),
        ("public", h.name.as_str())
    );
    assert!(event(r#"["4"]"#, 0).source.as_ref().unwrap().version > source.version);
    assert_eq!(created.columns.iter().filter(|c| c.key).count(), 1);

    // Once Kafka holds everything, the slot's confirmed position passes the last commit.
    let last_commit = lsn(&last_commit);
    let mut confirmed = 0;
    for _ in 0..100 {
        confirmed = h.confirmed_flush_lsn().await;
        if confirmed >= last_commit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        confirmed >= last_commit,
        "confirmed {confirmed:X} < last commit {last_commit:X}"
    );

    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean shutdown");
    h.clean_up().await;
}

#[tokio::test]
async fn a_source_killed_mid_stream_loses_nothing_on_restart() {
    let h = Harness::new("src_crash", "(id int8 PRIMARY KEY, payload text)").await;
    let (_stop, task) = h.start().await;
    let t = &h.name;
    // Paced transactions of 50 rows, at least 400 of them and on until the source was
    // killed: however long the first event takes to reach Kafka, the kill lands while
    // they stream.
    let killed = Arc::new(AtomicBool::new(false));
    let writer = {
        let url = h.config.postgres_url.clone();
        let t = t.clone();
        let killed = killed.clone();
        tokio::spawn(async move {
            let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(connection);
            let mut batch = 0;
            while batch < 400 || !killed.load(Ordering::SeqCst) {
                assert!(batch < 20_000, "the source was never killed");
                pg.batch_execute(&format!(
                    "INSERT INTO {t} SELECT i, md5(i::text) FROM generate_series({}, {}) AS i",
                    batch * 50 + 1,
                    batch * 50 + 50
                ))
                .await
                .expect("insert");
                batch += 1;
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            batch
        })
    };
    // Kill it once the first events are on Kafka, while the rest still streams.
    h.consume(1).await;
    task.abort(); // no shutdown, no final status: as abrupt as a crash for PostgreSQL
    let _ = task.await;
    killed.store(true, Ordering::SeqCst);
    let rows = writer.await.expect("writer") * 50;

    let confirmed_after_crash = h.confirmed_flush_lsn().await;
    let (stop, task) = h.start().await;
    // At least every row, possibly some twice (replayed after the crash).
    let consumer_ids = {
        let mut ids = BTreeSet::new();
        let mut total = 0;
        let records = h.consume(rows).await;
        for r in &records {
            if let Some(event) = &r.event {
                total += 1;
                let id = text_of(&event.after.as_ref().unwrap().values[0]).unwrap();
                ids.insert(id.parse::<i64>().unwrap());
            }
        }
        (ids, total)
    };
    let (mut ids, mut total) = consumer_ids;
    if ids.len() < rows {
        // Replayed duplicates may have filled the first `rows` records: read on.
        let records = h.consume((2 * rows).min(total + rows - ids.len())).await;
        ids = records
            .iter()
            .filter_map(|r| r.event.as_ref())
            .map(|e| {
                text_of(&e.after.as_ref().unwrap().values[0])
                    .unwrap()
                    .parse::<i64>()
                    .unwrap()
            })
            .collect();
        total = records.len();
    }
    assert_eq!(
        ids.len(),
        rows,
        "every committed row is on Kafka ({total} records read)"
    );
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&(rows as i64)));
    assert!(h.confirmed_flush_lsn().await >= confirmed_after_crash);

    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean shutdown");
    h.clean_up().await;
}

/// An LSN in PostgreSQL's `X/Y` text form, as a number.
pub(crate) fn lsn(text: &str) -> u64 {
    text.parse::<sluice_pgoutput::Lsn>().expect("an LSN").0
}
