//! The source's initial snapshot against real servers: every row arrives as a `read`
//! event at one version before streaming starts, and a source killed mid-snapshot resumes
//! where Kafka's acknowledgements left it, converging to the table's state.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use prost::Message as _;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use sluice_event::v1::{self, value::Kind};
use sluice_source::publish::{KafkaSettings, Publisher};
use sluice_source::snapshot::{SnapshotMode, SnapshotSettings};
use sluice_source::{SourceConfig, SourceError};
use sluice_testkit::{Server, address, unique_name};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

/// A publication over some tables, and a source configured for it.
pub(crate) struct Setup {
    pub(crate) pg: Client,
    pub(crate) name: String,
    pub(crate) tables: Vec<String>,
    pub(crate) config: SourceConfig,
}

impl Setup {
    /// Runs `ddl` (with `{n}` standing for this test's unique name), then publishes the
    /// tables named `{n}_<suffix>` as `publication` says (also with `{n}`).
    pub(crate) async fn new(
        prefix: &str,
        ddl: &str,
        suffixes: &[&str],
        publication: &str,
    ) -> Setup {
        let url = address(Server::Postgres).await.expect("postgres");
        let bootstrap = address(Server::Kafka).await.expect("kafka");
        let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let name = unique_name(prefix);
        pg.batch_execute(&ddl.replace("{n}", &name))
            .await
            .expect("tables and rows");
        pg.batch_execute(&format!(
            "CREATE PUBLICATION {name}_pub FOR {}",
            publication.replace("{n}", &name)
        ))
        .await
        .expect("publication");
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
            tombstones: false,
            filter: Default::default(),
            heartbeat_interval: Some(Duration::from_secs(1)),
            heartbeat_emit_message: true,
            snapshot: SnapshotSettings {
                mode: SnapshotMode::Initial,
                chunk_rows: 500,
            },
        };
        let tables = suffixes.iter().map(|s| format!("{name}_{s}")).collect();
        Setup {
            pg,
            name,
            tables,
            config,
        }
    }

    pub(crate) fn topic(&self, table: &str) -> String {
        format!("{}.public.{table}", self.name)
    }

    pub(crate) fn start(
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
        (stop, task)
    }

    /// Waits until the source streams (its snapshot is over).
    pub(crate) async fn wait_streaming(
        &self,
        task: &JoinHandle<Result<sluice_pgoutput::Lsn, SourceError>>,
    ) {
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
                return;
            }
            assert!(!task.is_finished(), "the source stopped");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the source did not start streaming within 60 s");
    }

    pub(crate) async fn clean_up(self) {
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
                "DROP PUBLICATION {0}_pub; DROP TABLE {1};",
                self.name,
                self.tables.join(", ")
            ))
            .await
            .expect("drop tables");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.config.kafka.bootstrap_servers)
            .create()
            .expect("admin");
        let mut topics: Vec<String> = self.tables.iter().map(|t| self.topic(t)).collect();
        topics.push(format!("{}.sluice-snapshots", self.name));
        topics.push(format!("{}.sluice-heartbeat", self.name));
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        let _ = admin.delete_topics(&topics, &AdminOptions::new()).await;
    }
}

/// One record of a table topic, decoded.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) key: String,
    pub(crate) event: v1::ChangeEvent,
}

/// Every record of `topic` once it holds at least `at_least`: waits for that many, then
/// reads to the partitions' current ends, in order within each partition.
pub(crate) async fn consume(bootstrap: &str, topic: &str, at_least: usize) -> Vec<Record> {
    consume_records(bootstrap, topic, at_least)
        .await
        .into_iter()
        .filter_map(|(key, payload)| {
            Some(Record {
                key,
                event: v1::ChangeEvent::decode(payload?.as_slice()).expect("a ChangeEvent"),
            })
        })
        .collect()
}

/// The values of [`consume_records`], tombstones left out.
pub(crate) async fn consume_raw(bootstrap: &str, topic: &str, at_least: usize) -> Vec<Vec<u8>> {
    consume_records(bootstrap, topic, at_least)
        .await
        .into_iter()
        .filter_map(|(_, payload)| payload)
        .collect()
}

/// Every record (key, value) of `topic` once it holds at least `at_least`.
async fn consume_records(
    bootstrap: &str,
    topic: &str,
    at_least: usize,
) -> Vec<(String, Option<Vec<u8>>)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("snapshot-test"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut ends = Vec::new();
    for attempt in 0.. {
        // Every partition's ends from one attempt. Any error (a busy broker, an election
        // longer than the helper waits out) is a "not yet": start over.
        ends = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .flat_map(|t| t.partitions())
                    .map(|partition| {
                        sluice_event::partition::watermarks(
                            &consumer,
                            topic,
                            partition.id(),
                            Duration::from_secs(5),
                        )
                        .map(|(low, high)| (partition.id(), low, high))
                        .ok()
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .unwrap_or_default();
        let held: i64 = ends.iter().map(|(_, low, high)| high - low).sum();
        if held >= at_least as i64 {
            break;
        }
        assert!(
            attempt < 600,
            "{topic}: {held} of {at_least} records within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut assignment = TopicPartitionList::new();
    for (partition, low, _) in &ends {
        assignment
            .add_partition_offset(topic, *partition, Offset::Offset(*low))
            .expect("assignment");
    }
    consumer.assign(&assignment).expect("assign");
    let mut remaining: HashMap<i32, i64> = ends
        .iter()
        .filter(|(_, low, high)| high > low)
        .map(|(partition, _, high)| (*partition, *high))
        .collect();
    let mut records = Vec::new();
    while !remaining.is_empty() {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{topic}: stalled after {} records", records.len()))
            .expect("consume");
        let partition = message.partition();
        let Some(high) = remaining.get(&partition).copied() else {
            continue; // a partition already read to its end
        };
        if message.offset() + 1 >= high {
            remaining.remove(&partition);
        }
        records.push((
            String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            message.payload().map(<[u8]>::to_vec),
        ));
    }
    records
}

pub(crate) fn text(value: &v1::Value) -> String {
    match value.kind.as_ref().expect("a value") {
        Kind::Text(s) => s.clone(),
        Kind::Integer(i) => i.to_string(),
        Kind::Numeric(n) => n.decimal.clone(),
        Kind::Null(_) => "NULL".into(),
        other => format!("{other:?}"),
    }
}

pub(crate) fn after(event: &v1::ChangeEvent) -> Vec<String> {
    event
        .after
        .as_ref()
        .expect("an after row")
        .values
        .iter()
        .map(text)
        .collect()
}

pub(crate) fn source(event: &v1::ChangeEvent) -> &v1::Source {
    event.source.as_ref().expect("source")
}

#[tokio::test]
async fn the_snapshot_reads_every_published_row_at_one_version_then_streams() {
    let setup = Setup::new(
        "snap_all",
        "CREATE TABLE {n}_a (id int PRIMARY KEY, note text, big text);
         INSERT INTO {n}_a SELECT i, 'n' || i, CASE WHEN i % 100 = 0 THEN repeat(md5(i::text), 400) END
           FROM generate_series(1, 3000) AS i;
         CREATE TABLE {n}_b (k1 text, k2 int, v numeric(12, 3), PRIMARY KEY (k1, k2));
         INSERT INTO {n}_b SELECT 'it''s ' || (i % 7), i, i / 8.0 FROM generate_series(1, 1500) AS i;
         CREATE TABLE {n}_c (x int, y text);
         ALTER TABLE {n}_c REPLICA IDENTITY FULL;
         INSERT INTO {n}_c SELECT i % 10, 'y' FROM generate_series(1, 800) AS i;
         CREATE TABLE {n}_d (id int PRIMARY KEY, shown text, hidden text);
         INSERT INTO {n}_d SELECT i, 's' || i, 'secret' FROM generate_series(1, 100) AS i;",
        &["a", "b", "c", "d"],
        "TABLE {n}_a, {n}_b, {n}_c, {n}_d (id, shown) WHERE (id % 2 = 0)",
    )
    .await;
    let bootstrap = setup.config.kafka.bootstrap_servers.clone();
    let (stop, task) = setup.start();
    setup.wait_streaming(&task).await;

    let [a, b, c, d] = [0, 1, 2, 3].map(|i| setup.topic(&setup.tables[i]));
    let a_records = consume(&bootstrap, &a, 3000).await;
    let b_records = consume(&bootstrap, &b, 1500).await;
    let c_records = consume(&bootstrap, &c, 800).await;
    let d_records = consume(&bootstrap, &d, 50).await;

    // One version for the whole snapshot, every event a `read` flagged as snapshot.
    let version = source(&a_records[0].event).version;
    assert!(version > 0);
    for record in a_records
        .iter()
        .chain(&b_records)
        .chain(&c_records)
        .chain(&d_records)
    {
        assert_eq!(record.event.op(), v1::Op::Read, "{record:?}");
        let source = source(&record.event);
        assert!(source.snapshot);
        assert_eq!(source.version, version);
        assert_eq!(source.commit_lsn, version);
    }
    // Table a: each key once, values typed and whole (TOASTed text included).
    let rows: BTreeMap<i64, Vec<String>> = a_records
        .iter()
        .map(|r| {
            let row = after(&r.event);
            (row[0].parse().unwrap(), row)
        })
        .collect();
    assert_eq!(rows.len(), 3000);
    assert_eq!(rows[&7], ["7", "n7", "NULL"]);
    assert_eq!(rows[&100][2].len(), 32 * 400);
    assert_eq!(
        a_records[0].key,
        format!(
            "[\"{}\"]",
            a_records[0]
                .event
                .after
                .as_ref()
                .map(|r| text(&r.values[0]))
                .unwrap()
        )
    );
    // Table b: a composite key with quotes, chunked across key boundaries.
    let keys: std::collections::BTreeSet<&str> = b_records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), 1500);
    let b42 = b_records
        .iter()
        .find(|r| after(&r.event)[1] == "42")
        .expect("row 42");
    assert_eq!(after(&b42.event), ["it's 0", "42", "5.250"]);
    // Table c: no key, read through a cursor; REPLICA IDENTITY FULL makes every column a key.
    assert!(c_records[0].event.columns.iter().all(|c| c.key));
    // Table d: the publication's column list and row filter hold.
    let d_ids: Vec<i64> = d_records
        .iter()
        .map(|r| after(&r.event)[0].parse().unwrap())
        .collect();
    assert!(d_ids.iter().all(|id| id % 2 == 0), "{d_ids:?}");
    let columns: Vec<&str> = d_records[0]
        .event
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["id", "shown"]);

    // Then it streams: a change committed now carries a newer version.
    let t = &setup.tables[0];
    setup
        .pg
        .batch_execute(&format!("INSERT INTO {t} VALUES (3001, 'new', NULL)"))
        .await
        .expect("insert");
    let records = consume(&bootstrap, &a, 3001).await;
    let created = records
        .iter()
        .find(|r| r.event.op() == v1::Op::Create)
        .expect("the streamed insert");
    assert!(!source(&created.event).snapshot);
    assert!(source(&created.event).version > version);

    // A restart does not snapshot again: the progress record says it is done.
    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean stop");
    let (stop, task) = setup.start();
    setup.wait_streaming(&task).await;
    setup
        .pg
        .batch_execute(&format!("INSERT INTO {t} VALUES (3002, 'newer', NULL)"))
        .await
        .expect("insert");
    let records = consume(&bootstrap, &a, 3002).await;
    assert_eq!(
        records
            .iter()
            .filter(|r| r.event.op() == v1::Op::Read)
            .count(),
        3000,
        "no second snapshot"
    );
    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean stop");
    setup.clean_up().await;
}

/// What a store applying the events with the version rule ends up holding, per key:
/// the newest version, and the row (`None` once deleted).
fn converge(records: &[Record]) -> HashMap<String, (u64, Option<Vec<String>>)> {
    let mut store: HashMap<String, (u64, Option<Vec<String>>)> = HashMap::new();
    for record in records {
        let version = source(&record.event).version;
        let row = match record.event.op() {
            v1::Op::Delete => None,
            _ => Some(after(&record.event)),
        };
        match store.get(&record.key) {
            Some((stored, _)) if *stored > version => {}
            _ => {
                store.insert(record.key.clone(), (version, row));
            }
        }
    }
    store
}

#[tokio::test]
async fn a_source_killed_mid_snapshot_resumes_it_and_converges() {
    const ROWS: i64 = 20_000;
    let mut setup = Setup::new(
        "snap_crash",
        &format!(
            "CREATE TABLE {{n}}_t (id int8 PRIMARY KEY, note text);
             INSERT INTO {{n}}_t SELECT i, 'v' || i FROM generate_series(1, {ROWS}) AS i;"
        ),
        &["t"],
        "TABLE {n}_t",
    )
    .await;
    // Small chunks, so the snapshot takes long enough to be killed half-way.
    setup.config.snapshot.chunk_rows = 100;
    setup.config.max_in_flight = 100;
    let bootstrap = setup.config.kafka.bootstrap_servers.clone();
    let topic = setup.topic(&setup.tables[0]);
    let (_stop, task) = setup.start();
    consume(&bootstrap, &topic, 2_000).await;
    task.abort(); // as abrupt as a crash for PostgreSQL and Kafka
    let _ = task.await;

    // The record shows an unfinished snapshot of this slot.
    let mut publisher = Publisher::new(setup.config.kafka.clone()).expect("publisher");
    let store = sluice_source::progress::ProgressStore::open(
        &mut publisher,
        format!("{}.sluice-snapshots", setup.name),
        &setup.config.slot,
    )
    .await
    .expect("progress store");
    let recorded = store
        .load(&publisher)
        .await
        .expect("load")
        .expect("a progress record");
    assert!(
        !recorded.done,
        "the kill landed after the snapshot ended; make the table larger"
    );
    let read_before = recorded.tables[0].rows;
    assert!(read_before >= 1_000, "{recorded:?}");

    // Changes while the source is down, on both sides of the resume point.
    let t = &setup.tables[0];
    setup
        .pg
        .batch_execute(&format!(
            "DELETE FROM {t} WHERE id IN (5, {ROWS} - 1);
             UPDATE {t} SET note = 'changed' WHERE id IN (6, {ROWS});
             INSERT INTO {t} VALUES ({ROWS} + 1, 'added');"
        ))
        .await
        .expect("changes during the outage");

    let (stop, task) = setup.start();
    setup.wait_streaming(&task).await;
    let recorded = store.load(&publisher).await.expect("load").expect("record");
    assert!(recorded.done);

    // Read everything: the reads, plus the streamed changes, until the topic converges.
    let expected_rows: i64 = setup
        .pg
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .expect("count")
        .get(0);
    let mut records = Vec::new();
    for attempt in 0.. {
        records = consume(&bootstrap, &topic, ROWS as usize).await;
        let store = converge(&records);
        let live = store.values().filter(|(_, row)| row.is_some()).count();
        if live as i64 == expected_rows && store.len() as i64 == ROWS + 1 {
            break;
        }
        assert!(
            attempt < 20,
            "no convergence: {live} live keys, {expected_rows} rows"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let reads = records
        .iter()
        .filter(|r| r.event.op() == v1::Op::Read)
        .count() as u64;
    assert!(
        reads < ROWS as u64 + read_before,
        "{reads} reads: the resumed snapshot started over"
    );

    // The converged state is the table's.
    let store = converge(&records);
    let rows = setup
        .pg
        .query(&format!("SELECT id::text, note FROM {t}"), &[])
        .await
        .expect("rows");
    let table: HashMap<String, Vec<String>> = rows
        .iter()
        .map(|row| {
            let id: String = row.get(0);
            (format!("[\"{id}\"]"), vec![id, row.get(1)])
        })
        .collect();
    let live: HashMap<String, Vec<String>> = store
        .into_iter()
        .filter_map(|(key, (_, row))| row.map(|row| (key, row)))
        .collect();
    assert_eq!(live.len(), table.len());
    assert!(live == table, "the topic converges to the table");

    stop.send(()).expect("stop");
    task.await.expect("join").expect("clean stop");
    setup.clean_up().await;
}
