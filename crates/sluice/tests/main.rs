//! The `sluice` binary end to end: `sluice source` runs as a real process from a config
//! file, is killed with SIGKILL again and again while a workload streams, and still loses
//! no committed row and keeps every row's changes in commit order; a bad config stops it at
//! once with the key's name; `/metrics` carries every metric of `sluice_source::observe`
//! with the values the changes made.
//!
//! Cargo builds the binary for this package's tests and names it in
//! `CARGO_BIN_EXE_sluice`, with the same profile and features as the test itself.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice_event::v1::{self, value::Kind};
use sluice_testkit::{Server, address, unique_name};
use tokio_postgres::{Client, NoTls};

mod cache_pipeline;
mod faults;
mod graph_pipeline;
mod graph_store_pipeline;
mod monitoring;
mod search_pipeline;
mod status;
mod store_pipeline;
mod verify;

/// The `sluice` binary Cargo built for this test run.
fn sluice_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sluice"))
}

/// `sluice` with a clean environment for config: no `SLUICE_*__*` override inherited from
/// whoever runs the tests.
fn sluice_command() -> Command {
    let mut command = Command::new(sluice_binary());
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && name.starts_with("SLUICE_")
            && name.contains("__")
        {
            command.env_remove(name);
        }
    }
    command.env("RUST_LOG", "info").stdin(Stdio::null());
    command
}

/// A `sluice source` process, SIGKILLed when dropped (a failing test leaves nothing
/// holding a slot).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One test's table, publication, slot, topic and config file.
struct Harness {
    pg: Client,
    url: String,
    bootstrap: String,
    name: String,
    dir: tempfile::TempDir,
}

impl Harness {
    async fn new(prefix: &str, table_ddl: &str) -> Harness {
        let url = address(Server::Postgres).await.expect("postgres");
        let bootstrap = address(Server::Kafka).await.expect("kafka");
        let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let name = unique_name(prefix);
        pg.batch_execute(&format!(
            "CREATE TABLE {name} {table_ddl}; CREATE PUBLICATION {name}_pub FOR TABLE {name};"
        ))
        .await
        .expect("create table and publication");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!(
            r#"
[postgres]
url = {url:?}

[source]
slot = "{name}_slot"
publication = "{name}_pub"
topic_prefix = "{name}"
max_in_flight_events = 1000
status_interval_seconds = 0.5

[kafka]
bootstrap_servers = {bootstrap:?}
partitions = 3

[metrics]
listen_address = "127.0.0.1:0"
"#
        );
        std::fs::write(dir.path().join("sluice.toml"), config).expect("write the config");
        Harness {
            pg,
            url,
            bootstrap,
            name,
            dir,
        }
    }

    fn slot(&self) -> String {
        format!("{}_slot", self.name)
    }

    fn topic(&self) -> String {
        format!("{}.public.{}", self.name, self.name)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("sluice.log")
    }

    /// The end of what every `sluice` process of this test wrote, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Starts `sluice source` and waits until its walsender (not a dead predecessor's)
    /// streams the slot.
    async fn start(&self, previous_pid: Option<i32>) -> (Running, i32) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the log");
        let child = sluice_command()
            .arg("source")
            .arg("--config")
            .arg(self.dir.path().join("sluice.toml"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start sluice");
        let mut running = Running(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let pid: Option<i32> = self
                .pg
                .query_opt(
                    "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1 AND active",
                    &[&self.slot()],
                )
                .await
                .expect("slot query")
                .and_then(|row| row.get(0));
            if let Some(pid) = pid
                && Some(pid) != previous_pid
            {
                return (running, pid);
            }
            if let Some(status) = running.0.try_wait().expect("try_wait") {
                panic!("sluice exited with {status}:\n{}", self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "sluice did not start streaming within 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn confirmed_flush_lsn(&self) -> u64 {
        let text: Option<String> = self
            .pg
            .query_one(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                &[&self.slot()],
            )
            .await
            .expect("slot")
            .get(0);
        text.map_or(0, |t| lsn(&t))
    }

    /// Every record of the table's topic, partition by partition in offset order.
    fn read_topic(&self) -> Vec<Record> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", unique_name("cli-test"))
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let topic = self.topic();
        // Every partition's ends from one attempt. An error (a busy broker, an election
        // longer than the helper waits out) or no partitions yet means "ask again".
        let deadline = Instant::now() + Duration::from_secs(60);
        let ends: Vec<(i32, i64, i64)> = loop {
            let answer = consumer
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
                .and_then(|metadata| {
                    metadata
                        .topics()
                        .iter()
                        .flat_map(|t| t.partitions())
                        .map(|p| {
                            sluice_event::partition::watermarks(
                                &consumer,
                                &topic,
                                p.id(),
                                Duration::from_secs(10),
                            )
                            .map(|(low, high)| (p.id(), low, high))
                        })
                        .collect::<Result<Vec<_>, _>>()
                });
            match answer {
                Ok(ends) if !ends.is_empty() => break ends,
                answer => {
                    assert!(
                        Instant::now() < deadline,
                        "the ends of topic {topic} within 60 s: {answer:?}"
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        let mut assignment = TopicPartitionList::new();
        let mut remaining = HashMap::new();
        for (partition, low, high) in ends {
            if high > low {
                remaining.insert(partition, high);
            }
            assignment
                .add_partition_offset(&topic, partition, Offset::Beginning)
                .expect("assignment");
        }
        consumer.assign(&assignment).expect("assign");
        let mut records = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !remaining.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the topic was not read to its end within 120 s ({} records)",
                records.len()
            );
            let Some(message) = consumer.poll(Duration::from_millis(500)) else {
                continue;
            };
            let message = message.expect("consume");
            let partition = message.partition();
            if remaining
                .get(&partition)
                .is_some_and(|&high| message.offset() + 1 >= high)
            {
                remaining.remove(&partition);
            }
            records.push(Record {
                partition,
                key: message.key().unwrap_or_default().to_vec(),
                event: message
                    .payload()
                    .map(|p| v1::ChangeEvent::decode(p).expect("a ChangeEvent")),
            });
        }
        records
    }

    async fn clean_up(self) {
        // The last walsender may take a moment to let go of the slot.
        for attempt in 0.. {
            match self
                .pg
                .execute("SELECT pg_drop_replication_slot($1)", &[&self.slot()])
                .await
            {
                Ok(_) => break,
                Err(error) if attempt < 100 => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("drop slot: {error}"),
            }
        }
        self.pg
            .batch_execute(&format!(
                "DROP PUBLICATION {0}_pub; DROP TABLE {0};",
                self.name
            ))
            .await
            .expect("drop table");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("admin");
        let _ = admin
            .delete_topics(&[&self.topic()], &AdminOptions::new())
            .await;
    }
}

/// One change of a row as read from Kafka.
struct Change {
    /// (commit LSN, position in the transaction): commit order.
    order: (u64, u64),
    id: i64,
    n: i64,
}

struct Record {
    partition: i32,
    key: Vec<u8>,
    event: Option<v1::ChangeEvent>,
}

/// A `sluice` command's outcome: its exit code, its stdout parsed as JSON (`Null` when it
/// is not JSON), and stdout and stderr together for failure messages.
fn json_outcome(output: &Output) -> (i32, serde_json::Value, String) {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
    (
        output.status.code().unwrap_or(-1),
        report,
        format!("{stdout}\n{stderr}"),
    )
}

/// Removes every Redis key matching `pattern` (a test's own prefix, e.g. `"t1:*"`).
async fn unlink_matching(redis: &mut redis::aio::MultiplexedConnection, pattern: &str) {
    use redis::AsyncCommands as _;
    let mut keys: Vec<String> = Vec::new();
    {
        let mut iter = redis.scan_match::<_, String>(pattern).await.expect("SCAN");
        while let Some(Ok(key)) = iter.next_item().await {
            keys.push(key);
        }
    }
    for chunk in keys.chunks(1000) {
        let _: () = redis.unlink(chunk).await.expect("UNLINK");
    }
}

fn integer(value: &v1::Value) -> i64 {
    match value.kind.as_ref() {
        Some(Kind::Integer(i)) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// An LSN in PostgreSQL's `X/Y` text form, as a number.
fn lsn(text: &str) -> u64 {
    text.parse::<sluice_replication::Lsn>().expect("an LSN").0
}

/// `GET path` on the metrics endpoint the process logged, as text.
fn http_get(log: &str, path: &str) -> String {
    let address = log
        .lines()
        .rev()
        .find_map(|line| {
            line.contains("serving /metrics")
                .then(|| line.split("address=").nth(1))
                .flatten()
        })
        .expect("sluice logs its metrics address")
        .trim()
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&address).expect("connect to /metrics");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

/// Stops the process with SIGTERM (through `kill(1)`, keeping the test free of libc) and
/// returns its exit status.
fn terminate(mut running: Running) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = running.0.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "sluice did not stop within 60 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Hot rows: updated by every transaction, so that each has a long history whose order
/// the test can check.
const HOT_ROWS: i64 = 10;
/// The workload's minimum length: transactions of 100 new rows (plus the hot updates).
const MIN_TRANSACTIONS: u64 = 200;
/// SIGKILLs while the workload runs.
const KILLS: usize = 3;

#[tokio::test]
async fn a_source_process_killed_again_and_again_loses_nothing_and_keeps_row_order() {
    let h = Harness::new(
        "cli_kill",
        "(id int8 PRIMARY KEY, n int8 NOT NULL DEFAULT 0, payload text)",
    )
    .await;
    let (mut running, mut pid) = h.start(None).await;

    // The metrics endpoint answers while the source runs.
    let log = std::fs::read_to_string(h.log_path()).expect("log");
    assert!(
        http_get(&log, "/healthz").starts_with("HTTP/1.1 200"),
        "/healthz"
    );
    let metrics = http_get(&log, "/metrics");
    assert!(
        metrics.contains("sluice_source_running 1")
            && metrics.contains("sluice_source_restarts_total 0"),
        "{metrics}"
    );

    // The workload: paced transactions, each 100 new rows and one update of every hot row,
    // going on until the kills are done and at least MIN_TRANSACTIONS were committed.
    let committed = Arc::new(AtomicU64::new(0));
    let kills_done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, t) = (h.url.clone(), h.name.clone());
        let (committed, kills_done) = (committed.clone(), kills_done.clone());
        tokio::spawn(async move {
            let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(connection);
            let mut batch = 0;
            while batch < MIN_TRANSACTIONS || !kills_done.load(Ordering::SeqCst) {
                assert!(batch < 5_000, "the kills did not finish");
                pg.batch_execute(&format!(
                    "BEGIN; \
                     INSERT INTO {t} (id, payload) SELECT i, md5(i::text) FROM generate_series({}, {}) AS i; \
                     UPDATE {t} SET n = n + 1 WHERE id <= {HOT_ROWS}; \
                     COMMIT;",
                    batch * 100 + 1,
                    batch * 100 + 100
                ))
                .await
                .expect("a workload transaction");
                batch += 1;
                committed.store(batch, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            batch
        })
    };

    // Kill at random-ish moments while it runs: after 10 to 40 further transactions each
    // time, so that kills land with events in flight, unconfirmed, or mid-transaction.
    let mut killed_at = Vec::new();
    for _ in 0..KILLS {
        let target = committed.load(Ordering::SeqCst) + fastrand::u64(10..40);
        while committed.load(Ordering::SeqCst) < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!writer.is_finished(), "the workload ended before a kill");
        running.0.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
        running.0.wait().expect("reap");
        killed_at.push(committed.load(Ordering::SeqCst));
        (running, pid) = h.start(Some(pid)).await;
    }
    kills_done.store(true, Ordering::SeqCst);
    let transactions = writer.await.expect("writer");
    let rows = transactions as i64 * 100;
    let end_of_workload = lsn(&h
        .pg
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("lsn")
        .get::<_, String>(0));

    // Once the slot is confirmed past the workload, Kafka holds all of it.
    let deadline = Instant::now() + Duration::from_secs(120);
    while h.confirmed_flush_lsn().await < end_of_workload {
        assert!(
            Instant::now() < deadline,
            "the slot was not confirmed past the workload within 120 s:\n{}",
            h.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let records = h.read_topic();

    // No loss: every committed row is on Kafka at least once.
    let mut ids = BTreeSet::new();
    // Per key (and partition), in offset order.
    let mut by_key: BTreeMap<(i32, Vec<u8>), Vec<Change>> = BTreeMap::new();
    let mut snapshot_reads = 0;
    for record in &records {
        let event = record.event.as_ref().expect("no deletes, so no tombstones");
        let source = event.source.as_ref().expect("source");
        if event.op() == v1::Op::Read {
            // A kill during the initial snapshot makes the restarted source resume it,
            // reading the rows as they are by then (at the slot's consistent point, so
            // the streamed changes that follow win). The stream still carries every
            // change, which is what this test checks.
            snapshot_reads += 1;
            continue;
        }
        let after = &event.after.as_ref().expect("after").values;
        let (id, n) = (integer(&after[0]), integer(&after[1]));
        ids.insert(id);
        by_key
            .entry((record.partition, record.key.clone()))
            .or_default()
            .push(Change {
                order: (source.version, source.position),
                id,
                n,
            });
        assert_eq!(
            source.version, source.commit_lsn,
            "the version is the commit LSN"
        );
    }
    assert_eq!(
        ids.len() as i64,
        rows,
        "every committed row is on Kafka ({} records, kills after transactions {killed_at:?}):\n{}",
        records.len(),
        h.log_tail()
    );
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&rows));
    let keys: BTreeSet<&Vec<u8>> = by_key.keys().map(|(_, key)| key).collect();
    assert_eq!(keys.len() as i64, rows, "each key lives in one partition");

    // Per key, commit order. A restart replays from the slot's confirmed position, so a
    // key's history may repeat a stretch it already had (at-least-once): the raw versions
    // may step back at a kill, and that is correct. What must hold is that every change
    // appears for the first time in commit order, and that the last record of each key is
    // its newest change, so a consumer applying versions converges.
    for ((_, key), history) in &by_key {
        let key = String::from_utf8_lossy(key);
        let mut seen = BTreeSet::new();
        let mut newest = (0, 0);
        for change in history {
            let (version, position) = change.order;
            if seen.insert((version, position)) {
                assert!(
                    (version, position) > newest,
                    "key {key}: a new change {version:X}/{position} after {:X}/{}",
                    newest.0,
                    newest.1
                );
                newest = (version, position);
            }
        }
        let expected = if history[0].id <= HOT_ROWS {
            transactions as usize + 1
        } else {
            1
        };
        assert_eq!(
            seen.len(),
            expected,
            "key {key}: every change (the insert, and the hot rows' updates) arrived"
        );
        let last = history.last().expect("a record");
        assert_eq!(
            last.order, newest,
            "key {key}: the last record is the newest change"
        );
    }
    // The hot rows' last events carry PostgreSQL's final values.
    for row in
        h.pg.query(
            &format!("SELECT id, n FROM {} WHERE id <= {HOT_ROWS}", h.name),
            &[],
        )
        .await
        .expect("hot rows")
    {
        let (id, n): (i64, i64) = (row.get(0), row.get(1));
        let last = by_key
            .values()
            .find(|history| history[0].id == id)
            .and_then(|history| history.last())
            .expect("the hot row's history");
        assert_eq!(last.n, n, "hot row {id} converges to PostgreSQL's value");
        assert_eq!(
            n, transactions as i64,
            "every transaction updated hot row {id}"
        );
    }
    let changes = rows as usize + transactions as usize * HOT_ROWS as usize;
    let log = std::fs::read_to_string(h.log_path()).unwrap_or_default();
    eprintln!(
        "{transactions} transactions ({changes} changes), SIGKILLed after transactions {killed_at:?}: \
         {} records on Kafka ({snapshot_reads} snapshot reads), {} replayed duplicates; {} waits for a slot still held by a killed predecessor",
        records.len(),
        records.len().saturating_sub(changes + snapshot_reads),
        log.matches("held by another connection").count()
    );

    // SIGTERM stops it cleanly.
    let status = terminate(running);
    assert!(
        status.success(),
        "sluice exits 0 on SIGTERM, not {status}:\n{}",
        h.log_tail()
    );
    h.clean_up().await;
}

/// Runs `sluice source` on `config` (plus `env`) and returns what it did; these configs
/// fail before any connection, so no server is needed.
fn run_with_config(config: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, config).expect("write the config");
    let mut command = sluice_command();
    command.arg("source").arg("--config").arg(&path);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sluice");
    // A config it accepted would make it connect and run: never wait forever.
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sluice accepted the config and kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

const VALID: &str = r#"
[postgres]
url = "postgres://sluice:secret-password@127.0.0.1:1/sluice"

[kafka]
bootstrap_servers = "127.0.0.1:1"
"#;

#[test]
fn a_bad_value_stops_sluice_naming_the_key() {
    let output = run_with_config(&VALID.replace("[kafka]", "[kafka]\npartitions = 0"), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("kafka.partitions: must be at least 1"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-password"), "{stderr}");

    let output = run_with_config(VALID, &[("SLUICE_SOURCE__SLOT", "Not-A-Slot")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "source.slot: must be 1 to 63 lower-case letters, digits and underscores \
             (set by SLUICE_SOURCE__SLOT)"
        ),
        "{stderr}"
    );
}

#[test]
fn an_unknown_key_stops_sluice_naming_it() {
    let output = run_with_config(&format!("{VALID}\n[source]\nslots = \"orders\"\n"), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("source.slots: unknown field `slots`"),
        "{stderr}"
    );
}

/// The value of the sample of `metric` whose labels include every one of `labels`
/// (`key="value"`), from Prometheus' text format.
fn sample(metrics: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(metric)?;
        let (labels_part, value) = match rest.strip_prefix('{') {
            Some(rest) => rest.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        labels
            .iter()
            .all(|label| labels_part.split(',').any(|l| l == *label))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

#[tokio::test]
async fn the_metrics_endpoint_reports_events_positions_and_lag() {
    let h = Harness::new("cli_metrics", "(id int8 PRIMARY KEY, n int8)").await;
    // One transaction: a multi-statement simple query commits once.
    let (running, _pid) = h.start(None).await;
    let t = &h.name;
    h.pg.batch_execute(&format!(
        "INSERT INTO {t} SELECT i, 0 FROM generate_series(1, 100) AS i;
         UPDATE {t} SET n = 1 WHERE id <= 10;
         DELETE FROM {t} WHERE id > 95;"
    ))
    .await
    .expect("changes");
    let end = lsn(&h
        .pg
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("lsn")
        .get::<_, String>(0));
    let deadline = Instant::now() + Duration::from_secs(60);
    while h.confirmed_flush_lsn().await < end {
        assert!(
            Instant::now() < deadline,
            "not confirmed:\n{}",
            h.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The gauges are refreshed with each status update (every 0.5 s here).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log = std::fs::read_to_string(h.log_path()).expect("log");
    let metrics = http_get(&log, "/metrics");

    // Every metric the source exports is there.
    for name in sluice_source::observe::ALL {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    let table = format!("table=\"public.{t}\"");
    let events = |op: &str| {
        sample(
            &metrics,
            "sluice_source_events_total",
            &[&table, &format!("op=\"{op}\"")],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(events("create"), 100.0, "{metrics}");
    assert_eq!(events("update"), 10.0);
    assert_eq!(events("delete"), 5.0);
    assert_eq!(events("tombstone"), 5.0);
    let value = |name: &str| sample(&metrics, name, &[]).unwrap_or(f64::NAN);
    assert!(
        value("sluice_source_transactions_total") >= 1.0,
        "{metrics}"
    );
    assert!(
        value("sluice_source_confirmed_lsn") >= end as f64,
        "{metrics}"
    );
    assert!(value("sluice_source_server_wal_end_lsn") >= value("sluice_source_confirmed_lsn"));
    let lag = value("sluice_source_replication_lag_bytes");
    assert!((0.0..1e9).contains(&lag), "lag {lag}");
    assert!(value("sluice_source_replication_lag_seconds") >= 0.0);
    assert_eq!(value("sluice_source_snapshot_running"), 0.0);
    assert_eq!(value("sluice_source_events_in_flight"), 0.0);

    assert!(terminate(running).success());
    h.clean_up().await;
}
